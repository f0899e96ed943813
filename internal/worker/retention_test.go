package worker_test

// The retention step of retention_protect fires (domain.RunRetention) over
// moto, and the worker's and sweeper's calls of it when a fire's
// checkpoint leaves protecting. The fires are written as the scheduler
// writes them: the checkpoint (id FireID, created_by operation-engine), the
// protect log and the retention log in progress.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/worker"
)

// schedule is one retention_protect operation on a plan of its own
// project, at the No-Op provider.
type schedule struct {
	e     *env
	plan  *domain.Plan
	op    string // the scheduled operation's id
	rules domain.RetentionRules
}

var noopResources = []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}

func (e *env) schedule(maxBackups, days int64) *schedule {
	e.t.Helper()
	plan := &domain.Plan{
		ID: domain.NewID(), ProjectID: newProjectID(), Name: "nightly", ProviderID: provider.NoOpID,
		Status: domain.PlanStarted, Resources: noopResources, CreatedAt: time.Now(),
	}
	if err := e.store.CreatePlan(e.t.Context(), plan); err != nil {
		e.t.Fatalf("CreatePlan: %v", err)
	}
	s := &schedule{e: e, plan: plan, op: domain.NewID()}
	if maxBackups > 0 {
		s.rules.MaxBackups = &maxBackups
	}
	if days > 0 {
		s.rules.RetentionDuration = &days
	}
	return s
}

// checkpoint writes a checkpoint of the plan in any status, created at.
func (s *schedule) checkpoint(st domain.Status, at time.Time, extra string) *domain.Checkpoint {
	s.e.t.Helper()
	c := &domain.Checkpoint{
		ID: domain.NewID(), ProjectID: s.plan.ProjectID, ProviderID: s.plan.ProviderID, Status: st,
		Plan:      domain.ProtectionPlan{ID: s.plan.ID, Name: s.plan.Name, ProviderID: s.plan.ProviderID, Resources: s.plan.Resources},
		ExtraInfo: json.RawMessage(extra), CreatedAt: at, UpdatedAt: at,
	}
	if st != domain.StatusProtecting {
		g := `[{"0x0": ["OS::Nova::Server", "server-1", "Web server", {"status": "available"}]}, []]`
		c.ResourceGraph = &g
	}
	if err := s.e.store.CreateCheckpoint(s.e.t.Context(), c); err != nil {
		s.e.t.Fatalf("CreateCheckpoint: %v", err)
	}
	return c
}

