package domain

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"time"
)

// OperationType is what an operation log records.
type OperationType string

// Operation types (CONTRACT.md "Operation logs").
const (
	OpProtect   OperationType = "protect"
	OpDelete    OperationType = "delete"
	OpRestore   OperationType = "restore"
	OpVerify    OperationType = "verify"
	OpRetention OperationType = "retention"
)

// OperationLog is the record of one protect, delete, restore, verify or
// retention operation. Exactly one per operation: its id is derived from
// the operation (OperationLogID), its start is a put-if-absent and its end
// an update-unless-ended, so a retried step never makes a second one.
type OperationLog struct {
	ID                   string
	ProjectID            string
	Type                 OperationType
	CheckpointID         *string
	PlanID               *string
	ProviderID           *string
	RestoreID            *string
	ScheduledOperationID *string
	// Status: protecting → available|error; deleting → deleted|error-deleting;
	// in_progress → success|fail; also skipped (a fire that made nothing).
	Status    string
	StartedAt time.Time
	EndedAt   *time.Time
	ErrorInfo *string
	ExtraInfo map[string]any
	// ClearCheckpoint, on an end (EndOperationLog), removes the log's
	// checkpoint_id: a scheduled fire's protect log, started naming the
	// checkpoint the fire was about to make, ended error or skipped when
	// none was made.
	ClearCheckpoint bool
}

// OperationLogID is the id of the one log of an operation: a UUID in
// version 4's layout made of the SHA-1 of its type, the id of what it works
// on and, for operations that can happen more than once to one item (a
// deletion retried from error-deleting), what tells the attempts apart
// (the time the checkpoint entered deleting); "" otherwise.
func OperationLogID(t OperationType, id, attempt string) string {
	return derivedID("karbor-operation-log\x00" + string(t) + "\x00" + id + "\x00" + attempt)
}

// derivedID is a UUID in version 4's layout made of the SHA-1 of seed.
func derivedID(seed string) string {
	h := sha1.Sum([]byte(seed))
	// Version 4's layout, as every id the service makes: the bits are
	// derived, not random, so that the log of one operation has one id.
	h[6] = (h[6] & 0x0f) | 0x40
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// OperationLogQuery selects a page of operation logs (ordered by
// started_at, then id).
type OperationLogQuery struct {
	Listing
	// Exact-match filters; empty means any.
	Status               string
	Type                 OperationType
	CheckpointID         string
	PlanID               string
	RestoreID            string
	ScheduledOperationID string
}

// OperationLogStore is what operation logs need of storage.
type OperationLogStore interface {
	// StartOperationLog writes l unless a log of that id exists (then it
	// does nothing and returns nil).
	StartOperationLog(ctx context.Context, l *OperationLog) error
	// EndOperationLog writes l's end (status, ended_at, error_info,
	// extra_info) unless the log has ended already; a log never started
	// is written whole. What l leaves nil (extra_info,
	// scheduled_operation_id...) keeps its stored value.
	EndOperationLog(ctx context.Context, l *OperationLog) error
	GetOperationLog(ctx context.Context, projectID, id string) (*OperationLog, error)
	ListOperationLogs(ctx context.Context, q OperationLogQuery) (*Page[*OperationLog], error)
}

// OperationTypes lists every operation type (the list filter's values).
var OperationTypes = []OperationType{OpProtect, OpDelete, OpRestore, OpVerify, OpRetention}

// Operation log statuses besides the checkpoint's and the task's.
const OpSkipped = "skipped"

// OperationLogStatuses lists every status a log can have (the list
// filter's values, CONTRACT.md's table).
var OperationLogStatuses = []string{
	string(StatusProtecting), string(StatusAvailable), string(StatusError), OpSkipped,
	string(StatusDeleting), string(StatusDeleted), string(StatusErrorDeleting),
	string(TaskInProgress), string(TaskSuccess), string(TaskFail),
}

// StartStatus is the status an operation of type t starts in; its log ends
// only from it.
func (t OperationType) StartStatus() string {
	switch t {
	case OpProtect:
		return string(StatusProtecting)
	case OpDelete:
		return string(StatusDeleting)
	}
	return string(TaskInProgress)
}

// StartOperation writes l, the start of an operation, unless its log
// exists already (a retried start): exactly one log per operation.
func (s *Service) StartOperation(ctx context.Context, l *OperationLog) error {
	return s.Store.StartOperationLog(ctx, l)
}

// EndOperation writes l's end unless the log has ended already (a retried
// end, or another writer's first): the first end stays. A log never
// started is written whole.
func (s *Service) EndOperation(ctx context.Context, l *OperationLog) error {
	return s.Store.EndOperationLog(ctx, l)
}

// OperationLog is one log of a project (the API's show): a refusal
// "Operation log <id> could not be found." when there is none.
func (s *Service) OperationLog(ctx context.Context, projectID, id string) (*OperationLog, error) {
	l, err := s.Store.GetOperationLog(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(NotFound, "Operation log %s could not be found.", id)
	}
	return l, err
}

// ListOperationLogs returns a page of logs (the API's list).
func (s *Service) ListOperationLogs(ctx context.Context, q OperationLogQuery) (*Page[*OperationLog], error) {
	page, err := s.Store.ListOperationLogs(ctx, q)
	if errors.Is(err, ErrBadMarker) {
		return nil, invalid("Invalid marker %s: it is not an operation log of this listing.", q.Marker)
	}
	return page, err
}
