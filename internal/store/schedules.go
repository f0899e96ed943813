package store

import (
	"context"
	"errors"
	"time"

	"karbor/internal/domain"
)

// Triggers and scheduled operations, in the SchedulesTable (WithSchedules).

var errNotImplemented = errors.New("store: not implemented")

// WithSchedules sets the table of triggers and scheduled operations and
// returns s.
func (s *Store) WithSchedules(table string) *Store {
	s.schedulesTable = table
	return s
}

func (s *Store) CreateTrigger(ctx context.Context, t *domain.Trigger) error { return errNotImplemented }
func (s *Store) GetTrigger(ctx context.Context, projectID, id string) (*domain.Trigger, error) {
	return nil, errNotImplemented
}
func (s *Store) UpdateTrigger(ctx context.Context, t *domain.Trigger) (*domain.Trigger, error) {
	return nil, errNotImplemented
}
func (s *Store) DeleteTrigger(ctx context.Context, projectID, id string) error {
	return errNotImplemented
}
func (s *Store) ListTriggers(ctx context.Context, q domain.TriggerQuery) (*domain.Page[*domain.Trigger], error) {
	return nil, errNotImplemented
}
func (s *Store) CreateScheduledOperation(ctx context.Context, op *domain.ScheduledOperation) error {
	return errNotImplemented
}
func (s *Store) GetScheduledOperation(ctx context.Context, projectID, id string) (*domain.ScheduledOperation, error) {
	return nil, errNotImplemented
}
func (s *Store) UpdateScheduledOperation(ctx context.Context, projectID, id string, u domain.ScheduledOperationUpdate) (*domain.ScheduledOperation, error) {
	return nil, errNotImplemented
}
func (s *Store) DeleteScheduledOperation(ctx context.Context, projectID, id string) error {
	return errNotImplemented
}
func (s *Store) ListScheduledOperations(ctx context.Context, q domain.ScheduledOperationQuery) (*domain.Page[*domain.ScheduledOperation], error) {
	return nil, errNotImplemented
}

// The scheduler's reads and writes.

func (s *Store) DueTriggers(ctx context.Context, now time.Time, max int) ([]domain.TriggerKey, error) {
	return nil, errNotImplemented
}
func (s *Store) AdvanceTrigger(ctx context.Context, key domain.TriggerKey, from time.Time, next *time.Time) error {
	return errNotImplemented
}
