package api

import (
	"karbor/internal/domain"
	"karbor/internal/provider"
)

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
	lq := domain.CheckpointQuery{ProviderID: prov.ID}
	if lq.Listing, err = parseListing(r, q); err != nil {
		return nil, err
	}
	if v, ok := q["plan_id"]; ok {
		id, ok := domain.ParseUUID(v[0])
		if !ok {
			return nil, badRequest("Invalid plan_id %q: it must be a UUID.", domain.Clip(v[0]))
		}
		lq.PlanID = id
	}
	if v, ok := q["start_date"]; ok {
		if lq.Since, err = parseDate("start_date", v[0], false); err != nil {
			return nil, err
		}
	}
	if v, ok := q["end_date"]; ok {
		if lq.Until, err = parseDate("end_date", v[0], true); err != nil {
			return nil, err
		}
	}
	if v, ok := q["status"]; ok {
		st, ok := domain.ParseStatus(v[0])
		if !ok {
			return nil, badRequest("Invalid status %q: use one of protecting, available, error, deleting, deleted, error-deleting.", domain.Clip(v[0]))
		}
		lq.Status = st
	}
	fit := newPageFit(viewCheckpoint)
	lq.Fits = fit.fits
	page, err := s.Domain.ListCheckpoints(r.ctx(), lq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "checkpoints", "/v1/"+r.tenant+"/providers/"+prov.ID+"/checkpoints", page)
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
	// The Karbor client sends "extra-info"; either spelling is accepted.
	info, hasUnderscore := cp["extra_info"]
	if hyphen, hasHyphen := cp["extra-info"]; hasHyphen {
		if hasUnderscore {
			return nil, badRequest("Give either 'extra_info' or 'extra-info', not both.")
		}
		info = hyphen
	}
	c, err := s.Domain.CreateCheckpoint(r.ctx(), r.tenant, prov.ID, planID, info)
	if err != nil {
		return nil, err
	}
	r.log.Info("checkpoint created", "checkpoint_id", c.ID, "plan_id", planID, "provider_id", prov.ID)
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

func (s *Service) showCheckpoint(r *request) (any, error) {
	providerID, id, err := pathCheckpoint(r)
	if err != nil {
		return nil, err
	}
	c, err := s.Domain.Checkpoint(r.ctx(), r.tenant, providerID, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"checkpoint": viewCheckpoint(c)}, nil
}

func (s *Service) deleteCheckpoint(r *request) (any, error) {
	providerID, id, err := pathCheckpoint(r)
	if err != nil {
		return nil, err
	}
	changed, err := s.Domain.DeleteCheckpoint(r.ctx(), r.tenant, providerID, id)
	if err != nil {
		return nil, err
	}
	if changed {
		r.log.Info("checkpoint status changed", "checkpoint_id", id, "status", domain.StatusDeleting)
	} else {
		r.log.Info("checkpoint deleting or deleted already; nothing changed", "checkpoint_id", id)
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
	if err := s.Domain.ResetCheckpoint(r.ctx(), r.tenant, providerID, id, state); err != nil {
		return nil, err
	}
	r.log.Info("checkpoint status changed", "checkpoint_id", id, "status", state)
	return struct{}{}, nil
}
