// Package openapicheck validates the service's answers against its OpenAPI
// document (api.OpenAPI, docs/openapi.json) in tests: each response's
// status must be one the route declares, its Content-Type JSON, and its body
// valid against the schema of that status (an empty body where the document
// declares none). A path no route has, or a method its path lacks, must be
// the 404 or 405 fault. Wire it with Handler (around a server's handler) or
// Transport (in a client); failures go to the test with t.Errorf.
package openapicheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"karbor/internal/api"
)

// docURL is the URL the document is known by to the schema compiler.
const docURL = "https://karbor.invalid/openapi.json"

// Checker validates answers against one OpenAPI document.
type Checker struct {
	ops       []op
	compiler  *jsonschema.Compiler
	mu        sync.Mutex
	compiled  map[string]*jsonschema.Schema
	responses map[string]any // components.responses
}

type op struct {
	method    string
	template  string
	pattern   *regexp.Regexp
	responses map[string]any
}

// validated counts the responses every Checker has validated.
var validated atomic.Int64

// Validated is how many responses were validated in this process.
func Validated() int64 { return validated.Load() }

// New reads an OpenAPI document.
func New(doc []byte) (*Checker, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("openapicheck: the document: %w", err)
	}
	res, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := &Checker{compiler: jsonschema.NewCompiler(), compiled: map[string]*jsonschema.Schema{}}
	c.compiler.DefaultDraft(jsonschema.Draft2020)
	c.compiler.AssertFormat()
	if err := c.compiler.AddResource(docURL, res); err != nil {
		return nil, err
	}
	comps, _ := m["components"].(map[string]any)
	c.responses, _ = comps["responses"].(map[string]any)
	paths, _ := m["paths"].(map[string]any)
	for tpl, item := range paths {
		for method, o := range item.(map[string]any) {
			rx := regexp.MustCompile(`\\\{\w+\\\}`).ReplaceAllString(regexp.QuoteMeta(tpl), `[^/]+`)
			resp, _ := o.(map[string]any)["responses"].(map[string]any)
			c.ops = append(c.ops, op{method: strings.ToUpper(method), template: tpl, pattern: regexp.MustCompile("^" + rx + "$"), responses: resp})
		}
	}
	return c, nil
}

var (
	apiOnce    sync.Once
	apiChecker *Checker
	apiErr     error
)

// API is the Checker of the service's own document (api.OpenAPI).
func API(t testing.TB) *Checker {
	t.Helper()
	apiOnce.Do(func() {
		doc, err := api.OpenAPI()
		if err != nil {
			apiErr = err
			return
		}
		apiChecker, apiErr = New(doc)
	})
	if apiErr != nil {
		t.Fatalf("openapicheck: %v", apiErr)
	}
	return apiChecker
}

// schema compiles (once) the schema at a JSON pointer of the document.
func (c *Checker) schema(pointer string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.compiled[pointer]; ok {
		return s, nil
	}
	s, err := c.compiler.Compile(docURL + "#" + pointer)
	if err != nil {
		return nil, err
	}
	c.compiled[pointer] = s
	return s, nil
}

// CompileSchema compiles a component schema (components/schemas/<name>)
// and those it refers to, checking them against JSON Schema 2020-12.
func (c *Checker) CompileSchema(name string) error {
	_, err := c.schema("/components/schemas/" + name)
	return err
}

