package api_test

import (
	"net/http"
	"reflect"
	"testing"
)

func quotaPath(tenant, project string) string { return "/v1/" + tenant + "/quotas/" + project }

func quotaClassPath(tenant, name string) string { return "/v1/" + tenant + "/quota_classes/" + name }

func wantBody(t *testing.T, r *response, key string, want map[string]any) {
	t.Helper()
	r.wantStatus(t, http.StatusOK)
	if got := r.obj(t, key); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %s = %v, want %v", r.what, key, got, want)
	}
}

func quotaBody(plans, checkpoints any) map[string]any {
	return map[string]any{"plans": plans, "checkpoints": checkpoints}
}

// TestQuotaRoutes: who may call what, and the bodies.
func TestQuotaRoutes(t *testing.T) {
	e := newEnv(t)
	withID := func(id string, m map[string]any) map[string]any { m["id"] = id; return m }

	// A project without overrides has the deployment defaults.
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA), tokenA, nil), "quota", withID(projA, quotaBody(50.0, -1.0)))
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA)+"/defaults", tokenA, nil), "quota", withID(projA, quotaBody(50.0, -1.0)))
	// Defaults: anyone, any id.
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projB)+"/defaults", tokenA, nil), "quota", withID(projB, quotaBody(50.0, -1.0)))
	wantBody(t, e.do(t, http.MethodGet, quotaClassPath(projA, "default"), tokenA, nil), "quota_class", withID("default", quotaBody(50.0, -1.0)))

	// Another project's quota: admin only.
	e.do(t, http.MethodGet, quotaPath(projA, projB), tokenA, nil).wantFault(t, http.StatusForbidden)
	e.do(t, http.MethodGet, quotaPath(projA, projB)+"/detail", tokenA, nil).wantFault(t, http.StatusForbidden)
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projAdmin, projB), tokenAdmin, nil), "quota", withID(projB, quotaBody(50.0, -1.0)))
	// Updates: admin only, even of one's own project.
	e.do(t, http.MethodPut, quotaPath(projA, projA), tokenA, map[string]any{"quota": map[string]any{"plans": 5}}).wantFault(t, http.StatusForbidden)
	e.do(t, http.MethodDelete, quotaPath(projA, projA), tokenA, nil).wantFault(t, http.StatusForbidden)
	e.do(t, http.MethodPut, quotaClassPath(projA, "default"), tokenA, map[string]any{"quota_class": map[string]any{"plans": 5}}).wantFault(t, http.StatusForbidden)

	// An update answers the effective limits, with the id.
	wantBody(t, e.do(t, http.MethodPut, quotaPath(projAdmin, projA), tokenAdmin, map[string]any{"quota": map[string]any{"plans": "5"}}),
		"quota", withID(projA, quotaBody(5.0, -1.0)))
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA), tokenA, nil), "quota", withID(projA, quotaBody(5.0, -1.0)))
	// The class changes what a project without an override gets at once.
	wantBody(t, e.do(t, http.MethodPut, quotaClassPath(projAdmin, "default"), tokenAdmin, map[string]any{"quota_class": map[string]any{"plans": 7, "checkpoints": 9}}),
		"quota_class", withID("default", quotaBody(7.0, 9.0)))
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA), tokenA, nil), "quota", withID(projA, quotaBody(5.0, 9.0)))
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projB, projB)+"/defaults", tokenB, nil), "quota", withID(projB, quotaBody(7.0, 9.0)))
	wantBody(t, e.do(t, http.MethodGet, quotaClassPath(projB, "default"), tokenB, nil), "quota_class", withID("default", quotaBody(7.0, 9.0)))

	// Detail counts.
	e.createPlan(t, tokenA, projA, samplePlan())
	detail := map[string]any{"id": projA,
		"plans":       map[string]any{"limit": 5.0, "in_use": 1.0, "reserved": 0.0},
		"checkpoints": map[string]any{"limit": 9.0, "in_use": 0.0, "reserved": 0.0}}
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA)+"/detail", tokenA, nil), "quota", detail)

	// Delete removes the overrides, keeps the counts; empty body.
	r := e.do(t, http.MethodDelete, quotaPath(projAdmin, projA), tokenAdmin, nil).wantStatus(t, http.StatusOK)
	if len(r.raw) != 0 {
		t.Errorf("DELETE quota body = %q, want empty", r.raw)
	}
	detail["plans"] = map[string]any{"limit": 7.0, "in_use": 1.0, "reserved": 0.0}
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA)+"/detail", tokenA, nil), "quota", detail)
	// null removes a class value.
	wantBody(t, e.do(t, http.MethodPut, quotaClassPath(projAdmin, "default"), tokenAdmin, map[string]any{"quota_class": map[string]any{"plans": nil}}),
		"quota_class", withID("default", quotaBody(50.0, 9.0)))

	// Other classes do not exist; project ids have the tenant id's form.
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		e.do(t, m, quotaClassPath(projAdmin, "gold"), tokenAdmin, map[string]any{"quota_class": map[string]any{"plans": 1}}).
			wantFault(t, http.StatusNotFound, "Quota class gold could not be found.")
	}
	for _, p := range []string{quotaPath(projAdmin, "no.dots"), quotaPath(projAdmin, "no.dots") + "/detail", quotaPath(projAdmin, "no.dots") + "/defaults"} {
		e.do(t, http.MethodGet, p, tokenAdmin, nil).wantFault(t, http.StatusBadRequest, "project_id")
	}
	e.do(t, http.MethodPut, quotaPath(projAdmin, "no.dots"), tokenAdmin, map[string]any{"quota": map[string]any{"plans": 1}}).wantFault(t, http.StatusBadRequest, "project_id")
	e.do(t, http.MethodDelete, quotaPath(projAdmin, "no.dots"), tokenAdmin, nil).wantFault(t, http.StatusBadRequest, "project_id")
}

