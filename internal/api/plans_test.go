package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"karbor/internal/domain"
	"karbor/internal/provider"
)

func plansPath(tenant string) string { return "/v1/" + tenant + "/plans" }

func planPath(tenant, id string) string { return plansPath(tenant) + "/" + id }

// jsonValue round-trips v through JSON, to compare it with a decoded body.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkPlanShape(t *testing.T, p map[string]any) {
	t.Helper()
	wantKeys(t, "plan", p, "id", "name", "description", "resources", "provider_id", "status", "parameters", "project_id")
	if id, _ := p["id"].(string); !uuidV4Pattern.MatchString(id) {
		t.Errorf("plan id %q is not a lower-case v4 UUID", id)
	}
}

func TestCreatePlan(t *testing.T) {
	e := newEnv(t)
	in := samplePlan()
	got := e.createPlan(t, tokenA, projA, in)
	checkPlanShape(t, got)
	want := map[string]any{
		"id":          got["id"],
		"name":        in["name"],
		"description": nil,
		"resources":   jsonValue(t, in["resources"]),
		"provider_id": noop,
		"status":      "suspended",
		"parameters":  jsonValue(t, in["parameters"]),
		"project_id":  projA,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("created plan\n got %v\nwant %v", got, want)
	}

	shown := e.do(t, http.MethodGet, planPath(projA, got["id"].(string)), tokenA, nil).wantStatus(t, http.StatusOK)
	wantKeys(t, "show body", shown.body, "plan")
	if p := shown.obj(t, "plan"); !reflect.DeepEqual(p, want) {
		t.Errorf("shown plan\n got %v\nwant %v", p, want)
	}

	t.Run("description, provider id spellings, empty parameters", func(t *testing.T) {
		in := samplePlan()
		in["description"] = "three tiers"
		in["provider_id"] = strings.ToUpper(strings.ReplaceAll(noop, "-", ""))
		in["parameters"] = map[string]any{}
		p := e.createPlan(t, tokenA, projA, in)
		checkPlanShape(t, p)
		if p["description"] != "three tiers" || p["provider_id"] != noop {
			t.Errorf("description = %v, provider_id = %v", p["description"], p["provider_id"])
		}
		if params, _ := p["parameters"].(map[string]any); params == nil || len(params) != 0 {
			t.Errorf("parameters = %v, want {}", p["parameters"])
		}
		if p["id"] == got["id"] {
			t.Errorf("two plans with id %v", p["id"])
		}
	})

	t.Run("body of exactly 64 KiB", func(t *testing.T) {
		data, _ := json.Marshal(map[string]any{"plan": samplePlan()})
		padded := string(data[:len(data)-1]) + strings.Repeat(" ", 64<<10-len(data)) + "}"
		if len(padded) != 64<<10 {
			t.Fatalf("body of %d bytes", len(padded))
		}
		e.do(t, http.MethodPost, plansPath(projA), tokenA, rawBody(padded)).wantStatus(t, http.StatusOK)
	})
}

