package api_test

// The Idempotency-Key header of the create routes (docs/api.md), over
// moto_server: the same calls as deployed, with a settable clock for
// leases and expiry.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/idempotency"
	"karbor/internal/local/devtoken"
	"karbor/internal/provider"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/testenv"
)

// idemCalls counts the calls made on the idempotency table.
type idemCalls struct {
	idempotency.API
	n atomic.Int64
}

func (c *idemCalls) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.n.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

func (c *idemCalls) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.n.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *idemCalls) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.n.Add(1)
	return c.API.DeleteItem(ctx, in, o...)
}

// idemEnv is an env whose service remembers Idempotency-Key answers.
type idemEnv struct {
	*env
	idem  *idempotency.Store
	calls *idemCalls
	svc   *api.Service
	mu    sync.Mutex
	now   time.Time
}

func (e *idemEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// newIdemEnv serves the API over fresh tables. The idempotency table's
// calls go through one connection: moto_server checks a condition and
// writes without a lock, so two writes it serves at once could both pass,
// which DynamoDB never lets happen to one item; through one connection
// requests still race, but moto applies their writes one at a time.
func newIdemEnv(t *testing.T) *idemEnv {
	t.Helper()
	st := testenv.Store(t)
	serial := dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxConnsPerHost = 1
		})
	})
	e := &idemEnv{calls: &idemCalls{API: serial}, now: time.Now()}
	e.idem = idempotency.New(e.calls, testenv.IdempotencyTable(t))
	e.idem.Now = func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
	svc := &api.Service{Domain: &domain.Service{Store: st, Providers: provider.Lookup}, Auth: devtoken.Auth{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Idempotency: e.idem}
	srv := httptest.NewServer(openapicheck.Handler(t, openapicheck.API(t), svc.Handler()))
	t.Cleanup(srv.Close)
	e.env, e.svc = &env{srv: srv, store: st}, svc
	return e
}