// fire writes what the scheduler writes for the occurrence at scheduled:
// the fire's checkpoint (protecting) when made, its protect log, and the
// retention log in progress. It returns the fire's id and checkpoint (nil
// when none was made).
func (s *schedule) fire(scheduled time.Time, made bool) (string, *domain.Checkpoint) {
	s.e.t.Helper()
	ctx := s.e.t.Context()
	id := domain.FireID(s.op, scheduled)
	trigger := domain.NewID()
	plan, providerID, op := s.plan.ID, s.plan.ProviderID, s.op
	var c *domain.Checkpoint
	var own *string
	protect := &domain.OperationLog{
		ID: domain.OperationLogID(domain.OpProtect, id, ""), ProjectID: s.plan.ProjectID, Type: domain.OpProtect,
		PlanID: &plan, ProviderID: &providerID, ScheduledOperationID: &op, Status: string(domain.StatusProtecting), StartedAt: scheduled,
		ExtraInfo: map[string]any{"scheduled_time": domain.Timestamp(scheduled), "trigger_id": trigger},
	}
	if made {
		c = &domain.Checkpoint{
			ID: id, ProjectID: s.plan.ProjectID, ProviderID: providerID, Status: domain.StatusProtecting,
			Plan:      domain.ProtectionPlan{ID: plan, Name: s.plan.Name, ProviderID: providerID, Resources: s.plan.Resources},
			ExtraInfo: json.RawMessage(fmt.Sprintf(`{"created_by":"operation-engine","trigger_id":%q,"scheduled_operation_id":%q}`, trigger, op)),
			CreatedAt: scheduled, UpdatedAt: scheduled,
		}
		own = &c.ID
		protect.CheckpointID = own
	} else {
		protect.Status, protect.EndedAt = string(domain.StatusError), &scheduled
		why := "Maximum number of checkpoints allowed (1) exceeded"
		protect.ErrorInfo = &why
	}
	if err := s.e.store.StartOperationLog(ctx, protect); err != nil {
		s.e.t.Fatalf("protect log: %v", err)
	}
	if made {
		if err := s.e.store.CreateCheckpoint(ctx, c); err != nil {
			s.e.t.Fatalf("CreateCheckpoint: %v", err)
		}
	}
	ret := &domain.OperationLog{
		ID: domain.OperationLogID(domain.OpRetention, id, ""), ProjectID: s.plan.ProjectID, Type: domain.OpRetention,
		CheckpointID: own, PlanID: &plan, ProviderID: &providerID, ScheduledOperationID: &op,
		Status: string(domain.TaskInProgress), StartedAt: scheduled,
		ExtraInfo: map[string]any{"max_backups": s.rules.MaxBackups, "retention_duration": s.rules.RetentionDuration, "deleted": nil, "skipped": nil},
	}
	if err := s.e.store.StartOperationLog(ctx, ret); err != nil {
		s.e.t.Fatalf("retention log: %v", err)
	}
	return id, c
}

func (s *schedule) retentionLog(fireID string) *domain.OperationLog {
	s.e.t.Helper()
	l, err := s.e.store.GetOperationLog(s.e.t.Context(), s.plan.ProjectID, domain.OperationLogID(domain.OpRetention, fireID, ""))
	if err != nil {
		s.e.t.Fatalf("retention log of fire %s: %v", fireID, err)
	}
	return l
}

// wantEnded checks the fire's retention log ended in status with these
// counts.
func (s *schedule) wantEnded(fireID, status string, deleted, skipped int) {
	s.e.t.Helper()
	l := s.retentionLog(fireID)
	want := map[string]any{"max_backups": num(s.rules.MaxBackups), "retention_duration": num(s.rules.RetentionDuration), "deleted": float64(deleted), "skipped": float64(skipped)}
	if l.Status != status || l.EndedAt == nil || fmt.Sprint(l.ExtraInfo) != fmt.Sprint(want) ||
		l.ScheduledOperationID == nil || *l.ScheduledOperationID != s.op {
		s.e.t.Errorf("retention log of fire %s: %s ended %v, extra_info %v, scheduled operation %v; want %s, ended, %v, %s",
			fireID, l.Status, l.EndedAt, l.ExtraInfo, l.ScheduledOperationID, status, want, s.op)
	}
}

func num(n *int64) any {
	if n == nil {
		return nil
	}
	return float64(*n)
}

func (s *schedule) run(dom *domain.Service, fireID string) {
	s.e.t.Helper()
	if err := dom.RunRetention(s.e.t.Context(), s.plan.ProjectID, fireID); err != nil {
		s.e.t.Fatalf("RunRetention: %v", err)
	}
}

// statuses reads each checkpoint's status now.
func (s *schedule) statuses(cs ...*domain.Checkpoint) []domain.Status {
	s.e.t.Helper()
	var out []domain.Status
	for _, c := range cs {
		out = append(out, s.e.get(c).Status)
	}
	return out
}

// deleteLogs returns the delete logs of a checkpoint.
func (e *env) deleteLogs(c *domain.Checkpoint) []*domain.OperationLog {
	e.t.Helper()
	var out []*domain.OperationLog
	for _, l := range e.logsOf(c) {
		if l.Type == domain.OpDelete {
			out = append(out, l)
		}
	}
	return out
}

