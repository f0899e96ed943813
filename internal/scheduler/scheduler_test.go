package scheduler_test

// The scheduler against DynamoDB (moto_server, testenv) with a clock the
// tests move: patterns fire at the right scheduled times over a simulated
// day, the end of a trigger, the window, missed occurrences, duplicate and
// concurrent delivery, a plan gone, disabled operations and operations
// created after an occurrence.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/local/tables"
	"karbor/internal/provider"
	"karbor/internal/schedule"
	"karbor/internal/scheduler"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// day0 is the simulated day's start.
var day0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// clock is a time the test sets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type env struct {
	t       *testing.T
	st      *store.Store
	tables  map[string]string // logical id in template.yaml → name
	clock   *clock
	sched   *scheduler.Scheduler
	project string
	plan    *domain.Plan
}

func newEnv(t *testing.T) *env {
	t.Helper()
	plans, checkpoints := testenv.Tables(t)
	names := map[string]string{"PlansTable": plans, "CheckpointsTable": checkpoints, "OperationLogsTable": testenv.OperationLogsTable(t),
		"SchedulesTable": testenv.Table(t, tables.Schedules, "schedules"), "QuotasTable": testenv.Table(t, tables.Quotas, "quotas")}
	st := storeOver(testenv.DynamoDB(t), names)
	c := &clock{t: day0}
	dom := &domain.Service{Store: st, Providers: provider.Lookup, Now: c.Now}
	e := &env{t: t, st: st, tables: names, clock: c, project: domain.NewID(),
		sched: &scheduler.Scheduler{Domain: dom, Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	e.plan = &domain.Plan{ID: domain.NewID(), ProjectID: e.project, Name: "orders", ProviderID: provider.NoOpID, Status: "suspended",
		Parameters: map[string]json.RawMessage{}, Resources: []domain.Resource{{ID: "orders", Type: "OS::Nova::Server", Name: "orders"}}, CreatedAt: day0.Add(-time.Hour)}
	if err := st.CreatePlan(t.Context(), e.plan); err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	return e
}

// storeOver is a store of the tables (by logical id) over db.
func storeOver(db *dynamodb.Client, tables map[string]string) *store.Store {
	return store.New(db, tables["PlansTable"], tables["CheckpointsTable"]).WithOperationLogs(tables["OperationLogsTable"]).
		WithSchedules(tables["SchedulesTable"]).WithQuotas(tables["QuotasTable"])
}

// trigger creates a trigger of pattern from start (its NextAt the first
// occurrence at or after start), window 900 s.
func (e *env) trigger(format, pattern string, start time.Time, end *time.Time) *domain.Trigger {
	e.t.Helper()
	p, err := schedule.Parse(format, pattern)
	if err != nil {
		e.t.Fatalf("Parse %q: %v", pattern, err)
	}
	next, ok := p.Next(start, start.Add(-time.Second))
	if !ok {
		e.t.Fatalf("%q has no occurrence after %s", pattern, start)
	}
	tr := &domain.Trigger{ID: domain.NewID(), ProjectID: e.project, Name: pattern, Type: domain.TriggerTypeTime,
		Properties: domain.TriggerProperties{Format: format, Pattern: pattern, StartTime: start, EndTime: end, Window: 900},
		CreatedAt:  start.Add(-time.Hour), NextAt: &next}
	if err := e.st.CreateTrigger(e.t.Context(), tr); err != nil {
		e.t.Fatalf("CreateTrigger: %v", err)
	}
	return tr
}

// operation creates an enabled operation of tr on the env's plan,
// created at created.
func (e *env) operation(tr *domain.Trigger, typ domain.ScheduledOperationType, created time.Time) *domain.ScheduledOperation {
	e.t.Helper()
	op := &domain.ScheduledOperation{ID: domain.NewID(), ProjectID: e.project, Name: "op", Type: typ, TriggerID: tr.ID,
		Definition: domain.OperationDefinition{ProviderID: e.plan.ProviderID, PlanID: e.plan.ID},
		Enabled:    true, EnabledAt: created, CreatedAt: created}
	if typ == domain.OpTypeRetentionProtect {
		n := int64(2)
		op.Definition.MaxBackups = &n
	}
	if err := e.st.CreateScheduledOperation(e.t.Context(), op); err != nil {
		e.t.Fatalf("CreateScheduledOperation: %v", err)
	}
	return op
}

// tick runs one tick at at.
func (e *env) tick(at time.Time) scheduler.TickResult {
	e.t.Helper()
	e.clock.Set(at)
	res, err := e.sched.Tick(e.t.Context())
	if err != nil {
		e.t.Fatalf("Tick at %s: %v", at, err)
	}
	if res.Failed != 0 {
		e.t.Fatalf("Tick at %s: %+v, want no trigger failed", at, res)
	}
	return res
}

// logs are the operation's logs of type typ, oldest first.
func (e *env) logs(op *domain.ScheduledOperation, typ domain.OperationType) []*domain.OperationLog {
	e.t.Helper()
	page, err := e.st.ListOperationLogs(e.t.Context(), domain.OperationLogQuery{
		Listing: domain.Listing{ProjectID: e.project, Ascending: true, Limit: domain.MaxPageLimit}, ScheduledOperationID: op.ID, Type: typ})
	if err != nil {
		e.t.Fatalf("ListOperationLogs: %v", err)
	}
	return page.Items
}

// checkpoints are the plan's checkpoints.
func (e *env) checkpoints() []*domain.Checkpoint {
	e.t.Helper()
	page, err := e.st.ListCheckpoints(e.t.Context(), domain.CheckpointQuery{
		Listing: domain.Listing{ProjectID: e.project, Ascending: true, Limit: domain.MaxPageLimit}, ProviderID: e.plan.ProviderID, PlanID: e.plan.ID})
	if err != nil {
		e.t.Fatalf("ListCheckpoints: %v", err)
	}
	return page.Items
}

func (e *env) nextAt(tr *domain.Trigger) *time.Time {
	e.t.Helper()
	got, err := e.st.GetTrigger(e.t.Context(), tr.ProjectID, tr.ID)
	if err != nil {
		e.t.Fatalf("GetTrigger: %v", err)
	}
	return got.NextAt
}

func scheduledTimes(logs []*domain.OperationLog) []string {
	var out []string
	for _, l := range logs {
		s, _ := l.ExtraInfo["scheduled_time"].(string)
		out = append(out, s)
	}
	return out
}

func stamps(ts ...time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, domain.Timestamp(t))
	}
	return out
}