func TestCreatePlanValidation(t *testing.T) {
	e := newEnv(t)
	// with returns the sample plan with one field set (nil value: removed).
	with := func(key string, v any) map[string]any {
		p := samplePlan()
		if v == nil {
			delete(p, key)
		} else {
			p[key] = v
		}
		return p
	}
	resource := func(drop string, extra map[string]any) map[string]any {
		r := map[string]any{"id": domain.NewID(), "type": "OS::Cinder::Volume", "name": "v"}
		delete(r, drop)
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	null := json.RawMessage(`null`)
	tests := []struct {
		name    string
		body    any
		status  int
		mention string
	}{
		{"name missing", map[string]any{"plan": with("name", nil)}, 400, "name"},
		{"name blank", map[string]any{"plan": with("name", "   ")}, 400, "name"},
		{"name empty", map[string]any{"plan": with("name", "")}, 400, "name"},
		{"name null", map[string]any{"plan": with("name", null)}, 400, "name"},
		{"name not a string", map[string]any{"plan": with("name", 5)}, 400, "name"},
		{"description not a string", map[string]any{"plan": with("description", 5)}, 400, "description"},
		{"resources missing", map[string]any{"plan": with("resources", nil)}, 400, "resources"},
		{"resources empty", map[string]any{"plan": with("resources", []any{})}, 400, "resources"},
		{"resources null", map[string]any{"plan": with("resources", null)}, 400, "resources"},
		{"resources an object", map[string]any{"plan": with("resources", map[string]any{"id": "x"})}, 400, "resources"},
		{"resources a string", map[string]any{"plan": with("resources", "x")}, 400, "resources"},
		{"resource not an object", map[string]any{"plan": with("resources", []any{"x"})}, 400, "resource"},
		{"resource without id", map[string]any{"plan": with("resources", []any{resource("id", nil)})}, 400, "id"},
		{"resource without type", map[string]any{"plan": with("resources", []any{resource("type", nil)})}, 400, "type"},
		{"resource without name", map[string]any{"plan": with("resources", []any{resource("name", nil)})}, 400, "name"},
		{"resource with empty id", map[string]any{"plan": with("resources", []any{resource("", map[string]any{"id": ""})})}, 400, "id"},
		{"resource id not a string", map[string]any{"plan": with("resources", []any{resource("", map[string]any{"id": 5})})}, 400, "id"},
		{"resource unknown key", map[string]any{"plan": with("resources", []any{resource("", map[string]any{"size": 1})})}, 400, "size"},
		{"resource extra_info not an object", map[string]any{"plan": with("resources", []any{resource("", map[string]any{"extra_info": "x"})})}, 400, "extra_info"},
		{"parameters missing", map[string]any{"plan": with("parameters", nil)}, 400, "parameters"},
		{"parameters a list", map[string]any{"plan": with("parameters", []any{})}, 400, "parameters"},
		{"parameters a string", map[string]any{"plan": with("parameters", "x")}, 400, "parameters"},
		{"parameters null", map[string]any{"plan": with("parameters", null)}, 400, "parameters"},
		{"parameters value not an object", map[string]any{"plan": with("parameters", map[string]any{"OS::Nova::Server": "x"})}, 400, "OS::Nova::Server"},
		{"parameters key with empty id", map[string]any{"plan": with("parameters", map[string]any{"OS::Nova::Server#": map[string]any{}})}, 400, "OS::Nova::Server#"},
		{"parameters key with bad characters", map[string]any{"plan": with("parameters", map[string]any{"OS::Nova::Server/x": map[string]any{}})}, 400, "OS::Nova::Server/x"},
		{"parameters empty key", map[string]any{"plan": with("parameters", map[string]any{"": map[string]any{}})}, 400, "parameters"},
		{"provider_id missing", map[string]any{"plan": with("provider_id", nil)}, 400, "provider_id"},
		{"provider_id unknown", map[string]any{"plan": with("provider_id", "11111111-2222-4333-8444-555555555555")}, 400, "11111111-2222-4333-8444-555555555555"},
		{"provider_id not a UUID", map[string]any{"plan": with("provider_id", "no-op")}, 400, "provider_id"},
		{"provider_id not a string", map[string]any{"plan": with("provider_id", 5)}, 400, "provider_id"},
		{"unknown key in plan", map[string]any{"plan": with("id", domain.NewID())}, 400, "id"},
		{"status in create", map[string]any{"plan": with("status", "started")}, 400, "status"},
		{"unknown top-level key", map[string]any{"plan": samplePlan(), "extra": 1}, 400, "extra"},
		{"plan missing", map[string]any{}, 400, "plan"},
		{"plan a string", map[string]any{"plan": "x"}, 400, "plan"},
		{"plan null", map[string]any{"plan": null}, 400, "plan"},
		{"plan a list", map[string]any{"plan": []any{samplePlan()}}, 400, "plan"},
		{"malformed JSON", rawBody(`{"plan": {"name": "x",}}`), 400, "JSON"},
		{"trailing data", rawBody(`{"plan": {}} {}`), 400, "JSON"},
		{"invalid UTF-8", rawBody("{\"plan\": {\"name\": \"\xff\xfe\"}}"), 400, "UTF-8"},
		{"empty body", rawBody(""), 400, "empty"},
		{"blank body", rawBody(" \n"), 400, "empty"},
		{"no body", nil, 400, "empty"},
		{"JSON array", rawBody(`[{"plan": {}}]`), 400, "object"},
		{"JSON string", rawBody(`"plan"`), 400, "object"},
		{"JSON null", rawBody(`null`), 400, "object"},
		{"JSON number", rawBody(`5`), 400, "object"},
		{"over 64 KiB", map[string]any{"plan": with("description", strings.Repeat("x", 64<<10))}, 413, ""},
		{"far over 64 KiB", rawBody(`{"plan": {"name": "` + strings.Repeat("x", 1<<20) + `"}}`), 413, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, http.MethodPost, plansPath(projA), tokenA, tc.body).wantFault(t, tc.status, tc.mention)
		})
	}
	// None of them created anything.
	got := e.do(t, http.MethodGet, plansPath(projA), tokenA, nil).wantStatus(t, http.StatusOK).list(t, "plans")
	if len(got) != 0 {
		t.Errorf("invalid creates left plans: %v", ids(got))
	}
}

