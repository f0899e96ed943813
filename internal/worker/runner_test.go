package worker_test

// The runner (restores and verifications) against moto_server: checkpoints
// protected by the worker with the real plugins, tasks written by the
// store as the API writes them, and the runner stepping them with the AWS
// provider's real steps, until each ends by itself.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/worker"
)

// runnerEnv is an env whose store also has the tasks and operation logs
// tables, and a runner over it.
type runnerEnv struct {
	*env
	runner *worker.Runner
}

func newRunnerEnv(t *testing.T) *runnerEnv {
	t.Helper()
	e := newEnv(t)
	e.store = e.store.WithTasks(testenv.TasksTable(t)).WithOperationLogs(testenv.OperationLogsTable(t))
	e.worker.Domain.Store = e.store
	r := &worker.Runner{Store: e.store, Log: e.log,
		Plugins: func(providerID string) (map[string]provider.TaskPlugin, bool) {
			return worker.TaskPlugins(providerID, e.clients, accountMode, awsplugin.Options{TableARNPrefix: invenv.TableARNPrefix("us-east-1")})
		}}
	return &runnerEnv{env: e, runner: r}
}

// protected is a checkpoint of these resources, protected by the worker:
// available.
func (e *runnerEnv) protected(providerID string, resources []domain.Resource) *domain.Checkpoint {
	e.t.Helper()
	c := e.newCheckpoint(providerID, resources, nil)
	e.handle(e.worker, e.record(c, "INSERT", domain.StatusProtecting))
	c = e.get(c)
	if c.Status != domain.StatusAvailable {
		e.t.Fatalf("checkpoint %s is %s after protection, want available: %s", c.ID, c.Status, aws.ToString(c.ResourceGraph))
	}
	return c
}

// task writes a restore or verification of c as the API does.
func (e *runnerEnv) task(kind domain.TaskKind, c *domain.Checkpoint, params map[string]json.RawMessage) *domain.Task {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	if params == nil {
		params = map[string]json.RawMessage{}
	}
	t := &domain.Task{Kind: kind, ID: domain.NewID(), ProjectID: c.ProjectID, ProviderID: c.ProviderID, CheckpointID: c.ID,
		PlanID: c.Plan.ID, Parameters: params, Status: domain.TaskInProgress, CreatedAt: now, UpdatedAt: now, DueAt: now.Add(time.Minute)}
	if _, err := e.store.CreateTask(e.t.Context(), t); err != nil {
		e.t.Fatalf("CreateTask: %v", err)
	}
	return t
}

func (e *runnerEnv) getTask(t *domain.Task) *domain.Task {
	e.t.Helper()
	got, err := e.store.GetTask(e.t.Context(), t.Kind, t.ProjectID, t.ID)
	if err != nil {
		e.t.Fatalf("GetTask: %v", err)
	}
	return got
}

// run steps the task until it ends (at most 10 steps: on moto tables and
// volumes are ready at once) and returns it ended.
func (e *runnerEnv) run(t *domain.Task) *domain.Task {
	e.t.Helper()
	for range 10 {
		if err := e.runner.Step(e.t.Context(), domain.TaskKey{ID: t.ID, ProjectID: t.ProjectID}); err != nil {
			e.t.Fatalf("Step: %v", err)
		}
		if got := e.getTask(t); got.Status != domain.TaskInProgress {
			return got
		}
	}
	got := e.getTask(t)
	e.t.Fatalf("task %s still in_progress after 10 steps: %+v", t.ID, got.ResourcesStatus)
	return nil
}

// logs are the operation logs of the project.
func (e *runnerEnv) logs(project string) []*domain.OperationLog {
	e.t.Helper()
	page, err := e.store.ListOperationLogs(e.t.Context(), domain.OperationLogQuery{Listing: domain.Listing{ProjectID: project, Limit: 100}})
	if err != nil {
		e.t.Fatalf("ListOperationLogs: %v", err)
	}
	return page.Items
}

