package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"karbor/internal/domain"
)

// Sweeper ends checkpoints that stay in flight longer than a limit, so that
// nothing stays protecting or deleting forever (a worker that crashed until
// its retries ran out, a record sent to the on-failure queue).
type Sweeper struct {
	Domain *domain.Service
	Log    *slog.Logger
	// StuckAfter is how long a checkpoint may stay protecting or deleting.
	StuckAfter time.Duration
	// Batch bounds how many checkpoints of each status one run ends.
	Batch int
}

// DefaultStuckAfter is how long protection or deletion may take by default.
const DefaultStuckAfter = domain.DefaultStuckAfter

// SweepResult counts what one run ended.
type SweepResult struct {
	Protecting int `json:"protecting"`
	Deleting   int `json:"deleting"`
	// Failed: found stuck, but it or its operation log could not be ended
	// (logged).
	Failed int `json:"failed"`
}

// Sweep moves stuck protecting checkpoints to error and stuck deleting ones
// to error-deleting, each with the reason in its graph. Every move is
// conditional on the status it leaves: a worker that finishes meanwhile wins.
func (s *Sweeper) Sweep(ctx context.Context) (SweepResult, error) {
	limit := s.StuckAfter
	if limit <= 0 {
		limit = DefaultStuckAfter
	}
	batch := s.Batch
	if batch <= 0 {
		batch = 100
	}
	var res SweepResult
	for _, st := range []struct {
		move  domain.Move
		count *int
		what  string
	}{
		{domain.MoveStuckProtecting, &res.Protecting, "protection"},
		{domain.MoveStuckDeleting, &res.Deleting, "deletion"},
	} {
		keys, err := s.Domain.Stuck(ctx, st.move, limit, batch)
		if err != nil {
			return res, err
		}
		for _, k := range keys {
			ended, err := s.end(ctx, k, st.move, fmt.Sprintf("%s did not finish within %s", st.what, limit))
			if ended {
				*st.count++
			}
			if err != nil {
				// Oldest first: one item that cannot be ended must not
				// hold back every later one, run after run.
				s.Log.Error("stuck checkpoint not ended", "checkpoint_id", k.ID, "project_id", k.ProjectID, "error", err.Error())
				res.Failed++
			}
		}
	}
	return res, nil
}

func (s *Sweeper) end(ctx context.Context, k domain.CheckpointKey, m domain.Move, why string) (bool, error) {
	c, err := s.Domain.Work(ctx, k, jobOf(m))
	if err != nil || c == nil {
		return false, err
	}
	// Keep what the graph knew (a deletion's saved ids) and add the reason.
	deleting := m.From[0] == domain.StatusDeleting
	g := decodeGraph(c.ResourceGraph).withPlan(c.Plan.Resources)
	for _, n := range g {
		n.Info["status"] = resourceFailed
		if deleting {
			n.Info["delete_error"] = why
		} else {
			n.Info["error"] = why
		}
	}
	done, to, err := finishBounded(ctx, s.Domain, s.Log, m, c, m.To[0], g)
	if err != nil || !done {
		return false, err
	}
	s.Log.Warn("checkpoint stuck; ended", "checkpoint_id", c.ID, "project_id", c.ProjectID, "from", m.From[0], "status", to, "reason", why)
	// Its operation's log ends with it (written whole if the worker never
	// started it). The attempt of a deletion is the checkpoint's
	// updated_at as read here, while deleting: the worker's too.
	oplog := protectLog(c)
	if deleting {
		oplog = deleteLog(c, deleteAttempt(c))
	}
	if err := s.Domain.EndOperation(ctx, ended(oplog, to, why)); err != nil {
		return true, fmt.Errorf("checkpoint ended %s, but not its %s log: %w", to, oplog.Type, err)
	}
	if !deleting {
		if err := fireRetention(ctx, s.Domain, c); err != nil {
			return true, fmt.Errorf("checkpoint ended %s, but not its fire's retention: %w", to, err)
		}
	}
	return true, nil
}

// jobOf is the background job whose status a sweeper's move leaves.
func jobOf(m domain.Move) domain.Job {
	for _, t := range domain.StreamTriggers {
		if t.Status == m.From[0] {
			return t.Job
		}
	}
	return domain.JobNone
}
