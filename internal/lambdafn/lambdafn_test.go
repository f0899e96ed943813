package lambdafn_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/lambdafn"
	bgfn "karbor/internal/lambdafn/background"
	"karbor/internal/worker"
)

// TestParseRoles: every claim form API Gateway hands a function, read
// exactly, so that no role holding a space ("org admin") ever reads as
// "admin", and nothing ambiguous is guessed.
func TestParseRoles(t *testing.T) {
	tests := []struct {
		claim, token, separator string // token "" means no token
		want                    []string
		bad                     bool
	}{
		// A JSON array, which API Gateway flattens to "[a b]": read from the token.
		{"[admin member]", `["admin","member"]`, "comma", []string{"admin", "member"}, false},
		{"[org admin member]", `["org admin","member"]`, "comma", []string{"org admin", "member"}, false},
		{"[org admin member]", `["org admin","member"]`, "space", []string{"org admin", "member"}, false},
		{"[a,b]", `["a,b"]`, "comma", []string{"a,b"}, false},
		{"[]", `[]`, "comma", nil, false},
		{"[admin member]", `["org admin","member"]`, "comma", nil, true}, // disagrees with the claim
		{"[org admin]", "", "comma", nil, true},                          // no token: ambiguous, refused
		{"[1 2]", `[1,2]`, "comma", nil, true},
		// A string claim.
		{"admin,member", `"admin,member"`, "comma", []string{"admin", "member"}, false},
		{"org admin", `"org admin"`, "comma", []string{"org admin"}, false}, // never "admin"
		{"org admin, member", `"org admin, member"`, "comma", []string{"org admin", "member"}, false},
		{"reader admin", `"reader admin"`, "space", []string{"reader", "admin"}, false},
		{"org admin", "", "comma", []string{"org admin"}, false},
		{"a,,b,", "", "comma", []string{"a", "b"}, false},
		{"[admin]", `"[admin]"`, "comma", []string{"[admin]"}, false}, // a string that looks like an array
		{"admin", `"member"`, "comma", nil, true},
		// Absent.
		{"", "", "comma", nil, false},
		{"", `null`, "comma", nil, false},
		{"admin", `null`, "comma", nil, true},
		{"map[a:b]", `{"a":"b"}`, "comma", nil, true},
	}
	for _, tc := range tests {
		var token json.RawMessage
		if tc.token != "" {
			token = json.RawMessage(tc.token)
		}
		got, err := lambdafn.ParseRoles(tc.claim, token, tc.separator)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("ParseRoles(%q, %s, %s) = %q, %v; want %q, error %v", tc.claim, tc.token, tc.separator, got, err, tc.want, tc.bad)
		}
	}
	// A role matches only as a whole name, in any case (as oslo.policy).
	for roles, admin := range map[string]bool{"ADMIN": true, "Admin": true, "org admin": false, "admins": false, " admin": false, "admin:x": false} {
		if got := new(api.Policy).IsAdmin([]string{roles}); got != admin {
			t.Errorf("IsAdmin(%q) = %v, want %v", roles, got, admin)
		}
	}
}

// jwt is a token with the given claims, unsigned: API Gateway has checked
// the signature before the function runs.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return "Bearer " + enc([]byte(`{"alg":"RS256"}`)) + "." + enc(payload) + ".c2ln"
}

