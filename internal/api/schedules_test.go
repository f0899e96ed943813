package api_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
)

func triggersPath(tenant string) string   { return "/v1/" + tenant + "/triggers" }
func operationsPath(tenant string) string { return "/v1/" + tenant + "/scheduled_operations" }

// nightly is a create-trigger body valid at any date.
func nightly(name string) map[string]any {
	return map[string]any{"trigger_info": map[string]any{
		"name": name, "type": "time",
		"properties": map[string]any{"format": "crontab", "pattern": "0 2 * * *"},
	}}
}

func (e *env) createTrigger(t *testing.T, token, tenant string, body map[string]any) map[string]any {
	t.Helper()
	return e.do(t, http.MethodPost, triggersPath(tenant), token, body).wantStatus(t, http.StatusOK).obj(t, "trigger_info")
}

func opBody(name, typ, triggerID string, def map[string]any) map[string]any {
	return map[string]any{"scheduled_operation": map[string]any{
		"name": name, "operation_type": typ, "trigger_id": triggerID, "operation_definition": def,
	}}
}

func (e *env) createOperation(t *testing.T, token, tenant string, body map[string]any) map[string]any {
	t.Helper()
	return e.do(t, http.MethodPost, operationsPath(tenant), token, body).wantStatus(t, http.StatusOK).obj(t, "scheduled_operation")
}

func TestCreateTrigger(t *testing.T) {
	e := newEnv(t)
	before := time.Now().UTC().Truncate(time.Second)
	tr := e.createTrigger(t, tokenA, projA, nightly("nightly"))
	wantKeys(t, "trigger_info", tr, "id", "name", "type", "project_id", "created_at", "properties")
	if !uuidV4Pattern.MatchString(tr["id"].(string)) || tr["project_id"] != projA || tr["name"] != "nightly" || tr["type"] != "time" {
		t.Errorf("trigger_info = %v", tr)
	}
	props := tr["properties"].(map[string]any)
	wantKeys(t, "properties", props, "format", "pattern", "start_time", "end_time", "window")
	if props["window"] != 900.0 || props["end_time"] != nil || !timestampPattern.MatchString(props["start_time"].(string)) {
		t.Errorf("properties = %v: want window 900 (a number), end_time null, start_time RFC 3339", props)
	}
	if start, _ := time.Parse(time.RFC3339, props["start_time"].(string)); start.Before(before) {
		t.Errorf("start_time %v defaulted before the create (%v)", start, before)
	}
	// The stored trigger has its next occurrence (the scheduler's).
	stored, err := e.store.GetTrigger(t.Context(), projA, tr["id"].(string))
	if err != nil || stored.NextAt == nil || stored.NextAt.Hour() != 2 || stored.NextAt.Minute() != 0 {
		t.Errorf("stored NextAt = %v (%v), want the next 02:00", stored.NextAt, err)
	}

	// Given properties, as the api-ref sends them (window a string).
	body := nightly("weekly")
	body["trigger_info"].(map[string]any)["properties"] = map[string]any{
		"format": "calendar", "pattern": "BEGIN:VEVENT\\nRRULE:FREQ=WEEKLY;INTERVAL=1;\\nEND:VEVENT",
		"start_time": "2030-01-01 10:00:00", "end_time": "2030-06-01T10:00:00.5+02:00", "window": "1800",
	}
	props = e.createTrigger(t, tokenA, projA, body)["properties"].(map[string]any)
	if props["start_time"] != "2030-01-01T10:00:00Z" || props["end_time"] != "2030-06-01T08:00:00Z" || props["window"] != 1800.0 {
		t.Errorf("properties = %v", props)
	}

	path := triggersPath(projA)
	with := func(mod func(ti, props map[string]any)) map[string]any {
		b := nightly("n")
		ti := b["trigger_info"].(map[string]any)
		mod(ti, ti["properties"].(map[string]any))
		return b
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"not an object", rawBody(`[]`), 400, "it must be a JSON object"},
		{"no wrapper", map[string]any{"trigger": map[string]any{}}, 400, "Unknown key(s) in request body: trigger"},
		{"extra top key", map[string]any{"trigger_info": map[string]any{}, "x": 1}, 400, "Unknown key(s) in request body: x"},
		{"extra key", with(func(ti, _ map[string]any) { ti["enabled"] = true }), 400, "Unknown key(s) in 'trigger_info': enabled"},
		{"extra property", with(func(_, p map[string]any) { p["timezone"] = "UTC" }), 400, "Unknown key(s) in 'properties': timezone"},
		{"no name", with(func(ti, _ map[string]any) { delete(ti, "name") }), 400, "'name' is a required property."},
		{"blank name", with(func(ti, _ map[string]any) { ti["name"] = "  " }), 400, "The 'name' can not be empty."},
		{"long name", with(func(ti, _ map[string]any) { ti["name"] = strings.Repeat("n", 256) }), 400, "longer than 255"},
		{"no type", with(func(ti, _ map[string]any) { delete(ti, "type") }), 400, "'type' is a required property."},
		{"bad type", with(func(ti, _ map[string]any) { ti["type"] = "event" }), 400, "Invalid trigger type: event"},
		{"no properties", with(func(ti, _ map[string]any) { delete(ti, "properties") }), 400, "'properties' is a required property."},
		{"properties not an object", with(func(ti, _ map[string]any) { ti["properties"] = "format=crontab" }), 400, "Invalid input for 'properties': it must be a JSON object."},
		{"bad pattern", with(func(_, p map[string]any) { p["pattern"] = "0 2 * *" }), 400, ""},
		{"window", with(func(_, p map[string]any) { p["window"] = 3600 }), 400, "The trigger window 3600 must be between 900 and 1800."},
		{"past", with(func(_, p map[string]any) {
			p["start_time"] = "2020-01-01 00:00:00"
			p["end_time"] = "2020-02-01 00:00:00"
		}), 400, "The trigger has no future occurrence."},
		{"interval", with(func(_, p map[string]any) { p["pattern"] = "*/20 * * * *" }), 400, "The interval of two adjacent time points is less than 3600."},
		{"too large", rawBody(`{"trigger_info":{"name":"` + strings.Repeat("x", 70000) + `"}}`), 413, ""},
	} {
		e.do(t, http.MethodPost, path, tokenA, c.body).wantFault(t, c.status, c.want)
	}
}

