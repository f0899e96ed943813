package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/domain"
	"karbor/internal/provider"
)

// The runner does restores and verifications (domain.Task) in steps. A
// step reads the task and its checkpoint, asks each unfinished resource's
// plugin for one step (start the work, or look at it once: never a wait),
// and writes what it learnt, conditional on the task's version; when every
// resource has ended it ends the task, removing its mark from the
// checkpoint. A task is stepped when it is made (the tasks table's stream
// delivers its INSERT) and then whenever it is due (the tick: every minute
// in AWS, a few seconds under make run), so that no invocation waits for a
// table or a volume to become ready, and a task whose stream record was
// lost is still stepped. One past the deadline (Timeout after its
// creation) is ended fail, its unfinished resources "timed out".

// RunnerStore is what the runner reads and writes.
type RunnerStore interface {
	domain.TaskStore
	domain.OperationLogStore
	GetCheckpoint(ctx context.Context, projectID, id string) (*domain.Checkpoint, error)
}

// Runner steps restores and verifications.
type Runner struct {
	Store RunnerStore
	// Plugins returns a provider's task plugins by resource type; ok is
	// false for a provider that touches nothing (No-Op, OS Infra): every
	// resource of its tasks ends available at the first step.
	Plugins func(providerID string) (plugins map[string]provider.TaskPlugin, ok bool)
	Log     *slog.Logger
	// Timeout bounds a task's life; zero means domain.DefaultTaskTimeout.
	Timeout time.Duration
	// Poll is how long after a step that left work unfinished the task is
	// due again; zero means DefaultPoll.
	Poll time.Duration
	// Lease bounds a step (Store.ClaimTask); zero means DefaultLease.
	Lease time.Duration
	// Batch bounds how many due tasks one tick steps; zero means 50.
	Batch int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultPoll is the time between two steps of a task in AWS: the tick
// runs every minute and steps what is due.
const DefaultPoll = 30 * time.Second

// DefaultLease is how long a step may hold a task: the runner function's
// timeout (300 s in template.yaml).
const DefaultLease = 5 * time.Minute

// osInfraReason is what an OS Infra task says of each resource.
const osInfraReason = "nothing to restore: no OpenStack cloud stands behind this service"

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Handle is the runner function's handler: a batch of the tasks table's
// stream records, or the scheduled tick (any other event).
func (r *Runner) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.Records != nil {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("stream event: %w", err)
		}
		return r.HandleStream(ctx, ev)
	}
	return r.Tick(ctx)
}

// TaskJob reports whether a stream record of the tasks table asks for a
// step: a task made in_progress (TaskTrigger).
func TaskJob(rec events.DynamoDBEventRecord) bool {
	return rec.EventName == TaskTrigger.Event && stringOf(rec.Change.NewImage, "status") == string(TaskTrigger.Status)
}

// TaskTrigger is the change of the tasks table that wakes the runner; the
// template's filter pattern is this (a test compares them).
var TaskTrigger = struct {
	Event  string
	Status domain.TaskStatus
}{"INSERT", domain.TaskInProgress}

// TaskFilterPattern is TaskTrigger as the event source's filter pattern.
func TaskFilterPattern() string {
	return fmt.Sprintf(`{"eventName": [%q], "dynamodb": {"NewImage": {"status": {"S": [%q]}}}}`, TaskTrigger.Event, TaskTrigger.Status)
}

// HandleStream steps each new task of the batch, in order; it stops at
// the first it cannot step (the store unreachable) and reports it, so
// that Lambda retries from there.
func (r *Runner) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for _, rec := range ev.Records {
		if !TaskJob(rec) {
			continue
		}
		key := domain.TaskKey{ID: stringOf(rec.Change.Keys, "id"), ProjectID: stringOf(rec.Change.Keys, "project_id")}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < TickReserve {
			// Too little time left for a step: Lambda hands this record
			// and the rest over again.
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			return resp, nil
		}
		if err := r.Step(ctx, key); err != nil {
			r.Log.Error("task step failed", "task_id", key.ID, "project_id", key.ProjectID, "error", err.Error())
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			return resp, nil
		}
	}
	return resp, nil
}

