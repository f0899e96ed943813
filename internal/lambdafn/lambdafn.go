// Package lambdafn wires the service's code to Lambda: a route of the API
// (api.Routes, api.Fallback) behind an API Gateway HTTP API (payload 2.0),
// with Start; it declares the background functions (Backgrounds), which its
// sub-package background starts. Each functions/<name>/main.go, generated,
// calls one of them.
package lambdafn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"karbor/internal/api"
	"karbor/internal/awscfg/lambdaenv"
	"karbor/internal/domain"
	"karbor/internal/logging"
	"karbor/internal/provider"
	"karbor/internal/store"
)

// Start serves the route and never returns. Clients are built here, once
// per execution environment, not per request.
func Start(route api.Route) {
	log := logging.FromEnv()
	svc, err := NewService(context.Background(), route, log)
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
// read no table (providers) build no AWS client at all.
func NewService(ctx context.Context, route api.Route, log *slog.Logger) (*api.Service, error) {
	return newService(route, log, func() (store.API, error) {
		cfg, err := lambdaenv.Load()
		if err != nil {
			return nil, err
		}
		return lambdaenv.DynamoDB(cfg, os.Getenv("DYNAMODB_ENDPOINT")), nil
	})
}

// NewServiceOver is NewService over the given DynamoDB client, for tests
// that watch the calls it makes.
func NewServiceOver(route api.Route, log *slog.Logger, db store.API) (*api.Service, error) {
	return newService(route, log, func() (store.API, error) { return db, nil })
}

func newService(route api.Route, log *slog.Logger, client func() (store.API, error)) (*api.Service, error) {
	svc := &api.Service{
		Auth:      ClaimsAuth{User: env("CLAIM_USER", "sub"), Project: env("CLAIM_PROJECT", "project_id"), Roles: env("CLAIM_ROLES", "roles")},
		Log:       log,
		RequestID: RequestID,
	}
	if !route.UsesTables() {
		return svc, nil
	}
	plans, checkpoints := os.Getenv("PLANS_TABLE"), os.Getenv("CHECKPOINTS_TABLE")
	if plans == "" || checkpoints == "" {
		return nil, fmt.Errorf("PLANS_TABLE and CHECKPOINTS_TABLE must be set")
	}
	db, err := client()
	if err != nil {
		return nil, err
	}
	svc.Domain = &domain.Service{Store: store.New(db, plans, checkpoints), Providers: provider.Lookup}
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

// ClaimsAuth reads the caller from the JWT authorizer's claims in the API
// Gateway request context. The claim names are configurable.
type ClaimsAuth struct {
	User, Project, Roles string
}

// Caller implements api.Authenticator.
func (a ClaimsAuth) Caller(r *http.Request) (domain.Caller, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return domain.Caller{}, api.Unauthorized("Authentication required.")
	}
	claims := rc.Authorizer.JWT.Claims
	c := domain.Caller{UserID: claims[a.User], ProjectID: claims[a.Project], Roles: ParseRoles(claims[a.Roles])}
	if c.UserID == "" {
		return domain.Caller{}, api.Unauthorized(fmt.Sprintf("The token has no %q claim.", a.User))
	}
	if !domain.ValidProjectID(c.ProjectID) {
		return domain.Caller{}, api.Unauthorized(fmt.Sprintf("The token's %q claim is missing or not a valid project id.", a.Project))
	}
	return c, nil
}

// ParseRoles reads a roles claim as API Gateway passes it: an array claim
// arrives as "[admin member]" (space-separated, so a role cannot contain a
// space there), a JSON array text as itself; a string claim is split on
// commas only, so that a role named "org admin" never reads as "admin".
func ParseRoles(s string) []string {
	s = strings.TrimSpace(s)
	var list []string
	if json.Unmarshal([]byte(s), &list) == nil {
		return nonEmpty(list)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return nonEmpty(strings.Fields(s[1 : len(s)-1]))
	}
	return nonEmpty(strings.Split(s, ","))
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
