package domain

import (
	"context"
	"crypto/sha1"
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
}

// OperationLogID is the id of the one log of an operation: a name-based
// UUID (version 5 layout over SHA-1) of its type, the id of what it works
// on and, for operations that can happen more than once to one item (a
// deletion retried from error-deleting), what tells the attempts apart
// (the time the checkpoint entered deleting); "" otherwise.
func OperationLogID(t OperationType, id, attempt string) string {
	h := sha1.Sum([]byte("karbor-operation-log\x00" + string(t) + "\x00" + id + "\x00" + attempt))
	h[6] = (h[6] & 0x0f) | 0x50
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
	// is written whole.
	EndOperationLog(ctx context.Context, l *OperationLog) error
	GetOperationLog(ctx context.Context, projectID, id string) (*OperationLog, error)
	ListOperationLogs(ctx context.Context, q OperationLogQuery) (*Page[*OperationLog], error)
}
