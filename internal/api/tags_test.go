package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/local/devtoken"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/testenv"
)

// TestReservedTagKeysRefused: a plan's parameters may not ask for tags
// whose key begins with aws:, karbor: or a configured reserved prefix, nor
// the ownership tag's key (400 naming the key); other keys are accepted.
// Plan update takes no parameters (upstream's fields), so it cannot set
// tags at all.
func TestReservedTagKeysRefused(t *testing.T) {
	st := testenv.Store(t)
	own := ownership.Config{Mode: ownership.ModeTag, TagKey: "team", ReservedPrefixes: []string{"corp:"}}
	// The plan's resources: a volume and an instance the project owns.
	inv := invenv.New(t)
	vol := inv.Volume(map[string]string{"team": projA})
	inst, _ := inv.Instance(map[string]string{"team": projA})
	dom := &domain.Service{Store: st, Providers: provider.Lookup, Ownership: own, Inventory: inv.Inventory(own)}
	srv := httptest.NewServer(openapicheck.Handler(t, openapicheck.API(t), (&api.Service{Domain: dom, Auth: devtoken.Auth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, store: st}

	plan := func(typ string, tags map[string]any) map[string]any {
		return map[string]any{"plan": map[string]any{
			"name": "tags", "provider_id": provider.AWSID,
			"resources": []any{map[string]any{"id": vol, "type": provider.TypeEC2Volume, "name": "v"},
				map[string]any{"id": inst, "type": provider.TypeEC2Instance, "name": "i"}},
			"parameters": map[string]any{typ: map[string]any{"tags": tags}},
		}}
	}
	for _, typ := range []string{provider.TypeEC2Volume, provider.TypeEC2Instance, provider.TypeEC2Volume + "#" + vol} {
		for _, key := range []string{"aws:cloudformation:stack-name", "karbor:project-id", "Karbor:checkpoint-id", "corp:cost-center", "team", "TEAM"} {
			e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, plan(typ, map[string]any{"Name": "ok", key: "x"})).
				wantFault(t, http.StatusBadRequest, typ, key, "reserved")
		}
	}
	got := e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, plan(provider.TypeEC2Instance, map[string]any{"Name": "web", "corporate": "yes", "teams": "a"})).
		wantStatus(t, http.StatusOK)
	id := got.body["plan"].(map[string]any)["id"].(string)
	e.do(t, http.MethodPut, planPath(projA, id), tokenA, map[string]any{"plan": map[string]any{"parameters": map[string]any{
		provider.TypeEC2Volume: map[string]any{"tags": map[string]any{"karbor:project-id": "x"}}}}}).
		wantFault(t, http.StatusBadRequest, "parameters")
}