// finishDeletions delivers the deleting records of these checkpoints to
// the worker and checks each ends deleted with one delete log naming the
// scheduled operation.
func (s *schedule) finishDeletions(w *worker.Worker, cs ...*domain.Checkpoint) {
	s.e.t.Helper()
	for _, c := range cs {
		s.e.handle(w, s.e.record(c, "MODIFY", domain.StatusDeleting))
		if got := s.e.get(c); got.Status != domain.StatusDeleted {
			s.e.t.Errorf("checkpoint %s is %s after its deletion, want deleted", c.ID, got.Status)
		}
		logs := s.e.deleteLogs(c)
		if len(logs) != 1 || logs[0].Status != string(domain.StatusDeleted) || logs[0].ScheduledOperationID == nil || *logs[0].ScheduledOperationID != s.op {
			s.e.t.Errorf("delete logs of %s: %s; want one, deleted, with scheduled_operation_id %s", c.ID, dumpLogs(logs), s.op)
		}
	}
}

func dumpLogs(logs []*domain.OperationLog) string {
	b, _ := json.Marshal(logs)
	return string(b)
}

// oneOlder writes an operation keeping 1 available checkpoint, one
// available checkpoint of its plan an hour old, and a fire now (its
// checkpoint protecting).
func (e *env) oneOlder() (s *schedule, old *domain.Checkpoint, fireID string, own *domain.Checkpoint) {
	e.t.Helper()
	s = e.schedule(1, 0)
	scheduled := time.Now().Truncate(time.Second)
	old = s.checkpoint(domain.StatusAvailable, scheduled.Add(-time.Hour), `{"created_by":"manual"}`)
	fireID, own = s.fire(scheduled, true)
	return s, old, fireID, own
}

// noopWorker is a worker over dom for No-Op checkpoints (no AWS call).
func (e *env) noopWorker(t *testing.T, dom *domain.Service) *worker.Worker {
	return &worker.Worker{Domain: dom, Clients: noClients{t}, Log: e.log, Ownership: accountMode}
}

// domainOver is a domain over the env's tables through db.
func (e *env) domainOver(db store.API) *domain.Service {
	return &domain.Service{Store: e.storeOver(db), Providers: provider.Lookup}
}

func TestRunRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.store.WithTasks(testenv.TasksTable(t))
	dom := &domain.Service{Store: e.store, Providers: provider.Lookup}
	w := e.noopWorker(t, dom)
	s := e.schedule(2, 0)
	scheduled := time.Now().Add(-time.Minute).Truncate(time.Second)
	day := 24 * time.Hour
	at := func(days float64) time.Time { return scheduled.Add(-time.Duration(days * float64(day))) }
	manual := `{"created_by":"manual"}`
	a1 := s.checkpoint(domain.StatusAvailable, at(1), manual)
	a2 := s.checkpoint(domain.StatusAvailable, at(2), manual)
	busy := s.checkpoint(domain.StatusAvailable, at(3), manual)
	a4 := s.checkpoint(domain.StatusAvailable, at(10), manual)
	e1 := s.checkpoint(domain.StatusError, at(2.5), manual)
	e0 := s.checkpoint(domain.StatusError, at(0.5), manual) // newer than the 2nd newest available
	others := []*domain.Checkpoint{
		s.checkpoint(domain.StatusProtecting, at(20), manual),
		s.checkpoint(domain.StatusDeleting, at(21), manual),
		s.checkpoint(domain.StatusDeleted, at(22), manual),
		s.checkpoint(domain.StatusErrorDeleting, at(23), manual),
	}
	task := &domain.Task{
		Kind: domain.KindRestore, ID: domain.NewID(), ProjectID: busy.ProjectID, ProviderID: busy.ProviderID,
		CheckpointID: busy.ID, PlanID: busy.Plan.ID, Parameters: map[string]json.RawMessage{},
		Status: domain.TaskInProgress, CreatedAt: scheduled, UpdatedAt: scheduled, DueAt: scheduled,
	}
	if _, err := e.store.CreateTask(ctx, task); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	// Another plan's and another operation's: never read.
	other := e.schedule(1, 0)
	otherOld := other.checkpoint(domain.StatusAvailable, at(30), manual)
	otherNew := other.checkpoint(domain.StatusAvailable, at(1), manual)

	fireID, own := s.fire(scheduled, true)
	// While the fire's checkpoint is protecting, nothing happens.
	s.run(dom, fireID)
	if l := s.retentionLog(fireID); l.Status != string(domain.TaskInProgress) || l.EndedAt != nil {
		t.Fatalf("retention log while protecting: %s, ended %v; want in_progress", l.Status, l.EndedAt)
	}
	e.setStatus(own, domain.StatusProtecting, domain.StatusAvailable)

	s.run(dom, fireID)
	// Kept: own and a1 (the 2 newest available), e0 (newer than a1), the
	// busy one (skipped); deleted: a2, a4 and e1 (older than a1).
	want := []domain.Status{domain.StatusAvailable, domain.StatusAvailable, domain.StatusDeleting, domain.StatusAvailable, domain.StatusDeleting, domain.StatusDeleting, domain.StatusError}
	if got := s.statuses(own, a1, a2, busy, a4, e1, e0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("own, a1, a2, busy, a4, e1, e0 are %v, want %v", got, want)
	}
	for _, c := range []*domain.Checkpoint{a2, a4, e1} {
		if got := e.get(c); got.DeletingBy != s.op {
			t.Errorf("%s deleting by %q, want the scheduled operation %s", c.ID, got.DeletingBy, s.op)
		}
	}
	wantOthers := []domain.Status{domain.StatusProtecting, domain.StatusDeleting, domain.StatusDeleted, domain.StatusErrorDeleting, domain.StatusAvailable, domain.StatusAvailable}
	if got := s.statuses(append(others, otherOld, otherNew)...); fmt.Sprint(got) != fmt.Sprint(wantOthers) {
		t.Errorf("other statuses and the other plan's are %v, want %v", got, wantOthers)
	}
	s.wantEnded(fireID, string(domain.TaskSuccess), 3, 1)

	// A second call changes nothing: no write to the checkpoints.
	counting := &countingUpdates{API: e.db, table: e.checkpoints}
	again := e.domainOver(counting)
	s.run(again, fireID)
	if counting.succeeded != 0 {
		t.Errorf("a second call wrote %d checkpoint changes, want none", counting.succeeded)
	}
	s.wantEnded(fireID, string(domain.TaskSuccess), 3, 1)

	// The worker deletes them, each with one delete log of the operation.
	s.finishDeletions(w, a2, a4, e1)
}

// A crash after the deletions started, before the log's end: the next
// call deletes nothing twice and ends the log.
func TestRunRetentionAfterCrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, old, fireID, own := e.oneOlder()
	e.setStatus(own, domain.StatusProtecting, domain.StatusAvailable)

	crashing := &failingLogEnds{API: e.db, table: e.oplogs}
	crashing.failures.Store(1)
	dom := e.domainOver(crashing)
	if err := dom.RunRetention(t.Context(), s.plan.ProjectID, fireID); err == nil {
		t.Fatal("RunRetention succeeded with the log's end failing")
	}
	if got := e.get(old); got.Status != domain.StatusDeleting {
		t.Fatalf("old checkpoint is %s, want deleting", got.Status)
	}
	counting := &countingUpdates{API: e.db, table: e.checkpoints}
	s.run(e.domainOver(counting), fireID)
	if counting.succeeded != 0 {
		t.Errorf("the retry wrote %d checkpoint changes, want none", counting.succeeded)
	}
	if l := s.retentionLog(fireID); l.Status != string(domain.TaskSuccess) || l.EndedAt == nil {
		t.Errorf("retention log after the retry: %s, ended %v; want success", l.Status, l.EndedAt)
	}
	s.finishDeletions(e.noopWorker(t, e.worker.Domain), old)
}

