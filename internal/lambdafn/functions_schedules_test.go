package lambdafn_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/domain"
)

// The triggers, scheduled operation and plan the schedule routes' sample
// events name (seedSchedules): triggerID is named by operationID, whose
// plan is usedPlanID; freeTriggerID is named by none.
const (
	triggerID     = "2a9ce1f3-6c3e-4b8e-9d61-0f4a3b2c1d0e"
	freeTriggerID = "3b0df204-6c8e-4f10-9b2c-3d4e5f6a7b8c"
	operationID   = "1a2c0c3d-8e7f-4a6b-9c5d-4e3f2a1b0c9d"
	usedPlanID    = "d58ffd3e-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
)

// schedulesRoute reports whether a route's events need seedSchedules.
func schedulesRoute(name string) bool {
	return strings.Contains(name, "trigger") || strings.Contains(name, "scheduled-operation") || name == "delete-plan"
}

// seedSchedules writes the two triggers, a plan of the No-Op Provider and
// a scheduled operation naming triggerID and that plan.
func seedSchedules(t *testing.T, s interface {
	CreatePlan(context.Context, *domain.Plan) error
	CreateTrigger(context.Context, *domain.Trigger) error
	CreateScheduledOperation(context.Context, *domain.ScheduledOperation) error
}) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreatePlan(ctx, &domain.Plan{ID: usedPlanID, ProjectID: projectID, Name: "orders", ProviderID: providerID,
		Status: domain.PlanSuspended, Resources: seedResources(), CreatedAt: created}); err != nil {
		t.Fatalf("seed plan: %v", err)
	}
	for _, id := range []string{triggerID, freeTriggerID} {
		next := created.Add(8 * 3600e9)
		if err := s.CreateTrigger(ctx, &domain.Trigger{ID: id, ProjectID: projectID, Name: "nightly", Type: domain.TriggerTypeTime,
			Properties: domain.TriggerProperties{Format: domain.FormatCrontab, Pattern: "0 2 * * *", StartTime: created, Window: 900},
			CreatedAt:  created, NextAt: &next}); err != nil {
			t.Fatalf("seed trigger: %v", err)
		}
	}
	if err := s.CreateScheduledOperation(ctx, &domain.ScheduledOperation{ID: operationID, ProjectID: projectID, Name: "nightly orders",
		Type: domain.OpTypeProtect, TriggerID: triggerID, Definition: domain.OperationDefinition{ProviderID: providerID, PlanID: usedPlanID},
		Enabled: true, EnabledAt: created, CreatedAt: created}); err != nil {
		t.Fatalf("seed scheduled operation: %v", err)
	}
}

// setPath points the event at another id of the same route.
func setPath(param, id string) func(ev *events.APIGatewayV2HTTPRequest) {
	return func(ev *events.APIGatewayV2HTTPRequest) {
		old := ev.PathParameters[param]
		ev.PathParameters[param] = id
		ev.RawPath = strings.Replace(ev.RawPath, old, id, 1)
		ev.RequestContext.HTTP.Path = ev.RawPath
	}
}

// triggerJSON and operationJSON are a trigger and a scheduled operation
// as answered.
type triggerJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	ProjectID  string         `json:"project_id"`
	CreatedAt  string         `json:"created_at"`
	Properties map[string]any `json:"properties"`
}

type operationJSON struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description *string        `json:"description"`
	Type        string         `json:"operation_type"`
	TriggerID   string         `json:"trigger_id"`
	Definition  map[string]any `json:"operation_definition"`
	Enabled     bool           `json:"enabled"`
	ProjectID   string         `json:"project_id"`
	CreatedAt   string         `json:"created_at"`
}