func TestShowPlan(t *testing.T) {
	e := newEnv(t)
	p := e.createPlan(t, tokenA, projA, samplePlan())
	id := p["id"].(string)
	for _, spelling := range []string{id, strings.ToUpper(id), strings.ReplaceAll(id, "-", "")} {
		got := e.do(t, http.MethodGet, planPath(projA, spelling), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "plan")
		if !reflect.DeepEqual(got, p) {
			t.Errorf("GET %s = %v, want %v", spelling, got, p)
		}
	}
	unknown := domain.NewID()
	e.do(t, http.MethodGet, planPath(projA, unknown), tokenA, nil).wantFault(t, http.StatusNotFound, "Plan "+unknown+" could not be found.")
	for _, bad := range []string{"not-a-uuid", id + "0", id[:35]} {
		e.do(t, http.MethodGet, planPath(projA, bad), tokenA, nil).wantFault(t, http.StatusBadRequest, "plan_id")
		e.do(t, http.MethodPut, planPath(projA, bad), tokenA, rawBody(`{"plan": {"name": "x"}}`)).wantFault(t, http.StatusBadRequest, "plan_id")
		e.do(t, http.MethodDelete, planPath(projA, bad), tokenA, nil).wantFault(t, http.StatusBadRequest, "plan_id")
	}
}

