package domain

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ScheduledOperationTypes are the operation types, in the order messages
// list them.
var ScheduledOperationTypes = []ScheduledOperationType{OpTypeProtect, OpTypeRetentionProtect}

// ScheduledOperationInput is a scheduled operation create's body, decoded:
// the definition still raw JSON (its keys and types are checked here).
type ScheduledOperationInput struct {
	Name        string
	Description *string
	Type        string
	TriggerID   string
	Definition  map[string]json.RawMessage
}

func scheduledOperationNotFound(id string) *Error {
	return refuse(NotFound, "Scheduled operation %s could not be found.", id)
}

func providerNotFound(id string) *Error {
	return refuse(NotFound, "Provider %s could not be found.", id)
}

// CheckScheduledOperationType checks an operation_type.
func CheckScheduledOperationType(t string) error {
	if !slices.Contains(ScheduledOperationTypes, ScheduledOperationType(t)) {
		return invalid("Invalid operation type: %s", Clip(t))
	}
	return nil
}

// retentionKeys are the definition keys of retention_protect only.
var retentionKeys = []string{"max_backups", "retention_duration"}

// parseRetentionNumber reads max_backups or retention_duration: a JSON
// integer or a string of digits, 1..MaxInt32.
func parseRetentionNumber(key string, raw json.RawMessage) (int64, error) {
	text := strings.TrimSpace(string(raw))
	var s string
	if strings.HasPrefix(text, `"`) && json.Unmarshal(raw, &s) == nil {
		text = s
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || text == "" || strings.Trim(text, "0123456789") != "" || n < 1 || n > math.MaxInt32 {
		return 0, invalid("Invalid operation definition: '%s' must be an integer from 1 to %d, not %s.", key, math.MaxInt32, Clip(text))
	}
	return n, nil
}

// ParseOperationDefinition checks a definition for an operation of type t
// (checked already): provider_id and plan_id UUIDs, required; for
// retention_protect max_backups and/or retention_duration; no other key.
func ParseOperationDefinition(t ScheduledOperationType, raw map[string]json.RawMessage) (OperationDefinition, error) {
	var d OperationDefinition
	allowed := []string{"provider_id", "plan_id"}
	if t == OpTypeRetentionProtect {
		allowed = append(allowed, retentionKeys...)
	}
	var unknown []string
	for _, k := range sortedKeys(raw) {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, Clip(k))
		}
	}
	if len(unknown) > 0 {
		return d, invalid("Invalid operation definition: unknown key(s) %s for operation type %s. Allowed: %s.", strings.Join(unknown, ", "), t, strings.Join(allowed, ", "))
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"provider_id", &d.ProviderID}, {"plan_id", &d.PlanID}} {
		v, ok := raw[f.key]
		if !ok {
			return d, invalid("Invalid operation definition: '%s' is a required property.", f.key)
		}
		var s string
		if isJSONNull(v) || json.Unmarshal(v, &s) != nil {
			return d, invalid("Invalid operation definition: '%s' must be a string.", f.key)
		}
		id, ok := ParseUUID(s)
		if !ok {
			return d, invalid("Invalid operation definition: '%s' %q is not a UUID.", f.key, Clip(s))
		}
		*f.dst = id
	}
	if t != OpTypeRetentionProtect {
		return d, nil
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{{"max_backups", &d.MaxBackups}, {"retention_duration", &d.RetentionDuration}} {
		if v, ok := raw[f.key]; ok {
			n, err := parseRetentionNumber(f.key, v)
			if err != nil {
				return d, err
			}
			*f.dst = &n
		}
	}
	if d.MaxBackups == nil && d.RetentionDuration == nil {
		return d, invalid("Invalid operation definition: retention_protect needs max_backups, retention_duration or both.")
	}
	return d, nil
}

// createTries bounds the writes of a scheduled operation create that
// concurrent transactions cancel.
const createTries = 3

