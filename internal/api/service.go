// Package api is the HTTP face of the service: one handler per route of
// docs/api.md, the same code behind the Lambda functions and the local
// server. A handler parses the request, calls the domain and renders the
// answer.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"karbor/internal/domain"
	"karbor/internal/idempotency"
)

// Authenticator tells who makes a request.
type Authenticator interface {
	// Caller returns the caller, or an error when there is none or its
	// credentials are malformed: a 401, whose message is the error's text
	// (build it with Unauthorized), or a 503 when the identity service
	// cannot say (ServiceUnavailable).
	Caller(r *http.Request) (domain.Caller, error)
}

// Service holds what the handlers share. Build it once per process.
type Service struct {
	// Domain owns the rules and the operations the handlers call.
	Domain *domain.Service
	Auth   Authenticator
	// Policy is the admin role's name and each route's rule; nil is the
	// default policy (NewPolicy("", "")).
	Policy *Policy
	Log    *slog.Logger
	// Idempotency remembers the answers of Idempotent routes; it must be
	// set when the service serves one.
	Idempotency *idempotency.Store
	// RequestID returns the id of a request; nil draws a random one.
	RequestID func(r *http.Request) string
	// BaseURL returns the API's own scheme and host ("https://api.example"),
	// which next links start with. Deployed it is API Gateway's domainName
	// from the request context. nil (the local server, tests) means the
	// address the connection was accepted on (LocalBaseURL). Neither ever
	// comes from a header the caller writes (Host, X-Forwarded-*).
	BaseURL func(r *http.Request) string
}

// LocalBaseURL is the address the server accepted the request's
// connection on, as http://host:port (https when the connection is TLS):
// the listen address, whatever Host header the caller sent. It is "" when
// the request came through no net/http server.
func LocalBaseURL(r *http.Request) string {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || addr == nil {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + addr.String()
}

func (s *Service) baseURL(r *http.Request) string {
	if s.BaseURL != nil {
		return s.BaseURL(r)
	}
	return LocalBaseURL(r)
}

// request is one call being served.
type request struct {
	*http.Request
	caller domain.Caller
	tenant string // the project addressed by the path
	id     string // X-Openstack-Request-Id
	log    *slog.Logger
	base   string // the API's own scheme and host, for links
}

// handlerFunc serves one route: it returns the body to send with 200 (nil
// sends an empty body) or an error, which writeError maps to a fault.
type handlerFunc func(*Service, *request) (any, error)

// Handler serves the given routes (all of them when none is given), with a
// JSON fault for unknown paths (404) and methods (405).
func (s *Service) Handler(routes ...Route) http.Handler {
	if len(routes) == 0 {
		routes = Routes
	}
	byPath := map[string]map[string]Route{}
	var paths []string
	for _, rt := range routes {
		if byPath[rt.Path] == nil {
			byPath[rt.Path] = map[string]Route{}
			paths = append(paths, rt.Path)
		}
		byPath[rt.Path][rt.Method] = rt
	}
	mux := http.NewServeMux()
	for _, p := range paths {
		methods := byPath[p]
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			rt, ok := methods[r.Method]
			if !ok {
				allowed := make([]string, 0, len(methods))
				for m := range methods {
					allowed = append(allowed, m)
				}
				sort.Strings(allowed)
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				s.serve(w, r, Route{Anonymous: true, handle: func(*Service, *request) (any, error) {
					return nil, faultf(http.StatusMethodNotAllowed, "Method %s is not allowed for this resource.", r.Method)
				}})
				return
			}
			s.serve(w, r, rt)
		})
	}
	unknownPath := func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, Route{Anonymous: true, handle: func(*Service, *request) (any, error) {
			return nil, faultf(http.StatusNotFound, "The resource could not be found.")
		}})
	}
	mux.HandleFunc("/", unknownPath)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux would redirect an unclean path ("//", "/./") with an
		// HTML answer that lacks the request id; no route has such a path.
		if p := r.URL.Path; path.Clean(p) != p && path.Clean(p)+"/" != p {
			unknownPath(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// FallbackHandler serves the Fallback function: what reaches it matched no
// route at API Gateway, so a known path answers 405 (with Allow) and any
// other path 404, in the fault shape with the request id. It needs no caller
// and reads no table.
func (s *Service) FallbackHandler() http.Handler {
	routes := make([]Route, 0, len(Routes))
	for _, rt := range Routes {
		rt.Name, rt.Anonymous = Fallback.Name, Fallback.Anonymous
		rt.handle = func(*Service, *request) (any, error) {
			return nil, faultf(http.StatusNotFound, "The resource could not be found.")
		}
		routes = append(routes, rt)
	}
	return s.Handler(routes...)
}

// serve runs one route's handler with what every route shares: the request
// id, the caller, the tenant and policy checks (not for an Anonymous route),
// panics turned into 500, and one log line.
func (s *Service) serve(w http.ResponseWriter, r *http.Request, rt Route) {
	route := rt.Name
	start := time.Now()
	req := &request{Request: r, id: s.requestID(r), base: s.baseURL(r)}
	req.log = s.Log.With("request_id", req.id)
	w.Header().Set("X-Openstack-Request-Id", req.id)

	status := http.StatusOK
	func() {
		defer func() {
			if p := recover(); p != nil {
				req.log.Error("panic", "panic", p, "route", route)
				status = s.writeError(w, req, errors.New("panic in handler"))
			}
		}()
		var body any
		err := func() error {
			if !rt.Anonymous {
				if err := s.authorize(req, rt); err != nil {
					return err
				}
			}
			var err error
			body, err = rt.handle(s, req)
			return err
		}()
		if err != nil {
			status = s.writeError(w, req, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	}()
	req.log.Info("request", "method", r.Method, "path", r.URL.Path, "route", route,
		"status", status, "user_id", req.caller.UserID, "project_id", req.caller.ProjectID,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
}

// authorize establishes the caller (401), checks that it may address the
// path's tenant: its own project, or any project for an admin (403), then
// that the route's policy rule lets it perform the route (403).
func (s *Service) authorize(req *request, rt Route) error {
	caller, err := s.Auth.Caller(req.Request)
	if err != nil {
		var f *Fault
		if errors.As(err, &f) && (f.Status == http.StatusUnauthorized || f.Status == http.StatusServiceUnavailable) {
			return f
		}
		return Unauthorized(err.Error())
	}
	caller.Admin = s.Policy.IsAdmin(caller.Roles)
	req.caller = caller
	tenant := req.PathValue("tenant_id")
	if !domain.ValidProjectID(tenant) {
		return faultf(http.StatusBadRequest, "Invalid tenant_id: it must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'.")
	}
	if tenant != caller.ProjectID && !caller.IsAdmin() {
		return faultf(http.StatusForbidden, "Project %s may not access project %s.", caller.ProjectID, tenant)
	}
	if !s.Policy.Allows(s.Policy.RuleOf(rt), caller) {
		return policyRefusal(rt.Name)
	}
	req.tenant = tenant
	return nil
}

func (s *Service) requestID(r *http.Request) string {
	if s.RequestID != nil {
		if id := s.RequestID(r); id != "" {
			return id
		}
	}
	return "req-" + domain.NewID()
}

// writeJSON writes a 200 answer; a nil body is sent empty.
func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}

// ctx is the request's context.
func (r *request) ctx() context.Context { return r.Context() }
