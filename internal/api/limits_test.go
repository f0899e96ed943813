package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// bigPlanBody is a create-plan body of n resources whose ids and names are
// 50 × U+2028, sent raw: 3 bytes each in the body, 6 as stored (JSON
// escapes it always), so the stored plan is about twice the body.
func bigPlanBody(t *testing.T, n int) rawBody {
	t.Helper()
	resources := make([]map[string]any, n)
	for i := range resources {
		s := fmt.Sprintf("%03d", i) + strings.Repeat("\u2028", 50)
		resources[i] = map[string]any{"id": s, "type": "OS::Cinder::Volume", "name": s}
	}
	b, err := json.Marshal(map[string]any{"plan": map[string]any{"name": "big", "provider_id": noop, "parameters": map[string]any{}, "resources": resources}})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(b), `\u2028`, "\u2028")
	if len(body) > 64<<10 {
		t.Fatalf("body of %d bytes; the test wants one the API reads", len(body))
	}
	return rawBody(body)
}

// TestPlanSizeLimit: a plan whose body fits 64 KiB but whose resources and
// parameters take more than 65,536 bytes as stored is refused with a 400
// naming the limit, on create and on update; one under it is stored.
func TestPlanSizeLimit(t *testing.T) {
	e := newEnv(t)
	ok := e.do(t, http.MethodPost, plansPath(projA), tokenA, bigPlanBody(t, 90)).wantStatus(t, http.StatusOK).obj(t, "plan")
	e.do(t, http.MethodPost, plansPath(projA), tokenA, bigPlanBody(t, 110)).
		wantFault(t, http.StatusBadRequest, "too large", "65536 bytes")

	var update map[string]any
	if err := json.Unmarshal([]byte(bigPlanBody(t, 110)), &update); err != nil {
		t.Fatal(err)
	}
	delete(update["plan"].(map[string]any), "provider_id")
	delete(update["plan"].(map[string]any), "parameters")
	raw, err := json.Marshal(update)
	if err != nil {
		t.Fatal(err)
	}
	e.do(t, http.MethodPut, planPath(projA, ok["id"].(string)), tokenA, rawBody(strings.ReplaceAll(string(raw), `\u2028`, "\u2028"))).
		wantFault(t, http.StatusBadRequest, "too large", "65536 bytes")
}

// nested is a JSON object nesting depth levels (itself level 1).
func nested(depth int) map[string]any {
	v := map[string]any{"leaf": true}
	for i := 1; i < depth; i++ {
		v = map[string]any{"a": v}
	}
	return v
}

// TestExtraInfoNesting: a plan resource's extra_info may nest 10 levels,
// not 11; a checkpoint's extra_info takes only flat values.
func TestExtraInfoNesting(t *testing.T) {
	e := newEnv(t)
	plan := func(info map[string]any) map[string]any {
		return map[string]any{"plan": map[string]any{"name": "n", "provider_id": noop, "parameters": map[string]any{},
			"resources": []map[string]any{{"id": "r", "type": "OS::Cinder::Volume", "name": "r", "extra_info": info}}}}
	}
	created := e.do(t, http.MethodPost, plansPath(projA), tokenA, plan(nested(10))).wantStatus(t, http.StatusOK).obj(t, "plan")
	e.do(t, http.MethodPost, plansPath(projA), tokenA, plan(nested(11))).
		wantFault(t, http.StatusBadRequest, "nested deeper than 10 levels")
	e.do(t, http.MethodPut, planPath(projA, created["id"].(string)), tokenA,
		map[string]any{"plan": map[string]any{"resources": plan(nested(11))["plan"].(map[string]any)["resources"]}}).
		wantFault(t, http.StatusBadRequest, "nested deeper than 10 levels")
	e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA,
		map[string]any{"checkpoint": map[string]any{"plan_id": created["id"], "extra_info": nested(2)}}).
		wantFault(t, http.StatusBadRequest, "extra_info")
	// A plan's parameters likewise: each type's options nest at most 10
	// levels (a deeper plan once broke the client's plan-list for admins).
	params := func(depth int) map[string]any {
		p := plan(nil)
		delete(p["plan"].(map[string]any)["resources"].([]map[string]any)[0], "extra_info")
		p["plan"].(map[string]any)["parameters"] = map[string]any{"OS::Cinder::Volume": nested(depth)}
		return p
	}
	e.do(t, http.MethodPost, plansPath(projA), tokenA, params(10)).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodPost, plansPath(projA), tokenA, params(11)).
		wantFault(t, http.StatusBadRequest, "nested deeper than 10 levels")
}

// TestCheckpointExtraInfoSizeLimit: an extra_info within the 64 KiB body
// that takes more than 32,768 bytes as stored is refused naming the limit.
func TestCheckpointExtraInfoSizeLimit(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	for n, status := range map[int]int{5000: http.StatusOK, 5600: http.StatusBadRequest} {
		// Control characters: 6 bytes each in the body and as stored.
		body := map[string]any{"checkpoint": map[string]any{"plan_id": plan["id"], "extra_info": map[string]any{"k": strings.Repeat("\x01", n)}}}
		r := e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA, body)
		if status == http.StatusOK {
			r.wantStatus(t, status)
		} else {
			r.wantFault(t, status, "32768 bytes")
		}
	}
}
