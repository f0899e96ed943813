package api_test

import (
	"net/http"
	"strings"
	"testing"

	"karbor/internal/domain"
)

func TestUnknownPathAndMethod(t *testing.T) {
	e := newEnv(t)
	cpPath := checkpointPath(projA, noop, domain.NewID())
	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"root", http.MethodGet, "/", http.StatusNotFound},
		{"unknown version", http.MethodGet, "/v2/" + projA + "/providers", http.StatusNotFound},
		{"unknown collection", http.MethodGet, "/v1/" + projA + "/os-services", http.StatusNotFound},
		{"tenant only", http.MethodGet, "/v1/" + projA, http.StatusNotFound},
		{"below a checkpoint", http.MethodGet, cpPath + "/restore", http.StatusNotFound},
		{"no tenant", http.MethodGet, "/v1/providers", http.StatusNotFound},
		{"unknown path with a body", http.MethodPost, "/v1/" + projA + "/os-services", http.StatusNotFound},
		{"trailing slash", http.MethodGet, "/v1/" + projA + "/providers/", http.StatusNotFound},
		{"trailing slash on checkpoints", http.MethodGet, checkpointsPath(projA, noop) + "/", http.StatusNotFound},
		// ServeMux would redirect these with an HTML answer.
		{"double slash", http.MethodGet, "/v1//providers", http.StatusNotFound},
		{"double slash in a route", http.MethodGet, "/v1/" + projA + "//providers", http.StatusNotFound},
		{"dot segment", http.MethodGet, "/v1/" + projA + "/./providers", http.StatusNotFound},
		{"dot-dot segment", http.MethodPost, "/v1/" + projA + "/plans/../plans", http.StatusNotFound},
		{"patch checkpoints", http.MethodPatch, checkpointsPath(projA, noop), http.StatusMethodNotAllowed},
		{"delete checkpoints", http.MethodDelete, checkpointsPath(projA, noop), http.StatusMethodNotAllowed},
		{"post checkpoint", http.MethodPost, cpPath, http.StatusMethodNotAllowed},
		{"post providers", http.MethodPost, "/v1/" + projA + "/providers", http.StatusMethodNotAllowed},
		{"delete provider", http.MethodDelete, "/v1/" + projA + "/providers/" + noop, http.StatusMethodNotAllowed},
		{"put plans", http.MethodPut, "/v1/" + projA + "/plans", http.StatusMethodNotAllowed},
		{"post plan", http.MethodPost, "/v1/" + projA + "/plans/" + domain.NewID(), http.StatusMethodNotAllowed},
		{"put triggers", http.MethodPut, "/v1/" + projA + "/triggers", http.StatusMethodNotAllowed},
		{"post scheduled operation", http.MethodPost, "/v1/" + projA + "/scheduled_operations/" + domain.NewID(), http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// With and without a token: routing answers first.
			for _, token := range []string{tokenA, ""} {
				r := e.do(t, tc.method, tc.path, token, nil)
				r.wantFault(t, tc.status)
				if tc.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
					t.Errorf("405 without an Allow header")
				}
			}
		})
	}
}

