package keystone_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/keystone"
	"karbor/internal/testsupport/fakekeystone"
)

const (
	project = "e486a2f49695423ca9c47e589b948108"
	userID  = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
)

var passwordCreds = keystone.Credentials{Username: fakekeystone.ServiceUser, Password: fakekeystone.ServicePassword,
	UserDomainName: "Default", ProjectName: fakekeystone.ServiceProject, ProjectDomainName: "Default"}

// clock is a settable clock shared by the fake, the client and the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type setup struct {
	ks    *fakekeystone.Server
	clock *clock
	cache *keystone.Cache
	auth  *keystone.Authorizer
}

func newSetup(t *testing.T, creds keystone.Credentials, url func(ks *fakekeystone.Server) string) *setup {
	t.Helper()
	ks := fakekeystone.Start(t)
	c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	ks.Now = c.Now
	cache := &keystone.Cache{TTL: 300 * time.Second, Now: c.Now}
	u := ks.URL
	if url != nil {
		u = url(ks)
	}
	client := &keystone.Client{URL: u, Credentials: creds, Now: c.Now, HTTP: &http.Client{Timeout: 500 * time.Millisecond}}
	return &setup{ks: ks, clock: c, cache: cache,
		auth: &keystone.Authorizer{Keystone: client, Cache: cache, Log: slog.New(slog.DiscardHandler)}}
}

func (s *setup) authorize(t *testing.T, token string) map[string]any {
	t.Helper()
	req := events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST", RouteKey: "GET /v1/{tenant_id}/plans",
		Headers: map[string]string{}}
	if token != "" {
		req.Headers["x-auth-token"] = token
	}
	resp, err := s.auth.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle returned an error (API Gateway would answer a bare 500): %v", err)
	}
	if !resp.IsAuthorized {
		t.Fatalf("isAuthorized false: API Gateway would answer a bare 403")
	}
	return resp.Context
}

func TestAuthorizerVerdicts(t *testing.T) {
	s := newSetup(t, passwordCreds, nil)
	in := func(d time.Duration) time.Time { return s.clock.Now().Add(d) }
	s.ks.Add("project-member", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member", "reader"}, ExpiresAt: in(time.Hour)})
	s.ks.Add("system-admin", fakekeystone.Token{UserID: userID, System: true, Roles: []string{"admin"}, ExpiresAt: in(time.Hour)})
	s.ks.Add("unscoped", fakekeystone.Token{UserID: userID, ExpiresAt: in(time.Hour)})
	s.ks.Add("domain-admin", fakekeystone.Token{UserID: userID, DomainID: "default", Roles: []string{"admin"}, ExpiresAt: in(time.Hour)})
	s.ks.Add("expired", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: in(-time.Minute)})
	s.ks.Add("bad-project", fakekeystone.Token{UserID: userID, ProjectID: "not/a/project", Roles: []string{"member"}, ExpiresAt: in(time.Hour)})
	expires := in(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		token string
		want  map[string]any
	}{
		{"project-member", map[string]any{"user_id": userID, "project_id": project, "roles": `["member","reader"]`, "system": "", "expires_at": expires}},
		{"system-admin", map[string]any{"user_id": userID, "project_id": "", "roles": `["admin"]`, "system": "all", "expires_at": expires}},
		{"unscoped", map[string]any{"error_status": "401", "error_message": keystone.MsgUnscoped}},
		// Scoped to a domain, even with admin: no project to act in.
		{"domain-admin", map[string]any{"error_status": "401", "error_message": keystone.MsgUnscoped}},
		{"expired", map[string]any{"error_status": "401", "error_message": keystone.MsgInvalid}},
		{"invalid-token", map[string]any{"error_status": "401", "error_message": keystone.MsgInvalid}},
		{"bad-project", map[string]any{"error_status": "401", "error_message": keystone.MsgProjectID}},
		{"", map[string]any{"error_status": "401", "error_message": keystone.MsgMissing}},
	} {
		t.Run(tc.token, func(t *testing.T) {
			got := s.authorize(t, tc.token)
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("context %s, want %s", gotJSON, wantJSON)
			}
		})
	}
	// One sign-in served every validation.
	if n := s.ks.SignIns.Load(); n != 1 {
		t.Errorf("%d sign-ins, want 1 (the service token is kept)", n)
	}
}

