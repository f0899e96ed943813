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
)

// Error is a refusal with the message the caller reads.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error { return refuse(Invalid, format, args...) }

func checkpointNotFound(id string) *Error {
	return refuse(NotFound, "Checkpoint %s could not be found.", id)
}

func planNotFound(id string) *Error { return refuse(NotFound, "Plan %s could not be found.", id) }
