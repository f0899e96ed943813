package api

import (
	"encoding/json"
	"net/url"

	"karbor/internal/domain"
)

type restoreView struct {
	ID                string                     `json:"id"`
	ProjectID         string                     `json:"project_id"`
	ProviderID        string                     `json:"provider_id"`
	CheckpointID      string                     `json:"checkpoint_id"`
	RestoreTarget     *string                    `json:"restore_target"`
	Parameters        map[string]json.RawMessage `json:"parameters"`
	Status            domain.TaskStatus          `json:"status"`
	ResourcesStatus   map[string]string          `json:"resources_status"`
	ResourcesReason   map[string]string          `json:"resources_reason"`
	RestoredResources map[string]domain.Restored `json:"restored_resources"`
	CreatedAt         string                     `json:"created_at"`
	UpdatedAt         string                     `json:"updated_at"`
}

type verificationView struct {
	ID              string                     `json:"id"`
	ProjectID       string                     `json:"project_id"`
	ProviderID      string                     `json:"provider_id"`
	CheckpointID    string                     `json:"checkpoint_id"`
	Parameters      map[string]json.RawMessage `json:"parameters"`
	Status          domain.TaskStatus          `json:"status"`
	ResourcesStatus map[string]string          `json:"resources_status"`
	ResourcesReason map[string]string          `json:"resources_reason"`
	CreatedAt       string                     `json:"created_at"`
	UpdatedAt       string                     `json:"updated_at"`
}

// orEmpty is m, or an empty map for JSON {} (never null).
func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func viewRestore(t *domain.Task) restoreView {
	return restoreView{
		ID: t.ID, ProjectID: t.ProjectID, ProviderID: t.ProviderID, CheckpointID: t.CheckpointID,
		RestoreTarget: t.RestoreTarget, Parameters: orEmpty(t.Parameters), Status: t.Status,
		ResourcesStatus: orEmpty(t.ResourcesStatus), ResourcesReason: orEmpty(t.ResourcesReason),
		RestoredResources: orEmpty(t.RestoredResources),
		CreatedAt:         domain.Timestamp(t.CreatedAt), UpdatedAt: domain.Timestamp(t.UpdatedAt),
	}
}

func viewVerification(t *domain.Task) verificationView {
	return verificationView{
		ID: t.ID, ProjectID: t.ProjectID, ProviderID: t.ProviderID, CheckpointID: t.CheckpointID,
		Parameters: orEmpty(t.Parameters), Status: t.Status,
		ResourcesStatus: orEmpty(t.ResourcesStatus), ResourcesReason: orEmpty(t.ResourcesReason),
		CreatedAt: domain.Timestamp(t.CreatedAt), UpdatedAt: domain.Timestamp(t.UpdatedAt),
	}
}

// taskBody decodes a restore's or verification's create body: the
// wrapper alone at the top, only the listed keys in it, the two ids
// required, parameters an object (default {}).
func taskBody(r *request, wrapper string, allowed ...string) (object, domain.TaskInput, error) {
	var in domain.TaskInput
	body, err := readBody(r)
	if err != nil {
		return nil, in, err
	}
	if err := body.only("request body", wrapper); err != nil {
		return nil, in, err
	}
	o, err := body.member(wrapper)
	if err != nil {
		return nil, in, err
	}
	if err := o.only("'"+wrapper+"'", allowed...); err != nil {
		return nil, in, err
	}
	if in.ProviderID, err = o.requiredUUID("provider_id"); err != nil {
		return nil, in, err
	}
	if in.CheckpointID, err = o.requiredUUID("checkpoint_id"); err != nil {
		return nil, in, err
	}
	in.Parameters = map[string]json.RawMessage{}
	if raw, ok := o["parameters"]; ok {
		params, err := asObject(raw, "'parameters'")
		if err != nil {
			return nil, in, err
		}
		in.Parameters = map[string]json.RawMessage(params)
	}
	return o, in, nil
}

// restoreAuthRefusal is the answer to any restore_auth but null; the value
// is never read further, logged or stored.
const restoreAuthRefusal = "credentials are not accepted: restores run with the service's own role; send restore_auth null."

// screenRestore refuses, before the Idempotency-Key is reserved, a body
// with credentials in restore_auth: no trace of them (not even a hash of
// the body in the idempotency table) is kept. A body that is not JSON is
// left to the handler.
func screenRestore(body []byte) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil
	}
	var restore map[string]json.RawMessage
	if json.Unmarshal(top["restore"], &restore) != nil {
		return nil
	}
	if raw, ok := restore["restore_auth"]; ok && !isNull(raw) {
		return badRequest(restoreAuthRefusal)
	}
	return nil
}

func (s *Service) createRestore(r *request) (any, error) {
	o, in, err := taskBody(r, "restore", "provider_id", "checkpoint_id", "parameters", "restore_target", "restore_auth")
	if err != nil {
		return nil, err
	}
	if raw, ok := o["restore_auth"]; ok && !isNull(raw) {
		return nil, badRequest(restoreAuthRefusal)
	}
	if raw, ok := o["restore_target"]; ok && !isNull(raw) {
		var target string
		if json.Unmarshal(raw, &target) != nil {
			target = string(raw) // not a string: refused by the domain as any other
		}
		in.RestoreTarget = &target
	}
	t, err := s.Domain.CreateRestore(r.ctx(), r.tenant, in)
	if err != nil {
		return nil, err
	}
	r.log.Info("restore created", "restore_id", t.ID, "checkpoint_id", t.CheckpointID, "provider_id", t.ProviderID)
	return map[string]any{"restore": viewRestore(t)}, nil
}

// taskQuery reads a listing of restores or verifications: the listing's
// common parameters and the filters status, checkpoint_id, provider_id.
func taskQuery(r *request, kind domain.TaskKind) (domain.TaskQuery, error) {
	tq := domain.TaskQuery{Kind: kind}
	q, err := query(r)
	if err != nil {
		return tq, err
	}
	if tq.Listing, err = parseListing(r, q); err != nil {
		return tq, err
	}
	if v, ok := q["status"]; ok {
		tq.Status = domain.TaskStatus(v[0])
		if tq.Status != domain.TaskInProgress && tq.Status != domain.TaskSuccess && tq.Status != domain.TaskFail {
			return tq, badRequest("Invalid status %q: use one of in_progress, success, fail.", domain.Clip(v[0]))
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"checkpoint_id", &tq.CheckpointID}, {"provider_id", &tq.ProviderID}} {
		if v, ok := q[f.name]; ok {
			id, ok := domain.ParseUUID(v[0])
			if !ok {
				return tq, badRequest("Invalid %s %q: it must be a UUID.", f.name, domain.Clip(v[0]))
			}
			*f.dst = id
		}
	}
	return tq, nil
}

func (s *Service) listRestores(r *request) (any, error) {
	tq, err := taskQuery(r, domain.KindRestore)
	if err != nil {
		return nil, err
	}
	fit := newPageFit(viewRestore)
	tq.Fits = fit.fits
	page, err := s.Domain.ListTasks(r.ctx(), tq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "restores", "/v1/"+url.PathEscape(r.tenant)+"/restores", page)
}

func (s *Service) showRestore(r *request) (any, error) {
	id, err := pathUUID(r, "restore_id")
	if err != nil {
		return nil, err
	}
	t, err := s.Domain.GetTask(r.ctx(), domain.KindRestore, r.tenant, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"restore": viewRestore(t)}, nil
}