func TestListPlans(t *testing.T) {
	e := newEnv(t)
	const n = 5
	created := map[string]bool{}
	for i := range n {
		in := samplePlan()
		in["name"] = "plan " + string(rune('a'+i))
		created[e.createPlan(t, tokenA, projA, in)["id"].(string)] = true
	}
	e.createPlan(t, tokenB, projB, samplePlan())

	r := e.do(t, http.MethodGet, plansPath(projA), tokenA, nil).wantStatus(t, http.StatusOK)
	wantKeys(t, "list body", r.body, "plans")
	all := r.list(t, "plans")
	if len(all) != n {
		t.Fatalf("%d plans listed, want %d", len(all), n)
	}
	for _, p := range all {
		checkPlanShape(t, p)
		if !created[p["id"].(string)] || p["project_id"] != projA {
			t.Errorf("listed plan %v of project %v was not created by project A", p["id"], p["project_id"])
		}
	}
	asc := ids(e.do(t, http.MethodGet, plansPath(projA)+"?sort=created_at:asc", tokenA, nil).wantStatus(t, http.StatusOK).list(t, "plans"))
	desc := ids(all)
	slices.Reverse(asc)
	if !slices.Equal(asc, desc) {
		t.Errorf("ascending listing is not the default one reversed:\n%v\n%v", asc, desc)
	}

	t.Run("paging", func(t *testing.T) {
		for _, limit := range []string{"1", "2", "4"} {
			var seen []string
			next := plansPath(projA) + "?limit=" + limit
			for pages := 0; next != ""; pages++ {
				if pages > n {
					t.Fatalf("limit=%s: more pages than plans", limit)
				}
				r := e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK)
				page := r.list(t, "plans")
				seen = append(seen, ids(page)...)
				next = r.next(t, "plans_links")
				if next == "" {
					continue
				}
				u, err := url.Parse(next)
				if err != nil || u.Scheme != "http" || "http://"+u.Host != e.srv.URL || u.Path != plansPath(projA) {
					t.Fatalf("next link %q is not an absolute URL of the plans", next)
				}
				if u.Query().Get("limit") != limit || u.Query().Get("marker") != page[len(page)-1]["id"] {
					t.Fatalf("next link %q: want limit=%s and the last id as marker", next, limit)
				}
			}
			if !slices.Equal(seen, desc) {
				t.Errorf("limit=%s walk = %v, want %v", limit, seen, desc)
			}
		}
		// A page that ends exactly at the last plan has no link.
		r := e.do(t, http.MethodGet, plansPath(projA)+"?limit=5", tokenA, nil).wantStatus(t, http.StatusOK)
		if _, ok := r.body["plans_links"]; ok {
			t.Errorf("plans_links on a full last page: %s", r.raw)
		}
		e.do(t, http.MethodGet, plansPath(projA)+"?marker=not-a-uuid", tokenA, nil).wantFault(t, http.StatusBadRequest, "marker")
		e.do(t, http.MethodGet, plansPath(projA)+"?marker="+domain.NewID(), tokenA, nil).wantFault(t, http.StatusBadRequest, "marker")
		e.do(t, http.MethodGet, plansPath(projA)+"?limit=0", tokenA, nil).wantFault(t, http.StatusBadRequest, "limit")
	})

	t.Run("projects", func(t *testing.T) {
		b := e.do(t, http.MethodGet, plansPath(projB), tokenB, nil).wantStatus(t, http.StatusOK).list(t, "plans")
		if len(b) != 1 || b[0]["project_id"] != projB {
			t.Errorf("project B lists %v", b)
		}
		// Non-admin: all_tenants is ignored.
		a := e.do(t, http.MethodGet, plansPath(projA)+"?all_tenants=true", tokenA, nil).wantStatus(t, http.StatusOK).list(t, "plans")
		if len(a) != n {
			t.Errorf("non-admin with all_tenants lists %d plans, want %d", len(a), n)
		}
		every := e.do(t, http.MethodGet, plansPath(projAdmin)+"?all_tenants=true", tokenAdmin, nil).wantStatus(t, http.StatusOK).list(t, "plans")
		if len(every) != n+1 {
			t.Errorf("admin with all_tenants lists %d plans, want %d", len(every), n+1)
		}
	})
}

