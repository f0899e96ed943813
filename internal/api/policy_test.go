package api_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"karbor/internal/api"
	"karbor/internal/testsupport/testenv"
)

// tokenReader is a caller of projA whose only role is reader.
const tokenReader = "rita:" + projA + ":reader"

// missing is a well-formed id that names nothing.
const missing = "0badf00d-0000-4000-8000-000000000000"

// matrixRow is one route's request in the policy matrix and what the
// contract answers it when the caller is allowed.
type matrixRow struct {
	body   any
	status int
}

// matrixRows: every route of api.Routes has a row; a missing one fails
// TestPolicyMatrix. Ids in paths name nothing (missing), so a show, update
// or delete answers the contract's 404; lists and creates with a valid body
// answer 200.
var matrixRows = map[string]matrixRow{
	"list-checkpoints":           {nil, 200},
	"create-checkpoint":          {map[string]any{"checkpoint": map[string]any{"plan_id": missing}}, 404},
	"show-checkpoint":            {nil, 404},
	"delete-checkpoint":          {nil, 404},
	"reset-checkpoint-state":     {map[string]any{"os-resetState": map[string]any{"state": "available"}}, 404},
	"list-providers":             {nil, 200},
	"show-provider":              {nil, 200},
	"create-plan":                {map[string]any{"plan": samplePlan()}, 200},
	"list-plans":                 {nil, 200},
	"show-plan":                  {nil, 404},
	"update-plan":                {map[string]any{"plan": map[string]any{"name": "renamed"}}, 404},
	"delete-plan":                {nil, 404},
	"list-protectables":          {nil, 200},
	"show-protectable":           {nil, 200},
	"list-protectable-instances": {nil, 200},
	"show-protectable-instance":  {nil, 404},
	"list-operation-logs":        {nil, 200},
	"show-operation-log":         {nil, 404},
	"create-restore":             {restoreBody(noop, missing, map[string]any{}), 404},
	"list-restores":              {nil, 200},
	"show-restore":               {nil, 404},
	"create-verification":        {verificationBody(noop, missing, map[string]any{}), 404},
	"list-verifications":         {nil, 200},
	"show-verification":          {nil, 404},
	"create-trigger":             {nightly("matrix"), 200},
	"list-triggers":              {nil, 200},
	"show-trigger":               {nil, 404},
	"update-trigger":             {map[string]any{"trigger_info": map[string]any{"name": "renamed"}}, 404},
	"delete-trigger":             {nil, 404},
	"create-scheduled-operation": {opBody("matrix", "protect", missing, map[string]any{"plan_id": missing, "provider_id": noop}), 404},
	"list-scheduled-operations":  {nil, 200},
	"show-scheduled-operation":   {nil, 404},
	"update-scheduled-operation": {map[string]any{"scheduled_operation": map[string]any{"name": "renamed"}}, 404},
	"delete-scheduled-operation": {nil, 404},
	"show-quota":                 {nil, 200},
	"show-quota-detail":          {nil, 200},
	"show-quota-defaults":        {nil, 200},
	"update-quota":               {map[string]any{"quota": map[string]any{"plans": 50}}, 200},
	"delete-quota":               {nil, 200},
	"show-quota-class":           {nil, 200},
	"update-quota-class":         {map[string]any{"quota_class": map[string]any{"plans": 50}}, 200},
}

// matrixPath fills the route's path: projA as the tenant and the quota's
// project, the No-Op provider, a real protectable type, missing elsewhere.
func matrixPath(rt api.Route) string {
	return strings.NewReplacer(
		"{tenant_id}", projA, "{project_id}", projA, "{provider_id}", noop, "{class_name}", "default",
		"{protectable_type}", "AWS::EC2::Volume", "{resource_id}", "vol-0badf00d0badf00d0",
	).Replace(regexp.MustCompile(`\{[a-z_]+_id\}`).ReplaceAllStringFunc(rt.Path, func(p string) string {
		switch p {
		case "{tenant_id}", "{project_id}", "{provider_id}", "{resource_id}":
			return p
		}
		return missing
	}))
}

// matrixCaller is a caller of the matrix and whether a rule lets it in.
type matrixCaller struct {
	name    string
	token   string
	allowed func(api.Rule) bool
}

var matrixCallers = []matrixCaller{
	{"reader of the project", tokenReader, func(r api.Rule) bool { return r != api.RuleMemberOrAdmin && r != api.RuleAdmin }},
	{"member of the project", tokenA, func(r api.Rule) bool { return r != api.RuleAdmin }},
	{"admin of another project", tokenAdmin, func(api.Rule) bool { return true }},
	// The tenant rule comes before the policy: refused whatever the rule.
	{"member of another project", tokenB, nil},
}

