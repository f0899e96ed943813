package provider

import (
	"context"
	"encoding/json"
	"time"

	"karbor/internal/domain"
)

// Task is the restore or verification a plugin step works for.
type Task struct {
	Kind         domain.TaskKind
	ID           string
	ProjectID    string
	CheckpointID string
	CreatedAt    time.Time
	// Abort: the task is past its deadline. A step starts nothing, undoes
	// what must not stay (a verification's scratch table) and returns
	// Done once that is done; the runner ends the resource "timed out".
	Abort bool
}

// TaskItem is one resource of the checkpoint to restore or verify, with
// what protection recorded of it.
type TaskItem struct {
	// Resource is the resource as protected (type, id, name).
	Resource domain.Resource
	// Saved is its node's info in the checkpoint's resource_graph: what
	// the protect plugin returned as Saved (backup_arn, snapshot_id,
	// image_id, ...), plus "status" ("available" or "error").
	Saved map[string]any
	// Dependents are the resources protected as part of this one (an
	// instance's volumes), with their saved info: a restore restores them
	// with it and reports each in Step.Dependents.
	Dependents []TaskItem
	// Params are the resource's parameters: its type's object overlaid by
	// its own, as the API accepted them (types normalized); {} when none.
	Params json.RawMessage
	// State is what the previous step of this resource returned (nil at
	// the first step).
	State json.RawMessage
}

// Step is what one step of a resource's restore or verification gave. A
// step does what can be done without waiting (start a restore, look at
// it) and returns; the runner calls again later with State until Done.
// Steps must be idempotent: a step may be repeated (a redelivered record,
// a crash before the runner recorded it) and must find the work it
// started before instead of starting another (by tag or name).
type Step struct {
	// Done: the resource's work has ended, in error when Err is set.
	Done bool
	Err  error
	// Reason is shown for a resource that ended well (a restore test's
	// "restore test: N items restored (M recorded with the backup)"),
	// "" otherwise.
	Reason string
	// State is kept for the next step while not Done.
	State json.RawMessage
	// Restored is what a restore made of the resource, as soon as known
	// (kept on fail).
	Restored *domain.Restored
	// Started: a restore of it is under way (resources_status
	// "restoring").
	Started bool
	// Dependents are the outcomes of the item's dependents, by their
	// resource id, once known (an instance's volumes).
	Dependents map[string]Step
}

// TaskPlugin restores and verifies resources of one type.
type TaskPlugin interface {
	Restore(ctx context.Context, t Task, it TaskItem) Step
	Verify(ctx context.Context, t Task, it TaskItem) Step
}
