package api_test

// Benchmarks of the HTTP layer: the real http.Handler served into an
// httptest.ResponseRecorder, with no network between the benchmark and the
// handler. BenchmarkShowCheckpoint and BenchmarkListCheckpoints read from
// the test DynamoDB endpoint (moto_server, see testenv), whose ~1.5 ms a
// request (and Python sort of an index per Query) dominates their ns/op;
// their B/op and allocs/op are the Go side's own. The other benchmarks
// answer before any DynamoDB call (a fault from validation, or a route that
// reads no table): they measure the per-request cost of the HTTP layer
// itself — routing, the request id, authentication, validation, the JSON
// answer and the request's log line.
//
// The service logs as the Lambda functions do (lambdafn.NewLogger: JSON at
// info), into io.Discard, so that the cost of formatting the log line is
// counted. Each benchmark uses b.Loop, which runs its setup once and resets
// the timer when the loop starts.

import (
	"bytes"
	"fmt"
	"io"
	"karbor/internal/local/devtoken"
	"karbor/internal/provider"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// benchListSize is how many checkpoints BenchmarkListCheckpoints seeds.
const benchListSize = 2000

// benchHandler returns the service's handler over st (nil: no DynamoDB at
// all, for routes and faults that never reach the store).
func benchHandler(st *store.Store) http.Handler {
	svc := &api.Service{Domain: &domain.Service{Store: st, Providers: provider.Lookup}, Auth: devtoken.Auth{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return svc.Handler()
}

// benchRequest is one request a benchmark sends again and again.
type benchRequest struct {
	method, path, token string
	body                []byte // nil: no body
	want                int    // status
}

// serve sends the request to h once and checks the status. It builds the
// request anew each time, as a server (or the Lambda adapter) does per call.
func (br benchRequest) serve(b *testing.B, h http.Handler) *httptest.ResponseRecorder {
	var body io.Reader
	if br.body != nil {
		body = bytes.NewReader(br.body)
	}
	req := httptest.NewRequest(br.method, br.path, body)
	if br.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if br.token != "" {
		req.Header.Set("X-Auth-Token", br.token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != br.want {
		b.Fatalf("%s %s: status %d, want %d: %s", br.method, br.path, rec.Code, br.want, rec.Body)
	}
	return rec
}

// measure times br, and reports the size of its answer's body.
func (br benchRequest) measure(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		size = br.serve(b, h).Body.Len()
	}
	b.ReportMetric(float64(size), "bytes-body")
}

// run measures br in a sub-benchmark.
func (br benchRequest) run(b *testing.B, name string, h http.Handler) {
	b.Run(name, func(b *testing.B) { br.measure(b, h) })
}

// benchStore returns a store over fresh tables, and seeds it with cs (see
// package seed).
func benchStore(b *testing.B, cs ...*domain.Checkpoint) *store.Store {
	b.Helper()
	plans, checkpoints := testenv.Tables(b)
	db := testenv.DynamoDB(b)
	seed.Checkpoints(b, db, plans, checkpoints, cs)
	return store.New(db, plans, checkpoints)
}

var benchCreated = time.Date(2026, 11, 26, 18, 30, 5, 0, time.UTC)

// BenchmarkShowCheckpoint is GET .../checkpoints/{id}: one GetItem.
func BenchmarkShowCheckpoint(b *testing.B) {
	c := newCheckpoint(projA, noop, domain.NewID(), domain.StatusAvailable, benchCreated)
	st := benchStore(b, c)
	benchRequest{http.MethodGet, checkpointPath(projA, noop, c.ID), tokenA, nil, http.StatusOK}.
		measure(b, benchHandler(st))
}

// BenchmarkListCheckpoints is GET .../checkpoints of a project with
// benchListSize checkpoints: the first page, newest first.
func BenchmarkListCheckpoints(b *testing.B) {
	plan := domain.NewID()
	cs := make([]*domain.Checkpoint, benchListSize)
	for i := range cs {
		cs[i] = newCheckpoint(projA, noop, plan, domain.StatusAvailable, benchCreated.Add(time.Duration(i)*time.Second))
	}
	h := benchHandler(benchStore(b, cs...))
	for _, limit := range []int{10, 1000} {
		path := fmt.Sprintf("%s?limit=%d", checkpointsPath(projA, noop), limit)
		benchRequest{http.MethodGet, path, tokenA, nil, http.StatusOK}.run(b, fmt.Sprintf("limit=%d", limit), h)
	}
}

// BenchmarkCreateCheckpointInvalid is POST .../checkpoints with bodies that
// fail validation (400) before the plan is read: the full handler on the
// request body, without DynamoDB.
func BenchmarkCreateCheckpointInvalid(b *testing.B) {
	h := benchHandler(nil)
	path := checkpointsPath(projA, noop)
	for _, bc := range []struct{ name, body string }{
		{"plan_id-not-uuid", `{"checkpoint": {"plan_id": "not-a-uuid"}}`},
		{"unknown-key", `{"checkpoint": {"plan_id": "3523a271-68aa-42f5-b9ba-56e5200a2ebb", "name": "x"}}`},
		{"extra_info-nested", `{"checkpoint": {"plan_id": "3523a271-68aa-42f5-b9ba-56e5200a2ebb", "extra_info": {"created_by": "manual", "owner": {"name": "alice"}}}}`},
		{"malformed-json", `{"checkpoint": {"plan_id": `},
	} {
		benchRequest{http.MethodPost, path, tokenA, []byte(bc.body), http.StatusBadRequest}.run(b, bc.name, h)
	}
}

// BenchmarkHandlerWithoutDB is the HTTP layer's cost per request on answers
// that need no table: faults from routing, authentication and path
// validation, and the provider routes (compiled-in registry).
func BenchmarkHandlerWithoutDB(b *testing.B) {
	h := benchHandler(nil)
	checkpoint := checkpointPath(projA, noop, "dcb20606-ad71-40a3-80e4-ef0fafdad0c3")
	for _, bc := range []struct {
		name string
		req  benchRequest
	}{
		{"unknown-path-404", benchRequest{http.MethodGet, "/v1/nothing/here", tokenA, nil, http.StatusNotFound}},
		{"bad-method-405", benchRequest{http.MethodPatch, checkpoint, tokenA, nil, http.StatusMethodNotAllowed}},
		{"no-token-401", benchRequest{http.MethodGet, checkpoint, "", nil, http.StatusUnauthorized}},
		{"other-project-403", benchRequest{http.MethodGet, checkpoint, tokenB, nil, http.StatusForbidden}},
		{"checkpoint-id-not-uuid-400", benchRequest{http.MethodGet, checkpointPath(projA, noop, "not-a-uuid"), tokenA, nil, http.StatusBadRequest}},
		{"list-providers-200", benchRequest{http.MethodGet, "/v1/" + projA + "/providers", tokenA, nil, http.StatusOK}},
		{"show-provider-200", benchRequest{http.MethodGet, "/v1/" + projA + "/providers/" + noop, tokenA, nil, http.StatusOK}},
	} {
		bc.req.run(b, bc.name, h)
	}
}