// theLog is the one operation log of a type; the test fails unless there
// is exactly one.
func (e *runnerEnv) theLog(project string, typ domain.OperationType) *domain.OperationLog {
	e.t.Helper()
	var found []*domain.OperationLog
	for _, l := range e.logs(project) {
		if l.Type == typ {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("%d %s operation logs, want exactly one: %+v", len(found), typ, found)
	}
	return found[0]
}

// deletable reports whether the checkpoint may be deleted now (its delete
// move succeeds), and puts it back to available if it did.
func (e *runnerEnv) deletable(c *domain.Checkpoint) bool {
	e.t.Helper()
	_, err := e.store.SetStatus(e.t.Context(), domain.Transition{ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID,
		From: []domain.Status{domain.StatusAvailable}, To: domain.StatusDeleting})
	if err != nil {
		return false
	}
	e.setStatus(c, domain.StatusDeleting, domain.StatusAvailable)
	return true
}

func key(typ, id string) string { return typ + "#" + id }

func wantStatuses(t *testing.T, task *domain.Task, want map[string]string) {
	t.Helper()
	if fmt.Sprint(task.ResourcesStatus) != fmt.Sprint(want) {
		t.Errorf("resources_status = %v (reasons %v), want %v", task.ResourcesStatus, task.ResourcesReason, want)
	}
}

// putItems writes n items into a table.
func (e *runnerEnv) putItems(table string, n int) {
	e.t.Helper()
	for i := range n {
		if _, err := e.ddb.PutItem(e.t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("item-%d", i)},
		}}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *runnerEnv) items(table string) []string {
	e.t.Helper()
	out, err := e.ddb.Scan(e.t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		e.t.Fatalf("Scan %s: %v", table, err)
	}
	var keys []string
	for _, it := range out.Items {
		keys = append(keys, it["pk"].(*ddbtypes.AttributeValueMemberS).Value)
	}
	sort.Strings(keys)
	return keys
}

