package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"karbor/internal/api"
	"karbor/internal/local/devtoken"
	"karbor/internal/testsupport/openapicheck"
)

// TestNextLinkIgnoresForgedHeaders: a next link starts with the address the
// server listens on, whatever Host and X-Forwarded-* the caller sends, so a
// link handed to another client can never point at a host of the caller's
// choosing. The provider list pages without any table.
func TestNextLinkIgnoresForgedHeaders(t *testing.T) {
	svc := &api.Service{Auth: devtoken.Auth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(openapicheck.Handler(t, openapicheck.API(t), svc.Handler()))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/p1/providers?limit=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example"
	req.Header.Set("X-Auth-Token", "alice:p1:member")
	req.Header.Set("X-Forwarded-Proto", "gopher")
	req.Header.Set("X-Forwarded-Host", "evil2.example")
	req.Header.Set("Forwarded", "host=evil3.example;proto=ftp")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Links []struct{ Href string } `json:"providers_links"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || len(body.Links) != 1 {
		t.Fatalf("status %d, links %+v, %v", res.StatusCode, body.Links, err)
	}
	href := body.Links[0].Href
	if !strings.HasPrefix(href, srv.URL+"/v1/p1/providers?") {
		t.Errorf("href %q does not start with the listen address %s", href, srv.URL)
	}
	for _, forged := range []string{"evil", "gopher", "ftp"} {
		if strings.Contains(href, forged) {
			t.Errorf("href %q carries the forged %q", href, forged)
		}
	}
}
