// Package scheduler fires scheduled operations (CONTRACT.md "Scheduled
// operations", "Firing"): one function, ticked every minute in AWS (every
// few seconds under make run), reads the triggers that are due from the
// SchedulesTable's by_due index, fires each enabled operation of each once
// for the trigger's latest occurrence, and moves the trigger's NextAt on.
//
// Exactly once: a fire's id is domain.FireID(operation, scheduled time). It
// is the id of the checkpoint the fire makes (a put-if-absent) and what
// its logs' ids derive from (puts-if-absent, ends conditional on the log
// not having ended), so however often a fire is delivered (two ticks
// overlapping, a crash between the fires and the trigger's advance) it
// makes at most one checkpoint and one set of logs. The advance is
// conditional on the NextAt read: of two ticks, one advances.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"karbor/internal/domain"
	"karbor/internal/schedule"
)

// Scheduler fires the scheduled operations whose trigger is due.
type Scheduler struct {
	// Domain creates the checkpoints and writes the logs; its Store reads
	// triggers and operations. Its clock should be Now (the checkpoint's
	// created_at).
	Domain *domain.Service
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	Log *slog.Logger
	// Batch bounds the due triggers one read returns; zero means 100.
	Batch int
	// Parallel is how many triggers are handled at once; zero means 4.
	Parallel int
	// Reserve is the least time left in the invocation to begin handling
	// another trigger; zero means DefaultReserve.
	Reserve time.Duration
}

// DefaultReserve: a trigger's fires are a few DynamoDB calls each.
const DefaultReserve = 20 * time.Second

// TickResult counts what one tick did.
type TickResult struct {
	Triggers int `json:"triggers"` // due triggers handled
	Fired    int `json:"fired"`    // fires that made (or found) their checkpoint
	Skipped  int `json:"skipped"`  // fires logged skipped (window passed)
	Refused  int `json:"refused"`  // fires logged error (no checkpoint made)
	Failed   int `json:"failed"`   // triggers left due after an error (logged)
}

func (r *TickResult) add(o TickResult) {
	r.Triggers += o.Triggers
	r.Fired += o.Fired
	r.Skipped += o.Skipped
	r.Refused += o.Refused
	r.Failed += o.Failed
}

