package api

import (
	"slices"
	"strings"

	"karbor/internal/domain"
)

// operationLogView is an operation log as the contract shows it: every
// key present, null where unset.
type operationLogView struct {
	ID                   string         `json:"id"`
	ProjectID            string         `json:"project_id"`
	OperationType        string         `json:"operation_type"`
	CheckpointID         *string        `json:"checkpoint_id"`
	PlanID               *string        `json:"plan_id"`
	ProviderID           *string        `json:"provider_id"`
	RestoreID            *string        `json:"restore_id"`
	ScheduledOperationID *string        `json:"scheduled_operation_id"`
	Status               string         `json:"status"`
	StartedAt            string         `json:"started_at"`
	EndedAt              *string        `json:"ended_at"`
	ErrorInfo            *string        `json:"error_info"`
	ExtraInfo            map[string]any `json:"extra_info"`
}

func viewOperationLog(l *domain.OperationLog) operationLogView {
	v := operationLogView{
		ID:                   l.ID,
		ProjectID:            l.ProjectID,
		OperationType:        string(l.Type),
		CheckpointID:         l.CheckpointID,
		PlanID:               l.PlanID,
		ProviderID:           l.ProviderID,
		RestoreID:            l.RestoreID,
		ScheduledOperationID: l.ScheduledOperationID,
		Status:               l.Status,
		StartedAt:            domain.Timestamp(l.StartedAt),
		ErrorInfo:            l.ErrorInfo,
		ExtraInfo:            l.ExtraInfo,
	}
	if l.EndedAt != nil {
		ended := domain.Timestamp(*l.EndedAt)
		v.EndedAt = &ended
	}
	return v
}

// queryUUID reads an optional UUID filter; anything else is 400 naming it.
func queryUUID(q map[string][]string, name string) (string, error) {
	v, ok := q[name]
	if !ok {
		return "", nil
	}
	id, ok := domain.ParseUUID(v[0])
	if !ok {
		return "", badRequest("Invalid %s %q: it must be a UUID.", name, domain.Clip(v[0]))
	}
	return id, nil
}

func (s *Service) listOperationLogs(r *request) (any, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	var lq domain.OperationLogQuery
	if lq.Listing, err = parseListing(r, q); err != nil {
		return nil, err
	}
	if v, ok := q["status"]; ok {
		if !slices.Contains(domain.OperationLogStatuses, v[0]) {
			return nil, badRequest("Invalid status %q: use one of %s.", domain.Clip(v[0]), strings.Join(domain.OperationLogStatuses, ", "))
		}
		lq.Status = v[0]
	}
	if v, ok := q["operation_type"]; ok {
		t := domain.OperationType(v[0])
		if !slices.Contains(domain.OperationTypes, t) {
			names := make([]string, len(domain.OperationTypes))
			for i, t := range domain.OperationTypes {
				names[i] = string(t)
			}
			return nil, badRequest("Invalid operation_type %q: use one of %s.", domain.Clip(v[0]), strings.Join(names, ", "))
		}
		lq.Type = t
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"checkpoint_id", &lq.CheckpointID}, {"plan_id", &lq.PlanID},
		{"restore_id", &lq.RestoreID}, {"scheduled_operation_id", &lq.ScheduledOperationID},
	} {
		if *f.dst, err = queryUUID(q, f.name); err != nil {
			return nil, err
		}
	}
	fit := newPageFit(viewOperationLog)
	lq.Fits = fit.fits
	page, err := s.Domain.ListOperationLogs(r.ctx(), lq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "operation_logs", "/v1/"+r.tenant+"/operation_logs", page)
}

func (s *Service) showOperationLog(r *request) (any, error) {
	id, err := pathUUID(r, "operation_log_id")
	if err != nil {
		return nil, err
	}
	l, err := s.Domain.OperationLog(r.ctx(), r.tenant, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"operation_log": viewOperationLog(l)}, nil
}
