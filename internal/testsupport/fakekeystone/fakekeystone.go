// Package fakekeystone is a local HTTP server (127.0.0.1) that answers
// POST and GET /v3/auth/tokens as Keystone's v3 API reference documents
// them (status codes, X-Subject-Token, the token document), for the tests
// of the Keystone authorizer. It is a stand-in: no Keystone can be run on
// the test machine.
package fakekeystone

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The service's credentials the fake accepts.
const (
	ServiceUser     = "karbor"
	ServicePassword = "service-password"
	ServiceProject  = "service"
	AppCredID       = "4a3d0c5f8b2e4e5f9a1b2c3d4e5f6a7b"
	AppCredSecret   = "app-cred-secret"
)

// Token is a caller's token as Keystone knows it.
type Token struct {
	UserID    string
	ProjectID string // "" with System false and DomainID "": unscoped
	System    bool
	// DomainID: a domain-scoped token (ProjectID "", System false).
	DomainID  string
	Roles     []string
	ExpiresAt time.Time
}

// Server is the fake Keystone.
type Server struct {
	*httptest.Server
	// Now is the fake's clock (time.Now when nil): a token past its
	// ExpiresAt is not found (404), as Keystone answers.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]Token
	// service tokens issued, and whether each is still good.
	service map[string]bool
	// ServiceTokenLifetime is how long a service token lives (1 h).
	ServiceTokenLifetime time.Duration

	// Status, when not 0, is the answer to every request (a 5xx).
	Status atomic.Int32
	// Delay holds every answer this long (a slow Keystone).
	Delay atomic.Int64
	// RefuseCredentials makes POST /v3/auth/tokens answer 401.
	RefuseCredentials atomic.Bool
	// AnswerExpired makes GET answer 200 even for an expired token (as
	// with ?allow_expired, or a clock ahead of Keystone's).
	AnswerExpired atomic.Bool

	SignIns     atomic.Int32 // POSTs that issued a token
	Validations atomic.Int32 // GETs
	// LastAuthBody is the body of the last POST.
	lastAuth []byte
}

// Start starts a fake on 127.0.0.1, closed when the test ends.
func Start(t testing.TB) *Server {
	s := &Server{tokens: map[string]Token{}, service: map[string]bool{}, ServiceTokenLifetime: time.Hour}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Add registers a caller's token.
func (s *Server) Add(token string, tok Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = tok
}

// RevokeServiceTokens revokes every service token issued so far.
func (s *Server) RevokeServiceTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.service {
		s.service[k] = false
	}
}

// LastAuthBody returns the body of the last POST /v3/auth/tokens.
func (s *Server) LastAuthBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAuth
}

func writeError(w http.ResponseWriter, code int, title, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "title": title, "message": message}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if d := s.Delay.Load(); d > 0 {
		select {
		case <-time.After(time.Duration(d)):
		case <-r.Context().Done():
			return
		}
	}
	if st := s.Status.Load(); st != 0 {
		writeError(w, int(st), http.StatusText(int(st)), "An unexpected error prevented the server from fulfilling your request.")
		return
	}
	if r.URL.Path != "/v3/auth/tokens" {
		writeError(w, http.StatusNotFound, "Not Found", "The resource could not be found.")
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.signIn(w, r)
	case http.MethodGet:
		s.validate(w, r)
	default:
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "The method is not allowed for the requested URL.")
	}
}

// domainRef is a domain by name or by id; the fake's only domain is
// Keystone's default one (id "default", name "Default").
type domainRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (d domainRef) isDefault() bool {
	return (d.ID == "" && d.Name == "Default") || (d.Name == "" && d.ID == "default")
}

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User struct {
					Name     string    `json:"name"`
					Password string    `json:"password"`
					Domain   domainRef `json:"domain"`
				} `json:"user"`
			} `json:"password"`
			ApplicationCredential *struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				Name   string    `json:"name"`
				Domain domainRef `json:"domain"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	var body json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "Malformed request body.")
		return
	}
	s.mu.Lock()
	s.lastAuth = body
	s.mu.Unlock()
	var req authRequest
	_ = json.Unmarshal(body, &req)
	id := req.Auth.Identity
	ok := false
	switch {
	case len(id.Methods) == 1 && id.Methods[0] == "password" && id.Password != nil:
		u := id.Password.User
		ok = u.Name == ServiceUser && u.Password == ServicePassword && u.Domain.isDefault() &&
			req.Auth.Scope != nil && req.Auth.Scope.Project != nil && req.Auth.Scope.Project.Name == ServiceProject &&
			req.Auth.Scope.Project.Domain.isDefault()
	case len(id.Methods) == 1 && id.Methods[0] == "application_credential" && id.ApplicationCredential != nil:
		// Keystone refuses a scope with an application credential.
		ok = id.ApplicationCredential.ID == AppCredID && id.ApplicationCredential.Secret == AppCredSecret && req.Auth.Scope == nil
	}
	if !ok || s.RefuseCredentials.Load() {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	n := s.SignIns.Add(1)
	tok := "service-token-" + strconv.Itoa(int(n))
	s.mu.Lock()
	s.service[tok] = true
	s.mu.Unlock()
	w.Header().Set("X-Subject-Token", tok)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(document(Token{UserID: "b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7", ProjectID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		Roles: []string{"service", "admin"}, ExpiresAt: s.now().Add(s.ServiceTokenLifetime)}, s.now()))
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	s.Validations.Add(1)
	s.mu.Lock()
	good := s.service[r.Header.Get("X-Auth-Token")]
	tok, found := s.tokens[r.Header.Get("X-Subject-Token")]
	s.mu.Unlock()
	if !good {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	if !found || (!s.now().Before(tok.ExpiresAt) && !s.AnswerExpired.Load()) {
		writeError(w, http.StatusNotFound, "Not Found", "Could not find token: "+r.Header.Get("X-Subject-Token")+".")
		return
	}
	w.Header().Set("X-Subject-Token", r.Header.Get("X-Subject-Token"))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(document(tok, s.now()))
}

// document is the token document of Keystone's API reference.
func document(t Token, now time.Time) map[string]any {
	roles := []map[string]any{}
	for i, r := range t.Roles {
		roles = append(roles, map[string]any{"id": "role" + strconv.Itoa(i), "name": r})
	}
	doc := map[string]any{
		"methods":    []string{"password"},
		"audit_ids":  []string{"3T2dc1CGQxyJsHdDu1xkcw"},
		"issued_at":  now.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"expires_at": t.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"user": map[string]any{"id": t.UserID, "name": "user-" + t.UserID[:4],
			"domain": map[string]any{"id": "default", "name": "Default"}, "password_expires_at": nil},
	}
	switch {
	case t.ProjectID != "":
		doc["roles"] = roles
		doc["is_domain"] = false
		doc["project"] = map[string]any{"id": t.ProjectID, "name": "project-" + t.ProjectID[:4],
			"domain": map[string]any{"id": "default", "name": "Default"}}
	case t.System:
		doc["roles"] = roles
		doc["system"] = map[string]any{"all": true}
	case t.DomainID != "":
		doc["roles"] = roles
		doc["domain"] = map[string]any{"id": t.DomainID, "name": "domain-" + t.DomainID}
	}
	return map[string]any{"token": doc}
}
