package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"karbor/internal/local/devtoken"
	"karbor/internal/testsupport/openapicheck"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// TestMain runs the tests; with -v it says how many answers were validated
// against the OpenAPI document (every server the tests start checks them).
func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if testing.Verbose() {
		fmt.Printf("openapicheck: %d responses validated\n", openapicheck.Validated())
	}
	os.Exit(code)
}

// Projects and callers the tests use. Project ids are Keystone-like.
const (
	projA     = "e486a2f49695423ca9c47e589b948108"
	projB     = "0a9b7c6d5e4f40312233445566778899"
	projAdmin = "ad000000000000000000000000000001"

	tokenA     = "alice:" + projA + ":member"
	tokenA2    = "anna:" + projA // no roles at all
	tokenB     = "bob:" + projB + ":member"
	tokenAdmin = "root:" + projAdmin + ":admin"

	noop = provider.NoOpID
	// otherProvider is a well-formed provider id that is not registered; the
	// tests write items of it through the store to stand for "another
	// provider".
	otherProvider = "f0f0f0f0-0000-4000-8000-00000000f0f0"
)

var faultNames = map[int]string{
	400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
	405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType",
	500: "computeFault", 503: "serviceUnavailable",
}

var (
	requestIDPattern = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// uuidV4Pattern matches a new id: a random UUID, lower-case and dashed.
	uuidV4Pattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	// uuidPattern matches any id as returned.
	uuidPattern      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timestampPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

// env is one test's service: the real handler over fresh tables.
type env struct {
	srv   *httptest.Server
	store *store.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, testenv.Store(t))
}

// newEnvWith is newEnv over st, which the caller may have tuned (before the
// server shares it).
func newEnvWith(t *testing.T, st *store.Store) *env {
	t.Helper()
	return newEnvWithPolicy(t, st, nil)
}

// newEnvWithPolicy is newEnvWith under a policy (nil: the default one).
func newEnvWithPolicy(t *testing.T, st *store.Store, policy *api.Policy) *env {
	t.Helper()
	inv := invenv.New(t).Inventory(ownership.Config{Mode: ownership.ModeTag, TagKey: ownership.DefaultTagKey})
	svc := &api.Service{Domain: &domain.Service{Store: st, Providers: provider.Lookup, Inventory: inv}, Auth: devtoken.Auth{}, Policy: policy, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(openapicheck.Handler(t, openapicheck.API(t), svc.Handler()))
	t.Cleanup(srv.Close)
	// Every answer is seen as sent, redirects included.
	srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{srv: srv, store: st}
}

// response is an answer, already checked for what every answer shares.
type response struct {
	what   string // method and path, for messages
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil unless the body is a JSON object
}

// rawBody marks a request body sent as is, not JSON-encoded.
type rawBody string

// do sends a request to a path (or an absolute URL) and checks the rules of
// every response: the request id, the JSON content type, never a 500, and
// the fault shape for every error.
func (e *env) do(t *testing.T, method, path, token string, body any) *response {
	t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.srv.URL + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := &response{what: method + " " + path, status: res.StatusCode, header: res.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	checkCommon(t, method+" "+path, r)
	return r
}

func checkCommon(t *testing.T, what string, r *response) {
	t.Helper()
	if id := r.header.Get("X-Openstack-Request-Id"); !requestIDPattern.MatchString(id) {
		t.Errorf("%s: X-Openstack-Request-Id = %q, want req-<uuid>", what, id)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type = %q, want application/json", what, ct)
	}
	if r.status == http.StatusInternalServerError {
		t.Errorf("%s: 500: %s", what, r.raw)
	}
	if r.status < 400 {
		return
	}
	var fault map[string]map[string]any
	if err := json.Unmarshal(r.raw, &fault); err != nil {
		t.Errorf("%s: %d body is not a fault object: %s", what, r.status, r.raw)
		return
	}
	if len(fault) != 1 {
		t.Errorf("%s: fault body has %d top-level keys, want 1: %s", what, len(fault), r.raw)
	}
	name := faultNames[r.status]
	inner, ok := fault[name]
	if !ok {
		t.Errorf("%s: %d fault body has no key %q: %s", what, r.status, name, r.raw)
		return
	}
	if code, _ := inner["code"].(float64); int(code) != r.status {
		t.Errorf("%s: fault code = %v, want %d", what, inner["code"], r.status)
	}
	if msg, _ := inner["message"].(string); strings.TrimSpace(msg) == "" {
		t.Errorf("%s: fault message is empty: %s", what, r.raw)
	}
}

// message is the fault's message ("" for a success).
func (r *response) message() string {
	for _, v := range r.body {
		if m, ok := v.(map[string]any); ok {
			s, _ := m["message"].(string)
			return s
		}
	}
	return ""
}

// wantStatus fails the test unless the answer has this status.
func (r *response) wantStatus(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status = %d, want %d; body: %s", r.what, r.status, status, r.raw)
	}
	return r
}

// wantFault checks the status and that the message contains each part.
func (r *response) wantFault(t *testing.T, status int, parts ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status = %d, want %d; body: %s", r.what, r.status, status, r.raw)
		return
	}
	for _, p := range parts {
		if !strings.Contains(r.message(), p) {
			t.Errorf("%s: message %q does not contain %q", r.what, r.message(), p)
		}
	}
}

// obj returns the object under key of the body.
func (r *response) obj(t *testing.T, key string) map[string]any {
	t.Helper()
	m, ok := r.body[key].(map[string]any)
	if !ok {
		t.Fatalf("body has no object %q: %s", key, r.raw)
	}
	return m
}

