package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"karbor/internal/model"
	"karbor/internal/provider"
)

// Inputs an acceptance review found mishandled, each pinned here.
func TestMalformedQueryStrings(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		checkpointsPath(projA, noop) + "?limit=%zz",
		checkpointsPath(projA, noop) + "?marker=%zz",
		checkpointsPath(projA, noop) + "?limit=2;marker=x",
		"/v1/" + projA + "/plans?limit=%zz",
		"/v1/" + projA + "/providers?limit=%zz",
	} {
		e.do(t, http.MethodGet, path, tokenA, nil).wantFault(t, http.StatusBadRequest, "Malformed query string")
	}
}

func TestNameLengthCountsCharacters(t *testing.T) {
	e := newEnv(t)
	plan := samplePlan()
	plan["name"] = strings.Repeat("計", 255) // 765 bytes, 255 characters
	got := e.createPlan(t, tokenA, projA, plan)
	if got["name"] != plan["name"] {
		t.Errorf("name came back as %q", got["name"])
	}
	plan["name"] = strings.Repeat("計", 256)
	e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, map[string]any{"plan": plan}).
		wantFault(t, http.StatusBadRequest, "longer than 255")
}

func TestEndDateBeyondYear9999(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	c := e.storeCheckpoint(t, projA, noop, plan["id"].(string), model.StatusAvailable, time.Now().UTC())
	// In UTC this instant is in year 10000; it still bounds every checkpoint.
	r := e.do(t, http.MethodGet, checkpointsPath(projA, noop)+"?end_date=9999-12-31T23:59:59-01:00", tokenA, nil)
	r.wantStatus(t, http.StatusOK)
	list := r.list(t, "checkpoints")
	if len(list) != 1 || list[0]["id"] != c.ID {
		t.Errorf("listed %v, want the one checkpoint %s", list, c.ID)
	}
}

// A malformed id in the path is a 400 before any lookup, also when the other
// id names an unknown provider.
func TestPathIDsCheckedBeforeLookup(t *testing.T) {
	e := newEnv(t)
	unknown := "00000000-0000-4000-8000-000000000000"
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		e.do(t, m, checkpointsPath(projA, unknown)+"/abc", tokenA, map[string]any{}).
			wantFault(t, http.StatusBadRequest, "checkpoint_id")
	}
}

// Quoted input is clipped: a huge bad id does not come back whole.
func TestFaultMessagesClipInput(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 70000)
	r := e.do(t, http.MethodGet, "/v1/"+projA+"/plans/"+long, tokenA, nil)
	r.wantFault(t, http.StatusBadRequest, "plan_id")
	if msg := r.message(); len(msg) > 300 {
		t.Errorf("message is %d bytes long", len(msg))
	}
}

// The api-ref sample plan, exactly as published, creates a plan: its
// provider (Karbor's OS Infra Provider) is registered.
func TestSamplePlanAsPublished(t *testing.T) {
	e := newEnv(t)
	raw, err := os.ReadFile("testdata/plan-create-request.json" /* a copy of the api-ref sample */)
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, body)
	r.wantStatus(t, http.StatusOK)
	plan := r.obj(t, "plan")
	c := e.do(t, http.MethodPost, checkpointsPath(projA, provider.OSInfraID), tokenA,
		map[string]any{"checkpoint": map[string]any{"plan_id": plan["id"]}})
	c.wantStatus(t, http.StatusOK)
}
