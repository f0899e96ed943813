package openapicheck_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"karbor/internal/api"
	"karbor/internal/testsupport/openapicheck"
)

// TestDocumentIsValidOpenAPI31 validates the document against the OpenAPI
// 3.1 schema (testdata/oas-3.1-schema.json, the OpenAPI Initiative's
// schema 2022-10-07), and compiles every component schema as a JSON Schema
// 2020-12 schema (the compiler validates it against the draft's
// meta-schema) and every response schema the checker uses.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile("testdata/oas-3.1-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	metaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(meta))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("https://spec.openapis.org/oas/3.1/schema/2022-10-07", metaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("https://spec.openapis.org/oas/3.1/schema/2022-10-07")
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v", err)
	}

	var m struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if m.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", m.OpenAPI)
	}
	ck := openapicheck.API(t)
	for name := range m.Components.Schemas {
		// Compiling a schema checks it and every schema it refers to.
		if err := ck.CompileSchema(name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	for _, name := range []string{"checkpoint", "plan", "provider", "protectable", "instance", "restore", "verification",
		"operation_log", "trigger", "scheduled_operation", "quota", "quota_class", "fault", "links"} {
		if _, ok := m.Components.Schemas[name]; !ok {
			t.Errorf("components.schemas has no %s", name)
		}
	}
}

// TestCheckCatchesDrift: answers the document does not allow are reported.
func TestCheckCatchesDrift(t *testing.T) {
	ck := openapicheck.API(t)
	const checkpoint = `{"id":"dcb20606-ad71-40a3-80e4-ef0fafdad0c3","project_id":"p1","status":"available",
		"protection_plan":{"id":"3523a271-68aa-42f5-b9ba-56e5200a2ebb","name":"n","provider_id":"b766f37c-d011-4026-8228-28730d734a3f","resources":[]},
		"resource_graph":null,"created_at":"2026-12-01T10:00:00Z","extra_info":{"created_by":"manual"}}`
	show := "/v1/p1/providers/b766f37c-d011-4026-8228-28730d734a3f/checkpoints/dcb20606-ad71-40a3-80e4-ef0fafdad0c3"
	const id = "req-0f9c2d1e-8b7a-4c3d-9e5f-112233445566"
	json := http.Header{"Content-Type": {"application/json"}, "X-Openstack-Request-Id": {id}}
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"a checkpoint", "GET", show, 200, json, `{"checkpoint":` + checkpoint + `}`, true},
		{"an extra key", "GET", show, 200, json, `{"checkpoint":` + checkpoint + `,"x":1}`, false},
		{"a key missing", "GET", show, 200, json, `{"checkpoint":{"id":"dcb20606-ad71-40a3-80e4-ef0fafdad0c3"}}`, false},
		{"an upper-case id", "GET", show, 200, json, `{"checkpoint":` + strings.Replace(checkpoint, "dcb20606", "DCB20606", 1) + `}`, false},
		{"a fault", "GET", show, 404, json, `{"itemNotFound":{"code":404,"message":"m"}}`, true},
		{"a fault of another status's name", "GET", show, 404, json, `{"badRequest":{"code":404,"message":"m"}}`, false},
		{"a fault with two keys", "GET", show, 404, json, `{"itemNotFound":{"code":404,"message":"m"},"x":{}}`, false},
		{"a status the route lacks", "GET", show, 413, json, `{"overLimit":{"code":413,"message":"m"}}`, false},
		{"not JSON", "GET", show, 200, http.Header{"Content-Type": {"text/html"}, "X-Openstack-Request-Id": {id}}, `<html>`, false},
		{"no request id", "GET", show, 200, http.Header{"Content-Type": {"application/json"}}, `{"checkpoint":` + checkpoint + `}`, false},
		{"a request id not req-<uuid>", "GET", show, 200, http.Header{"Content-Type": {"application/json"}, "X-Openstack-Request-Id": {"abc"}}, `{"checkpoint":` + checkpoint + `}`, false},
		{"the service's 401", "GET", show, 401, json, `{"unauthorized":{"code":401,"message":"m"}}`, true},
		// The document has API Gateway's own 401 and 429 (clients meet
		// them); the service's code never answers so.
		{"API Gateway's 401 from the service", "GET", show, 401, json, `{"message":"Unauthorized"}`, false},
		{"API Gateway's 429 from the service", "GET", show, 429, json, `{"message":"Too Many Requests"}`, false},
		{"an empty 200 where a body is due", "GET", show, 200, json, ``, false},
		{"delete's empty body", "DELETE", "/v1/p1/plans/3523a271-68aa-42f5-b9ba-56e5200a2ebb", 200, json, ``, true},
		{"an unknown path", "GET", "/v2/x", 404, json, `{"itemNotFound":{"code":404,"message":"m"}}`, true},
		{"an unknown path's 200", "GET", "/v2/x", 200, json, `{}`, false},
		{"a method the path lacks", "PATCH", show, 405, json, `{"badMethod":{"code":405,"message":"m"}}`, true},
		{"a trailing slash", "GET", "/v1/p1/plans/", 404, json, `{"itemNotFound":{"code":404,"message":"m"}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ck.Check(tc.method, tc.path, tc.status, tc.header, []byte(tc.body))
			if (err == nil) != tc.ok {
				t.Errorf("Check: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestHandlerAndTransportReport: both report to the test, here a fake one.
func TestHandlerAndTransportReport(t *testing.T) {
	ck := openapicheck.API(t)
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"plans":[],"unexpected":true}`))
	})
	for _, wire := range []string{"handler", "transport"} {
		t.Run(wire, func(t *testing.T) {
			rec := &recordingT{TB: t}
			var srv *httptest.Server
			client := http.DefaultClient
			if wire == "handler" {
				srv = httptest.NewServer(openapicheck.Handler(rec, ck, bad))
			} else {
				srv = httptest.NewServer(bad)
				client = &http.Client{Transport: openapicheck.Transport(rec, ck, nil)}
			}
			defer srv.Close()
			res, err := client.Get(srv.URL + "/v1/p1/plans")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /v1/p1/plans → 200") || !strings.Contains(rec.errors[0], "unexpected") {
				t.Errorf("reported %q, want one failure naming the request and the body", rec.errors)
			}
		})
	}
}

