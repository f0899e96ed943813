package lambdafn_test

import (
	"encoding/json"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/worker"
)

// sampleRestoreID is the restore of events/runner-restore.json.
const sampleRestoreID = "22b82aa7-9179-4c71-bba2-caf5c0e68db7"

// TestRunnerFunction: the runner as deployed, built by its Makefile
// target and driven by aws-lambda-rie with the unmodified events/runner-*
// samples: the stream record of a new restore (of the sample checkpoint,
// No-Op: its graph records one resource, the plan's others are added)
// ends it success at once and logs it; the scheduled tick steps
// what is due (the sample verification, due already) and answers its
// counts.
func TestRunnerFunction(t *testing.T) {
	b := newBackground(t)
	tasks, logs := testenv.TasksTable(t), testenv.OperationLogsTable(t)
	st := b.store.WithTasks(tasks).WithOperationLogs(logs)
	c := sampleCheckpoint(domain.StatusAvailable)
	graph := `[{"0x0": ["OS::Nova::Server", "` + seedResources()[0].ID + `", "", {"status": "available"}]}, []]`
	c.ResourceGraph = &graph
	b.create(t, c)
	at := time.Now().UTC().Truncate(time.Second)
	newTask := func(kind domain.TaskKind, id string, due time.Time) *domain.Task {
		task := &domain.Task{Kind: kind, ID: id, ProjectID: c.ProjectID, ProviderID: c.ProviderID, CheckpointID: c.ID, PlanID: c.Plan.ID,
			Parameters: map[string]json.RawMessage{}, Status: domain.TaskInProgress, CreatedAt: at, UpdatedAt: at, DueAt: due}
		if _, err := st.CreateTask(t.Context(), task); err != nil {
			t.Fatalf("CreateTask: %v", err)
		}
		return task
	}
	restore := newTask(domain.KindRestore, sampleRestoreID, at.Add(time.Hour))
	emu := b.start(t, "RunnerFunction", map[string]string{"TASKS_TABLE": tasks, "OPERATION_LOGS_TABLE": logs})

	if failed := handle(t, emu, sampleEvent(t, "runner-restore")); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none", failed)
	}
	got, err := st.GetTask(t.Context(), domain.KindRestore, restore.ProjectID, restore.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.TaskSuccess || len(got.ResourcesStatus) != len(c.Plan.Resources) {
		t.Fatalf("restore %s with %v after runner-restore; want success with every resource of the plan", got.Status, got.ResourcesStatus)
	}
	l, err := st.GetOperationLog(t.Context(), c.ProjectID, domain.OperationLogID(domain.OpRestore, restore.ID, ""))
	if err != nil || l.Status != "success" {
		t.Fatalf("restore's operation log %+v, %v; want success", l, err)
	}

	verification := newTask(domain.KindVerification, domain.NewID(), at.Add(-time.Minute))
	var res worker.TickResult
	invokeJSON(t, emu, sampleEvent(t, "runner-tick"), &res)
	if res.Stepped != 1 || res.Failed != 0 {
		t.Errorf("tick answered %+v, want one task stepped", res)
	}
	if v, err := st.GetTask(t.Context(), domain.KindVerification, c.ProjectID, verification.ID); err != nil || v.Status != domain.TaskSuccess {
		t.Errorf("verification after the tick: %+v, %v; want success", v, err)
	}
}
