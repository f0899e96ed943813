package lambdafn_test

// These tests run every route's Lambda function as deployed: built by its
// Makefile target, driven by the Runtime Interface Emulator, with the
// unmodified sample event of events/, against fresh tables on the test
// DynamoDB endpoint, seeded with the ids the events use. The fallback of
// API Gateway's $default route (api.Fallback, not in api.Routes) runs the
// same way, but with no table at all: TestFallbackFunction.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/local/tables"
	"karbor/internal/store"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
)

// TestMain runs the tests; with -v it says how many answers were validated
// against the OpenAPI document (fixture.invoke checks each).
func TestMain(m *testing.M) {
	code := testenv.Main(m)
	rie.RemoveBuilds()
	if testing.Verbose() {
		fmt.Printf("openapicheck: %d responses validated\n", openapicheck.Validated())
	}
	os.Exit(code)
}

// The ids of the sample events.
const (
	projectID    = "e486a2f49695423ca9c47e589b948108"
	providerID   = "b766f37c-d011-4026-8228-28730d734a3f" // No-Op
	planID       = "3523a271-68aa-42f5-b9ba-56e5200a2ebb"
	checkpointID = "dcb20606-ad71-40a3-80e4-ef0fafdad0c3"
	// operationLogID is the sample events' log (gen.sampleParams).
	operationLogID = "7a16c731-3f5e-4d2a-9b8c-1e2f3a4b5c6d"
)

var created = time.Date(2026, 11, 26, 18, 30, 5, 0, time.UTC)

func seedResources() []domain.Resource {
	return []domain.Resource{
		{ID: "cb4ef2ff-10f5-46c9-bce4-cf7a49c65a01", Type: "OS::Nova::Server", Name: "App server"},
		{ID: "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba", Type: "OS::Cinder::Volume", Name: "Data volume", ExtraInfo: json.RawMessage(`{"availability_zone":"az1"}`)},
	}
}

// fixture is one route's function under the emulator, over its own tables.
type fixture struct {
	emu   *rie.Emulator
	store *store.Store
	event []byte
	// fallback: the Fallback function, whose answers are only 404 and 405.
	fallback bool
}

