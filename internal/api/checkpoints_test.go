package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

func checkCheckpointShape(t *testing.T, c map[string]any) {
	t.Helper()
	wantKeys(t, "checkpoint", c, "id", "project_id", "status", "protection_plan", "resource_graph", "created_at", "extra_info")
	if id, _ := c["id"].(string); !uuidV4Pattern.MatchString(id) {
		t.Errorf("checkpoint id %q is not a lower-case v4 UUID", id)
	}
	pp, ok := c["protection_plan"].(map[string]any)
	if !ok {
		t.Fatalf("protection_plan is not an object: %v", c["protection_plan"])
	}
	wantKeys(t, "protection_plan", pp, "id", "name", "provider_id", "resources")
	if ts, _ := c["created_at"].(string); !timestampPattern.MatchString(ts) {
		t.Errorf("created_at %q is not an RFC 3339 UTC timestamp", ts)
	}
	if _, ok := c["extra_info"].(map[string]any); !ok {
		t.Errorf("extra_info is not an object: %v", c["extra_info"])
	}
}

func TestCreateCheckpoint(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	planID := plan["id"].(string)

	before := time.Now().UTC().Truncate(time.Second)
	// samples/checkpoint-create-request.json with this plan.
	body := rawBody(`{"checkpoint": {"plan_id": "` + planID + `", "extra_info": {"create-by": "operation-engine", "trigger_id": "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba"}}}`)
	r := e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA, body).wantStatus(t, http.StatusOK)
	after := time.Now().UTC()
	wantKeys(t, "create body", r.body, "checkpoint")
	cp := r.obj(t, "checkpoint")
	checkCheckpointShape(t, cp)
	if cp["project_id"] != projA || cp["status"] != "protecting" {
		t.Errorf("project_id = %v, status = %v", cp["project_id"], cp["status"])
	}
	if v, ok := cp["resource_graph"]; !ok || v != nil {
		t.Errorf("resource_graph = %v (present %v), want null", v, ok)
	}
	created, err := time.Parse(time.RFC3339, cp["created_at"].(string))
	if err != nil || created.Before(before) || created.After(after) {
		t.Errorf("created_at = %v, want a time of the request (%v to %v)", cp["created_at"], before, after)
	}
	wantPlan := map[string]any{"id": planID, "name": plan["name"], "provider_id": noop, "resources": plan["resources"]}
	if !reflect.DeepEqual(cp["protection_plan"], wantPlan) {
		t.Errorf("protection_plan\n got %v\nwant %v", cp["protection_plan"], wantPlan)
	}
	wantInfo := map[string]any{"create-by": "operation-engine", "trigger_id": "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba"}
	if !reflect.DeepEqual(cp["extra_info"], wantInfo) {
		t.Errorf("extra_info = %v, want %v", cp["extra_info"], wantInfo)
	}

	shown := e.do(t, http.MethodGet, checkpointPath(projA, noop, cp["id"].(string)), tokenA, nil).wantStatus(t, http.StatusOK)
	wantKeys(t, "show body", shown.body, "checkpoint")
	if got := shown.obj(t, "checkpoint"); !reflect.DeepEqual(got, cp) {
		t.Errorf("shown\n got %v\nwant %v", got, cp)
	}

	t.Run("extra_info", func(t *testing.T) {
		manual := map[string]any{"created_by": "manual"}
		tests := []struct {
			name string
			body string
			want map[string]any
		}{
			{"none", `{"plan_id": "%s"}`, manual},
			{"hyphen null, as the client sends", `{"plan_id": "%s", "extra-info": null}`, manual},
			{"underscore null", `{"plan_id": "%s", "extra_info": null}`, manual},
			{"hyphen", `{"plan_id": "%s", "extra-info": {"k": "v"}}`, map[string]any{"k": "v"}},
			{"underscore", `{"plan_id": "%s", "extra_info": {"k": "v"}}`, map[string]any{"k": "v"}},
			{"integers and booleans", `{"plan_id": "%s", "extra_info": {"n": 42, "neg": -7, "b": true, "f": false, "s": ""}}`,
				map[string]any{"n": 42.0, "neg": -7.0, "b": true, "f": false, "s": ""}},
			{"every key character", `{"plan_id": "%s", "extra-info": {"Az09-_:.# x": "v"}}`, map[string]any{"Az09-_:.# x": "v"}},
			{"key of 255", `{"plan_id": "%s", "extra-info": {"` + strings.Repeat("k", 255) + `": 1}}`, map[string]any{strings.Repeat("k", 255): 1.0}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				body := rawBody(`{"checkpoint": ` + strings.Replace(tc.body, "%s", planID, 1) + `}`)
				cp := e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA, body).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
				if !reflect.DeepEqual(cp["extra_info"], tc.want) {
					t.Errorf("extra_info = %v, want %v", cp["extra_info"], tc.want)
				}
				shown := e.do(t, http.MethodGet, checkpointPath(projA, noop, cp["id"].(string)), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
				if !reflect.DeepEqual(shown["extra_info"], tc.want) {
					t.Errorf("shown extra_info = %v, want %v", shown["extra_info"], tc.want)
				}
			})
		}
	})

	t.Run("id spellings", func(t *testing.T) {
		upperProvider := strings.ToUpper(strings.ReplaceAll(noop, "-", ""))
		body := map[string]any{"checkpoint": map[string]any{"plan_id": strings.ToUpper(strings.ReplaceAll(planID, "-", ""))}}
		cp := e.do(t, http.MethodPost, checkpointsPath(projA, upperProvider), tokenA, body).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
		pp := cp["protection_plan"].(map[string]any)
		if pp["id"] != planID || pp["provider_id"] != noop {
			t.Errorf("protection_plan id = %v, provider_id = %v; want %s, %s", pp["id"], pp["provider_id"], planID, noop)
		}
		id := cp["id"].(string)
		for _, spelling := range []string{strings.ToUpper(id), strings.ReplaceAll(id, "-", "")} {
			got := e.do(t, http.MethodGet, checkpointPath(projA, upperProvider, spelling), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
			if got["id"] != id {
				t.Errorf("GET %s: id = %v", spelling, got["id"])
			}
		}
	})

	t.Run("snapshot of the plan", func(t *testing.T) {
		p := e.createPlan(t, tokenA, projA, samplePlan())
		pid := p["id"].(string)
		cp := e.createCheckpoint(t, tokenA, projA, pid)
		e.do(t, http.MethodPut, planPath(projA, pid), tokenA, map[string]any{"plan": map[string]any{
			"name":      "renamed",
			"resources": []any{map[string]any{"id": "x", "type": "OS::Nova::Server", "name": "other"}},
		}}).wantStatus(t, http.StatusOK)
		path := checkpointPath(projA, noop, cp["id"].(string))
		got := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
		if !reflect.DeepEqual(got["protection_plan"], cp["protection_plan"]) {
			t.Errorf("a plan update changed the checkpoint's protection_plan:\n got %v\nwant %v", got["protection_plan"], cp["protection_plan"])
		}
		e.do(t, http.MethodDelete, planPath(projA, pid), tokenA, nil).wantStatus(t, http.StatusOK)
		got = e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
		if !reflect.DeepEqual(got["protection_plan"], cp["protection_plan"]) {
			t.Errorf("deleting the plan changed the checkpoint's protection_plan")
		}
	})
}

