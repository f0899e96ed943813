package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"

	"karbor/internal/domain"
)

// Fault is an error with the HTTP status and the message the client sees.
type Fault struct {
	Status  int
	Message string
}

func (f *Fault) Error() string { return fmt.Sprintf("%d: %s", f.Status, f.Message) }

func faultf(status int, format string, args ...any) *Fault {
	return &Fault{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized is the error an Authenticator returns: 401 with this message.
func Unauthorized(message string) error {
	return &Fault{Status: http.StatusUnauthorized, Message: message}
}

// ServiceUnavailable is the error an Authenticator returns when it cannot
// tell who the caller is now (the identity service is down): 503 with this
// message; the client may retry.
func ServiceUnavailable(message string) error {
	return &Fault{Status: http.StatusServiceUnavailable, Message: message}
}

func badRequest(format string, args ...any) *Fault {
	return faultf(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) *Fault {
	return faultf(http.StatusNotFound, format, args...)
}

// faultNames are the OpenStack fault names by status.
var faultNames = map[int]string{
	http.StatusBadRequest:            "badRequest",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "itemNotFound",
	http.StatusMethodNotAllowed:      "badMethod",
	http.StatusConflict:              "conflictingRequest",
	http.StatusRequestEntityTooLarge: "overLimit",
	http.StatusUnsupportedMediaType:  "badMediaType",
	http.StatusServiceUnavailable:    "serviceUnavailable",
}

// refusalStatus is the status of each kind of domain refusal.
var refusalStatus = map[domain.Kind]int{
	domain.OverLimit:   http.StatusRequestEntityTooLarge,
	domain.Invalid:     http.StatusBadRequest,
	domain.NotFound:    http.StatusNotFound,
	domain.Conflict:    http.StatusConflict,
	domain.Unavailable: http.StatusServiceUnavailable,
}

// writeError answers with the fault shape. An error that is not a Fault is
// a 500 whose text goes only to the log.
func (s *Service) writeError(w http.ResponseWriter, req *request, err error) int {
	var f *Fault
	var refusal *domain.Error
	if errors.As(err, &refusal) {
		status, ok := refusalStatus[refusal.Kind]
		if !ok {
			status = http.StatusBadRequest
		}
		f = &Fault{Status: status, Message: refusal.Message}
		if refusal.Kind == domain.Unavailable {
			// AWS's text goes to the log only.
			req.log.Warn("aws unavailable", "error", fmt.Sprint(refusal.Cause))
			w.Header().Set("Retry-After", "1")
		}
	}
	if f == nil && !errors.As(err, &f) && throttled(err) {
		req.log.Warn("throttled", "error", err.Error())
		w.Header().Set("Retry-After", "1")
		f = faultf(http.StatusServiceUnavailable, "The service is busy; retry shortly.")
	}
	if f == nil {
		req.log.Error("internal error", "error", err.Error())
		f = faultf(http.StatusInternalServerError, "The server has either erred or is incapable of performing the requested operation.")
	}
	name, ok := faultNames[f.Status]
	if !ok {
		name = "computeFault"
	}
	writeJSON(w, f.Status, map[string]any{name: map[string]any{"code": f.Status, "message": f.Message}})
	return f.Status
}

// throttled reports whether DynamoDB refused the request for load, after the
// SDK's own retries: the client may retry (503), nothing is wrong with it.
func throttled(err error) bool {
	if errors.Is(err, domain.ErrUnavailable) {
		return true
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}
