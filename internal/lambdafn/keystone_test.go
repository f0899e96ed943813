package lambdafn_test

// AuthMode keystone: the authorizer function built and run under
// aws-lambda-rie against the fake Keystone (internal/testsupport/
// fakekeystone) with its credentials in moto's Secrets Manager or SSM, and
// the auth matrix: each kind of token → the authorizer's context → what a
// route function answers.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"karbor/internal/api"
	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/keystone"
	"karbor/internal/lambdafn"
	"karbor/internal/testsupport/fakekeystone"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
)

// sampleToken is the X-Auth-Token of events/keystone-authorizer.json.
const sampleToken = "gAAAAABk-sample-project-member-token"

const keystoneUser = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"

// otherProject is a project the sample tenant is not.
const otherProject = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

// keystoneTokens registers the matrix's tokens with the fake.
func keystoneTokens(ks *fakekeystone.Server) {
	in := time.Now().Add(time.Hour)
	ks.Add(sampleToken, fakekeystone.Token{UserID: keystoneUser, ProjectID: projectID, Roles: []string{"member", "reader"}, ExpiresAt: in})
	ks.Add("member", fakekeystone.Token{UserID: keystoneUser, ProjectID: projectID, Roles: []string{"member", "reader"}, ExpiresAt: in})
	ks.Add("reader", fakekeystone.Token{UserID: keystoneUser, ProjectID: projectID, Roles: []string{"reader"}, ExpiresAt: in})
	ks.Add("other-member", fakekeystone.Token{UserID: keystoneUser, ProjectID: otherProject, Roles: []string{"member", "reader"}, ExpiresAt: in})
	ks.Add("admin", fakekeystone.Token{UserID: keystoneUser, ProjectID: otherProject, Roles: []string{"admin", "member", "reader"}, ExpiresAt: in})
	ks.Add("system-admin", fakekeystone.Token{UserID: keystoneUser, System: true, Roles: []string{"admin"}, ExpiresAt: in})
	ks.Add("unscoped", fakekeystone.Token{UserID: keystoneUser, ExpiresAt: in})
	ks.Add("domain-admin", fakekeystone.Token{UserID: keystoneUser, DomainID: "default", Roles: []string{"admin", "member", "reader"}, ExpiresAt: in})
	ks.Add("expired", fakekeystone.Token{UserID: keystoneUser, ProjectID: projectID, Roles: []string{"member"}, ExpiresAt: time.Now().Add(-time.Minute)})
}

// closedPort is the address of a port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// credentialsSecret stores the service's credentials in moto's Secrets
// Manager and returns the secret's ARN.
func credentialsSecret(t *testing.T, value string) string {
	t.Helper()
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(testenv.Endpoint(t)) })
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("karbor/keystone-" + domain.NewID()), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// credentialsParameter stores them as an SSM SecureString and returns the
// parameter's ARN.
func credentialsParameter(t *testing.T, value string) string {
	t.Helper()
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(testenv.Endpoint(t)) })
	name := "/karbor/keystone-" + domain.NewID()
	if _, err := client.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	return "arn:aws:ssm:" + cfg.Region + ":123456789012:parameter" + name
}

func passwordSecret() string {
	b, _ := json.Marshal(map[string]string{"username": fakekeystone.ServiceUser, "password": fakekeystone.ServicePassword, "project_name": fakekeystone.ServiceProject})
	return string(b)
}

func appCredSecret() string {
	b, _ := json.Marshal(map[string]string{"application_credential_id": fakekeystone.AppCredID, "application_credential_secret": fakekeystone.AppCredSecret})
	return string(b)
}

// authorizerContext invokes the authorizer under the emulator with event
// and returns its context; anything but isAuthorized: true with a context
// fails the test.
func authorizerContext(t *testing.T, emu *rie.Emulator, event []byte) map[string]any {
	t.Helper()
	body := emu.Invoke(t, event)
	if msg, typ, ok := functionError(body); ok {
		t.Fatalf("the authorizer failed (%s): %s (API Gateway would answer a bare 500)\n%s", typ, msg, emu.Output())
	}
	var resp events.APIGatewayV2CustomAuthorizerSimpleResponse
	if err := json.Unmarshal(body, &resp); err != nil || !resp.IsAuthorized || resp.Context == nil {
		t.Fatalf("authorizer answer %s: want isAuthorized true with a context", body)
	}
	return resp.Context
}

