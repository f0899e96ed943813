package api_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"karbor/internal/domain"
	"karbor/internal/provider"
)

func checkProviderShape(t *testing.T, p map[string]any) {
	t.Helper()
	wantKeys(t, "provider", p, "id", "name", "description", "extended_info_schema")
	schema, ok := p["extended_info_schema"].(map[string]any)
	if !ok {
		t.Fatalf("extended_info_schema is not an object: %v", p["extended_info_schema"])
	}
	wantKeys(t, "extended_info_schema", schema, "options_schema", "restore_schema", "saved_info_schema")
	for k, v := range schema {
		if _, ok := v.(map[string]any); !ok {
			t.Errorf("%s is not an object: %v", k, v)
		}
	}
	if id, _ := p["id"].(string); !uuidPattern.MatchString(id) {
		t.Errorf("id %q is not a lower-case dashed UUID", id)
	}
}

func TestListProviders(t *testing.T) {
	e := newEnv(t)
	path := "/v1/" + projA + "/providers"
	all := provider.All()

	got := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK)
	wantKeys(t, "list body", got.body, "providers")
	list := got.list(t, "providers")
	if len(list) != len(all) {
		t.Fatalf("%d providers, want %d", len(list), len(all))
	}
	for i, p := range list {
		checkProviderShape(t, p)
		if p["id"] != all[i].ID {
			t.Errorf("provider %d = %v, want %s (ordered by id)", i, p["id"], all[i].ID)
		}
	}
	var noOp map[string]any
	for _, p := range list {
		if p["id"] == noop {
			noOp = p
		}
	}
	if noOp == nil || noOp["name"] != "No-Op Provider" {
		t.Fatalf("No-Op Provider missing: %s", got.raw)
	}

	t.Run("paging", func(t *testing.T) {
		// limit=1 walks every provider once through the links.
		var seen []string
		next := path + "?limit=1"
		for next != "" {
			r := e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK)
			page := r.list(t, "providers")
			if len(page) != 1 {
				t.Fatalf("page of %d with limit=1", len(page))
			}
			seen = append(seen, ids(page)...)
			next = r.next(t, "providers_links")
			if next != "" {
				u, err := url.Parse(next)
				if err != nil || u.Scheme != "http" || u.Host != strings.TrimPrefix(e.srv.URL, "http://") || u.Path != path {
					t.Fatalf("next link %q is not an absolute URL of %s", next, path)
				}
				if u.Query().Get("marker") != page[0]["id"] || u.Query().Get("limit") != "1" {
					t.Fatalf("next link %q: want limit=1 and marker=%v", next, page[0]["id"])
				}
			}
		}
		if len(seen) != len(all) {
			t.Fatalf("walk saw %v, want %d providers", seen, len(all))
		}
		for i, p := range all {
			if seen[i] != p.ID {
				t.Errorf("walk %d = %s, want %s", i, seen[i], p.ID)
			}
		}
		// The last provider as marker: an empty page, no link.
		last := all[len(all)-1].ID
		r := e.do(t, http.MethodGet, path+"?marker="+last, tokenA, nil).wantStatus(t, http.StatusOK)
		if l := r.list(t, "providers"); len(l) != 0 {
			t.Errorf("after the last marker: %v", ids(l))
		}
		if _, ok := r.body["providers_links"]; ok {
			t.Errorf("providers_links on the last page: %s", r.raw)
		}
		// A limit equal to the count: one full page, no link.
		r = e.do(t, http.MethodGet, path+"?limit="+strconv.Itoa(len(all)), tokenA, nil).wantStatus(t, http.StatusOK)
		if _, ok := r.body["providers_links"]; ok {
			t.Errorf("providers_links when every provider fits: %s", r.raw)
		}
		// A marker in another spelling is the same marker.
		r = e.do(t, http.MethodGet, path+"?marker="+strings.ToUpper(strings.ReplaceAll(last, "-", "")), tokenA, nil).wantStatus(t, http.StatusOK)
		if l := r.list(t, "providers"); len(l) != 0 {
			t.Errorf("after the last marker (32 hex): %v", ids(l))
		}
		// Above the maximum is capped.
		e.do(t, http.MethodGet, path+"?limit=5000", tokenA, nil).wantStatus(t, http.StatusOK)
	})

	t.Run("filters", func(t *testing.T) {
		r := e.do(t, http.MethodGet, path+"?name="+url.QueryEscape("No-Op Provider"), tokenA, nil).wantStatus(t, http.StatusOK)
		if l := r.list(t, "providers"); len(l) != 1 || l[0]["id"] != noop {
			t.Errorf("name filter: %v", ids(l))
		}
		r = e.do(t, http.MethodGet, path+"?name=nothing-by-this-name", tokenA, nil).wantStatus(t, http.StatusOK)
		if l := r.list(t, "providers"); len(l) != 0 {
			t.Errorf("name filter without match: %v", ids(l))
		}
		// Unknown parameters and sort parameters are ignored.
		r = e.do(t, http.MethodGet, path+"?foo=bar&sort=name:asc", tokenA, nil).wantStatus(t, http.StatusOK)
		if l := r.list(t, "providers"); len(l) != len(all) {
			t.Errorf("with ignored parameters: %v", ids(l))
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []struct{ query, mention string }{
			{"limit=0", "limit"},
			{"limit=-1", "limit"},
			{"limit=abc", "limit"},
			{"limit=1.5", "limit"},
			{"limit=", "limit"},
			{"marker=not-a-uuid", "marker"},
			{"marker=" + domain.NewID(), "marker"},
		} {
			e.do(t, http.MethodGet, path+"?"+q.query, tokenA, nil).wantFault(t, http.StatusBadRequest, q.mention)
		}
	})
}

func TestShowProvider(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{
		noop,
		strings.ToUpper(noop),
		strings.ReplaceAll(noop, "-", ""),
		strings.ToUpper(strings.ReplaceAll(noop, "-", "")),
	} {
		r := e.do(t, http.MethodGet, "/v1/"+projA+"/providers/"+id, tokenA, nil).wantStatus(t, http.StatusOK)
		wantKeys(t, "show body", r.body, "provider")
		p := r.obj(t, "provider")
		checkProviderShape(t, p)
		if p["id"] != noop {
			t.Errorf("GET %s: id = %v, want %s", id, p["id"], noop)
		}
		if p["name"] != "No-Op Provider" {
			t.Errorf("name = %v", p["name"])
		}
	}

	unknown := domain.NewID()
	e.do(t, http.MethodGet, "/v1/"+projA+"/providers/"+unknown, tokenA, nil).wantFault(t, http.StatusNotFound, unknown)
	for _, bad := range []string{"not-a-uuid", "1234", strings.ReplaceAll(noop, "-", "") + "0", noop[:35] + "g", "{" + noop + "}"} {
		e.do(t, http.MethodGet, "/v1/"+projA+"/providers/"+url.PathEscape(bad), tokenA, nil).wantFault(t, http.StatusBadRequest, "provider_id")
	}
}
