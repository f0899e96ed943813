package idempotency_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/idempotency"
	"karbor/internal/testsupport/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const project = "e486a2f49695423ca9c47e589b948108"

var (
	key = idempotency.Key{Project: project, Caller: project, Route: "create-plan", Key: "k-1"}
	fp1 = idempotency.Fingerprint("/v1/p/plans", []byte(`{"plan": 1}`))
	fp2 = idempotency.Fingerprint("/v1/p/plans", []byte(`{"plan": 2}`))
	t0  = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

// clock is a settable clock for the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newStore(t *testing.T) (*idempotency.Store, *clock) {
	t.Helper()
	c := &clock{now: t0}
	s := testenv.Idempotency(t)
	s.Now = c.Now
	return s, c
}

func reserve(t *testing.T, s *idempotency.Store, k idempotency.Key, fp []byte) *idempotency.Reservation {
	t.Helper()
	res, replay, err := s.Reserve(t.Context(), k, fp)
	if err != nil || replay != nil || res == nil {
		t.Fatalf("Reserve: reservation %v, replay %v, error %v; want a reservation", res, replay, err)
	}
	return res
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func TestReserveCompleteReplay(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	res := reserve(t, s, key, fp1)
	_, _, err := s.Reserve(t.Context(), key, fp1)
	wantErr(t, "same request while in progress", err, idempotency.ErrInProgress)
	_, _, err = s.Reserve(t.Context(), key, fp2)
	wantErr(t, "another request while in progress", err, idempotency.ErrOtherRequest)

	body := []byte(`{"plan":{"id":"x"}}`)
	if err := res.Complete(t.Context(), idempotency.Response{Status: 200, Body: body}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		again, replay, err := s.Reserve(t.Context(), key, fp1)
		if err != nil || again != nil || replay == nil || replay.Status != 200 || !bytes.Equal(replay.Body, body) {
			t.Fatalf("replay: %v, %+v, %v; want status 200 and %s", again, replay, err, body)
		}
	}
	_, _, err = s.Reserve(t.Context(), key, fp2)
	wantErr(t, "another request after the answer", err, idempotency.ErrOtherRequest)
}

func TestScopes(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	reserve(t, s, key, fp1)
	for _, k := range []idempotency.Key{
		{Project: "0a9b7c6d5e4f40312233445566778899", Caller: key.Caller, Route: key.Route, Key: key.Key},
		{Project: key.Project, Caller: "0a9b7c6d5e4f40312233445566778899", Route: key.Route, Key: key.Key},
		{Project: key.Project, Caller: key.Caller, Route: "create-checkpoint", Key: key.Key},
		{Project: key.Project, Caller: key.Caller, Route: key.Route, Key: key.Key + " "},
	} {
		reserve(t, s, k, fp1)
	}
	for _, bad := range []idempotency.Key{
		{Project: "a#b", Caller: project, Route: "r", Key: "k"},
		{Project: project, Caller: "", Route: "r", Key: "k"},
		{Project: project, Caller: project, Route: "", Key: "k"},
	} {
		if _, _, err := s.Reserve(t.Context(), bad, fp1); err == nil {
			t.Errorf("Reserve(%+v) succeeded; want an error before any write", bad)
		}
	}
	k, err := key.ItemKey()
	if err != nil || strings.Contains(k, key.Key) {
		t.Errorf("ItemKey = %q, %v; want the scope and a hash, never the key's text", k, err)
	}
}

func TestReleaseFreesTheKey(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	res := reserve(t, s, key, fp1)
	if err := res.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Free for any request now, the same or another.
	reserve(t, s, key, fp2)
	wantErr(t, "releasing twice", res.Release(t.Context()), idempotency.ErrLost)
}

// TestLeaseTakeover: a reservation whose request died frees its key when
// its lease runs out; the late request can then neither remember its
// answer nor free the new owner's key.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	s, c := newStore(t)
	old := reserve(t, s, key, fp1)
	c.Add(idempotency.DefaultLease - time.Second)
	_, _, err := s.Reserve(t.Context(), key, fp1)
	wantErr(t, "within the lease", err, idempotency.ErrInProgress)
	c.Add(time.Second)
	// Taken over by the same request, or by another one: the first never
	// answered, so nothing was remembered.
	taken := reserve(t, s, key, fp2)
	wantErr(t, "late complete", old.Complete(t.Context(), idempotency.Response{Status: 200, Body: []byte(`{}`)}), idempotency.ErrLost)
	wantErr(t, "late release", old.Release(t.Context()), idempotency.ErrLost)
	if err := taken.Complete(t.Context(), idempotency.Response{Status: 200, Body: []byte(`{"n":2}`)}); err != nil {
		t.Fatal(err)
	}
	// A remembered answer has no lease: it stays for the day.
	c.Add(time.Hour)
	if _, replay, err := s.Reserve(t.Context(), key, fp2); err != nil || replay == nil || string(replay.Body) != `{"n":2}` {
		t.Fatalf("replay an hour later: %+v, %v", replay, err)
	}
}