func withToken(t *testing.T, event []byte, token string) []byte {
	t.Helper()
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	if token == "" {
		delete(ev.Headers, "x-auth-token")
	} else {
		ev.Headers["x-auth-token"] = token
	}
	b, _ := json.Marshal(ev)
	return b
}

// TestKeystoneAuthorizerFunction: the authorizer as deployed, with the
// unmodified events/keystone-authorizer.json, its credentials read from
// moto's Secrets Manager (a password) or SSM Parameter Store (an
// application credential), validating against the fake Keystone; with
// Keystone down it still answers (the 503 context), never a function error.
func TestKeystoneAuthorizerFunction(t *testing.T) {
	rie.SkipIfShort(t)
	ks := fakekeystone.Start(t)
	keystoneTokens(ks)
	bootstrap := rie.Build(t, "KeystoneAuthorizerFunction")
	event := sampleEvent(t, "keystone-authorizer")
	for name, arn := range map[string]string{
		"secretsmanager": credentialsSecret(t, passwordSecret()),
		"ssm":            credentialsParameter(t, appCredSecret()),
	} {
		t.Run(name, func(t *testing.T) {
			emu := rie.Start(t, bootstrap, map[string]string{"KEYSTONE_URL": ks.URL + "/v3", "KEYSTONE_CREDENTIALS_ARN": arn,
				"CREDENTIALS_ENDPOINT": testenv.Endpoint(t)})
			got := authorizerContext(t, emu, event)
			if got["user_id"] != keystoneUser || got["project_id"] != projectID || got["roles"] != `["member","reader"]` || got["system"] != "" {
				t.Errorf("context %v, want the sample token's identity", got)
			}
			if got := authorizerContext(t, emu, withToken(t, event, "not-a-token")); got["error_status"] != "401" {
				t.Errorf("invalid token: context %v, want error_status 401", got)
			}
			if strings.Contains(emu.Output(), fakekeystone.ServicePassword) || strings.Contains(emu.Output(), fakekeystone.AppCredSecret) {
				t.Errorf("the function logged the service's secret:\n%s", emu.Output())
			}
		})
	}
	t.Run("keystone down", func(t *testing.T) {
		emu := rie.Start(t, bootstrap, map[string]string{"KEYSTONE_URL": closedPort(t), "KEYSTONE_CREDENTIALS_ARN": credentialsSecret(t, passwordSecret()),
			"CREDENTIALS_ENDPOINT": testenv.Endpoint(t)})
		got := authorizerContext(t, emu, event)
		if got["error_status"] != "503" || got["error_message"] != keystone.MsgUnavailable {
			t.Errorf("context %v, want error_status 503", got)
		}
	})
	t.Run("credentials unreadable", func(t *testing.T) {
		emu := rie.Start(t, bootstrap, map[string]string{"KEYSTONE_URL": ks.URL, "KEYSTONE_CREDENTIALS_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
			"CREDENTIALS_ENDPOINT": testenv.Endpoint(t)})
		if got := authorizerContext(t, emu, event); got["error_status"] != "503" {
			t.Errorf("context %v, want error_status 503", got)
		}
	})
}

// routeEvent is events/list-plans.json with the authorizer's context in
// place of the JWT claims, as API Gateway hands it to the route function
// behind a Lambda authorizer.
func routeEvent(t *testing.T, lambdaContext map[string]any) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sampleEvent(t, "list-plans"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaContext}
	return ev
}

// keystoneMatrix is every kind of token and what GET /v1/<sample
// project>/plans answers it.
var keystoneMatrix = []struct {
	token  string
	status int
}{
	{"member", 200},
	{"reader", 200},
	{"admin", 200}, // an admin of another project
	{"system-admin", 200},
	{"other-member", 403},
	{"unscoped", 401},
	{"domain-admin", 401}, // scoped to a domain: no project to act in
	{"invalid", 401},
	{"expired", 401},
	{"keystone-down", 503},
}

