package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
)

// Sweeper ends checkpoints that stay in flight longer than a limit, so that
// nothing stays protecting or deleting forever (a worker that crashed until
// its retries ran out, a record sent to the on-failure queue).
type Sweeper struct {
	Store *store.Store
	Log   *slog.Logger
	// StuckAfter is how long a checkpoint may stay protecting or deleting.
	StuckAfter time.Duration
	// Batch bounds how many checkpoints of each status one run ends.
	Batch int
	Now   func() time.Time
}

// DefaultStuckAfter is how long protection or deletion may take by default.
const DefaultStuckAfter = 2 * time.Hour

// SweepResult counts what one run ended.
type SweepResult struct {
	Protecting int `json:"protecting"`
	Deleting   int `json:"deleting"`
	Failed     int `json:"failed"` // found stuck, but could not be ended (logged)
}

// Sweep moves stuck protecting checkpoints to error and stuck deleting ones
// to error-deleting, each with the reason in its graph. Every move is
// conditional on the status it leaves: a worker that finishes meanwhile wins.
func (s *Sweeper) Sweep(ctx context.Context) (SweepResult, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
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
		from, to domain.Status
		count    *int
		what     string
	}{
		{domain.StatusProtecting, domain.StatusError, &res.Protecting, "protection"},
		{domain.StatusDeleting, domain.StatusErrorDeleting, &res.Deleting, "deletion"},
	} {
		keys, err := s.Store.Stuck(ctx, st.from, now.Add(-limit), batch)
		if err != nil {
			return res, err
		}
		for _, k := range keys {
			ended, err := s.end(ctx, k, st.from, st.to, fmt.Sprintf("%s did not finish within %s", st.what, limit), now)
			if err != nil {
				// Oldest first: one item that cannot be ended must not
				// hold back every later one, run after run.
				s.Log.Error("stuck checkpoint not ended", "checkpoint_id", k.ID, "project_id", k.ProjectID, "error", err.Error())
				res.Failed++
				continue
			}
			if ended {
				*st.count++
			}
		}
	}
	return res, nil
}

func (s *Sweeper) end(ctx context.Context, k store.CheckpointKey, from, to domain.Status, why string, now time.Time) (bool, error) {
	c, err := s.Store.GetCheckpoint(ctx, k.ProjectID, k.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.Status != from {
		return false, nil
	}
	// Keep what the graph knew (a deletion's saved ids) and add the reason.
	known := decodeGraph(c.ResourceGraph)
	g := make(graph, 0, len(c.Plan.Resources))
	for _, r := range c.Plan.Resources {
		info, ok := known[[2]string{r.Type, r.ID}]
		if !ok {
			info = baseInfo(r)
		}
		info["status"] = resourceFailed
		if from == domain.StatusDeleting {
			info["delete_error"] = why
		} else {
			info["error"] = why
		}
		g = append(g, node{Resource: r, Info: info})
	}
	text, err := g.encode()
	if err != nil {
		return false, err
	}
	_, err = s.Store.SetStatus(ctx, store.Transition{
		ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID,
		From: []domain.Status{from}, To: to, ResourceGraph: &text, At: now,
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.Log.Warn("checkpoint stuck; ended", "checkpoint_id", c.ID, "project_id", c.ProjectID, "from", from, "status", to, "reason", why)
	return true, nil
}
