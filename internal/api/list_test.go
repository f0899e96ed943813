package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
)

// listed is a checkpoint as the tests expect it in a listing.
type listed struct {
	id      string
	created string // RFC 3339, as shown
}

// order returns the ids sorted as a listing sorts them: by created_at, ties
// by id, both ascending or both descending.
func order(cs []listed, ascending bool) []string {
	s := slices.Clone(cs)
	sort.Slice(s, func(i, j int) bool {
		if s[i].created != s[j].created {
			return s[i].created < s[j].created
		}
		return s[i].id < s[j].id
	})
	out := make([]string, 0, len(s))
	for _, c := range s {
		out = append(out, c.id)
	}
	if !ascending {
		slices.Reverse(out)
	}
	return out
}

func listedOf(c *domain.Checkpoint) listed { return listed{c.ID, domain.Timestamp(c.CreatedAt)} }

func listedView(c map[string]any) listed { return listed{c["id"].(string), c["created_at"].(string)} }

// day parses a fixed time; fixed times are in 2001, before any checkpoint
// the API creates.
func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// walk follows the next links from a first page and returns every id seen
// and the number of pages.
func (e *env) walk(t *testing.T, token, first string, maxPages int, between func(page int)) ([]string, int) {
	t.Helper()
	var seen []string
	next := first
	pages := 0
	for next != "" {
		if pages == maxPages {
			t.Fatalf("walk from %s: more than %d pages", first, maxPages)
		}
		r := e.do(t, http.MethodGet, next, token, nil).wantStatus(t, http.StatusOK)
		pages++
		page := r.list(t, "checkpoints")
		seen = append(seen, ids(page)...)
		next = r.next(t, "checkpoints_links")
		if next != "" && len(page) == 0 {
			t.Fatalf("an empty page with a next link: %s", r.raw)
		}
		if between != nil {
			between(pages)
		}
	}
	return seen, pages
}

// wantIDs compares a listing with the expected ids, in order.
func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %d %v\nwant %d %v", what, len(got), got, len(want), want)
	}
}

