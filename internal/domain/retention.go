package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The retention step of a retention_protect fire (CONTRACT.md "Retention").
// The scheduler starts its log (OperationLogID(OpRetention, fireID, ""),
// in_progress, with the rules in extra_info) right after the protect step;
// the step itself runs when the fire's checkpoint leaves protecting (the
// worker, or the sweeper, calls RunRetention), or at once when the fire
// made none. It reads the plan's checkpoints only (the by_plan index),
// chooses with ChooseRetention and deletes each chosen one as DELETE
// /providers/{p}/checkpoints/{id} does, the move carrying the scheduled
// operation (Transition.DeletingBy) so that the worker's delete log names
// it. Then it ends the log. Every part is safe to run again: a checkpoint
// deleting already is not a candidate, a delete of one is a no-op, and the
// log's end is an update-unless-ended.

// CreatedByOperationEngine is the created_by of a fire's checkpoint
// (upstream's extra_info).
const CreatedByOperationEngine = "operation-engine"

// Fired reports a checkpoint a scheduled fire made (its extra_info's
// created_by): its id is the fire's (FireID), and when its protection ends
// the fire's retention step, if any, runs (RunRetention).
func (c *Checkpoint) Fired() bool {
	var info struct {
		CreatedBy any `json:"created_by"`
	}
	return json.Unmarshal(c.ExtraInfo, &info) == nil && info.CreatedBy == CreatedByOperationEngine
}

// RetentionRules are a retention_protect operation's rules; nil is unset.
type RetentionRules struct {
	MaxBackups        *int64
	RetentionDuration *int64 // days
}

// RetentionChoice is what the rules choose among a plan's checkpoints.
type RetentionChoice struct {
	// Delete: chosen, and deletable now.
	Delete []*Checkpoint
	// Skipped: chosen, but a restore or verification marks them (Busy):
	// left for a later fire.
	Skipped []*Checkpoint
}

// retentionPage bounds each page of the plan's checkpoints RunRetention
// reads.
const retentionPage = 200

// newer orders checkpoints newest first: by created_at, then id.
func newer(a, b *Checkpoint) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// ChooseRetention applies the rules to a plan's checkpoints (as listed:
// any status) for the fire whose checkpoint is own ("" when it made none),
// scheduled at scheduled. Candidates are available or error, never own;
// max_backups N keeps the N newest available (own counting when available)
// and chooses the other available ones and the error ones older than the
// N-th newest available (none when fewer than N are available);
// retention_duration D chooses those created more than D×24h before
// scheduled. Either rule's choice is chosen. Busy ones chosen are Skipped.
// Both lists are newest first.
func ChooseRetention(cs []*Checkpoint, own string, rules RetentionRules, scheduled time.Time) RetentionChoice {
	sorted := slices.Clone(cs)
	slices.SortFunc(sorted, newer)
	chosen := map[string]bool{}
	if rules.MaxBackups != nil {
		n := *rules.MaxBackups
		var nth *Checkpoint // the N-th newest available
		var seen int64
		for _, c := range sorted {
			if c.Status != StatusAvailable {
				continue
			}
			seen++
			if seen == n {
				nth = c
			}
			if seen > n {
				chosen[c.ID] = true
			}
		}
		if nth != nil {
			for _, c := range sorted {
				if c.Status == StatusError && newer(nth, c) < 0 {
					chosen[c.ID] = true
				}
			}
		}
	}
	if rules.RetentionDuration != nil {
		age := time.Duration(min(*rules.RetentionDuration, math.MaxInt64/int64(24*time.Hour))) * 24 * time.Hour
		for _, c := range sorted {
			if scheduled.Sub(c.CreatedAt) > age {
				chosen[c.ID] = true
			}
		}
	}
	var out RetentionChoice
	for _, c := range sorted {
		if !chosen[c.ID] || c.ID == own || (c.Status != StatusAvailable && c.Status != StatusError) {
			continue
		}
		if c.Busy {
			out.Skipped = append(out.Skipped, c)
		} else {
			out.Delete = append(out.Delete, c)
		}
	}
	return out
}

