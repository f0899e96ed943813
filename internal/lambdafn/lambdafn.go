// Package lambdafn wires the service's code to Lambda: a route of the API
// (api.Routes, api.Fallback) behind an API Gateway HTTP API (payload 2.0),
// with Start; it declares the background functions (Backgrounds), which its
// sub-package background starts. Each functions/<name>/main.go, generated,
// calls one of them.
package lambdafn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"karbor/internal/api"
	"karbor/internal/awscfg/lambdaenv"
	"karbor/internal/domain"
	"karbor/internal/idempotency"
	"karbor/internal/keystone"
	"karbor/internal/logging"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/store"
)

// Start serves the route and never returns. Clients are built here, once
// per execution environment, not per request. A route that uses the
// inventory is started by package inventoryfn instead, which builds it.
func Start(route api.Route) { StartWith(route, nil) }

// InventoryBuilder builds the inventory of a route that looks up
// protectable resources, over the function's AWS configuration.
type InventoryBuilder func(cfg aws.Config) (domain.Inventory, error)

// StartWith is Start with the inventory's builder (package inventoryfn).
func StartWith(route api.Route, inventory InventoryBuilder) {
	log := logging.FromEnv()
	svc, err := NewService(context.Background(), route, log, inventory)
	if err != nil {
		log.Error("init failed", "route", route.Name, "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(Handler(svc, route)).ProxyWithContext)
}

// Handler is what the route's function serves.
func Handler(svc *api.Service, route api.Route) http.Handler {
	// Not svc.Handler(api.Fallback): the fallback has no path, and an
	// empty pattern makes ServeMux panic.
	if route.Path == "" {
		return svc.FallbackHandler()
	}
	return svc.Handler(route)
}

// NewService builds the route's service from the environment. Routes that
// use neither the service's tables nor the inventory (providers, protectable
// types) build no AWS client at all. A route that uses the inventory needs
// its builder: without one it fails, rather than serve plans unchecked.
func NewService(ctx context.Context, route api.Route, log *slog.Logger, inventory InventoryBuilder) (*api.Service, error) {
	var cfg *aws.Config
	load := func() (aws.Config, error) {
		if cfg == nil {
			c, err := lambdaenv.Load()
			if err != nil {
				return aws.Config{}, err
			}
			cfg = &c
		}
		return *cfg, nil
	}
	return newService(route, log, func() (store.API, error) {
		c, err := load()
		if err != nil {
			return nil, err
		}
		return lambdaenv.DynamoDB(c, os.Getenv("DYNAMODB_ENDPOINT")), nil
	}, func() (domain.Inventory, error) {
		if inventory == nil {
			return nil, fmt.Errorf("route %s looks up AWS resources: start it with inventoryfn.Start", route.Name)
		}
		c, err := load()
		if err != nil {
			return nil, err
		}
		return inventory(c)
	})
}

// NewServiceOver is NewService over the given DynamoDB client and
// inventory, for tests that watch the calls they make.
func NewServiceOver(route api.Route, log *slog.Logger, db store.API, inv domain.Inventory) (*api.Service, error) {
	return newService(route, log, func() (store.API, error) { return db, nil }, func() (domain.Inventory, error) {
		if inv == nil {
			return nil, fmt.Errorf("route %s looks up AWS resources: it needs an inventory", route.Name)
		}
		return inv, nil
	})
}

func newService(route api.Route, log *slog.Logger, client func() (store.API, error), inventory func() (domain.Inventory, error)) (*api.Service, error) {
	svc := &api.Service{
		Auth: ClaimsAuth{User: env("CLAIM_USER", "sub"), Project: env("CLAIM_PROJECT", "project_id"),
			Roles: env("CLAIM_ROLES", "roles"), RolesSeparator: env("CLAIM_ROLES_SEPARATOR", "comma")},
		Log:       log,
		RequestID: RequestID,
		BaseURL:   BaseURL,
	}
	if sep := svc.Auth.(ClaimsAuth).RolesSeparator; sep != "comma" && sep != "space" {
		return nil, fmt.Errorf("CLAIM_ROLES_SEPARATOR is %q: use comma or space", sep)
	}
	// AUTH_MODE (template parameter AuthMode) says which authorizer runs
	// before the function, and so where the caller is read from.
	switch mode := env("AUTH_MODE", "jwt"); mode {
	case "jwt":
	case "keystone":
		svc.Auth = KeystoneAuth{}
	default:
		return nil, fmt.Errorf("AUTH_MODE is %q: use jwt or keystone", mode)
	}
	// The policy (ADMIN_ROLE, POLICY_OVERRIDES): every route reads it, so
	// a bad setting fails every init.
	policy, err := api.PolicyFromEnv()
	if err != nil {
		return nil, err
	}
	svc.Policy = policy
	// Plan routes refuse reserved tag keys in parameters (ownership's
	// rule); every route reads it, so a bad setting fails every init.
	owners, err := ownership.FromEnv()
	if err != nil {
		return nil, err
	}
	svc.Domain = &domain.Service{Providers: provider.Lookup, Ownership: owners}
	if route.UsesTables() {
		plans, checkpoints := os.Getenv("PLANS_TABLE"), os.Getenv("CHECKPOINTS_TABLE")
		if plans == "" || checkpoints == "" {
			return nil, fmt.Errorf("PLANS_TABLE and CHECKPOINTS_TABLE must be set")
		}
		for table, name := range map[api.Table]string{api.QuotasTable: "QUOTAS_TABLE", api.SchedulesTable: "SCHEDULES_TABLE"} {
			// Counts and marks written through these would drift
			// silently without them.
			if slices.ContainsFunc(route.Access, func(a api.Access) bool { return a.Table == table }) && os.Getenv(name) == "" {
				return nil, fmt.Errorf("%s must be set", name)
			}
		}
		db, err := client()
		if err != nil {
			return nil, err
		}
		// TASKS_TABLE (restores and verifications) is set by Globals; a
		// route that reaches it without one fails its calls, not its init.
		st := store.New(db, plans, checkpoints).WithTasks(os.Getenv("TASKS_TABLE")).
			WithSchedules(os.Getenv("SCHEDULES_TABLE")).WithQuotas(os.Getenv("QUOTAS_TABLE"))
		if slices.ContainsFunc(route.Access, func(a api.Access) bool { return a.Table == api.OperationLogsTable }) {
			table := os.Getenv("OPERATION_LOGS_TABLE")
			if table == "" {
				return nil, fmt.Errorf("OPERATION_LOGS_TABLE must be set")
			}
			st.WithOperationLogs(table)
		}
		svc.Domain.Store = st
		if route.IsIdempotent() {
			table := os.Getenv("IDEMPOTENCY_TABLE")
			if table == "" {
				return nil, fmt.Errorf("IDEMPOTENCY_TABLE must be set")
			}
			svc.Idempotency = idempotency.New(db, table)
		}
	}
	if route.UsesInventory() {
		inv, err := inventory()
		if err != nil {
			return nil, err
		}
		svc.Domain.Inventory = inv
	}
	return svc, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// RequestID derives X-Openstack-Request-Id from the Lambda request id, so a
// response and the function's log lines can be matched.
func RequestID(r *http.Request) string {
	if lc, ok := lambdacontext.FromContext(r.Context()); ok && lc.AwsRequestID != "" {
		return "req-" + lc.AwsRequestID
	}
	return ""
}

// BaseURL is the API's own address, which next links start with: API
// Gateway's domainName from the request context (the execute-api host, or
// the custom domain the request came through), never the Host or
// X-Forwarded-* headers a caller writes. API Gateway serves HTTPS only.
// Without a request context (no API Gateway in front) links have no host.
func BaseURL(r *http.Request) string {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.DomainName == "" {
		return ""
	}
	return "https://" + rc.DomainName
}

// ClaimsAuth reads the caller from the JWT authorizer's claims in the API
// Gateway request context. The claim names are configurable.
type ClaimsAuth struct {
	User, Project, Roles string
	// RolesSeparator splits a roles claim that is a string: "comma" (the
	// default) or "space". An array claim is read element by element.
	RolesSeparator string
}

// Caller implements api.Authenticator.
func (a ClaimsAuth) Caller(r *http.Request) (domain.Caller, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return domain.Caller{}, api.Unauthorized("Authentication required.")
	}
	claims := rc.Authorizer.JWT.Claims
	c := domain.Caller{UserID: claims[a.User], ProjectID: claims[a.Project]}
	if c.UserID == "" {
		return domain.Caller{}, api.Unauthorized(fmt.Sprintf("The token has no %q claim.", a.User))
	}
	if !domain.ValidProjectID(c.ProjectID) {
		return domain.Caller{}, api.Unauthorized(fmt.Sprintf("The token's %q claim is missing or not a valid project id.", a.Project))
	}
	roles, err := ParseRoles(claims[a.Roles], a.tokenRoles(r, claims), a.RolesSeparator)
	if err != nil {
		return domain.Caller{}, api.Unauthorized(fmt.Sprintf("The token's %q claim cannot be read: %s", a.Roles, err))
	}
	c.Roles = roles
	return c, nil
}

// tokenRoles is the roles claim as the token itself holds it (JSON), read
// from the Authorization header that API Gateway's authorizer verified
// (its identity source), or nil when the header holds no token whose user
// and project are the verified claims'. API Gateway hands an array claim to
// the function flattened to "[a b]", which cannot tell ["org admin"] from
// ["org", "admin"]; the token's JSON can.
func (a ClaimsAuth) tokenRoles(r *http.Request, verified map[string]string) json.RawMessage {
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	for _, name := range []string{a.User, a.Project} {
		var v string
		if json.Unmarshal(claims[name], &v) != nil || v != verified[name] {
			return nil // not the token the authorizer verified
		}
	}
	if raw, ok := claims[a.Roles]; ok {
		return raw
	}
	return json.RawMessage("null")
}

// ParseRoles reads a roles claim exactly. claim is the value API Gateway
// hands the function; token is the claim's JSON in the verified token (nil
// when unknown). The grammar:
//
//   - a JSON array of strings (API Gateway: "[a b]"): each element is one
//     role, as is; it must agree with claim.
//   - a string: role names separated by commas (separator "comma", the
//     default; spaces around a name are dropped, so "org admin" is one
//     role) or by spaces ("space"); empty names are dropped.
//   - absent or null: no roles.
//
// Without the token, only a string claim can be read: a bracketed claim
// could be an array whose elements hold spaces, and is refused. Anything
// else (numbers, objects, arrays of non-strings, a token that disagrees
// with the claim) is refused: the caller gets a 401, never a guess.
func ParseRoles(claim string, token json.RawMessage, separator string) ([]string, error) {
	split := func(s string) []string {
		if separator == "space" {
			return strings.Fields(s)
		}
		return nonEmpty(strings.Split(s, ","))
	}
	if token == nil {
		if strings.HasPrefix(claim, "[") && strings.HasSuffix(claim, "]") {
			return nil, errors.New("an array claim needs the token in the Authorization header")
		}
		return split(claim), nil
	}
	if string(bytes.TrimSpace(token)) == "null" {
		if claim != "" {
			return nil, errors.New("the token disagrees with the verified claims")
		}
		return nil, nil
	}
	var list []string
	if json.Unmarshal(token, &list) == nil {
		if "["+strings.Join(list, " ")+"]" != claim {
			return nil, errors.New("the token disagrees with the verified claims")
		}
		var out []string
		for _, r := range list {
			if r != "" {
				out = append(out, r)
			}
		}
		return out, nil
	}
	var str string
	if json.Unmarshal(token, &str) == nil {
		if str != claim {
			return nil, errors.New("the token disagrees with the verified claims")
		}
		return split(str), nil
	}
	return nil, errors.New("it must be a string or an array of strings")
}

func nonEmpty(fields []string) []string {
	var out []string
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// KeystoneAuth reads the caller from the Keystone authorizer's context
// (requestContext.authorizer.lambda, written by keystone.Authorizer): its
// verdict on the X-Auth-Token, or the identity Keystone gave. A request
// that reached the function without that context gets a 401.
type KeystoneAuth struct{}

// Caller implements api.Authenticator.
func (KeystoneAuth) Caller(r *http.Request) (domain.Caller, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.Lambda == nil {
		return domain.Caller{}, api.Unauthorized("Authentication required.")
	}
	lc := rc.Authorizer.Lambda
	str := func(k string) string { s, _ := lc[k].(string); return s }
	switch str(keystone.CtxErrorStatus) {
	case "":
	case "503":
		return domain.Caller{}, api.ServiceUnavailable(str(keystone.CtxErrorMessage))
	default:
		msg := str(keystone.CtxErrorMessage)
		if msg == "" {
			msg = "Authentication required."
		}
		return domain.Caller{}, api.Unauthorized(msg)
	}
	c := domain.Caller{UserID: str(keystone.CtxUserID), ProjectID: str(keystone.CtxProjectID)}
	if c.UserID == "" {
		return domain.Caller{}, api.Unauthorized("The authorizer gave no user.")
	}
	system := str(keystone.CtxSystem) == "all"
	if (c.ProjectID == "" && !system) || (c.ProjectID != "" && !domain.ValidProjectID(c.ProjectID)) {
		return domain.Caller{}, api.Unauthorized(keystone.MsgUnscoped)
	}
	if err := json.Unmarshal([]byte(str(keystone.CtxRoles)), &c.Roles); err != nil {
		return domain.Caller{}, api.Unauthorized("The authorizer's roles cannot be read.")
	}
	return c, nil
}