// ValidateSchema validates a JSON value against a component schema
// (components/schemas/<name>).
func (c *Checker) ValidateSchema(name string, body []byte) error {
	s, err := c.schema("/components/schemas/" + name)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// Check validates one answer; nil when it is one the document allows.
func (c *Checker) Check(method, path string, status int, header http.Header, body []byte) error {
	return c.check(method, path, status, header, body, false)
}

// CheckFallback validates an answer of the Fallback function (API
// Gateway's $default route): whatever the path, only the 404 fault, or the
// 405 fault on a path some route has.
func (c *Checker) CheckFallback(method, path string, status int, header http.Header, body []byte) error {
	return c.check(method, path, status, header, body, true)
}

func (c *Checker) check(method, path string, status int, header http.Header, body []byte, fallback bool) error {
	validated.Add(1)
	if ct := header.Get("Content-Type"); ct != "" || len(body) > 0 || status != http.StatusOK {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return fmt.Errorf("Content-Type %q, not application/json", ct)
		}
	}
	// Every answer of the service's own code carries its request id (API
	// Gateway's own 401 and 429 never reach these checks).
	if id := header.Get("X-Openstack-Request-Id"); !requestID.MatchString(id) {
		return fmt.Errorf("X-Openstack-Request-Id %q, want req-<uuid>", id)
	}
	var responses map[string]any
	tpl, known, methodKnown := "", false, false
	for _, o := range c.ops {
		if o.pattern.MatchString(path) {
			tpl = o.template
			if o.method == method {
				methodKnown = true
				if !fallback {
					responses, known = o.responses, true
					break
				}
			}
		}
	}
	if !known {
		// The fallback: 404 for a path no route has, 405 for a method its
		// path lacks, in the fault shape. (Deployed, a known path and
		// method never reach the Fallback; if one does, it answers 404.)
		want := http.StatusNotFound
		if tpl != "" && !methodKnown {
			want = http.StatusMethodNotAllowed
		}
		if status != want {
			return fmt.Errorf("no route %s %s: status %d, want %d", method, path, status, want)
		}
		responses = map[string]any{strconv.Itoa(want): map[string]any{"$ref": "#/components/responses/" + api.FaultNames()[want]}}
	}
	r, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return fmt.Errorf("status %d is not one the route %s %s answers", status, method, tpl)
	}
	pointer := ""
	if ref, ok := r["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/responses/")
		r, _ = c.responses[name].(map[string]any)
		pointer = "/components/responses/" + name
	} else {
		pointer = "/paths/" + escapePointer(tpl) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	}
	content, _ := r["content"].(map[string]any)
	if method == http.MethodHead {
		return nil // no body
	}
	if content == nil {
		if len(bytes.TrimSpace(body)) > 0 {
			return fmt.Errorf("status %d of %s %s has no body in the document, got one", status, method, tpl)
		}
		return nil
	}
	s, err := c.schema(pointer + "/content/application~1json/schema")
	if err != nil {
		return fmt.Errorf("the document's schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("body of %d against the schema of %s %s: %v", status, method, tpl, err)
	}
	// The document allows API Gateway's own {"message"} for 401 and 429;
	// the service's code answers neither so.
	switch status {
	case http.StatusUnauthorized:
		if m, ok := v.(map[string]any); !ok || m["unauthorized"] == nil {
			return fmt.Errorf("a 401 of the service's code without the unauthorized fault")
		}
	case http.StatusTooManyRequests:
		return fmt.Errorf("429 is API Gateway's answer, never the service's code's")
	}
	return nil
}

var requestID = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func excerpt(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// report sends a failure to the test.
func report(t testing.TB, method, path string, status int, body []byte, err error) {
	t.Helper()
	t.Errorf("openapicheck: %s %s → %d: %v\nbody: %s", method, path, status, err, excerpt(body))
}

// Handler validates every answer of next against c.
func Handler(t testing.TB, c *Checker, next http.Handler) http.Handler {
	return handler(t, c.Check, next)
}

// FallbackHandler validates every answer of next, the Fallback function's
// handler, against c (CheckFallback).
func FallbackHandler(t testing.TB, c *Checker, next http.Handler) http.Handler {
	return handler(t, c.CheckFallback, next)
}

func handler(t testing.TB, check func(string, string, int, http.Header, []byte) error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if err := check(r.Method, r.URL.EscapedPath(), rec.status, w.Header(), rec.body.Bytes()); err != nil {
			report(t, r.Method, r.URL.RequestURI(), rec.status, rec.body.Bytes(), err)
		}
	})
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Transport validates every answer base (nil: http.DefaultTransport) gets
// against c; the response's body is read and replaced.
func Transport(t testing.TB, c *Checker, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		res, err := base.RoundTrip(req)
		if err != nil {
			return res, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		if err := c.Check(req.Method, req.URL.EscapedPath(), res.StatusCode, res.Header, body); err != nil {
			report(t, req.Method, req.URL.RequestURI(), res.StatusCode, body, err)
		}
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Lambda validates a route function's answer to an HTTP API event (payload
// 2.0) against c, reporting to t; fallback says the function is the
// Fallback (CheckFallback).
func (c *Checker) Lambda(t testing.TB, event []byte, resp events.APIGatewayV2HTTPResponse, fallback bool) {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Errorf("openapicheck: the event: %v", err)
		return
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	check := c.Check
	if fallback {
		check = c.CheckFallback
	}
	method := ev.RequestContext.HTTP.Method
	if err := check(method, ev.RawPath, resp.StatusCode, h, []byte(resp.Body)); err != nil {
		report(t, method, ev.RawPath, resp.StatusCode, []byte(resp.Body), err)
	}
}
