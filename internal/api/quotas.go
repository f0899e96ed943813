package api

import (
	"net/http"

	"karbor/internal/domain"
)

// Quotas and quota classes (CONTRACT.md "Quotas"). Limits shown are the
// effective ones: the project's override, else the default class's value,
// else the deployment default.

// quotaProject reads {project_id}: the tenant id's form, else 400.
func quotaProject(r *request) (string, error) {
	id := r.PathValue("project_id")
	if !domain.ValidProjectID(id) {
		return "", badRequest("Invalid project_id: it must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'.")
	}
	return id, nil
}

// ownQuota reads {project_id}, which a caller who is not admin may only
// name as its own project (403 otherwise).
func ownQuota(r *request) (string, error) {
	id, err := quotaProject(r)
	if err != nil {
		return "", err
	}
	if id != r.caller.ProjectID && !r.caller.IsAdmin() {
		return "", faultf(http.StatusForbidden, "Project %s may not access the quota of project %s.", r.caller.ProjectID, id)
	}
	return id, nil
}

// adminOnly refuses a caller without the admin role (403).
func adminOnly(r *request, what string) error {
	if !r.caller.IsAdmin() {
		return faultf(http.StatusForbidden, "Only an admin may %s.", what)
	}
	return nil
}

// viewLimits is a quota or quota class as shown: its id and a limit per
// resource.
func viewLimits(id string, l domain.Limits) map[string]any {
	out := map[string]any{"id": id}
	for _, r := range domain.QuotaResources {
		out[string(r)] = l[r]
	}
	return out
}

// quotaUpdate reads a body {"<key>": {"plans"?, "checkpoints"?}}: at least
// one known resource, each a limit (domain.ParseQuotaLimit) or null.
func quotaUpdate(r *request, key string) (domain.QuotaUpdate, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := body.only("request body", key); err != nil {
		return nil, err
	}
	in, err := body.member(key)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(domain.QuotaResources))
	for i, res := range domain.QuotaResources {
		names[i] = string(res)
	}
	if err := in.only("'"+key+"'", names...); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, badRequest("Missing updated parameters in request body.")
	}
	u := domain.QuotaUpdate{}
	for _, res := range domain.QuotaResources {
		raw, ok := in[string(res)]
		if !ok {
			continue
		}
		if u[res], err = domain.ParseQuotaLimit(res, raw); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func (s *Service) showQuota(r *request) (any, error) {
	id, err := ownQuota(r)
	if err != nil {
		return nil, err
	}
	limits, _, err := s.Domain.Quota(r.ctx(), id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"quota": viewLimits(id, limits)}, nil
}

func (s *Service) showQuotaDetail(r *request) (any, error) {
	id, err := ownQuota(r)
	if err != nil {
		return nil, err
	}
	limits, q, err := s.Domain.Quota(r.ctx(), id)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"id": id}
	for _, res := range domain.QuotaResources {
		out[string(res)] = map[string]int64{"limit": limits[res], "in_use": q.InUse[res], "reserved": 0}
	}
	return map[string]any{"quota": out}, nil
}

func (s *Service) showQuotaDefaults(r *request) (any, error) {
	id, err := quotaProject(r)
	if err != nil {
		return nil, err
	}
	limits, err := s.Domain.QuotaDefaults(r.ctx())
	if err != nil {
		return nil, err
	}
	return map[string]any{"quota": viewLimits(id, limits)}, nil
}

func (s *Service) updateQuota(r *request) (any, error) {
	if err := adminOnly(r, "update quotas"); err != nil {
		return nil, err
	}
	id, err := quotaProject(r)
	if err != nil {
		return nil, err
	}
	u, err := quotaUpdate(r, "quota")
	if err != nil {
		return nil, err
	}
	limits, err := s.Domain.UpdateQuota(r.ctx(), id, u)
	if err != nil {
		return nil, err
	}
	return map[string]any{"quota": viewLimits(id, limits)}, nil
}

func (s *Service) deleteQuota(r *request) (any, error) {
	if err := adminOnly(r, "delete quotas"); err != nil {
		return nil, err
	}
	id, err := quotaProject(r)
	if err != nil {
		return nil, err
	}
	return nil, s.Domain.Store.DeleteQuota(r.ctx(), id)
}

func (s *Service) showQuotaClass(r *request) (any, error) {
	name := r.PathValue("class_name")
	limits, err := s.Domain.QuotaClass(r.ctx(), name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"quota_class": viewLimits(name, limits)}, nil
}

func (s *Service) updateQuotaClass(r *request) (any, error) {
	if err := adminOnly(r, "update quota classes"); err != nil {
		return nil, err
	}
	name := r.PathValue("class_name")
	if err := domain.QuotaClassNotFound(name); err != nil {
		return nil, err
	}
	u, err := quotaUpdate(r, "quota_class")
	if err != nil {
		return nil, err
	}
	limits, err := s.Domain.UpdateQuotaClass(r.ctx(), name, u)
	if err != nil {
		return nil, err
	}
	return map[string]any{"quota_class": viewLimits(name, limits)}, nil
}