// TickResult counts what one tick did.
type TickResult struct {
	Stepped int `json:"stepped"`
	Failed  int `json:"failed"` // steps that failed (logged); due again
}

// Tick steps the tasks that are due, oldest first.
func (r *Runner) Tick(ctx context.Context) (TickResult, error) {
	batch := r.Batch
	if batch <= 0 {
		batch = 50
	}
	var res TickResult
	keys, err := r.Store.DueTasks(ctx, r.now(), batch)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelTasks)
	for _, k := range keys {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < TickReserve {
			// A step begun now might not end within the invocation.
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := r.Step(ctx, k)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// One task that cannot be stepped must not hold back the
				// others; it is due again when its lease lapses.
				r.Log.Error("task step failed", "task_id", k.ID, "project_id", k.ProjectID, "error", err.Error())
				res.Failed++
				return
			}
			res.Stepped++
		})
	}
	wg.Wait()
	return res, nil
}

// parallelTasks is how many tasks a tick steps at once.
const parallelTasks = 4

// TickReserve is the least time left in the invocation for a tick, or a
// batch of the stream, to begin another step: a step's calls are short, but a restore test's
// count goes on for up to 2 minutes (awsplugin.CountWait).
const TickReserve = 150 * time.Second

// Step does one step of a task. An error means the step should be tried
// again (the store or AWS unreachable); what the plugins report of a
// resource, failures included, is the task's progress, not an error.
func (r *Runner) Step(ctx context.Context, key domain.TaskKey) error {
	if key.ID == "" || key.ProjectID == "" {
		return errors.New("task key without id or project")
	}
	t, err := r.Store.GetTask(ctx, "", key.ProjectID, key.ID)
	if errors.Is(err, domain.ErrNotFound) {
		r.Log.Info("task not found; nothing to do", "task_id", key.ID, "project_id", key.ProjectID)
		return nil
	}
	if err != nil {
		return err
	}
	if t.Status != domain.TaskInProgress {
		return nil
	}
	log := r.Log.With("task_id", t.ID, "kind", string(t.Kind), "project_id", t.ProjectID, "checkpoint_id", t.CheckpointID)
	opLog := operationLogOf(t)
	if t.Version == 0 {
		// Before the claim: a start that fails leaves the task at version
		// 0, and the next step starts the log again (a put-if-absent).
		if err := r.Store.StartOperationLog(ctx, opLog); err != nil {
			return fmt.Errorf("operation log: %w", err)
		}
	}
	// One step at a time: two runners (the stream's and the tick's, or a
	// redelivery) never call the plugins for one task at once, so that
	// no find-then-create of theirs can race another.
	now := r.now()
	t, err = r.Store.ClaimTask(ctx, t, now, now.Add(r.lease()))
	if errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrNotFound) {
		log.Info("task stepped by another runner now; skipped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	initMaps(t)

	var items []provider.TaskItem
	c, err := r.Store.GetCheckpoint(ctx, t.ProjectID, t.CheckpointID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		// Marked, a checkpoint cannot be deleted; one that is gone all
		// the same leaves nothing to work from.
		r.endAll(t, "the checkpoint no longer exists")
	case err != nil:
		return err
	default:
		items = taskItems(c, t)
	}
	// Ended already, in the state last saved: a step that crashed between
	// that save and the end. Nothing is stepped again.
	saved := allEnded(t, items)
	if !saved && c != nil {
		if err := r.stepItems(ctx, log, t, c.ProviderID, items, now.After(t.CreatedAt.Add(r.timeout()))); err != nil {
			return err
		}
	}
	if !allEnded(t, items) {
		t.DueAt = r.now().Add(r.poll())
		if _, err := r.save(ctx, t); err != nil {
			if errors.Is(err, domain.ErrConflict) {
				log.Info("task changed meanwhile; step not recorded")
				return nil
			}
			return fmt.Errorf("save step: %w", err)
		}
		return nil
	}
	if !saved {
		// The outcome is saved before the log is ended from it: a step
		// that fails after this ends the same outcome, never another.
		if t, err = r.save(ctx, t); err != nil {
			if errors.Is(err, domain.ErrConflict) {
				log.Info("task changed meanwhile; step not recorded")
				return nil
			}
			return fmt.Errorf("save step: %w", err)
		}
	}
	return r.end(ctx, log, t, opLog)
}

// end ends the task's operation log, then the task (and its mark on the
// checkpoint), from the outcome saved in t.
func (r *Runner) end(ctx context.Context, log *slog.Logger, t *domain.Task, opLog *domain.OperationLog) error {
	t.Status = domain.TaskSuccess
	var failed []string
	for k, st := range t.ResourcesStatus {
		if st != domain.ResourceAvailable {
			t.Status = domain.TaskFail
			failed = append(failed, k+": "+t.ResourcesReason[k])
		}
	}
	sort.Strings(failed)
	opLog.Status = string(t.Status)
	end := r.now()
	opLog.EndedAt = &end
	if len(failed) > 0 {
		info := domain.ClipJSON(strings.Join(failed, "; "), domain.MaxInfoText)
		opLog.ErrorInfo = &info
	}
	if err := r.Store.EndOperationLog(ctx, opLog); err != nil {
		return fmt.Errorf("operation log: %w", err)
	}
	t.UpdatedAt = end
	if _, err := r.Store.EndTask(ctx, t); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			log.Info("task changed meanwhile; end not recorded")
			return nil
		}
		return fmt.Errorf("end task: %w", err)
	}
	log.Info("task ended", "status", string(t.Status))
	return nil
}

