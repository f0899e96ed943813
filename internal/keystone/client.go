// Package keystone validates OpenStack tokens against a Keystone v3
// identity service, for the Lambda REQUEST authorizer of AuthMode keystone
// (functions/keystone-authorizer).
//
// The service signs in with its own credentials (POST /v3/auth/tokens),
// keeps that token until shortly before it expires, and asks Keystone about
// each caller's token with GET /v3/auth/tokens (X-Auth-Token: the service's
// token, X-Subject-Token: the caller's). Validate's errors say what the
// caller gets: a *Refusal (401: the token is invalid, expired or unscoped)
// or ErrUnavailable (503: Keystone cannot answer now, or refuses the
// service's own credentials).
package keystone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"karbor/internal/domain"
)

// DefaultTimeout bounds each request to Keystone: an authorizer that waited
// longer would hold the caller's request (API Gateway gives it 10 s).
const DefaultTimeout = 3 * time.Second

// serviceTokenMargin: the service's own token is renewed this long before
// its expires_at, so that no validation races its expiry.
const serviceTokenMargin = 2 * time.Minute

// Identity is what Keystone says of a valid token.
type Identity struct {
	UserID string
	// ProjectID is the token's project; "" for a system-scoped token.
	ProjectID string
	// System is "all" for a system-scoped token, "" otherwise.
	System    string
	Roles     []string
	ExpiresAt time.Time
}

// Refusal is a verdict against the caller's token: a 401 with Message.
// ExpiresAt is the token's expires_at when Keystone gave it (a token it
// knows but refuses: unscoped, scoped to a domain, ...), zero otherwise.
type Refusal struct {
	Message   string
	ExpiresAt time.Time
}

func (r *Refusal) Error() string { return "401: " + r.Message }

// ErrUnavailable: Keystone did not answer, timed out, answered 5xx, or
// refused the service's own credentials. The caller gets a 503.
var ErrUnavailable = errors.New("the identity service is unavailable")

// Messages of the refusals.
const (
	MsgInvalid   = "The token is invalid or has expired."
	MsgExpired   = "The token has expired."
	MsgUnscoped  = "The token is not scoped to a project."
	MsgProjectID = "The token's project id is not a valid project id."
	MsgMissing   = "Authentication required: no X-Auth-Token header."
	MsgMalformed = "The token is malformed."
)

// Client talks to one Keystone. Its zero values take defaults: HTTP with
// DefaultTimeout, Now time.Now.
type Client struct {
	// URL is the identity endpoint, as OS_AUTH_URL: with or without the
	// trailing /v3 (e.g. https://keystone.example.com:5000 or
	// https://cloud.example.com/identity/v3).
	URL         string
	Credentials Credentials
	HTTP        *http.Client
	Now         func() time.Time

	mu           sync.Mutex
	serviceToken string
	serviceUntil time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultTimeout}
}

// tokensURL is <base>/v3/auth/tokens.
func (c *Client) tokensURL() string {
	base := strings.TrimRight(c.URL, "/")
	base = strings.TrimSuffix(base, "/v3")
	return base + "/v3/auth/tokens"
}

// NormalizeURL checks an identity endpoint: an http(s) URL.
func NormalizeURL(u string) (string, error) {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "", fmt.Errorf("KEYSTONE_URL %q is not an http(s) URL", u)
	}
	return strings.TrimSuffix(strings.TrimRight(u, "/"), "/v3"), nil
}

