package domain

import (
	"encoding/json"
	"slices"
)

// The checkpoint lifecycle, in one place: the statuses, which status may
// follow which and who moves it, what the background worker is woken for,
// and which statuses are listed, watched by the sweeper or expire. The API,
// the store, the worker, the sweeper and the worker's event source filter
// in template.yaml (checked against StreamTriggers by a test) all read it
// from here.
//
//	create ──> protecting ──> available ─┐
//	               └───────> error ──────┤ delete ──> deleting ──> deleted
//	                                     │               └──────> error-deleting
//	reset (caller): available|error ──> available|error
//	sweeper: protecting ──> error, deleting ──> error-deleting (stuck too long)
//
// Every move is one conditional write on the status it leaves (Store.SetStatus),
// so that of two racing moves exactly one wins.

// Status is a checkpoint's status.
type Status string

// Checkpoint statuses (docs/api.md).
const (
	StatusProtecting    Status = "protecting"
	StatusAvailable     Status = "available"
	StatusError         Status = "error"
	StatusDeleting      Status = "deleting"
	StatusDeleted       Status = "deleted"
	StatusErrorDeleting Status = "error-deleting"
)

// Statuses lists every checkpoint status.
var Statuses = []Status{StatusProtecting, StatusAvailable, StatusError, StatusDeleting, StatusDeleted, StatusErrorDeleting}

// ParseStatus reports whether s names a checkpoint status.
func ParseStatus(s string) (Status, bool) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// InFlight reports a status in which background work is under way: the
// worker is protecting or deleting, and the sweeper watches for it to end.
func (s Status) InFlight() bool { return s == StatusProtecting || s == StatusDeleting }

// Listed reports whether checkpoints of this status appear in listings. A
// deleted checkpoint is shown by id until it expires, never listed.
func (s Status) Listed() bool { return s != StatusDeleted }

// Expires reports a status after which the checkpoint is removed once its
// retention has passed (DynamoDB's TTL).
func (s Status) Expires() bool { return s == StatusDeleted }

// Actor is who moves a checkpoint.
type Actor string

// Actors.
const (
	// ByCaller: a caller of the checkpoint's project (or an admin), through
	// the API.
	ByCaller Actor = "caller"
	// ByWorker: the stream worker, when protection or deletion ends.
	ByWorker Actor = "worker"
	// BySweeper: the sweeper, when protection or deletion took too long.
	BySweeper Actor = "sweeper"
)

// Move is one kind of status change: who makes it, from which statuses, to
// which.
type Move struct {
	Name string
	By   Actor
	From []Status // empty: the checkpoint is new
	To   []Status
}

// The moves of the lifecycle; Moves lists them all.
var (
	MoveCreate          = Move{"create", ByCaller, nil, []Status{StatusProtecting}}
	MoveDelete          = Move{"delete", ByCaller, []Status{StatusAvailable, StatusError}, []Status{StatusDeleting}}
	MoveReset           = Move{"reset", ByCaller, []Status{StatusAvailable, StatusError}, []Status{StatusAvailable, StatusError}}
	MoveProtected       = Move{"protection ends", ByWorker, []Status{StatusProtecting}, []Status{StatusAvailable, StatusError}}
	MoveDeleted         = Move{"deletion ends", ByWorker, []Status{StatusDeleting}, []Status{StatusDeleted, StatusErrorDeleting}}
	MoveStuckProtecting = Move{"protection stuck", BySweeper, []Status{StatusProtecting}, []Status{StatusError}}
	MoveStuckDeleting   = Move{"deletion stuck", BySweeper, []Status{StatusDeleting}, []Status{StatusErrorDeleting}}

	Moves = []Move{MoveCreate, MoveDelete, MoveReset, MoveProtected, MoveDeleted, MoveStuckProtecting, MoveStuckDeleting}
)

// Allows reports whether the move may end in status to.
func (m Move) Allows(to Status) bool { return slices.Contains(m.To, to) }

// Job is background work a stream record asks for.
type Job int

// Jobs.
const (
	JobNone Job = iota
	JobProtect
	JobDelete
)

// StreamTrigger is a change of the checkpoints table that wakes the worker.
type StreamTrigger struct {
	Job Job
	// Event is the stream record's eventName.
	Event string
	// Status is the status the checkpoint has after the change.
	Status Status
	// Entered: only when the status before the change was another one.
	Entered bool
}

// StreamTriggers are the changes the worker acts on: a checkpoint created
// protecting is to be protected; one that enters deleting, deleted. The
// event source's filter criteria in template.yaml are these (FilterPattern),
// so the worker is not even invoked for anything else; it applies JobOf
// again all the same.
var StreamTriggers = []StreamTrigger{
	{Job: JobProtect, Event: "INSERT", Status: StatusProtecting},
	{Job: JobDelete, Event: "MODIFY", Status: StatusDeleting, Entered: true},
}

// JobOf tells what a stream record asks for, from its eventName and the
// status before (empty for an INSERT) and after the change.
func JobOf(event string, before, after Status) Job {
	for _, t := range StreamTriggers {
		if event == t.Event && after == t.Status && (!t.Entered || before != t.Status) {
			return t.Job
		}
	}
	return JobNone
}

// FilterPattern is the trigger as an event filtering pattern of Lambda's
// DynamoDB event source (the template's FilterCriteria).
func (t StreamTrigger) FilterPattern() string {
	image := func(rule any) map[string]any {
		return map[string]any{"status": map[string]any{"S": []any{rule}}}
	}
	change := map[string]any{"NewImage": image(string(t.Status))}
	if t.Entered {
		change["OldImage"] = image(map[string]any{"anything-but": []string{string(t.Status)}})
	}
	b, _ := json.Marshal(map[string]any{"eventName": []string{t.Event}, "dynamodb": change})
	return string(b)
}
