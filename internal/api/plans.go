package api

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
)

const (
	maxNameLength = 255
	maxResources  = 200
)

// planName validates a plan's name: a string, not blank.
func planName(o object) (string, bool, error) {
	name, present, err := o.str("name")
	if err != nil {
		if raw := o["name"]; isNull(raw) {
			return "", true, badRequest("An invalid 'name' value was provided. The 'name' can not be None.")
		}
		return "", true, err
	}
	if !present {
		return "", false, nil
	}
	if strings.TrimSpace(name) == "" {
		return "", true, badRequest("An invalid 'name' value was provided. The 'name' can not be empty.")
	}
	if utf8.RuneCountInString(name) > maxNameLength {
		return "", true, badRequest("An invalid 'name' value was provided. The 'name' is longer than %d characters.", maxNameLength)
	}
	return name, true, nil
}

// planDescription validates an optional description; null clears it.
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
	if utf8.RuneCountInString(s) > maxNameLength {
		return nil, true, badRequest("Invalid input for field 'description': it is longer than %d characters.", maxNameLength)
	}
	return &s, true, nil
}

// planResources validates a non-empty list of resources the provider accepts.
func planResources(raw json.RawMessage, prov *provider.Provider) ([]domain.Resource, error) {
	var items []json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &items) != nil {
		return nil, badRequest("Invalid input for field 'resources': it must be a list of resources.")
	}
	if len(items) == 0 {
		return nil, badRequest("Invalid input for field 'resources': the list is empty.")
	}
	// One checkpoint protects its resources in one worker run, and its
	// graph is one DynamoDB item: a plan stays well within both.
	if len(items) > maxResources {
		return nil, badRequest("Invalid input for field 'resources': at most %d resources per plan.", maxResources)
	}
	seen := map[string]bool{}
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
			v, present, err := o.str(f.key)
			if err != nil {
				return nil, err
			}
			if !present || strings.TrimSpace(v) == "" {
				return nil, badRequest("Invalid input for field 'resources': resource %d needs a non-empty '%s'.", i, f.key)
			}
			if utf8.RuneCountInString(v) > maxNameLength {
				return nil, badRequest("Invalid input for field 'resources': '%s' of resource %d is longer than %d characters.", f.key, i, maxNameLength)
			}
			*f.dst = v
		}
		if !prov.Accepts(res.Type) {
			return nil, badRequest("Resource type %s is not supported by provider %s.", res.Type, prov.Name)
		}
		if raw, ok := o["extra_info"]; ok && !isNull(raw) {
			info, err := asObject(raw, "'extra_info' of a resource")
			if err != nil {
				return nil, err
			}
			if len(info) > 0 {
				res.ExtraInfo, _ = json.Marshal(info)
			}
		}
		k := res.Type + "#" + res.ID
		if seen[k] {
			return nil, badRequest("Invalid input for field 'resources': resource %s of type %s is listed twice.", res.ID, res.Type)
		}
		seen[k] = true
		out = append(out, res)
	}
	return out, nil
}

// paramKeyOK: a resource type, optionally "#<resource id>", 1 to 255
// characters; only the id may hold "/" (ids may be ARNs).
var paramKeyOK = regexp.MustCompile(`^[A-Za-z0-9\-_:. ]+(#[A-Za-z0-9\-_:.#/ ]*)?$`)