// TestFiresOverADay: hourly, daily at a time, every three hours (crontab)
// and every five hours (calendar RRULE) over a simulated day, ticked
// 20 s after each occurrence (only when one is due, as a one-minute
// tick would find it): each operation fires exactly at its occurrences,
// each fire a checkpoint of id FireID with the fire's extra_info and one
// protect log.
func TestFiresOverADay(t *testing.T) {
	e := newEnv(t)
	type tc struct {
		format, pattern string
		want            []time.Time
	}
	var hourly, every3, every5 []time.Time
	for h := 0; h < 24; h++ {
		hourly = append(hourly, day0.Add(time.Duration(h)*time.Hour))
		if h%3 == 0 {
			every3 = append(every3, day0.Add(time.Duration(h)*time.Hour))
		}
		if h%5 == 0 {
			every5 = append(every5, day0.Add(time.Duration(h)*time.Hour))
		}
	}
	cases := []tc{
		{domain.FormatCrontab, "0 * * * *", hourly},
		{domain.FormatCrontab, "30 2 * * *", []time.Time{day0.Add(2*time.Hour + 30*time.Minute)}},
		{domain.FormatCrontab, "0 */3 * * *", every3},
		{domain.FormatCalendar, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nRRULE:FREQ=HOURLY;INTERVAL=5\nEND:VEVENT\nEND:VCALENDAR", every5},
	}
	var triggers []*domain.Trigger
	var ops []*domain.ScheduledOperation
	for _, c := range cases {
		tr := e.trigger(c.format, c.pattern, day0, nil)
		triggers = append(triggers, tr)
		ops = append(ops, e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute)))
	}
	end := day0.Add(24 * time.Hour)
	ticks := 0
	for {
		var due *time.Time
		for _, tr := range triggers {
			if n := e.nextAt(tr); n != nil && (due == nil || n.Before(*due)) {
				due = n
			}
		}
		if due == nil || !due.Before(end) {
			break
		}
		e.tick(due.Add(20 * time.Second))
		if ticks++; ticks > 100 {
			t.Fatal("more than 100 ticks for one day: a trigger does not advance")
		}
	}
	total := 0
	for i, c := range cases {
		logs := e.logs(ops[i], domain.OpProtect)
		if got, want := scheduledTimes(logs), stamps(c.want...); !slices.Equal(got, want) {
			t.Errorf("%s: fires at %v, want %v", c.pattern, got, want)
		}
		for _, l := range logs {
			scheduled, _ := time.Parse(time.RFC3339, l.ExtraInfo["scheduled_time"].(string))
			id := domain.FireID(ops[i].ID, scheduled)
			if l.Status != string(domain.StatusProtecting) || l.CheckpointID == nil || *l.CheckpointID != id || l.ExtraInfo["trigger_id"] != triggers[i].ID {
				t.Errorf("%s: protect log %+v; want protecting, checkpoint %s, trigger_id %s", c.pattern, l, id, triggers[i].ID)
			}
			cp, err := e.st.GetCheckpoint(t.Context(), e.project, id)
			if err != nil {
				t.Fatalf("%s: checkpoint %s of the fire at %s: %v", c.pattern, id, scheduled, err)
			}
			if want := `{"created_by":"operation-engine","scheduled_operation_id":"` + ops[i].ID + `","trigger_id":"` + triggers[i].ID + `"}`; string(cp.ExtraInfo) != want {
				t.Errorf("checkpoint extra_info %s, want %s", cp.ExtraInfo, want)
			}
		}
		total += len(c.want)
	}
	if n := len(e.checkpoints()); n != total {
		t.Errorf("%d checkpoints, want %d (one per fire)", n, total)
	}
}