func TestUpdatePlan(t *testing.T) {
	e := newEnv(t)
	p := e.createPlan(t, tokenA, projA, samplePlan())
	id := p["id"].(string)
	path := planPath(projA, id)

	// update sends the fields and checks that exactly those changed.
	current := p
	update := func(t *testing.T, fields map[string]any, changed map[string]any) {
		t.Helper()
		got := e.do(t, http.MethodPut, path, tokenA, map[string]any{"plan": fields}).wantStatus(t, http.StatusOK)
		wantKeys(t, "update body", got.body, "plan")
		want := map[string]any{}
		for k, v := range current {
			want[k] = v
		}
		for k, v := range changed {
			want[k] = jsonValue(t, v)
		}
		if plan := got.obj(t, "plan"); !reflect.DeepEqual(plan, want) {
			t.Errorf("updated plan\n got %v\nwant %v", plan, want)
		}
		shown := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "plan")
		if !reflect.DeepEqual(shown, want) {
			t.Errorf("shown after update\n got %v\nwant %v", shown, want)
		}
		current = want
	}
	newResources := []any{map[string]any{"id": domain.NewID(), "type": "OS::Cinder::Volume", "name": "only volume", "extra_info": map[string]any{"availability_zone": "az2"}}}

	t.Run("name", func(t *testing.T) {
		update(t, map[string]any{"name": "renamed"}, map[string]any{"name": "renamed"})
	})
	t.Run("description", func(t *testing.T) {
		update(t, map[string]any{"description": "now described"}, map[string]any{"description": "now described"})
		update(t, map[string]any{"description": nil}, map[string]any{"description": nil})
	})
	t.Run("resources", func(t *testing.T) {
		update(t, map[string]any{"resources": newResources}, map[string]any{"resources": newResources})
	})
	t.Run("status", func(t *testing.T) {
		update(t, map[string]any{"status": "started"}, map[string]any{"status": "started"})
		update(t, map[string]any{"status": "suspended"}, map[string]any{"status": "suspended"})
	})
	t.Run("sample update", func(t *testing.T) {
		fields := map[string]any{"status": "started", "name": "My 1 tier application"}
		update(t, fields, fields)
	})

	t.Run("invalid", func(t *testing.T) {
		null := json.RawMessage(`null`)
		tests := []struct {
			name    string
			body    any
			mention string
		}{
			{"empty update", map[string]any{"plan": map[string]any{}}, "Missing updated parameters"},
			{"bad status", map[string]any{"plan": map[string]any{"status": "running"}}, "status"},
			{"status null", map[string]any{"plan": map[string]any{"status": null}}, "status"},
			{"blank name", map[string]any{"plan": map[string]any{"name": "  "}}, "name"},
			{"null name", map[string]any{"plan": map[string]any{"name": null}}, "name"},
			{"empty resources", map[string]any{"plan": map[string]any{"resources": []any{}}}, "resources"},
			{"resource without type", map[string]any{"plan": map[string]any{"resources": []any{map[string]any{"id": "x", "name": "y"}}}}, "type"},
			{"provider_id", map[string]any{"plan": map[string]any{"provider_id": noop}}, "provider_id"},
			{"parameters", map[string]any{"plan": map[string]any{"parameters": map[string]any{}}}, "parameters"},
			{"unknown key", map[string]any{"plan": map[string]any{"name": "x", "colour": "red"}}, "colour"},
			{"unknown top-level key", map[string]any{"plan": map[string]any{"name": "x"}, "x": 1}, "x"},
			{"plan missing", map[string]any{}, "plan"},
			{"plan not an object", map[string]any{"plan": "x"}, "plan"},
			{"malformed JSON", rawBody(`{"plan": `), "JSON"},
			{"empty body", rawBody(""), "empty"},
			{"JSON array", rawBody(`[]`), "object"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e.do(t, http.MethodPut, path, tokenA, tc.body).wantFault(t, http.StatusBadRequest, tc.mention)
			})
		}
		e.do(t, http.MethodPut, path, tokenA, map[string]any{"plan": map[string]any{"description": strings.Repeat("x", 65<<10)}}).
			wantFault(t, http.StatusRequestEntityTooLarge)
		shown := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "plan")
		if !reflect.DeepEqual(shown, current) {
			t.Errorf("invalid updates changed the plan\n got %v\nwant %v", shown, current)
		}
	})

	t.Run("unknown plan", func(t *testing.T) {
		unknown := domain.NewID()
		e.do(t, http.MethodPut, planPath(projA, unknown), tokenA, map[string]any{"plan": map[string]any{"name": "x"}}).
			wantFault(t, http.StatusNotFound, "Plan "+unknown+" could not be found.")
		e.do(t, http.MethodPut, planPath(projA, unknown), tokenA, map[string]any{"plan": map[string]any{"resources": newResources}}).
			wantFault(t, http.StatusNotFound, unknown)
	})
}

