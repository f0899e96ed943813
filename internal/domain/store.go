package domain

import (
	"context"
	"errors"
	"time"
)

// Store is what the domain needs of storage; internal/store implements it
// over DynamoDB. Every method names the project: no call can reach another
// project's item.
type Store interface {
	CreateCheckpoint(ctx context.Context, c *Checkpoint) error
	// GetCheckpoint is one strongly consistent read.
	GetCheckpoint(ctx context.Context, projectID, id string) (*Checkpoint, error)
	// SetStatus changes a checkpoint's status with one conditional write
	// on the status it leaves. It returns the checkpoint as written,
	// ErrNotFound when there is none at this project and provider, or
	// ErrConflict with the checkpoint as it is when its status is not one
	// of t.From. A move into deleting is also refused while a restore or
	// verification marks the checkpoint: ErrBusy, with the checkpoint.
	SetStatus(ctx context.Context, t Transition) (*Checkpoint, error)
	ListCheckpoints(ctx context.Context, q CheckpointQuery) (*Page[*Checkpoint], error)
	// Stuck lists up to max checkpoints that entered status (an in-flight
	// one) before cutoff, oldest first.
	Stuck(ctx context.Context, status Status, cutoff time.Time, max int) ([]CheckpointKey, error)

	CreatePlan(ctx context.Context, p *Plan) error
	GetPlan(ctx context.Context, projectID, id string) (*Plan, error)
	UpdatePlan(ctx context.Context, projectID, id string, u PlanUpdate) (*Plan, error)
	DeletePlan(ctx context.Context, projectID, id string) error
	ListPlans(ctx context.Context, q PlanQuery) (*Page[*Plan], error)

	TaskStore
	OperationLogStore
	ScheduleStore
	QuotaStore
}

// Errors a Store returns; match them with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflicting status")
	ErrExists    = errors.New("already exists")
	ErrBadMarker = errors.New("marker is not an item of this listing")
	// ErrBusy: the checkpoint is marked by a restore or verification in
	// progress, so it cannot be deleted.
	ErrBusy = errors.New("checkpoint busy with a restore or verification")
)

// Transition is a status change of one checkpoint.
type Transition struct {
	ProjectID  string
	ProviderID string
	ID         string
	From       []Status // the change happens only from one of these
	To         Status
	// ResourceGraph, when set, is written with the status.
	ResourceGraph *string
	// At is the time of the change; zero means now.
	At time.Time
	// Retention is how long a checkpoint that becomes deleted is kept
	// before it expires; zero means DefaultRetention.
	Retention time.Duration
	// DeletingBy, on a move into deleting, is the scheduled operation
	// whose retention step deletes the checkpoint: stored with the move
	// (Checkpoint.DeletingBy), so that the worker's delete log names it.
	// Empty (a caller's delete) clears what an earlier move stored.
	DeletingBy string
}

// DefaultRetention is how long a deleted checkpoint stays visible.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultStuckAfter is how long protection or deletion may take by default,
// before the sweeper ends the checkpoint.
const DefaultStuckAfter = 2 * time.Hour

// CheckpointKey names a checkpoint.
type CheckpointKey struct {
	ID        string `dynamodbav:"id"`
	ProjectID string `dynamodbav:"project_id"`
}

// MaxPageLimit is the largest page of a listing (and its default size).
const MaxPageLimit = 1000

// ClampLimit applies the default and maximum page size.
func ClampLimit(limit int) int {
	if limit <= 0 || limit > MaxPageLimit {
		return MaxPageLimit
	}
	return limit
}

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	More  bool // another page follows: more items match
	// NextMarker, set when More is, is the marker of the next page: the
	// id of the last item of this one.
	NextMarker string
}

// Listing is what every listing shares: the project listed, the order and
// the page.
type Listing struct {
	// ProjectID is the project listed; empty lists every project (admin).
	ProjectID string
	Ascending bool
	Limit     int    // page size, 1..MaxPageLimit
	Marker    string // id of the last item of the previous page
	// Fits, when set, is asked about each item in list order before it
	// joins the page, the first one included; once it answers false the
	// page ends before that item (with More set). The API uses it to
	// bound a page's bytes; it must accept at least the first item.
	Fits func(item any) bool
}

// CheckpointQuery selects a page of checkpoints at one provider.
type CheckpointQuery struct {
	Listing
	ProviderID string
	PlanID     string // optional filter
	Status     Status // optional filter
	// Since and Until bound created_at, both inclusive; zero means open.
	Since, Until time.Time
}

// PlanQuery selects a page of plans.
type PlanQuery struct {
	Listing
	// Exact-match filters; empty means any.
	Name, Description, Status string
}

// PlanUpdate holds the fields a plan update sets; nil leaves a field as is.
type PlanUpdate struct {
	Name        *string
	Description *string
	// ClearDescription sets the description to null.
	ClearDescription bool
	Resources        []Resource
	Status           *string
}

// Empty reports an update that changes nothing.
func (u PlanUpdate) Empty() bool {
	return u.Name == nil && u.Description == nil && !u.ClearDescription && u.Resources == nil && u.Status == nil
}