// seed writes the plan and the available checkpoint the events name.
func seed(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	plan := &domain.Plan{
		ID:         planID,
		ProjectID:  projectID,
		Name:       "My 3 tier application",
		ProviderID: providerID,
		Status:     domain.PlanSuspended,
		Parameters: map[string]json.RawMessage{"OS::Nova::Server": json.RawMessage(`{"backup_name":"os"}`)},
		Resources:  seedResources(),
		CreatedAt:  created,
	}
	if err := s.CreatePlan(ctx, plan); err != nil {
		t.Fatalf("seed plan: %v", err)
	}
	cp := &domain.Checkpoint{
		ID:         checkpointID,
		ProjectID:  projectID,
		ProviderID: providerID,
		Status:     domain.StatusAvailable,
		Plan: domain.ProtectionPlan{
			ID:         planID,
			Name:       plan.Name,
			ProviderID: providerID,
			Resources:  seedResources(),
			Parameters: plan.Parameters,
		},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`),
		CreatedAt: created,
		UpdatedAt: created,
	}
	if err := s.CreateCheckpoint(ctx, cp); err != nil {
		t.Fatalf("seed checkpoint: %v", err)
	}
	cpID, plID, prID := checkpointID, planID, providerID
	ended := created.Add(time.Minute)
	if err := s.EndOperationLog(ctx, &domain.OperationLog{
		ID: operationLogID, ProjectID: projectID, Type: domain.OpProtect, CheckpointID: &cpID, PlanID: &plID, ProviderID: &prID,
		Status: string(domain.StatusAvailable), StartedAt: created, EndedAt: &ended,
	}); err != nil {
		t.Fatalf("seed operation log: %v", err)
	}
}

// start builds the route's function and runs it under the emulator over
// fresh, seeded tables.
func start(t *testing.T, r api.Route) *fixture {
	t.Helper()
	bootstrap := rie.Build(t, r.LogicalID())
	plans, checkpoints := testenv.Tables(t)
	oplogs := testenv.OperationLogsTable(t)
	tasks := testenv.TasksTable(t)
	schedules := testenv.Table(t, tables.Schedules, "schedules")
	endpoint := testenv.Endpoint(t)
	quotas := testenv.Table(t, tables.Quotas, "quotas")
	s := store.New(testenv.DynamoDB(t), plans, checkpoints).WithOperationLogs(oplogs).WithTasks(tasks).WithQuotas(quotas).WithSchedules(schedules)
	seed(t, s)
	if strings.Contains(r.Name, "restore") || strings.Contains(r.Name, "verification") {
		seedTasks(t, s)
	}
	if schedulesRoute(r.Name) {
		seedSchedules(t, s)
	}
	event, err := os.ReadFile(filepath.Join(rie.RepoRoot(t), "events", r.Name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	emu := rie.Start(t, bootstrap, map[string]string{
		"PLANS_TABLE":          plans,
		"CHECKPOINTS_TABLE":    checkpoints,
		"IDEMPOTENCY_TABLE":    testenv.IdempotencyTable(t),
		"OPERATION_LOGS_TABLE": oplogs,
		"TASKS_TABLE":          tasks,
		"QUOTAS_TABLE":         quotas,
		"SCHEDULES_TABLE":      schedules,
		"DYNAMODB_ENDPOINT":    endpoint,
		"EC2_ENDPOINT":         endpoint,
		"TAGGING_ENDPOINT":     endpoint,
	})
	return &fixture{emu: emu, store: s, event: event}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// invoke sends event and checks what every response must carry: the status,
// X-Openstack-Request-Id derived from the Lambda request id, and JSON.
func (f *fixture) invoke(t *testing.T, event []byte, wantStatus int) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, lambdaID := f.emu.InvokeHTTP(t, event)
	openapicheck.API(t).Lambda(t, event, resp, f.fallback)
	if resp.StatusCode != wantStatus {
		t.Errorf("status %d, want %d; body %s", resp.StatusCode, wantStatus, resp.Body)
	}
	if resp.IsBase64Encoded {
		t.Errorf("the body is base64-encoded; want JSON text")
	}
	id := header(resp, "X-Openstack-Request-Id")
	if want := "req-" + lambdaID; id != want {
		t.Errorf("X-Openstack-Request-Id %q, want %q (from the Lambda request id)", id, want)
	}
	if rest, ok := strings.CutPrefix(id, "req-"); !ok || !uuidPattern.MatchString(rest) {
		t.Errorf("X-Openstack-Request-Id %q is not req-<uuid>", id)
	}
	if ct := header(resp, "Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	return resp
}

// header reads a response header by its canonical name; there must be
// exactly one, in one of headers and multiValueHeaders.
func header(resp events.APIGatewayV2HTTPResponse, name string) string {
	var vs []string
	for k, v := range resp.Headers {
		if http.CanonicalHeaderKey(k) == name {
			vs = append(vs, v)
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if http.CanonicalHeaderKey(k) == name {
			vs = append(vs, v...)
		}
	}
	if len(vs) != 1 {
		return ""
	}
	return vs[0]
}

// decode decodes a JSON body whose only top-level key is key.
func decode(t *testing.T, body, key string, v any) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, body)
	}
	raw, ok := top[key]
	if !ok {
		t.Fatalf("body has no %q: %s", key, body)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%q: %v: %s", key, err, raw)
	}
}

type resourceJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	ExtraInfo json.RawMessage `json:"extra_info"`
}

type checkpointJSON struct {
	ID             string         `json:"id"`
	ProjectID      string         `json:"project_id"`
	Status         string         `json:"status"`
	ResourceGraph  *string        `json:"resource_graph"`
	CreatedAt      string         `json:"created_at"`
	ExtraInfo      map[string]any `json:"extra_info"`
	ProtectionPlan struct {
		ID         string         `json:"id"`
		Name       string         `json:"name"`
		ProviderID string         `json:"provider_id"`
		Resources  []resourceJSON `json:"resources"`
	} `json:"protection_plan"`
}

type planJSON struct {
	ID          string                     `json:"id"`
	Name        string                     `json:"name"`
	Description *string                    `json:"description"`
	Resources   []resourceJSON             `json:"resources"`
	ProviderID  string                     `json:"provider_id"`
	Status      string                     `json:"status"`
	Parameters  map[string]json.RawMessage `json:"parameters"`
	ProjectID   string                     `json:"project_id"`
}

type providerJSON struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Description        string `json:"description"`
	ExtendedInfoSchema struct {
		Options   map[string]any `json:"options_schema"`
		Restore   map[string]any `json:"restore_schema"`
		SavedInfo map[string]any `json:"saved_info_schema"`
	} `json:"extended_info_schema"`
}

// checkSeededCheckpoint checks a view of the seeded checkpoint.
func checkSeededCheckpoint(t *testing.T, c checkpointJSON, wantStatus string) {
	t.Helper()
	if c.ID != checkpointID || c.ProjectID != projectID || c.Status != wantStatus {
		t.Errorf("checkpoint %s of %s in %s, want %s of %s in %s", c.ID, c.ProjectID, c.Status, checkpointID, projectID, wantStatus)
	}
	if c.CreatedAt != "2026-11-26T18:30:05Z" {
		t.Errorf("created_at %q, want 2026-11-26T18:30:05Z", c.CreatedAt)
	}
	p := c.ProtectionPlan
	if p.ID != planID || p.ProviderID != providerID || p.Name != "My 3 tier application" || len(p.Resources) != 2 {
		t.Errorf("protection_plan %+v, want the seeded plan's snapshot", p)
	}
	if c.ExtraInfo["created_by"] != "manual" {
		t.Errorf("extra_info %v, want created_by manual", c.ExtraInfo)
	}
}

func storedStatus(t *testing.T, s *store.Store) domain.Status {
	t.Helper()
	c, err := s.GetCheckpoint(context.Background(), projectID, checkpointID)
	if err != nil {
		t.Fatalf("read the checkpoint back: %v", err)
	}
	return c.Status
}

// seededLogJSON is the seeded operation log as the API shows it.
const seededLogJSON = `{"id":"` + operationLogID + `","project_id":"` + projectID + `","operation_type":"protect",` +
	`"checkpoint_id":"` + checkpointID + `","plan_id":"` + planID + `","provider_id":"` + providerID + `",` +
	`"restore_id":null,"scheduled_operation_id":null,"status":"available","started_at":"2026-11-26T18:30:05Z",` +
	`"ended_at":"2026-11-26T18:31:05Z","error_info":null,"extra_info":null}`

// routeChecks says, per route, what its sample event must produce.
// quotaAnswer checks a quota route's body against want (JSON text).
func quotaAnswer(want string) func(t *testing.T, f *fixture) {
	return func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		if strings.TrimSpace(resp.Body) != want {
			t.Errorf("body %s, want %s", resp.Body, want)
		}
	}
}

var routeChecks = map[string]func(t *testing.T, f *fixture){
	"show-quota":          quotaAnswer(`{"quota":{"checkpoints":-1,"id":"` + projectID + `","plans":50}}`),
	"show-quota-defaults": quotaAnswer(`{"quota":{"checkpoints":-1,"id":"` + projectID + `","plans":50}}`),
	// The seeded plan and checkpoint, counted by the store.
	"show-quota-detail": quotaAnswer(`{"quota":{"checkpoints":{"in_use":1,"limit":-1,"reserved":0},"id":"` + projectID +
		`","plans":{"in_use":1,"limit":50,"reserved":0}}}`),
	"show-quota-class": quotaAnswer(`{"quota_class":{"checkpoints":-1,"id":"default","plans":50}}`),
	"update-quota-class": func(t *testing.T, f *fixture) {
		quotaAnswer(`{"quota_class":{"checkpoints":-1,"id":"default","plans":60}}`)(t, f)
		if l, err := f.store.GetQuotaClass(context.Background(), "default"); err != nil || len(l) != 1 || l[domain.QuotaPlans] != 60 {
			t.Errorf("class after the update: %v, %v; want plans 60 only", l, err)
		}
	},
	"update-quota": func(t *testing.T, f *fixture) {
		quotaAnswer(`{"quota":{"checkpoints":100,"id":"`+projectID+`","plans":20}}`)(t, f)
		if q, err := f.store.GetQuota(context.Background(), projectID); err != nil || q.Overrides[domain.QuotaPlans] != 20 || q.Overrides[domain.QuotaCheckpoints] != 100 {
			t.Errorf("quota after the update: %+v, %v", q, err)
		}
	},
	"delete-quota": func(t *testing.T, f *fixture) {
		if _, err := f.store.UpdateQuota(context.Background(), projectID, domain.QuotaUpdate{domain.QuotaPlans: new(int64(3))}); err != nil {
			t.Fatal(err)
		}
		resp := f.invoke(t, f.event, http.StatusOK)
		if resp.Body != "" {
			t.Errorf("body %q, want empty", resp.Body)
		}
		if q, err := f.store.GetQuota(context.Background(), projectID); err != nil || len(q.Overrides) != 0 {
			t.Errorf("quota after the delete: %+v, %v; want no overrides", q, err)
		}
	},
	"list-operation-logs": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		if want := `{"operation_logs":[` + seededLogJSON + `]}`; strings.TrimSpace(resp.Body) != want {
			t.Errorf("body %s, want %s", resp.Body, want)
		}
	},
	"show-operation-log": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		if want := `{"operation_log":` + seededLogJSON + `}`; strings.TrimSpace(resp.Body) != want {
			t.Errorf("body %s, want %s", resp.Body, want)
		}
	},
	"list-checkpoints": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var list []checkpointJSON
		decode(t, resp.Body, "checkpoints", &list)
		if len(list) != 1 {
			t.Fatalf("%d checkpoints, want the seeded one: %s", len(list), resp.Body)
		}
		checkSeededCheckpoint(t, list[0], "available")
		if bytes.Contains([]byte(resp.Body), []byte("checkpoints_links")) {
			t.Errorf("checkpoints_links on the only page: %s", resp.Body)
		}
	},
	"create-checkpoint": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var c checkpointJSON
		decode(t, resp.Body, "checkpoint", &c)
		if !uuidPattern.MatchString(c.ID) || c.ID == checkpointID {
			t.Errorf("id %q, want a new UUID", c.ID)
		}
		if c.Status != "protecting" || c.ProjectID != projectID || c.ResourceGraph != nil {
			t.Errorf("status %q, project %q, resource_graph %v; want protecting, %s, null", c.Status, c.ProjectID, c.ResourceGraph, projectID)
		}
		if _, err := time.Parse(time.RFC3339, c.CreatedAt); err != nil {
			t.Errorf("created_at %q is not RFC 3339", c.CreatedAt)
		}
		p := c.ProtectionPlan
		if p.ID != planID || p.ProviderID != providerID || p.Name != "My 3 tier application" || len(p.Resources) != 2 {
			t.Errorf("protection_plan %+v, want a snapshot of the seeded plan", p)
		}
		if c.ExtraInfo["created_by"] != "sam-local" {
			t.Errorf("extra_info %v, want the event's", c.ExtraInfo)
		}
		stored, err := f.store.GetCheckpoint(context.Background(), projectID, c.ID)
		if err != nil {
			t.Fatalf("the new checkpoint is not in the table: %v", err)
		}
		if stored.Status != domain.StatusProtecting || stored.Plan.ID != planID {
			t.Errorf("stored checkpoint in %s of plan %s, want protecting of %s", stored.Status, stored.Plan.ID, planID)
		}
	},
	"show-checkpoint": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var c checkpointJSON
		decode(t, resp.Body, "checkpoint", &c)
		checkSeededCheckpoint(t, c, "available")
	},
	"delete-checkpoint": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		if resp.Body != "{}\n" && resp.Body != "{}" {
			t.Errorf("body %q, want {}", resp.Body)
		}
		if st := storedStatus(t, f.store); st != domain.StatusDeleting {
			t.Errorf("stored status %s, want deleting", st)
		}
	},
	"reset-checkpoint-state": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		if resp.Body != "{}\n" && resp.Body != "{}" {
			t.Errorf("body %q, want {}", resp.Body)
		}
		if st := storedStatus(t, f.store); st != domain.StatusError {
			t.Errorf("stored status %s, want error (the event's state)", st)
		}
	},
	"list-providers": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var list []providerJSON
		decode(t, resp.Body, "providers", &list)
		found := false
		for _, p := range list {
			if p.ID == providerID {
				found = p.Name == "No-Op Provider"
			}
		}
		if !found {
			t.Errorf("the No-Op provider is not listed: %s", resp.Body)
		}
	},
	"show-provider": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var p providerJSON
		decode(t, resp.Body, "provider", &p)
		if p.ID != providerID || p.Name != "No-Op Provider" || p.ExtendedInfoSchema.Options == nil {
			t.Errorf("provider %+v, want the No-Op provider with its schemas", p)
		}
	},
	"create-plan": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var p planJSON
		decode(t, resp.Body, "plan", &p)
		if !uuidPattern.MatchString(p.ID) || p.ID == planID {
			t.Errorf("id %q, want a new UUID", p.ID)
		}
		if p.Status != "suspended" || p.ProjectID != projectID || p.ProviderID != providerID || p.Name != "My 3 tier application" {
			t.Errorf("plan %+v, want the event's plan, suspended, in project %s", p, projectID)
		}
		if len(p.Resources) != 4 || len(p.Parameters) != 4 {
			t.Errorf("%d resources and %d parameters, want the event's 4 and 4", len(p.Resources), len(p.Parameters))
		}
		if _, err := f.store.GetPlan(context.Background(), projectID, p.ID); err != nil {
			t.Errorf("the new plan is not in the table: %v", err)
		}
	},
	"list-plans": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var list []planJSON
		decode(t, resp.Body, "plans", &list)
		if len(list) != 1 || list[0].ID != planID || list[0].Status != "suspended" || len(list[0].Resources) != 2 {
			t.Errorf("plans %+v, want the seeded plan", list)
		}
	},
	"show-plan": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var p planJSON
		decode(t, resp.Body, "plan", &p)
		if p.ID != planID || p.ProjectID != projectID || p.Name != "My 3 tier application" || p.Status != "suspended" || len(p.Resources) != 2 {
			t.Errorf("plan %+v, want the seeded plan", p)
		}
	},
	"update-plan": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var p planJSON
		decode(t, resp.Body, "plan", &p)
		if p.ID != planID || p.Name != "My 1 tier application" || p.Status != "started" || len(p.Resources) != 2 {
			t.Errorf("plan %+v, want the seeded plan renamed and started", p)
		}
		stored, err := f.store.GetPlan(context.Background(), projectID, planID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Name != "My 1 tier application" || stored.Status != domain.PlanStarted {
			t.Errorf("stored plan %q in %s, want the update", stored.Name, stored.Status)
		}
	},
	"delete-plan": func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		if resp.Body != "" {
			t.Errorf("body %q, want empty", resp.Body)
		}
		if _, err := f.store.GetPlan(context.Background(), projectID, planID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("the plan is still readable after delete (%v)", err)
		}
	},
}

