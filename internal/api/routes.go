package api

import (
	"net/http"
	"strings"
)

// Route is one operation of the API. It is the single source of truth for
// what the local server mounts, what template.yaml declares (one function per
// route, LogicalID) and what events/ exercises (events/<Name>.json); a test
// checks the three against each other.
type Route struct {
	Name      string // folder under functions/ and file name under events/
	LogicalID string // function's logical id in template.yaml
	Method    string
	Path      string // API Gateway route path, also a net/http pattern
	Writes    bool   // the function needs write access to DynamoDB
	handle    handlerFunc
}

const (
	checkpointsPath = "/v1/{tenant_id}/providers/{provider_id}/checkpoints"
	checkpointPath  = checkpointsPath + "/{checkpoint_id}"
	providersPath   = "/v1/{tenant_id}/providers"
	providerPath    = providersPath + "/{provider_id}"
	plansPath       = "/v1/{tenant_id}/plans"
	planPath        = plansPath + "/{plan_id}"
)

// Routes lists every operation of the service.
var Routes = []Route{
	{"list-checkpoints", "ListCheckpointsFunction", http.MethodGet, checkpointsPath, false, (*Service).listCheckpoints},
	{"create-checkpoint", "CreateCheckpointFunction", http.MethodPost, checkpointsPath, true, (*Service).createCheckpoint},
	{"show-checkpoint", "ShowCheckpointFunction", http.MethodGet, checkpointPath, false, (*Service).showCheckpoint},
	{"delete-checkpoint", "DeleteCheckpointFunction", http.MethodDelete, checkpointPath, true, (*Service).deleteCheckpoint},
	{"reset-checkpoint-state", "ResetCheckpointStateFunction", http.MethodPut, checkpointPath, true, (*Service).resetCheckpointState},
	{"list-providers", "ListProvidersFunction", http.MethodGet, providersPath, false, (*Service).listProviders},
	{"show-provider", "ShowProviderFunction", http.MethodGet, providerPath, false, (*Service).showProvider},
	{"create-plan", "CreatePlanFunction", http.MethodPost, plansPath, true, (*Service).createPlan},
	{"list-plans", "ListPlansFunction", http.MethodGet, plansPath, false, (*Service).listPlans},
	{"show-plan", "ShowPlanFunction", http.MethodGet, planPath, false, (*Service).showPlan},
	{"update-plan", "UpdatePlanFunction", http.MethodPut, planPath, true, (*Service).updatePlan},
	{"delete-plan", "DeletePlanFunction", http.MethodDelete, planPath, true, (*Service).deletePlan},
}

// Fallback is the function behind API Gateway's $default route, which gets
// every request no route matches (it has no Method and no Path). Without it
// API Gateway would answer those itself, outside the fault shape and without
// a request id. It is not in Routes: the local server's own mux does its job.
var Fallback = Route{Name: "not-found", LogicalID: "NotFoundFunction"}

// RouteByName finds a route, or the Fallback, by its Name.
func RouteByName(name string) (Route, bool) {
	if name == Fallback.Name {
		return Fallback, true
	}
	for _, r := range Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// UsesTables reports whether the route reads or writes DynamoDB; provider
// routes read the compiled-in registry only.
func (r Route) UsesTables() bool {
	return r.Name != Fallback.Name && (!strings.Contains(r.Path, "/providers") || strings.Contains(r.Path, "/checkpoints"))
}