func init() {
	inUse := func(param, id string) scenario {
		return scenario{"in use", setPath(param, id), http.StatusConflict, ""}
	}
	scenarios["create-trigger"] = append([]scenario{sample(http.StatusOK)}, idempotencyScenarios(`{"trigger_info": {}}`, http.StatusBadRequest)...)
	scenarios["list-triggers"] = listScenarios(triggerID)
	scenarios["show-trigger"] = []scenario{sample(http.StatusOK)}
	scenarios["update-trigger"] = []scenario{sample(http.StatusOK)}
	scenarios["delete-trigger"] = []scenario{sample(http.StatusOK), inUse("trigger_id", triggerID)}
	scenarios["create-scheduled-operation"] = append([]scenario{sample(http.StatusOK),
		// A missing plan: 404 after the reads, before any write.
		{"plan missing", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Body = strings.Replace(ev.Body, usedPlanID, "00000000-0000-4000-8000-000000000000", 1)
		}, http.StatusNotFound, ""}},
		idempotencyScenarios(`{"scheduled_operation": {}}`, http.StatusBadRequest)...)
	scenarios["list-scheduled-operations"] = append(listScenarios(operationID),
		scenario{"filters", func(ev *events.APIGatewayV2HTTPRequest) {
			setQuery(ev, map[string][]string{"trigger_id": {triggerID}, "operation_type": {"protect"}, "name": {"^nightly"}})
		}, http.StatusOK, ""})
	scenarios["show-scheduled-operation"] = []scenario{sample(http.StatusOK)}
	scenarios["update-scheduled-operation"] = []scenario{sample(http.StatusOK)}
	scenarios["delete-scheduled-operation"] = []scenario{sample(http.StatusOK)}
	scenarios["delete-plan"] = append(scenarios["delete-plan"], inUse("plan_id", usedPlanID))

	routeChecks["create-trigger"] = func(t *testing.T, f *fixture) {
		var got triggerJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "trigger_info", &got)
		if !uuidPattern.MatchString(got.ID) || got.ProjectID != projectID || got.Properties["pattern"] != "0 2 * * *" || got.Properties["window"] != 900.0 {
			t.Errorf("trigger_info %+v", got)
		}
		if tr, err := f.store.GetTrigger(context.Background(), projectID, got.ID); err != nil || tr.NextAt == nil {
			t.Errorf("stored trigger %+v, %v: want one with a next occurrence", tr, err)
		}
	}
	routeChecks["list-triggers"] = func(t *testing.T, f *fixture) {
		var got []triggerJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "triggers", &got)
		if len(got) != 2 {
			t.Errorf("triggers %+v, want the two seeded", got)
		}
	}
	routeChecks["show-trigger"] = func(t *testing.T, f *fixture) {
		var got triggerJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "trigger_info", &got)
		if got.ID != triggerID || got.Properties["end_time"] != nil || got.Properties["start_time"] != "2026-11-26T18:30:05Z" {
			t.Errorf("trigger_info %+v, want the seeded trigger", got)
		}
	}
	routeChecks["update-trigger"] = func(t *testing.T, f *fixture) {
		var got triggerJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "trigger_info", &got)
		if got.ID != triggerID || got.Name != "nightly at three" || got.Properties["pattern"] != "0 3 * * *" || got.Properties["window"] != 1800.0 {
			t.Errorf("trigger_info %+v", got)
		}
	}
	routeChecks["delete-trigger"] = func(t *testing.T, f *fixture) {
		if resp := f.invoke(t, f.event, http.StatusOK); resp.Body != "" {
			t.Errorf("body %q, want empty", resp.Body)
		}
		if _, err := f.store.GetTrigger(context.Background(), projectID, freeTriggerID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("the trigger is still readable after delete (%v)", err)
		}
		used := withEvent(t, f.event, func(ev map[string]any) {
			ev["pathParameters"].(map[string]any)["trigger_id"] = triggerID
			ev["rawPath"] = strings.Replace(ev["rawPath"].(string), freeTriggerID, triggerID, 1)
		})
		resp := f.invoke(t, used, http.StatusConflict)
		checkFault(t, resp.Body, "conflictingRequest", http.StatusConflict)
	}
	routeChecks["create-scheduled-operation"] = func(t *testing.T, f *fixture) {
		var got operationJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "scheduled_operation", &got)
		if !uuidPattern.MatchString(got.ID) || got.TriggerID != triggerID || !got.Enabled || got.Definition["max_backups"] != 7.0 {
			t.Errorf("scheduled_operation %+v", got)
		}
		tr, err := f.store.GetTrigger(context.Background(), projectID, triggerID)
		if err != nil || len(tr.UsedBy) != 2 {
			t.Errorf("trigger used by %v (%v), want the seeded and the new operation", tr.UsedBy, err)
		}
	}
	routeChecks["list-scheduled-operations"] = func(t *testing.T, f *fixture) {
		var got []operationJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "operations", &got)
		if len(got) != 1 || got[0].ID != operationID {
			t.Errorf("operations %+v, want the seeded one", got)
		}
	}
	routeChecks["show-scheduled-operation"] = func(t *testing.T, f *fixture) {
		var got operationJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "scheduled_operation", &got)
		if got.ID != operationID || got.Definition["plan_id"] != usedPlanID {
			t.Errorf("scheduled_operation %+v, want the seeded one", got)
		}
	}
	routeChecks["update-scheduled-operation"] = func(t *testing.T, f *fixture) {
		var got operationJSON
		decode(t, f.invoke(t, f.event, http.StatusOK).Body, "scheduled_operation", &got)
		if got.ID != operationID || got.Enabled || got.Name != "nightly orders (paused)" {
			t.Errorf("scheduled_operation %+v", got)
		}
	}
	routeChecks["delete-scheduled-operation"] = func(t *testing.T, f *fixture) {
		if resp := f.invoke(t, f.event, http.StatusOK); resp.Body != "" {
			t.Errorf("body %q, want empty", resp.Body)
		}
		if tr, err := f.store.GetTrigger(context.Background(), projectID, triggerID); err != nil || len(tr.UsedBy) != 0 {
			t.Errorf("trigger used by %v (%v) after the delete, want none", tr.UsedBy, err)
		}
	}
}

// scheduleCounts count what the schedule create routes create, for
// TestFunctionsIdempotencyKey.
var scheduleCounts = map[string]func(t *testing.T, f *fixture) int{
	"create-trigger": func(t *testing.T, f *fixture) int {
		page, err := f.store.ListTriggers(context.Background(), domain.TriggerQuery{Listing: domain.Listing{ProjectID: projectID, Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	},
	"create-scheduled-operation": func(t *testing.T, f *fixture) int {
		page, err := f.store.ListScheduledOperations(context.Background(), domain.ScheduledOperationQuery{Listing: domain.Listing{ProjectID: projectID, Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	},
}