// tablesRestoredFrom counts the tables named <source>-...: those restored
// from it (by default name).
func (e *runnerEnv) tablesRestoredFrom(source string) int {
	e.t.Helper()
	tables, err := e.ddb.ListTables(e.t.Context(), &dynamodb.ListTablesInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, name := range tables.TableNames {
		if strings.HasPrefix(name, source+"-") {
			n++
		}
	}
	return n
}

// restoredVolumes are the volumes tagged with the restore.
func (e *runnerEnv) restoredVolumes(restoreID string) []ec2types.Volume {
	e.t.Helper()
	out, err := e.ec2.DescribeVolumes(e.t.Context(), &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + awsplugin.TagRestoreID), Values: []string{restoreID}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Volumes
}

// TestRunnerNoOpRestore: on the No-Op provider a restore touches nothing
// and succeeds at its first step; the checkpoint is marked (not deletable)
// until then, and the restore leaves exactly one operation log.
func TestRunnerNoOpRestore(t *testing.T) {
	e := newRunnerEnv(t)
	c := e.protected(provider.NoOpID, []domain.Resource{
		{ID: "99777fdd-8a5b-45ab-ba2c-52420008103f", Type: "OS::Glance::Image", Name: "cirros"},
		{ID: "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba", Type: "OS::Cinder::Volume", Name: "data"},
	})
	task := e.task(domain.KindRestore, c, nil)
	if e.deletable(c) {
		t.Fatal("a checkpoint being restored could be deleted")
	}
	e.runner.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	got := e.run(task)
	if !got.UpdatedAt.After(got.CreatedAt.Add(9 * time.Minute)) {
		t.Errorf("updated_at %s, created_at %s: want the time of the end", got.UpdatedAt, got.CreatedAt)
	}
	if got.Status != domain.TaskSuccess {
		t.Fatalf("status %s, want success: %v", got.Status, got.ResourcesReason)
	}
	wantStatuses(t, got, map[string]string{
		key("OS::Glance::Image", "99777fdd-8a5b-45ab-ba2c-52420008103f"):  "available",
		key("OS::Cinder::Volume", "33b6bb0b-1157-4e66-8553-1c9e14b1c7ba"): "available",
	})
	if !e.deletable(c) {
		t.Error("the checkpoint cannot be deleted after its restore ended")
	}
	l := e.theLog(c.ProjectID, domain.OpRestore)
	if l.Status != "success" || aws.ToString(l.RestoreID) != task.ID || aws.ToString(l.CheckpointID) != c.ID ||
		aws.ToString(l.PlanID) != c.Plan.ID || l.EndedAt == nil || l.ErrorInfo != nil {
		t.Errorf("restore log %+v, want success of restore %s, checkpoint %s, plan %s, ended, no error", l, task.ID, c.ID, c.Plan.ID)
	}
	// Stepping an ended task again changes nothing.
	if err := e.runner.Step(t.Context(), domain.TaskKey{ID: task.ID, ProjectID: task.ProjectID}); err != nil {
		t.Fatal(err)
	}
	if again := e.getTask(task); again.Version != got.Version {
		t.Errorf("an ended task was written again: version %d → %d", got.Version, again.Version)
	}
}

// TestRunnerRestoresTableVolumeAndInstance: a table (with its items), a
// standalone volume and an instance with its volume, protected by the
// worker, restored by the runner: each made once, tagged as the project's
// and the restore's, recorded in restored_resources.
func TestRunnerRestoresTableVolumeAndInstance(t *testing.T) {
	e := newRunnerEnv(t)
	table := e.sourceTable()
	e.putItems(table, 3)
	volume := e.volume()
	inst, _ := e.instance()
	c := e.protected(provider.AWSID, []domain.Resource{
		{ID: table, Type: provider.TypeDynamoDBTable, Name: "orders"},
		{ID: volume, Type: provider.TypeEC2Volume, Name: "data"},
		{ID: inst, Type: provider.TypeEC2Instance, Name: "web"},
	})
	task := e.task(domain.KindRestore, c, map[string]json.RawMessage{
		provider.TypeDynamoDBTable: json.RawMessage(`{"target_table_name": "` + table + `-copy"}`),
	})
	got := e.run(task)
	if got.Status != domain.TaskSuccess {
		t.Fatalf("status %s, want success: %v %v", got.Status, got.ResourcesStatus, got.ResourcesReason)
	}
	for k, st := range got.ResourcesStatus {
		if st != "available" || got.ResourcesReason[k] != "" {
			t.Errorf("%s: %s %q, want available with no reason", k, st, got.ResourcesReason[k])
		}
		r := got.RestoredResources[k]
		if parts := strings.Split(r.ARN, ":"); r.ID == "" || len(parts) < 6 || parts[3] != "us-east-1" || parts[4] == "" || !strings.HasSuffix(r.ARN, r.ID) {
			t.Errorf("%s: restored %+v, want an id and its ARN, with region and account", k, r)
		}
	}
	if len(got.ResourcesStatus) < 4 {
		t.Errorf("resources_status %v: want the table, the volume, the instance and its volume", got.ResourcesStatus)
	}
	if r := got.RestoredResources[key(provider.TypeDynamoDBTable, table)]; r.ID != table+"-copy" {
		t.Errorf("restored table %+v, want %s-copy", r, table)
	}
	if items := e.items(table + "-copy"); strings.Join(items, ",") != "item-0,item-1,item-2" {
		t.Errorf("restored table has items %v, want item-0..2", items)
	}
	if vols := e.restoredVolumes(task.ID); len(vols) < 2 {
		t.Errorf("%d volumes tagged with the restore, want the standalone one and the instance's", len(vols))
	}
	if l := e.theLog(c.ProjectID, domain.OpRestore); l.Status != "success" {
		t.Errorf("restore log %+v, want success", l)
	}
}

// TestRunnerRedeliveryMakesOneCopy: the same task stepped by two runners
// at once, then its stream record delivered twice and its tick run: one
// restored table, one volume, one operation log.
func TestRunnerRedeliveryMakesOneCopy(t *testing.T) {
	e := newRunnerEnv(t)
	table := e.sourceTable()
	volume := e.volume()
	c := e.protected(provider.AWSID, awsResources(table, volume))
	task := e.task(domain.KindRestore, c, nil)
	k := domain.TaskKey{ID: task.ID, ProjectID: task.ProjectID}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := e.runner.Step(context.Background(), k); err != nil {
				t.Errorf("Step: %v", err)
			}
		})
	}
	wg.Wait()
	for range 2 {
		if err := e.runner.Step(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	e.runner.Now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := e.runner.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := e.run(task)
	if got.Status != domain.TaskSuccess {
		t.Fatalf("status %s: %v", got.Status, got.ResourcesReason)
	}
	target := domain.DefaultTargetTableName(table, task.ID)
	if r := got.RestoredResources[key(provider.TypeDynamoDBTable, table)]; r.ID != target {
		t.Errorf("restored table %q, want the default name %q", r.ID, target)
	}
	if n := e.tablesRestoredFrom(table); n != 1 {
		t.Errorf("%d tables restored from %s, want 1", n, table)
	}
	if vols := e.restoredVolumes(task.ID); len(vols) != 1 {
		t.Errorf("%d volumes restored, want 1", len(vols))
	}
	e.theLog(c.ProjectID, domain.OpRestore)
}

// TestRunnerRestoreFailures: a backup deleted behind the service's back
// and a target name already taken end their resources in error with the
// reason, the restore fail, its log fail with the reasons; the checkpoint
// is deletable again.
func TestRunnerRestoreFailures(t *testing.T) {
	e := newRunnerEnv(t)
	table, taken := e.sourceTable(), e.sourceTable()
	other := e.sourceTable()
	c := e.protected(provider.AWSID, []domain.Resource{
		{ID: table, Type: provider.TypeDynamoDBTable, Name: "a"},
		{ID: other, Type: provider.TypeDynamoDBTable, Name: "b"},
	})
	// The backup of `other` deleted behind the service's back.
	for _, b := range e.backups(other, c) {
		if _, err := e.ddb.DeleteBackup(t.Context(), &dynamodb.DeleteBackupInput{BackupArn: b.BackupArn}); err != nil {
			t.Fatal(err)
		}
	}
	task := e.task(domain.KindRestore, c, map[string]json.RawMessage{
		key(provider.TypeDynamoDBTable, table): json.RawMessage(`{"target_table_name": "` + taken + `"}`),
	})
	got := e.run(task)
	if got.Status != domain.TaskFail {
		t.Fatalf("status %s, want fail", got.Status)
	}
	for _, k := range []string{key(provider.TypeDynamoDBTable, table), key(provider.TypeDynamoDBTable, other)} {
		if got.ResourcesStatus[k] != "error" || got.ResourcesReason[k] == "" {
			t.Errorf("%s: %s %q, want error with a reason", k, got.ResourcesStatus[k], got.ResourcesReason[k])
		}
	}
	if r := got.ResourcesReason[key(provider.TypeDynamoDBTable, table)]; !strings.Contains(r, "already exists") {
		t.Errorf("taken target's reason %q, want it to say the table already exists", r)
	}
	if r := got.ResourcesReason[key(provider.TypeDynamoDBTable, other)]; !strings.Contains(r, "no longer exists") {
		t.Errorf("deleted backup's reason %q, want it to say the backup no longer exists", r)
	}
	l := e.theLog(c.ProjectID, domain.OpRestore)
	if l.Status != "fail" || l.ErrorInfo == nil || !strings.Contains(*l.ErrorInfo, "already exists") {
		t.Errorf("restore log %+v, want fail with the reasons", l)
	}
	if !e.deletable(c) {
		t.Error("the checkpoint cannot be deleted after its restore failed")
	}
}

// TestRunnerTimeout: a task past its deadline is ended fail by the tick,
// its unfinished resources "timed out".
func TestRunnerTimeout(t *testing.T) {
	e := newRunnerEnv(t)
	c := e.protected(provider.AWSID, awsResources(e.sourceTable(), e.volume()))
	task := e.task(domain.KindVerification, c, nil)
	e.runner.Now = func() time.Time { return time.Now().Add(domain.DefaultTaskTimeout + time.Hour) }
	res, err := e.runner.Tick(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stepped < 1 {
		t.Fatalf("tick stepped %d tasks, want the due one", res.Stepped)
	}
	got := e.getTask(task)
	if got.Status != domain.TaskFail {
		t.Fatalf("status %s, want fail", got.Status)
	}
	for k, st := range got.ResourcesStatus {
		if st != "error" || got.ResourcesReason[k] != "timed out" {
			t.Errorf("%s: %s %q, want error \"timed out\"", k, st, got.ResourcesReason[k])
		}
	}
	if l := e.theLog(c.ProjectID, domain.OpVerify); l.Status != "fail" {
		t.Errorf("verify log %+v, want fail", l)
	}
	if !e.deletable(c) {
		t.Error("the checkpoint cannot be deleted after its verification timed out")
	}
}

// TestRunnerVerifications: an intact checkpoint verifies success (with a
// restore test of its table reporting the items); after its snapshot is
// deleted behind the service's back, a new verification fails on that
// resource alone.
func TestRunnerVerifications(t *testing.T) {
	e := newRunnerEnv(t)
	table := e.sourceTable()
	e.putItems(table, 4)
	volume := e.volume()
	c := e.protected(provider.AWSID, awsResources(table, volume))
	task := e.task(domain.KindVerification, c, map[string]json.RawMessage{
		provider.TypeDynamoDBTable: json.RawMessage(`{"restore_test": true}`),
	})
	got := e.run(task)
	if got.Status != domain.TaskSuccess {
		t.Fatalf("status %s, want success: %v", got.Status, got.ResourcesReason)
	}
	tk, vk := key(provider.TypeDynamoDBTable, table), key(provider.TypeEC2Volume, volume)
	wantStatuses(t, got, map[string]string{tk: "available", vk: "available"})
	if r := got.ResourcesReason[tk]; !strings.HasPrefix(r, "restore test: 4 items restored") {
		t.Errorf("table's reason %q, want the restore test's count of 4 items", r)
	}
	l := e.theLog(c.ProjectID, domain.OpVerify)
	if l.Status != "success" || l.ExtraInfo["verification_id"] != task.ID {
		t.Errorf("verify log %+v, want success with extra_info.verification_id %s", l, task.ID)
	}

	for _, s := range e.snapshots(c, volume) {
		if _, err := e.ec2.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: s.SnapshotId}); err != nil {
			t.Fatal(err)
		}
	}
	damaged := e.run(e.task(domain.KindVerification, c, nil))
	if damaged.Status != domain.TaskFail {
		t.Fatalf("status %s, want fail", damaged.Status)
	}
	wantStatuses(t, damaged, map[string]string{tk: "available", vk: "error"})
	if damaged.ResourcesReason[vk] == "" {
		t.Error("the damaged volume has no reason")
	}
}

