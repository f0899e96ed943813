package domain

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Plan statuses.
const (
	PlanSuspended = "suspended"
	PlanStarted   = "started"
)

// Resource is one resource of a plan.
type Resource struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	ExtraInfo json.RawMessage `json:"extra_info,omitempty"`
}

// Plan is a protection plan.
type Plan struct {
	ID          string
	ProjectID   string
	Name        string
	Description *string
	ProviderID  string
	Status      string
	Parameters  map[string]json.RawMessage
	Resources   []Resource
	CreatedAt   time.Time
}

// ProtectionPlan is the snapshot of a plan that a checkpoint keeps.
type ProtectionPlan struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	ProviderID string     `json:"provider_id"`
	Resources  []Resource `json:"resources"`
	// Parameters are the plan's parameters at create time: the worker
	// protects with them. They are stored, never shown.
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
}

// Checkpoint is one run of a plan.
type Checkpoint struct {
	ID            string
	ProjectID     string
	ProviderID    string
	Status        Status
	Plan          ProtectionPlan
	ResourceGraph *string // JSON text; nil until protection has finished
	ExtraInfo     json.RawMessage
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ExpiresAt     int64 // Unix seconds, set once deleted (DynamoDB TTL)
	// DeletingBy is the scheduled operation whose retention step moved
	// the checkpoint into deleting last (Transition.DeletingBy); empty
	// when a caller did. Stored, never shown.
	DeletingBy string
	// Busy: a restore or verification in progress marks the checkpoint
	// (it cannot be deleted meanwhile). Read, never written, by the
	// checkpoint's writes.
	Busy bool
}

// Caller is who makes a request.
type Caller struct {
	UserID    string
	ProjectID string
	Roles     []string
	// Admin: the caller holds the admin role, whose name is configuration
	// (ADMIN_ROLE): set once, where the caller is authenticated
	// (api.Policy.IsAdmin).
	Admin bool
}

// IsAdmin reports whether the caller is the admin (Admin).
func (c Caller) IsAdmin() bool { return c.Admin }

// HasRole reports whether roles hold the role name, compared as a whole
// name in any case (as oslo.policy does).
func HasRole(roles []string, name string) bool {
	for _, r := range roles {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

// ValidProjectID reports whether s is a well-formed project (tenant) id.
func ValidProjectID(s string) bool { return validProjectID(s) }

// ParseUUID accepts a dashed or 32-hex-digit UUID in any case and returns it
// lower-case and dashed.
func ParseUUID(s string) (string, bool) {
	switch len(s) {
	case 32, 36:
	default:
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// NewID returns a new random (v4) UUID.
func NewID() string { return uuid.NewString() }

// Timestamp is how times are shown: RFC 3339 UTC to the second.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