// planParameters validates parameters: keys are resource types of the
// provider, optionally "Type#<resource id>", each value an object the
// provider's options schema accepts.
func planParameters(raw json.RawMessage, prov *provider.Provider) (map[string]json.RawMessage, error) {
	params, err := asObject(raw, "'parameters'")
	if err != nil {
		return nil, err
	}
	for k, v := range params {
		if len(k) > maxNameLength || !paramKeyOK.MatchString(k) {
			return nil, badRequest("Invalid parameters key %q.", clip(k))
		}
		typ, id, hasID := strings.Cut(k, "#")
		if hasID && id == "" {
			return nil, badRequest("Invalid parameters key %q: a resource id must follow '#'.", clip(k))
		}
		if _, err := asObject(v, "parameters of "+k); err != nil {
			return nil, err
		}
		if err := prov.CheckParameters(typ, v); err != nil {
			return nil, badRequest("Invalid parameters for %s: %s", k, err.Error())
		}
	}
	return map[string]json.RawMessage(params), nil
}

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
	name, present, err := planName(in)
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, badRequest("'name' is a required property.")
	}
	desc, _, err := planDescription(in)
	if err != nil {
		return nil, err
	}
	providerID, err := in.requiredUUID("provider_id")
	if err != nil {
		return nil, err
	}
	prov, ok := provider.Get(providerID)
	if !ok {
		return nil, badRequest("The provider %s could not be found.", providerID)
	}
	rawParams, ok := in["parameters"]
	if !ok {
		return nil, badRequest("'parameters' is a required property.")
	}
	params, err := planParameters(rawParams, prov)
	if err != nil {
		return nil, err
	}
	rawResources, ok := in["resources"]
	if !ok {
		return nil, badRequest("'resources' is a required property.")
	}
	resources, err := planResources(rawResources, prov)
	if err != nil {
		return nil, err
	}
	p := &domain.Plan{
		ID:          domain.NewID(),
		ProjectID:   r.tenant,
		Name:        name,
		Description: desc,
		ProviderID:  prov.ID,
		Status:      domain.PlanSuspended,
		Parameters:  params,
		Resources:   resources,
		CreatedAt:   s.now().UTC().Truncate(time.Second),
	}
	if err := s.Store.CreatePlan(r.ctx(), p); err != nil {
		return nil, err
	}
	return map[string]any{"plan": viewPlan(p)}, nil
}

func planNotFound(id string) error { return notFound("Plan %s could not be found.", id) }

func (s *Service) showPlan(r *request) (any, error) {
	id, err := pathUUID(r, "plan_id")
	if err != nil {
		return nil, err
	}
	p, err := s.Store.GetPlan(r.ctx(), r.tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, planNotFound(id)
	}
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
	var u store.PlanUpdate
	if name, present, err := planName(in); err != nil {
		return nil, err
	} else if present {
		u.Name = &name
	}
	desc, present, err := planDescription(in)
	if err != nil {
		return nil, err
	}
	u.Description, u.ClearDescription = desc, present && desc == nil
	if status, present, err := in.str("status"); err != nil {
		return nil, err
	} else if present {
		if status != domain.PlanSuspended && status != domain.PlanStarted {
			return nil, badRequest("Invalid plan status %q: use suspended or started.", clip(status))
		}
		u.Status = &status
	}
	if raw, ok := in["resources"]; ok {
		current, err := s.Store.GetPlan(r.ctx(), r.tenant, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, planNotFound(id)
		}
		if err != nil {
			return nil, err
		}
		prov, ok := provider.Get(current.ProviderID)
		if !ok {
			return nil, badRequest("The provider %s of plan %s no longer exists.", current.ProviderID, id)
		}
		if u.Resources, err = planResources(raw, prov); err != nil {
			return nil, err
		}
	}
	p, err := s.Store.UpdatePlan(r.ctx(), r.tenant, id, u)
	if errors.Is(err, store.ErrNotFound) {
		return nil, planNotFound(id)
	}
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
	err = s.Store.DeletePlan(r.ctx(), r.tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, planNotFound(id)
	}
	return nil, err
}

func (s *Service) listPlans(r *request) (any, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	lp, err := parseListParams(q)
	if err != nil {
		return nil, err
	}
	query := store.PlanQuery{Limit: lp.limit, Marker: lp.marker, Ascending: lp.ascending}
	if query.ProjectID, err = listedProject(r, q); err != nil {
		return nil, err
	}
	query.Name, query.Description = q.Get("name"), q.Get("description")
	if st := q.Get("status"); st != "" {
		if st != domain.PlanSuspended && st != domain.PlanStarted {
			return nil, badRequest("Invalid status %q: use suspended or started.", clip(st))
		}
		query.Status = st
	}
	page, err := s.Store.ListPlans(r.ctx(), query)
	if errors.Is(err, store.ErrBadMarker) {
		return nil, badRequest("Invalid marker %s: it is not a plan of this listing.", lp.marker)
	}
	if err != nil {
		return nil, err
	}
	views := make([]planView, 0, len(page.Plans))
	for _, p := range page.Plans {
		views = append(views, viewPlan(p))
	}
	out := map[string]any{"plans": views}
	if page.More {
		// As for checkpoints: page.NextMarker, which a filtered page cut
		// short sets past its last plan.
		out["plans_links"] = nextLink(r, r.URL.EscapedPath(), page.NextMarker)
	}
	return out, nil
}