// list returns the objects of the list under key of the body.
func (r *response) list(t *testing.T, key string) []map[string]any {
	t.Helper()
	l, ok := r.body[key].([]any)
	if !ok {
		t.Fatalf("body has no list %q: %s", key, r.raw)
	}
	out := make([]map[string]any, 0, len(l))
	for _, v := range l {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s holds a non-object: %s", key, r.raw)
		}
		out = append(out, m)
	}
	return out
}

// next returns the href of the rel=next link under key, or "".
func (r *response) next(t *testing.T, key string) string {
	t.Helper()
	v, ok := r.body[key]
	if !ok {
		return ""
	}
	links, ok := v.([]any)
	if !ok || len(links) != 1 {
		t.Fatalf("%s is not a list of one link: %s", key, r.raw)
	}
	l, _ := links[0].(map[string]any)
	if l["rel"] != "next" {
		t.Fatalf("%s: rel = %v, want next", key, l["rel"])
	}
	href, _ := l["href"].(string)
	if href == "" {
		t.Fatalf("%s: empty href", key)
	}
	return href
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// wantKeys checks that m has exactly these keys.
func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	if len(m) != len(want) {
		t.Errorf("%s keys = %v, want %v", what, keys(m), want)
		return
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s keys = %v, want %v", what, keys(m), want)
			return
		}
	}
}

func ids(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, _ := it["id"].(string)
		out = append(out, s)
	}
	return out
}

// Paths.

func checkpointsPath(tenant, providerID string) string {
	return "/v1/" + tenant + "/providers/" + providerID + "/checkpoints"
}

func checkpointPath(tenant, providerID, id string) string {
	return checkpointsPath(tenant, providerID) + "/" + id
}

// Fixtures.

// samplePlan is samples/plan-create-request.json at the No-Op Provider.
func samplePlan() map[string]any {
	return map[string]any{
		"name":        "My 3 tier application",
		"provider_id": noop,
		"resources": []any{
			map[string]any{"id": "99777fdd-8a5b-45ab-ba2c-52420008103f", "type": "OS::Glance::Image", "name": "cirros-0.3.4-x86_64-uec"},
			map[string]any{"id": "cb4ef2ff-10f5-46c9-bce4-cf7a49c65a01", "type": "OS::Nova::Server", "name": "App server"},
			map[string]any{"id": "25336116-f38e-4c22-81ad-e9b7bd71ba51", "type": "OS::Cinder::Volume", "name": "System volume", "extra_info": map[string]any{"availability_zone": "az1"}},
			map[string]any{"id": "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba", "type": "OS::Cinder::Volume", "name": "Data volume", "extra_info": map[string]any{"availability_zone": "az1"}},
		},
		"parameters": map[string]any{
			"OS::Nova::Server": map[string]any{"backup_name": "os"},
			"OS::Nova::Server#cb4ef2ff-10f5-46c9-bce4-cf7a49c65a01": map[string]any{"backup_name": "crash"},
			"OS::Cinder::Volume": map[string]any{"backup_name": "os"},
			"OS::Cinder::Volume#33b6bb0b-1157-4e66-8553-1c9e14b1c7ba": map[string]any{"backup_name": "crash"},
		},
	}
}

// createPlan creates a plan through the API and returns it.
func (e *env) createPlan(t *testing.T, token, tenant string, plan map[string]any) map[string]any {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/"+tenant+"/plans", token, map[string]any{"plan": plan})
	r.wantStatus(t, http.StatusOK)
	return r.obj(t, "plan")
}

// createCheckpoint creates a checkpoint through the API and returns it.
func (e *env) createCheckpoint(t *testing.T, token, tenant, planID string) map[string]any {
	t.Helper()
	r := e.do(t, http.MethodPost, checkpointsPath(tenant, noop), token,
		map[string]any{"checkpoint": map[string]any{"plan_id": planID}})
	r.wantStatus(t, http.StatusOK)
	return r.obj(t, "checkpoint")
}

// storeCheckpoint writes a checkpoint directly, as the background
// protection would leave it.
func (e *env) storeCheckpoint(t *testing.T, project, providerID, planID string, status domain.Status, created time.Time) *domain.Checkpoint {
	t.Helper()
	c := newCheckpoint(project, providerID, planID, status, created)
	if err := e.store.CreateCheckpoint(context.Background(), c); err != nil {
		t.Fatalf("store checkpoint: %v", err)
	}
	return c
}

func newCheckpoint(project, providerID, planID string, status domain.Status, created time.Time) *domain.Checkpoint {
	created = created.UTC().Truncate(time.Second)
	return &domain.Checkpoint{
		ID:         domain.NewID(),
		ProjectID:  project,
		ProviderID: providerID,
		Status:     status,
		Plan: domain.ProtectionPlan{
			ID:         planID,
			Name:       "stored plan",
			ProviderID: providerID,
			Resources:  []domain.Resource{{ID: "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba", Type: "OS::Cinder::Volume", Name: "Data volume"}},
		},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`),
		CreatedAt: created,
		UpdatedAt: created,
	}
}

// storeCheckpoints writes checkpoints with the store, a few at once.
func (e *env) storeCheckpoints(t *testing.T, cs []*domain.Checkpoint) {
	t.Helper()
	seed.Parallel(t, cs, func(c *domain.Checkpoint) error {
		if err := e.store.CreateCheckpoint(context.Background(), c); err != nil {
			return fmt.Errorf("checkpoint %s: %w", c.ID, err)
		}
		return nil
	})
}

// setStatus moves a checkpoint with the store, as the background work does.
func (e *env) setStatus(t *testing.T, project, id string, from, to domain.Status) {
	t.Helper()
	_, err := e.store.SetStatus(context.Background(), domain.Transition{
		ProjectID: project, ProviderID: noop, ID: id, From: []domain.Status{from}, To: to,
	})
	if err != nil {
		t.Fatalf("set status of %s from %s to %s: %v", id, from, to, err)
	}
}