// TestEndTime: an hourly trigger ending at 03:00 fires at 00:00 to 03:00
// inclusive, then has no next occurrence and leaves by_due.
func TestEndTime(t *testing.T) {
	e := newEnv(t)
	end := day0.Add(3 * time.Hour)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, &end)
	op := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	for h := 0; h <= 5; h++ {
		e.tick(day0.Add(time.Duration(h)*time.Hour + time.Minute))
	}
	want := stamps(day0, day0.Add(time.Hour), day0.Add(2*time.Hour), day0.Add(3*time.Hour))
	if got := scheduledTimes(e.logs(op, domain.OpProtect)); !slices.Equal(got, want) {
		t.Errorf("fires at %v, want %v", got, want)
	}
	if n := e.nextAt(tr); n != nil {
		t.Errorf("NextAt %s after the end, want none", n)
	}
	due, err := e.st.DueTriggers(t.Context(), day0.AddDate(10, 0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(due, func(k domain.TriggerKey) bool { return k.ID == tr.ID }) {
		t.Errorf("the ended trigger is still in by_due: %v", due)
	}
}

// TestWindowExceeded: a tick later than the window logs the fire skipped
// with the reason, makes no checkpoint and no retention log.
func TestWindowExceeded(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeRetentionProtect, day0.Add(-time.Minute))
	if res := e.tick(day0.Add(901 * time.Second)); res.Skipped != 1 || res.Fired != 0 {
		t.Errorf("tick %+v, want one skipped", res)
	}
	logs := e.logs(op, domain.OpProtect)
	if len(logs) != 1 {
		t.Fatalf("%d protect logs, want 1", len(logs))
	}
	l := logs[0]
	if l.Status != domain.OpSkipped || l.ErrorInfo == nil || *l.ErrorInfo != "not started within the window of 900 s" ||
		l.EndedAt == nil || l.CheckpointID != nil || l.ExtraInfo["scheduled_time"] != domain.Timestamp(day0) || l.ExtraInfo["missed_occurrences"] != nil {
		t.Errorf("log %+v (error_info %v, extra_info %v); want skipped, the window's reason, ended, no checkpoint, no missed_occurrences", l, deref(l.ErrorInfo), l.ExtraInfo)
	}
	if n := len(e.checkpoints()); n != 0 {
		t.Errorf("%d checkpoints, want none", n)
	}
	if r := e.logs(op, domain.OpRetention); len(r) != 0 {
		t.Errorf("retention logs %v, want none for a skipped fire", r)
	}
	if n := e.nextAt(tr); n == nil || !n.Equal(day0.Add(time.Hour)) {
		t.Errorf("NextAt %v, want 01:00", n)
	}
}