func TestRequestIDsDiffer(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 5 {
		r := e.do(t, http.MethodGet, "/v1/"+projA+"/providers", tokenA, nil).wantStatus(t, http.StatusOK)
		id := r.header.Get("X-Openstack-Request-Id")
		if seen[id] {
			t.Fatalf("request id %s given twice", id)
		}
		seen[id] = true
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	tokens := []struct{ name, token string }{
		{"no token", ""},
		{"user only", "alice"},
		{"empty project", "alice:"},
		{"empty project with role", "alice::admin"},
		{"bad project characters", "alice:proj.a"},
		{"project with space", "alice:proj a"},
		{"project too long", "alice:" + strings.Repeat("a", 65)},
		{"too many parts", "alice:" + projA + ":admin:extra"},
		{"empty user", ":" + projA},
		{"empty user with role", ":" + projA + ":admin"},
	}
	paths := []struct{ method, path string }{
		{http.MethodGet, "/v1/" + projA + "/providers"},
		{http.MethodGet, "/v1/" + projA + "/providers/" + noop},
		{http.MethodGet, checkpointsPath(projA, noop)},
		{http.MethodPost, checkpointsPath(projA, noop)},
		{http.MethodGet, checkpointPath(projA, noop, domain.NewID())},
		{http.MethodDelete, checkpointPath(projA, noop, domain.NewID())},
		{http.MethodPut, checkpointPath(projA, noop, domain.NewID())},
		{http.MethodGet, "/v1/" + projA + "/plans"},
		{http.MethodPost, "/v1/" + projA + "/plans"},
		{http.MethodGet, "/v1/" + projA + "/plans/" + domain.NewID()},
		{http.MethodPut, "/v1/" + projA + "/plans/" + domain.NewID()},
		{http.MethodDelete, "/v1/" + projA + "/plans/" + domain.NewID()},
	}
	for _, tok := range tokens {
		t.Run(tok.name, func(t *testing.T) {
			for _, p := range paths {
				e.do(t, p.method, p.path, tok.token, rawBody(`{}`)).wantFault(t, http.StatusUnauthorized)
			}
		})
	}
	t.Run("well-formed tokens", func(t *testing.T) {
		for _, token := range []string{tokenA, tokenA2, "alice:" + projA + ":", "alice:" + projA + ":member,reader", "a-b.c@d:" + projA} {
			e.do(t, http.MethodGet, "/v1/"+projA+"/providers", token, nil).wantStatus(t, http.StatusOK)
		}
	})
}

func TestTenantAccess(t *testing.T) {
	e := newEnv(t)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	cp := e.createCheckpoint(t, tokenA, projA, plan["id"].(string))
	planID, cpID := plan["id"].(string), cp["id"].(string)

	pathsOf := func(tenant string) []struct{ method, path string } {
		return []struct{ method, path string }{
			{http.MethodGet, "/v1/" + tenant + "/providers"},
			{http.MethodGet, "/v1/" + tenant + "/providers/" + noop},
			{http.MethodGet, checkpointsPath(tenant, noop)},
			{http.MethodGet, checkpointPath(tenant, noop, cpID)},
			{http.MethodGet, "/v1/" + tenant + "/plans"},
			{http.MethodGet, "/v1/" + tenant + "/plans/" + planID},
		}
	}

	t.Run("another project is forbidden", func(t *testing.T) {
		for _, p := range pathsOf(projA) {
			e.do(t, p.method, p.path, tokenB, nil).wantFault(t, http.StatusForbidden)
		}
		for _, body := range []any{nil, rawBody(`{"checkpoint": {"plan_id": "` + planID + `"}}`)} {
			e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenB, body).wantFault(t, http.StatusForbidden)
		}
		e.do(t, http.MethodDelete, checkpointPath(projA, noop, cpID), tokenB, nil).wantFault(t, http.StatusForbidden)
		e.do(t, http.MethodPut, checkpointPath(projA, noop, cpID), tokenB,
			rawBody(`{"os-resetState": {"state": "error"}}`)).wantFault(t, http.StatusForbidden)
		e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenB, map[string]any{"plan": samplePlan()}).wantFault(t, http.StatusForbidden)
		e.do(t, http.MethodPut, "/v1/"+projA+"/plans/"+planID, tokenB, rawBody(`{"plan": {"name": "x"}}`)).wantFault(t, http.StatusForbidden)
		e.do(t, http.MethodDelete, "/v1/"+projA+"/plans/"+planID, tokenB, nil).wantFault(t, http.StatusForbidden)
		// Nothing changed.
		got := e.do(t, http.MethodGet, checkpointPath(projA, noop, cpID), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
		if got["status"] != "protecting" {
			t.Errorf("status = %v after forbidden requests", got["status"])
		}
		e.do(t, http.MethodGet, "/v1/"+projA+"/plans/"+planID, tokenA, nil).wantStatus(t, http.StatusOK)
	})

	t.Run("a non-admin role named like admin is not admin", func(t *testing.T) {
		e.do(t, http.MethodGet, checkpointsPath(projA, noop), "bob:"+projB+":administrator", nil).wantFault(t, http.StatusForbidden)
	})

	t.Run("admin may address any project", func(t *testing.T) {
		for _, p := range pathsOf(projA) {
			e.do(t, p.method, p.path, tokenAdmin, nil).wantStatus(t, http.StatusOK)
		}
		got := e.do(t, http.MethodGet, checkpointsPath(projA, noop), tokenAdmin, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints")
		if len(got) != 1 || got[0]["id"] != cpID {
			t.Errorf("admin listing of project A = %v, want [%s]", ids(got), cpID)
		}
		// An admin creating in another project creates there.
		cp2 := e.createCheckpoint(t, tokenAdmin, projA, planID)
		if cp2["project_id"] != projA {
			t.Errorf("project_id = %v, want %s", cp2["project_id"], projA)
		}
		e.do(t, http.MethodGet, checkpointPath(projA, noop, cp2["id"].(string)), tokenA, nil).wantStatus(t, http.StatusOK)
		// A project the admin addresses that has nothing is just empty.
		got = e.do(t, http.MethodGet, checkpointsPath(projB, noop), tokenAdmin, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints")
		if len(got) != 0 {
			t.Errorf("admin listing of project B = %v, want none", ids(got))
		}
	})

	t.Run("malformed tenant in the path", func(t *testing.T) {
		for _, tenant := range []string{"proj.a", "proj%20a", "a%2Fb", strings.Repeat("a", 65), "pr%C3%B6j", "a:b"} {
			for _, token := range []string{tokenA, tokenAdmin} {
				e.do(t, http.MethodGet, "/v1/"+tenant+"/providers", token, nil).wantFault(t, http.StatusBadRequest, "tenant_id")
				e.do(t, http.MethodGet, checkpointsPath(tenant, noop), token, nil).wantFault(t, http.StatusBadRequest, "tenant_id")
				e.do(t, http.MethodGet, "/v1/"+tenant+"/plans", token, nil).wantFault(t, http.StatusBadRequest, "tenant_id")
			}
		}
		// Limits of a valid tenant: 64 characters and '_' and '-'.
		long := strings.Repeat("a", 64)
		e.do(t, http.MethodGet, "/v1/"+long+"/providers", "u:"+long, nil).wantStatus(t, http.StatusOK)
		e.do(t, http.MethodGet, "/v1/A_b-9/providers", "u:A_b-9", nil).wantStatus(t, http.StatusOK)
	})
}