// TestExpiredPerExpiresAt: a 200 whose expires_at has passed (a Keystone
// answering for expired tokens, or clocks apart) is still refused.
func TestExpiredPerExpiresAt(t *testing.T) {
	s := newSetup(t, passwordCreds, nil)
	s.ks.AnswerExpired.Store(true)
	s.ks.Add("old", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(-time.Second)})
	if got := s.authorize(t, "old"); got["error_status"] != "401" || got["error_message"] != keystone.MsgExpired {
		t.Errorf("context %v, want 401 %q", got, keystone.MsgExpired)
	}
}

// TestDomainIDs: credentials naming their domains by id sign in with
// {"domain": {"id": ...}}.
func TestDomainIDs(t *testing.T) {
	creds := keystone.Credentials{Username: fakekeystone.ServiceUser, Password: fakekeystone.ServicePassword,
		UserDomainID: "default", ProjectName: fakekeystone.ServiceProject, ProjectDomainID: "default"}
	s := newSetup(t, creds, nil)
	s.ks.Add("tok", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Hour)})
	if got := s.authorize(t, "tok"); got["user_id"] != userID {
		t.Fatalf("context %v, want the user; sign-in body %s", got, s.ks.LastAuthBody())
	}
}

func TestApplicationCredential(t *testing.T) {
	s := newSetup(t, keystone.Credentials{ApplicationCredentialID: fakekeystone.AppCredID, ApplicationCredentialSecret: fakekeystone.AppCredSecret},
		func(ks *fakekeystone.Server) string { return ks.URL + "/v3/" })
	s.ks.Add("tok", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Hour)})
	if got := s.authorize(t, "tok"); got["user_id"] != userID {
		t.Fatalf("context %v, want the user", got)
	}
	var body map[string]any
	_ = json.Unmarshal(s.ks.LastAuthBody(), &body)
	if _, scoped := body["auth"].(map[string]any)["scope"]; scoped {
		t.Errorf("an application credential's sign-in has a scope (Keystone refuses it): %s", s.ks.LastAuthBody())
	}
}

// TestServiceTokenRenewed: Keystone refusing the service's token (revoked)
// makes the client sign in again, once, and retry.
func TestServiceTokenRenewed(t *testing.T) {
	s := newSetup(t, passwordCreds, nil)
	s.ks.Add("a", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Hour)})
	s.ks.Add("b", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Hour)})
	s.authorize(t, "a")
	s.ks.RevokeServiceTokens()
	if got := s.authorize(t, "b"); got["user_id"] != userID {
		t.Fatalf("context %v after the service token was revoked, want the user", got)
	}
	if n := s.ks.SignIns.Load(); n != 2 {
		t.Errorf("%d sign-ins, want 2", n)
	}
	// Near its expiry the service token is renewed before use.
	s.clock.Advance(59 * time.Minute)
	s.authorize(t, "a")
	if n := s.ks.SignIns.Load(); n != 3 {
		t.Errorf("%d sign-ins after the service token neared its expiry, want 3", n)
	}
}