// instanceJSON is a protectable instance as the API shows it.
type instanceJSON struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	ExtraInfo  map[string]any `json:"extra_info"`
	Dependents []instanceJSON `json:"dependent_resources"`
}

func init() {
	// The document, as api.OpenAPI builds it (docs/openapi.json), with no
	// caller and no table.
	routeChecks["show-openapi"] = func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		want, err := api.OpenAPI()
		if err != nil {
			t.Fatal(err)
		}
		var got, wantDoc any
		if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
			t.Fatalf("%v: %.200s", err, resp.Body)
		}
		_ = json.Unmarshal(want, &wantDoc)
		if !reflect.DeepEqual(got, wantDoc) {
			t.Errorf("the document served differs from api.OpenAPI(): %.300s", resp.Body)
		}
	}
	routeChecks["list-protectables"] = func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var types []string
		decode(t, resp.Body, "protectable_type", &types)
		if strings.Join(types, ",") != "AWS::DynamoDB::Table,AWS::EC2::Instance,AWS::EC2::Volume" {
			t.Errorf("types %v", types)
		}
	}
	routeChecks["show-protectable"] = func(t *testing.T, f *fixture) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var typ struct {
			Name           string   `json:"name"`
			DependentTypes []string `json:"dependent_types"`
		}
		decode(t, resp.Body, "protectable_type", &typ)
		if typ.Name != "AWS::DynamoDB::Table" || typ.DependentTypes == nil || len(typ.DependentTypes) != 0 {
			t.Errorf("type %+v", typ)
		}
	}
	routeChecks["list-protectable-instances"] = func(t *testing.T, f *fixture) {
		ensureOrders(t, invenv.New(t))
		resp := f.invoke(t, f.event, http.StatusOK)
		var list []instanceJSON
		var top map[string]json.RawMessage
		_ = json.Unmarshal([]byte(resp.Body), &top)
		if err := json.Unmarshal(top["instances"], &list); err != nil {
			t.Fatalf("%v: %s", err, resp.Body)
		}
		if !slices.ContainsFunc(list, func(i instanceJSON) bool { return i.ID == "orders" }) {
			t.Errorf("the tenant's table orders is not listed: %s", resp.Body)
		}
	}
	routeChecks["show-protectable-instance"] = func(t *testing.T, f *fixture) {
		ensureOrders(t, invenv.New(t))
		resp := f.invoke(t, f.event, http.StatusOK)
		var inst instanceJSON
		decode(t, resp.Body, "instance", &inst)
		if inst.ID != "orders" || inst.Type != "AWS::DynamoDB::Table" || inst.Name != "orders" || inst.ExtraInfo["status"] != "ACTIVE" || inst.Dependents == nil {
			t.Errorf("instance %+v", inst)
		}
		// Another project's view: the same table is not there.
		other := withEvent(t, f.event, func(ev map[string]any) {
			ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)["jwt"].(map[string]any)["claims"].(map[string]any)["project_id"] = "someoneelse"
			for _, k := range []string{"rawPath"} {
				ev[k] = strings.Replace(ev[k].(string), projectID, "someoneelse", 1)
			}
			ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = ev["rawPath"]
			ev["pathParameters"].(map[string]any)["tenant_id"] = "someoneelse"
		})
		f.invoke(t, other, http.StatusNotFound)
	}
}