// RunRetention runs the retention step of the fire fireID (FireID) of a
// retention_protect operation in projectID: it reads the fire's retention
// log (OperationLogID(OpRetention, fireID, "")); when there is none or it
// has ended, it does nothing; nor while the fire's checkpoint is still
// protecting (it runs when protection ends). Else it deletes, through the
// normal delete path, the checkpoints of the operation's plan the rules
// choose (ChooseRetention), and ends the log: success when every chosen
// deletion started, else fail naming the failures. Safe to call again.
// An error (the store unreachable) leaves the log in progress: call again.
//
// Callers: the worker when protection of a fire's checkpoint ends (and on
// a redelivered record), the sweeper when it ends one stuck, and the
// scheduler right after it starts the retention log, whether or not a
// checkpoint was made: the worker may have protected the checkpoint before
// the log existed (then its call found no log), and while the checkpoint
// is protecting this call does nothing.
func (s *Service) RunRetention(ctx context.Context, projectID, fireID string) error {
	l, err := s.Store.GetOperationLog(ctx, projectID, OperationLogID(OpRetention, fireID, ""))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.Status != OpRetention.StartStatus() || l.PlanID == nil || l.ProviderID == nil {
		return nil // ended (or not a log the scheduler wrote)
	}
	own := ""
	var ownC *Checkpoint // as read now (the listing's index may lag)
	if l.CheckpointID != nil {
		own = *l.CheckpointID
		c, err := s.Store.GetCheckpoint(ctx, projectID, own)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err == nil && c.Status == StatusProtecting {
			return nil // it runs when protection ends
		}
		ownC = c
	}
	scheduled, err := s.fireScheduledTime(ctx, projectID, fireID, l)
	if err != nil {
		return err
	}
	rules := RetentionRules{MaxBackups: extraInt(l.ExtraInfo, "max_backups"), RetentionDuration: extraInt(l.ExtraInfo, "retention_duration")}
	var cs []*Checkpoint
	q := CheckpointQuery{Listing: Listing{ProjectID: projectID, Limit: retentionPage}, ProviderID: *l.ProviderID, PlanID: *l.PlanID}
	for {
		page, err := s.Store.ListCheckpoints(ctx, q)
		if err != nil {
			return fmt.Errorf("list the checkpoints of plan %s: %w", *l.PlanID, err)
		}
		cs = append(cs, page.Items...)
		if !page.More {
			break
		}
		q.Marker = page.NextMarker
	}
	if ownC != nil {
		// The fire's own counts with its status as read, listed or not yet.
		cs = slices.DeleteFunc(cs, func(c *Checkpoint) bool { return c.ID == own })
		cs = append(cs, ownC)
	}
	choice := ChooseRetention(cs, own, rules, scheduled)
	opID := ""
	if l.ScheduledOperationID != nil {
		opID = *l.ScheduledOperationID
	}
	deleted, skipped := 0, len(choice.Skipped)
	var failures []string
	for _, c := range choice.Delete {
		_, err := s.move(ctx, MoveDelete, Transition{ProjectID: projectID, ProviderID: c.ProviderID, ID: c.ID, To: StatusDeleting, DeletingBy: opID})
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, ErrBusy):
			skipped++ // marked since it was listed
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
			// Gone, deleted, or moved by another since it was listed:
			// nothing to delete (a deletion already started is not
			// started twice).
		default:
			failures = append(failures, fmt.Sprintf("checkpoint %s: %v", c.ID, err))
		}
	}
	end := *l
	end.Status = string(TaskSuccess)
	end.ErrorInfo = nil
	if len(failures) > 0 {
		end.Status = string(TaskFail)
		why := "not deleted: " + strings.Join(failures, "; ")
		end.ErrorInfo = &why
	}
	now := s.now()
	end.EndedAt = &now
	end.ExtraInfo = map[string]any{
		"max_backups": intOrNil(rules.MaxBackups), "retention_duration": intOrNil(rules.RetentionDuration),
		"deleted": deleted, "skipped": skipped,
	}
	return s.EndOperation(ctx, &end)
}

// fireScheduledTime is the fire's scheduled time, from its protect log's
// extra_info.scheduled_time; the retention log's start when that cannot
// be read.
func (s *Service) fireScheduledTime(ctx context.Context, projectID, fireID string, retention *OperationLog) (time.Time, error) {
	p, err := s.Store.GetOperationLog(ctx, projectID, OperationLogID(OpProtect, fireID, ""))
	if errors.Is(err, ErrNotFound) {
		return retention.StartedAt, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if text, ok := p.ExtraInfo["scheduled_time"].(string); ok {
		if t, err := time.Parse(time.RFC3339, text); err == nil {
			return t, nil
		}
	}
	return retention.StartedAt, nil
}

// extraInt reads an integer of a log's extra_info (a JSON number, as
// decoded); nil when absent, null or not a whole positive number.
func extraInt(info map[string]any, key string) *int64 {
	var n int64
	switch v := info[key].(type) {
	case float64:
		if v < 1 || v != math.Trunc(v) || v > math.MaxInt64/2 {
			return nil
		}
		n = int64(v)
	case json.Number:
		i, err := v.Int64()
		if err != nil || i < 1 {
			return nil
		}
		n = i
	case int64:
		n = v
	case int:
		n = int64(v)
	default:
		return nil
	}
	return &n
}

func intOrNil(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}