// checkMatrix sends the route's request as the caller and checks the answer:
// the tenant rule's 403, the policy's 403, or the contract's status.
func checkMatrix(t *testing.T, e *env, rt api.Route, rule api.Rule, c matrixCaller) {
	t.Helper()
	row, ok := matrixRows[rt.Name]
	if !ok {
		t.Errorf("route %s has no row in matrixRows", rt.Name)
		return
	}
	r := e.do(t, rt.Method, matrixPath(rt), c.token, row.body)
	switch {
	case c.allowed == nil:
		r.wantFault(t, http.StatusForbidden, "may not access project "+projA)
	case !c.allowed(rule):
		// The fault's shape is checked by e.do; its message is OpenStack's.
		if want := "Policy doesn't allow " + rt.Name + " to be performed."; r.status != http.StatusForbidden || r.message() != want {
			t.Errorf("%s as %s (rule %s): %d %s, want 403 %q", rt.Name, c.name, rule, r.status, r.raw, want)
		}
	default:
		if r.status == http.StatusForbidden || r.status >= 500 || r.status != row.status {
			t.Errorf("%s as %s (rule %s): status %d, want %d; body %s", rt.Name, c.name, rule, r.status, row.status, r.raw)
		}
	}
}

// TestPolicyMatrix: every route × {reader, member, admin of another
// project, member of another project} → the contract's status, under the
// default policy.
func TestPolicyMatrix(t *testing.T) {
	e := newEnv(t)
	for _, rt := range api.Routes {
		if rt.Anonymous {
			// No caller, no rule: every caller, and none, gets the route's
			// answer.
			for _, token := range []string{"", tokenB, tokenReader} {
				if r := e.do(t, rt.Method, matrixPath(rt), token, nil); r.status != http.StatusOK {
					t.Errorf("%s (anonymous) with token %q: %d %s", rt.Name, token, r.status, r.raw)
				}
			}
			continue
		}
		for _, c := range matrixCallers {
			checkMatrix(t, e, rt, rt.Policy, c)
		}
	}
	for name := range matrixRows {
		if _, ok := api.RouteByName(name); !ok {
			t.Errorf("matrixRows has %s, which is no route", name)
		}
	}
}

// TestPolicyMatrixOverride: POLICY_OVERRIDES makes a read admin-only and a
// write open to readers; both are checked both ways, and the other routes
// keep their rules.
func TestPolicyMatrixOverride(t *testing.T) {
	policy, err := api.NewPolicy("", `{"list-plans": "admin", "create-trigger": "reader_or_above"}`)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWithPolicy(t, testenv.Store(t), policy)
	if got := policy.RuleOf(api.ListPlans); got != api.RuleAdmin {
		t.Errorf("list-plans rule = %s", got)
	}
	for _, rt := range []api.Route{api.ListPlans, api.CreateTrigger, api.CreatePlan, api.ShowPlan} {
		for _, c := range matrixCallers {
			checkMatrix(t, e, rt, policy.RuleOf(rt), c)
		}
	}
	// Spelled out: the member may no longer list plans, the reader may
	// create a trigger.
	e.do(t, http.MethodGet, "/v1/"+projA+"/plans", tokenA, nil).wantFault(t, http.StatusForbidden, "Policy doesn't allow list-plans to be performed.")
	e.do(t, http.MethodPost, triggersPath(projA), tokenReader, nightly("reader's")).wantStatus(t, http.StatusOK)
}

// TestPolicyAdminRole: ADMIN_ROLE=superuser makes superuser the admin
// (any project, all_tenants, quotas) and admin an ordinary role.
func TestPolicyAdminRole(t *testing.T) {
	policy, err := api.NewPolicy("superuser", "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWithPolicy(t, testenv.Store(t), policy)
	super := "sue:" + projAdmin + ":SuperUser"
	// admin is now an ordinary role: with member, a member of projAdmin.
	ordinary := "root:" + projAdmin + ":admin,member"
	e.createPlan(t, tokenA, projA, samplePlan())
	// Another project: superuser may, admin may not (the tenant rule).
	e.do(t, http.MethodGet, "/v1/"+projA+"/plans", super, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodGet, "/v1/"+projA+"/plans", ordinary, nil).wantFault(t, http.StatusForbidden, "may not access project")
	// all_tenants: honoured for superuser only.
	if n := len(e.do(t, http.MethodGet, "/v1/"+projAdmin+"/plans?all_tenants=true", super, nil).wantStatus(t, http.StatusOK).list(t, "plans")); n != 1 {
		t.Errorf("superuser, all_tenants: %d plans, want 1", n)
	}
	if n := len(e.do(t, http.MethodGet, "/v1/"+projAdmin+"/plans?all_tenants=true", ordinary, nil).wantStatus(t, http.StatusOK).list(t, "plans")); n != 0 {
		t.Errorf("admin (an ordinary role), all_tenants: %d plans, want 0", n)
	}
	// Quotas: an admin-rule route, and the handler's own checks.
	e.do(t, http.MethodPut, quotaPath(projAdmin, projA), super, map[string]any{"quota": map[string]any{"plans": 5}}).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodPut, quotaPath(projAdmin, projAdmin), ordinary, map[string]any{"quota": map[string]any{"plans": 5}}).
		wantFault(t, http.StatusForbidden, "Policy doesn't allow update-quota to be performed.")
	e.do(t, http.MethodGet, quotaPath(projAdmin, projA), super, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodGet, quotaPath(projAdmin, projA), ordinary, nil).wantFault(t, http.StatusForbidden, "may not access the quota")
	// admin alone is no reader either: it reads nothing.
	e.do(t, http.MethodGet, "/v1/"+projAdmin+"/plans", tokenAdmin, nil).wantFault(t, http.StatusForbidden, "Policy doesn't allow list-plans")
}