func TestListCheckpoints(t *testing.T) {
	e := newEnv(t)
	p1 := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	p2 := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)

	stored := []*domain.Checkpoint{
		newCheckpoint(projA, noop, p1, domain.StatusAvailable, day("2001-01-01T10:00:00Z")),
		newCheckpoint(projA, noop, p1, domain.StatusError, day("2001-01-02T00:00:00Z")),
		newCheckpoint(projA, noop, p2, domain.StatusAvailable, day("2001-01-02T23:59:59Z")),
		newCheckpoint(projA, noop, p2, domain.StatusProtecting, day("2001-01-03T12:00:00Z")),
		newCheckpoint(projA, noop, p2, domain.StatusErrorDeleting, day("2001-01-03T12:00:00Z")),
	}
	e.storeCheckpoints(t, stored)
	day1, day2a, day2b, day3, day3b := listedOf(stored[0]), listedOf(stored[1]), listedOf(stored[2]), listedOf(stored[3]), listedOf(stored[4])
	var viaAPI []listed
	for range 2 {
		viaAPI = append(viaAPI, listedView(e.createCheckpoint(t, tokenA, projA, p1)))
	}
	// Never listed: a deleted checkpoint, another project's, another
	// provider's.
	gone := e.storeCheckpoint(t, projA, noop, p1, domain.StatusAvailable, day("2001-01-02T12:00:00Z"))
	e.setStatus(t, projA, gone.ID, domain.StatusAvailable, domain.StatusDeleting)
	e.setStatus(t, projA, gone.ID, domain.StatusDeleting, domain.StatusDeleted)
	otherProject := e.storeCheckpoint(t, projB, noop, p1, domain.StatusAvailable, day("2001-01-02T12:00:00Z"))
	otherProv := e.storeCheckpoint(t, projA, otherProvider, p1, domain.StatusAvailable, day("2001-01-02T12:00:00Z"))

	every := append([]listed{day1, day2a, day2b, day3, day3b}, viaAPI...)
	path := checkpointsPath(projA, noop)
	list := func(t *testing.T, query string) *response {
		t.Helper()
		return e.do(t, http.MethodGet, path+"?"+query, tokenA, nil).wantStatus(t, http.StatusOK)
	}

	t.Run("default", func(t *testing.T) {
		r := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, http.StatusOK)
		wantKeys(t, "list body", r.body, "checkpoints")
		got := r.list(t, "checkpoints")
		for _, c := range got {
			checkCheckpointShape(t, c)
			if c["project_id"] != projA {
				t.Errorf("project_id = %v", c["project_id"])
			}
			if pp := c["protection_plan"].(map[string]any); pp["provider_id"] != noop {
				t.Errorf("protection_plan.provider_id = %v", pp["provider_id"])
			}
		}
		wantIDs(t, "default order (newest first)", ids(got), order(every, false))
	})

	t.Run("deleted is shown, not listed", func(t *testing.T) {
		c := e.do(t, http.MethodGet, checkpointPath(projA, noop, gone.ID), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "checkpoint")
		if c["status"] != "deleted" {
			t.Errorf("status = %v, want deleted", c["status"])
		}
		for _, q := range []string{"status=available", "plan_id=" + p1, "start_date=2001-01-02&end_date=2001-01-02"} {
			if got := ids(list(t, q).list(t, "checkpoints")); slices.Contains(got, gone.ID) {
				t.Errorf("%s lists the deleted checkpoint", q)
			}
		}
		for _, id := range []string{otherProject.ID, otherProv.ID} {
			if got := ids(list(t, "").list(t, "checkpoints")); slices.Contains(got, id) {
				t.Errorf("listing has checkpoint %s of another project or provider", id)
			}
		}
	})

	t.Run("sort", func(t *testing.T) {
		asc, desc := order(every, true), order(every, false)
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"sort=created_at:asc", asc},
			{"sort=created_at:desc", desc},
			{"sort=created_at", desc},
			{"sort_key=created_at&sort_dir=asc", asc},
			{"sort_key=created_at&sort_dir=desc", desc},
			{"sort_key=created_at", desc},
			{"sort_dir=asc", asc},
			{"sort=created_at:asc,id:asc", asc},
			{"sort=created_at:desc,id:desc", desc},
		} {
			wantIDs(t, tc.query, ids(list(t, tc.query).list(t, "checkpoints")), tc.want)
		}
		for _, tc := range []struct{ query, mention string }{
			{"sort=created_at:asc&sort_key=created_at", "sort_key"},
			{"sort=created_at:asc&sort_dir=asc", "sort"},
			{"sort=id", "id"},
			{"sort=id:asc", "id"},
			{"sort=status:asc", "status"},
			{"sort=name", "name"},
			{"sort=created_at:up", "up"},
			{"sort=created_at:", "direction"},
			{"sort_key=id", "id"},
			{"sort_key=status&sort_dir=asc", "status"},
			{"sort_key=created_at&sort_dir=up", "up"},
			{"sort_key=created_at&sort_dir=", "direction"},
			{"sort=", "sort key"},
			{"sort=created_at:asc,id:desc", "id"},
			{"sort=created_at:asc,status:asc", "status"},
		} {
			e.do(t, http.MethodGet, path+"?"+tc.query, tokenA, nil).wantFault(t, http.StatusBadRequest, tc.mention)
		}
	})

	t.Run("limit", func(t *testing.T) {
		for _, bad := range []string{"0", "-1", "abc", "1.5", "", "1e3", "0x10"} {
			e.do(t, http.MethodGet, path+"?limit="+url.QueryEscape(bad), tokenA, nil).wantFault(t, http.StatusBadRequest, "limit")
		}
		for _, big := range []string{"5000", "1001", "99999999999999999999"} {
			wantIDs(t, "limit="+big, ids(list(t, "limit="+big).list(t, "checkpoints")), order(every, false))
		}
		r := list(t, "limit=1")
		wantIDs(t, "limit=1", ids(r.list(t, "checkpoints")), order(every, false)[:1])
		if r.next(t, "checkpoints_links") == "" {
			t.Errorf("limit=1 of %d has no next link", len(every))
		}
	})

	t.Run("marker", func(t *testing.T) {
		desc := order(every, false)
		wantIDs(t, "after the second", ids(list(t, "marker="+desc[1]).list(t, "checkpoints")), desc[2:])
		upper := strings.ToUpper(strings.ReplaceAll(desc[1], "-", ""))
		wantIDs(t, "after the second (32 hex)", ids(list(t, "marker="+upper).list(t, "checkpoints")), desc[2:])
		asc := order(every, true)
		wantIDs(t, "ascending after the second", ids(list(t, "sort=created_at:asc&marker="+asc[1]).list(t, "checkpoints")), asc[2:])
		// The deleted checkpoint still places a marker.
		wantIDs(t, "after a deleted marker", ids(list(t, "marker="+gone.ID).list(t, "checkpoints")), order([]listed{day1, day2a}, false))

		for _, tc := range []struct{ name, marker string }{
			{"not a UUID", "not-a-uuid"},
			{"unknown", domain.NewID()},
			{"another provider's", otherProv.ID},
			{"another project's", otherProject.ID},
			{"a plan", p1},
		} {
			e.do(t, http.MethodGet, path+"?marker="+tc.marker, tokenA, nil).wantFault(t, http.StatusBadRequest, "marker")
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []listed
		}{
			{"plan_id=" + p1, append([]listed{day1, day2a}, viaAPI...)},
			{"plan_id=" + strings.ToUpper(p2), []listed{day2b, day3, day3b}},
			{"plan_id=" + domain.NewID(), nil},
			{"start_date=2001-01-02", append([]listed{day2a, day2b, day3, day3b}, viaAPI...)},
			{"end_date=2001-01-02", []listed{day1, day2a, day2b}},
			{"start_date=2001-01-02&end_date=2001-01-02", []listed{day2a, day2b}},
			{"start_date=2001-01-01&end_date=2001-01-03", []listed{day1, day2a, day2b, day3, day3b}},
			{"start_date=2001-01-02T12:00:00Z", append([]listed{day2b, day3, day3b}, viaAPI...)},
			{"start_date=" + url.QueryEscape("2001-01-02T13:00:00+01:00"), append([]listed{day2b, day3, day3b}, viaAPI...)},
			{"end_date=2001-01-02T00:00:00Z", []listed{day1, day2a}},
			{"start_date=2001-01-01T10:00:00Z&end_date=2001-01-01T10:00:00Z", []listed{day1}},
			{"start_date=2001-01-03&end_date=2001-01-01", nil},
			{"status=available", []listed{day1, day2b}},
			{"status=error", []listed{day2a}},
			{"status=protecting", append([]listed{day3}, viaAPI...)},
			{"status=error-deleting", []listed{day3b}},
			{"status=deleting", nil},
			{"plan_id=" + p2 + "&status=available&start_date=2001-01-02", []listed{day2b}},
			{"foo=bar&name=x", every},
		} {
			wantIDs(t, tc.query, ids(list(t, tc.query).list(t, "checkpoints")), order(tc.want, false))
		}
		for _, tc := range []struct{ query, mention string }{
			{"plan_id=not-a-uuid", "plan_id"},
			{"plan_id=", "plan_id"},
			{"start_date=2026/01/02", "start_date"},
			{"start_date=02-01-2026", "start_date"},
			{"start_date=2001-13-01", "start_date"},
			{"start_date=yesterday", "start_date"},
			{"start_date=", "start_date"},
			{"end_date=2001-01-02T25:00:00Z", "end_date"},
			{"end_date=2001-01-02+10:00", "end_date"},
			{"status=bogus", "status"},
			{"status=AVAILABLE", "status"},
			{"status=", "status"},
			{"status=deleted", "never listed"},
		} {
			e.do(t, http.MethodGet, path+"?"+tc.query, tokenA, nil).wantFault(t, http.StatusBadRequest, tc.mention)
		}
	})

	t.Run("unknown provider", func(t *testing.T) {
		unknown := domain.NewID()
		e.do(t, http.MethodGet, checkpointsPath(projA, unknown), tokenA, nil).wantFault(t, http.StatusNotFound, unknown)
		e.do(t, http.MethodGet, checkpointsPath(projA, otherProvider), tokenA, nil).wantFault(t, http.StatusNotFound, otherProvider)
		e.do(t, http.MethodGet, checkpointsPath(projA, "no-op"), tokenA, nil).wantFault(t, http.StatusBadRequest, "provider_id")
	})
}

