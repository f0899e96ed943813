package lambdafn_test

// The auth × policy matrix of every deployed auth mode: the caller as each
// mode's authorizer hands it to a route function (the JWT authorizer's
// claims, with the claim names of an issuer of one's own or of the stack's
// Cognito pool; the Keystone authorizer's context, from keystone.Authorizer
// against the fake Keystone), and what a read, a write and an admin-only
// route answer each persona, through lambdafn.Handler over moto's tables.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"karbor/internal/api"
	"karbor/internal/keystone"
	"karbor/internal/lambdafn"
	"karbor/internal/local/tables"
	"karbor/internal/testsupport/fakekeystone"
	"karbor/internal/testsupport/testenv"
)

// persona is a caller of the matrix: its user, project and roles.
type persona struct {
	name    string
	project string
	roles   []string
}

var personas = []persona{
	{"member", projectID, []string{"member", "reader"}},
	{"reader", projectID, []string{"reader"}},
	{"admin of another project", otherProject, []string{"admin", "member", "reader"}},
	{"member of another project", otherProject, []string{"member", "reader"}},
}

// authMatrixRoutes: a read (reader_or_above), a write (member_or_admin) and
// an admin-only route, each addressing projectID, and what each persona
// gets: the route's answer when allowed (a missing checkpoint: 404), 403
// otherwise.
var authMatrixRoutes = []struct {
	route  api.Route
	status map[string]int
}{
	{api.ListPlans, map[string]int{"member": 200, "reader": 200, "admin of another project": 200, "member of another project": 403}},
	{api.DeleteCheckpoint, map[string]int{"member": 404, "reader": 403, "admin of another project": 404, "member of another project": 403}},
	{api.UpdateQuotaClass, map[string]int{"member": 403, "reader": 403, "admin of another project": 200, "member of another project": 403}},
}

// authMode is how one mode's authorizer passes a persona to the function.
type authMode struct {
	name string
	env  map[string]string
	// caller puts the persona into the route's event.
	caller func(t *testing.T, p persona, ev *events.APIGatewayV2HTTPRequest)
}

func TestAuthModesMatrix(t *testing.T) {
	ks := fakekeystone.Start(t)
	in := time.Now().Add(time.Hour)
	for _, p := range personas {
		ks.Add("token-"+p.name, fakekeystone.Token{UserID: keystoneUser, ProjectID: p.project, Roles: p.roles, ExpiresAt: in})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authorizer := &keystone.Authorizer{Log: log, Cache: &keystone.Cache{TTL: time.Minute}, Keystone: &keystone.Client{URL: ks.URL,
		Credentials: keystone.Credentials{Username: fakekeystone.ServiceUser, Password: fakekeystone.ServicePassword,
			UserDomainName: "Default", ProjectName: fakekeystone.ServiceProject, ProjectDomainName: "Default"}}}

	jwtClaims := func(user, project, roles string) func(*testing.T, persona, *events.APIGatewayV2HTTPRequest) {
		return func(t *testing.T, p persona, ev *events.APIGatewayV2HTTPRequest) {
			// API Gateway renders an array claim "[a b]"; the function
			// reads the array from the verified token in Authorization.
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{user: "u-" + p.name, project: p.project, roles: "[" + strings.Join(p.roles, " ") + "]"}}}
			ev.Headers["authorization"] = jwt(t, map[string]any{user: "u-" + p.name, project: p.project, roles: p.roles})
		}
	}
	modes := []authMode{
		{"jwt, an issuer of one's own", map[string]string{"AUTH_MODE": "jwt"}, jwtClaims("sub", "project_id", "roles")},
		{"jwt, the stack's Cognito pool", map[string]string{"AUTH_MODE": "jwt", "CLAIM_PROJECT": "custom:project_id", "CLAIM_ROLES": "cognito:groups"},
			jwtClaims("sub", "custom:project_id", "cognito:groups")},
		{"keystone", map[string]string{"AUTH_MODE": "keystone"}, func(t *testing.T, p persona, ev *events.APIGatewayV2HTTPRequest) {
			verdict, err := authorizer.Handle(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST",
				Headers: map[string]string{"x-auth-token": "token-" + p.name}})
			if err != nil || !verdict.IsAuthorized || verdict.Context["error_status"] != nil {
				t.Fatalf("authorizer: %+v, %v", verdict, err)
			}
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: verdict.Context}
		}},
	}

	plans, checkpoints := testenv.Tables(t)
	quotas := testenv.Table(t, tables.Quotas, "quotas")
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Setenv("PLANS_TABLE", plans)
			t.Setenv("CHECKPOINTS_TABLE", checkpoints)
			t.Setenv("QUOTAS_TABLE", quotas)
			for k, v := range mode.env {
				t.Setenv(k, v)
			}
			for _, rt := range authMatrixRoutes {
				svc, err := lambdafn.NewServiceOver(rt.route, log, testenv.DynamoDB(t), nil)
				if err != nil {
					t.Fatal(err)
				}
				handler := httpadapter.NewV2(lambdafn.Handler(svc, rt.route))
				for _, p := range personas {
					ev := tenantEvent(t, rt.route.Name, projectID)
					mode.caller(t, p, &ev)
					resp, err := handler.ProxyWithContext(context.Background(), ev)
					if err != nil {
						t.Fatal(err)
					}
					want := rt.status[p.name]
					if resp.StatusCode != want {
						t.Errorf("%s as %s: %d %s, want %d", rt.route.Name, p.name, resp.StatusCode, resp.Body, want)
						continue
					}
					if want == 403 {
						checkKeystoneFault(t, resp, 403)
					}
				}
			}
		})
	}
}

// tenantEvent is the route's sample event (events/<name>.json) addressing
// the project instead of the sample's, with no caller.
func tenantEvent(t *testing.T, name, project string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sampleEvent(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	old := ev.PathParameters["tenant_id"]
	if old == "" {
		t.Fatalf("events/%s.json has no tenant_id", name)
	}
	ev.PathParameters["tenant_id"] = project
	ev.RawPath = strings.Replace(ev.RawPath, "/v1/"+old+"/", "/v1/"+project+"/", 1)
	ev.RequestContext.HTTP.Path = ev.RawPath
	ev.RequestContext.Authorizer = nil
	if ev.Headers == nil {
		ev.Headers = map[string]string{}
	}
	delete(ev.Headers, "authorization")
	delete(ev.Headers, "x-auth-token")
	return ev
}