// TestRunnerStream: the runner function's handler takes a stream record
// of a new task (as the template's filter delivers it) and the scheduled
// tick on one entry point.
func TestRunnerStream(t *testing.T) {
	e := newRunnerEnv(t)
	c := e.protected(provider.NoOpID, []domain.Resource{{ID: "99777fdd-8a5b-45ab-ba2c-52420008103f", Type: "OS::Glance::Image", Name: "cirros"}})
	task := e.task(domain.KindVerification, c, nil)
	record := fmt.Sprintf(`{"Records": [{"eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {
		"Keys": {"id": {"S": %q}, "project_id": {"S": %q}},
		"NewImage": {"status": {"S": "in_progress"}}, "SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES"}}]}`, task.ID, task.ProjectID)
	out, err := e.runner.Handle(t.Context(), json.RawMessage(record))
	if err != nil {
		t.Fatal(err)
	}
	if resp, ok := out.(interface{ String() string }); ok {
		t.Log(resp.String())
	}
	if got := e.getTask(task); got.Status != domain.TaskSuccess {
		t.Fatalf("after the stream record: %s, want success", got.Status)
	}
	if _, err := e.runner.Handle(t.Context(), json.RawMessage(`{"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}`)); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

// TestRunnerCrashMidStep: a step that started the work and crashed before
// recording it (the plugin's calls made, the task never written) leaves
// no second copy: the next steps find the volume and the table it made.
func TestRunnerCrashMidStep(t *testing.T) {
	e := newRunnerEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.protected(provider.AWSID, awsResources(table, volume))
	task := e.task(domain.KindRestore, c, nil)
	// The crashed step: the plugins' first calls, as the runner makes
	// them, and nothing recorded.
	plugins, _ := e.runner.Plugins(provider.AWSID)
	pt := provider.Task{Kind: task.Kind, ID: task.ID, ProjectID: task.ProjectID, CheckpointID: c.ID, CreatedAt: task.CreatedAt}
	g := graph(t, c)
	for _, n := range g {
		it := provider.TaskItem{Resource: domain.Resource{ID: n.ID, Type: n.Type, Name: n.Name}, Saved: n.Info, Params: json.RawMessage(`{}`)}
		if s := plugins[n.Type].Restore(t.Context(), pt, it); s.Err != nil || !s.Started {
			t.Fatalf("the crashed step's %s: %+v", n.Type, s)
		}
	}
	if got := e.getTask(task); got.Version != 0 || len(got.ResourcesStatus) != 0 {
		t.Fatalf("the crashed step recorded something: %+v", got)
	}
	got := e.run(task)
	if got.Status != domain.TaskSuccess {
		t.Fatalf("status %s: %v", got.Status, got.ResourcesReason)
	}
	if vols := e.restoredVolumes(task.ID); len(vols) != 1 || aws.ToString(vols[0].VolumeId) != got.RestoredResources[key(provider.TypeEC2Volume, volume)].ID {
		t.Errorf("volumes tagged with the restore: %d, want the one the crashed step made, recorded", len(vols))
	}
	if n := e.tablesRestoredFrom(table); n != 1 {
		t.Errorf("%d tables restored from %s, want 1", n, table)
	}
}

// TestRunnerTimeoutAborts: past its deadline a verification's resource
// whose plugin has work under way (a restore test's scratch table) is
// stepped once more with Abort, to clean up, and ends "timed out"; one
// with nothing under way ends "timed out" without a call. The plugin is a
// stand-in: moto makes a scratch table ready at once, so no real step is
// ever left midway at a deadline (awsplugin's TestRestoreTestAbort drives
// the real one's abort).
func TestRunnerTimeoutAborts(t *testing.T) {
	e := newRunnerEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.protected(provider.AWSID, awsResources(table, volume))
	stub := &slowPlugin{}
	e.runner.Plugins = func(string) (map[string]provider.TaskPlugin, bool) {
		return map[string]provider.TaskPlugin{provider.TypeDynamoDBTable: stub, provider.TypeEC2Volume: stub}, true
	}
	task := e.task(domain.KindVerification, c, nil)
	k := domain.TaskKey{ID: task.ID, ProjectID: task.ProjectID}
	if err := e.runner.Step(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	e.runner.Now = func() time.Time { return time.Now().Add(domain.DefaultTaskTimeout + time.Minute) }
	got := e.run(task)
	if got.Status != domain.TaskFail {
		t.Fatalf("status %s, want fail", got.Status)
	}
	for rk, st := range got.ResourcesStatus {
		if st != "error" || got.ResourcesReason[rk] != "timed out" {
			t.Errorf("%s: %s %q, want error \"timed out\"", rk, st, got.ResourcesReason[rk])
		}
	}
	if fmt.Sprint(stub.aborted) != fmt.Sprint([]string{table}) {
		t.Errorf("aborted %v, want the table's step alone (the one with work under way)", stub.aborted)
	}
}

// slowPlugin never finishes; the table's step leaves state behind.
type slowPlugin struct {
	mu      sync.Mutex
	aborted []string
}

func (p *slowPlugin) Restore(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	return p.Verify(ctx, t, it)
}

func (p *slowPlugin) Verify(_ context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	if t.Abort {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.aborted = append(p.aborted, it.Resource.ID)
		return provider.Step{Done: true}
	}
	if it.Resource.Type == provider.TypeDynamoDBTable {
		return provider.Step{State: json.RawMessage(`{"scratch": "made"}`)}
	}
	return provider.Step{}
}

// TestRunnerLogStartRetried: a first step whose operation log cannot be
// started fails before it claims the task, and the next step starts it:
// the log exists while the task runs.
func TestRunnerLogStartRetried(t *testing.T) {
	e := newRunnerEnv(t)
	c := e.protected(provider.AWSID, awsResources(e.sourceTable(), e.volume()))
	task := e.task(domain.KindRestore, c, nil)
	// A fake for a branch no real server gives on demand: the log table
	// unreachable for one call.
	e.runner.Store = &failingLogStart{RunnerStore: e.store, fail: 1}
	k := domain.TaskKey{ID: task.ID, ProjectID: task.ProjectID}
	if err := e.runner.Step(t.Context(), k); err == nil {
		t.Fatal("a step whose log could not be started succeeded")
	}
	if got := e.getTask(task); got.Version != 0 {
		t.Fatalf("the failed step claimed the task (version %d)", got.Version)
	}
	if err := e.runner.Step(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	if got := e.getTask(task); got.Status == domain.TaskInProgress {
		if l := e.theLog(c.ProjectID, domain.OpRestore); l.Status != "in_progress" {
			t.Errorf("log of a running restore: %+v", l)
		}
	}
	e.run(task)
	e.theLog(c.ProjectID, domain.OpRestore)
}

type failingLogStart struct {
	worker.RunnerStore
	fail int
}

func (f *failingLogStart) StartOperationLog(ctx context.Context, l *domain.OperationLog) error {
	if f.fail > 0 {
		f.fail--
		return fmt.Errorf("injected: operation log table unreachable")
	}
	return f.RunnerStore.StartOperationLog(ctx, l)
}

// TestRunnerStreamNearItsDeadline: a stream batch handled with too little
// time left for a step hands its record back (a batch item failure) and
// steps nothing.
func TestRunnerStreamNearItsDeadline(t *testing.T) {
	e := newRunnerEnv(t)
	c := e.protected(provider.NoOpID, []domain.Resource{{ID: "99777fdd-8a5b-45ab-ba2c-52420008103f", Type: "OS::Glance::Image", Name: "cirros"}})
	task := e.task(domain.KindRestore, c, nil)
	ctx, cancel := context.WithTimeout(t.Context(), worker.TickReserve-time.Second)
	defer cancel()
	rec := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "7",
		Keys:     map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(task.ID), "project_id": events.NewStringAttribute(task.ProjectID)},
		NewImage: map[string]events.DynamoDBAttributeValue{"status": events.NewStringAttribute("in_progress")}}}
	resp, err := e.runner.HandleStream(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "7" {
		t.Fatalf("HandleStream = %+v, %v; want the record handed back", resp, err)
	}
	if got := e.getTask(task); got.Version != 0 {
		t.Errorf("the task was stepped (version %d)", got.Version)
	}
}