// TestQuotaBodies: every rule of a limit in a body, for quotas and quota
// classes alike.
func TestQuotaBodies(t *testing.T) {
	e := newEnv(t)
	paths := map[string]string{"quota": quotaPath(projAdmin, projA), "quota_class": quotaClassPath(projAdmin, "default")}
	for key, path := range paths {
		put := func(body any) *response { return e.do(t, http.MethodPut, path, tokenAdmin, body) }
		for _, c := range []struct {
			in   any
			want string
		}{
			{-2, "Quota limit must be -1 or greater."},
			{"-2", "Quota limit must be -1 or greater."},
			{"-99999999999999999999", "Quota limit must be -1 or greater."},
			{2147483648, "Quota limit must be 2147483647 or less."},
			{"99999999999999999999999", "Quota limit must be 2147483647 or less."},
			{true, "Quota 'true' for plans should be integer."},
			{"", "Quota '' for plans should be integer."},
			{"abc", "Quota 'abc' for plans should be integer."},
			{1.5, "Quota '1.5' for plans should be integer."},
			{"1.5", "Quota '1.5' for plans should be integer."},
			{[]int{1}, "Quota '[1]' for plans should be integer."},
		} {
			r := put(map[string]any{key: map[string]any{"plans": c.in}})
			r.wantFault(t, http.StatusBadRequest)
			if r.message() != c.want {
				t.Errorf("%s plans=%v: message %q, want %q", key, c.in, r.message(), c.want)
			}
		}
		put(map[string]any{key: map[string]any{}}).wantFault(t, http.StatusBadRequest, "Missing updated parameters in request body.")
		put(map[string]any{key: map[string]any{"plans": 1, "volumes": 2}}).wantFault(t, http.StatusBadRequest, "volumes")
		put(map[string]any{key: map[string]any{"plans": 1}, "extra": 1}).wantFault(t, http.StatusBadRequest, "extra")
		put(map[string]any{}).wantFault(t, http.StatusBadRequest, key)
		put(rawBody("not json")).wantFault(t, http.StatusBadRequest)
		// Valid values: both bounds, as integers and strings.
		for _, v := range []any{-1, "-1", 0, 2147483647, "2147483647"} {
			put(map[string]any{key: map[string]any{"checkpoints": v}}).wantStatus(t, http.StatusOK)
		}
	}
	// A refused body changed nothing.
	wantBody(t, e.do(t, http.MethodGet, quotaPath(projA, projA), tokenA, nil), "quota",
		map[string]any{"id": projA, "plans": 50.0, "checkpoints": 2147483647.0})
}

// TestOverLimit: the creates refused by a quota answer 413 with upstream's
// texts, after their other checks.
func TestOverLimit(t *testing.T) {
	e := newEnv(t)
	e.do(t, http.MethodPut, quotaPath(projAdmin, projA), tokenAdmin, map[string]any{"quota": map[string]any{"plans": 1, "checkpoints": 1}}).wantStatus(t, http.StatusOK)
	plan := e.createPlan(t, tokenA, projA, samplePlan())
	r := e.do(t, http.MethodPost, plansPath(projA), tokenA, map[string]any{"plan": samplePlan()})
	r.wantFault(t, http.StatusRequestEntityTooLarge)
	if r.message() != "Maximum number of plans allowed (1) exceeded" {
		t.Errorf("plans over the limit: %q", r.message())
	}
	// Other checks come first.
	bad := samplePlan()
	delete(bad, "name")
	e.do(t, http.MethodPost, plansPath(projA), tokenA, map[string]any{"plan": bad}).wantFault(t, http.StatusBadRequest)

	e.createCheckpoint(t, tokenA, projA, plan["id"].(string))
	r = e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA, map[string]any{"checkpoint": map[string]any{"plan_id": plan["id"]}})
	r.wantFault(t, http.StatusRequestEntityTooLarge)
	if r.message() != "Maximum number of checkpoints allowed (1) exceeded" {
		t.Errorf("checkpoints over the limit: %q", r.message())
	}
	e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA, map[string]any{"checkpoint": map[string]any{"plan_id": "0a9b7c6d-5e4f-4031-8233-445566778899"}}).
		wantFault(t, http.StatusNotFound)

	// Limit 0 refuses the first; another project is not affected.
	e.do(t, http.MethodPut, quotaPath(projAdmin, projB), tokenAdmin, map[string]any{"quota": map[string]any{"plans": 0}}).wantStatus(t, http.StatusOK)
	r = e.do(t, http.MethodPost, plansPath(projB), tokenB, map[string]any{"plan": samplePlan()})
	r.wantFault(t, http.StatusRequestEntityTooLarge)
	if r.message() != "Maximum number of plans allowed (0) exceeded" {
		t.Errorf("plans at limit 0: %q", r.message())
	}
	// A deleted plan frees its place.
	e.do(t, http.MethodDelete, planPath(projA, plan["id"].(string)), tokenA, nil).wantStatus(t, http.StatusOK)
	e.createPlan(t, tokenA, projA, samplePlan())
}