func (s *Scheduler) reserve() time.Duration {
	if s.Reserve > 0 {
		return s.Reserve
	}
	return DefaultReserve
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Tick handles the triggers due now. A trigger that cannot be handled (the
// store unreachable) is logged and stays due: the next tick fires again,
// which the fires' ids make harmless. The error is the due read's.
func (s *Scheduler) Tick(ctx context.Context) (TickResult, error) {
	batch := s.Batch
	if batch <= 0 {
		batch = 100
	}
	parallel := s.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	reserve := s.reserve()
	var res TickResult
	// Rounds of the due index until it has nothing new or the invocation
	// is near its end: a trigger handled (or failed) in this tick is not
	// handled again in it (the index lags behind an advance), and one
	// failing does not stop the others.
	seen := map[domain.TriggerKey]bool{}
	for {
		now := s.now()
		due, err := s.Domain.Store.DueTriggers(ctx, now, batch)
		if err != nil {
			return res, fmt.Errorf("due triggers: %w", err)
		}
		var keys []domain.TriggerKey
		for _, k := range due {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			break
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, parallel)
		stopped := false
		for _, k := range keys {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < reserve {
				stopped = true // the next tick goes on
				break
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				r, err := s.trigger(ctx, k, now)
				mu.Lock()
				defer mu.Unlock()
				res.add(r)
				if err != nil {
					s.Log.Error("trigger not handled; due again", "trigger_id", k.ID, "project_id", k.ProjectID, "error", err.Error())
					res.Failed++
				}
			})
		}
		wg.Wait()
		if stopped || len(due) < batch {
			break
		}
	}
	return res, nil
}

// trigger fires the operations of one due trigger for its latest
// occurrence at or before now, then advances it.
func (s *Scheduler) trigger(ctx context.Context, key domain.TriggerKey, now time.Time) (TickResult, error) {
	var res TickResult
	t, err := s.Domain.Store.GetTrigger(ctx, key.ProjectID, key.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return res, nil // deleted since the index was read
	}
	if err != nil {
		return res, err
	}
	if t.NextAt == nil || t.NextAt.After(now) {
		return res, nil // advanced since the index was read (the index lags)
	}
	res.Triggers++
	from := t.NextAt.UTC()
	p, err := schedule.Parse(t.Properties.Format, t.Properties.Pattern)
	if err != nil {
		return res, fmt.Errorf("pattern of trigger %s: %w", t.ID, err)
	}
	scheduled, missed, ok, next := Occurrence(p, t.Properties, from, now)
	log := s.Log.With("trigger_id", t.ID, "project_id", t.ProjectID, "scheduled_time", domain.Timestamp(scheduled))
	var failed error
	for _, opID := range t.UsedBy {
		if !ok {
			break // nothing to fire (past the end): only the advance
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) < s.reserve()/2 {
			// Out of time within one trigger: not advanced, the next
			// tick fires the rest (the fires done are found done).
			failed = errors.New("invocation near its deadline")
			break
		}
		op, err := s.Domain.Store.GetScheduledOperation(ctx, t.ProjectID, opID)
		if errors.Is(err, domain.ErrNotFound) {
			continue // deleted: none follows
		}
		if err != nil {
			failed = err
			continue
		}
		if op.TriggerID != t.ID || !op.Enabled || !op.EnabledAt.Before(scheduled) || !op.CreatedAt.Before(scheduled) {
			// Disabled, or enabled (created) at or after this
			// occurrence: no run, no log; enabling catches nothing up.
			// (The times are stored to the second, truncated: one
			// enabled at 02:00:00.7 reads 02:00:00, and must not fire
			// 02:00.)
			continue
		}
		out, err := s.fire(ctx, t, op, scheduled, missed)
		if err != nil {
			log.Error("fire failed; due again", "scheduled_operation_id", op.ID, "error", err.Error())
			failed = err
			continue
		}
		switch out {
		case fired:
			res.Fired++
		case skipped:
			res.Skipped++
		case refused:
			res.Refused++
		}
	}
	if failed != nil {
		// Not advanced: the next tick fires again; the fires done are
		// found done.
		return res, failed
	}
	err = s.Domain.Store.AdvanceTrigger(ctx, key, from, next)
	if errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrNotFound) {
		// Another tick advanced it, or the trigger was updated (its
		// NextAt recomputed) or deleted: fine.
		return res, nil
	}
	return res, err
}

// Occurrence returns the trigger's latest occurrence at or before now
// (and its end) counted from from, its NextAt (schedule.Latest): ok false
// when there is none in [from, min(now, end)]. missed is how many
// occurrences before it were passed over unrun; next is the first
// occurrence after it (after now when ok is false) within the end, nil
// when none.
func Occurrence(p schedule.Pattern, props domain.TriggerProperties, from, now time.Time) (scheduled time.Time, missed int, ok bool, next *time.Time) {
	until := now
	if props.EndTime != nil && props.EndTime.Before(until) {
		until = *props.EndTime
	}
	scheduled, missed, ok = schedule.Latest(p, props.StartTime, from, until)
	after := until
	if ok {
		after = scheduled
	}
	if n, more := p.Next(props.StartTime, after); more && (props.EndTime == nil || !n.After(*props.EndTime)) {
		next = &n
	}
	return scheduled, missed, ok, next
}

type outcome int

const (
	fired   outcome = iota // the checkpoint made (or found made)
	skipped                // not started within the window
	refused                // no checkpoint: a refusal, logged error
)

// CreatedBy is the created_by of a fire's checkpoint's extra_info
// (upstream's).
const CreatedBy = "operation-engine"

