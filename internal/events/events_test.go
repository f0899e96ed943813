package events_test

// The publisher against moto_server: the records are read from the real
// streams of fresh checkpoints and tasks tables after real store writes, the
// events are put on moto's default event bus, and a sink (one per test,
// matching the test's project: package eventsink) shows what was
// published.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"karbor/internal/domain"
	"karbor/internal/events"
	"karbor/internal/local/tables"
	"karbor/internal/store"
	"karbor/internal/testsupport/eventsink"
	"karbor/internal/testsupport/streamread"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type env struct {
	t                  *testing.T
	store              *store.Store
	cpStream, tkStream *streamread.Reader
	eb                 *eventsink.EventBridge
	sink               *eventsink.Sink
	project, provider  string
	cpRecords          int // the checkpoint records written so far
}

func newEnv(t *testing.T) *env {
	t.Helper()
	plans, checkpoints := testenv.Tables(t)
	tasks := testenv.TasksTable(t)
	e := &env{
		t: t,
		store: store.New(testenv.DynamoDB(t), plans, checkpoints).WithTasks(tasks).WithOperationLogs(testenv.OperationLogsTable(t)).
			WithQuotas(testenv.Table(t, tables.Quotas, "quotas")),
		cpStream: streamread.New(t, checkpoints),
		tkStream: streamread.New(t, tasks),
		eb:       eventsink.Client(t),
		project:  strings.ReplaceAll(domain.NewID(), "-", ""),
		provider: domain.NewID(),
	}
	e.sink = eventsink.New(t, fmt.Sprintf(`{"source": [%q], "detail": {"project_id": [%q]}}`, events.Source, e.project))
	return e
}

// published reads every event of the project published since the last
// call.
func (e *env) published() []eventBody {
	e.t.Helper()
	var out []eventBody
	for _, body := range e.sink.Bodies() {
		var b eventBody
		if err := json.Unmarshal(body, &b); err != nil {
			e.t.Fatalf("event %s: %v", body, err)
		}
		out = append(out, b)
	}
	return out
}

type eventBody struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

