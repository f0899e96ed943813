package domain

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Triggers and scheduled operations (CONTRACT.md "Triggers", "Scheduled
// operations", "Firing", "Retention"). Both live in one table (the
// SchedulesTable, internal/store/schedules.go), told apart by kind.
//
// A trigger is a time pattern (crontab or iCalendar RRULE, package
// internal/schedule) with a start, an optional end and a window. It keeps
// NextAt, the next occurrence the scheduler fires, indexed while it has
// one (by_due): the scheduler (internal/scheduler) reads the due triggers
// every minute, fires each enabled operation of the trigger once for that
// occurrence, then moves NextAt on with a conditional write.
//
// A scheduled operation names a trigger and a plan. Creating one is one
// transaction that also adds its id to the trigger's and the plan's UsedBy
// marks, conditional on both existing; deleting one removes them. A trigger
// or plan whose mark is not empty cannot be deleted (409 naming the ids):
// the delete is conditional on the mark being absent, so it and a create
// naming the item never both succeed.

// TriggerTypeTime is the only trigger type.
const TriggerTypeTime = "time"

// Trigger formats.
const (
	FormatCrontab  = "crontab"
	FormatCalendar = "calendar"
)

// Trigger window bounds and the minimum interval of two occurrences
// (upstream's deployment settings; CONTRACT.md "Triggers").
const (
	MinWindow   = 900
	MaxWindow   = 1800
	MinInterval = 3600 * time.Second
)

// Trigger is a time trigger.
type Trigger struct {
	ID         string
	ProjectID  string
	Name       string
	Type       string // TriggerTypeTime
	Properties TriggerProperties
	CreatedAt  time.Time
	// NextAt is the next occurrence the scheduler fires; nil when the
	// trigger has none left (past its end). Kept by the store in the
	// by_due index while set.
	NextAt *time.Time
	// UsedBy lists the scheduled operations that name the trigger.
	UsedBy []string
	// Version counts the trigger's writes: an update or the scheduler's
	// advance is conditional on the version it read.
	Version int64
}

// TriggerProperties are a trigger's validated properties.
type TriggerProperties struct {
	Format    string // FormatCrontab or FormatCalendar
	Pattern   string
	StartTime time.Time  // UTC, to the second
	EndTime   *time.Time // UTC, to the second; nil when unset
	Window    int        // seconds, MinWindow..MaxWindow
}

// TriggerQuery selects a page of triggers; Name and Properties are RE2
// patterns matched unanchored (Properties against the compact JSON of the
// properties with sorted keys), Type is exact.
type TriggerQuery struct {
	Listing
	Name, Properties, Type string
}

// ScheduledOperationType is what a scheduled operation does at each fire.
type ScheduledOperationType string

// Scheduled operation types.
const (
	OpTypeProtect          ScheduledOperationType = "protect"
	OpTypeRetentionProtect ScheduledOperationType = "retention_protect"
)

// ScheduledOperation fires an operation on a plan at each occurrence of a
// trigger.
type ScheduledOperation struct {
	ID          string
	ProjectID   string
	Name        string
	Description *string
	Type        ScheduledOperationType
	TriggerID   string
	Definition  OperationDefinition
	Enabled     bool
	// EnabledAt is when the operation was created or last enabled: it
	// fires only for occurrences at or after it (enabling catches
	// nothing up).
	EnabledAt time.Time
	CreatedAt time.Time
}

// OperationDefinition is a scheduled operation's operation_definition.
type OperationDefinition struct {
	ProviderID string
	PlanID     string
	// Retention (retention_protect only): the number of available
	// checkpoints kept, and the age in days past which checkpoints are
	// deleted; at least one is set.
	MaxBackups        *int64
	RetentionDuration *int64
}

// ScheduledOperationQuery selects a page of scheduled operations; Name and
// Definition are RE2 patterns as in TriggerQuery, Type and TriggerID exact.
type ScheduledOperationQuery struct {
	Listing
	Name, Definition string
	Type             ScheduledOperationType
	TriggerID        string
}

// ScheduledOperationUpdate holds what an update sets; nil leaves a field.
type ScheduledOperationUpdate struct {
	Name             *string
	Description      *string
	ClearDescription bool
	Enabled          *bool
	// At is the time of the update (EnabledAt when it enables).
	At time.Time
}

// InUseError refuses the deletion of a trigger or plan that scheduled
// operations name; IDs are theirs. It matches ErrInUse with errors.Is.
type InUseError struct {
	IDs []string
}

// ErrInUse: a trigger or plan named by scheduled operations.
var ErrInUse = errors.New("used by scheduled operations")

func (e *InUseError) Error() string {
	return "used by scheduled operation(s) " + strings.Join(e.IDs, ", ")
}

// Is matches ErrInUse.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// TriggerKey names a trigger.
type TriggerKey struct {
	ID        string
	ProjectID string
}

// ScheduleStore is what triggers and scheduled operations need of storage.
type ScheduleStore interface {
	// CreateTrigger writes a new trigger (ErrExists if its id is taken).
	CreateTrigger(ctx context.Context, t *Trigger) error
	GetTrigger(ctx context.Context, projectID, id string) (*Trigger, error)
	// UpdateTrigger writes t's name, properties and NextAt, conditional
	// on t.Version (ErrConflict when it moved; ErrNotFound when gone).
	UpdateTrigger(ctx context.Context, t *Trigger) (*Trigger, error)
	// DeleteTrigger deletes a trigger no scheduled operation names;
	// else an *InUseError.
	DeleteTrigger(ctx context.Context, projectID, id string) error
	ListTriggers(ctx context.Context, q TriggerQuery) (*Page[*Trigger], error)

	// CreateScheduledOperation writes op and adds its id to its trigger's
	// and its plan's UsedBy in one transaction. ErrNotFound wrapped in a
	// *MissingError says which of the two is missing.
	CreateScheduledOperation(ctx context.Context, op *ScheduledOperation) error
	GetScheduledOperation(ctx context.Context, projectID, id string) (*ScheduledOperation, error)
	UpdateScheduledOperation(ctx context.Context, projectID, id string, u ScheduledOperationUpdate) (*ScheduledOperation, error)
	// DeleteScheduledOperation deletes op and removes its id from its
	// trigger's and plan's UsedBy, in one transaction.
	DeleteScheduledOperation(ctx context.Context, projectID, id string) error
	ListScheduledOperations(ctx context.Context, q ScheduledOperationQuery) (*Page[*ScheduledOperation], error)

	// DueTriggers lists up to max triggers whose NextAt is at or before
	// now, earliest first (the scheduler's tick).
	DueTriggers(ctx context.Context, now time.Time, max int) ([]TriggerKey, error)
	// AdvanceTrigger sets NextAt to next (nil: none left) and adds one to
	// Version, conditional on the trigger still having NextAt = from;
	// ErrConflict when it moved (another scheduler advanced it, or the
	// trigger was updated), ErrNotFound when the trigger is gone.
	AdvanceTrigger(ctx context.Context, key TriggerKey, from time.Time, next *time.Time) error
}

// MaxOperationsPerItem is how many scheduled operations may name one
// trigger or one plan: their ids are kept on it (UsedBy), and an item stays
// far below DynamoDB's 400 KB; a trigger's fires also stay within a tick.
const MaxOperationsPerItem = 100

// FullError refuses a scheduled operation whose trigger or plan is named by
// MaxOperationsPerItem operations already: What is "trigger" or "plan".
type FullError struct{ What, ID string }

func (e *FullError) Error() string {
	return e.What + " " + e.ID + " is used by too many scheduled operations"
}

// MissingError says which item a write needed is missing (it wraps
// ErrNotFound): "trigger" or "plan".
type MissingError struct{ What, ID string }

func (e *MissingError) Error() string { return e.What + " " + e.ID + " not found" }

// Unwrap returns ErrNotFound.
func (e *MissingError) Unwrap() error { return ErrNotFound }

// FireID is the id of one fire: of one scheduled operation at one
// occurrence (scheduled, to the second). It is the id of the checkpoint the
// fire makes, so that however often the fire is delivered at most one
// checkpoint is made (a put-if-absent), and what the fire's protect and
// retention logs derive from (OperationLogID(OpProtect, FireID, ""),
// OperationLogID(OpRetention, FireID, "")), whether or not a checkpoint
// was made.
func FireID(operationID string, scheduled time.Time) string {
	return derivedID("karbor-fire\x00" + operationID + "\x00" + Timestamp(scheduled))
}