// fire runs one fire of op at scheduled: the protect step, then for
// retention_protect the retention step. An error means the fire should be
// delivered again (the store unreachable); refusals are the fire's
// outcome, in its protect log.
func (s *Scheduler) fire(ctx context.Context, t *domain.Trigger, op *domain.ScheduledOperation, scheduled time.Time, missed int) (outcome, error) {
	fireID := domain.FireID(op.ID, scheduled)
	deadline := scheduled.Add(time.Duration(t.Properties.Window) * time.Second)
	now := s.now()
	protect := s.fireLog(op, domain.OpProtect, fireID, now)
	protect.ExtraInfo = map[string]any{"scheduled_time": domain.Timestamp(scheduled), "trigger_id": t.ID}
	if now.After(deadline) {
		return s.late(ctx, t, op, protect, fireID, scheduled, missed)
	}
	started := *protect
	started.Status = string(domain.StatusProtecting)
	started.CheckpointID = &fireID
	// Before the checkpoint: the worker, protecting it, finds this log
	// (its start is a put-if-absent) and ends it, keeping what the fire
	// wrote (scheduled_operation_id, extra_info).
	if err := s.Domain.StartOperation(ctx, &started); err != nil {
		return 0, err
	}
	// A fire delivered again whose log has ended without a checkpoint
	// (refused, or skipped) is done: its outcome stays what the log says,
	// even if the refusal has passed since (quota freed).
	if l, err := s.Domain.Store.GetOperationLog(ctx, op.ProjectID, protect.ID); err != nil {
		return 0, err
	} else if l.Status == string(domain.StatusError) && l.CheckpointID == nil {
		return refused, s.retention(ctx, op, fireID, false)
	} else if l.Status == domain.OpSkipped {
		return skipped, nil
	}
	if s.now().After(deadline) {
		// Nothing runs late, however slow the start was.
		return s.late(ctx, t, op, protect, fireID, scheduled, missed)
	}
	extra, err := domain.MarshalJSON(map[string]string{"created_by": CreatedBy, "trigger_id": t.ID, "scheduled_operation_id": op.ID})
	if err != nil {
		return 0, err
	}
	made := true
	_, err = s.Domain.CreateCheckpointWithID(ctx, fireID, op.ProjectID, op.Definition.ProviderID, op.Definition.PlanID, extra)
	if reason := refusal(err); reason != "" {
		// A refusal of a fire delivered again (quota reached by this
		// fire's own checkpoint) is no refusal: look before logging one.
		if _, gerr := s.Domain.Store.GetCheckpoint(ctx, op.ProjectID, fireID); gerr == nil {
			err = nil
		} else if !errors.Is(gerr, domain.ErrNotFound) {
			return 0, gerr
		} else {
			made = false
			end := *protect
			end.Status = string(domain.StatusError)
			end.ErrorInfo = &reason
			end.EndedAt = timePtr(s.now())
			end.ClearCheckpoint = true
			if err := s.Domain.EndOperation(ctx, &end); err != nil {
				return 0, err
			}
			s.Log.Warn("fire refused", "scheduled_operation_id", op.ID, "project_id", op.ProjectID, "fire_id", fireID, "reason", reason)
			err = nil
		}
	}
	if err != nil && !errors.Is(err, domain.ErrExists) { // ErrExists: delivered again, made
		return 0, err
	}
	if err := s.retention(ctx, op, fireID, made); err != nil {
		return 0, err
	}
	if !made {
		return refused, nil
	}
	return fired, nil
}