// recordingT is a test that records its errors instead of failing.
type recordingT struct {
	testing.TB
	errors []string
}

func (r *recordingT) Helper() {}

func (r *recordingT) Errorf(format string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// TestCheckFallback: the Fallback's answers: 404 for a path no route has,
// 405 for a method a known path lacks, 404 for a known path and method
// (which API Gateway never sends it).
func TestCheckFallback(t *testing.T) {
	ck := openapicheck.API(t)
	json := http.Header{"Content-Type": {"application/json"}, "X-Openstack-Request-Id": {"req-0f9c2d1e-8b7a-4c3d-9e5f-112233445566"}}
	notFound := `{"itemNotFound":{"code":404,"message":"m"}}`
	badMethod := `{"badMethod":{"code":405,"message":"m"}}`
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
		ok           bool
	}{
		{"GET", "/v2/x", 404, notFound, true},
		{"GET", "/v2/x", 405, badMethod, false},
		{"PATCH", "/v1/p1/plans", 405, badMethod, true},
		{"PATCH", "/v1/p1/plans", 404, notFound, false},
		{"GET", "/v1/p1/plans", 404, notFound, true},
		{"GET", "/v1/p1/plans", 405, badMethod, false},
	} {
		err := ck.CheckFallback(tc.method, tc.path, tc.status, json, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("CheckFallback(%s %s → %d): %v, want ok=%v", tc.method, tc.path, tc.status, err, tc.ok)
		}
	}
}
