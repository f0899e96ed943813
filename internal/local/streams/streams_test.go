package streams_test

// The local stream poller against moto_server's DynamoDB Streams: it must
// hand the handler what Lambda's event source mapping would (the same event
// shape, the same filter, retries from a reported failure, bounded
// attempts).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	st "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/local/streams"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/streamread"
	"karbor/internal/testsupport/syncbuf"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
	"karbor/internal/worker"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type fixture struct {
	t           *testing.T
	store       *store.Store
	checkpoints string
	streamARN   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	plans, checkpoints := testenv.Tables(t)
	desc, err := testenv.DynamoDB(t).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(checkpoints)})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		t:           t,
		store:       store.New(testenv.DynamoDB(t), plans, checkpoints).WithOperationLogs(testenv.OperationLogsTable(t)),
		checkpoints: checkpoints,
		streamARN:   aws.ToString(desc.Table.LatestStreamArn),
	}
}

// start runs a poller over the fixture's table until the test ends.
func (f *fixture) start(handler streams.Handler, maxAttempts int) {
	f.t.Helper()
	f.startWith(handler, maxAttempts, nil, f.t.Output())
}

// startWith is start with the Streams client wrapped by wrap (when not nil)
// and the poller's log written to logTo.
func (f *fixture) startWith(handler streams.Handler, maxAttempts int, wrap func(streams.StreamsAPI) streams.StreamsAPI, logTo io.Writer) {
	f.t.Helper()
	cfg, err := awscfg.Load(f.t.Context(), true)
	if err != nil {
		f.t.Fatal(err)
	}
	endpoint := testenv.Endpoint(f.t)
	var client streams.StreamsAPI = dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })
	if wrap != nil {
		client = wrap(client)
	}
	p := &streams.Poller{
		DB:          testenv.DynamoDB(f.t),
		Streams:     client,
		Table:       f.checkpoints,
		Handler:     handler,
		Filter:      func(r events.DynamoDBEventRecord) bool { return worker.JobOf(r) != domain.JobNone },
		Log:         slog.New(slog.NewTextHandler(logTo, nil)),
		MaxAttempts: maxAttempts,
		Interval:    10 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("Run: %v", err)
		}
	})
}

