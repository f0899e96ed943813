package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/testsupport/openapicheck"
)

// countingAuth counts the calls to Caller and refuses every one.
type countingAuth struct{ calls atomic.Int32 }

func (a *countingAuth) Caller(*http.Request) (domain.Caller, error) {
	a.calls.Add(1)
	return domain.Caller{}, api.Unauthorized("no caller here")
}

// newFallbackEnv serves FallbackHandler over no store at all: a handler
// that touched a table would panic (a 500, which every answer is checked
// against) instead of answering.
func newFallbackEnv(t *testing.T) (*env, *countingAuth, http.Handler) {
	t.Helper()
	auth := &countingAuth{}
	svc := &api.Service{Auth: auth, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := svc.FallbackHandler()
	srv := httptest.NewServer(openapicheck.FallbackHandler(t, openapicheck.API(t), h))
	t.Cleanup(srv.Close)
	srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(func() {
		if n := auth.calls.Load(); n != 0 {
			t.Errorf("the fallback asked for the caller %d times; it needs none", n)
		}
	})
	return &env{srv: srv}, auth, h
}

// TestFallbackHandler checks the function behind API Gateway's $default
// route: what reaches it matched no route, so a known path (with another
// method) is a 405 with Allow, anything else a 404; never a caller, never a
// table.
func TestFallbackHandler(t *testing.T) {
	if api.Fallback.UsesTables() {
		t.Error("api.Fallback.UsesTables() is true; the fallback reads no table")
	}
	e, _, h := newFallbackEnv(t)

	// Every path of the route table, with the methods its routes serve.
	methods := map[string][]string{}
	var paths []string
	for _, r := range api.Routes {
		if methods[r.Path] == nil {
			paths = append(paths, r.Path)
		}
		methods[r.Path] = append(methods[r.Path], r.Method)
	}
	param := regexp.MustCompile(`\{\w+\}`)
	for _, pattern := range paths {
		path := param.ReplaceAllStringFunc(pattern, func(string) string { return domain.NewID() })
		allow := strings.Join(slices.Sorted(slices.Values(methods[pattern])), ", ")
		for _, method := range []string{http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodGet, http.MethodOptions} {
			t.Run(method+" "+pattern, func(t *testing.T) {
				r := e.do(t, method, path, "", nil)
				if slices.Contains(methods[pattern], method) {
					// API Gateway sends this to the route's own function,
					// never here: nothing to find.
					r.wantFault(t, http.StatusNotFound)
					if a := r.header.Values("Allow"); len(a) != 0 {
						t.Errorf("a 404 with Allow %q", a)
					}
					return
				}
				r.wantFault(t, http.StatusMethodNotAllowed, method)
				if a := r.header.Values("Allow"); len(a) != 1 || a[0] != allow {
					t.Errorf("Allow %q, want %q", a, allow)
				}
			})
		}
		t.Run("HEAD "+pattern, func(t *testing.T) {
			// Over HTTP a HEAD answer has no body: check its head here and
			// the body the handler writes (which the Lambda adapter
			// returns as written) through a recorder.
			res, err := e.srv.Client().Head(e.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != allow ||
				!requestIDPattern.MatchString(res.Header.Get("X-Openstack-Request-Id")) || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("HEAD %s: %s, Allow %q, X-Openstack-Request-Id %q, Content-Type %q; want 405, %q, req-<uuid>, application/json",
					path, res.Status, res.Header.Get("Allow"), res.Header.Get("X-Openstack-Request-Id"), res.Header.Get("Content-Type"), allow)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, path, nil))
			r := &response{what: "HEAD " + path + " (recorded)", status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
			checkCommon(t, r.what, r)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != allow {
				t.Errorf("%s: %d, Allow %q; want 405, %q", r.what, r.status, r.header.Get("Allow"), allow)
			}
		})
	}

	for _, path := range []string{
		"/",
		"/v2/x",
		"/v1/t/unknown",
		"/v1/t/plans/x/y",
		"/v1/" + projA,
		"/v1/" + projA + "/plans/",
		"/v1/" + projA + "//plans",
		"/v1/" + projA + "/./plans",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodPost, http.MethodDelete} {
			t.Run(method+" "+path, func(t *testing.T) {
				r := e.do(t, method, path, "", nil)
				r.wantFault(t, http.StatusNotFound)
				if a := r.header.Values("Allow"); len(a) != 0 {
					t.Errorf("a 404 with Allow %q", a)
				}
			})
		}
	}

	t.Run("a token changes nothing", func(t *testing.T) {
		e.do(t, http.MethodPatch, "/v1/"+projA+"/plans/"+domain.NewID(), tokenA, nil).wantFault(t, http.StatusMethodNotAllowed)
		e.do(t, http.MethodGet, "/v1/"+projA+"/plans/"+domain.NewID(), tokenB, nil).wantFault(t, http.StatusNotFound)
		e.do(t, http.MethodGet, "/v2/x", "not a token", nil).wantFault(t, http.StatusNotFound)
	})
}
