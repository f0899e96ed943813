package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
)

var defaultExtraInfo = json.RawMessage(`{"created_by":"manual"}`)

// pathProvider reads provider_id from the path; an unknown provider is 404.
func pathProvider(r *request) (*provider.Provider, error) {
	id, err := pathUUID(r, "provider_id")
	if err != nil {
		return nil, err
	}
	p, ok := provider.Get(id)
	if !ok {
		return nil, notFound("Provider %s could not be found.", id)
	}
	return p, nil
}

func (s *Service) listCheckpoints(r *request) (any, error) {
	prov, err := pathProvider(r)
	if err != nil {
		return nil, err
	}
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	lp, err := parseListParams(q)
	if err != nil {
		return nil, err
	}
	query := store.CheckpointQuery{ProviderID: prov.ID, Limit: lp.limit, Marker: lp.marker, Ascending: lp.ascending}
	if query.ProjectID, err = listedProject(r, q); err != nil {
		return nil, err
	}
	if v, ok := q["plan_id"]; ok {
		id, ok := domain.ParseUUID(v[0])
		if !ok {
			return nil, badRequest("Invalid plan_id %q: it must be a UUID.", clip(v[0]))
		}
		query.PlanID = id
	}
	if v, ok := q["start_date"]; ok {
		if query.Since, err = parseDate("start_date", v[0], false); err != nil {
			return nil, err
		}
	}
	if v, ok := q["end_date"]; ok {
		if query.Until, err = parseDate("end_date", v[0], true); err != nil {
			return nil, err
		}
	}
	if v, ok := q["status"]; ok {
		st, ok := domain.ParseStatus(v[0])
		if !ok {
			return nil, badRequest("Invalid status %q: use one of protecting, available, error, deleting, deleted, error-deleting.", clip(v[0]))
		}
		query.Status = st
	}

	page, err := s.Store.ListCheckpoints(r.ctx(), query)
	if errors.Is(err, store.ErrBadMarker) {
		return nil, badRequest("Invalid marker %s: it is not a checkpoint of this listing.", lp.marker)
	}
	if err != nil {
		return nil, err
	}
	views := make([]checkpointView, 0, len(page.Checkpoints))
	for _, c := range page.Checkpoints {
		views = append(views, viewCheckpoint(c))
	}
	out := map[string]any{"checkpoints": views}
	if page.More {
		path := "/v1/" + r.tenant + "/providers/" + prov.ID + "/checkpoints"
		// Not always the last id shown: a filtered page cut short by the
		// store's read budget goes on after the last checkpoint it read.
		out["checkpoints_links"] = nextLink(r, path, page.NextMarker)
	}
	return out, nil
}