// save writes a step. One that DynamoDB refuses for its size (a task of
// very many resources with long reasons) is written smaller: without the
// plugins' state, with reasons cut short; the task still ends.
func (r *Runner) save(ctx context.Context, t *domain.Task) (*domain.Task, error) {
	t.UpdatedAt = r.now()
	written, err := r.Store.SaveTaskStep(ctx, t)
	if !errors.Is(err, domain.ErrTooLarge) {
		return written, err
	}
	r.Log.Warn("task step too large to store; writing it smaller", "task_id", t.ID, "error", err.Error())
	t.Work = map[string]json.RawMessage{}
	for k, why := range t.ResourcesReason {
		t.ResourcesReason[k] = domain.ClipJSON(why, shortReason)
	}
	return r.Store.SaveTaskStep(ctx, t)
}

// shortReason bounds each reason of a task too large to store whole.
const shortReason = 64

func initMaps(t *domain.Task) {
	if t.ResourcesStatus == nil {
		t.ResourcesStatus = map[string]string{}
	}
	if t.ResourcesReason == nil {
		t.ResourcesReason = map[string]string{}
	}
	if t.Work == nil {
		t.Work = map[string]json.RawMessage{}
	}
	if t.Kind == domain.KindRestore && t.RestoredResources == nil {
		t.RestoredResources = map[string]domain.Restored{}
	}
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return domain.DefaultTaskTimeout
}

// lease is how long a runner's claim on a task lasts: longer than any
// step (the restore test's count stops after awsplugin.CountWait), within
// the function's timeout; a runner that crashed mid-step holds the task
// this long.
func (r *Runner) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return DefaultLease
}

func (r *Runner) poll() time.Duration {
	if r.Poll > 0 {
		return r.Poll
	}
	return DefaultPoll
}

// endAll ends every resource the task knows of in error.
func (r *Runner) endAll(t *domain.Task, why string) {
	for k, st := range t.ResourcesStatus {
		if !resourceEnded(st) {
			t.ResourcesStatus[k] = domain.ResourceError
			t.ResourcesReason[k] = why
		}
	}
	if len(t.ResourcesStatus) == 0 {
		// Nothing was known: the task fails all the same, with the reason.
		t.ResourcesStatus["checkpoint#"+t.CheckpointID] = domain.ResourceError
		t.ResourcesReason["checkpoint#"+t.CheckpointID] = why
	}
}