func TestCreateCheckpointErrors(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	planID := plan["id"].(string)
	planB := e.createPlan(t, tokenB, projB, samplePlan())["id"].(string)

	// A plan of another provider, written with the store: only the No-Op
	// Provider is sure to be registered.
	if _, ok := provider.Get(otherProvider); ok {
		t.Fatalf("%s is a registered provider; pick another id", otherProvider)
	}
	otherPlan := &domain.Plan{
		ID: domain.NewID(), ProjectID: projA, Name: "elsewhere", ProviderID: otherProvider, Status: domain.PlanSuspended,
		Parameters: map[string]json.RawMessage{}, Resources: []domain.Resource{{ID: "v1", Type: "OS::Cinder::Volume", Name: "v"}},
		CreatedAt: time.Now(),
	}
	if err := e.store.CreatePlan(context.Background(), otherPlan); err != nil {
		t.Fatal(err)
	}

	cp := func(fields string) rawBody {
		return rawBody(`{"checkpoint": {"plan_id": "` + planID + `"` + fields + `}}`)
	}
	unknownPlan := domain.NewID()
	unknownProvider := domain.NewID()
	tests := []struct {
		name     string
		provider string
		body     any
		status   int
		mention  string
	}{
		{"both spellings", noop, cp(`, "extra_info": {"a": "b"}, "extra-info": {"a": "b"}`), 400, "extra-info"},
		{"both spellings, null", noop, cp(`, "extra_info": null, "extra-info": null`), 400, "extra_info"},
		{"float value", noop, cp(`, "extra_info": {"a": 1.5}`), 400, "a"},
		{"float value, hyphen", noop, cp(`, "extra-info": {"a": 1.5}`), 400, "a"},
		{"exponent value", noop, cp(`, "extra_info": {"a": 1e3}`), 400, "a"},
		{"nested object", noop, cp(`, "extra_info": {"a": {"b": "c"}}`), 400, "a"},
		{"list value", noop, cp(`, "extra_info": {"a": ["b"]}`), 400, "a"},
		{"null value", noop, cp(`, "extra-info": {"a": null}`), 400, "a"},
		{"bad key", noop, cp(`, "extra_info": {"bad/key": "v"}`), 400, "bad/key"},
		{"empty key", noop, cp(`, "extra_info": {"": "v"}`), 400, "extra_info"},
		{"key of 256", noop, cp(`, "extra_info": {"` + strings.Repeat("k", 256) + `": "v"}`), 400, "extra_info"},
		{"extra_info a string", noop, cp(`, "extra_info": "created_by=manual"`), 400, "extra_info"},
		{"extra_info a list", noop, cp(`, "extra-info": []`), 400, "extra_info"},
		{"plan_id missing", noop, rawBody(`{"checkpoint": {}}`), 400, "plan_id"},
		{"plan_id not a UUID", noop, rawBody(`{"checkpoint": {"plan_id": "my-plan"}}`), 400, "plan_id"},
		{"plan_id null", noop, rawBody(`{"checkpoint": {"plan_id": null}}`), 400, "plan_id"},
		{"plan_id a number", noop, rawBody(`{"checkpoint": {"plan_id": 5}}`), 400, "plan_id"},
		{"unknown key", noop, cp(`, "name": "x"`), 400, "name"},
		{"unknown top-level key", noop, rawBody(`{"checkpoint": {"plan_id": "` + planID + `"}, "x": 1}`), 400, "x"},
		{"checkpoint missing", noop, rawBody(`{"plan_id": "` + planID + `"}`), 400, "checkpoint"},
		{"checkpoint not an object", noop, rawBody(`{"checkpoint": "` + planID + `"}`), 400, "checkpoint"},
		{"checkpoint null", noop, rawBody(`{"checkpoint": null}`), 400, "checkpoint"},
		{"malformed JSON", noop, rawBody(`{"checkpoint": {"plan_id": "` + planID + `"`), 400, "JSON"},
		{"not JSON", noop, rawBody(`plan_id=` + planID), 400, "JSON"},
		{"empty body", noop, rawBody(""), 400, "empty"},
		{"no body", noop, nil, 400, "empty"},
		{"JSON array", noop, rawBody(`[{"checkpoint": {"plan_id": "` + planID + `"}}]`), 400, "object"},
		{"JSON string", noop, rawBody(`"` + planID + `"`), 400, "object"},
		{"over 64 KiB", noop, cp(`, "extra_info": {"a": "` + strings.Repeat("x", 64<<10) + `"}`), 413, ""},
		{"unknown plan", noop, rawBody(`{"checkpoint": {"plan_id": "` + unknownPlan + `"}}`), 404, "Plan " + unknownPlan + " could not be found."},
		{"plan of another project", noop, rawBody(`{"checkpoint": {"plan_id": "` + planB + `"}}`), 404, "Plan " + planB + " could not be found."},
		{"plan of another provider", noop, rawBody(`{"checkpoint": {"plan_id": "` + otherPlan.ID + `"}}`), 400, otherProvider},
		{"unknown provider", unknownProvider, cp(""), 404, unknownProvider},
		{"unknown provider before the plan", unknownProvider, rawBody(`{"checkpoint": {"plan_id": "` + unknownPlan + `"}}`), 404, "Provider"},
		{"provider of the plan unknown", otherProvider, rawBody(`{"checkpoint": {"plan_id": "` + otherPlan.ID + `"}}`), 404, otherProvider},
		{"bad provider id", "no-op", cp(""), 400, "provider_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, http.MethodPost, checkpointsPath(projA, tc.provider), tokenA, tc.body).wantFault(t, tc.status, tc.mention)
		})
	}
	// None of them created anything.
	got := e.do(t, http.MethodGet, checkpointsPath(projA, noop), tokenA, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints")
	if len(got) != 0 {
		t.Errorf("failed creates left checkpoints: %v", ids(got))
	}
}