// late ends a fire that cannot start within its window: its protect log
// `skipped`, no checkpoint, no retention. A fire delivered again late
// whose checkpoint was made (in time) by the first delivery is done.
//
// missed, when not 0, is how many occurrences passed unrun before this
// one (an interruption): extra_info's missed_occurrences is then every
// occurrence that passed unrun, this one included (missed + 1).
func (s *Scheduler) late(ctx context.Context, t *domain.Trigger, op *domain.ScheduledOperation, protect *domain.OperationLog, fireID string, scheduled time.Time, missed int) (outcome, error) {
	_, err := s.Domain.Store.GetCheckpoint(ctx, op.ProjectID, fireID)
	if err == nil {
		return fired, s.retention(ctx, op, fireID, true)
	}
	if !errors.Is(err, domain.ErrNotFound) {
		return 0, err
	}
	why := fmt.Sprintf("not started within the window of %d s", t.Properties.Window)
	end := *protect
	if missed > 0 {
		end.ExtraInfo = map[string]any{"scheduled_time": domain.Timestamp(scheduled), "trigger_id": t.ID, "missed_occurrences": missed + 1}
	}
	end.Status = domain.OpSkipped
	end.ErrorInfo = &why
	end.EndedAt = timePtr(s.now())
	end.ClearCheckpoint = true
	// An end: written whole when the log was never started, else the
	// start (protecting, from a delivery that stopped before its
	// checkpoint) ended.
	if err := s.Domain.EndOperation(ctx, &end); err != nil {
		return 0, err
	}
	s.Log.Warn("fire skipped: window passed", "scheduled_operation_id", op.ID, "project_id", op.ProjectID,
		"scheduled_time", domain.Timestamp(scheduled), "window", t.Properties.Window)
	return skipped, nil
}

// retention starts the retention step of a retention_protect fire: its
// log, then the step itself at once when no checkpoint was made, or when
// the fire's checkpoint has left protecting already (the worker, which
// runs it when the checkpoint leaves protecting, may have got there
// before this log existed). Running it twice is harmless.
func (s *Scheduler) retention(ctx context.Context, op *domain.ScheduledOperation, fireID string, made bool) error {
	if op.Type != domain.OpTypeRetentionProtect {
		return nil
	}
	l := s.fireLog(op, domain.OpRetention, fireID, s.now())
	l.Status = string(domain.TaskInProgress)
	if made {
		l.CheckpointID = &fireID
	}
	l.ExtraInfo = map[string]any{"max_backups": intOrNil(op.Definition.MaxBackups),
		"retention_duration": intOrNil(op.Definition.RetentionDuration), "deleted": nil, "skipped": nil}
	if err := s.Domain.StartOperation(ctx, l); err != nil {
		return err
	}
	if made {
		c, err := s.Domain.Store.GetCheckpoint(ctx, op.ProjectID, fireID)
		if errors.Is(err, domain.ErrNotFound) {
			made = false // gone already (expired): nothing to wait for
		} else if err != nil {
			return err
		} else if c.Status == domain.StatusProtecting {
			return nil // the worker runs it
		}
	}
	return s.Domain.RunRetention(ctx, op.ProjectID, fireID)
}

// fireLog is a log of a fire of op, without status.
func (s *Scheduler) fireLog(op *domain.ScheduledOperation, t domain.OperationType, fireID string, started time.Time) *domain.OperationLog {
	opID, plan, provider := op.ID, op.Definition.PlanID, op.Definition.ProviderID
	return &domain.OperationLog{
		ID:                   domain.OperationLogID(t, fireID, ""),
		ProjectID:            op.ProjectID,
		Type:                 t,
		PlanID:               &plan,
		ProviderID:           &provider,
		ScheduledOperationID: &opID,
		StartedAt:            started,
	}
}

// refusal is the message of a refusal of the checkpoint's create (the
// plan gone, on another provider, a quota reached), "" for anything else.
func refusal(err error) string {
	var de *domain.Error
	var ol *domain.OverLimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ol):
		return ol.Error()
	case errors.As(err, &de) && de.Kind != domain.Unavailable:
		return de.Message
	}
	return ""
}

func intOrNil(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

func timePtr(t time.Time) *time.Time { return &t }
