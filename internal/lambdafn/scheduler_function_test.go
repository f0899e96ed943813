package lambdafn_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/local/tables"
	"karbor/internal/provider"
	"karbor/internal/scheduler"
	"karbor/internal/store"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
)

// TestSchedulerFunction: the scheduler as deployed, built by its Makefile
// target and driven by aws-lambda-rie with the unmodified
// events/scheduler-tick.json, with the real clock: a trigger due this
// minute fires its operation once (the checkpoint of id FireID, its
// protect log), and a second tick finds nothing due.
func TestSchedulerFunction(t *testing.T) {
	rie.SkipIfShort(t)
	plans, checkpoints := testenv.Tables(t)
	logs, schedules, quotas := testenv.OperationLogsTable(t), testenv.Table(t, tables.Schedules, "schedules"), testenv.Table(t, tables.Quotas, "quotas")
	st := store.New(testenv.DynamoDB(t), plans, checkpoints).WithOperationLogs(logs).WithSchedules(schedules).WithQuotas(quotas)
	ctx := t.Context()
	project := domain.NewID()
	now := time.Now().UTC()
	due := now.Truncate(time.Minute)
	plan := &domain.Plan{ID: domain.NewID(), ProjectID: project, Name: "orders", ProviderID: provider.NoOpID, Status: "suspended",
		Parameters: map[string]json.RawMessage{}, Resources: []domain.Resource{{ID: "orders", Type: "OS::Nova::Server", Name: "orders"}}, CreatedAt: now.Add(-time.Hour)}
	if err := st.CreatePlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	// Every hour at this minute: due now, its window open.
	tr := &domain.Trigger{ID: domain.NewID(), ProjectID: project, Name: "hourly", Type: domain.TriggerTypeTime,
		Properties: domain.TriggerProperties{Format: domain.FormatCrontab, Pattern: fmt.Sprintf("%d * * * *", due.Minute()), StartTime: due.Add(-time.Hour), Window: 900},
		CreatedAt:  due.Add(-time.Hour), NextAt: &due}
	if err := st.CreateTrigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	op := &domain.ScheduledOperation{ID: domain.NewID(), ProjectID: project, Name: "hourly orders", Type: domain.OpTypeProtect, TriggerID: tr.ID,
		Definition: domain.OperationDefinition{ProviderID: plan.ProviderID, PlanID: plan.ID}, Enabled: true, EnabledAt: due.Add(-time.Hour), CreatedAt: due.Add(-time.Hour)}
	if err := st.CreateScheduledOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	emu := rie.Start(t, rie.Build(t, "SchedulerFunction"), map[string]string{
		"PLANS_TABLE":          plans,
		"CHECKPOINTS_TABLE":    checkpoints,
		"OPERATION_LOGS_TABLE": logs,
		"SCHEDULES_TABLE":      schedules,
		"QUOTAS_TABLE":         quotas,
		"DYNAMODB_ENDPOINT":    testenv.Endpoint(t),
	})
	var res scheduler.TickResult
	invokeJSON(t, emu, sampleEvent(t, "scheduler-tick"), &res)
	if res != (scheduler.TickResult{Triggers: 1, Fired: 1}) {
		t.Errorf("tick answered %+v, want one trigger, one fire", res)
	}
	id := domain.FireID(op.ID, due)
	c, err := st.GetCheckpoint(ctx, project, id)
	if err != nil || c.Status != domain.StatusProtecting || c.Plan.ID != plan.ID {
		t.Fatalf("the fire's checkpoint %s: %+v, %v; want protecting, of the plan", id, c, err)
	}
	l, err := st.GetOperationLog(ctx, project, domain.OperationLogID(domain.OpProtect, id, ""))
	if err != nil || l.ScheduledOperationID == nil || *l.ScheduledOperationID != op.ID || l.ExtraInfo["scheduled_time"] != domain.Timestamp(due) {
		t.Fatalf("the fire's protect log %+v, %v; want one naming the operation and the scheduled time", l, err)
	}
	invokeJSON(t, emu, sampleEvent(t, "scheduler-tick"), &res)
	if res != (scheduler.TickResult{}) {
		t.Errorf("second tick answered %+v, want nothing due", res)
	}
}
