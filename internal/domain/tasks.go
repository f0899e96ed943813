package domain

import (
	"context"
	"encoding/json"
	"time"
)

// Tasks are the restores and verifications of checkpoints: one kind of
// item (one table, one store, one background engine), told apart by Kind.
// A task is made in_progress from an available checkpoint, with a mark on
// the checkpoint (its id in the checkpoint's busy set) written in the same
// transaction, conditional on the checkpoint still being available; while
// marked, the checkpoint cannot be deleted (409). The background runner
// (internal/worker, runner.go) works each resource of the checkpoint's
// graph in steps and ends the task success or fail, removing the mark in
// the same transaction.
//
//	create ──> in_progress ──> success | fail
//	runner: one step at a time (stream INSERT, then every tick while due)
//	timeout (TaskTimeout, default 24h): unfinished resources error "timed out", fail

// TaskKind tells restores from verifications.
type TaskKind string

// Task kinds.
const (
	KindRestore      TaskKind = "restore"
	KindVerification TaskKind = "verification"
)

// TaskStatus is a restore's or verification's status.
type TaskStatus string

// Task statuses (upstream's stored values).
const (
	TaskInProgress TaskStatus = "in_progress"
	TaskSuccess    TaskStatus = "success"
	TaskFail       TaskStatus = "fail"
)

// TaskStatuses lists every task status (the list filter's values).
var TaskStatuses = []TaskStatus{TaskInProgress, TaskSuccess, TaskFail}

// Per-resource statuses of a task (resources_status values).
const (
	ResourceRestoring = "restoring" // restores only, once its restore starts
	ResourceAvailable = "available"
	ResourceError     = "error"
)

// DefaultTaskTimeout is how long a restore or verification may take before
// the runner ends it fail (deployment setting TASK_TIMEOUT).
const DefaultTaskTimeout = 24 * time.Hour

// FirstStepGrace is how long after its creation a task is first due: its
// stream record has it stepped at once, the runner's tick then only if
// that record was lost.
const FirstStepGrace = time.Minute

// Restored is what a restore made of one resource.
type Restored struct {
	ID  string `json:"id"`
	ARN string `json:"arn"`
}

// Task is a restore or a verification.
type Task struct {
	Kind         TaskKind
	ID           string
	ProjectID    string
	ProviderID   string
	CheckpointID string
	// PlanID is the checkpoint's plan (for operation logs).
	PlanID string
	// Parameters are as accepted, types normalized; {} when none.
	Parameters map[string]json.RawMessage
	// RestoreTarget is null or the service's region (restores only).
	RestoreTarget *string
	Status        TaskStatus
	// Keyed by "<type>#<id in the checkpoint>".
	ResourcesStatus   map[string]string
	ResourcesReason   map[string]string
	RestoredResources map[string]Restored // restores only
	// Work is the runner's per-resource state between steps (same keys);
	// never shown.
	Work map[string]json.RawMessage
	// Version counts the runner's writes: each is conditional on the
	// version it read, so of two runners stepping one task only one
	// records its step.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// DueAt, while in_progress, is when the runner's tick steps the task
	// next (the stream's step may come first).
	DueAt time.Time
}

// TaskKey names a task.
type TaskKey struct {
	ID        string `dynamodbav:"id"`
	ProjectID string `dynamodbav:"project_id"`
}

// TaskQuery selects a page of restores or of verifications.
type TaskQuery struct {
	Listing
	Kind TaskKind
	// Exact-match filters; empty means any.
	Status       TaskStatus
	CheckpointID string
	ProviderID   string
}

// TaskStore is what tasks need of storage (internal/store implements it).
type TaskStore interface {
	// CreateTask writes t (in_progress) and marks its checkpoint busy in
	// one transaction, conditional on the checkpoint (of t.ProjectID and
	// t.ProviderID) being available. ErrNotFound: no such checkpoint;
	// ErrConflict with the checkpoint as it is: not available.
	CreateTask(ctx context.Context, t *Task) (*Checkpoint, error)
	// GetTask is one strongly consistent read; ErrNotFound also when the
	// task is of another kind (kind "" takes either: the runner's).
	GetTask(ctx context.Context, kind TaskKind, projectID, id string) (*Task, error)
	ListTasks(ctx context.Context, q TaskQuery) (*Page[*Task], error)
	// SaveTaskStep writes a step's progress (resources_*, restored, work,
	// due_at, updated_at) conditional on the task being in_progress at
	// t.Version; it returns the task as written (Version+1), or
	// ErrConflict when another step or the end came first.
	SaveTaskStep(ctx context.Context, t *Task) (*Task, error)
	// EndTask writes t's final status and resources in one transaction
	// with the removal of its mark from the checkpoint, conditional on
	// in_progress at t.Version (ErrConflict otherwise).
	EndTask(ctx context.Context, t *Task) (*Task, error)
	// ClaimTask takes the runner's lease on t for one step: conditional
	// on in_progress at t.Version and no lease held at now; it sets the
	// lease until until and returns the task as written (Version+1), or
	// ErrConflict. The holder's SaveTaskStep or EndTask ends the lease.
	ClaimTask(ctx context.Context, t *Task, now, until time.Time) (*Task, error)
	// DueTasks lists up to max in_progress tasks whose DueAt has passed
	// at now, oldest first.
	DueTasks(ctx context.Context, now time.Time, max int) ([]TaskKey, error)
}
