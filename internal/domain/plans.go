package domain

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Plan limits.
const (
	MaxNameLength = 255
	// MaxResources bounds a plan: one checkpoint protects its resources in
	// one worker run, and its graph is one DynamoDB item.
	MaxResources = 200
)

// PlanInput is a new plan as its creator sends it, decoded but not checked.
type PlanInput struct {
	Name        string
	Description *string
	ProviderID  string
	Parameters  map[string]json.RawMessage
	Resources   []Resource
}

// ValidPlanStatus reports whether s is a plan status.
func ValidPlanStatus(s string) bool { return s == PlanSuspended || s == PlanStarted }

// Provider finds a plan's provider: an unknown one is invalid input.
func (s *Service) Provider(id string) (Provider, error) {
	prov, ok := s.Providers(id)
	if !ok {
		return nil, invalid("The provider %s could not be found.", id)
	}
	return prov, nil
}

// CreatePlan checks a new plan against the rules and its provider, and
// writes it, suspended. (The API applies the same checks while it decodes
// the body, so that a body with several faults is answered about the first,
// as upstream did.)
func (s *Service) CreatePlan(ctx context.Context, projectID string, in PlanInput) (*Plan, error) {
	if err := CheckPlanName(in.Name); err != nil {
		return nil, err
	}
	if err := CheckDescription(in.Description); err != nil {
		return nil, err
	}
	prov, err := s.Provider(in.ProviderID)
	if err != nil {
		return nil, err
	}
	if err := s.CheckParameters(in.Parameters, prov); err != nil {
		return nil, err
	}
	if err := checkResources(in.Resources, prov); err != nil {
		return nil, err
	}
	if err := checkPlanSize(in.Resources, in.Parameters); err != nil {
		return nil, err
	}
	if err := s.checkOwned(ctx, projectID, in.Resources); err != nil {
		return nil, err
	}
	p := &Plan{
		ID:          NewID(),
		ProjectID:   projectID,
		Name:        in.Name,
		Description: in.Description,
		ProviderID:  in.ProviderID,
		Status:      PlanSuspended,
		Parameters:  in.Parameters,
		Resources:   in.Resources,
		CreatedAt:   s.now().UTC().Truncate(time.Second),
	}
	if err := s.Store.CreatePlan(ctx, p); errors.Is(err, ErrTooLarge) {
		return nil, planTooLarge(-1)
	} else if err != nil {
		return nil, err
	}
	return p, nil
}

// Plan returns a plan of the project.
func (s *Service) Plan(ctx context.Context, projectID, id string) (*Plan, error) {
	p, err := s.Store.GetPlan(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, planNotFound(id)
	}
	return p, err
}

// PlanChange is a change of a plan as its caller sends it.
type PlanChange struct {
	Name             *string
	Description      *string
	ClearDescription bool
	Status           *string
	// Resources, when set, decodes the new resources, checking them
	// against the plan's provider (with a ResourceChecker): it is called
	// once the plan has been read.
	Resources func(Provider) ([]Resource, error)
}

// UpdatePlan checks and applies a change of a plan: new resources are
// checked against the plan's provider, after the plan is read.
func (s *Service) UpdatePlan(ctx context.Context, projectID, id string, c PlanChange) (*Plan, error) {
	u := PlanUpdate{Name: c.Name, Description: c.Description, ClearDescription: c.ClearDescription, Status: c.Status}
	if u.Empty() && c.Resources == nil {
		return nil, invalid("Missing updated parameters in request body.")
	}
	if u.Name != nil {
		if err := CheckPlanName(*u.Name); err != nil {
			return nil, err
		}
	}
	if err := CheckDescription(u.Description); err != nil {
		return nil, err
	}
	if u.Status != nil {
		if err := CheckPlanStatus(*u.Status); err != nil {
			return nil, err
		}
	}
	if c.Resources != nil {
		current, err := s.Plan(ctx, projectID, id)
		if err != nil {
			return nil, err
		}
		prov, ok := s.Providers(current.ProviderID)
		if !ok {
			return nil, invalid("The provider %s of plan %s no longer exists.", current.ProviderID, id)
		}
		if u.Resources, err = c.Resources(prov); err != nil {
			return nil, err
		}
		if err := checkResources(u.Resources, prov); err != nil {
			return nil, err
		}
		if err := checkPlanSize(u.Resources, current.Parameters); err != nil {
			return nil, err
		}
		if err := s.checkOwned(ctx, projectID, u.Resources); err != nil {
			return nil, err
		}
	}
	p, err := s.Store.UpdatePlan(ctx, projectID, id, u)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, planNotFound(id)
	case errors.Is(err, ErrTooLarge):
		return nil, planTooLarge(-1)
	}
	return p, err
}