// TestMissedOccurrences: after an interruption only the latest missed
// occurrence is considered: run when its window is open (00:00 to 04:00
// neither run nor logged), else skipped with missed_occurrences.
func TestMissedOccurrences(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	if res := e.tick(day0.Add(5*time.Hour + 10*time.Minute)); res.Fired != 1 {
		t.Errorf("tick at 05:10: %+v, want one fire", res)
	}
	if res := e.tick(day0.Add(9*time.Hour + 30*time.Minute)); res.Skipped != 1 {
		t.Errorf("tick at 09:30: %+v, want one skipped", res)
	}
	logs := e.logs(op, domain.OpProtect)
	if got, want := scheduledTimes(logs), stamps(day0.Add(5*time.Hour), day0.Add(9*time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("logs at %v, want %v", got, want)
	}
	if logs[0].Status != string(domain.StatusProtecting) || logs[0].ExtraInfo["missed_occurrences"] != nil {
		t.Errorf("05:00's log %+v, want protecting without missed_occurrences", logs[0])
	}
	if logs[1].Status != domain.OpSkipped || logs[1].ExtraInfo["missed_occurrences"] != float64(4) {
		t.Errorf("09:00's log %+v, want skipped with missed_occurrences 4 (06:00, 07:00, 08:00 and 09:00 passed unrun)", logs[1].ExtraInfo)
	}
	if n := len(e.checkpoints()); n != 1 {
		t.Errorf("%d checkpoints, want 1", n)
	}
	if n := e.nextAt(tr); n == nil || !n.Equal(day0.Add(10*time.Hour)) {
		t.Errorf("NextAt %v, want 10:00", n)
	}
}

// TestDuplicateDelivery: a fire delivered again (the trigger moved back,
// as after a crash before the advance; two schedulers ticking at once)
// makes one checkpoint and one set of logs; a late redelivery of a fire
// whose checkpoint was made does not log it skipped.
func TestDuplicateDelivery(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeRetentionProtect, day0.Add(-time.Minute))
	key := domain.TriggerKey{ID: tr.ID, ProjectID: tr.ProjectID}
	back := func(from time.Time) {
		if err := e.st.AdvanceTrigger(t.Context(), key, from, &day0); err != nil {
			t.Fatalf("move the trigger back: %v", err)
		}
	}
	e.tick(day0.Add(time.Minute))
	back(day0.Add(time.Hour))
	e.tick(day0.Add(2 * time.Minute))
	// Two schedulers at once.
	back(day0.Add(time.Hour))
	other := *e.sched
	var wg sync.WaitGroup
	for _, s := range []*scheduler.Scheduler{e.sched, &other} {
		wg.Go(func() {
			if _, err := s.Tick(context.Background()); err != nil {
				t.Errorf("concurrent Tick: %v", err)
			}
		})
	}
	wg.Wait()
	// Late, with the checkpoint made: not skipped.
	back(day0.Add(time.Hour))
	e.tick(day0.Add(20 * time.Minute))

	if n := len(e.checkpoints()); n != 1 {
		t.Errorf("%d checkpoints, want 1", n)
	}
	protect := e.logs(op, domain.OpProtect)
	if len(protect) != 1 || protect[0].Status != string(domain.StatusProtecting) {
		t.Errorf("protect logs %+v, want one, protecting", protect)
	}
	if r := e.logs(op, domain.OpRetention); len(r) != 1 || r[0].CheckpointID == nil || *r[0].CheckpointID != domain.FireID(op.ID, day0) {
		t.Errorf("retention logs %+v, want one naming the fire's checkpoint", r)
	}
}