// requestWithClaims builds the request the API Gateway proxy hands the
// handler, with the authorizer's claims in its context.
func requestWithClaims(t *testing.T, claims map[string]string) *http.Request {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/v1/p/providers",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "abc.execute-api.us-east-1.amazonaws.com",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/v1/p/providers"},
		},
	}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	var accessor core.RequestAccessorV2
	r, err := accessor.EventToRequestWithContext(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClaimsAuth(t *testing.T) {
	auth := lambdafn.ClaimsAuth{User: "sub", Project: "project_id", Roles: "roles"}
	const project = "e486a2f49695423ca9c47e589b948108"
	verified := func(roles any, rendered string) *http.Request {
		r := requestWithClaims(t, map[string]string{"sub": "alice", "project_id": project, "roles": rendered})
		r.Header.Set("Authorization", jwt(t, map[string]any{"sub": "alice", "project_id": project, "roles": roles}))
		return r
	}
	c, err := auth.Caller(verified([]string{"member", "admin"}, "[member admin]"))
	if err != nil || c.UserID != "alice" || c.ProjectID != project || !new(api.Policy).IsAdmin(c.Roles) {
		t.Errorf("Caller = %+v, %v", c, err)
	}
	// A role with a space, in an array claim: API Gateway renders it
	// "[org admin member]", the token says what it is.
	c, err = auth.Caller(verified([]string{"org admin", "member"}, "[org admin member]"))
	if err != nil || new(api.Policy).IsAdmin(c.Roles) || !slices.Equal(c.Roles, []string{"org admin", "member"}) {
		t.Errorf("array claim with a spaced role: Caller = %+v, %v", c, err)
	}
	// A token in the header that is not the verified one is not read.
	r := verified([]string{"admin"}, "[org admin]")
	if c, err := auth.Caller(r); err == nil {
		t.Errorf("a token disagreeing with the verified claims gave %+v", c)
	}
	other := requestWithClaims(t, map[string]string{"sub": "alice", "project_id": project, "roles": "[org admin]"})
	other.Header.Set("Authorization", jwt(t, map[string]any{"sub": "mallory", "project_id": project, "roles": []string{"org", "admin"}}))
	if c, err := auth.Caller(other); err == nil {
		t.Errorf("another user's token gave %+v", c)
	}
	for name, claims := range map[string]map[string]string{
		"no authorizer":   nil,
		"no user":         {"project_id": "p1"},
		"no project":      {"sub": "alice"},
		"bad project":     {"sub": "alice", "project_id": "a b"},
		"renamed project": {"sub": "alice", "tenant": "p1"},
		"array, no token": {"sub": "alice", "project_id": "p1", "roles": "[org admin]"},
	} {
		_, err := auth.Caller(requestWithClaims(t, claims))
		var f *api.Fault
		if !errors.As(err, &f) || f.Status != http.StatusUnauthorized {
			t.Errorf("%s: %v, want a 401", name, err)
		}
	}
	// The development token is never read in Lambda.
	r = requestWithClaims(t, nil)
	r.Header.Set("X-Auth-Token", "alice:e486a2f49695423ca9c47e589b948108:admin")
	if _, err := auth.Caller(r); err == nil {
		t.Error("the development token was accepted in Lambda")
	}
}

// TestClaimsAuthCognitoIDToken: the claims of an ID token of the stack's
// Cognito user pool (template.yaml's UserPool, the claim names its
// parameters default to there), as API Gateway's JWT authorizer hands them
// on: cognito:groups, an array, flattened to "[a b]"; the project in
// custom:project_id.
func TestClaimsAuthCognitoIDToken(t *testing.T) {
	auth := lambdafn.ClaimsAuth{User: "sub", Project: "custom:project_id", Roles: "cognito:groups", RolesSeparator: "comma"}
	const project = "e486a2f49695423ca9c47e589b948108"
	const sub = "94e8b4a8-3071-70b7-5b1d-0e1f2a3b4c5d"
	idToken := func(groups []string) map[string]any {
		c := map[string]any{
			"sub": sub, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf12",
			"aud": "3n4b5urk1ft4fl3mg5e62d9ado", "token_use": "id", "auth_time": 1764600000,
			"exp": 1764603600, "iat": 1764600000, "cognito:username": "alice",
			"custom:project_id": project, "email": "alice@example.com",
		}
		if groups != nil {
			c["cognito:groups"] = groups
		}
		return c
	}
	// What API Gateway puts in requestContext.authorizer.jwt.claims: every
	// value a string, an array as "[a b]".
	rendered := func(groups string) map[string]string {
		c := map[string]string{"sub": sub, "custom:project_id": project, "cognito:username": "alice", "token_use": "id",
			"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf12", "aud": "3n4b5urk1ft4fl3mg5e62d9ado"}
		if groups != "" {
			c["cognito:groups"] = groups
		}
		return c
	}
	for _, tt := range []struct {
		name     string
		groups   []string
		rendered string
		roles    []string
		admin    bool
	}{
		{"member", []string{"member"}, "[member]", []string{"member"}, false},
		{"admin and member", []string{"admin", "member"}, "[admin member]", []string{"admin", "member"}, true},
		{"reader", []string{"reader"}, "[reader]", []string{"reader"}, false},
		{"no group", nil, "", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := requestWithClaims(t, rendered(tt.rendered))
			r.Header.Set("Authorization", jwt(t, idToken(tt.groups)))
			c, err := auth.Caller(r)
			if err != nil {
				t.Fatalf("Caller: %v", err)
			}
			if c.UserID != sub || c.ProjectID != project || !slices.Equal(c.Roles, tt.roles) || domain.HasRole(c.Roles, "admin") != tt.admin {
				t.Errorf("Caller = %+v, want user %s, project %s, roles %q, admin role %v", c, sub, project, tt.roles, tt.admin)
			}
		})
	}
	// A group array without the token to read it from: refused, not
	// guessed.
	if c, err := auth.Caller(requestWithClaims(t, rendered("[admin member]"))); err == nil {
		t.Errorf("an array claim without its token gave %+v", c)
	}
	// An ID token without custom:project_id (a user made without one):
	// 401.
	noProject := rendered("[member]")
	delete(noProject, "custom:project_id")
	r := requestWithClaims(t, noProject)
	tok := idToken([]string{"member"})
	delete(tok, "custom:project_id")
	r.Header.Set("Authorization", jwt(t, tok))
	var f *api.Fault
	if _, err := auth.Caller(r); !errors.As(err, &f) || f.Status != http.StatusUnauthorized {
		t.Errorf("a token without custom:project_id: %v, want a 401", err)
	}
}

