package api

import (
	"encoding/json"

	"karbor/internal/domain"
)

// scheduledOperationView is a scheduled operation as the contract shows
// it: the definition with JSON types, only the keys set.
type scheduledOperationView struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Description   *string        `json:"description"`
	OperationType string         `json:"operation_type"`
	TriggerID     string         `json:"trigger_id"`
	Definition    map[string]any `json:"operation_definition"`
	Enabled       bool           `json:"enabled"`
	ProjectID     string         `json:"project_id"`
	CreatedAt     string         `json:"created_at"`
}

func viewScheduledOperation(op *domain.ScheduledOperation) scheduledOperationView {
	return scheduledOperationView{
		ID: op.ID, Name: op.Name, Description: op.Description, OperationType: string(op.Type),
		TriggerID: op.TriggerID, Definition: op.Definition.View(), Enabled: op.Enabled,
		ProjectID: op.ProjectID, CreatedAt: domain.Timestamp(op.CreatedAt),
	}
}

func (s *Service) createScheduledOperation(r *request) (any, error) {
	o, err := wrapped(r, "scheduled_operation", "name", "description", "operation_type", "trigger_id", "operation_definition")
	if err != nil {
		return nil, err
	}
	var in domain.ScheduledOperationInput
	if in.Name, err = requiredName(o); err != nil {
		return nil, err
	}
	if in.Description, _, err = planDescription(o); err != nil {
		return nil, err
	}
	if in.Type, err = o.requiredStr("operation_type"); err != nil {
		return nil, err
	}
	if in.TriggerID, err = o.requiredUUID("trigger_id"); err != nil {
		return nil, err
	}
	def, err := o.member("operation_definition")
	if err != nil {
		return nil, err
	}
	in.Definition = map[string]json.RawMessage(def)
	op, err := s.Domain.CreateScheduledOperation(r.ctx(), r.tenant, in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"scheduled_operation": viewScheduledOperation(op)}, nil
}

func (s *Service) showScheduledOperation(r *request) (any, error) {
	id, err := pathUUID(r, "scheduled_operation_id")
	if err != nil {
		return nil, err
	}
	op, err := s.Domain.ScheduledOperation(r.ctx(), r.tenant, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"scheduled_operation": viewScheduledOperation(op)}, nil
}

func (s *Service) updateScheduledOperation(r *request) (any, error) {
	id, err := pathUUID(r, "scheduled_operation_id")
	if err != nil {
		return nil, err
	}
	o, err := wrapped(r, "scheduled_operation", "name", "description", "enabled")
	if err != nil {
		return nil, err
	}
	var u domain.ScheduledOperationUpdate
	if name, present, err := planName(o); err != nil {
		return nil, err
	} else if present {
		u.Name = &name
	}
	desc, present, err := planDescription(o)
	if err != nil {
		return nil, err
	}
	u.Description, u.ClearDescription = desc, present && desc == nil
	if raw, ok := o["enabled"]; ok {
		var b bool
		if isNull(raw) || json.Unmarshal(raw, &b) != nil {
			return nil, badRequest("Invalid input for field 'enabled': it must be a boolean.")
		}
		u.Enabled = &b
	}
	op, err := s.Domain.UpdateScheduledOperation(r.ctx(), r.tenant, id, u)
	if err != nil {
		return nil, err
	}
	return map[string]any{"scheduled_operation": viewScheduledOperation(op)}, nil
}

func (s *Service) deleteScheduledOperation(r *request) (any, error) {
	id, err := pathUUID(r, "scheduled_operation_id")
	if err != nil {
		return nil, err
	}
	return nil, s.Domain.DeleteScheduledOperation(r.ctx(), r.tenant, id)
}

func (s *Service) listScheduledOperations(r *request) (any, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	lq := domain.ScheduledOperationQuery{Name: q.Get("name"), Definition: q.Get("operation_definition"), Type: domain.ScheduledOperationType(q.Get("operation_type"))}
	if lq.Listing, err = parseListing(r, q); err != nil {
		return nil, err
	}
	if _, ok := q["operation_type"]; ok {
		if err := domain.CheckScheduledOperationType(string(lq.Type)); err != nil {
			return nil, err
		}
	}
	if lq.TriggerID, err = queryUUID(q, "trigger_id"); err != nil {
		return nil, err
	}
	fit := newPageFit(viewScheduledOperation)
	lq.Fits = fit.fits
	page, err := s.Domain.ListScheduledOperations(r.ctx(), lq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "operations", "/v1/"+r.tenant+"/scheduled_operations", page)
}