func TestListCheckpointsAcrossProjects(t *testing.T) {
	e := newEnv(t)
	planID := domain.NewID() // listings do not need the plan to exist
	var inA, inB, inAdmin []listed
	var cs []*domain.Checkpoint
	for i := range 3 {
		at := day("2001-02-01T00:00:00Z").Add(time.Duration(i) * time.Hour)
		a := newCheckpoint(projA, noop, planID, domain.StatusAvailable, at)
		b := newCheckpoint(projB, noop, planID, domain.StatusAvailable, at.Add(time.Minute))
		cs = append(cs, a, b)
		inA, inB = append(inA, listedOf(a)), append(inB, listedOf(b))
	}
	own := newCheckpoint(projAdmin, noop, planID, domain.StatusError, day("2001-02-02T00:00:00Z"))
	cs = append(cs, own)
	inAdmin = append(inAdmin, listedOf(own))
	e.storeCheckpoints(t, cs)
	gone := e.storeCheckpoint(t, projB, noop, planID, domain.StatusAvailable, day("2001-02-01T12:00:00Z"))
	e.setStatus(t, projB, gone.ID, domain.StatusAvailable, domain.StatusDeleting)
	e.setStatus(t, projB, gone.ID, domain.StatusDeleting, domain.StatusDeleted)
	all := slices.Concat(inA, inB, inAdmin)

	list := func(t *testing.T, token, tenant, query string) []string {
		t.Helper()
		return ids(e.do(t, http.MethodGet, checkpointsPath(tenant, noop)+"?"+query, token, nil).wantStatus(t, http.StatusOK).list(t, "checkpoints"))
	}

	t.Run("admin", func(t *testing.T) {
		for _, v := range []string{"true", "True", "1", "yes", "YES"} {
			wantIDs(t, "all_tenants="+v, list(t, tokenAdmin, projAdmin, "all_tenants="+v), order(all, false))
		}
		for _, v := range []string{"false", "False", "0", "no"} {
			wantIDs(t, "all_tenants="+v, list(t, tokenAdmin, projAdmin, "all_tenants="+v), order(inAdmin, false))
		}
		wantIDs(t, "no all_tenants", list(t, tokenAdmin, projAdmin, ""), order(inAdmin, false))
		wantIDs(t, "project_id=B", list(t, tokenAdmin, projAdmin, "all_tenants=true&project_id="+projB), order(inB, false))
		wantIDs(t, "project_id=A through A", list(t, tokenAdmin, projA, "all_tenants=1&project_id="+projA), order(inA, false))
		wantIDs(t, "tenant A", list(t, tokenAdmin, projA, ""), order(inA, false))
		wantIDs(t, "all_tenants with filters", list(t, tokenAdmin, projAdmin, "all_tenants=true&status=error"), order(inAdmin, false))
		wantIDs(t, "all_tenants ascending", list(t, tokenAdmin, projAdmin, "all_tenants=true&sort=created_at:asc"), order(all, true))
		for _, bad := range []string{"maybe", "", "2", "on"} {
			e.do(t, http.MethodGet, checkpointsPath(projAdmin, noop)+"?all_tenants="+bad, tokenAdmin, nil).wantFault(t, http.StatusBadRequest, "all_tenants")
		}
		e.do(t, http.MethodGet, checkpointsPath(projAdmin, noop)+"?all_tenants=true&project_id=bad.project", tokenAdmin, nil).
			wantFault(t, http.StatusBadRequest, "project_id")

		// Paging across projects visits each once, markers of any project.
		for _, q := range []string{"all_tenants=true&limit=2", "all_tenants=true&limit=3&sort=created_at:asc"} {
			seen, _ := e.walk(t, tokenAdmin, checkpointsPath(projAdmin, noop)+"?"+q, 10, nil)
			wantIDs(t, "walk "+q, seen, order(all, strings.Contains(q, "asc")))
		}
		// A marker of another project is fine across projects, not within one.
		desc := order(all, false)
		wantIDs(t, "marker of B", list(t, tokenAdmin, projAdmin, "all_tenants=true&marker="+desc[0]), desc[1:])
		e.do(t, http.MethodGet, checkpointsPath(projAdmin, noop)+"?marker="+inB[0].id, tokenAdmin, nil).wantFault(t, http.StatusBadRequest, "marker")
	})

	t.Run("not admin", func(t *testing.T) {
		for _, q := range []string{
			"", "all_tenants=true", "all_tenants=1", "all_tenants=maybe",
			"all_tenants=true&project_id=" + projB, "project_id=" + projB, "all_tenants=true&project_id=bad.project",
		} {
			wantIDs(t, "A with "+q, list(t, tokenA, projA, q), order(inA, false))
			wantIDs(t, "B with "+q, list(t, tokenB, projB, q), order(inB, false))
		}
	})
}

