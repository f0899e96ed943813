package api_test

import (
	"net/http"
	"reflect"
	"testing"

	"karbor/internal/domain"
)

// TestProjectIsolation: a project never sees another's data. Through its own
// tenant, another project's checkpoint or plan is not found (404, never 403).
func TestProjectIsolation(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	planID := plan["id"].(string)
	cp := e.createCheckpoint(t, tokenA, projA, planID)
	id := cp["id"].(string)
	e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusAvailable)
	before := e.do(t, http.MethodGet, checkpointPath(projA, noop, id), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")

	t.Run("checkpoints", func(t *testing.T) {
		for _, token := range []string{tokenB, "bob2:" + projB} {
			if got := e.do(t, http.MethodGet, checkpointsPath(projB, noop), token, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints"); len(got) != 0 {
				t.Errorf("project B lists %v", ids(got))
			}
			for _, q := range []string{"?all_tenants=true", "?all_tenants=true&project_id=" + projA, "?plan_id=" + planID, "?status=available"} {
				if got := e.do(t, http.MethodGet, checkpointsPath(projB, noop)+q, token, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints"); len(got) != 0 {
					t.Errorf("project B lists %v with %s", ids(got), q)
				}
			}
			path := checkpointPath(projB, noop, id)
			e.do(t, http.MethodGet, path, token, nil).wantFault(t, http.StatusNotFound, id)
			e.do(t, http.MethodDelete, path, token, nil).wantFault(t, http.StatusNotFound, id)
			e.do(t, http.MethodPut, path, token, rawBody(`{"os-resetState": {"state": "error"}}`)).wantFault(t, http.StatusNotFound, id)
			e.do(t, http.MethodGet, checkpointsPath(projB, noop)+"?marker="+id, token, nil).wantFault(t, http.StatusBadRequest, "marker")
		}
		after := e.do(t, http.MethodGet, checkpointPath(projA, noop, id), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
		if !reflect.DeepEqual(after, before) {
			t.Errorf("project B's requests changed the checkpoint:\n got %v\nwant %v", after, before)
		}
	})

	t.Run("plans", func(t *testing.T) {
		if got := e.do(t, http.MethodGet, plansPath(projB), tokenB, nil).wantStatus(t, http.StatusOK).list(t, "plans"); len(got) != 0 {
			t.Errorf("project B lists plans %v", ids(got))
		}
		path := planPath(projB, planID)
		e.do(t, http.MethodGet, path, tokenB, nil).wantFault(t, http.StatusNotFound, "Plan "+planID+" could not be found.")
		e.do(t, http.MethodPut, path, tokenB, map[string]any{"plan": map[string]any{"name": "taken"}}).wantFault(t, http.StatusNotFound, planID)
		e.do(t, http.MethodPut, path, tokenB, map[string]any{"plan": map[string]any{"resources": []any{map[string]any{"id": "a", "type": "b", "name": "c"}}}}).
			wantFault(t, http.StatusNotFound, planID)
		e.do(t, http.MethodDelete, path, tokenB, nil).wantFault(t, http.StatusNotFound, planID)
		e.do(t, http.MethodPost, checkpointsPath(projB, noop), tokenB, map[string]any{"checkpoint": map[string]any{"plan_id": planID}}).
			wantFault(t, http.StatusNotFound, "Plan "+planID+" could not be found.")
		after := e.do(t, http.MethodGet, planPath(projA, planID), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "plan")
		if !reflect.DeepEqual(after, plan) {
			t.Errorf("project B's requests changed the plan:\n got %v\nwant %v", after, plan)
		}
	})

	t.Run("the other way round", func(t *testing.T) {
		planB := e.createPlan(t, tokenB, projB, samplePlan())["id"].(string)
		cpB := e.createCheckpoint(t, tokenB, projB, planB)["id"].(string)
		got := ids(e.do(t, http.MethodGet, checkpointsPath(projA, noop), tokenA, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints"))
		if len(got) != 1 || got[0] != id {
			t.Errorf("project A lists %v, want [%s]", got, id)
		}
		e.do(t, http.MethodGet, checkpointPath(projA, noop, cpB), tokenA, nil).wantFault(t, http.StatusNotFound, cpB)
		e.do(t, http.MethodGet, planPath(projA, planB), tokenA, nil).wantFault(t, http.StatusNotFound, planB)
	})
}