func TestShowCheckpoint(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	cp := e.createCheckpoint(t, tokenA, projA, plan["id"].(string))
	id := cp["id"].(string)
	elsewhere := e.storeCheckpoint(t, projA, otherProvider, plan["id"].(string), domain.StatusAvailable, time.Now())

	got := e.do(t, http.MethodGet, checkpointPath(projA, noop, id), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
	checkCheckpointShape(t, got)
	if !reflect.DeepEqual(got, cp) {
		t.Errorf("shown\n got %v\nwant %v", got, cp)
	}
	// Another user of the same project sees it too.
	e.do(t, http.MethodGet, checkpointPath(projA, noop, id), tokenA2, nil).wantStatus(t, http.StatusOK)

	// A deleted checkpoint is shown until it expires, even while DynamoDB's
	// TTL has not removed it yet.
	deleted := newCheckpoint(projA, noop, plan["id"].(string), domain.StatusDeleted, time.Now().Add(-time.Hour))
	deleted.ExpiresAt = time.Now().Add(time.Hour).Unix()
	expired := newCheckpoint(projA, noop, plan["id"].(string), domain.StatusDeleted, time.Now().Add(-time.Hour))
	expired.ExpiresAt = time.Now().Add(-time.Minute).Unix()
	e.storeCheckpoints(t, []*domain.Checkpoint{deleted, expired})
	shown := e.do(t, http.MethodGet, checkpointPath(projA, noop, deleted.ID), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
	if shown["status"] != "deleted" {
		t.Errorf("status = %v, want deleted", shown["status"])
	}
	e.do(t, http.MethodGet, checkpointPath(projA, noop, expired.ID), tokenA, nil).wantFault(t, http.StatusNotFound, expired.ID)

	unknown := domain.NewID()
	tests := []struct {
		name     string
		provider string
		id       string
		status   int
		mention  string
	}{
		{"unknown checkpoint", noop, unknown, 404, unknown},
		{"unknown provider", domain.NewID(), id, 404, "Provider"},
		{"checkpoint of another provider", noop, elsewhere.ID, 404, elsewhere.ID},
		{"through its unknown provider", otherProvider, elsewhere.ID, 404, otherProvider},
		{"bad checkpoint id", noop, "not-a-uuid", 400, "checkpoint_id"},
		{"checkpoint id too long", noop, id + "0", 400, "checkpoint_id"},
		{"bad provider id", "not-a-uuid", id, 400, "provider_id"},
		{"both ids bad", "x", "y", 400, "provider_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, http.MethodGet, checkpointPath(projA, tc.provider, tc.id), tokenA, nil).wantFault(t, tc.status, tc.mention)
		})
	}
}

// writes wraps the store's DynamoDB client and counts the writes DynamoDB
// carried out (a write refused by its condition is not one).
type writes struct {
	store.API
	done atomic.Int64
}

func (w *writes) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := w.API.UpdateItem(ctx, in, opts...)
	if err == nil {
		w.done.Add(1)
	}
	return out, err
}