// TestExpiredIsAbsent: an answer past expires_at is forgotten even while
// TTL has not deleted the item yet (moto never does).
func TestExpiredIsAbsent(t *testing.T) {
	t.Parallel()
	s, c := newStore(t)
	res := reserve(t, s, key, fp1)
	if err := res.Complete(t.Context(), idempotency.Response{Status: 200, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	c.Add(idempotency.Retention - time.Second)
	if _, replay, err := s.Reserve(t.Context(), key, fp1); err != nil || replay == nil {
		t.Fatalf("a second before expiry: replay %+v, error %v; want the answer", replay, err)
	}
	c.Add(time.Second)
	reserve(t, s, key, fp2) // another body: the key is free again
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	res := reserve(t, s, key, fp1)
	big := bytes.Repeat([]byte("x"), idempotency.MaxItemBytes)
	wantErr(t, "400 KB answer", res.Complete(t.Context(), idempotency.Response{Status: 200, Body: big}), idempotency.ErrTooLarge)
	// The largest answer that fits is stored whole.
	fits := big[:idempotency.MaxItemBytes-res.ItemSize(idempotency.Response{})]
	if err := res.Complete(t.Context(), idempotency.Response{Status: 200, Body: fits}); err != nil {
		t.Fatalf("answer of %d bytes: %v", len(fits), err)
	}
	if _, replay, err := s.Reserve(t.Context(), key, fp1); err != nil || replay == nil || len(replay.Body) != len(fits) {
		t.Fatalf("replay of the largest answer: %v", err)
	}
}

// TestTableFromTemplate: the table the tests and the local server create
// from template.yaml has TTL on expires_at.
func TestTableFromTemplate(t *testing.T) {
	t.Parallel()
	name := testenv.IdempotencyTable(t)
	out, err := testenv.DynamoDB(t).DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TimeToLiveDescription
	if d == nil || aws.ToString(d.AttributeName) != idempotency.TTLAttribute || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("TTL %+v; want enabled on %s", d, idempotency.TTLAttribute)
	}
}

// TestConcurrentReserve races ten reservations of one key: exactly one
// gets it. moto_server checks a PutItem's condition and writes without a
// lock, so two requests it serves at once can both pass; DynamoDB never
// lets that happen to one item. The racing calls here go through one
// connection: still concurrent and unordered, but applied one at a time
// by moto, as DynamoDB does.
func TestConcurrentReserve(t *testing.T) {
	t.Parallel()
	serial := dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxConnsPerHost = 1
		})
	})
	s := idempotency.New(serial, testenv.IdempotencyTable(t))
	const racers = 10
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			_, _, errs[i] = s.Reserve(t.Context(), key, fp1)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, idempotency.ErrInProgress):
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d reservations succeeded, want 1", won)
	}
}