// DeletePlan removes a plan. Checkpoints keep their snapshot of it.
func (s *Service) DeletePlan(ctx context.Context, projectID, id string) error {
	err := s.Store.DeletePlan(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return planNotFound(id)
	}
	if used := inUseRefusal("Plan", id, err); used != nil {
		return used
	}
	return err
}

// ListPlans returns one page of plans.
func (s *Service) ListPlans(ctx context.Context, q PlanQuery) (*Page[*Plan], error) {
	if q.Status != "" && !ValidPlanStatus(q.Status) {
		return nil, invalid("Invalid status %q: use suspended or started.", Clip(q.Status))
	}
	page, err := s.Store.ListPlans(ctx, q)
	if errors.Is(err, ErrBadMarker) {
		return nil, invalid("Invalid marker %s: it is not a plan of this listing.", q.Marker)
	}
	return page, err
}

// CheckPlanName checks a plan's name: not blank, at most MaxNameLength
// characters.
func CheckPlanName(name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid("An invalid 'name' value was provided. The 'name' can not be empty.")
	}
	if utf8.RuneCountInString(name) > MaxNameLength {
		return invalid("An invalid 'name' value was provided. The 'name' is longer than %d characters.", MaxNameLength)
	}
	return nil
}

// CheckDescription checks a plan's description: at most MaxNameLength
// characters.
func CheckDescription(desc *string) error {
	if desc != nil && utf8.RuneCountInString(*desc) > MaxNameLength {
		return invalid("Invalid input for field 'description': it is longer than %d characters.", MaxNameLength)
	}
	return nil
}

// CheckPlanStatus checks a plan status.
func CheckPlanStatus(status string) error {
	if !ValidPlanStatus(status) {
		return invalid("Invalid plan status %q: use suspended or started.", Clip(status))
	}
	return nil
}

// CheckResourceCount checks the length of a plan's resource list; the API
// calls it before it decodes the list's items.
func CheckResourceCount(n int) error {
	if n == 0 {
		return invalid("Invalid input for field 'resources': the list is empty.")
	}
	if n > MaxResources {
		return invalid("Invalid input for field 'resources': at most %d resources per plan.", MaxResources)
	}
	return nil
}

// ResourceChecker checks a plan's resources one at a time, in order: each
// with an id, a type the provider accepts and a name, none listed twice.
type ResourceChecker struct {
	prov Provider
	seen map[string]bool
}

// NewResourceChecker checks resources for a plan at prov.
func NewResourceChecker(prov Provider) *ResourceChecker {
	return &ResourceChecker{prov: prov, seen: map[string]bool{}}
}

// Field checks field key ("id", "type" or "name") of resource i.
func (c *ResourceChecker) Field(i int, key, value string) error {
	if strings.TrimSpace(value) == "" {
		return invalid("Invalid input for field 'resources': resource %d needs a non-empty '%s'.", i, key)
	}
	if utf8.RuneCountInString(value) > MaxNameLength {
		return invalid("Invalid input for field 'resources': '%s' of resource %d is longer than %d characters.", key, i, MaxNameLength)
	}
	return nil
}

// Type checks that the provider protects resources of this type.
func (c *ResourceChecker) Type(resourceType string) error {
	if !c.prov.Accepts(resourceType) {
		return invalid("Resource type %s is not supported by provider %s.", resourceType, c.prov)
	}
	return nil
}

// ExtraInfo checks the extra_info of resource i: nested at most
// MaxNesting levels.
func (c *ResourceChecker) ExtraInfo(i int, info json.RawMessage) error {
	if len(info) > 0 && !checkNesting(info, MaxNesting) {
		return invalid("Invalid input for field 'resources': 'extra_info' of resource %d is nested deeper than %d levels.", i, MaxNesting)
	}
	return nil
}

// Unique checks that r was not listed before, and remembers it.
func (c *ResourceChecker) Unique(r Resource) error {
	k := r.Type + "#" + r.ID
	if c.seen[k] {
		return invalid("Invalid input for field 'resources': resource %s of type %s is listed twice.", r.ID, r.Type)
	}
	c.seen[k] = true
	return nil
}