// CreateScheduledOperation checks in and writes a new, enabled scheduled
// operation with the marks on its trigger and plan. Checks, in order: name,
// description, type, definition, then the trigger in the project, the
// provider, the plan in the project, the plan's provider. The write is
// conditional on the trigger and plan still being there (a delete racing
// it is refused or refuses it).
func (s *Service) CreateScheduledOperation(ctx context.Context, projectID string, in ScheduledOperationInput) (*ScheduledOperation, error) {
	if err := CheckPlanName(in.Name); err != nil {
		return nil, err
	}
	if err := CheckDescription(in.Description); err != nil {
		return nil, err
	}
	if err := CheckScheduledOperationType(in.Type); err != nil {
		return nil, err
	}
	typ := ScheduledOperationType(in.Type)
	def, err := ParseOperationDefinition(typ, in.Definition)
	if err != nil {
		return nil, err
	}
	if _, err := s.Trigger(ctx, projectID, in.TriggerID); err != nil {
		return nil, err
	}
	if _, ok := s.Providers(def.ProviderID); !ok {
		return nil, providerNotFound(def.ProviderID)
	}
	plan, err := s.Plan(ctx, projectID, def.PlanID)
	if err != nil {
		return nil, err
	}
	if plan.ProviderID != def.ProviderID {
		return nil, PlanProviderMismatch(plan.ID, plan.ProviderID)
	}
	now := s.now().UTC().Truncate(time.Second)
	op := &ScheduledOperation{
		ID: NewID(), ProjectID: projectID, Name: in.Name, Description: in.Description,
		Type: typ, TriggerID: in.TriggerID, Definition: def,
		Enabled: true, EnabledAt: now, CreatedAt: now,
	}
	// A transaction cancelled by a concurrent one on the trigger or plan
	// (another create or delete naming them) is tried again.
	for range createTries {
		if err = s.Store.CreateScheduledOperation(ctx, op); !errors.Is(err, ErrConflict) {
			break
		}
	}
	if errors.Is(err, ErrConflict) {
		return nil, refuse(Conflict, "Trigger %s or plan %s changed during the create; try again.", op.TriggerID, def.PlanID)
	}
	var full *FullError
	if errors.As(err, &full) {
		what := "Trigger"
		if full.What == "plan" {
			what = "Plan"
		}
		return nil, invalid("%s %s is used by %d scheduled operations, the most one %s may have.", what, full.ID, MaxOperationsPerItem, full.What)
	}
	var missing *MissingError
	if errors.As(err, &missing) {
		if missing.What == "trigger" {
			return nil, triggerNotFound(missing.ID)
		}
		return nil, planNotFound(missing.ID)
	}
	if err != nil {
		return nil, err
	}
	return op, nil
}

// ScheduledOperation reads one scheduled operation of the project.
func (s *Service) ScheduledOperation(ctx context.Context, projectID, id string) (*ScheduledOperation, error) {
	op, err := s.Store.GetScheduledOperation(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, scheduledOperationNotFound(id)
	}
	return op, err
}

// UpdateScheduledOperation sets name, description and enabled (at least
// one); enabling a disabled operation makes it fire from the next
// occurrence after now.
func (s *Service) UpdateScheduledOperation(ctx context.Context, projectID, id string, u ScheduledOperationUpdate) (*ScheduledOperation, error) {
	if u.Name == nil && u.Description == nil && !u.ClearDescription && u.Enabled == nil {
		return nil, invalid("Missing updated parameters in request body.")
	}
	if u.Name != nil {
		if err := CheckPlanName(*u.Name); err != nil {
			return nil, err
		}
	}
	if err := CheckDescription(u.Description); err != nil {
		return nil, err
	}
	u.At = s.now()
	op, err := s.Store.UpdateScheduledOperation(ctx, projectID, id, u)
	if errors.Is(err, ErrNotFound) {
		return nil, scheduledOperationNotFound(id)
	}
	return op, err
}

// DeleteScheduledOperation deletes a scheduled operation and its marks.
func (s *Service) DeleteScheduledOperation(ctx context.Context, projectID, id string) error {
	err := s.Store.DeleteScheduledOperation(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return scheduledOperationNotFound(id)
	}
	return err
}

// ListScheduledOperations returns one page of scheduled operations.
func (s *Service) ListScheduledOperations(ctx context.Context, q ScheduledOperationQuery) (*Page[*ScheduledOperation], error) {
	for _, f := range [][2]string{{"name", q.Name}, {"operation_definition", q.Definition}} {
		if err := CheckRegexpFilter(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	if q.Type != "" {
		if err := CheckScheduledOperationType(string(q.Type)); err != nil {
			return nil, err
		}
	}
	page, err := s.Store.ListScheduledOperations(ctx, q)
	if errors.Is(err, ErrBadMarker) {
		return nil, invalid("Invalid marker %s: it is not a scheduled operation of this listing.", q.Marker)
	}
	return page, err
}
