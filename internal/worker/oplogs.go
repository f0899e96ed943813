package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/domain"
)

// Operation logs of protection and deletion. Exactly one per operation:
// the log's id is derived from the checkpoint (and, for a deletion, the
// attempt: the checkpoint's updated_at when it entered deleting, as the
// record's NewImage and the checkpoint read while deleting both hold it),
// its start is a put-if-absent and its end an update-unless-ended. The
// checkpoint's outcome is written first and the log's end after it, from
// the outcome written: a log write that fails retries the record (returns
// the error), never the outcome, and the retry, finding the checkpoint
// ended, ends the log from it (settleLog).

// maxErrorInfo bounds a log's error_info (characters).
const maxErrorInfo = 1024

// protectLog is the protect log of a checkpoint, as started.
func protectLog(c *domain.Checkpoint) *domain.OperationLog {
	return checkpointLog(c, domain.OpProtect, "", domain.StatusProtecting, c.CreatedAt)
}

// deleteAttempt is what tells a checkpoint's deletions apart: its
// updated_at when it entered deleting, as stored.
func deleteAttempt(c *domain.Checkpoint) string { return domain.Timestamp(c.UpdatedAt) }

// deleteLog is the delete log of the deletion of c that began at attempt
// (deleteAttempt), as started.
func deleteLog(c *domain.Checkpoint, attempt string) *domain.OperationLog {
	started, err := time.Parse(time.RFC3339, attempt)
	if err != nil {
		started = c.UpdatedAt
	}
	return checkpointLog(c, domain.OpDelete, attempt, domain.StatusDeleting, started)
}

func checkpointLog(c *domain.Checkpoint, t domain.OperationType, attempt string, st domain.Status, started time.Time) *domain.OperationLog {
	id, plan, providerID := c.ID, c.Plan.ID, c.ProviderID
	l := &domain.OperationLog{
		ID:           domain.OperationLogID(t, c.ID, attempt),
		ProjectID:    c.ProjectID,
		Type:         t,
		CheckpointID: &id,
		ProviderID:   &providerID,
		Status:       string(st),
		StartedAt:    started,
	}
	if plan != "" {
		l.PlanID = &plan
	}
	if by := c.DeletingBy; t == domain.OpDelete && by != "" {
		l.ScheduledOperationID = &by // a retention step's deletion
	}
	return l
}

// ended is l ended in status to, with why (nil, or a reason on failure).
func ended(l *domain.OperationLog, to domain.Status, why string) *domain.OperationLog {
	e := *l
	e.Status = string(to)
	if why != "" {
		e.ErrorInfo = &why
	}
	return &e
}

// failures is a short reason from a graph's failed resources: each one's
// "<type> <id>: <error>" under key ("error" for protection, "delete_error"
// for deletion), joined, cut to maxErrorInfo.
func failures(g graph, key string) string {
	var parts []string
	for _, n := range g {
		if s, ok := n.Info[key].(string); ok && s != "" {
			parts = append(parts, fmt.Sprintf("%s %s: %s", n.Resource.Type, n.Resource.ID, s))
		}
	}
	text := strings.Join(parts, "; ")
	if r := []rune(text); len(r) > maxErrorInfo {
		text = string(r[:maxErrorInfo-1]) + "…"
	}
	return text
}

// endReason is the error_info of an operation that ended in status to:
// "" on success, else the failed resources' errors (or, when none failed,
// that the outcome had to be written smaller).
func endReason(g graph, to domain.Status) string {
	switch to {
	case domain.StatusError:
		return cmpOr(failures(g, "error"), tooLargeReason)
	case domain.StatusErrorDeleting:
		return cmpOr(failures(g, "delete_error"), tooLargeReason)
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// settleLog ends the log of a record's job whose checkpoint has left the
// job's status already: a redelivery after the outcome was written but
// the log's end was not (or the sweeper's end of the log failed). The end
// is conditional, so a log that has ended stays as it is.
func (w *Worker) settleLog(ctx context.Context, r events.DynamoDBEventRecord, key domain.CheckpointKey, job domain.Job) error {
	c, err := w.Domain.Store.GetCheckpoint(ctx, key.ProjectID, key.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	g := decodeGraph(c.ResourceGraph)
	var l *domain.OperationLog
	var to domain.Status
	switch job {
	case domain.JobProtect:
		l, to = protectLog(c), c.Status
		if to != domain.StatusAvailable && to != domain.StatusError {
			// Moved on since (deleted, say): what protection left.
			to = domain.StatusAvailable
			if failures(g, "error") != "" {
				to = domain.StatusError
			}
		}
	case domain.JobDelete:
		attempt := stringOf(r.Change.NewImage, "updated_at")
		if attempt == "" {
			return nil
		}
		l, to = deleteLog(c, attempt), domain.StatusErrorDeleting
		if c.Status == domain.StatusDeleted {
			to = domain.StatusDeleted
		}
	default:
		return nil
	}
	if err := w.Domain.EndOperation(ctx, ended(l, to, endReason(g, to))); err != nil {
		return fmt.Errorf("end the %s log of checkpoint %s: %w", l.Type, c.ID, err)
	}
	if job == domain.JobProtect {
		// Its fire's retention step may not have run either.
		return fireRetention(ctx, w.Domain, c)
	}
	return nil
}
