package lambdafn_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"karbor/internal/api"
	"karbor/internal/lambdafn"
)

// TestPolicyConfigRefused: a bad POLICY_OVERRIDES fails the function's
// init, as the other environment checks do.
func TestPolicyConfigRefused(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct{ overrides, want string }{
		{`{"no-such-route": "admin"}`, "no-such-route"},
		{`{"list-plans": "owner"}`, "owner"},
		{`{"list-plans": `, "JSON object"},
		{`["list-plans"]`, "JSON object"},
	} {
		t.Setenv("POLICY_OVERRIDES", tc.overrides)
		if _, err := lambdafn.NewServiceOver(api.ListProviders, log, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("POLICY_OVERRIDES=%s: init error %v, want one naming %q", tc.overrides, err, tc.want)
		}
	}
	t.Setenv("POLICY_OVERRIDES", `{"list-providers": "admin"}`)
	if _, err := lambdafn.NewServiceOver(api.ListProviders, log, nil, nil); err != nil {
		t.Errorf("a valid override: %v", err)
	}
}

// TestPolicyAdminRoleFromEnv: ADMIN_ROLE=superuser makes superuser the
// admin of the function (another project's path answers 200) and admin an
// ordinary role (403, the tenant rule); POLICY_OVERRIDES applies.
func TestPolicyAdminRoleFromEnv(t *testing.T) {
	const own, other = "0a9b7c6d5e4f40312233445566778899", "e486a2f49695423ca9c47e589b948108"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("ADMIN_ROLE", "superuser")
	t.Setenv("POLICY_OVERRIDES", `{"show-provider": "admin"}`)
	serve := func(route api.Route, path, roles string) *httptest.ResponseRecorder {
		t.Helper()
		svc, err := lambdafn.NewServiceOver(route, log, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ev := events.APIGatewayV2HTTPRequest{
			RawPath: path,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: path},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u", "project_id": own, "roles": roles}},
				},
			},
		}
		var accessor core.RequestAccessorV2
		r, err := accessor.EventToRequestWithContext(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		lambdafn.Handler(svc, route).ServeHTTP(w, r)
		return w
	}
	list := "/v1/" + other + "/providers"
	if w := serve(api.ListProviders, list, "SuperUser"); w.Code != http.StatusOK {
		t.Errorf("superuser, another project: %d %s", w.Code, w.Body)
	}
	if w := serve(api.ListProviders, list, "admin,member"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "may not access project") {
		t.Errorf("admin (an ordinary role), another project: %d %s", w.Code, w.Body)
	}
	show := "/v1/" + own + "/providers/b766f37c-d011-4026-8228-28730d734a3f"
	if w := serve(api.ShowProvider, show, "member"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Policy doesn't allow show-provider to be performed.") {
		t.Errorf("member, show-provider overridden to admin: %d %s", w.Code, w.Body)
	}
	if w := serve(api.ShowProvider, show, "superuser"); w.Code != http.StatusOK {
		t.Errorf("superuser, show-provider overridden to admin: %d %s", w.Code, w.Body)
	}
}