func (f *fixture) checkpoint(status domain.Status) *domain.Checkpoint {
	f.t.Helper()
	now := time.Now()
	c := &domain.Checkpoint{
		ID: domain.NewID(), ProjectID: strings.ReplaceAll(domain.NewID(), "-", ""), ProviderID: provider.NoOpID, Status: status,
		Plan: domain.ProtectionPlan{
			ID: domain.NewID(), Name: "plan", ProviderID: provider.NoOpID,
			Resources: []domain.Resource{{ID: "r1", Type: "OS::Nova::Server", Name: "Web server"}},
		},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`),
		CreatedAt: now, UpdatedAt: now,
	}
	if err := f.store.CreateCheckpoint(f.t.Context(), c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) set(c *domain.Checkpoint, from, to domain.Status) {
	f.t.Helper()
	_, err := f.store.SetStatus(f.t.Context(), domain.Transition{ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID, From: []domain.Status{from}, To: to})
	if err != nil {
		f.t.Fatal(err)
	}
}

// recorder is a handler that keeps every batch it gets, and answers with
// what fail returns for it.
type recorder struct {
	mu      sync.Mutex
	batches [][]events.DynamoDBEventRecord
	fail    func(call int, batch []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error)
}

func (r *recorder) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	// What Lambda hands a function is JSON: the batch must survive it.
	b, err := json.Marshal(ev)
	if err != nil {
		return events.DynamoDBEventResponse{}, err
	}
	var decoded events.DynamoDBEvent
	if err := json.Unmarshal(b, &decoded); err != nil {
		return events.DynamoDBEventResponse{}, err
	}
	r.mu.Lock()
	r.batches = append(r.batches, decoded.Records)
	call := len(r.batches)
	r.mu.Unlock()
	if r.fail != nil {
		return r.fail(call, decoded.Records)
	}
	return events.DynamoDBEventResponse{}, nil
}

func (r *recorder) snapshot() [][]events.DynamoDBEventRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]events.DynamoDBEventRecord(nil), r.batches...)
}

// waitFor waits until the handler has been given a record of c with this
// event name and new status, and returns every batch so far.
func (r *recorder) waitFor(t *testing.T, c *domain.Checkpoint, eventName string, status domain.Status) [][]events.DynamoDBEventRecord {
	t.Helper()
	var batches [][]events.DynamoDBEventRecord
	wait.Until(t, fmt.Sprintf("a %s record of %s into %s at the handler", eventName, c.ID, status), func() error {
		batches = r.snapshot()
		for _, b := range batches {
			for _, rec := range b {
				if streamread.Is(rec, c.ID, eventName, status) {
					return nil
				}
			}
		}
		return fmt.Errorf("it got %s", describe(batches))
	})
	return batches
}

// waitForID waits until the handler has been given a record of the item
// with this id.
func (r *recorder) waitForID(t *testing.T, id string) {
	t.Helper()
	wait.Until(t, "a record of "+id+" at the handler", func() error {
		for _, b := range r.snapshot() {
			for _, rec := range b {
				if streamread.ID(rec) == id {
					return nil
				}
			}
		}
		return fmt.Errorf("it got %s", describe(r.snapshot()))
	})
}

// waitForBatches waits until the handler has been called n times.
func (r *recorder) waitForBatches(t *testing.T, n int) {
	t.Helper()
	wait.Until(t, fmt.Sprintf("%d calls of the handler", n), func() error {
		if got := r.snapshot(); len(got) < n {
			return fmt.Errorf("%d calls: %s", len(got), describe(got))
		}
		return nil
	})
}

type seen struct{ event, id, old, new string }

func flatten(batches [][]events.DynamoDBEventRecord) []seen {
	var out []seen
	for _, b := range batches {
		for _, r := range b {
			out = append(out, seen{r.EventName, streamread.ID(r), streamread.Status(r.Change.OldImage), streamread.Status(r.Change.NewImage)})
		}
	}
	return out
}

func describe(batches [][]events.DynamoDBEventRecord) string {
	var parts []string
	for _, b := range batches {
		var recs []string
		for _, r := range b {
			recs = append(recs, r.EventName+" "+streamread.ID(r)+" "+streamread.Status(r.Change.OldImage)+"→"+streamread.Status(r.Change.NewImage))
		}
		parts = append(parts, "["+strings.Join(recs, ", ")+"]")
	}
	return strings.Join(parts, " ")
}

func TestPollerDeliversFilteredRecordsInLambdaShape(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	f.start(rec.handle, 0)

	a := f.checkpoint(domain.StatusProtecting)                // INSERT protecting: delivered
	f.set(a, domain.StatusProtecting, domain.StatusAvailable) // MODIFY to available: filtered out
	f.set(a, domain.StatusAvailable, domain.StatusDeleting)   // MODIFY to deleting: delivered
	f.set(a, domain.StatusDeleting, domain.StatusDeleted)     // MODIFY to deleted: filtered out
	f.checkpoint(domain.StatusAvailable)                      // INSERT available: filtered out
	b := f.checkpoint(domain.StatusError)
	f.set(b, domain.StatusError, domain.StatusDeleting)    // delivered
	f.set(b, domain.StatusDeleting, domain.StatusDeleting) // MODIFY deleting → deleting: filtered out
	// The last write: once the handler has it, it has had all of them
	// (moto keeps one shard, in write order).
	last := f.checkpoint(domain.StatusProtecting)

	batches := rec.waitFor(t, last, "INSERT", domain.StatusProtecting)
	got := flatten(batches)
	want := []seen{
		{"INSERT", a.ID, "", "protecting"},
		{"MODIFY", a.ID, "available", "deleting"},
		{"MODIFY", b.ID, "error", "deleting"},
		{"INSERT", last.ID, "", "protecting"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the handler got %s, want exactly the records that enter protecting or deleting", describe(batches))
	}

	var previous string
	for _, batch := range batches {
		for _, r := range batch {
			if r.EventSource != "aws:dynamodb" || r.EventSourceArn != f.streamARN || r.EventID == "" || r.AWSRegion == "" {
				t.Errorf("record source %q, source ARN %q, event id %q, region %q; want aws:dynamodb, %s, set, set", r.EventSource, r.EventSourceArn, r.EventID, r.AWSRegion, f.streamARN)
			}
			ch := r.Change
			if ch.StreamViewType != "NEW_AND_OLD_IMAGES" || ch.SequenceNumber == "" || ch.SizeBytes <= 0 {
				t.Errorf("record view type %q, sequence number %q, size %d", ch.StreamViewType, ch.SequenceNumber, ch.SizeBytes)
			}
			if previous != "" && !sequenceLess(previous, ch.SequenceNumber) {
				t.Errorf("sequence numbers out of order: %s then %s", previous, ch.SequenceNumber)
			}
			previous = ch.SequenceNumber
			if len(ch.Keys) != 2 || ch.Keys["project_id"].DataType() != events.DataTypeString {
				t.Errorf("record keys %v, want id and project_id", ch.Keys)
			}
			if (r.EventName == "INSERT") != (ch.OldImage == nil) {
				t.Errorf("%s record has old image %v", r.EventName, ch.OldImage)
			}
			// The image is the whole item, in Lambda's attribute shape.
			img := ch.NewImage
			if img["id"].String() != streamread.ID(r) || img["provider_id"].String() != provider.NoOpID || img["protection_plan"].DataType() != events.DataTypeString {
				t.Errorf("record's new image = %v", img)
			}
		}
	}
}

// sequenceLess compares DynamoDB stream sequence numbers: decimal strings.
func sequenceLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func TestPollerRetriesFromTheReportedFailure(t *testing.T) {
	f := newFixture(t)
	a := f.checkpoint(domain.StatusProtecting)
	b := f.checkpoint(domain.StatusProtecting)
	c := f.checkpoint(domain.StatusProtecting)
	rec := &recorder{fail: func(call int, batch []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error) {
		// The first delivery fails at b: b and what follows come again.
		if call == 1 {
			for _, r := range batch {
				if streamread.ID(r) == b.ID {
					return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}, nil
				}
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	// Started after the writes, so that they arrive in one batch.
	f.start(rec.handle, 3)
	rec.waitForBatches(t, 2)
	last := f.checkpoint(domain.StatusProtecting)
	batches := rec.waitFor(t, last, "INSERT", domain.StatusProtecting)

	ids := func(batch []events.DynamoDBEventRecord) []string {
		var out []string
		for _, r := range batch {
			out = append(out, streamread.ID(r))
		}
		return out
	}
	var got [][]string
	for _, batch := range batches {
		got = append(got, ids(batch))
	}
	want := [][]string{{a.ID, b.ID, c.ID}, {b.ID, c.ID}, {last.ID}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batches %s, want [a b c] [b c] [last]", describe(batches))
	}
}

func TestPollerGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t)
	poison := f.checkpoint(domain.StatusProtecting)
	rec := &recorder{fail: func(_ int, batch []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error) {
		for _, r := range batch {
			if streamread.ID(r) == poison.ID {
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}, nil
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	f.start(rec.handle, 3)
	rec.waitFor(t, poison, "INSERT", domain.StatusProtecting)
	// The poller moves on after its attempts: a later record arrives.
	last := f.checkpoint(domain.StatusProtecting)
	batches := rec.waitFor(t, last, "INSERT", domain.StatusProtecting)
	attempts := 0
	for _, s := range flatten(batches) {
		if s.id == poison.ID {
			attempts++
		}
	}
	if attempts != 3 {
		t.Errorf("the failing record was delivered %d times, want 3 (MaxAttempts): %s", attempts, describe(batches))
	}
}

func TestPollerRetriesAFunctionError(t *testing.T) {
	f := newFixture(t)
	a := f.checkpoint(domain.StatusProtecting)
	b := f.checkpoint(domain.StatusProtecting)
	rec := &recorder{fail: func(call int, _ []events.DynamoDBEventRecord) (events.DynamoDBEventResponse, error) {
		if call == 1 {
			return events.DynamoDBEventResponse{}, errors.New("function crashed")
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	f.start(rec.handle, 3)
	rec.waitForBatches(t, 2)
	// Anything more would come after the retry's end: a later record
	// marks it.
	last := f.checkpoint(domain.StatusProtecting)
	batches := rec.waitFor(t, last, "INSERT", domain.StatusProtecting)
	batches = batches[:len(batches)-1]
	want := []seen{{"INSERT", a.ID, "", "protecting"}, {"INSERT", b.ID, "", "protecting"}}
	if len(batches) != 2 || !reflect.DeepEqual(flatten(batches[:1]), want) || !reflect.DeepEqual(flatten(batches[1:]), want) {
		t.Errorf("batches %s, want the whole batch twice", describe(batches))
	}
}

// The poller with the real worker: a checkpoint moves through its life by
// itself.
func TestPollerDrivesTheWorker(t *testing.T) {
	f := newFixture(t)
	w := &worker.Worker{Domain: &domain.Service{Store: f.store, Providers: provider.Lookup}, Clients: nil, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	f.start(w.Handle, 0)
	c := f.checkpoint(domain.StatusProtecting)
	waitStatus(t, f.store, c, domain.StatusAvailable)
	f.set(c, domain.StatusAvailable, domain.StatusDeleting)
	waitStatus(t, f.store, c, domain.StatusDeleted)
}

func waitStatus(t *testing.T, st *store.Store, c *domain.Checkpoint, want domain.Status) {
	t.Helper()
	wait.Until(t, fmt.Sprintf("checkpoint %s to be %s", c.ID, want), func() error {
		got, err := st.GetCheckpoint(context.Background(), c.ProjectID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want {
			return fmt.Errorf("it is %s", got.Status)
		}
		return nil
	})
}

// flakyStreams is the real Streams client with failures injected. moto never
// expires an iterator, trims a stream or closes a shard, and cannot be made
// to fail a read on demand: this fake stands in for those branches and
// delegates everything else unchanged.
type flakyStreams struct {
	streams.StreamsAPI

	mu sync.Mutex
	// failReads is how many GetRecords calls that return records fail
	// (after the real call, dropping its records, as a response lost on
	// the way would), answering ExpiredIteratorException.
	failReads int
	// trimNext makes the next GetShardIterator after a sequence number fail
	// with TrimmedDataAccessException.
	trimNext bool
	// closeNext makes the next GetRecords answer as a closed shard does:
	// no NextShardIterator.
	closeNext  bool
	failedWith map[string]bool // iterators a failed read was given
	reused     int             // reads with such an iterator: must stay 0
	iterators  []dynamodbstreams.GetShardIteratorInput
	describes  int
	reads      int
}

func (f *flakyStreams) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	f.describes++
	f.mu.Unlock()
	return f.StreamsAPI.DescribeStream(ctx, in, opts...)
}

func (f *flakyStreams) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	f.iterators = append(f.iterators, *in)
	trim := f.trimNext && in.ShardIteratorType == st.ShardIteratorTypeAtSequenceNumber
	if trim {
		f.trimNext = false
	}
	f.mu.Unlock()
	if trim {
		return nil, &st.TrimmedDataAccessException{Message: aws.String("injected")}
	}
	return f.StreamsAPI.GetShardIterator(ctx, in, opts...)
}

func (f *flakyStreams) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	out, err := f.StreamsAPI.GetRecords(ctx, in, opts...)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	it := aws.ToString(in.ShardIterator)
	if f.failedWith[it] {
		f.reused++
	}
	if err == nil && len(out.Records) > 0 && f.failReads > 0 {
		f.failReads--
		if f.failedWith == nil {
			f.failedWith = map[string]bool{}
		}
		f.failedWith[it] = true
		return nil, &st.ExpiredIteratorException{Message: aws.String("injected")}
	}
	if err == nil && f.closeNext {
		f.closeNext = false
		out.NextShardIterator = nil
	}
	return out, err
}

func (f *flakyStreams) with(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// A read that fails (an expired iterator, after a laptop's sleep) is retried
// from a new iterator after the last record handled: what the failed reads
// carried arrives once, nothing before it again, and the failure streak is
// logged once.
func TestPollerRecoversAFailedIterator(t *testing.T) {
	f := newFixture(t)
	fake := &flakyStreams{}
	logs := &syncbuf.Buffer{}
	rec := &recorder{}
	f.startWith(rec.handle, 0, func(c streams.StreamsAPI) streams.StreamsAPI { fake.StreamsAPI = c; return fake }, logs)

	a := f.checkpoint(domain.StatusProtecting)
	batches := rec.waitFor(t, a, "INSERT", domain.StatusProtecting)
	aSeq := batches[len(batches)-1][len(batches[len(batches)-1])-1].Change.SequenceNumber
	// The next three reads that carry records fail: b and c are read and
	// dropped three times over.
	fake.with(func() { fake.failReads = 3 })
	b := f.checkpoint(domain.StatusProtecting)
	c := f.checkpoint(domain.StatusProtecting)
	batches = rec.waitFor(t, c, "INSERT", domain.StatusProtecting)

	want := []seen{
		{"INSERT", a.ID, "", "protecting"},
		{"INSERT", b.ID, "", "protecting"},
		{"INSERT", c.ID, "", "protecting"},
	}
	if got := flatten(batches); !reflect.DeepEqual(got, want) {
		t.Errorf("the handler got %s, want a, b, c once each", describe(batches))
	}
	fake.with(func() {
		if fake.failReads != 0 {
			t.Errorf("%d injected failures left unused", fake.failReads)
		}
		if fake.reused != 0 {
			t.Errorf("%d reads reused an iterator a failed read had", fake.reused)
		}
		// The first iterator at the trim horizon; one after a's record
		// for each failed read.
		if len(fake.iterators) != 4 || fake.iterators[0].ShardIteratorType != st.ShardIteratorTypeTrimHorizon {
			t.Fatalf("GetShardIterator calls %+v, want TRIM_HORIZON then 3 AT_SEQUENCE_NUMBER", fake.iterators)
		}
		for _, in := range fake.iterators[1:] {
			if in.ShardIteratorType != st.ShardIteratorTypeAtSequenceNumber || aws.ToString(in.SequenceNumber) != aSeq {
				t.Errorf("GetShardIterator %s %s, want AT_SEQUENCE_NUMBER %s", in.ShardIteratorType, aws.ToString(in.SequenceNumber), aSeq)
			}
		}
		// The shards are listed once at the start, not at every poll.
		if fake.describes != 1 {
			t.Errorf("DescribeStream called %d times over %d reads, want 1", fake.describes, fake.reads)
		}
	})
	out := logs.String()
	if n := strings.Count(out, "stream read failed"); n != 1 {
		t.Errorf("the failure streak was logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "stream read recovered") || !strings.Contains(out, "failed_attempts=3") {
		t.Errorf("no recovery logged after 3 failed attempts:\n%s", out)
	}
}

// When the last record handled has been trimmed from the stream, an
// iterator after it cannot be had: the poller goes on from the oldest record
// left instead of failing for ever.
func TestPollerGoesOnFromTheTrimHorizonWhenTrimmed(t *testing.T) {
	f := newFixture(t)
	fake := &flakyStreams{}
	logs := &syncbuf.Buffer{}
	rec := &recorder{}
	f.startWith(rec.handle, 0, func(c streams.StreamsAPI) streams.StreamsAPI { fake.StreamsAPI = c; return fake }, logs)

	a := f.checkpoint(domain.StatusProtecting)
	rec.waitFor(t, a, "INSERT", domain.StatusProtecting)
	fake.with(func() { fake.failReads, fake.trimNext = 1, true })
	b := f.checkpoint(domain.StatusProtecting)
	batches := rec.waitFor(t, b, "INSERT", domain.StatusProtecting)
	// moto trimmed nothing, so the trim horizon hands a over again (at
	// AWS it would be gone); the poller knows it by its event id, the last
	// it handled, and skips it.
	want := []seen{
		{"INSERT", a.ID, "", "protecting"},
		{"INSERT", b.ID, "", "protecting"},
	}
	if got := flatten(batches); !reflect.DeepEqual(got, want) {
		t.Errorf("the handler got %s, want a, then b from the trim horizon", describe(batches))
	}
	fake.with(func() {
		var types []st.ShardIteratorType
		for _, in := range fake.iterators {
			types = append(types, in.ShardIteratorType)
		}
		wantTypes := []st.ShardIteratorType{st.ShardIteratorTypeTrimHorizon, st.ShardIteratorTypeAtSequenceNumber, st.ShardIteratorTypeTrimHorizon}
		if !reflect.DeepEqual(types, wantTypes) {
			t.Errorf("GetShardIterator types %v, want %v", types, wantTypes)
		}
	})
	if !strings.Contains(logs.String(), "trimmed") {
		t.Errorf("the lost records were not logged:\n%s", logs.String())
	}
}

// A shard that closes has children to find: the shards are listed again at
// once rather than at the next periodic listing.
func TestPollerListsShardsWhenOneCloses(t *testing.T) {
	f := newFixture(t)
	fake := &flakyStreams{}
	rec := &recorder{}
	f.startWith(rec.handle, 0, func(c streams.StreamsAPI) streams.StreamsAPI { fake.StreamsAPI = c; return fake }, t.Output())
	a := f.checkpoint(domain.StatusProtecting)
	rec.waitFor(t, a, "INSERT", domain.StatusProtecting)
	fake.with(func() { fake.closeNext = true })
	wait.Until(t, "the shards listed again after the shard closed", func() error {
		var describes int
		fake.with(func() { describes = fake.describes })
		if describes != 2 {
			return fmt.Errorf("DescribeStream called %d times, want 2", describes)
		}
		return nil
	})
}

// TestPollerSurvivesACancelledTransaction: moto undoes a cancelled
// TransactWriteItems by putting back a copy of the tables it touched,
// streams included, behind the iterators the poller holds. Records written
// after it still reach the handler.
func TestPollerSurvivesACancelledTransaction(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	f.start(rec.handle, 0)
	first := f.checkpoint(domain.StatusProtecting)
	rec.waitFor(t, first, "INSERT", domain.StatusProtecting)

	// A restore of a checkpoint that is not available: the transaction
	// that writes it and marks the checkpoint is cancelled.
	st := f.store.WithTasks(testenv.TasksTable(t))
	now := time.Now().UTC().Truncate(time.Second)
	task := &domain.Task{Kind: domain.KindRestore, ID: domain.NewID(), ProjectID: first.ProjectID, ProviderID: first.ProviderID,
		CheckpointID: first.ID, Status: domain.TaskInProgress, CreatedAt: now, UpdatedAt: now, DueAt: now}
	if _, err := st.CreateTask(t.Context(), task); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("CreateTask of a protecting checkpoint: %v, want a conflict", err)
	}
	after := f.checkpoint(domain.StatusProtecting)
	rec.waitFor(t, after, "INSERT", domain.StatusProtecting)
}

// TestPollerSurvivesASequenceNumberTakenBack: the tasks stream of a
// refused restore. moto writes the task (a record the poller may read)
// before it finds the checkpoint not available, then puts back its copy of
// the tasks table, whose stream gives that record's sequence number to the
// next record written: the next task's record still reaches the handler.
func TestPollerSurvivesASequenceNumberTakenBack(t *testing.T) {
	f := newFixture(t)
	tasks := testenv.TasksTable(t)
	st := f.store.WithTasks(tasks)
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	p := &streams.Poller{
		DB:      testenv.DynamoDB(t),
		Streams: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(testenv.Endpoint(t)) }),
		Table:   tasks, Handler: rec.handle, Filter: worker.TaskJob,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil)), Interval: 10 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	now := time.Now().UTC().Truncate(time.Second)
	task := func(c *domain.Checkpoint) *domain.Task {
		return &domain.Task{Kind: domain.KindRestore, ID: domain.NewID(), ProjectID: c.ProjectID, ProviderID: c.ProviderID,
			CheckpointID: c.ID, Status: domain.TaskInProgress, CreatedAt: now, UpdatedAt: now, DueAt: now}
	}
	for range 3 {
		// Refused, and its record taken back; the poller may have read it.
		if _, err := st.CreateTask(t.Context(), task(f.checkpoint(domain.StatusProtecting))); !errors.Is(err, domain.ErrConflict) {
			t.Fatalf("CreateTask of a protecting checkpoint: %v, want a conflict", err)
		}
		time.Sleep(50 * time.Millisecond)
		ok := task(f.checkpoint(domain.StatusAvailable))
		if _, err := st.CreateTask(t.Context(), ok); err != nil {
			t.Fatal(err)
		}
		rec.waitForID(t, ok.ID)
	}
}