// parallelSteps bounds the plugin steps in flight at once, as the protect
// plugins' Parallelism.
const parallelSteps = 4

// stepItems steps every unfinished resource of the task once and records
// what each step gave in t.
//
// Past the task's deadline (late) no work starts: each unfinished resource
// ends "timed out", except that one whose work the plugin must clean up
// (a verification's scratch table) is stepped once more with Task.Abort,
// and ends when its plugin says so (or AbortGrace later).
func (r *Runner) stepItems(ctx context.Context, log *slog.Logger, t *domain.Task, providerID string, items []provider.TaskItem, late bool) error {
	plugins, ok := r.Plugins(providerID)
	if !ok {
		reason := ""
		if providerID == provider.OSInfraID && t.Kind == domain.KindRestore {
			reason = osInfraReason
		}
		for _, it := range items {
			for _, k := range append([]string{itemKey(it)}, dependentKeys(it)...) {
				t.ResourcesStatus[k] = domain.ResourceAvailable
				t.ResourcesReason[k] = reason
			}
		}
		return nil
	}
	type todo struct {
		it   provider.TaskItem
		step provider.Step
	}
	abort := late && r.now().Before(t.CreatedAt.Add(r.timeout()+AbortGrace))
	var work []*todo
	for _, it := range items {
		if resourceEnded(t.ResourcesStatus[itemKey(it)]) {
			continue
		}
		if late && (!abort || len(it.State) == 0 || t.Kind != domain.KindVerification) {
			r.endItem(t, it, provider.Step{Done: true, Err: errTimedOut})
			continue
		}
		if _, ok := plugins[it.Resource.Type]; !ok {
			r.endItem(t, it, provider.Step{Done: true, Err: fmt.Errorf("%s cannot be %s by this provider", it.Resource.Type, pastTense(t.Kind))})
			continue
		}
		work = append(work, &todo{it: it})
	}
	pt := provider.Task{Kind: t.Kind, ID: t.ID, ProjectID: t.ProjectID, CheckpointID: t.CheckpointID, CreatedAt: t.CreatedAt, Abort: late}
	sem := make(chan struct{}, parallelSteps)
	var wg sync.WaitGroup
	for _, w := range work {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p := plugins[w.it.Resource.Type]
			if t.Kind == domain.KindRestore {
				w.step = p.Restore(ctx, pt, w.it)
			} else {
				w.step = p.Verify(ctx, pt, w.it)
			}
		})
	}
	wg.Wait()
	for _, w := range work {
		if w.step.Err != nil && transient(w.step.Err) {
			// AWS throttled or failed for now: the resource is stepped
			// again when the task is next due.
			log.Warn("resource step failed for now", "resource", itemKey(w.it), "error", w.step.Err.Error())
			w.step.Done = false
			w.step.Err = nil
		}
		if late && w.step.Done {
			w.step.Err = errTimedOut
		}
		r.endItem(t, w.it, w.step)
	}
	return nil
}

var errTimedOut = errors.New("timed out")

// AbortGrace bounds how long after its deadline a task waits for its
// plugins' clean-up (a scratch table's deletion that AWS refuses for now).
const AbortGrace = time.Hour

func pastTense(k domain.TaskKind) string {
	if k == domain.KindRestore {
		return "restored"
	}
	return "verified"
}