func TestUnavailable(t *testing.T) {
	unavailable := map[string]any{"error_status": "503", "error_message": keystone.MsgUnavailable}
	check := func(t *testing.T, s *setup) {
		t.Helper()
		got := s.authorize(t, "tok")
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(unavailable)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("context %s, want %s", gotJSON, wantJSON)
		}
		if _, _, ok := s.cache.Get("tok"); ok {
			t.Errorf("a 503 was cached")
		}
	}
	t.Run("credentials refused", func(t *testing.T) {
		s := newSetup(t, passwordCreds, nil)
		s.ks.RefuseCredentials.Store(true)
		check(t, s)
	})
	t.Run("wrong credentials", func(t *testing.T) {
		creds := passwordCreds
		creds.Password = "wrong"
		check(t, newSetup(t, creds, nil))
	})
	t.Run("service token refused after renewal", func(t *testing.T) {
		s := newSetup(t, passwordCreds, nil)
		s.ks.Add("other", fakekeystone.Token{UserID: userID, ProjectID: project, ExpiresAt: s.clock.Now().Add(time.Hour)})
		s.authorize(t, "other")
		s.ks.RevokeServiceTokens()
		s.ks.RefuseCredentials.Store(true)
		check(t, s)
	})
	t.Run("5xx", func(t *testing.T) {
		s := newSetup(t, passwordCreds, nil)
		s.ks.Status.Store(http.StatusBadGateway)
		check(t, s)
	})
	t.Run("5xx on validation", func(t *testing.T) {
		s := newSetup(t, passwordCreds, nil)
		s.ks.Add("other", fakekeystone.Token{UserID: userID, ProjectID: project, ExpiresAt: s.clock.Now().Add(time.Hour)})
		s.authorize(t, "other")
		s.ks.Status.Store(http.StatusInternalServerError)
		check(t, s)
	})
	t.Run("slow", func(t *testing.T) {
		s := newSetup(t, passwordCreds, nil)
		s.ks.Delay.Store(int64(time.Second)) // past the client's 500 ms
		check(t, s)
	})
	t.Run("down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // a closed port: connection refused
		check(t, newSetup(t, passwordCreds, func(*fakekeystone.Server) string { return "http://" + addr }))
	})
}

func TestCache(t *testing.T) {
	s := newSetup(t, passwordCreds, nil)
	s.ks.Add("long", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Hour)})
	s.ks.Add("short", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Minute)})
	first := s.authorize(t, "long")
	calls := s.ks.Validations.Load()
	if got := s.authorize(t, "long"); got["user_id"] != first["user_id"] || s.ks.Validations.Load() != calls {
		t.Fatalf("a second validation of the same token called Keystone (%d → %d calls)", calls, s.ks.Validations.Load())
	}
	// Not past the token's own expiry, though the TTL (300 s) is longer.
	s.authorize(t, "short")
	s.clock.Advance(time.Minute)
	if got := s.authorize(t, "short"); got["error_status"] != "401" {
		t.Errorf("the expired token was served from the cache: %v", got)
	}
	// Nor past the TTL: Keystone is asked again (a revoked token stops
	// working within KEYSTONE_CACHE_SECONDS).
	calls = s.ks.Validations.Load()
	s.clock.Advance(5 * time.Minute)
	s.authorize(t, "long")
	if s.ks.Validations.Load() != calls+1 {
		t.Errorf("the token was served from the cache past the TTL")
	}
}

// TestRefusalCache: a refused token is refused again without asking
// Keystone for keystone.RefusalTTL (30 s), never past the token's
// expires_at; a 503 is not kept at all.
func TestRefusalCache(t *testing.T) {
	s := newSetup(t, passwordCreds, nil)
	refusedAs := func(t *testing.T, token, message string, wantCalls int32) {
		t.Helper()
		before := s.ks.Validations.Load()
		got := s.authorize(t, token)
		if got["error_status"] != "401" || got["error_message"] != message {
			t.Errorf("%s: context %v, want 401 %q", token, got, message)
		}
		if calls := s.ks.Validations.Load() - before; calls != wantCalls {
			t.Errorf("%s: %d calls to Keystone, want %d", token, calls, wantCalls)
		}
	}
	// A made-up token: Keystone once per 30 s, however often it is sent.
	refusedAs(t, "made-up", keystone.MsgInvalid, 1)
	for range 5 {
		refusedAs(t, "made-up", keystone.MsgInvalid, 0)
	}
	s.clock.Advance(29 * time.Second)
	refusedAs(t, "made-up", keystone.MsgInvalid, 0)
	// After 30 s Keystone is asked again: a token it has learnt of since
	// (or a refusal that was wrong) is seen.
	s.ks.Add("made-up", fakekeystone.Token{UserID: userID, ProjectID: project, Roles: []string{"member"}, ExpiresAt: s.clock.Now().Add(time.Hour)})
	s.clock.Advance(time.Second)
	if got := s.authorize(t, "made-up"); got["user_id"] != userID {
		t.Errorf("after 30 s: context %v, want the user", got)
	}
	// A refused token whose expires_at is known is not kept past it.
	s.ks.Add("unscoped", fakekeystone.Token{UserID: userID, ExpiresAt: s.clock.Now().Add(10 * time.Second)})
	refusedAs(t, "unscoped", keystone.MsgUnscoped, 1)
	s.clock.Advance(5 * time.Second)
	refusedAs(t, "unscoped", keystone.MsgUnscoped, 0)
	s.clock.Advance(5 * time.Second)
	refusedAs(t, "unscoped", keystone.MsgInvalid, 1)
	// A 503 is not kept: a Keystone that comes back answers at once.
	s.ks.Status.Store(http.StatusServiceUnavailable)
	if got := s.authorize(t, "other"); got["error_status"] != "503" {
		t.Fatalf("Keystone down: context %v, want 503", got)
	}
	s.ks.Status.Store(0)
	refusedAs(t, "other", keystone.MsgInvalid, 1)
	// KeystoneCacheSeconds 0 keeps no refusal either.
	s.cache.TTL = 0
	refusedAs(t, "zero-ttl", keystone.MsgInvalid, 1)
	refusedAs(t, "zero-ttl", keystone.MsgInvalid, 1)
}