// newCountingEnv is newEnv whose successful DynamoDB writes are counted.
func newCountingEnv(t *testing.T) (*env, *writes) {
	t.Helper()
	plans, checkpoints := testenv.Tables(t)
	w := &writes{API: testenv.DynamoDB(t)}
	return newEnvWith(t, store.New(w, plans, checkpoints)), w
}

// storeAt writes a checkpoint and moves it, with the store, through path.
func (e *env) storeAt(t *testing.T, planID string, path ...domain.Status) string {
	t.Helper()
	c := e.storeCheckpoint(t, projA, noop, planID, domain.StatusProtecting, time.Now())
	from := domain.StatusProtecting
	for _, to := range path {
		e.setStatus(t, projA, c.ID, from, to)
		from = to
	}
	return c.ID
}

var (
	toDeleted       = []domain.Status{domain.StatusAvailable, domain.StatusDeleting, domain.StatusDeleted}
	toDeleting      = []domain.Status{domain.StatusAvailable, domain.StatusDeleting}
	toErrorDeleting = []domain.Status{domain.StatusAvailable, domain.StatusDeleting, domain.StatusErrorDeleting}
)

func TestDeleteCheckpoint(t *testing.T) {
	e, w := newCountingEnv(t)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	show := func(t *testing.T, id string) map[string]any {
		t.Helper()
		return e.do(t, http.MethodGet, checkpointPath(projA, noop, id), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
	}
	// del deletes and checks the answer, the status after it and how many
	// writes it made.
	del := func(t *testing.T, id string, wantStatus domain.Status, wantWrites int64) {
		t.Helper()
		before := w.done.Load()
		r := e.do(t, http.MethodDelete, checkpointPath(projA, noop, id), tokenA, nil).wantStatus(t, http.StatusOK)
		if len(r.body) != 0 || r.body == nil {
			t.Errorf("delete body = %q, want {}", r.raw)
		}
		if n := w.done.Load() - before; n != wantWrites {
			t.Errorf("the delete made %d writes, want %d", n, wantWrites)
		}
		if st := show(t, id)["status"]; st != string(wantStatus) {
			t.Errorf("status after delete = %v, want %s", st, wantStatus)
		}
	}

	t.Run("from available", func(t *testing.T) {
		id := e.createCheckpoint(t, tokenA, projA, planID)["id"].(string)
		e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusAvailable)
		del(t, id, domain.StatusDeleting, 1)
		// Again: idempotent, nothing written.
		del(t, id, domain.StatusDeleting, 0)
	})

	t.Run("from error", func(t *testing.T) {
		id := e.createCheckpoint(t, tokenA, projA, planID)["id"].(string)
		e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusError)
		upper := strings.ToUpper(strings.ReplaceAll(id, "-", ""))
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, upper), tokenA, nil).wantStatus(t, http.StatusOK)
		if st := show(t, id)["status"]; st != "deleting" {
			t.Errorf("status after delete = %v, want deleting", st)
		}
	})

	t.Run("by an admin of another project", func(t *testing.T) {
		id := e.createCheckpoint(t, tokenA, projA, planID)["id"].(string)
		e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusAvailable)
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, id), tokenAdmin, nil).wantStatus(t, http.StatusOK)
	})

	t.Run("deleting or deleted already: 200, nothing written", func(t *testing.T) {
		del(t, e.storeAt(t, planID, toDeleting...), domain.StatusDeleting, 0)
		del(t, e.storeAt(t, planID, toDeleted...), domain.StatusDeleted, 0)
	})

	t.Run("from error-deleting: a retry", func(t *testing.T) {
		del(t, e.storeAt(t, planID, toErrorDeleting...), domain.StatusDeleting, 1)
	})

	t.Run("protecting", func(t *testing.T) {
		id := e.createCheckpoint(t, tokenA, projA, planID)["id"].(string)
		before := w.done.Load()
		r := e.do(t, http.MethodDelete, checkpointPath(projA, noop, id), tokenA, nil)
		r.wantFault(t, http.StatusConflict)
		if want := "Checkpoint " + id + " is protecting: it can be deleted only when it is available, error or error-deleting."; r.message() != want {
			t.Errorf("message %q, want %q", r.message(), want)
		}
		if n := w.done.Load() - before; n != 0 {
			t.Errorf("a refused delete made %d writes", n)
		}
		if st := show(t, id)["status"]; st != "protecting" {
			t.Errorf("status = %v, want protecting", st)
		}
	})

	t.Run("expired", func(t *testing.T) {
		expired := newCheckpoint(projA, noop, planID, domain.StatusDeleted, time.Now().Add(-time.Hour))
		expired.ExpiresAt = time.Now().Add(-time.Minute).Unix()
		e.storeCheckpoints(t, []*domain.Checkpoint{expired})
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, expired.ID), tokenA, nil).wantFault(t, http.StatusNotFound, expired.ID)
	})

	t.Run("not found", func(t *testing.T) {
		unknown := domain.NewID()
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, unknown), tokenA, nil).wantFault(t, http.StatusNotFound, unknown)
		e.do(t, http.MethodDelete, checkpointPath(projA, domain.NewID(), unknown), tokenA, nil).wantFault(t, http.StatusNotFound, "Provider")
		elsewhere := e.storeCheckpoint(t, projA, otherProvider, planID, domain.StatusAvailable, time.Now())
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, elsewhere.ID), tokenA, nil).wantFault(t, http.StatusNotFound, elsewhere.ID)
		// Deleted at another provider: not found, not an idempotent 200.
		gone := newCheckpoint(projA, otherProvider, planID, domain.StatusDeleted, time.Now())
		e.storeCheckpoints(t, []*domain.Checkpoint{gone})
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, gone.ID), tokenA, nil).wantFault(t, http.StatusNotFound, gone.ID)
		e.do(t, http.MethodDelete, checkpointPath(projB, noop, gone.ID), tokenB, nil).wantFault(t, http.StatusNotFound, gone.ID)
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, "not-a-uuid"), tokenA, nil).wantFault(t, http.StatusBadRequest, "checkpoint_id")
		e.do(t, http.MethodDelete, checkpointPath(projA, "not-a-uuid", unknown), tokenA, nil).wantFault(t, http.StatusBadRequest, "provider_id")
	})
}

