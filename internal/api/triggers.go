package api

import (
	"encoding/json"

	"karbor/internal/domain"
)

// triggerView is a trigger as the contract shows it: properties with JSON
// types (window an integer, end_time null when unset).
type triggerView struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	ProjectID  string         `json:"project_id"`
	CreatedAt  string         `json:"created_at"`
	Properties map[string]any `json:"properties"`
}

func viewTrigger(t *domain.Trigger) triggerView {
	return triggerView{
		ID: t.ID, Name: t.Name, Type: t.Type, ProjectID: t.ProjectID,
		CreatedAt: domain.Timestamp(t.CreatedAt), Properties: t.Properties.View(),
	}
}

// wrapped reads a body that is one wrapper object holding only the
// allowed keys.
func wrapped(r *request, wrapper string, allowed ...string) (object, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := body.only("request body", wrapper); err != nil {
		return nil, err
	}
	o, err := body.member(wrapper)
	if err != nil {
		return nil, err
	}
	if err := o.only("'"+wrapper+"'", allowed...); err != nil {
		return nil, err
	}
	return o, nil
}

// requiredStr decodes a required string field.
func (o object) requiredStr(key string) (string, error) {
	s, present, err := o.str(key)
	if err == nil && !present {
		err = badRequest("'%s' is a required property.", key)
	}
	return s, err
}

// requiredName decodes a required name (checked by the domain).
func requiredName(o object) (string, error) {
	name, present, err := planName(o)
	if err == nil && !present {
		err = badRequest("'name' is a required property.")
	}
	return name, err
}

// propertiesOf decodes a trigger's properties: an object of the listed
// keys only (required on create).
func propertiesOf(o object, required bool) (map[string]json.RawMessage, error) {
	raw, ok := o["properties"]
	if !ok {
		if required {
			return nil, badRequest("'properties' is a required property.")
		}
		return nil, nil
	}
	props, err := asObject(raw, "'properties'")
	if err != nil {
		return nil, err
	}
	if err := props.only("'properties'", domain.TriggerPropertyKeys...); err != nil {
		return nil, err
	}
	return props, nil
}

func (s *Service) createTrigger(r *request) (any, error) {
	o, err := wrapped(r, "trigger_info", "name", "type", "properties")
	if err != nil {
		return nil, err
	}
	var in domain.TriggerInput
	if in.Name, err = requiredName(o); err != nil {
		return nil, err
	}
	if in.Type, err = o.requiredStr("type"); err != nil {
		return nil, err
	}
	if in.Properties, err = propertiesOf(o, true); err != nil {
		return nil, err
	}
	t, err := s.Domain.CreateTrigger(r.ctx(), r.tenant, in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"trigger_info": viewTrigger(t)}, nil
}

func (s *Service) showTrigger(r *request) (any, error) {
	id, err := pathUUID(r, "trigger_id")
	if err != nil {
		return nil, err
	}
	t, err := s.Domain.Trigger(r.ctx(), r.tenant, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"trigger_info": viewTrigger(t)}, nil
}

func (s *Service) updateTrigger(r *request) (any, error) {
	id, err := pathUUID(r, "trigger_id")
	if err != nil {
		return nil, err
	}
	o, err := wrapped(r, "trigger_info", "name", "type", "properties")
	if err != nil {
		return nil, err
	}
	var c domain.TriggerChange
	if name, present, err := planName(o); err != nil {
		return nil, err
	} else if present {
		c.Name = &name
	}
	if typ, present, err := o.str("type"); err != nil {
		return nil, err
	} else if present {
		c.Type = &typ
	}
	if c.Properties, err = propertiesOf(o, false); err != nil {
		return nil, err
	}
	t, err := s.Domain.UpdateTrigger(r.ctx(), r.tenant, id, c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"trigger_info": viewTrigger(t)}, nil
}

func (s *Service) deleteTrigger(r *request) (any, error) {
	id, err := pathUUID(r, "trigger_id")
	if err != nil {
		return nil, err
	}
	return nil, s.Domain.DeleteTrigger(r.ctx(), r.tenant, id)
}

func (s *Service) listTriggers(r *request) (any, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	lq := domain.TriggerQuery{Name: q.Get("name"), Properties: q.Get("properties"), Type: q.Get("type")}
	if lq.Listing, err = parseListing(r, q); err != nil {
		return nil, err
	}
	if _, ok := q["type"]; ok {
		if err := domain.CheckTriggerType(lq.Type); err != nil {
			return nil, err
		}
	}
	fit := newPageFit(viewTrigger)
	lq.Fits = fit.fits
	page, err := s.Domain.ListTriggers(r.ctx(), lq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "triggers", "/v1/"+r.tenant+"/triggers", page)
}