// post sends a body as is, with the given Idempotency-Key header values
// (none: no header).
func (e *idemEnv) post(t *testing.T, path, token, body string, keys ...string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	for _, k := range keys {
		req.Header.Add(api.IdempotencyHeader, k)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &response{what: "POST " + path, status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	checkCommon(t, r.what, r)
	return r
}

func planBody(name string) string {
	b, _ := json.Marshal(map[string]any{"plan": map[string]any{"name": name, "provider_id": noop, "parameters": map[string]any{},
		"resources": []any{map[string]any{"id": "cb4ef2ff-10f5-46c9-bce4-cf7a49c65a01", "type": "OS::Nova::Server", "name": "App server"}}}})
	return string(b)
}

func (e *idemEnv) countPlans(t *testing.T, token, tenant string) int {
	t.Helper()
	return len(e.do(t, http.MethodGet, plansPath(tenant), token, nil).wantStatus(t, http.StatusOK).list(t, "plans"))
}

func (e *idemEnv) countCheckpoints(t *testing.T) int {
	t.Helper()
	return len(e.do(t, http.MethodGet, checkpointsPath(projA, noop), tokenA, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints"))
}

// wantReplay checks that again answers exactly as first did, with its own
// request id.
func wantReplay(t *testing.T, first, again *response) {
	t.Helper()
	again.wantStatus(t, first.status)
	if !bytes.Equal(first.raw, again.raw) {
		t.Errorf("replay body\n%s\nwant the first answer\n%s", again.raw, first.raw)
	}
	if a, b := first.header.Get("X-Openstack-Request-Id"), again.header.Get("X-Openstack-Request-Id"); a == b {
		t.Errorf("replay has the first answer's request id %s; want its own", b)
	}
}

func TestIdempotencyKeyReplays(t *testing.T) {
	t.Parallel()
	e := newIdemEnv(t)
	t.Run("plan", func(t *testing.T) {
		body := planBody("replayed")
		first := e.post(t, plansPath(projA), tokenA, body, "plan-key-1").wantStatus(t, http.StatusOK)
		for range 2 {
			wantReplay(t, first, e.post(t, plansPath(projA), tokenA, body, "plan-key-1"))
		}
		if n := e.countPlans(t, tokenA, projA); n != 1 {
			t.Errorf("%d plans, want 1", n)
		}
		// Another caller of the same project is the same project.
		wantReplay(t, first, e.post(t, plansPath(projA), tokenA2, body, "plan-key-1"))
	})
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	cpBody := `{"checkpoint": {"plan_id": "` + planID + `"}}`
	t.Run("checkpoint", func(t *testing.T) {
		first := e.post(t, checkpointsPath(projA, noop), tokenA, cpBody, "cp-key-1").wantStatus(t, http.StatusOK)
		wantReplay(t, first, e.post(t, checkpointsPath(projA, noop), tokenA, cpBody, "cp-key-1"))
		if n := e.countCheckpoints(t); n != 1 {
			t.Errorf("%d checkpoints, want 1", n)
		}
	})
	t.Run("another body", func(t *testing.T) {
		e.post(t, plansPath(projA), tokenA, planBody("replayed")+" ", "plan-key-1").
			wantFault(t, http.StatusConflict, "Idempotency-Key plan-key-1 was used for another request.")
		// The same body on another path of the route is another request.
		e.post(t, checkpointsPath(projA, strings.ToUpper(noop)), tokenA, cpBody, "cp-key-1").
			wantFault(t, http.StatusConflict, "Idempotency-Key cp-key-1 was used for another request.")
	})
	t.Run("scopes", func(t *testing.T) {
		// Another project, with the same key and body: its own plan.
		e.post(t, plansPath(projB), tokenB, planBody("replayed"), "plan-key-1").wantStatus(t, http.StatusOK)
		if n := e.countPlans(t, tokenB, projB); n != 1 {
			t.Errorf("project B has %d plans, want 1", n)
		}
		// An admin addressing project A from its own project: another
		// caller's scope, its own plan.
		e.post(t, plansPath(projA), tokenAdmin, planBody("replayed"), "plan-key-1").wantStatus(t, http.StatusOK)
		if n := e.countPlans(t, tokenA, projA); n != 3 { // "plan", the fixture, this one
			t.Errorf("project A has %d plans, want 3", n)
		}
		// Another route, the same key: its own checkpoint.
		e.post(t, checkpointsPath(projA, noop), tokenA, cpBody, "plan-key-1").wantStatus(t, http.StatusOK)
		if n := e.countCheckpoints(t); n != 2 {
			t.Errorf("%d checkpoints, want 2", n)
		}
	})
	t.Run("expired after a day", func(t *testing.T) {
		body := planBody("daily")
		first := e.post(t, plansPath(projB), tokenB, body, "day-key").wantStatus(t, http.StatusOK)
		e.advance(idempotency.Retention)
		again := e.post(t, plansPath(projB), tokenB, body, "day-key").wantStatus(t, http.StatusOK)
		if first.obj(t, "plan")["id"] == again.obj(t, "plan")["id"] {
			t.Errorf("a day later the key still answered the first plan")
		}
	})
}

func TestIdempotencyKeyErrorsAreNotRemembered(t *testing.T) {
	t.Parallel()
	e := newIdemEnv(t)
	bad := `{"plan": {"provider_id": "` + noop + `"}}`
	e.post(t, plansPath(projA), tokenA, bad, "err-key").wantFault(t, http.StatusBadRequest, "name")
	// The same request again is processed again (and fails again); another
	// one with the key is served.
	e.post(t, plansPath(projA), tokenA, bad, "err-key").wantFault(t, http.StatusBadRequest, "name")
	first := e.post(t, plansPath(projA), tokenA, planBody("after an error"), "err-key").wantStatus(t, http.StatusOK)
	wantReplay(t, first, e.post(t, plansPath(projA), tokenA, planBody("after an error"), "err-key"))
	// A 404 after the reservation frees the key too.
	missing := `{"checkpoint": {"plan_id": "` + domain.NewID() + `"}}`
	e.post(t, checkpointsPath(projA, noop), tokenA, missing, "err-key").wantFault(t, http.StatusNotFound, "could not be found")
	e.post(t, checkpointsPath(projA, noop), tokenA, missing, "err-key").wantFault(t, http.StatusNotFound, "could not be found")
	// A body over the limit is a 413 before any reservation.
	before := e.calls.n.Load()
	e.post(t, plansPath(projA), tokenA, strings.Repeat(" ", api.MaxBodyBytes+1), "err-key").wantStatus(t, http.StatusRequestEntityTooLarge)
	if n := e.calls.n.Load() - before; n != 0 {
		t.Errorf("a 413 made %d calls on the idempotency table", n)
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	e := newIdemEnv(t)
	for name, keys := range map[string][]string{
		"empty":            {""},
		"256 characters":   {strings.Repeat("k", 256)},
		"a tab":            {"a\tb"},
		"non-ASCII":        {"clé"},
		"given twice":      {"a", "b"},
		"twice, identical": {"a", "a"},
	} {
		t.Run(name, func(t *testing.T) {
			before := e.calls.n.Load()
			e.post(t, plansPath(projA), tokenA, planBody("x"), keys...).wantFault(t, http.StatusBadRequest, "Idempotency-Key")
			if n := e.calls.n.Load() - before; n != 0 {
				t.Errorf("%d calls on the idempotency table before the 400", n)
			}
		})
	}
	// Go's client refuses to send these; the handler sees them all the
	// same from other clients.
	for name, key := range map[string]string{"DEL": "a\x7fb", "NUL": "a\x00b", "newline": "a\nb"} {
		t.Run(name, func(t *testing.T) {
			before := e.calls.n.Load()
			req := httptest.NewRequest(http.MethodPost, plansPath(projA), strings.NewReader(planBody("x")))
			req.Header.Set("X-Auth-Token", tokenA)
			req.Header[api.IdempotencyHeader] = []string{key}
			w := httptest.NewRecorder()
			openapicheck.Handler(t, openapicheck.API(t), e.svc.Handler()).ServeHTTP(w, req)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Idempotency-Key") {
				t.Errorf("status %d, body %s; want 400 naming the header", w.Code, w.Body)
			}
			if n := e.calls.n.Load() - before; n != 0 {
				t.Errorf("%d calls on the idempotency table before the 400", n)
			}
		})
	}
	for name, key := range map[string]string{
		"255 characters":   strings.Repeat("k", 255),
		"printable ASCII":  ` !"#$%&'()*+,-./09:;<=>?@AZ[\]^_` + "`az{|}~x",
		"one character":    "k",
		"a UUID, as users": domain.NewID(),
	} {
		t.Run(name, func(t *testing.T) {
			first := e.post(t, plansPath(projA), tokenA, planBody(name), key).wantStatus(t, http.StatusOK)
			wantReplay(t, first, e.post(t, plansPath(projA), tokenA, planBody(name), key))
		})
	}
	t.Run("a malformed provider id: 400 before the reservation", func(t *testing.T) {
		before := e.calls.n.Load()
		e.post(t, checkpointsPath(projA, "not-a-uuid"), tokenA, `{"checkpoint": {"plan_id": "`+domain.NewID()+`"}}`, "bad-path").
			wantFault(t, http.StatusBadRequest, "provider_id")
		if n := e.calls.n.Load() - before; n != 0 {
			t.Errorf("%d calls on the idempotency table before the 400", n)
		}
	})
	t.Run("absent: no call on the table", func(t *testing.T) {
		before := e.calls.n.Load()
		e.post(t, plansPath(projA), tokenA, planBody("no key")).wantStatus(t, http.StatusOK)
		e.post(t, plansPath(projA), tokenA, planBody("no key")).wantStatus(t, http.StatusOK)
		if n := e.calls.n.Load() - before; n != 0 {
			t.Errorf("%d calls on the idempotency table without the header", n)
		}
	})
}

// TestIdempotencyKeyInProgress: a request that finds the key reserved by
// one still running gets 409; once the reservation's lease has run out
// (its request died), the key is taken over.
func TestIdempotencyKeyInProgress(t *testing.T) {
	t.Parallel()
	e := newIdemEnv(t)
	body := planBody("in progress")
	// A request holding the key, as the handler reserves it.
	_, _, err := e.idem.Reserve(t.Context(), idempotency.Key{Project: projA, Caller: projA, Route: api.CreatePlan.Name, Key: "busy"},
		idempotency.Fingerprint(plansPath(projA), []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	e.post(t, plansPath(projA), tokenA, body, "busy").wantFault(t, http.StatusConflict, "A request with Idempotency-Key busy is in progress.")
	e.post(t, plansPath(projA), tokenA, planBody("other"), "busy").wantFault(t, http.StatusConflict, "Idempotency-Key busy was used for another request.")
	if n := e.countPlans(t, tokenA, projA); n != 0 {
		t.Fatalf("%d plans, want none", n)
	}
	e.advance(idempotency.DefaultLease)
	first := e.post(t, plansPath(projA), tokenA, body, "busy").wantStatus(t, http.StatusOK)
	wantReplay(t, first, e.post(t, plansPath(projA), tokenA, body, "busy"))
	if n := e.countPlans(t, tokenA, projA); n != 1 {
		t.Errorf("%d plans, want 1", n)
	}
}

// TestIdempotencyKeyConcurrent sends ten identical requests at once:
// exactly one creates; each of the others gets the first answer again or
// a 409 while it is in progress.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	e := newIdemEnv(t)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	for _, tc := range []struct{ name, path, body string }{
		{"plans", plansPath(projA), planBody("raced")},
		{"checkpoints", checkpointsPath(projA, noop), `{"checkpoint": {"plan_id": "` + planID + `"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const racers = 10
			results := make([]*response, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					results[i] = e.post(t, tc.path, tokenA, tc.body, "race-"+tc.name)
				})
			}
			close(start)
			wg.Wait()
			var ok []*response
			for _, r := range results {
				switch r.status {
				case http.StatusOK:
					ok = append(ok, r)
				case http.StatusConflict:
					r.wantFault(t, http.StatusConflict, "is in progress")
				default:
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			}
			if len(ok) == 0 {
				t.Fatal("no request succeeded")
			}
			for _, r := range ok[1:] {
				if !bytes.Equal(r.raw, ok[0].raw) {
					t.Errorf("two different 200s:\n%s\n%s", ok[0].raw, r.raw)
				}
			}
		})
	}
	if n := e.countPlans(t, tokenA, projA); n != 2 { // the fixture and one raced
		t.Errorf("%d plans, want 2", n)
	}
	if n := e.countCheckpoints(t); n != 1 {
		t.Errorf("%d checkpoints, want 1", n)
	}
}