func (s *Service) createCheckpoint(r *request) (any, error) {
	prov, err := pathProvider(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := body.only("request body", "checkpoint"); err != nil {
		return nil, err
	}
	cp, err := body.member("checkpoint")
	if err != nil {
		return nil, err
	}
	if err := cp.only("'checkpoint'", "plan_id", "extra_info", "extra-info"); err != nil {
		return nil, err
	}
	planID, err := cp.requiredUUID("plan_id")
	if err != nil {
		return nil, err
	}
	rawInfo, hasUnderscore := cp["extra_info"]
	if hyphen, hasHyphen := cp["extra-info"]; hasHyphen {
		if hasUnderscore {
			return nil, badRequest("Give either 'extra_info' or 'extra-info', not both.")
		}
		rawInfo = hyphen
	}
	info, err := extraInfo(rawInfo)
	if err != nil {
		return nil, err
	}
	if info == nil {
		info = defaultExtraInfo
	}

	plan, err := s.Store.GetPlan(r.ctx(), r.tenant, planID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Plan %s could not be found.", planID)
	}
	if err != nil {
		return nil, err
	}
	if plan.ProviderID != prov.ID {
		return nil, badRequest("Plan %s belongs to provider %s, not %s.", plan.ID, plan.ProviderID, prov.ID)
	}

	now := s.now().UTC().Truncate(time.Second)
	c := &domain.Checkpoint{
		ID:         domain.NewID(),
		ProjectID:  r.tenant,
		ProviderID: prov.ID,
		Status:     domain.StatusProtecting,
		Plan: domain.ProtectionPlan{
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
	if err := s.Store.CreateCheckpoint(r.ctx(), c); err != nil {
		return nil, err
	}
	r.log.Info("checkpoint created", "checkpoint_id", c.ID, "plan_id", plan.ID, "provider_id", prov.ID)
	return map[string]any{"checkpoint": viewCheckpoint(c)}, nil
}

// pathCheckpoint reads provider_id and checkpoint_id from the path.
// Both ids are checked to be UUIDs before the provider is looked up.
func pathCheckpoint(r *request) (providerID, checkpointID string, err error) {
	if _, err := pathUUID(r, "provider_id"); err != nil {
		return "", "", err
	}
	id, err := pathUUID(r, "checkpoint_id")
	if err != nil {
		return "", "", err
	}
	prov, err := pathProvider(r)
	if err != nil {
		return "", "", err
	}
	return prov.ID, id, nil
}

func checkpointNotFound(id string) error {
	return notFound("Checkpoint %s could not be found.", id)
}

func (s *Service) showCheckpoint(r *request) (any, error) {
	providerID, id, err := pathCheckpoint(r)
	if err != nil {
		return nil, err
	}
	c, err := s.Store.GetCheckpoint(r.ctx(), r.tenant, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (c.ProviderID != providerID || expired(s, c))) {
		return nil, checkpointNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"checkpoint": viewCheckpoint(c)}, nil
}

// expired reports a deleted checkpoint past its expiry time: DynamoDB's TTL
// removes it within days, not at once, and until then it is gone already
// for its callers.
func expired(s *Service, c *domain.Checkpoint) bool {
	return c != nil && c.ExpiresAt != 0 && s.now().Unix() >= c.ExpiresAt
}

// settled are the statuses a checkpoint may be deleted or reset from.
var settled = []domain.Status{domain.StatusAvailable, domain.StatusError}

// transition applies a status change and maps the store's outcome.
func (s *Service) transition(r *request, providerID, id string, to domain.Status, verb string) error {
	current, err := s.Store.SetStatus(r.ctx(), store.Transition{
		ProjectID: r.tenant, ProviderID: providerID, ID: id,
		From: settled, To: to, At: s.now(),
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return checkpointNotFound(id)
	case errors.Is(err, store.ErrConflict) && expired(s, current):
		return checkpointNotFound(id) // as show answers: gone, only not yet removed
	case errors.Is(err, store.ErrConflict):
		return faultf(http.StatusConflict, "Checkpoint %s is %s: it can be %s only when it is available or error.", id, current.Status, verb)
	case err != nil:
		return err
	}
	r.log.Info("checkpoint status changed", "checkpoint_id", id, "status", to)
	return nil
}

func (s *Service) deleteCheckpoint(r *request) (any, error) {
	providerID, id, err := pathCheckpoint(r)
	if err != nil {
		return nil, err
	}
	if err := s.transition(r, providerID, id, domain.StatusDeleting, "deleted"); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Service) resetCheckpointState(r *request) (any, error) {
	providerID, id, err := pathCheckpoint(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := body.only("request body", "os-resetState"); err != nil {
		return nil, err
	}
	reset, err := body.member("os-resetState")
	if err != nil {
		return nil, err
	}
	if err := reset.only("'os-resetState'", "state"); err != nil {
		return nil, err
	}
	state, present, err := reset.str("state")
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, badRequest("'state' is a required property.")
	}
	to := domain.Status(state)
	if to != domain.StatusAvailable && to != domain.StatusError {
		return nil, badRequest("Invalid state %q: a checkpoint can be reset to available or error.", state)
	}
	if err := s.transition(r, providerID, id, to, "reset"); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