// A fire that made no checkpoint (quota): retention by age runs at once,
// over the plan's checkpoints; a fire without a retention log is nothing.
func TestRunRetentionWithoutCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.schedule(0, 2)
	scheduled := time.Now().Truncate(time.Second)
	young := s.checkpoint(domain.StatusAvailable, scheduled.Add(-47*time.Hour), `{"created_by":"manual"}`)
	old := s.checkpoint(domain.StatusError, scheduled.Add(-49*time.Hour), `{"created_by":"manual"}`)
	fireID, _ := s.fire(scheduled, false)
	s.run(e.worker.Domain, fireID)
	if got := s.statuses(young, old); fmt.Sprint(got) != fmt.Sprint([]domain.Status{domain.StatusAvailable, domain.StatusDeleting}) {
		t.Errorf("young, old are %v, want available, deleting", got)
	}
	s.wantEnded(fireID, string(domain.TaskSuccess), 1, 0)
	if l := s.retentionLog(fireID); l.CheckpointID != nil {
		t.Errorf("retention log names checkpoint %s, want none", *l.CheckpointID)
	}
	// No log: nothing read beyond it, nothing done.
	counting := &countingCalls{API: e.db}
	s.run(e.domainOver(counting), domain.FireID(s.op, scheduled.Add(time.Hour)))
	if got := counting.String(); got != "GetItem "+e.oplogs+" 1" {
		t.Errorf("RunRetention of a fire without a log called %s, want one GetItem of its log", got)
	}
}

// A deletion that fails (not a refusal) ends the log in fail, naming it.
func TestRunRetentionFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, old, fireID, own := e.oneOlder()
	e.setStatus(own, domain.StatusProtecting, domain.StatusAvailable)
	failing := &failingLogEnds{API: e.db, table: e.checkpoints}
	failing.failures.Store(1)
	s.run(e.domainOver(failing), fireID)
	l := s.retentionLog(fireID)
	if l.Status != string(domain.TaskFail) || l.ErrorInfo == nil || !strings.Contains(*l.ErrorInfo, old.ID) {
		t.Errorf("retention log: %s, error_info %v; want fail naming %s", l.Status, l.ErrorInfo, old.ID)
	}
	if got := e.get(old); got.Status != domain.StatusAvailable {
		t.Errorf("old is %s, want available", got.Status)
	}
}

// countingCalls counts the store's DynamoDB calls by operation and table.
type countingCalls struct {
	store.API
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingCalls) count(op, table *string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[aws.ToString(op)+" "+aws.ToString(table)]++
}

func (c *countingCalls) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out string
	for k, n := range c.calls {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s %d", k, n)
	}
	return out
}

func (c *countingCalls) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count(aws.String("GetItem"), in.TableName)
	return c.API.GetItem(ctx, in, o...)
}

func (c *countingCalls) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count(aws.String("Query"), in.TableName)
	return c.API.Query(ctx, in, o...)
}

// The worker runs a fire's retention when protection ends; a checkpoint
// that is no fire's costs no read of logs or listing.
func TestWorkerRunsRetentionOfFire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.schedule(1, 0)
	scheduled := time.Now().Truncate(time.Second)
	old := s.checkpoint(domain.StatusAvailable, scheduled.Add(-time.Hour), `{"created_by":"manual"}`)

	// A manual checkpoint of the same plan: protected, nothing else.
	counting := &countingCalls{API: e.db}
	manualWorker := e.noopWorker(t, e.domainOver(counting))
	manual := s.checkpoint(domain.StatusProtecting, scheduled.Add(-time.Minute), `{"created_by":"manual"}`)
	if got := e.protect(manualWorker, manual); got.Status != domain.StatusAvailable {
		t.Fatalf("manual checkpoint is %s, want available", got.Status)
	}
	if got := counting.String(); got != "GetItem "+e.checkpoints+" 1" {
		t.Errorf("protecting a checkpoint of no fire called %s, want only the checkpoint's GetItem", got)
	}
	if got := s.statuses(old); got[0] != domain.StatusAvailable {
		t.Errorf("old is %s after a manual protection, want available", got[0])
	}

	// The fire's: its retention runs once it is available (max 1: the
	// manual and old ones go).
	w := e.noopWorker(t, e.worker.Domain)
	fireID, own := s.fire(scheduled, true)
	if got := e.protect(w, own); got.Status != domain.StatusAvailable {
		t.Fatalf("fire's checkpoint is %s, want available", got.Status)
	}
	s.wantEnded(fireID, string(domain.TaskSuccess), 2, 0)
	s.finishDeletions(w, old, manual)
}