// TestWorkerEndKeepsFireInfo: the worker ends a fire's protect log as it
// ends any checkpoint's (no extra_info, no scheduled_operation_id): the
// fire's stay.
func TestWorkerEndKeepsFireInfo(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	e.tick(day0.Add(time.Minute))
	id := domain.FireID(op.ID, day0)
	provider, plan := e.plan.ProviderID, e.plan.ID
	workers := &domain.OperationLog{ID: domain.OperationLogID(domain.OpProtect, id, ""), ProjectID: e.project, Type: domain.OpProtect,
		CheckpointID: &id, PlanID: &plan, ProviderID: &provider, Status: string(domain.StatusProtecting), StartedAt: day0.Add(2 * time.Minute)}
	if err := e.st.StartOperationLog(t.Context(), workers); err != nil {
		t.Fatal(err)
	}
	end := *workers
	end.Status = string(domain.StatusAvailable)
	if err := e.st.EndOperationLog(t.Context(), &end); err != nil {
		t.Fatal(err)
	}
	l, err := e.st.GetOperationLog(t.Context(), e.project, workers.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != "available" || l.ScheduledOperationID == nil || *l.ScheduledOperationID != op.ID ||
		l.ExtraInfo["scheduled_time"] != domain.Timestamp(day0) || l.ExtraInfo["trigger_id"] != tr.ID || !l.StartedAt.Equal(day0.Add(time.Minute)) {
		t.Errorf("log after the worker's end %+v (extra_info %v), want available keeping the fire's scheduled_operation_id, extra_info and start", l, l.ExtraInfo)
	}
}

// TestPlanDeleted: a fire whose plan is gone logs error with the reason,
// no checkpoint (checkpoint_id null), and the retention step's log names
// no checkpoint; the trigger moves on.
func TestPlanDeleted(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeRetentionProtect, day0.Add(-time.Minute))
	// Directly: the API refuses to delete a plan in use.
	_, err := testenv.DynamoDB(t).DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(store.PlansTableOf(e.st)),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: e.plan.ID}, "project_id": &types.AttributeValueMemberS{Value: e.project}}})
	if err != nil {
		t.Fatal(err)
	}
	if res := e.tick(day0.Add(time.Minute)); res.Refused != 1 {
		t.Errorf("tick %+v, want one refused", res)
	}
	logs := e.logs(op, domain.OpProtect)
	if len(logs) != 1 {
		t.Fatalf("%d protect logs, want 1", len(logs))
	}
	l := logs[0]
	if want := "Plan " + e.plan.ID + " could not be found."; l.Status != string(domain.StatusError) || deref(l.ErrorInfo) != want || l.CheckpointID != nil || l.EndedAt == nil {
		t.Errorf("protect log %+v (error_info %q), want error %q, no checkpoint_id, ended", l, deref(l.ErrorInfo), want)
	}
	// Out of by_checkpoint too: no log lists under the id never made.
	byCheckpoint, err := e.st.ListOperationLogs(t.Context(), domain.OperationLogQuery{
		Listing: domain.Listing{ProjectID: e.project, Limit: 10}, CheckpointID: domain.FireID(op.ID, day0)})
	if err != nil || len(byCheckpoint.Items) != 0 {
		t.Errorf("logs listed under the fire's checkpoint id: %v, %v; want none", byCheckpoint, err)
	}
	if r := e.logs(op, domain.OpRetention); len(r) != 1 || r[0].CheckpointID != nil || r[0].ExtraInfo["max_backups"] != float64(2) {
		t.Errorf("retention logs %+v, want one with no checkpoint and max_backups 2", r)
	}
	if n := e.nextAt(tr); n == nil || !n.Equal(day0.Add(time.Hour)) {
		t.Errorf("NextAt %v, want 01:00", n)
	}
}