func TestCheckpointLinks(t *testing.T) {
	e := newEnv(t)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	var cs []*domain.Checkpoint
	var all []listed
	for i := range 6 {
		c := newCheckpoint(projA, noop, planID, domain.StatusAvailable, day("2001-03-01T00:00:00Z").Add(time.Duration(i/2)*time.Second))
		cs = append(cs, c)
		all = append(all, listedOf(c))
	}
	e.storeCheckpoints(t, cs)
	path := checkpointsPath(projA, noop)
	desc, asc := order(all, false), order(all, true)

	t.Run("present only when another page exists", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			more  bool
		}{
			{"limit=6", false},
			{"limit=7", false},
			{"limit=5", true},
			{"limit=3&marker=" + desc[2], false}, // the last page, exactly full
			{"limit=2&marker=" + desc[2], true},
			{"limit=1&marker=" + desc[4], false},
			{"marker=" + desc[5], false}, // an empty last page
		} {
			r := e.do(t, http.MethodGet, path+"?"+tc.query, tokenA, nil).wantStatus(t, http.StatusOK)
			if _, ok := r.body["checkpoints_links"]; ok != tc.more {
				t.Errorf("%s: checkpoints_links present = %v, want %v: %s", tc.query, ok, tc.more, r.raw)
			}
		}
	})

	t.Run("href", func(t *testing.T) {
		for _, query := range []string{
			"limit=2",
			"limit=2&sort=created_at:asc&status=available&foo=bar&start_date=2001-03-01&end_date=2001-03-01T00:00:05Z",
			"sort_key=created_at&sort_dir=asc&limit=2&marker=" + asc[0],
			"marker=" + desc[0] + "&limit=1&plan_id=" + planID + "&all_tenants=true&project_id=" + projB,
		} {
			r := e.do(t, http.MethodGet, path+"?"+query, tokenA, nil).wantStatus(t, http.StatusOK)
			page := r.list(t, "checkpoints")
			href := r.next(t, "checkpoints_links")
			u, err := url.Parse(href)
			if err != nil {
				t.Fatalf("%s: href %q: %v", query, href, err)
			}
			if u.Scheme != "http" || "http://"+u.Host != e.srv.URL || u.Path != path {
				t.Errorf("%s: href %q is not %s%s?...", query, href, e.srv.URL, path)
			}
			want, _ := url.ParseQuery(query)
			want["marker"] = []string{page[len(page)-1]["id"].(string)}
			if got := u.Query(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: href query = %v, want %v", query, got, want)
			}
		}
	})

	t.Run("href spells the provider id as returned", func(t *testing.T) {
		upper := checkpointsPath(projA, strings.ToUpper(strings.ReplaceAll(noop, "-", "")))
		r := e.do(t, http.MethodGet, upper+"?limit=2", tokenA, nil).wantStatus(t, http.StatusOK)
		u, err := url.Parse(r.next(t, "checkpoints_links"))
		if err != nil || u.Path != path {
			t.Errorf("href path = %q, want %s", u.Path, path)
		}
		seen, _ := e.walk(t, tokenA, upper+"?limit=2", 10, nil)
		wantIDs(t, "walk from an upper-case provider id", seen, desc)
	})

	t.Run("walks", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string
			pages int
		}{
			{"limit=1", desc, 6},
			{"limit=2", desc, 3},
			{"limit=4", desc, 2},
			{"limit=2&sort=created_at:asc", asc, 3},
			{"limit=4&sort_key=created_at&sort_dir=asc", asc, 2},
			{"limit=5&sort_dir=asc", asc, 2},
			{"limit=2&status=available&plan_id=" + planID, desc, 3},
			{"limit=1&start_date=2001-03-01T00:00:01Z", desc[:4], 4},
			{"limit=1&end_date=2001-03-01T00:00:01Z&sort=created_at:asc", asc[:4], 4},
			{"limit=1&start_date=" + url.QueryEscape("2001-03-01T01:00:01+01:00"), desc[:4], 4},
		} {
			seen, pages := e.walk(t, tokenA, path+"?"+tc.query, 10, nil)
			wantIDs(t, "walk "+tc.query, seen, tc.want)
			if pages != tc.pages {
				t.Errorf("walk %s: %d pages, want %d", tc.query, pages, tc.pages)
			}
		}
	})

	t.Run("while checkpoints are created and deleted", func(t *testing.T) {
		for _, ascending := range []bool{false, true} {
			query := "limit=2"
			if ascending {
				query += "&sort=created_at:asc"
			}
			var created []string
			seen, _ := e.walk(t, tokenA, path+"?"+query, 20, func(int) {
				created = append(created, e.createCheckpoint(t, tokenA, projA, planID)["id"].(string))
			})
			// Every checkpoint that was there at the start once, each in
			// order; new ones only after them.
			want := order(all, ascending)
			wantIDs(t, "walk "+query+" (the first checkpoints)", seen[:min(len(seen), len(want))], want)
			counts := map[string]int{}
			for _, id := range seen {
				counts[id]++
				if counts[id] > 1 {
					t.Errorf("walk %s: %s seen twice", query, id)
				}
			}
			for _, id := range seen[min(len(seen), len(want)):] {
				if !slices.Contains(created, id) {
					t.Errorf("walk %s: unexpected %s", query, id)
				}
			}
			// Leave the new ones out of the next walk.
			for _, id := range created {
				e.setStatus(t, projA, id, domain.StatusProtecting, domain.StatusAvailable)
				e.setStatus(t, projA, id, domain.StatusAvailable, domain.StatusDeleting)
				e.setStatus(t, projA, id, domain.StatusDeleting, domain.StatusDeleted)
			}
		}

		// The marker's checkpoint deleted between two pages.
		r := e.do(t, http.MethodGet, path+"?limit=2", tokenA, nil).wantStatus(t, http.StatusOK)
		page := ids(r.list(t, "checkpoints"))
		e.setStatus(t, projA, page[1], domain.StatusAvailable, domain.StatusDeleting)
		e.setStatus(t, projA, page[1], domain.StatusDeleting, domain.StatusDeleted)
		rest, _ := e.walk(t, tokenA, r.next(t, "checkpoints_links"), 10, nil)
		wantIDs(t, "after the deleted marker", rest, desc[2:])
	})
}