// TestPolicyRoles: roles compare in any case, as whole names.
func TestPolicyRoles(t *testing.T) {
	e := newEnv(t)
	for token, status := range map[string]int{
		"u:" + projA + ":READER":         http.StatusOK,
		"u:" + projA + ":Member":         http.StatusOK,
		"u:" + projA + ":readers":        http.StatusForbidden,
		"u:" + projA + ":observer,other": http.StatusForbidden,
		// The development token gives a token without roles member.
		"u:" + projA: http.StatusOK,
	} {
		if r := e.do(t, http.MethodGet, "/v1/"+projA+"/plans", token, nil); r.status != status {
			t.Errorf("%s: status %d, want %d: %s", token, r.status, status, r.raw)
		}
	}
	// A write needs member.
	e.do(t, http.MethodPost, triggersPath(projA), "u:"+projA+":READER", nightly("x")).wantFault(t, http.StatusForbidden, "create-trigger")
	e.do(t, http.MethodPost, triggersPath(projA), "u:"+projA+":MEMBER", nightly("x")).wantStatus(t, http.StatusOK)
}

// TestRoutesHavePolicy: every route that is not anonymous declares a valid
// rule.
func TestRoutesHavePolicy(t *testing.T) {
	for _, rt := range api.Functions() {
		if rt.Anonymous {
			if rt.Policy != "" {
				t.Errorf("%s is anonymous but has the rule %q", rt.Name, rt.Policy)
			}
			continue
		}
		if !rt.Policy.Valid() {
			t.Errorf("%s: rule %q is not one of %v", rt.Name, rt.Policy, api.Rules)
		}
	}
}

// TestPolicyOverridesParse: what NewPolicy refuses, and what it reads.
func TestPolicyOverridesParse(t *testing.T) {
	for _, bad := range []string{`{"no-such-route": "admin"}`, `{"list-plans": "owner"}`, `{"list-plans": admin}`, `["list-plans"]`, `null`, `{"list-plans": 1}`, `{"not-found": "any"}`, `{"show-openapi": "admin"}`,
		`{"list-plans": "any", "list-plans": "admin"}`} {
		if _, err := api.NewPolicy("", bad); err == nil {
			t.Errorf("NewPolicy(%s) accepted it", bad)
		}
	}
	for _, ok := range []string{"", "  ", "{}", `{"delete-checkpoint": "admin_or_owner"}`, `{"list-plans": "any", "show-plan": "any"}`} {
		if _, err := api.NewPolicy("", ok); err != nil {
			t.Errorf("NewPolicy(%q): %v", ok, err)
		}
	}
	// An admin role no token can carry, or one every caller holds.
	for _, bad := range []string{"a,b", "member", "Reader"} {
		if _, err := api.NewPolicy(bad, ""); err == nil {
			t.Errorf("NewPolicy(admin role %q) accepted it", bad)
		}
	}
	for _, ok := range []string{"", "superuser", "cloud admin"} {
		if _, err := api.NewPolicy(ok, ""); err != nil {
			t.Errorf("NewPolicy(admin role %q): %v", ok, err)
		}
	}
}

// TestPolicyDocTable: docs/api.md's table of default rules is api.Routes'.
func TestPolicyDocTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| `([A-Z]+) ([^`]+)` \\| `([a-z_]+)` \\|$")
	got := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		got[m[1]] = m[2] + " " + m[3] + " " + m[4]
	}
	for _, rt := range api.Routes {
		if rt.Anonymous {
			continue // no rule: docs/api.md says so below the table
		}
		want := rt.Method + " " + rt.Path + " " + string(rt.Policy)
		if got[rt.Name] != want {
			t.Errorf("docs/api.md policy table: %s is %q, want | `%s` | `%s %s` | `%s` |", rt.Name, got[rt.Name], rt.Name, rt.Method, rt.Path, rt.Policy)
		}
		delete(got, rt.Name)
	}
	for name := range got {
		t.Errorf("docs/api.md policy table has %s, which is no route", name)
	}
}