// TestDisabledAndEnabled: a disabled operation's occurrences pass with no
// run and no log; enabling it catches nothing up (the latest missed
// occurrence was before it was enabled); the next one fires.
func TestDisabledAndEnabled(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	off, on := false, true
	if _, err := e.st.UpdateScheduledOperation(t.Context(), e.project, op.ID, domain.ScheduledOperationUpdate{Enabled: &off, At: day0.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	e.tick(day0.Add(time.Minute))
	if _, err := e.st.UpdateScheduledOperation(t.Context(), e.project, op.ID, domain.ScheduledOperationUpdate{Enabled: &on, At: day0.Add(2*time.Hour + 30*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// 01:00 and 02:00 passed unticked; 02:00 is before the enabling.
	e.tick(day0.Add(2*time.Hour + 40*time.Minute))
	if l := e.logs(op, domain.OpProtect); len(l) != 0 {
		t.Errorf("logs %v while disabled and before the enabling, want none", scheduledTimes(l))
	}
	e.tick(day0.Add(3*time.Hour + time.Minute))
	if got, want := scheduledTimes(e.logs(op, domain.OpProtect)), stamps(day0.Add(3*time.Hour)); !slices.Equal(got, want) {
		t.Errorf("fires at %v, want %v", got, want)
	}
}

// TestOperationCreatedAfterOccurrence: an operation created after an
// occurrence (its tick still to come) does not fire for it.
func TestOperationCreatedAfterOccurrence(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	early := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	late := e.operation(tr, domain.OpTypeProtect, day0.Add(5*time.Minute))
	e.tick(day0.Add(6 * time.Minute))
	e.tick(day0.Add(time.Hour + time.Minute))
	if got, want := scheduledTimes(e.logs(early, domain.OpProtect)), stamps(day0, day0.Add(time.Hour)); !slices.Equal(got, want) {
		t.Errorf("the earlier operation fires at %v, want %v", got, want)
	}
	if got, want := scheduledTimes(e.logs(late, domain.OpProtect)), stamps(day0.Add(time.Hour)); !slices.Equal(got, want) {
		t.Errorf("the operation created at 00:05 fires at %v, want %v", got, want)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestRefusedFireDeliveredAgain: a fire refused (quota 0), delivered again
// after the refusal passed (quota lifted, the trigger not advanced: another
// operation of it failed), stays refused: no checkpoint behind a log that
// says error.
func TestRefusedFireDeliveredAgain(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	zero := int64(0)
	if _, err := e.st.UpdateQuota(ctx, e.project, domain.QuotaUpdate{domain.QuotaCheckpoints: &zero}); err != nil {
		t.Fatal(err)
	}
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	if res := e.tick(day0.Add(time.Minute)); res.Refused != 1 {
		t.Fatalf("first delivery %+v, want 1 refused", res)
	}
	// Delivered again: the trigger put back to 00:00, the quota lifted.
	back := day0
	if err := e.st.AdvanceTrigger(ctx, domain.TriggerKey{ID: tr.ID, ProjectID: tr.ProjectID}, day0.Add(time.Hour), &back); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateQuota(ctx, e.project, domain.QuotaUpdate{domain.QuotaCheckpoints: nil}); err != nil {
		t.Fatal(err)
	}
	if res := e.tick(day0.Add(2 * time.Minute)); res.Refused != 1 || res.Fired != 0 {
		t.Errorf("second delivery %+v, want the fire refused again", res)
	}
	if cps := e.checkpoints(); len(cps) != 0 {
		t.Errorf("%d checkpoints made by a fire logged refused", len(cps))
	}
	if l := e.logs(op, domain.OpProtect); len(l) != 1 || l[0].Status != string(domain.StatusError) {
		t.Errorf("protect logs %v, want the one error log", scheduledTimes(l))
	}
}

// TestTriggerUpdateKeepsDueOccurrence: an update of a trigger's properties
// between an occurrence and the tick that fires it leaves that occurrence
// due: it fires (or is skipped) by the scheduler's rules, never dropped.
func TestTriggerUpdateKeepsDueOccurrence(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeProtect, day0.Add(-time.Minute))
	e.clock.Set(day0.Add(20 * time.Second))
	if _, err := e.sched.Domain.UpdateTrigger(t.Context(), e.project, tr.ID, domain.TriggerChange{Properties: map[string]json.RawMessage{"window": json.RawMessage("1000")}}); err != nil {
		t.Fatal(err)
	}
	e.tick(day0.Add(time.Minute))
	if got, want := scheduledTimes(e.logs(op, domain.OpProtect)), stamps(day0); !slices.Equal(got, want) {
		t.Errorf("fires %v after an update at 00:00:20, want %v", got, want)
	}
	if n := e.nextAt(tr); n == nil || !n.Equal(day0.Add(time.Hour)) {
		t.Errorf("next occurrence %v, want 01:00", n)
	}
}

// TestOperationEnabledWithinTheSecond: an operation created or enabled
// within the second of an occurrence (stored truncated to that second)
// does not fire for it.
func TestOperationEnabledWithinTheSecond(t *testing.T) {
	e := newEnv(t)
	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeProtect, day0) // created at 00:00:00.x
	e.tick(day0.Add(time.Minute))
	if l := e.logs(op, domain.OpProtect); len(l) != 0 {
		t.Errorf("fires %v, want none for the occurrence of its creation's second", scheduledTimes(l))
	}
}