// A retention that fails in the worker (the store unreachable) returns the
// record; its redelivery, finding the checkpoint available, runs it
// (settleLog).
func TestWorkerRetriesRetentionOnRedelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, old, fireID, own := e.oneOlder()
	insert := e.record(own, "INSERT", domain.StatusProtecting)

	failing := &failingQueries{API: e.db}
	failing.failures.Store(1)
	broken := e.noopWorker(t, e.domainOver(failing))
	resp, err := broken.Handle(t.Context(), eventOf(insert))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record returned", resp, err)
	}
	if got := s.statuses(own, old); fmt.Sprint(got) != fmt.Sprint([]domain.Status{domain.StatusAvailable, domain.StatusAvailable}) {
		t.Fatalf("own, old are %v, want available, available", got)
	}
	if l := s.retentionLog(fireID); l.Status != string(domain.TaskInProgress) {
		t.Fatalf("retention log is %s, want in_progress", l.Status)
	}
	w := e.noopWorker(t, e.worker.Domain)
	e.handle(w, insert)
	s.wantEnded(fireID, string(domain.TaskSuccess), 1, 0)
	s.finishDeletions(w, old)
}

// failingQueries fails the next Query calls (a listing).
type failingQueries struct {
	store.API
	failures atomic.Int32
}

func (f *failingQueries) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, errInjected
	}
	return f.API.Query(ctx, in, o...)
}

// The sweeper ending a fire's stuck checkpoint in error runs its
// retention (max 1: the one available is kept; the error one is the fire's).
func TestSweeperRunsRetentionOfStuckFire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.schedule(1, 0)
	scheduled := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	kept := s.checkpoint(domain.StatusAvailable, scheduled.Add(-time.Hour), `{"created_by":"manual"}`)
	old := s.checkpoint(domain.StatusAvailable, scheduled.Add(-2*time.Hour), `{"created_by":"manual"}`)
	fireID, own := s.fire(scheduled, true)
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Log: e.log, StuckAfter: time.Hour}
	res, err := sweeper.Sweep(t.Context())
	if err != nil || res.Protecting != 1 || res.Failed != 0 {
		t.Fatalf("Sweep = %+v, %v; want the fire's checkpoint ended", res, err)
	}
	if got := s.statuses(own, kept, old); fmt.Sprint(got) != fmt.Sprint([]domain.Status{domain.StatusError, domain.StatusAvailable, domain.StatusDeleting}) {
		t.Errorf("own, kept, old are %v, want error, available, deleting", got)
	}
	s.wantEnded(fireID, string(domain.TaskSuccess), 1, 0)
}