func TestCacheBoundedAndKeyedByHash(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := &keystone.Cache{TTL: time.Hour, Max: 3, Now: func() time.Time { return now }}
	id := keystone.Identity{UserID: "u", ExpiresAt: now.Add(time.Hour)}
	for _, tok := range []string{"t1", "t2", "t3", "t4"} {
		c.Put(tok, id)
	}
	if c.Len() != 3 {
		t.Errorf("%d entries, want the bound 3", c.Len())
	}
	if _, _, ok := c.Get("t1"); ok {
		t.Error("the oldest entry was kept past the bound")
	}
	if _, _, ok := c.Get("t4"); !ok {
		t.Error("the newest entry was evicted")
	}
	// Refusals have their own bound: a flood of made-up tokens does not
	// evict the valid ones.
	for i := range 10 {
		c.PutRefusal(fmt.Sprintf("made-up-%d", i), &keystone.Refusal{Message: keystone.MsgInvalid})
	}
	for _, tok := range []string{"t2", "t3", "t4"} {
		if got, refusal, ok := c.Get(tok); !ok || refusal != nil || got.UserID != "u" {
			t.Errorf("%s after a flood of refusals: %v %v %v, want its identity", tok, got, refusal, ok)
		}
	}
	if _, refusal, ok := c.Get("made-up-9"); !ok || refusal == nil || refusal.Message != keystone.MsgInvalid {
		t.Errorf("the newest refusal: %v %v", refusal, ok)
	}
	if c.Len() != 6 {
		t.Errorf("%d entries, want 3 valid and 3 refused", c.Len())
	}
}

func TestParseCredentials(t *testing.T) {
	c, err := keystone.ParseCredentials([]byte(`{"username": "karbor", "password": "p", "project_name": "service"}`))
	if err != nil || c.UserDomainName != "Default" || c.ProjectDomainName != "Default" {
		t.Errorf("defaults: %v %v", c.UserDomainName+"/"+c.ProjectDomainName, err)
	}
	// As copied from an openrc: unknown fields are ignored, domain ids
	// taken in place of names.
	c, err = keystone.ParseCredentials([]byte(`{"auth_url": "https://keystone.example.com:5000/v3", "region_name": "RegionOne",
		"project_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "interface": "public", "identity_api_version": 3,
		"username": "karbor", "password": "p", "project_name": "service", "user_domain_id": "default", "project_domain_id": "default"}`))
	if want := (keystone.Credentials{Username: "karbor", Password: "p", ProjectName: "service", UserDomainID: "default", ProjectDomainID: "default"}); err != nil || c != want {
		t.Errorf("openrc fields: %v, want the known ones with the domain ids and no default names", err)
	}
	for _, bad := range []string{`{}`, `null`, `[]`, `{"username": "karbor"}`, `{"application_credential_id": "x"}`,
		`{"username": "a", "password": "p", "project_name": "s", "application_credential_id": "x", "application_credential_secret": "y"}`,
		`{"username": "a", "password": "hunter2", "project_name": 7}`, `not json hunter2`} {
		_, err := keystone.ParseCredentials([]byte(bad))
		if err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
	if s := (keystone.Credentials{Password: "hunter2"}).String(); strings.Contains(s, "hunter2") {
		t.Errorf("Credentials print their secret: %s", s)
	}
}
