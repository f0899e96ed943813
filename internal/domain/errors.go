package domain

import "fmt"

// Kind is what went wrong with a request, as far as its caller is
// concerned; the API maps each kind to its status code.
type Kind int

// Kinds of refusal.
const (
	Invalid  Kind = iota + 1 // the input breaks a rule (400)
	NotFound                 // no such item in the caller's project (404)
	Conflict                 // the item's state does not allow it (409)
	// Unavailable: an AWS service the request needs throttled it or is
	// unavailable (503); Cause holds AWS's error, for the log only.
	Unavailable
	// OverLimit: a quota would be exceeded (413 overLimit).
	OverLimit
)

// Error is a refusal with the message the caller reads.
type Error struct {
	Kind    Kind
	Message string
	// Cause is the error behind the refusal, for the log; never shown to
	// the caller.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

func refuse(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error { return refuse(Invalid, format, args...) }

func checkpointNotFound(id string) *Error {
	return refuse(NotFound, "Checkpoint %s could not be found.", id)
}

func planNotFound(id string) *Error { return refuse(NotFound, "Plan %s could not be found.", id) }
