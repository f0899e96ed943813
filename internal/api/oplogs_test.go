package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
)

// storeLog writes an ended log of project, of a new checkpoint unless cp
// is set.
func (e *env) storeLog(t *testing.T, project string, typ domain.OperationType, status string, started time.Time, mod func(*domain.OperationLog)) *domain.OperationLog {
	t.Helper()
	cp, plan, prov := domain.NewID(), domain.NewID(), noop
	l := &domain.OperationLog{
		ID: domain.NewID(), ProjectID: project, Type: typ, CheckpointID: &cp, PlanID: &plan, ProviderID: &prov,
		Status: status, StartedAt: started,
	}
	if mod != nil {
		mod(l)
	}
	if status == typ.StartStatus() {
		if err := e.store.StartOperationLog(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	ended := started.Add(80 * time.Second)
	l.EndedAt = &ended
	if err := e.store.EndOperationLog(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

func logIDs(list []map[string]any) []string {
	var out []string
	for _, l := range list {
		out = append(out, l["id"].(string))
	}
	return out
}

func TestShowOperationLog(t *testing.T) {
	e := newEnv(t)
	started := time.Date(2026, 12, 1, 8, 42, 2, 0, time.UTC)
	restore := domain.NewID()
	l := e.storeLog(t, projA, domain.OpRestore, "fail", started, func(l *domain.OperationLog) {
		l.RestoreID = &restore
		why := "AWS::DynamoDB::Table#orders: table exists"
		l.ErrorInfo = &why
		l.ExtraInfo = map[string]any{"verification_id": "x", "deleted": 2.0}
	})
	r := e.do(t, http.MethodGet, "/v1/"+projA+"/operation_logs/"+strings.ToUpper(l.ID), tokenA, nil).wantStatus(t, http.StatusOK)
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.raw, &body); err != nil || len(body) != 1 {
		t.Fatalf("body %s, want one key", r.raw)
	}
	var got map[string]any
	if err := json.Unmarshal(body["operation_log"], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": l.ID, "project_id": projA, "operation_type": "restore",
		"checkpoint_id": *l.CheckpointID, "plan_id": *l.PlanID, "provider_id": noop,
		"restore_id": restore, "scheduled_operation_id": nil, "status": "fail",
		"started_at": "2026-12-01T08:42:02Z", "ended_at": "2026-12-01T08:43:22Z",
		"error_info": "AWS::DynamoDB::Table#orders: table exists", "extra_info": map[string]any{"verification_id": "x", "deleted": 2.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("operation_log =\n %v\nwant\n %v", got, want)
	}

	// A running log: ended_at, error_info and extra_info null.
	running := e.storeLog(t, projA, domain.OpProtect, "protecting", started, nil)
	got = e.do(t, http.MethodGet, "/v1/"+projA+"/operation_logs/"+running.ID, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "operation_log")
	for _, k := range []string{"ended_at", "error_info", "extra_info", "restore_id", "scheduled_operation_id"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %t), want null", k, v, ok)
		}
	}

	// Another project's, a missing one: the same 404; a bad id: 400
	// naming it.
	missing := domain.NewID()
	e.do(t, http.MethodGet, "/v1/"+projB+"/operation_logs/"+l.ID, tokenB, nil).wantFault(t, http.StatusNotFound, "Operation log "+l.ID+" could not be found.")
	e.do(t, http.MethodGet, "/v1/"+projA+"/operation_logs/"+missing, tokenA, nil).wantFault(t, http.StatusNotFound, "Operation log "+missing+" could not be found.")
	e.do(t, http.MethodGet, "/v1/"+projA+"/operation_logs/not-a-uuid", tokenA, nil).wantFault(t, http.StatusBadRequest, "operation_log_id")
	// Another tenant's path: 403; an admin acts in it.
	e.do(t, http.MethodGet, "/v1/"+projA+"/operation_logs/"+l.ID, tokenB, nil).wantFault(t, http.StatusForbidden)
	e.do(t, http.MethodGet, "/v1/"+projA+"/operation_logs/"+l.ID, tokenAdmin, nil).wantStatus(t, http.StatusOK)
	// Read-only.
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPost} {
		e.do(t, m, "/v1/"+projA+"/operation_logs/"+l.ID, tokenA, map[string]any{}).wantFault(t, http.StatusMethodNotAllowed)
	}
	e.do(t, http.MethodPost, "/v1/"+projA+"/operation_logs", tokenA, map[string]any{}).wantFault(t, http.StatusMethodNotAllowed)
}

func TestListOperationLogs(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	cp := domain.NewID()
	plan := domain.NewID()
	sched := domain.NewID()
	restore := domain.NewID()
	onCP := func(l *domain.OperationLog) { l.CheckpointID = &cp; l.PlanID = &plan }
	p1 := e.storeLog(t, projA, domain.OpProtect, "available", base, onCP)
	d1 := e.storeLog(t, projA, domain.OpDelete, "error-deleting", base.Add(time.Minute), onCP)
	d2 := e.storeLog(t, projA, domain.OpDelete, "deleted", base.Add(2*time.Minute), onCP)
	r1 := e.storeLog(t, projA, domain.OpRestore, "in_progress", base.Add(3*time.Minute), func(l *domain.OperationLog) { onCP(l); l.RestoreID = &restore })
	s1 := e.storeLog(t, projA, domain.OpProtect, "skipped", base.Add(4*time.Minute), func(l *domain.OperationLog) {
		l.CheckpointID = nil
		l.ScheduledOperationID = &sched
	})
	b1 := e.storeLog(t, projB, domain.OpProtect, "available", base.Add(5*time.Minute), onCP)

	list := func(token, tenant string, q url.Values) *response {
		t.Helper()
		path := "/v1/" + tenant + "/operation_logs"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return e.do(t, http.MethodGet, path, token, nil)
	}
	for _, tc := range []struct {
		name  string
		token string
		q     url.Values
		want  []*domain.OperationLog
	}{
		{"all", tokenA, nil, []*domain.OperationLog{s1, r1, d2, d1, p1}},
		{"ascending", tokenA, url.Values{"sort": {"created_at:asc"}}, []*domain.OperationLog{p1, d1, d2, r1, s1}},
		{"sort_dir", tokenA, url.Values{"sort_key": {"created_at"}, "sort_dir": {"asc"}}, []*domain.OperationLog{p1, d1, d2, r1, s1}},
		{"checkpoint", tokenA, url.Values{"checkpoint_id": {strings.ToUpper(cp)}}, []*domain.OperationLog{r1, d2, d1, p1}},
		{"status", tokenA, url.Values{"status": {"error-deleting"}}, []*domain.OperationLog{d1}},
		{"type", tokenA, url.Values{"operation_type": {"delete"}}, []*domain.OperationLog{d2, d1}},
		{"checkpoint and type", tokenA, url.Values{"checkpoint_id": {cp}, "operation_type": {"protect"}}, []*domain.OperationLog{p1}},
		{"plan", tokenA, url.Values{"plan_id": {plan}}, []*domain.OperationLog{r1, d2, d1, p1}},
		{"restore", tokenA, url.Values{"restore_id": {restore}}, []*domain.OperationLog{r1}},
		{"scheduled operation", tokenA, url.Values{"scheduled_operation_id": {sched}, "status": {"skipped"}}, []*domain.OperationLog{s1}},
		{"no match", tokenA, url.Values{"status": {"success"}}, nil},
		// all_tenants and project_id are the admin's; others' are ignored.
		{"all_tenants ignored", tokenA, url.Values{"all_tenants": {"True"}}, []*domain.OperationLog{s1, r1, d2, d1, p1}},
		{"all_tenants", tokenAdmin, url.Values{"all_tenants": {"True"}, "checkpoint_id": {cp}}, []*domain.OperationLog{b1, r1, d2, d1, p1}},
		{"all_tenants of one project", tokenAdmin, url.Values{"all_tenants": {"1"}, "project_id": {projB}}, []*domain.OperationLog{b1}},
		{"unknown parameters", tokenA, url.Values{"offset": {"3"}, "provider_id": {"x"}}, []*domain.OperationLog{s1, r1, d2, d1, p1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenant := projA
			if tc.token == tokenAdmin {
				tenant = projAdmin
			}
			r := list(tc.token, tenant, tc.q).wantStatus(t, http.StatusOK)
			var want []string
			for _, l := range tc.want {
				want = append(want, l.ID)
			}
			wantIDs(t, tc.name, logIDs(r.list(t, "operation_logs")), want)
			if _, ok := r.body["operation_logs_links"]; ok {
				t.Errorf("operation_logs_links on the only page: %s", r.raw)
			}
		})
	}

	// Pages: a link exactly when more match, carrying every parameter.
	q := url.Values{"checkpoint_id": {cp}, "limit": {"2"}}
	r := list(tokenA, projA, q).wantStatus(t, http.StatusOK)
	wantIDs(t, "page 1", logIDs(r.list(t, "operation_logs")), []string{r1.ID, d2.ID})
	next := r.next(t, "operation_logs_links")
	if !strings.HasPrefix(next, "http") || !strings.Contains(next, "/v1/"+projA+"/operation_logs?") || !strings.Contains(next, "checkpoint_id="+cp) || !strings.Contains(next, "marker="+d2.ID) {
		t.Fatalf("next link %q", next)
	}
	r = e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK)
	wantIDs(t, "page 2", logIDs(r.list(t, "operation_logs")), []string{d1.ID, p1.ID})
	if n := r.next(t, "operation_logs_links"); n != "" {
		t.Errorf("a link after the last page: %s", n)
	}
	// A marker need not match the filters; it must be a log of the
	// listed project.
	r = list(tokenA, projA, url.Values{"marker": {s1.ID}, "operation_type": {"delete"}}).wantStatus(t, http.StatusOK)
	wantIDs(t, "after a marker outside the filter", logIDs(r.list(t, "operation_logs")), []string{d2.ID, d1.ID})
	list(tokenA, projA, url.Values{"marker": {b1.ID}}).wantFault(t, http.StatusBadRequest, "marker")
	list(tokenA, projA, url.Values{"marker": {domain.NewID()}}).wantFault(t, http.StatusBadRequest, "marker")

	// Bad input: 400 naming what.
	for param, value := range map[string]string{
		"status": "started", "operation_type": "copy", "checkpoint_id": "x", "plan_id": "1234",
		"restore_id": "r", "scheduled_operation_id": "s", "marker": "m", "limit": "0", "sort": "status", "all_tenants": "maybe",
	} {
		r := list(tokenAdmin, projAdmin, url.Values{param: {value}})
		r.wantFault(t, http.StatusBadRequest)
		if param != "limit" && param != "sort" && !strings.Contains(r.message(), param) && !strings.Contains(r.message(), value) {
			t.Errorf("%s=%s: message %q names neither", param, value, r.message())
		}
	}
	list(tokenA, projA, url.Values{"sort": {"created_at:up"}}).wantFault(t, http.StatusBadRequest, "direction")
	list(tokenA, projA, url.Values{"sort": {"created_at"}, "sort_key": {"created_at"}}).wantFault(t, http.StatusBadRequest)
	list(tokenB, projA, nil).wantFault(t, http.StatusForbidden)
	// Every status of the contract's table is a filter.
	for _, st := range []string{"protecting", "available", "error", "skipped", "deleting", "deleted", "error-deleting", "in_progress", "success", "fail"} {
		list(tokenA, projA, url.Values{"status": {st}}).wantStatus(t, http.StatusOK)
	}
}