// TestKeystoneAuthMatrix runs the authorizer and the route function in
// process: each token's context from keystone.Authorizer (against the fake
// Keystone, or a closed port for keystone-down) → list-plans under AUTH_MODE
// keystone over moto's tables → the status and the fault shape.
func TestKeystoneAuthMatrix(t *testing.T) {
	ks := fakekeystone.Start(t)
	keystoneTokens(ks)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	creds := keystone.Credentials{Username: fakekeystone.ServiceUser, Password: fakekeystone.ServicePassword,
		UserDomainName: "Default", ProjectName: fakekeystone.ServiceProject, ProjectDomainName: "Default"}
	up := &keystone.Authorizer{Keystone: &keystone.Client{URL: ks.URL, Credentials: creds}, Cache: &keystone.Cache{TTL: time.Minute}, Log: log}
	down := &keystone.Authorizer{Keystone: &keystone.Client{URL: closedPort(t), Credentials: creds}, Cache: &keystone.Cache{TTL: time.Minute}, Log: log}

	plans, checkpoints := testenv.Tables(t)
	t.Setenv("AUTH_MODE", "keystone")
	t.Setenv("PLANS_TABLE", plans)
	t.Setenv("CHECKPOINTS_TABLE", checkpoints)
	svc, err := lambdafn.NewServiceOver(api.ListPlans, log, testenv.DynamoDB(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler := httpadapter.NewV2(lambdafn.Handler(svc, api.ListPlans))
	for _, tc := range keystoneMatrix {
		t.Run(tc.token, func(t *testing.T) {
			a := up
			if tc.token == "keystone-down" {
				a = down
			}
			verdict, err := a.Handle(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST",
				Headers: map[string]string{"x-auth-token": tc.token}})
			if err != nil || !verdict.IsAuthorized {
				t.Fatalf("authorizer: %+v, %v; want isAuthorized and no error", verdict, err)
			}
			ev := routeEvent(t, verdict.Context)
			resp, err := handler.ProxyWithContext(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, resp.Body)
			}
			checkKeystoneFault(t, resp, tc.status)
			evJSON, _ := json.Marshal(ev)
			openapicheck.API(t).Lambda(t, evJSON, resp, false)
		})
	}
	t.Run("no authorizer context", func(t *testing.T) {
		ev := routeEvent(t, nil)
		resp, err := handler.ProxyWithContext(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 401 {
			t.Errorf("status %d, want 401; body %s", resp.StatusCode, resp.Body)
		}
		evJSON, _ := json.Marshal(ev)
		openapicheck.API(t).Lambda(t, evJSON, resp, false)
	})
}

// checkKeystoneFault checks a refusal's body: the contract's fault shape.
func checkKeystoneFault(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int) {
	t.Helper()
	name := map[int]string{401: "unauthorized", 403: "forbidden", 503: "serviceUnavailable"}[status]
	if name == "" {
		return
	}
	var body map[string]struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body[name].Code != status || body[name].Message == "" {
		t.Errorf("body %s, want {%q: {\"code\": %d, \"message\": ...}}", resp.Body, name, status)
	}
}

// TestKeystoneEndToEnd: one case of the matrix as built binaries under the
// emulator: the authorizer's answer to the sample event becomes the route
// function's authorizer context (as API Gateway passes it on), and
// list-plans answers 200; with Keystone down, 503 with the fault shape;
// without X-Auth-Token, 401 with the fault shape.
func TestKeystoneEndToEnd(t *testing.T) {
	rie.SkipIfShort(t)
	ks := fakekeystone.Start(t)
	keystoneTokens(ks)
	arn := credentialsSecret(t, passwordSecret())
	authorizer := rie.Start(t, rie.Build(t, "KeystoneAuthorizerFunction"), map[string]string{"KEYSTONE_URL": ks.URL,
		"KEYSTONE_CREDENTIALS_ARN": arn, "CREDENTIALS_ENDPOINT": testenv.Endpoint(t)})
	downAuthorizer := rie.Start(t, rie.Build(t, "KeystoneAuthorizerFunction"), map[string]string{"KEYSTONE_URL": closedPort(t),
		"KEYSTONE_CREDENTIALS_ARN": arn, "CREDENTIALS_ENDPOINT": testenv.Endpoint(t)})
	plans, checkpoints := testenv.Tables(t)
	route := rie.Start(t, rie.Build(t, api.ListPlans.LogicalID()), map[string]string{"AUTH_MODE": "keystone",
		"PLANS_TABLE": plans, "CHECKPOINTS_TABLE": checkpoints, "DYNAMODB_ENDPOINT": testenv.Endpoint(t)})
	event := sampleEvent(t, "keystone-authorizer")
	for _, tc := range []struct {
		emu    *rie.Emulator
		event  []byte
		status int
	}{
		{authorizer, event, 200},
		{downAuthorizer, event, 503},
		// No X-Auth-Token: the authorizer has no identity source, so
		// API Gateway runs it, and the 401 has the fault shape.
		{authorizer, withToken(t, event, ""), 401},
	} {
		ev, _ := json.Marshal(routeEvent(t, authorizerContext(t, tc.emu, tc.event)))
		resp, _ := route.InvokeHTTP(t, ev)
		if resp.StatusCode != tc.status {
			t.Errorf("status %d, want %d; body %s", resp.StatusCode, tc.status, resp.Body)
		}
		checkKeystoneFault(t, resp, tc.status)
		openapicheck.API(t).Lambda(t, ev, resp, false)
	}
}

// TestKeystoneAuth: the route side reads each field of the authorizer's
// context exactly; a context it cannot read is a 401, never a guess.
func TestKeystoneAuth(t *testing.T) {
	request := func(t *testing.T, lambdaContext map[string]any) *http.Request {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{RawPath: "/v1/p/plans", RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/v1/p/plans"}}}
		if lambdaContext != nil {
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaContext}
		}
		var accessor core.RequestAccessorV2
		r, err := accessor.EventToRequestWithContext(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	valid := func(change map[string]any) map[string]any {
		c := map[string]any{"user_id": keystoneUser, "project_id": projectID, "roles": `["member","org admin"]`, "system": "", "expires_at": "2026-12-01T11:00:00Z"}
		for k, v := range change {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		ctx    map[string]any
		want   domain.Caller
		status int
	}{
		{"project", valid(nil), domain.Caller{UserID: keystoneUser, ProjectID: projectID, Roles: []string{"member", "org admin"}}, 0},
		{"system", valid(map[string]any{"project_id": "", "system": "all", "roles": `["admin"]`}), domain.Caller{UserID: keystoneUser, Roles: []string{"admin"}}, 0},
		{"no roles", valid(map[string]any{"roles": `[]`}), domain.Caller{UserID: keystoneUser, ProjectID: projectID, Roles: []string{}}, 0},
		{"refused", map[string]any{"error_status": "401", "error_message": keystone.MsgExpired}, domain.Caller{}, 401},
		{"unavailable", map[string]any{"error_status": "503", "error_message": keystone.MsgUnavailable}, domain.Caller{}, 503},
		{"no context", nil, domain.Caller{}, 401},
		{"empty context", map[string]any{}, domain.Caller{}, 401},
		{"no project, not system", valid(map[string]any{"project_id": ""}), domain.Caller{}, 401},
		{"bad project", valid(map[string]any{"project_id": "a/b"}), domain.Caller{}, 401},
		{"roles not JSON", valid(map[string]any{"roles": "member,admin"}), domain.Caller{}, 401},
		{"user not a string", valid(map[string]any{"user_id": 7}), domain.Caller{}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lambdafn.KeystoneAuth{}.Caller(request(t, tc.ctx))
			if tc.status == 0 {
				if err != nil || got.UserID != tc.want.UserID || got.ProjectID != tc.want.ProjectID || !slices.Equal(got.Roles, tc.want.Roles) {
					t.Errorf("caller %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			var f *api.Fault
			if !errors.As(err, &f) || f.Status != tc.status || f.Message == "" {
				t.Errorf("error %v, want a %d fault with a message", err, tc.status)
			}
		})
	}
}
