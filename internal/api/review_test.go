package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/testsupport/invenv"
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
	c := e.storeCheckpoint(t, projA, noop, plan["id"].(string), domain.StatusAvailable, time.Now().UTC())
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

func TestPlanResourceLimit(t *testing.T) {
	e := newEnv(t)
	plan := samplePlan()
	var resources []any
	for i := range 201 {
		resources = append(resources, map[string]any{"id": fmt.Sprintf("r%d", i), "type": "OS::Nova::Server", "name": "s"})
	}
	plan["resources"] = resources
	e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, map[string]any{"plan": plan}).
		wantFault(t, http.StatusBadRequest, "at most 200 resources")
	plan["resources"] = resources[:200]
	e.createPlan(t, tokenA, projA, plan)
}

// A resource id in a parameters key keeps its characters ('.', '-', '_'
// in a table's name). (A table was once named by its ARN too; the id is
// now the table's name, and an ARN is no protectable instance.)
func TestParameterKeyWithTableName(t *testing.T) {
	e := newEnv(t)
	name := invenv.New(t).Table(invenv.TableName("orders.v2_"), invenv.Owner(projA))
	got := e.createPlan(t, tokenA, projA, map[string]any{
		"name": "orders", "provider_id": provider.AWSID,
		"resources":  []any{map[string]any{"id": name, "type": provider.TypeDynamoDBTable, "name": "orders"}},
		"parameters": map[string]any{provider.TypeDynamoDBTable + "#" + name: map[string]any{"backup_name_prefix": "orders"}},
	})
	if params, _ := got["parameters"].(map[string]any); params[provider.TypeDynamoDBTable+"#"+name] == nil {
		t.Errorf("parameters came back as %v", got["parameters"])
	}
}

// A deleted checkpoint past its expiry is gone for every route, not only
// show, even while DynamoDB's TTL has not removed it yet.
func TestExpiredCheckpointIsGone(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	c := e.storeCheckpoint(t, projA, noop, plan["id"].(string), domain.StatusAvailable, time.Now().UTC())
	ctx := context.Background()
	for _, tr := range []domain.Transition{
		{ProjectID: projA, ProviderID: noop, ID: c.ID, From: []domain.Status{domain.StatusAvailable}, To: domain.StatusDeleting},
		{ProjectID: projA, ProviderID: noop, ID: c.ID, From: []domain.Status{domain.StatusDeleting}, To: domain.StatusDeleted,
			At: time.Now().Add(-48 * time.Hour), Retention: time.Hour},
	} {
		if _, err := e.store.SetStatus(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	path := checkpointsPath(projA, noop) + "/" + c.ID
	e.do(t, http.MethodGet, path, tokenA, nil).wantFault(t, http.StatusNotFound)
	e.do(t, http.MethodDelete, path, tokenA, nil).wantFault(t, http.StatusNotFound)
	e.do(t, http.MethodPut, path, tokenA, map[string]any{"os-resetState": map[string]any{"state": "error"}}).wantFault(t, http.StatusNotFound)
}