func TestShowUpdateDeleteTrigger(t *testing.T) {
	e := newEnv(t)
	tr := e.createTrigger(t, tokenA, projA, nightly("nightly"))
	id := tr["id"].(string)
	path := triggersPath(projA) + "/" + id

	got := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "trigger_info")
	if !reflect.DeepEqual(got, tr) {
		t.Errorf("show = %v, want %v", got, tr)
	}
	e.do(t, http.MethodGet, triggersPath(projB)+"/"+id, tokenB, nil).wantFault(t, 404, "Trigger "+id+" could not be found.")
	e.do(t, http.MethodGet, triggersPath(projA)+"/nope", tokenA, nil).wantFault(t, 400, "not a UUID")
	missing := domain.NewID()
	e.do(t, http.MethodGet, triggersPath(projA)+"/"+missing, tokenA, nil).wantFault(t, 404, "Trigger "+missing+" could not be found.")

	// Update: properties merge; {} with no name changes nothing and is refused.
	upd := func(ti map[string]any) *response {
		return e.do(t, http.MethodPut, path, tokenA, map[string]any{"trigger_info": ti})
	}
	upd(map[string]any{"properties": map[string]any{}}).wantFault(t, 400, "Missing updated parameters in request body.")
	upd(map[string]any{}).wantFault(t, 400, "Missing updated parameters in request body.")
	upd(map[string]any{"name": "x", "type": "event"}).wantFault(t, 400, "Invalid trigger type: event")
	upd(map[string]any{"status": "x"}).wantFault(t, 400, "Unknown key(s) in 'trigger_info': status")
	upd(map[string]any{"properties": map[string]any{"window": 10}}).wantFault(t, 400, "The trigger window 10 must be between 900 and 1800.")
	upd(map[string]any{"properties": map[string]any{"pattern": "*/5 * * * *"}}).wantFault(t, 400, "The interval of two adjacent time points is less than 3600.")

	got = upd(map[string]any{"name": "renamed", "type": "time", "properties": map[string]any{"pattern": "30 3 * * *", "end_time": "2099-01-01 00:00:00", "window": 1200}}).
		wantStatus(t, http.StatusOK).obj(t, "trigger_info")
	props := got["properties"].(map[string]any)
	if got["name"] != "renamed" || props["pattern"] != "30 3 * * *" || props["format"] != "crontab" || props["end_time"] != "2099-01-01T00:00:00Z" || props["window"] != 1200.0 ||
		props["start_time"] != tr["properties"].(map[string]any)["start_time"] {
		t.Errorf("updated = %v", got)
	}
	stored, err := e.store.GetTrigger(t.Context(), projA, id)
	if err != nil || stored.NextAt == nil || stored.NextAt.Hour() != 3 || stored.NextAt.Minute() != 30 {
		t.Errorf("NextAt after the update = %v (%v), want the next 03:30", stored.NextAt, err)
	}
	got = upd(map[string]any{"properties": map[string]any{"end_time": nil, "window": nil}}).wantStatus(t, http.StatusOK).obj(t, "trigger_info")
	if props := got["properties"].(map[string]any); props["end_time"] != nil || props["window"] != 900.0 || got["name"] != "renamed" {
		t.Errorf("after end_time and window null: %v", got)
	}
	e.do(t, http.MethodPut, triggersPath(projB)+"/"+id, tokenB, map[string]any{"trigger_info": map[string]any{"name": "x"}}).wantFault(t, 404, "Trigger "+id+" could not be found.")

	// Delete.
	e.do(t, http.MethodDelete, triggersPath(projB)+"/"+id, tokenB, nil).wantFault(t, 404, "could not be found")
	e.do(t, http.MethodDelete, triggersPath(projA)+"/x", tokenA, nil).wantFault(t, 400, "not a UUID")
	r := e.do(t, http.MethodDelete, path, tokenA, nil).wantStatus(t, http.StatusOK)
	if len(r.raw) != 0 {
		t.Errorf("delete body %q, want empty", r.raw)
	}
	e.do(t, http.MethodDelete, path, tokenA, nil).wantFault(t, 404, "Trigger "+id+" could not be found.")
}