func TestRequestID(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if got := lambdafn.RequestID(r); got != "" {
		t.Errorf("RequestID without a Lambda context = %q, want empty (the service draws one)", got)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"})
	if got := lambdafn.RequestID(r.WithContext(ctx)); got != "req-8476a536-e9f4-11e8-9739-2dfe598c3fcd" {
		t.Errorf("RequestID = %q", got)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("CHECKPOINTS_TABLE", "cps")
	t.Setenv("OPERATION_LOGS_TABLE", "logs")
	t.Setenv("DELETED_RETENTION", "")
	t.Setenv("STUCK_AFTER", "")
	t.Setenv("DYNAMODB_ENDPOINT", "")
	t.Setenv("EC2_ENDPOINT", "")
	t.Setenv("TASKS_TABLE", "")
	t.Setenv("TASK_TIMEOUT", "")
	t.Setenv("TASK_POLL", "")
	c, err := bgfn.ConfigFromEnv()
	want := bgfn.Config{CheckpointsTable: "cps", OperationLogsTable: "logs", Retention: domain.DefaultRetention, StuckAfter: worker.DefaultStuckAfter,
		TaskTimeout: domain.DefaultTaskTimeout}
	if err != nil || c != want {
		t.Errorf("defaults: %+v, %v; want %+v", c, err, want)
	}

	t.Setenv("DELETED_RETENTION", "48h")
	t.Setenv("STUCK_AFTER", "30m")
	t.Setenv("EC2_ENDPOINT", "http://127.0.0.1:5000")
	t.Setenv("TASKS_TABLE", "tasks")
	t.Setenv("TASK_TIMEOUT", "6h")
	t.Setenv("TASK_POLL", "10s")
	c, err = bgfn.ConfigFromEnv()
	if err != nil || c.Retention != 48*time.Hour || c.StuckAfter != 30*time.Minute || c.EC2Endpoint != "http://127.0.0.1:5000" ||
		c.TasksTable != "tasks" || c.TaskTimeout != 6*time.Hour || c.TaskPoll != 10*time.Second {
		t.Errorf("from the environment: %+v, %v", c, err)
	}

	for name, value := range map[string]string{"DELETED_RETENTION": "30 days", "STUCK_AFTER": "-1h", "TASK_TIMEOUT": "0s", "TASK_POLL": "soon"} {
		t.Setenv("DELETED_RETENTION", "48h")
		t.Setenv("STUCK_AFTER", "30m")
		t.Setenv("TASK_TIMEOUT", "6h")
		t.Setenv("TASK_POLL", "10s")
		t.Setenv(name, value)
		if _, err := bgfn.ConfigFromEnv(); err == nil {
			t.Errorf("%s=%q was accepted", name, value)
		}
	}
	t.Setenv("STUCK_AFTER", "30m")
	t.Setenv("TASK_TIMEOUT", "6h")
	t.Setenv("TASK_POLL", "10s")
	t.Setenv("CHECKPOINTS_TABLE", "")
	if _, err := bgfn.ConfigFromEnv(); err == nil {
		t.Error("a missing CHECKPOINTS_TABLE was accepted")
	}
	t.Setenv("CHECKPOINTS_TABLE", "cps")
	t.Setenv("OPERATION_LOGS_TABLE", "")
	if _, err := bgfn.ConfigFromEnv(); err == nil {
		t.Error("a missing OPERATION_LOGS_TABLE was accepted")
	}
}

// TestNextLinkFromDomainName: deployed, a next link starts with API
// Gateway's domainName from the request context, never with the Host or
// X-Forwarded-* headers the caller sent (the provider list pages without a
// table, so this runs the real route's service).
func TestNextLinkFromDomainName(t *testing.T) {
	svc, err := lambdafn.NewService(context.Background(), api.ListProviders, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := requestWithClaims(t, map[string]string{"sub": "alice", "project_id": "p", "roles": "member"})
	r.URL.RawQuery = "limit=1"
	r.Host = "evil.example"
	r.Header.Set("Host", "evil.example")
	r.Header.Set("X-Forwarded-Proto", "gopher")
	r.Header.Set("X-Forwarded-Host", "evil2.example")
	w := httptest.NewRecorder()
	lambdafn.Handler(svc, api.ListProviders).ServeHTTP(w, r)
	var body struct {
		Links []struct{ Href string } `json:"providers_links"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusOK || len(body.Links) != 1 {
		t.Fatalf("status %d, body %s, %v", w.Code, w.Body, err)
	}
	if href := body.Links[0].Href; !strings.HasPrefix(href, "https://abc.execute-api.us-east-1.amazonaws.com/v1/p/providers?limit=1&marker=") {
		t.Errorf("href %q does not start with the request context's domainName", href)
	}
}

// TestCountedTablesRequired: a route that writes quota counts or schedule
// marks does not start without their table (the counts would drift
// silently).
func TestCountedTablesRequired(t *testing.T) {
	t.Setenv("PLANS_TABLE", "plans")
	t.Setenv("CHECKPOINTS_TABLE", "cps")
	t.Setenv("IDEMPOTENCY_TABLE", "idem")
	t.Setenv("OPERATION_LOGS_TABLE", "logs")
	t.Setenv("AWS_REGION", "us-east-1")
	for _, c := range []struct {
		route api.Route
		unset string
	}{{api.CreatePlan, "QUOTAS_TABLE"}, {api.DeletePlan, "QUOTAS_TABLE"}, {api.CreateTrigger, "SCHEDULES_TABLE"}} {
		t.Setenv("QUOTAS_TABLE", "quotas")
		t.Setenv("SCHEDULES_TABLE", "schedules")
		t.Setenv(c.unset, "")
		_, err := lambdafn.NewService(context.Background(), c.route, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil || !strings.Contains(err.Error(), c.unset) {
			t.Errorf("%s without %s: %v, want its init refused", c.route.Name, c.unset, err)
		}
	}
}
