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
//	error-deleting ──(delete: retry)──> deleting
//	reset (caller): available|error|error-deleting ──> available|error
//	sweeper: protecting ──> error, deleting ──> error-deleting (stuck too long)
//
// Every move is one conditional write on the status it leaves (Store.SetStatus),
// so that of two racing moves exactly one wins. A caller's move asked of a
// checkpoint that is already where the move leads (Move.Done: a delete of
// one deleting or deleted) succeeds without a write; from any other status
// it is refused with the move's Refusal.

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
	// Done lists the statuses in which a caller's move is already made: the
	// request succeeds and nothing is written (DELETE is idempotent).
	Done []Status
	// Refusal is the kind of error a caller gets from any other status.
	Refusal Kind
}

// The moves of the lifecycle; Moves lists them all.
var (
	MoveCreate = Move{Name: "create", By: ByCaller, To: []Status{StatusProtecting}}
	// MoveDelete starts a deletion, or retries one that failed; a checkpoint
	// deleting or deleted already is left as it is, and the caller told
	// yes. Refused (409) only while protecting.
	MoveDelete = Move{Name: "delete", By: ByCaller,
		From:    []Status{StatusAvailable, StatusError, StatusErrorDeleting},
		To:      []Status{StatusDeleting},
		Done:    []Status{StatusDeleting, StatusDeleted},
		Refusal: Conflict}
	// MoveReset sets a settled checkpoint's status. Refused with 400, as
	// upstream: the Karbor client reports it and goes on with its next id.
	MoveReset = Move{Name: "reset", By: ByCaller,
		From:    []Status{StatusAvailable, StatusError, StatusErrorDeleting},
		To:      []Status{StatusAvailable, StatusError},
		Refusal: Invalid}
	MoveProtected       = Move{Name: "protection ends", By: ByWorker, From: []Status{StatusProtecting}, To: []Status{StatusAvailable, StatusError}}
	MoveDeleted         = Move{Name: "deletion ends", By: ByWorker, From: []Status{StatusDeleting}, To: []Status{StatusDeleted, StatusErrorDeleting}}
	MoveStuckProtecting = Move{Name: "protection stuck", By: BySweeper, From: []Status{StatusProtecting}, To: []Status{StatusError}}
	MoveStuckDeleting   = Move{Name: "deletion stuck", By: BySweeper, From: []Status{StatusDeleting}, To: []Status{StatusErrorDeleting}}

	Moves = []Move{MoveCreate, MoveDelete, MoveReset, MoveProtected, MoveDeleted, MoveStuckProtecting, MoveStuckDeleting}
)

// Allows reports whether the move may end in status to.
func (m Move) Allows(to Status) bool { return slices.Contains(m.To, to) }

// DoneIn reports whether a checkpoint in status st has had the move made
// already, so that asking for it again changes nothing and succeeds.
func (m Move) DoneIn(st Status) bool { return slices.Contains(m.Done, st) }

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