func TestDeletePlan(t *testing.T) {
	e := newEnv(t)
	p := e.createPlan(t, tokenA, projA, samplePlan())
	keep := e.createPlan(t, tokenA, projA, samplePlan())
	id := p["id"].(string)

	r := e.do(t, http.MethodDelete, planPath(projA, strings.ToUpper(id)), tokenA, nil).wantStatus(t, http.StatusOK)
	if len(r.raw) != 0 {
		t.Errorf("delete answered a body: %q", r.raw)
	}
	e.do(t, http.MethodGet, planPath(projA, id), tokenA, nil).wantFault(t, http.StatusNotFound, "Plan "+id+" could not be found.")
	e.do(t, http.MethodDelete, planPath(projA, id), tokenA, nil).wantFault(t, http.StatusNotFound, id)
	e.do(t, http.MethodPut, planPath(projA, id), tokenA, map[string]any{"plan": map[string]any{"name": "x"}}).wantFault(t, http.StatusNotFound, id)
	e.do(t, http.MethodDelete, planPath(projA, domain.NewID()), tokenA, nil).wantFault(t, http.StatusNotFound)

	left := ids(e.do(t, http.MethodGet, plansPath(projA), tokenA, nil).wantStatus(t, http.StatusOK).list(t, "plans"))
	if !slices.Equal(left, []string{keep["id"].(string)}) {
		t.Errorf("plans after delete = %v, want [%v]", left, keep["id"])
	}
	// A checkpoint of a deleted plan cannot be created.
	e.do(t, http.MethodPost, checkpointsPath(projA, noop), tokenA, map[string]any{"checkpoint": map[string]any{"plan_id": id}}).
		wantFault(t, http.StatusNotFound, "Plan "+id+" could not be found.")
}

// A body with several faults is answered about the first in upstream's
// order of checks (name, description, provider, parameters, resources; each
// resource's fields in turn), and an update of a missing plan that changes
// resources is a 404 whatever its resources.
func TestPlanFaultOrder(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 300)
	res := func(id, typ string) map[string]any { return map[string]any{"id": id, "type": typ, "name": "n"} }
	tests := []struct {
		name, method string
		plan         map[string]any
		want         string
	}{
		{"blank name, bad provider", "POST", map[string]any{"name": "", "provider_id": "xx", "parameters": map[string]any{}, "resources": []any{}}, "can not be empty"},
		{"long name, bad provider", "POST", map[string]any{"name": long, "provider_id": "bad", "parameters": map[string]any{}, "resources": []any{}}, "longer than 255"},
		{"long description, no resources", "POST", map[string]any{"name": "p", "description": long, "provider_id": noop, "parameters": map[string]any{}, "resources": []any{}}, "'description': it is longer"},
		{"unknown provider, bad resources", "POST", map[string]any{"name": "p", "provider_id": domain.NewID(), "parameters": map[string]any{}, "resources": "x"}, "could not be found"},
		{"bad parameters key, no resources", "POST", map[string]any{"name": "p", "provider_id": noop, "parameters": map[string]any{"bad key!": map[string]any{}}, "resources": []any{}}, "Invalid parameters key"},
		{"unsupported type, then not an object", "POST", map[string]any{"name": "p", "provider_id": provider.AWSID, "parameters": map[string]any{}, "resources": []any{res("i", "OS::Nova::Server"), 5}}, "is not supported"},
		{"empty id, then unknown key", "POST", map[string]any{"name": "p", "provider_id": noop, "parameters": map[string]any{}, "resources": []any{res("", "OS::Nova::Server"), map[string]any{"id": "a", "type": "t", "name": "n", "bogus": 1}}}, "resource 0 needs a non-empty 'id'"},
		{"update: blank name, no resources", "PUT", map[string]any{"name": "", "resources": []any{}}, "can not be empty"},
		{"update: bad status, no resources", "PUT", map[string]any{"status": "bogus", "resources": []any{}}, "Invalid plan status"},
		{"update: long name, status not a string", "PUT", map[string]any{"name": long, "status": 5}, "longer than 255"},
		{"update of a missing plan, empty resources", "PUT", map[string]any{"resources": []any{}}, "could not be found"},
		{"update of a missing plan, resources not a list", "PUT", map[string]any{"resources": "x"}, "could not be found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/" + projA + "/plans"
			if tc.method == "PUT" {
				path += "/" + domain.NewID()
			}
			r := e.do(t, tc.method, path, tokenA, map[string]any{"plan": tc.plan})
			status := http.StatusBadRequest
			if strings.Contains(tc.name, "missing plan") {
				status = http.StatusNotFound
			}
			r.wantFault(t, status, tc.want)
		})
	}
}
