package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"karbor/internal/api"
)

// TestOpenAPICoversEveryRoute: the document's table (openapi.go) has an
// entry for every route and none for a route that does not exist.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var names []string
	for _, r := range api.Routes {
		names = append(names, r.Name)
		if !slices.Contains(api.OpDocNames(), r.Name) {
			t.Errorf("route %s has no entry in openapi.go's opDocs", r.Name)
		}
	}
	for _, n := range api.OpDocNames() {
		if !slices.Contains(names, n) {
			t.Errorf("openapi.go's opDocs names %s, which is not a route", n)
		}
	}
	doc, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Security    []any  `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	for _, r := range api.Routes {
		op, ok := m.Paths[r.Path][map[string]string{"GET": "get", "POST": "post", "PUT": "put", "DELETE": "delete"}[r.Method]]
		if !ok || op.OperationID != r.Name {
			t.Errorf("%s %s: operation %+v, want operationId %s", r.Method, r.Path, op, r.Name)
			continue
		}
		if anonymous := len(op.Security) == 0; anonymous != r.Anonymous {
			t.Errorf("%s: security %v, want anonymous=%v", r.Name, op.Security, r.Anonymous)
		}
	}
}

// TestShowOpenAPI: GET /openapi.json answers the document without a
// caller; it has no other method.
func TestShowOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, http.MethodGet, "/openapi.json", "", nil).wantStatus(t, http.StatusOK)
	want, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var got, wantDoc any
	if err := json.Unmarshal(r.raw, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(want, &wantDoc)
	if !reflect.DeepEqual(got, wantDoc) {
		t.Errorf("GET /openapi.json differs from api.OpenAPI()")
	}
	e.do(t, http.MethodPost, "/openapi.json", tokenA, nil).wantFault(t, http.StatusMethodNotAllowed)
}
