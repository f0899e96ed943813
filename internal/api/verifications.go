package api

import (
	"net/url"

	"karbor/internal/domain"
)

func (s *Service) createVerification(r *request) (any, error) {
	_, in, err := taskBody(r, "verification", "provider_id", "checkpoint_id", "parameters")
	if err != nil {
		return nil, err
	}
	t, err := s.Domain.CreateVerification(r.ctx(), r.tenant, in)
	if err != nil {
		return nil, err
	}
	r.log.Info("verification created", "verification_id", t.ID, "checkpoint_id", t.CheckpointID, "provider_id", t.ProviderID)
	return map[string]any{"verification": viewVerification(t)}, nil
}

func (s *Service) listVerifications(r *request) (any, error) {
	tq, err := taskQuery(r, domain.KindVerification)
	if err != nil {
		return nil, err
	}
	fit := newPageFit(viewVerification)
	tq.Fits = fit.fits
	page, err := s.Domain.ListTasks(r.ctx(), tq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "verifications", "/v1/"+url.PathEscape(r.tenant)+"/verifications", page)
}

func (s *Service) showVerification(r *request) (any, error) {
	id, err := pathUUID(r, "verification_id")
	if err != nil {
		return nil, err
	}
	t, err := s.Domain.GetTask(r.ctx(), domain.KindVerification, r.tenant, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"verification": viewVerification(t)}, nil
}