func (b eventBody) detail(t *testing.T) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(b.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// lifecycle writes, through the store: a checkpoint (INSERT, protecting),
// its protection's end (MODIFY into available), a restore of it (INSERT of
// the task in_progress, and a MODIFY of the checkpoint that only marks
// it), a step of the restore (MODIFY, no status change) and its failure
// (MODIFY into fail). It returns the two tables' records (everything on
// each stream so far: two batches, as two event source mappings deliver
// them; sequence numbers are only unique within a stream) once all are on
// the streams.
func (e *env) lifecycle() (c *domain.Checkpoint, task *domain.Task, records [2][]lambdaevents.DynamoDBEventRecord) {
	t, ctx := e.t, e.t.Context()
	created := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	c = &domain.Checkpoint{
		ID: domain.NewID(), ProjectID: e.project, ProviderID: e.provider, Status: domain.StatusProtecting,
		Plan:      domain.ProtectionPlan{ID: domain.NewID(), Name: "app", ProviderID: e.provider, Resources: []domain.Resource{}, Parameters: map[string]json.RawMessage{}},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`), CreatedAt: created, UpdatedAt: created,
	}
	if err := e.store.CreateCheckpoint(ctx, c); err != nil {
		t.Fatalf("CreateCheckpoint: %v", err)
	}
	if _, err := e.store.SetStatus(ctx, domain.Transition{ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID,
		From: []domain.Status{domain.StatusProtecting}, To: domain.StatusAvailable, At: created.Add(time.Minute)}); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	task = &domain.Task{Kind: domain.KindRestore, ID: domain.NewID(), ProjectID: c.ProjectID, ProviderID: c.ProviderID,
		CheckpointID: c.ID, PlanID: c.Plan.ID, Parameters: map[string]json.RawMessage{}, Status: domain.TaskInProgress,
		CreatedAt: created.Add(2 * time.Minute), UpdatedAt: created.Add(2 * time.Minute), DueAt: created.Add(2 * time.Minute)}
	if _, err := e.store.CreateTask(ctx, task); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	got, err := e.store.GetTask(ctx, domain.KindRestore, task.ProjectID, task.ID)
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	got.ResourcesStatus = map[string]string{"OS::Cinder::Volume#v1": "restoring"}
	got.UpdatedAt = created.Add(3 * time.Minute)
	if got, err = e.store.SaveTaskStep(ctx, got); err != nil {
		t.Fatalf("SaveTaskStep: %v", err)
	}
	got.Status = domain.TaskFail
	got.ResourcesStatus = map[string]string{"OS::Cinder::Volume#v1": "error"}
	got.ResourcesReason = map[string]string{"OS::Cinder::Volume#v1": "snapshot gone"}
	got.UpdatedAt = created.Add(4 * time.Minute)
	if _, err := e.store.EndTask(ctx, got); err != nil {
		t.Fatalf("EndTask: %v", err)
	}
	e.tkStream.Wait(t, task.ID, "MODIFY", domain.Status(domain.TaskFail))
	// The checkpoint's last write: the restore's mark removed.
	// The checkpoint's last write (the restore's mark removed): INSERT,
	// available, marked, unmarked.
	e.cpRecords += 4
	var cps []lambdaevents.DynamoDBEventRecord
	wait.For(t, "the checkpoint's records on the stream", func() bool {
		cps = e.cpStream.Read(t)
		return len(cps) >= e.cpRecords
	})
	return c, task, [2][]lambdaevents.DynamoDBEventRecord{cps, e.tkStream.Read(t)}
}

func (e *env) publisher() *events.Publisher {
	return &events.Publisher{Client: e.eb}
}

// handle hands each stream's records to p as one batch and returns the
// records reported failed.
func handle(t *testing.T, p *events.Publisher, batches [2][]lambdaevents.DynamoDBEventRecord) []string {
	t.Helper()
	var failed []string
	for _, b := range batches {
		resp, err := p.Handle(t.Context(), lambdaevents.DynamoDBEvent{Records: b})
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		for _, it := range resp.BatchItemFailures {
			failed = append(failed, it.ItemIdentifier)
		}
	}
	return failed
}

func TestOneEventPerStatusChangeAcrossRedelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, task, records := e.lifecycle()
	p := e.publisher()
	for delivery := 1; delivery <= 2; delivery++ {
		if failed := handle(t, p, records); len(failed) != 0 {
			t.Fatalf("delivery %d: failed %v", delivery, failed)
		}
	}
	got := e.published()
	// Four status changes, each published once per delivery with the same
	// event_id; the unmarking MODIFYs and the step published nothing.
	type change struct{ detailType, id, old, new string }
	byEventID := map[string][]change{}
	for _, b := range got {
		if b.Source != "karbor" {
			t.Errorf("source %q", b.Source)
		}
		d := b.detail(t)
		old, _ := d["old_status"].(string)
		byEventID[d["event_id"].(string)] = append(byEventID[d["event_id"].(string)], change{b.DetailType, d["id"].(string), old, d["new_status"].(string)})
	}
	want := map[change]bool{
		{"Checkpoint Status Change", c.ID, "", "protecting"}:          true,
		{"Checkpoint Status Change", c.ID, "protecting", "available"}: true,
		{"Restore Status Change", task.ID, "", "in_progress"}:         true,
		{"Restore Status Change", task.ID, "in_progress", "fail"}:     true,
	}
	if len(byEventID) != len(want) || len(got) != 2*len(want) {
		t.Fatalf("published %d events with %d event ids, want %d changes twice: %v", len(got), len(byEventID), len(want), byEventID)
	}
	for id, cs := range byEventID {
		if len(cs) != 2 || cs[0] != cs[1] || !want[cs[0]] {
			t.Errorf("event_id %s: %v", id, cs)
		}
	}
}

func TestEventDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, task, records := e.lifecycle()
	if failed := handle(t, e.publisher(), records); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	var insert, fail map[string]any
	for _, b := range e.published() {
		d := b.detail(t)
		switch {
		case d["id"] == c.ID && d["new_status"] == "protecting":
			insert = d
		case d["id"] == task.ID && d["new_status"] == "fail":
			fail = d
		}
	}
	if insert == nil || fail == nil {
		t.Fatalf("insert %v, fail %v", insert, fail)
	}
	if v, ok := insert["old_status"]; !ok || v != nil {
		t.Errorf("INSERT: old_status %v (present %v), want null", v, ok)
	}
	if v, ok := insert["reason"]; !ok || v != nil {
		t.Errorf("INSERT: reason %v, want null", v)
	}
	if insert["plan_id"] != c.Plan.ID || insert["project_id"] != e.project || insert["provider_id"] != e.provider {
		t.Errorf("checkpoint detail %v", insert)
	}
	if _, ok := insert["checkpoint_id"]; ok {
		t.Errorf("a checkpoint's event has checkpoint_id: %v", insert)
	}
	if insert["time"] != c.CreatedAt.UTC().Format(time.RFC3339) {
		t.Errorf("INSERT time %v, want %s", insert["time"], c.CreatedAt.UTC().Format(time.RFC3339))
	}
	if fail["checkpoint_id"] != c.ID || fail["old_status"] != "in_progress" || fail["plan_id"] != c.Plan.ID {
		t.Errorf("restore detail %v", fail)
	}
	if r, _ := fail["reason"].(map[string]any); r["OS::Cinder::Volume#v1"] != "snapshot gone" {
		t.Errorf("fail reason %v", fail["reason"])
	}
	if _, err := time.Parse(time.RFC3339, fail["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
}

func TestModifyWithoutStatusChangePublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, task, records := e.lifecycle()
	var quiet []lambdaevents.DynamoDBEventRecord
	for _, r := range append(records[0], records[1]...) {
		if r.EventName == "MODIFY" && streamread.Status(r.Change.OldImage) == streamread.Status(r.Change.NewImage) {
			quiet = append(quiet, r)
		}
	}
	// The checkpoint marked and unmarked, and the restore's step.
	if len(quiet) != 3 {
		t.Fatalf("%d MODIFY records without a status change, want 3 (restore %s)", len(quiet), task.ID)
	}
	if failed := handle(t, e.publisher(), [2][]lambdaevents.DynamoDBEventRecord{quiet[:2], quiet[2:]}); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if got := e.published(); len(got) != 0 {
		t.Errorf("published %v", got)
	}
}

// failing forwards PutEvents to moto but fails the entries of the
// checkpoint id in its first `times` calls, as EventBridge reports a
// throttled or internal-error entry in a partly failed call (a fake: moto
// fails no entry on demand).
type failing struct {
	events.PutEventsAPI
	id    string
	times int
	calls int
}

// fails reports whether en is an event of the checkpoint (not of its
// restore, whose checkpoint_id is the same id).
func (f *failing) fails(en ebtypes.PutEventsRequestEntry) bool {
	return strings.Contains(aws.ToString(en.Detail), `"id":"`+f.id+`"`)
}

func (f *failing) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls++
	if f.calls > f.times {
		return f.PutEventsAPI.PutEvents(ctx, in, opts...)
	}
	res := &eventbridge.PutEventsOutput{}
	var pass []ebtypes.PutEventsRequestEntry
	for _, en := range in.Entries {
		if !f.fails(en) {
			pass = append(pass, en)
		}
	}
	if len(pass) > 0 {
		var err error
		if res, err = f.PutEventsAPI.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: pass}, opts...); err != nil {
			return nil, err
		}
	}
	out := &eventbridge.PutEventsOutput{}
	j := 0
	for _, en := range in.Entries {
		if f.fails(en) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("injected")})
			continue
		}
		out.Entries = append(out.Entries, res.Entries[j])
		j++
	}
	return out, nil
}

func TestPartialFailureReportsTheRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, _, records := e.lifecycle()
	// Failing every attempt: the checkpoint's two changes are reported,
	// the restore's published.
	f := &failing{PutEventsAPI: e.eb, id: c.ID, times: 100}
	reported := handle(t, &events.Publisher{Client: f, Attempts: 3}, records)
	var want []string
	for _, r := range records[0] {
		if streamread.ID(r) == c.ID && events.Changed(r) {
			want = append(want, r.Change.SequenceNumber)
		}
	}
	// 3 attempts for the checkpoint's batch, 1 for the restore's.
	if f.calls != 4 || fmt.Sprint(reported) != fmt.Sprint(want) || len(want) != 2 {
		t.Errorf("%d calls, reported %v, want %v", f.calls, reported, want)
	}
	if got := e.published(); len(got) != 2 {
		t.Errorf("published %d events, want the restore's 2", len(got))
	}
	// Failing once: the failed entries are sent again, nothing reported.
	f2 := &failing{PutEventsAPI: e.eb, id: c.ID, times: 1}
	if failed := handle(t, &events.Publisher{Client: f2}, records); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if got := e.published(); len(got) != 4 || f2.calls != 3 {
		t.Errorf("published %d events in %d calls, want 4 in 3", len(got), f2.calls)
	}
}

// More than MaxEntries changes go out in several calls.
func TestBatchesOfTen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var records [2][]lambdaevents.DynamoDBEventRecord
	for range 4 {
		_, _, rs := e.lifecycle()
		records = rs
	}
	n := 0
	for _, r := range records[0] {
		if events.Changed(r) {
			n++
		}
	}
	// 8 checkpoint changes in one batch; an EventBridge call of more
	// than 10 entries would fail, so count calls too.
	c := &counting{PutEventsAPI: e.eb}
	if failed := handle(t, &events.Publisher{Client: c}, [2][]lambdaevents.DynamoDBEventRecord{append(records[0], records[0]...), nil}); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if got := e.published(); n != 8 || len(got) != 2*n || c.calls != 2 {
		t.Errorf("published %d events of 2×%d changes in %d calls", len(got), n, c.calls)
	}
}

type counting struct {
	events.PutEventsAPI
	calls int
}

func (c *counting) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	c.calls++
	return c.PutEventsAPI.PutEvents(ctx, in, opts...)
}