// TestFilteredPagesExact walks every filter combination through the next
// links, for a project and for an admin's all_tenants: every page but the
// last holds exactly limit checkpoints, a link appears exactly when more
// match (its marker the page's last id), and the walk lists each match
// once, in order.
func TestFilteredPagesExact(t *testing.T) {
	e := newEnv(t)
	p1, p2 := domain.NewID(), domain.NewID()
	statuses := []domain.Status{domain.StatusAvailable, domain.StatusError, domain.StatusAvailable, domain.StatusProtecting}
	var cs []*domain.Checkpoint
	for i := range 24 {
		project, plan := projA, p1
		if i%3 == 0 {
			project = projB
		}
		if i%2 == 0 {
			plan = p2
		}
		cs = append(cs, newCheckpoint(project, noop, plan, statuses[i%len(statuses)], day("2001-03-01T00:00:00Z").Add(time.Duration(i)*5*time.Hour)))
	}
	e.storeCheckpoints(t, cs)
	gone := e.storeCheckpoint(t, projA, noop, p1, domain.StatusAvailable, day("2001-03-02T01:00:00Z"))
	e.setStatus(t, projA, gone.ID, domain.StatusAvailable, domain.StatusDeleting)
	e.setStatus(t, projA, gone.ID, domain.StatusDeleting, domain.StatusDeleted)

	since, until := day("2001-03-02T00:00:00Z"), day("2001-03-04T23:59:59Z")
	for _, tc := range []struct {
		query string
		match func(c *domain.Checkpoint) bool
	}{
		{"plan_id=" + p1, func(c *domain.Checkpoint) bool { return c.Plan.ID == p1 }},
		{"status=available", func(c *domain.Checkpoint) bool { return c.Status == domain.StatusAvailable }},
		{"plan_id=" + p2 + "&status=available", func(c *domain.Checkpoint) bool {
			return c.Plan.ID == p2 && c.Status == domain.StatusAvailable
		}},
		{"start_date=2001-03-02&end_date=2001-03-04", func(c *domain.Checkpoint) bool {
			return !c.CreatedAt.Before(since) && !c.CreatedAt.After(until)
		}},
		{"status=error&start_date=2001-03-02", func(c *domain.Checkpoint) bool {
			return c.Status == domain.StatusError && !c.CreatedAt.Before(since)
		}},
		{"plan_id=" + p1 + "&end_date=2001-03-04", func(c *domain.Checkpoint) bool {
			return c.Plan.ID == p1 && !c.CreatedAt.After(until)
		}},
		{"plan_id=" + p1 + "&status=protecting&start_date=2001-03-02&end_date=2001-03-04", func(c *domain.Checkpoint) bool {
			return c.Plan.ID == p1 && c.Status == domain.StatusProtecting && !c.CreatedAt.Before(since) && !c.CreatedAt.After(until)
		}},
	} {
		for _, who := range []struct {
			name, token, extra string
			in                 func(c *domain.Checkpoint) bool
		}{
			{"project A", tokenA, "", func(c *domain.Checkpoint) bool { return c.ProjectID == projA }},
			{"all_tenants", tokenAdmin, "&all_tenants=true", func(*domain.Checkpoint) bool { return true }},
		} {
			var want []listed
			for _, c := range cs {
				if who.in(c) && tc.match(c) {
					want = append(want, listedOf(c))
				}
			}
			if len(want) == 0 {
				t.Fatalf("fixture: nothing matches %s for %s", tc.query, who.name)
			}
			tenant := projA
			if who.token == tokenAdmin {
				tenant = projAdmin
			}
			for _, limit := range []int{2, 3} {
				for _, asc := range []bool{false, true} {
					q := fmt.Sprintf("%s%s&limit=%d", tc.query, who.extra, limit)
					if asc {
						q += "&sort=created_at:asc"
					}
					next := checkpointsPath(tenant, noop) + "?" + q
					var got []string
					for pages := 1; next != ""; pages++ {
						if pages > 20 {
							t.Fatalf("%s: more than 20 pages", q)
						}
						r := e.do(t, http.MethodGet, next, who.token, nil).wantStatus(t, http.StatusOK)
						page := ids(r.list(t, "checkpoints"))
						got = append(got, page...)
						next = r.next(t, "checkpoints_links")
						more := len(got) < len(want)
						if (next != "") != more {
							t.Fatalf("%s, page %d: next link %q with %d of %d listed", q, pages, next, len(got), len(want))
						}
						if next != "" && (len(page) != limit || !strings.HasSuffix(next, "marker="+page[len(page)-1])) {
							t.Fatalf("%s, page %d: %d checkpoints and link %s; want %d and the last id as marker", q, pages, len(page), next, limit)
						}
					}
					wantIDs(t, who.name+" "+q, got, order(want, asc))
				}
			}
		}
	}
}