// Six fires with max_backups 2, each protected by the worker and its
// deletions done by it: exactly 2 available at the end, every deletion
// logged with the operation.
func TestRetentionKeepsMaxBackupsOverFires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.schedule(2, 0)
	w := e.noopWorker(t, e.worker.Domain)
	start := time.Now().Add(-6 * time.Hour).Truncate(time.Second)
	var fires []*domain.Checkpoint
	for i := range 6 {
		fireID, own := s.fire(start.Add(time.Duration(i)*time.Hour), true)
		fires = append(fires, own)
		if got := e.protect(w, own); got.Status != domain.StatusAvailable {
			t.Fatalf("fire %d's checkpoint is %s, want available", i, got.Status)
		}
		wantDeleted := 0
		if i >= 2 {
			wantDeleted = 1
			s.finishDeletions(w, fires[i-2])
		}
		s.wantEnded(fireID, string(domain.TaskSuccess), wantDeleted, 0)
	}
	page, err := e.store.ListCheckpoints(t.Context(), domain.CheckpointQuery{
		Listing: domain.Listing{ProjectID: s.plan.ProjectID, Limit: 100}, ProviderID: s.plan.ProviderID, PlanID: s.plan.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	var available []string
	for _, c := range page.Items {
		if c.Status == domain.StatusAvailable {
			available = append(available, c.ID)
		} else {
			t.Errorf("checkpoint %s is %s, listed", c.ID, c.Status)
		}
	}
	if fmt.Sprint(available) != fmt.Sprint([]string{fires[5].ID, fires[4].ID}) {
		t.Errorf("available: %v, want the last two fires' %s %s", available, fires[5].ID, fires[4].ID)
	}
}

// The worker may protect a fire's checkpoint before the scheduler has
// started the retention log: its call finds no log and does nothing; the
// scheduler's call after starting the log runs the step.
func TestRetentionLogWrittenAfterProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, old, fireID, own := e.oneOlder()
	ret := s.retentionLog(fireID)
	if _, err := e.ddb.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{
		TableName: aws.String(e.oplogs), Key: map[string]ddbtypes.AttributeValue{
			"id": &ddbtypes.AttributeValueMemberS{Value: ret.ID}, "project_id": &ddbtypes.AttributeValueMemberS{Value: ret.ProjectID},
		},
	}); err != nil {
		t.Fatalf("DeleteItem: %v", err)
	}
	if got := e.protect(e.noopWorker(t, e.worker.Domain), own); got.Status != domain.StatusAvailable {
		t.Fatalf("fire's checkpoint is %s, want available", got.Status)
	}
	if got := e.get(old); got.Status != domain.StatusAvailable {
		t.Fatalf("old is %s without a retention log, want available", got.Status)
	}
	if err := e.store.StartOperationLog(t.Context(), ret); err != nil {
		t.Fatal(err)
	}
	s.run(e.worker.Domain, fireID)
	s.wantEnded(fireID, string(domain.TaskSuccess), 1, 0)
	if got := e.get(old); got.Status != domain.StatusDeleting {
		t.Errorf("old is %s, want deleting", got.Status)
	}
}

// laggingIndex lists one checkpoint as it was before protection ended, as
// a global secondary index may for a moment.
type laggingIndex struct {
	domain.Store
	id string
}

func (l laggingIndex) ListCheckpoints(ctx context.Context, q domain.CheckpointQuery) (*domain.Page[*domain.Checkpoint], error) {
	page, err := l.Store.ListCheckpoints(ctx, q)
	if err != nil {
		return nil, err
	}
	for i, c := range page.Items {
		if c.ID == l.id {
			stale := *c
			stale.Status = domain.StatusProtecting
			page.Items[i] = &stale
		}
	}
	return page, err
}

// The fire's own checkpoint counts as available as read, even while the
// plan's index still lists it protecting.
func TestRetentionCountsOwnAsRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, old, fireID, own := e.oneOlder()
	e.setStatus(own, domain.StatusProtecting, domain.StatusAvailable)
	s.run(&domain.Service{Store: laggingIndex{Store: e.store, id: own.ID}, Providers: provider.Lookup}, fireID)
	if got := e.get(old); got.Status != domain.StatusDeleting {
		t.Errorf("old is %s, want deleting (max_backups 1, the fire's own available)", got.Status)
	}
	s.wantEnded(fireID, string(domain.TaskSuccess), 1, 0)
}