func TestListTriggers(t *testing.T) {
	e := newEnv(t)
	var made []string
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i, name := range []string{"nightly", "weekly", "nightly-2"} {
		// Stored with created_at seconds apart: a known order.
		tr := &domain.Trigger{
			ID: domain.NewID(), ProjectID: projA, Name: name, Type: "time", CreatedAt: created.Add(time.Duration(i) * time.Second),
			Properties: domain.TriggerProperties{Format: "crontab", Pattern: "0 2 * * *", StartTime: created, Window: 900},
		}
		if err := e.store.CreateTrigger(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		made = append(made, tr.ID)
	}
	e.createTrigger(t, tokenB, projB, nightly("nightly"))
	list := func(q string) []string {
		t.Helper()
		return ids(e.do(t, http.MethodGet, triggersPath(projA)+q, tokenA, nil).wantStatus(t, http.StatusOK).list(t, "triggers"))
	}
	if got, want := list(""), []string{made[2], made[1], made[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if got, want := list("?name="+url.QueryEscape("^night")+"&sort=created_at:asc"), []string{made[0], made[2]}; !reflect.DeepEqual(got, want) {
		t.Errorf("name regexp = %v, want %v", got, want)
	}
	if got := list("?properties=" + url.QueryEscape(`"window":900`) + "&type=time"); len(got) != 3 {
		t.Errorf("properties regexp = %v, want 3", got)
	}
	// The same pattern for both: each filter applies (the properties hold
	// "crontab", no name does).
	if got := list("?name=crontab&properties=crontab"); len(got) != 0 {
		t.Errorf("name and properties both crontab = %v, want none", got)
	}
	r := e.do(t, http.MethodGet, triggersPath(projA)+"?limit=1&name=nightly", tokenA, nil).wantStatus(t, http.StatusOK)
	next := r.next(t, "triggers_links")
	if !strings.Contains(next, "/v1/"+projA+"/triggers?limit=1&name=nightly&marker="+made[2]) {
		t.Errorf("next = %s", next)
	}
	if got := ids(e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK).list(t, "triggers")); !reflect.DeepEqual(got, []string{made[0]}) {
		t.Errorf("page 2 = %v", got)
	}
	e.do(t, http.MethodGet, triggersPath(projA)+"?name="+url.QueryEscape("a("), tokenA, nil).wantFault(t, 400, "Invalid name filter")
	e.do(t, http.MethodGet, triggersPath(projA)+"?properties="+strings.Repeat("a", 256), tokenA, nil).wantFault(t, 400, "longer than 255")
	e.do(t, http.MethodGet, triggersPath(projA)+"?type=event", tokenA, nil).wantFault(t, 400, "Invalid trigger type: event")
	e.do(t, http.MethodGet, triggersPath(projA)+"?sort=name", tokenA, nil).wantFault(t, 400, "Invalid sort key")
	other := e.createTrigger(t, tokenB, projB, nightly("b"))["id"].(string)
	e.do(t, http.MethodGet, triggersPath(projA)+"?marker="+other, tokenA, nil).wantFault(t, 400, "Invalid marker")
	// Admin, every project.
	all := ids(e.do(t, http.MethodGet, triggersPath(projAdmin)+"?all_tenants=True", tokenAdmin, nil).wantStatus(t, http.StatusOK).list(t, "triggers"))
	if len(all) != 5 {
		t.Errorf("all_tenants = %d triggers, want 5", len(all))
	}
}

// schedFixture is a trigger and a plan of projA at the No-Op Provider.
func schedFixture(t *testing.T, e *env) (triggerID, planID string) {
	t.Helper()
	return e.createTrigger(t, tokenA, projA, nightly("nightly"))["id"].(string), e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
}

func TestCreateScheduledOperation(t *testing.T) {
	e := newEnv(t)
	trig, plan := schedFixture(t, e)
	def := map[string]any{"provider_id": noop, "plan_id": plan}
	op := e.createOperation(t, tokenA, projA, opBody("nightly orders", "protect", trig, def))
	wantKeys(t, "scheduled_operation", op, "id", "name", "description", "operation_type", "trigger_id", "operation_definition", "enabled", "project_id", "created_at")
	if op["enabled"] != true || op["description"] != nil || op["trigger_id"] != trig || op["operation_type"] != "protect" || op["project_id"] != projA ||
		!reflect.DeepEqual(op["operation_definition"], def) || !timestampPattern.MatchString(op["created_at"].(string)) {
		t.Errorf("scheduled_operation = %v", op)
	}
	// The CLI's strings of digits are stored and returned as integers.
	ret := e.createOperation(t, tokenA, projA, opBody("keep 7", "retention_protect", trig, map[string]any{"provider_id": noop, "plan_id": plan, "max_backups": "7", "retention_duration": 30}))
	if d := ret["operation_definition"].(map[string]any); d["max_backups"] != 7.0 || d["retention_duration"] != 30.0 {
		t.Errorf("definition = %v", d)
	}
	if got := e.do(t, http.MethodGet, operationsPath(projA)+"/"+ret["id"].(string), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "scheduled_operation"); !reflect.DeepEqual(got, ret) {
		t.Errorf("show = %v, want %v", got, ret)
	}

	otherPlan := e.createPlan(t, tokenB, projB, samplePlan())["id"].(string)
	otherTrig := e.createTrigger(t, tokenB, projB, nightly("b"))["id"].(string)
	missing := domain.NewID()
	stored := &domain.Plan{ID: domain.NewID(), ProjectID: projA, Name: "elsewhere", ProviderID: otherProvider, Status: domain.PlanSuspended, CreatedAt: time.Now()}
	if err := e.store.CreatePlan(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	body := func(mod func(so, def map[string]any)) map[string]any {
		b := opBody("n", "protect", trig, map[string]any{"provider_id": noop, "plan_id": plan})
		so := b["scheduled_operation"].(map[string]any)
		mod(so, so["operation_definition"].(map[string]any))
		return b
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"extra key", body(func(so, _ map[string]any) { so["enabled"] = false }), 400, "Unknown key(s) in 'scheduled_operation': enabled"},
		{"wrapper", map[string]any{"operation": map[string]any{}}, 400, "Unknown key(s) in request body: operation"},
		{"no name", body(func(so, _ map[string]any) { delete(so, "name") }), 400, "'name' is a required property."},
		{"blank name", body(func(so, _ map[string]any) { so["name"] = "" }), 400, "The 'name' can not be empty."},
		{"long description", body(func(so, _ map[string]any) { so["description"] = strings.Repeat("d", 256) }), 400, "'description'"},
		{"bad type", body(func(so, _ map[string]any) { so["operation_type"] = "backup" }), 400, "Invalid operation type: backup"},
		{"no trigger", body(func(so, _ map[string]any) { delete(so, "trigger_id") }), 400, "'trigger_id' is a required property."},
		{"trigger not uuid", body(func(so, _ map[string]any) { so["trigger_id"] = "t1" }), 400, "not a UUID"},
		{"no definition", body(func(so, _ map[string]any) { delete(so, "operation_definition") }), 400, "'operation_definition' is a required property."},
		{"definition string", body(func(so, _ map[string]any) { so["operation_definition"] = "plan_id=x,provider_id=y" }), 400, "it must be a JSON object"},
		{"protect with retention", body(func(_, d map[string]any) { d["max_backups"] = 3 }), 400, "unknown key(s) max_backups for operation type protect"},
		{"retention with none", body(func(so, _ map[string]any) { so["operation_type"] = "retention_protect" }), 400, "retention_protect needs max_backups, retention_duration or both."},
		{"plan not uuid", body(func(_, d map[string]any) { d["plan_id"] = "p" }), 400, "'plan_id' \"p\" is not a UUID."},
		{"trigger missing", body(func(so, _ map[string]any) { so["trigger_id"] = missing }), 404, "Trigger " + missing + " could not be found."},
		{"trigger of another project", body(func(so, _ map[string]any) { so["trigger_id"] = otherTrig }), 404, "Trigger " + otherTrig + " could not be found."},
		{"provider missing", body(func(_, d map[string]any) { d["provider_id"] = otherProvider }), 404, "Provider " + otherProvider + " could not be found."},
		{"plan missing", body(func(_, d map[string]any) { d["plan_id"] = missing }), 404, "Plan " + missing + " could not be found."},
		{"plan of another project", body(func(_, d map[string]any) { d["plan_id"] = otherPlan }), 404, "Plan " + otherPlan + " could not be found."},
		{"plan of another provider", body(func(_, d map[string]any) { d["plan_id"] = stored.ID }), 400, "Plan " + stored.ID + " belongs to provider " + otherProvider + "."},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.do(t, http.MethodPost, operationsPath(projA), tokenA, c.body).wantFault(t, c.status, c.want)
		})
	}
}