// checkResources applies every resource rule to a whole list.
func checkResources(resources []Resource, prov Provider) error {
	if err := CheckResourceCount(len(resources)); err != nil {
		return err
	}
	c := NewResourceChecker(prov)
	for i, r := range resources {
		for _, f := range []struct{ key, value string }{{"id", r.ID}, {"type", r.Type}, {"name", r.Name}} {
			if err := c.Field(i, f.key, f.value); err != nil {
				return err
			}
		}
		if err := c.Type(r.Type); err != nil {
			return err
		}
		if err := c.ExtraInfo(i, r.ExtraInfo); err != nil {
			return err
		}
		if err := c.Unique(r); err != nil {
			return err
		}
	}
	return nil
}

// checkPlanSize bounds a plan as stored: its resources and parameters (JSON
// text, escaped as stored) take at most MaxPlanBytes, so that a checkpoint
// of it, which holds them and names every resource again in its graph,
// fits one DynamoDB item (see MaxItemBytes).
func checkPlanSize(resources []Resource, params map[string]json.RawMessage) error {
	r, err := MarshalJSON(resources)
	if err != nil {
		return invalid("Invalid input for field 'resources': it cannot be stored.")
	}
	p, err := MarshalJSON(params)
	if err != nil {
		return invalid("Invalid input for field 'parameters': it cannot be stored.")
	}
	if n := len(r) + len(p); n > MaxPlanBytes {
		return planTooLarge(n)
	}
	return nil
}

// planTooLarge is the 400 of a plan over MaxPlanBytes (n < 0: the size is
// not known, DynamoDB refused the item).
func planTooLarge(n int) error {
	if n < 0 {
		return invalid("The plan is too large to store: its resources and parameters may take at most %d bytes as stored (DynamoDB's 400 KB item limit).", MaxPlanBytes)
	}
	return invalid("The plan is too large to store: its resources and parameters take %d bytes as stored, over the limit of %d bytes (a checkpoint of it must fit DynamoDB's 400 KB item limit).", n, MaxPlanBytes)
}

// CheckParameters checks a plan's parameters: keys are resource types of
// the provider, optionally "Type#<resource id>", each value an object the
// provider's options schema accepts.
func CheckParameters(params map[string]json.RawMessage, prov Provider) error {
	for k, v := range params {
		if len(k) > MaxNameLength || !validParamKey(k) {
			return invalid("Invalid parameters key %q.", Clip(k))
		}
		typ, id, hasID := strings.Cut(k, "#")
		if hasID && id == "" {
			return invalid("Invalid parameters key %q: a resource id must follow '#'.", Clip(k))
		}
		var obj map[string]json.RawMessage
		if isNull(v) || json.Unmarshal(v, &obj) != nil || obj == nil {
			return invalid("Invalid input for parameters of %s: it must be a JSON object.", k)
		}
		if !checkNesting(v, MaxNesting) {
			return invalid("Invalid input for parameters of %s: it is nested deeper than %d levels.", k, MaxNesting)
		}
		if err := prov.CheckParameters(typ, v); err != nil {
			return invalid("Invalid parameters for %s: %s", k, err.Error())
		}
	}
	return nil
}

// CheckParameters checks a plan's parameters (the package's
// CheckParameters), then the tags they ask for: no "tags" option may set a
// key a tenant may not (ownership.Config.ReservedTag: aws:, karbor:, a
// configured prefix, the ownership tag), since the service would put it on
// what it makes in its account.
func (s *Service) CheckParameters(params map[string]json.RawMessage, prov Provider) error {
	if err := CheckParameters(params, prov); err != nil {
		return err
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var opts struct {
			Tags map[string]json.RawMessage `json:"tags"`
		}
		if json.Unmarshal(params[k], &opts) != nil {
			continue
		}
		tags := make([]string, 0, len(opts.Tags))
		for t := range opts.Tags {
			tags = append(tags, t)
		}
		sort.Strings(tags)
		for _, t := range tags {
			if s.Ownership.ReservedTag(t) {
				return invalid("Invalid parameters for %s: the tag key %q is reserved: keys beginning with aws:, karbor: or a reserved prefix, and the ownership tag's key, may not be set.", k, Clip(t))
			}
		}
	}
	return nil
}

// Clip shortens caller input quoted in a message.
func Clip(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "..."
}