func TestFunctions(t *testing.T) {
	for _, r := range api.Routes {
		t.Run(r.Name, func(t *testing.T) {
			check, ok := routeChecks[r.Name]
			if !ok {
				t.Fatalf("routeChecks has no entry for route %s: say what its event must produce", r.Name)
			}
			check(t, start(t, r))
		})
	}
}

// withEvent returns the sample event changed by edit, as a generic JSON
// document, so that everything else stays as the sample has it.
func withEvent(t *testing.T, event []byte, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requestContext(ev map[string]any) map[string]any {
	return ev["requestContext"].(map[string]any)
}

// checkFault checks the OpenStack fault shape: one top-level key.
func checkFault(t *testing.T, body, name string, code int) {
	t.Helper()
	var f struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil || len(top) != 1 {
		t.Fatalf("fault body %s, want exactly one top-level key", body)
	}
	decode(t, body, name, &f)
	if f.Code != code || f.Message == "" {
		t.Errorf("fault %s: code %d message %q, want code %d and a message", name, f.Code, f.Message, code)
	}
}

// TestFunctionIdentity checks that a deployed function takes the caller
// from the JWT authorizer's claims only.
func TestFunctionIdentity(t *testing.T) {
	f := start(t, api.ShowCheckpoint)
	if _, ok := f.emu.InitDuration(); ok {
		t.Errorf("an init duration before the first invoke: the emulator inits on the first invoke")
	}

	t.Run("other project claim", func(t *testing.T) {
		ev := withEvent(t, f.event, func(ev map[string]any) {
			claims := requestContext(ev)["authorizer"].(map[string]any)["jwt"].(map[string]any)["claims"].(map[string]any)
			claims["project_id"] = "0a9b5c6d7e8f40a1b2c3d4e5f6a7b8c9"
		})
		resp := f.invoke(t, ev, 403)
		checkFault(t, resp.Body, "forbidden", 403)
	})
	t.Run("no authorizer", func(t *testing.T) {
		ev := withEvent(t, f.event, func(ev map[string]any) {
			delete(requestContext(ev), "authorizer")
		})
		resp := f.invoke(t, ev, 401)
		checkFault(t, resp.Body, "unauthorized", 401)
	})
	t.Run("development token without claims", func(t *testing.T) {
		ev := withEvent(t, f.event, func(ev map[string]any) {
			delete(requestContext(ev), "authorizer")
			ev["headers"].(map[string]any)["x-auth-token"] = "root:" + projectID + ":admin"
		})
		resp := f.invoke(t, ev, 401)
		checkFault(t, resp.Body, "unauthorized", 401)
	})
	t.Run("sample event still works", func(t *testing.T) {
		resp := f.invoke(t, f.event, http.StatusOK)
		var c checkpointJSON
		decode(t, resp.Body, "checkpoint", &c)
		checkSeededCheckpoint(t, c, "available")
	})
	if d, ok := f.emu.InitDuration(); !ok || d <= 0 || d > time.Minute {
		t.Errorf("init duration %v (found: %t), want the INIT REPORT's", d, ok)
	}
}

// TestFallbackFunction runs the function behind API Gateway's $default
// route (api.Fallback, not a route of api.Routes) as deployed, with the
// emulator's minimal environment only: no table names, no DynamoDB
// endpoint. It answers without a caller and without a table.
func TestFallbackFunction(t *testing.T) {
	fb := api.Fallback
	bootstrap := rie.Build(t, fb.LogicalID())
	event, err := os.ReadFile(filepath.Join(rie.RepoRoot(t), "events", fb.Name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{emu: rie.Start(t, bootstrap, nil), event: event, fallback: true}

	t.Run("sample event", func(t *testing.T) {
		// PATCH on a plan: a known path, another method.
		resp := f.invoke(t, f.event, http.StatusMethodNotAllowed)
		checkFault(t, resp.Body, "badMethod", http.StatusMethodNotAllowed)
		if a := header(resp, "Allow"); a != "DELETE, GET, PUT" {
			t.Errorf("Allow %q, want %q", a, "DELETE, GET, PUT")
		}
	})
	for _, path := range []string{"/v1/" + projectID + "/plans/" + planID + "/unknown", "/v2/" + projectID + "/plans", "/"} {
		t.Run("unknown path "+path, func(t *testing.T) {
			ev := withEvent(t, f.event, func(ev map[string]any) {
				ev["rawPath"] = path
				requestContext(ev)["http"].(map[string]any)["path"] = path
			})
			resp := f.invoke(t, ev, http.StatusNotFound)
			checkFault(t, resp.Body, "itemNotFound", http.StatusNotFound)
			if a := header(resp, "Allow"); a != "" {
				t.Errorf("a 404 with Allow %q", a)
			}
		})
	}
	t.Run("sample event again", func(t *testing.T) {
		// The warm environment answers as the cold one did.
		resp := f.invoke(t, f.event, http.StatusMethodNotAllowed)
		checkFault(t, resp.Body, "badMethod", http.StatusMethodNotAllowed)
	})
}