func TestScheduledOperationLifecycle(t *testing.T) {
	e := newEnv(t)
	trig, plan := schedFixture(t, e)
	def := map[string]any{"provider_id": noop, "plan_id": plan}
	op1 := e.createOperation(t, tokenA, projA, opBody("a", "protect", trig, def))["id"].(string)
	op2 := e.createOperation(t, tokenA, projA, opBody("b", "protect", trig, def))["id"].(string)
	used := []string{op1, op2}
	slices.Sort(used)

	e.do(t, http.MethodDelete, triggersPath(projA)+"/"+trig, tokenA, nil).
		wantFault(t, 409, "Trigger "+trig+" is used by scheduled operation(s) "+strings.Join(used, ", ")+".")
	e.do(t, http.MethodDelete, "/v1/"+projA+"/plans/"+plan, tokenA, nil).
		wantFault(t, 409, "Plan "+plan+" is used by scheduled operation(s) "+strings.Join(used, ", ")+".")

	// Update (beyond).
	path := operationsPath(projA) + "/" + op1
	upd := func(so map[string]any) *response {
		return e.do(t, http.MethodPut, path, tokenA, map[string]any{"scheduled_operation": so})
	}
	upd(map[string]any{}).wantFault(t, 400, "Missing updated parameters in request body.")
	upd(map[string]any{"enabled": "false"}).wantFault(t, 400, "Invalid input for field 'enabled': it must be a boolean.")
	upd(map[string]any{"trigger_id": trig}).wantFault(t, 400, "Unknown key(s) in 'scheduled_operation': trigger_id")
	upd(map[string]any{"name": ""}).wantFault(t, 400, "The 'name' can not be empty.")
	got := upd(map[string]any{"name": "renamed", "description": "nightly", "enabled": false}).wantStatus(t, http.StatusOK).obj(t, "scheduled_operation")
	if got["name"] != "renamed" || got["description"] != "nightly" || got["enabled"] != false {
		t.Errorf("updated = %v", got)
	}
	before := time.Now().Truncate(time.Second)
	got = upd(map[string]any{"enabled": true, "description": nil}).wantStatus(t, http.StatusOK).obj(t, "scheduled_operation")
	if got["enabled"] != true || got["description"] != nil {
		t.Errorf("re-enabled = %v", got)
	}
	if stored, err := e.store.GetScheduledOperation(t.Context(), projA, op1); err != nil || stored.EnabledAt.Before(before) {
		t.Errorf("EnabledAt after enabling = %v (%v), want at least %v", stored.EnabledAt, err, before)
	}
	e.do(t, http.MethodPut, operationsPath(projB)+"/"+op1, tokenB, map[string]any{"scheduled_operation": map[string]any{"name": "x"}}).
		wantFault(t, 404, "Scheduled operation "+op1+" could not be found.")

	// List.
	list := func(q string) []string {
		t.Helper()
		return ids(e.do(t, http.MethodGet, operationsPath(projA)+q, tokenA, nil).wantStatus(t, http.StatusOK).list(t, "operations"))
	}
	if got := list("?trigger_id=" + trig + "&operation_type=protect"); len(got) != 2 {
		t.Errorf("list by trigger = %v, want both", got)
	}
	if got := list("?name=^ren"); !reflect.DeepEqual(got, []string{op1}) {
		t.Errorf("list by name = %v, want [%s]", got, op1)
	}
	if got := list("?operation_definition=" + url.QueryEscape(`"plan_id":"`+plan)); len(got) != 2 {
		t.Errorf("list by definition = %v, want both", got)
	}
	r := e.do(t, http.MethodGet, operationsPath(projA)+"?limit=1", tokenA, nil).wantStatus(t, http.StatusOK)
	if next := r.next(t, "operations_links"); !strings.Contains(next, "/v1/"+projA+"/scheduled_operations?limit=1&marker=") {
		t.Errorf("next = %s", next)
	}
	e.do(t, http.MethodGet, operationsPath(projA)+"?trigger_id=x", tokenA, nil).wantFault(t, 400, "Invalid trigger_id")
	e.do(t, http.MethodGet, operationsPath(projA)+"?operation_type=backup", tokenA, nil).wantFault(t, 400, "Invalid operation type: backup")
	e.do(t, http.MethodGet, operationsPath(projA)+"?operation_definition=(", tokenA, nil).wantFault(t, 400, "Invalid operation_definition filter")
	e.do(t, http.MethodGet, operationsPath(projA)+"?marker="+trig, tokenA, nil).wantFault(t, 400, "Invalid marker")
	if got := ids(e.do(t, http.MethodGet, operationsPath(projB), tokenB, nil).wantStatus(t, http.StatusOK).list(t, "operations")); len(got) != 0 {
		t.Errorf("another project's list = %v", got)
	}

	// Show and delete.
	e.do(t, http.MethodGet, operationsPath(projB)+"/"+op1, tokenB, nil).wantFault(t, 404, "Scheduled operation "+op1+" could not be found.")
	e.do(t, http.MethodGet, operationsPath(projA)+"/"+trig, tokenA, nil).wantFault(t, 404, "Scheduled operation "+trig+" could not be found.")
	e.do(t, http.MethodGet, operationsPath(projA)+"/x", tokenA, nil).wantFault(t, 400, "not a UUID")
	e.do(t, http.MethodDelete, operationsPath(projB)+"/"+op1, tokenB, nil).wantFault(t, 404, "could not be found")
	e.do(t, http.MethodDelete, operationsPath(projA)+"/"+op1, tokenA, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodDelete, operationsPath(projA)+"/"+op1, tokenA, nil).wantFault(t, 404, "Scheduled operation "+op1+" could not be found.")
	e.do(t, http.MethodDelete, triggersPath(projA)+"/"+trig, tokenA, nil).wantFault(t, 409, "Trigger "+trig+" is used by scheduled operation(s) "+op2+".")
	e.do(t, http.MethodDelete, operationsPath(projA)+"/"+op2, tokenA, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodDelete, triggersPath(projA)+"/"+trig, tokenA, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodDelete, "/v1/"+projA+"/plans/"+plan, tokenA, nil).wantStatus(t, http.StatusOK)
}
