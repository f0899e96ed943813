package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"

	"karbor/internal/domain"
)

// Rule is who may perform a route, by role (docs/api.md "Policy"). It
// applies on top of the tenant rule (a caller who is not admin addresses only
// its own project), which holds for every rule.
type Rule string

// The rules, from the widest to the narrowest.
const (
	// RuleAny: any authenticated caller.
	RuleAny Rule = "any"
	// RuleAdminOrOwner: the admin, or any caller of the path's project.
	// With the tenant rule it is the same as RuleAny; kept so that upstream
	// Karbor's default name reads the same.
	RuleAdminOrOwner Rule = "admin_or_owner"
	// RuleReaderOrAbove: the role reader, member or admin.
	RuleReaderOrAbove Rule = "reader_or_above"
	// RuleMemberOrAdmin: the role member or admin.
	RuleMemberOrAdmin Rule = "member_or_admin"
	// RuleAdmin: the admin role.
	RuleAdmin Rule = "admin"
)

// Rules lists every rule.
var Rules = []Rule{RuleAny, RuleAdminOrOwner, RuleReaderOrAbove, RuleMemberOrAdmin, RuleAdmin}

// Valid reports whether r is one of Rules.
func (r Rule) Valid() bool { return slices.Contains(Rules, r) }

// The roles the rules name, besides the admin role (whose name is
// configuration).
const (
	RoleMember = "member"
	RoleReader = "reader"
)

// DefaultAdminRole is the admin role's name when ADMIN_ROLE is not set.
const DefaultAdminRole = "admin"

// Policy is the admin role's name and the rule of each route: its
// declaration's, or an override's. The zero value is the default policy
// (admin role "admin", no overrides).
type Policy struct {
	adminRole string
	overrides map[string]Rule
}

// NewPolicy builds a policy: adminRole "" means DefaultAdminRole; overrides
// is a JSON object {"<route name>": "<rule>", ...} or "" for none. An
// unknown route name, an unknown rule or bad JSON is an error.
func NewPolicy(adminRole, overrides string) (*Policy, error) {
	p := &Policy{adminRole: strings.TrimSpace(adminRole)}
	switch {
	case strings.Contains(p.adminRole, ","):
		// No token could carry it: roles are comma-separated.
		return nil, fmt.Errorf("ADMIN_ROLE %q holds a comma: it must be one role name", p.adminRole)
	case strings.EqualFold(p.adminRole, RoleMember), strings.EqualFold(p.adminRole, RoleReader):
		return nil, fmt.Errorf("ADMIN_ROLE %q is a role every project's callers hold: it would make them admins of every project", p.adminRole)
	}
	if strings.TrimSpace(overrides) == "" {
		return p, nil
	}
	if name, ok := duplicateKey(overrides); ok {
		return nil, fmt.Errorf("POLICY_OVERRIDES names %q twice", name)
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(overrides), &raw); err != nil || raw == nil {
		if err == nil {
			err = errors.New("it is null")
		}
		return nil, fmt.Errorf(`POLICY_OVERRIDES must be a JSON object {"<route name>": "<rule>", ...}: %v`, err)
	}
	p.overrides = map[string]Rule{}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rt, ok := routeNamed(name)
		if !ok {
			return nil, fmt.Errorf("POLICY_OVERRIDES names %q, which is no route", name)
		}
		if rt.Anonymous {
			return nil, fmt.Errorf("POLICY_OVERRIDES names %q, which asks for no caller: it has no rule", name)
		}
		rule := Rule(raw[name])
		if !rule.Valid() {
			return nil, fmt.Errorf("POLICY_OVERRIDES gives %s the rule %q: use one of %s", name, rule, joinRules())
		}
		p.overrides[name] = rule
	}
	return p, nil
}

// PolicyFromEnv builds the policy from ADMIN_ROLE and POLICY_OVERRIDES
// (template parameters AdminRoleName and PolicyOverrides).
func PolicyFromEnv() (*Policy, error) {
	return NewPolicy(os.Getenv("ADMIN_ROLE"), os.Getenv("POLICY_OVERRIDES"))
}

// duplicateKey finds a key that a JSON object (the top level of doc) holds
// twice; json.Unmarshal would keep the last silently.
func duplicateKey(doc string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false // not an object: Unmarshal says so
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := t.(string)
		if seen[key] {
			return key, true
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}

// routeNamed finds a route of Routes (the Fallback is none of them).
func routeNamed(name string) (Route, bool) {
	for _, r := range Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

func joinRules() string {
	s := make([]string, len(Rules))
	for i, r := range Rules {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// AdminRole is the admin role's name.
func (p *Policy) AdminRole() string {
	if p == nil || p.adminRole == "" {
		return DefaultAdminRole
	}
	return p.adminRole
}

// IsAdmin reports whether roles hold the admin role (any case).
func (p *Policy) IsAdmin(roles []string) bool {
	return domain.HasRole(roles, p.AdminRole())
}

// RuleOf is the route's rule: the override's, else its declaration's.
func (p *Policy) RuleOf(rt Route) Rule {
	if p != nil {
		if r, ok := p.overrides[rt.Name]; ok {
			return r
		}
	}
	return rt.Policy
}

// Allows reports whether the rule lets the caller (whose Admin is set)
// perform a route. The tenant rule is checked before, apart.
func (p *Policy) Allows(rule Rule, c domain.Caller) bool {
	switch rule {
	case RuleAny, RuleAdminOrOwner:
		return true
	case RuleReaderOrAbove:
		return c.Admin || domain.HasRole(c.Roles, RoleMember) || domain.HasRole(c.Roles, RoleReader)
	case RuleMemberOrAdmin:
		return c.Admin || domain.HasRole(c.Roles, RoleMember)
	case RuleAdmin:
		return c.Admin
	}
	return false // an undeclared rule allows nobody
}

// policyRefusal is OpenStack's 403 for a caller the policy refuses.
func policyRefusal(route string) *Fault {
	return faultf(http.StatusForbidden, "Policy doesn't allow %s to be performed.", route)
}
