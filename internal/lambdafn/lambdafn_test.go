package lambdafn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/lambdafn"
	"karbor/internal/worker"
)

func TestParseRoles(t *testing.T) {
	for in, want := range map[string][]string{
		"[admin member]":      {"admin", "member"}, // an array claim, as API Gateway passes it
		"admin,member":        {"admin", "member"},
		`["admin", "member"]`: {"admin", "member"},
		"org admin":           {"org admin"}, // never "admin"
		"org admin,member":    {"org admin", "member"},
		"member":              {"member"},
		"":                    nil,
		" [reader admin] ":    {"reader", "admin"},
	} {
		if got := lambdafn.ParseRoles(in); !slices.Equal(got, want) {
			t.Errorf("ParseRoles(%q) = %q, want %q", in, got, want)
		}
	}
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
	c, err := auth.Caller(requestWithClaims(t, map[string]string{"sub": "alice", "project_id": "e486a2f49695423ca9c47e589b948108", "roles": "[member admin]"}))
	if err != nil || c.UserID != "alice" || c.ProjectID != "e486a2f49695423ca9c47e589b948108" || !c.IsAdmin() {
		t.Errorf("Caller = %+v, %v", c, err)
	}
	for name, claims := range map[string]map[string]string{
		"no authorizer":   nil,
		"no user":         {"project_id": "p1"},
		"no project":      {"sub": "alice"},
		"bad project":     {"sub": "alice", "project_id": "a b"},
		"renamed project": {"sub": "alice", "tenant": "p1"},
	} {
		_, err := auth.Caller(requestWithClaims(t, claims))
		var f *api.Fault
		if !errors.As(err, &f) || f.Status != http.StatusUnauthorized {
			t.Errorf("%s: %v, want a 401", name, err)
		}
	}
	// The development token is never read in Lambda.
	r := requestWithClaims(t, nil)
	r.Header.Set("X-Auth-Token", "alice:e486a2f49695423ca9c47e589b948108:admin")
	if _, err := auth.Caller(r); err == nil {
		t.Error("the development token was accepted in Lambda")
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
	t.Setenv("DELETED_RETENTION", "")
	t.Setenv("STUCK_AFTER", "")
	t.Setenv("DYNAMODB_ENDPOINT", "")
	t.Setenv("EC2_ENDPOINT", "")
	c, err := lambdafn.ConfigFromEnv()
	want := lambdafn.Config{CheckpointsTable: "cps", Retention: domain.DefaultRetention, StuckAfter: worker.DefaultStuckAfter}
	if err != nil || c != want {
		t.Errorf("defaults: %+v, %v; want %+v", c, err, want)
	}

	t.Setenv("DELETED_RETENTION", "48h")
	t.Setenv("STUCK_AFTER", "30m")
	t.Setenv("EC2_ENDPOINT", "http://127.0.0.1:5000")
	c, err = lambdafn.ConfigFromEnv()
	if err != nil || c.Retention != 48*time.Hour || c.StuckAfter != 30*time.Minute || c.EC2Endpoint != "http://127.0.0.1:5000" {
		t.Errorf("from the environment: %+v, %v", c, err)
	}

	for name, value := range map[string]string{"DELETED_RETENTION": "30 days", "STUCK_AFTER": "-1h"} {
		t.Setenv("DELETED_RETENTION", "48h")
		t.Setenv("STUCK_AFTER", "30m")
		t.Setenv(name, value)
		if _, err := lambdafn.ConfigFromEnv(); err == nil {
			t.Errorf("%s=%q was accepted", name, value)
		}
	}
	t.Setenv("STUCK_AFTER", "30m")
	t.Setenv("CHECKPOINTS_TABLE", "")
	if _, err := lambdafn.ConfigFromEnv(); err == nil {
		t.Error("a missing CHECKPOINTS_TABLE was accepted")
	}
}