// endItem records one resource's step in t: its work state, what it made,
// its status and its dependents'.
func (r *Runner) endItem(t *domain.Task, it provider.TaskItem, s provider.Step) {
	k := itemKey(it)
	record := func(k string, s provider.Step) {
		if s.Restored != nil && t.RestoredResources != nil {
			t.RestoredResources[k] = *s.Restored
		}
		switch {
		case s.Done && s.Err != nil:
			t.ResourcesStatus[k] = domain.ResourceError
			t.ResourcesReason[k] = reason(s.Err)
		case s.Done:
			t.ResourcesStatus[k] = domain.ResourceAvailable
			t.ResourcesReason[k] = domain.ClipJSON(s.Reason, domain.MaxInfoText)
		case s.Started && t.Kind == domain.KindRestore:
			t.ResourcesStatus[k] = domain.ResourceRestoring
			t.ResourcesReason[k] = ""
		}
	}
	record(k, s)
	if s.Done {
		delete(t.Work, k)
	} else if s.State != nil {
		t.Work[k] = s.State
	}
	for _, d := range it.Dependents {
		dk := itemKey(d)
		ds, ok := s.Dependents[d.Resource.ID]
		switch {
		case ok:
			if s.Done && s.Err != nil && !ds.Done {
				ds = provider.Step{Done: true, Err: fmt.Errorf("dependent resource %s failed", k), Restored: ds.Restored}
			}
			record(dk, ds)
		case s.Done && s.Err != nil:
			record(dk, provider.Step{Done: true, Err: fmt.Errorf("dependent resource %s failed", k)})
		case s.Done:
			record(dk, provider.Step{Done: true})
		case s.Started:
			record(dk, provider.Step{Started: true})
		}
	}
}

func resourceEnded(st string) bool {
	return st == domain.ResourceAvailable || st == domain.ResourceError
}

// allEnded reports whether every resource of the task has ended.
func allEnded(t *domain.Task, items []provider.TaskItem) bool {
	for _, it := range items {
		for _, k := range append([]string{itemKey(it)}, dependentKeys(it)...) {
			if !resourceEnded(t.ResourcesStatus[k]) {
				return false
			}
		}
	}
	for _, st := range t.ResourcesStatus {
		if !resourceEnded(st) {
			return false
		}
	}
	return true
}

// itemKey is a resource's key in resources_status: <type>#<id>.
func itemKey(it provider.TaskItem) string { return it.Resource.Type + "#" + it.Resource.ID }

func dependentKeys(it provider.TaskItem) []string {
	keys := make([]string, len(it.Dependents))
	for i, d := range it.Dependents {
		keys[i] = itemKey(d)
	}
	return keys
}

// taskItems are the checkpoint's resources as its graph records them, a
// parent's children as its Dependents, each with its parameters and the
// runner's state of it.
func taskItems(c *domain.Checkpoint, t *domain.Task) []provider.TaskItem {
	g := decodeGraph(c.ResourceGraph).withPlan(c.Plan.Resources)
	isChild := map[int]bool{}
	for _, n := range g {
		for _, ch := range n.Children {
			isChild[ch] = true
		}
	}
	item := func(n node) provider.TaskItem {
		it := provider.TaskItem{Resource: n.Resource, Saved: n.Info, Params: domain.MergedParameters(t.Parameters, n.Resource)}
		it.State = t.Work[itemKey(it)]
		return it
	}
	var items []provider.TaskItem
	for i, n := range g {
		if isChild[i] {
			continue
		}
		it := item(n)
		for _, ch := range n.Children {
			it.Dependents = append(it.Dependents, item(g[ch]))
		}
		items = append(items, it)
	}
	return items
}

// operationLogOf is the task's operation log as it starts.
func operationLogOf(t *domain.Task) *domain.OperationLog {
	l := &domain.OperationLog{
		ProjectID:    t.ProjectID,
		CheckpointID: ptr(t.CheckpointID),
		ProviderID:   ptr(t.ProviderID),
		Status:       string(domain.TaskInProgress),
		StartedAt:    t.CreatedAt,
	}
	if t.PlanID != "" {
		l.PlanID = ptr(t.PlanID)
	}
	if t.Kind == domain.KindRestore {
		l.Type = domain.OpRestore
		l.RestoreID = ptr(t.ID)
	} else {
		l.Type = domain.OpVerify
		l.ExtraInfo = map[string]any{"verification_id": t.ID}
	}
	l.ID = domain.OperationLogID(l.Type, t.ID, "")
	return l
}

func ptr(s string) *string { return &s }
