package api

import (
	"encoding/json"

	"karbor/internal/domain"
)

// planName decodes and checks a plan's name: a string, not null.
func planName(o object) (string, bool, error) {
	name, present, err := o.str("name")
	if err != nil && isNull(o["name"]) {
		return "", true, badRequest("An invalid 'name' value was provided. The 'name' can not be None.")
	}
	if err == nil && present {
		err = domain.CheckPlanName(name)
	}
	return name, present, err
}

// planDescription decodes and checks an optional description; null clears
// it.
func planDescription(o object) (desc *string, present bool, err error) {
	raw, ok := o["description"]
	if !ok {
		return nil, false, nil
	}
	if isNull(raw) {
		return nil, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, true, badRequest("Invalid input for field 'description': it must be a string or null.")
	}
	return &s, true, domain.CheckDescription(&s)
}

// planResources decodes a list of resources, checking each as it goes
// with the domain's rules for the plan's provider.
func planResources(raw json.RawMessage, prov domain.Provider) ([]domain.Resource, error) {
	var items []json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &items) != nil {
		return nil, badRequest("Invalid input for field 'resources': it must be a list of resources.")
	}
	if err := domain.CheckResourceCount(len(items)); err != nil {
		return nil, err
	}
	check := domain.NewResourceChecker(prov)
	out := make([]domain.Resource, 0, len(items))
	for i, item := range items {
		o, err := asObject(item, "a resource")
		if err != nil {
			return nil, err
		}
		if err := o.only("a resource", "id", "type", "name", "extra_info"); err != nil {
			return nil, err
		}
		var res domain.Resource
		for _, f := range []struct {
			key string
			dst *string
		}{{"id", &res.ID}, {"type", &res.Type}, {"name", &res.Name}} {
			if *f.dst, _, err = o.str(f.key); err != nil {
				return nil, err
			}
			if err := check.Field(i, f.key, *f.dst); err != nil {
				return nil, err
			}
		}
		if err := check.Type(res.Type); err != nil {
			return nil, err
		}
		if raw, ok := o["extra_info"]; ok && !isNull(raw) {
			info, err := asObject(raw, "'extra_info' of a resource")
			if err != nil {
				return nil, err
			}
			if len(info) > 0 {
				if res.ExtraInfo, err = domain.MarshalJSON(info); err != nil {
					return nil, badRequest("Invalid input for field 'resources': 'extra_info' of a resource cannot be stored.")
				}
			}
		}
		if err := check.ExtraInfo(i, res.ExtraInfo); err != nil {
			return nil, err
		}
		if err := check.Unique(res); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// The plan routes decode and check a body's fields in upstream's order, so
// that a body with several faults is answered about the same one.

func (s *Service) createPlan(r *request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := body.only("request body", "plan"); err != nil {
		return nil, err
	}
	in, err := body.member("plan")
	if err != nil {
		return nil, err
	}
	if err := in.only("'plan'", "name", "description", "provider_id", "parameters", "resources"); err != nil {
		return nil, err
	}
	var p domain.PlanInput
	var present bool
	if p.Name, present, err = planName(in); err != nil {
		return nil, err
	}
	if !present {
		return nil, badRequest("'name' is a required property.")
	}
	if p.Description, _, err = planDescription(in); err != nil {
		return nil, err
	}
	if p.ProviderID, err = in.requiredUUID("provider_id"); err != nil {
		return nil, err
	}
	prov, err := s.Domain.Provider(p.ProviderID)
	if err != nil {
		return nil, err
	}
	rawParams, ok := in["parameters"]
	if !ok {
		return nil, badRequest("'parameters' is a required property.")
	}
	params, err := asObject(rawParams, "'parameters'")
	if err != nil {
		return nil, err
	}
	p.Parameters = map[string]json.RawMessage(params)
	if err := s.Domain.CheckParameters(p.Parameters, prov); err != nil {
		return nil, err
	}
	rawResources, ok := in["resources"]
	if !ok {
		return nil, badRequest("'resources' is a required property.")
	}
	if p.Resources, err = planResources(rawResources, prov); err != nil {
		return nil, err
	}
	plan, err := s.Domain.CreatePlan(r.ctx(), r.tenant, p)
	if err != nil {
		return nil, err
	}
	return map[string]any{"plan": viewPlan(plan)}, nil
}

func (s *Service) showPlan(r *request) (any, error) {
	id, err := pathUUID(r, "plan_id")
	if err != nil {
		return nil, err
	}
	p, err := s.Domain.Plan(r.ctx(), r.tenant, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"plan": viewPlan(p)}, nil
}

func (s *Service) updatePlan(r *request) (any, error) {
	id, err := pathUUID(r, "plan_id")
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := body.only("request body", "plan"); err != nil {
		return nil, err
	}
	in, err := body.member("plan")
	if err != nil {
		return nil, err
	}
	if err := in.only("'plan'", "name", "description", "resources", "status"); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, badRequest("Missing updated parameters in request body.")
	}
	var c domain.PlanChange
	if name, present, err := planName(in); err != nil {
		return nil, err
	} else if present {
		c.Name = &name
	}
	desc, present, err := planDescription(in)
	if err != nil {
		return nil, err
	}
	c.Description, c.ClearDescription = desc, present && desc == nil
	if status, present, err := in.str("status"); err != nil {
		return nil, err
	} else if present {
		if err := domain.CheckPlanStatus(status); err != nil {
			return nil, err
		}
		c.Status = &status
	}
	if raw, ok := in["resources"]; ok {
		c.Resources = func(prov domain.Provider) ([]domain.Resource, error) { return planResources(raw, prov) }
	}
	p, err := s.Domain.UpdatePlan(r.ctx(), r.tenant, id, c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"plan": viewPlan(p)}, nil
}

func (s *Service) deletePlan(r *request) (any, error) {
	id, err := pathUUID(r, "plan_id")
	if err != nil {
		return nil, err
	}
	return nil, s.Domain.DeletePlan(r.ctx(), r.tenant, id)
}

func (s *Service) listPlans(r *request) (any, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	lq := domain.PlanQuery{Name: q.Get("name"), Description: q.Get("description"), Status: q.Get("status")}
	if lq.Listing, err = parseListing(r, q); err != nil {
		return nil, err
	}
	fit := newPageFit(viewPlan)
	lq.Fits = fit.fits
	page, err := s.Domain.ListPlans(r.ctx(), lq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "plans", r.URL.EscapedPath(), page)
}
