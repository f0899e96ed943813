package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"karbor/internal/domain"
)

// attrLeaseUntil is when a runner's claim on a task lapses (Unix
// milliseconds); the runner's next write of the task removes it.
const attrLeaseUntil = "lease_until"

// ClaimTask takes the runner's lease on a task before a step: one
// conditional write, in_progress at t.Version and not leased at now (no
// lease, or one that lapsed), that sets the lease until until and bumps the
// version. It returns the task as written, or ErrConflict when another
// runner holds it or wrote it since it was read (ErrNotFound: no such
// task). The lease's holder writes its step at the new version, which
// ends the lease; a holder that crashed loses it at until.
func (s *Store) ClaimTask(ctx context.Context, t *domain.Task, now, until time.Time) (*domain.Task, error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	lease := expression.Name(attrLeaseUntil)
	free := expression.AttributeNotExists(lease).Or(lease.LessThan(expression.Value(now.UnixMilli())))
	// Due again when the lease lapses: a step that fails (or crashes)
	// goes behind the other due tasks instead of being picked first at
	// every tick; the holder's save sets the next due time.
	update := expression.Set(expression.Name(attrVersion), expression.Value(t.Version+1)).
		Set(lease, expression.Value(until.UnixMilli())).
		Set(expression.Name(attrDueAt), expression.Value(until.UnixMilli()))
	return s.updateTask(ctx, t, "claim", atVersion(t).And(free), update)
}