// tokenBody is the part of Keystone's token document this service reads.
type tokenBody struct {
	Token struct {
		ExpiresAt string `json:"expires_at"`
		User      *struct {
			ID string `json:"id"`
		} `json:"user"`
		Project *struct {
			ID string `json:"id"`
		} `json:"project"`
		System *struct {
			All bool `json:"all"`
		} `json:"system"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"token"`
}

// Validate asks Keystone about token.
func (c *Client) Validate(ctx context.Context, token string) (Identity, error) {
	if token == "" || strings.ContainsAny(token, "\r\n") || len(token) > 8192 {
		return Identity{}, &Refusal{Message: MsgMalformed}
	}
	for attempt := 0; ; attempt++ {
		service, err := c.token(ctx, attempt > 0)
		if err != nil {
			return Identity{}, err
		}
		// nocatalog: the catalog is large and of no use here.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.tokensURL()+"?nocatalog", nil)
		if err != nil {
			return Identity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		req.Header.Set("X-Auth-Token", service)
		req.Header.Set("X-Subject-Token", token)
		req.Header.Set("Accept", "application/json")
		resp, err := c.http().Do(req)
		if err != nil {
			return Identity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return Identity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return c.identity(body)
		case resp.StatusCode == http.StatusNotFound:
			// Keystone's answer for a subject token that is invalid,
			// revoked or expired.
			return Identity{}, &Refusal{Message: MsgInvalid}
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			// The service's own token was revoked or expired early:
			// sign in again, once.
			c.forget(service)
			continue
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return Identity{}, fmt.Errorf("%w: GET /v3/auth/tokens refused the service's token (%d)", ErrUnavailable, resp.StatusCode)
		default:
			return Identity{}, fmt.Errorf("%w: GET /v3/auth/tokens answered %d", ErrUnavailable, resp.StatusCode)
		}
	}
}

func (c *Client) identity(body []byte) (Identity, error) {
	var doc tokenBody
	if err := json.Unmarshal(body, &doc); err != nil || doc.Token.User == nil || doc.Token.User.ID == "" {
		return Identity{}, fmt.Errorf("%w: GET /v3/auth/tokens answered 200 without a token document", ErrUnavailable)
	}
	tok := doc.Token
	expires, err := time.Parse(time.RFC3339Nano, tok.ExpiresAt)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: the token's expires_at %q is not a time", ErrUnavailable, tok.ExpiresAt)
	}
	if !c.now().Before(expires) {
		return Identity{}, &Refusal{Message: MsgExpired, ExpiresAt: expires.UTC()}
	}
	id := Identity{UserID: tok.User.ID, ExpiresAt: expires.UTC()}
	switch {
	case tok.Project != nil:
		if !domain.ValidProjectID(tok.Project.ID) {
			return Identity{}, &Refusal{Message: MsgProjectID, ExpiresAt: expires.UTC()}
		}
		id.ProjectID = tok.Project.ID
	case tok.System != nil && tok.System.All:
		id.System = "all"
	default:
		// Unscoped, or scoped to a domain: no project to act in.
		return Identity{}, &Refusal{Message: MsgUnscoped, ExpiresAt: expires.UTC()}
	}
	for _, r := range tok.Roles {
		if r.Name != "" {
			id.Roles = append(id.Roles, r.Name)
		}
	}
	return id, nil
}

// token returns the service's own token, signing in when it has none, when
// it is about to expire, or when renew is set.
func (c *Client) token(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !renew && c.serviceToken != "" && c.now().Before(c.serviceUntil) {
		return c.serviceToken, nil
	}
	body, err := json.Marshal(c.Credentials.authRequest())
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokensURL()+"?nocatalog", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: POST /v3/auth/tokens (the service's credentials) answered %d", ErrUnavailable, resp.StatusCode)
	}
	tok := resp.Header.Get("X-Subject-Token")
	var doc tokenBody
	if tok == "" || json.Unmarshal(answer, &doc) != nil {
		return "", fmt.Errorf("%w: POST /v3/auth/tokens answered without a token", ErrUnavailable)
	}
	expires, err := time.Parse(time.RFC3339Nano, doc.Token.ExpiresAt)
	if err != nil {
		return "", fmt.Errorf("%w: the service token's expires_at %q is not a time", ErrUnavailable, doc.Token.ExpiresAt)
	}
	until := expires.Add(-serviceTokenMargin)
	if lifetime := expires.Sub(c.now()); lifetime < 2*serviceTokenMargin {
		// A short-lived token: keep it for half its life.
		until = c.now().Add(lifetime / 2)
	}
	c.serviceToken, c.serviceUntil = tok, until
	return tok, nil
}

// forget drops the service's token if it is still tok.
func (c *Client) forget(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serviceToken == tok {
		c.serviceToken = ""
	}
}