func TestResetCheckpointState(t *testing.T) {
	e, w := newCountingEnv(t)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	reset := func(state string) rawBody { return rawBody(`{"os-resetState": {"state": "` + state + `"}}`) }
	status := func(t *testing.T, id string) any {
		t.Helper()
		return e.do(t, http.MethodGet, checkpointPath(projA, noop, id), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")["status"]
	}

	t.Run("between available and error", func(t *testing.T) {
		id := e.createCheckpoint(t, tokenA, projA, planID)["id"].(string)
		e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusAvailable)
		path := checkpointPath(projA, noop, id)
		for _, step := range []struct {
			token, state string
		}{
			{tokenA, "error"},
			{tokenA, "error"}, // the same status is allowed
			{tokenA2, "available"},
			{tokenA, "available"},
			{tokenAdmin, "error"},
		} {
			r := e.do(t, http.MethodPut, path, step.token, reset(step.state)).wantStatus(t, http.StatusOK)
			if len(r.body) != 0 || r.body == nil {
				t.Errorf("reset body = %q, want {}", r.raw)
			}
			if st := status(t, id); st != step.state {
				t.Errorf("status after reset to %s = %v", step.state, st)
			}
		}
		// A reset checkpoint can be deleted.
		e.do(t, http.MethodDelete, path, tokenA, nil).wantStatus(t, http.StatusOK)
	})

	t.Run("from error-deleting", func(t *testing.T) {
		for _, state := range []string{"error", "available"} {
			id := e.storeAt(t, planID, toErrorDeleting...)
			path := checkpointPath(projA, noop, id)
			e.do(t, http.MethodPut, path, tokenA, reset(state)).wantStatus(t, http.StatusOK)
			if st := status(t, id); st != state {
				t.Errorf("status after reset of error-deleting to %s = %v", state, st)
			}
			e.do(t, http.MethodDelete, path, tokenA, nil).wantStatus(t, http.StatusOK)
		}
	})

	t.Run("from a status it cannot leave: 400", func(t *testing.T) {
		for _, id := range []string{
			e.createCheckpoint(t, tokenA, projA, planID)["id"].(string),
			e.storeAt(t, planID, toDeleting...),
			e.storeAt(t, planID, toDeleted...),
		} {
			before := status(t, id)
			n := w.done.Load()
			for _, state := range []string{"available", "error"} {
				r := e.do(t, http.MethodPut, checkpointPath(projA, noop, id), tokenA, reset(state))
				r.wantFault(t, http.StatusBadRequest)
				want := fmt.Sprintf("Checkpoint %s is %s: it can be reset only when it is available, error or error-deleting.", id, before)
				if r.message() != want {
					t.Errorf("message %q, want %q", r.message(), want)
				}
			}
			if st := status(t, id); st != before {
				t.Errorf("status = %v, want %v", st, before)
			}
			if d := w.done.Load() - n; d != 0 {
				t.Errorf("refused resets made %d writes", d)
			}
		}
	})

	t.Run("expired", func(t *testing.T) {
		expired := newCheckpoint(projA, noop, planID, domain.StatusDeleted, time.Now().Add(-time.Hour))
		expired.ExpiresAt = time.Now().Add(-time.Minute).Unix()
		e.storeCheckpoints(t, []*domain.Checkpoint{expired})
		e.do(t, http.MethodPut, checkpointPath(projA, noop, expired.ID), tokenA, reset("error")).wantFault(t, http.StatusNotFound, expired.ID)
	})

	t.Run("invalid body", func(t *testing.T) {
		id := e.createCheckpoint(t, tokenA, projA, planID)["id"].(string)
		e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusAvailable)
		path := checkpointPath(projA, noop, id)
		tests := []struct {
			name    string
			body    any
			status  int
			mention string
		}{
			{"state deleted", reset("deleted"), 400, "deleted"},
			{"state protecting", reset("protecting"), 400, "protecting"},
			{"state deleting", reset("deleting"), 400, "deleting"},
			{"state error-deleting", reset("error-deleting"), 400, "error-deleting"},
			{"state unknown", reset("broken"), 400, "broken"},
			{"state upper-case", reset("AVAILABLE"), 400, "AVAILABLE"},
			{"state empty", reset(""), 400, "state"},
			{"state a number", rawBody(`{"os-resetState": {"state": 1}}`), 400, "state"},
			{"state null", rawBody(`{"os-resetState": {"state": null}}`), 400, "state"},
			{"state missing", rawBody(`{"os-resetState": {}}`), 400, "state"},
			{"extra key inside", rawBody(`{"os-resetState": {"state": "error", "force": true}}`), 400, "force"},
			{"extra top-level key", rawBody(`{"os-resetState": {"state": "error"}, "os-forceDelete": {}}`), 400, "os-forceDelete"},
			{"action missing", rawBody(`{}`), 400, "os-resetState"},
			{"other action", rawBody(`{"os-forceDelete": {}}`), 400, "os-forceDelete"},
			{"action not an object", rawBody(`{"os-resetState": "error"}`), 400, "os-resetState"},
			{"action null", rawBody(`{"os-resetState": null}`), 400, "os-resetState"},
			{"malformed JSON", rawBody(`{"os-resetState": {"state": "error"}`), 400, "JSON"},
			{"empty body", rawBody(""), 400, "empty"},
			{"no body", nil, 400, "empty"},
			{"JSON array", rawBody(`[{"os-resetState": {"state": "error"}}]`), 400, "object"},
			{"over 64 KiB", rawBody(`{"os-resetState": {"state": "error"}, "x": "` + strings.Repeat("x", 64<<10) + `"}`), 413, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e.do(t, http.MethodPut, path, tokenA, tc.body).wantFault(t, tc.status, tc.mention)
			})
		}
		if st := status(t, id); st != "available" {
			t.Errorf("status after invalid resets = %v, want available", st)
		}
	})

	t.Run("not found", func(t *testing.T) {
		unknown := domain.NewID()
		e.do(t, http.MethodPut, checkpointPath(projA, noop, unknown), tokenA, reset("error")).wantFault(t, http.StatusNotFound, unknown)
		elsewhere := e.storeCheckpoint(t, projA, otherProvider, planID, domain.StatusAvailable, time.Now())
		e.do(t, http.MethodPut, checkpointPath(projA, noop, elsewhere.ID), tokenA, reset("error")).wantFault(t, http.StatusNotFound, elsewhere.ID)
		e.do(t, http.MethodPut, checkpointPath(projA, domain.NewID(), elsewhere.ID), tokenA, reset("error")).wantFault(t, http.StatusNotFound, "Provider")
		e.do(t, http.MethodPut, checkpointPath(projA, noop, "not-a-uuid"), tokenA, reset("error")).wantFault(t, http.StatusBadRequest, "checkpoint_id")
		e.do(t, http.MethodPut, checkpointPath(projA, "not-a-uuid", unknown), tokenA, reset("error")).wantFault(t, http.StatusBadRequest, "provider_id")
	})
}
