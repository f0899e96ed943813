// Package domain owns the rules of plans and checkpoints: the checkpoint
// lifecycle (lifecycle.go), the validation of what callers send that is not
// about HTTP, and the operations that the API, the stream worker and the
// sweeper call. It defines the Store it needs (store.go); internal/store
// implements it over DynamoDB.
package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"karbor/internal/ownership"
	"strconv"
	"strings"
	"time"
)

// Provider is what the domain needs of a protection provider (internal/provider).
type Provider interface {
	fmt.Stringer // the provider's name, for messages
	Accepts(resourceType string) bool
	CheckParameters(resourceType string, params json.RawMessage) error
}

// Service is the domain's operations over a Store. Build it once per process.
type Service struct {
	Store Store
	// Providers finds a provider by its (lower-case, dashed) id.
	Providers func(id string) (Provider, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Retention is how long a deleted checkpoint stays visible before it
	// expires; zero means DefaultRetention.
	Retention time.Duration
	// Ownership is the deployment's ownership rule: here, the tag keys a
	// plan's parameters may not set (ReservedTag).
	Ownership ownership.Config
	// Inventory looks up the AWS resources plans name and the protectables
	// API shows. A plan naming an AWS:: resource, and the protectables
	// instances, fail without it.
	Inventory Inventory
	// Region is the service's region (a restore_target must be it); empty
	// means the Inventory's (RegionOf), else AWS_REGION.
	Region string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// DefaultExtraInfo is a checkpoint's extra_info when its creator gives none.
var DefaultExtraInfo = json.RawMessage(`{"created_by":"manual"}`)

// CreateCheckpoint writes a new checkpoint of the plan, protecting: the
// worker protects it in the background. The plan must be the project's
// and at this provider; extraInfo is checked with ExtraInfo (nil gives the
// default).
func (s *Service) CreateCheckpoint(ctx context.Context, projectID, providerID, planID string, extraInfo json.RawMessage) (*Checkpoint, error) {
	return s.CreateCheckpointWithID(ctx, NewID(), projectID, providerID, planID, extraInfo)
}

// CreateCheckpointWithID is CreateCheckpoint with the new checkpoint's id
// given: a scheduled fire's (FireID), so that a fire delivered twice makes
// one checkpoint. ErrExists when a checkpoint of that id exists (unless
// written by this very call's retry, identical).
func (s *Service) CreateCheckpointWithID(ctx context.Context, id, projectID, providerID, planID string, extraInfo json.RawMessage) (*Checkpoint, error) {
	info, err := ExtraInfo(extraInfo)
	if err != nil {
		return nil, err
	}
	if info == nil {
		info = DefaultExtraInfo
	}
	plan, err := s.Store.GetPlan(ctx, projectID, planID)
	if errors.Is(err, ErrNotFound) {
		return nil, planNotFound(planID)
	}
	if err != nil {
		return nil, err
	}
	if plan.ProviderID != providerID {
		return nil, invalid("Plan %s belongs to provider %s, not %s.", plan.ID, plan.ProviderID, providerID)
	}
	now := s.now().UTC().Truncate(time.Second)
	c := &Checkpoint{
		ID:         id,
		ProjectID:  projectID,
		ProviderID: providerID,
		Status:     MoveCreate.To[0],
		Plan: ProtectionPlan{
			ID:         plan.ID,
			Name:       plan.Name,
			ProviderID: plan.ProviderID,
			Resources:  plan.Resources,
			Parameters: plan.Parameters,
		},
		ExtraInfo: info,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := s.Store.CreateCheckpoint(ctx, c); errors.Is(err, ErrTooLarge) {
		// Not reached within the limits; an item stored before them may be.
		return nil, invalid("The checkpoint is too large to store: its plan and extra_info exceed DynamoDB's 400 KB item limit.")
	} else if err != nil {
		return nil, overLimit(err)
	}
	return c, nil
}

// Checkpoint returns a checkpoint of the project at the provider. One that
// has expired is gone already for its callers: DynamoDB's TTL removes it
// within days, not at once.
func (s *Service) Checkpoint(ctx context.Context, projectID, providerID, id string) (*Checkpoint, error) {
	c, err := s.Store.GetCheckpoint(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (c.ProviderID != providerID || s.expired(c))) {
		return nil, checkpointNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) expired(c *Checkpoint) bool {
	return c != nil && c.ExpiresAt != 0 && s.now().Unix() >= c.ExpiresAt
}

// ListCheckpoints returns one page of checkpoints.
func (s *Service) ListCheckpoints(ctx context.Context, q CheckpointQuery) (*Page[*Checkpoint], error) {
	if q.Status != "" && !q.Status.Listed() {
		return nil, invalid("Invalid status %s: %s checkpoints are never listed; show one by its id.", q.Status, q.Status)
	}
	page, err := s.Store.ListCheckpoints(ctx, q)
	if errors.Is(err, ErrBadMarker) {
		return nil, invalid("Invalid marker %s: it is not a checkpoint of this listing.", q.Marker)
	}
	return page, err
}

// DeleteCheckpoint starts the deletion of what protection produced: the
// checkpoint becomes deleting, and the worker deletes in the background.
// From error-deleting it starts again. A checkpoint deleting or deleted
// already is left as it is, without a write, and the delete succeeds:
// changed tells which happened.
func (s *Service) DeleteCheckpoint(ctx context.Context, projectID, providerID, id string) (changed bool, err error) {
	return s.callerMove(ctx, MoveDelete, projectID, providerID, id, StatusDeleting, "deleted")
}

// ResetCheckpoint sets a settled checkpoint's status to state (MoveReset).
func (s *Service) ResetCheckpoint(ctx context.Context, projectID, providerID, id, state string) error {
	to := Status(state)
	if !MoveReset.Allows(to) {
		return invalid("Invalid state %q: a checkpoint can be reset to %s.", state, either(MoveReset.To))
	}
	_, err := s.callerMove(ctx, MoveReset, projectID, providerID, id, to, "reset")
	return err
}

// callerMove makes a caller's move: one conditional write on the move's
// From statuses. When that write is refused, the status it found decides:
// one where the move is done already (m.Done) succeeds as it is, any other
// is refused with the move's Refusal. changed reports a write.
func (s *Service) callerMove(ctx context.Context, m Move, projectID, providerID, id string, to Status, verb string) (changed bool, err error) {
	c, err := s.move(ctx, m, Transition{ProjectID: projectID, ProviderID: providerID, ID: id, To: to})
	switch {
	case errors.Is(err, ErrNotFound):
		return false, checkpointNotFound(id)
	case errors.Is(err, ErrBusy):
		return false, refuse(Conflict, "Checkpoint %s is being restored or verified: it cannot be %s until that ends.", id, verb)
	case errors.Is(err, ErrConflict) && s.expired(c):
		return false, checkpointNotFound(id) // as show answers: gone, only not yet removed
	case errors.Is(err, ErrConflict) && m.DoneIn(c.Status):
		return false, nil
	case errors.Is(err, ErrConflict):
		return false, refuse(m.Refusal, "Checkpoint %s is %s: it can be %s only when it is %s.", id, c.Status, verb, either(m.From))
	}
	return err == nil, err
}

// move applies one move of the lifecycle: t.From is the move's, the write
// is conditional on it.
func (s *Service) move(ctx context.Context, m Move, t Transition) (*Checkpoint, error) {
	if !m.Allows(t.To) {
		return nil, fmt.Errorf("the %s move cannot end in %s", m.Name, t.To)
	}
	t.From = m.From
	if t.At.IsZero() {
		t.At = s.now()
	}
	if t.Retention == 0 {
		t.Retention = s.Retention
	}
	return s.Store.SetStatus(ctx, t)
}

// either words a list of statuses: "a, b or c".
func either(statuses []Status) string {
	words := make([]string, len(statuses))
	for i, st := range statuses {
		words[i] = string(st)
	}
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Work returns the checkpoint a background job is for, as it is now, when
// it still waits for that job (a stream record may be a redelivery, the
// sweeper may have ended it): nil when there is nothing to do.
func (s *Service) Work(ctx context.Context, key CheckpointKey, job Job) (*Checkpoint, error) {
	c, err := s.Store.GetCheckpoint(ctx, key.ProjectID, key.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, t := range StreamTriggers {
		if t.Job == job && c.Status == t.Status {
			return c, nil
		}
	}
	return nil, nil
}

// Finish ends background work on a checkpoint with move m (MoveProtected,
// MoveDeleted, or the sweeper's MoveStuck*), writing status to and the
// resource graph. It reports false when the checkpoint left the move's
// status meanwhile: whoever moved it first has won, and stays won.
func (s *Service) Finish(ctx context.Context, m Move, c *Checkpoint, to Status, graph string) (bool, error) {
	_, err := s.move(ctx, m, Transition{
		ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID, To: to, ResourceGraph: &graph,
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Stuck lists up to max checkpoints that have waited for the sweeper's move
// m (from its in-flight status) for longer than age, oldest first.
func (s *Service) Stuck(ctx context.Context, m Move, age time.Duration, max int) ([]CheckpointKey, error) {
	if m.By != BySweeper || len(m.From) != 1 || !m.From[0].InFlight() {
		return nil, fmt.Errorf("the %s move is not the sweeper's", m.Name)
	}
	return s.Store.Stuck(ctx, m.From[0], s.now().Add(-age), max)
}

// ExtraInfo validates a checkpoint's extra_info: string keys to string,
// integer or boolean values (so it nests one level, within MaxNesting), at
// most MaxExtraInfoBytes as stored. It returns canonical JSON as stored;
// null gives nil.
func ExtraInfo(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, invalid("Invalid input for field 'extra_info': it must be an object.")
	}
	for k, v := range m {
		if !validInfoKey(k) {
			return nil, invalid("Invalid input for field 'extra_info': key %q must be 1 to 255 of A-Z, a-z, 0-9, '-', '_', ':', '.', '#' and space.", Clip(k))
		}
		switch v := v.(type) {
		case string, bool:
		case json.Number:
			if _, err := strconv.ParseInt(v.String(), 10, 64); err != nil {
				return nil, invalid("Invalid input for field 'extra_info': value of %q must be a string, an integer or a boolean.", Clip(k))
			}
		default:
			return nil, invalid("Invalid input for field 'extra_info': value of %q must be a string, an integer or a boolean.", Clip(k))
		}
	}
	out, err := MarshalJSON(m)
	if err != nil {
		return nil, invalid("Invalid input for field 'extra_info': it cannot be stored.")
	}
	if len(out) > MaxExtraInfoBytes {
		return nil, invalid("Invalid input for field 'extra_info': it takes %d bytes as stored, over the limit of %d bytes (DynamoDB's 400 KB item limit).", len(out), MaxExtraInfoBytes)
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}
