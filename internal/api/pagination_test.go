package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/counting"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// TestPaginationAtScale proves the listing's scale properties by counting
// what requests cost, not by timing them: over a table of 2,500 checkpoints
// (seeded in batches) plus a few created through the API, any page (the
// first, one after a marker, the last; either order; with a date range or a
// filter) costs one Query of the store reading at most limit+1 items, plus
// one GetItem to place a marker, however large the table. The page size is
// capped at 1000, and the whole listing at that size is every checkpoint
// exactly once, in order. That every item is listed exactly once at small
// page sizes, with checkpoints created between pages, is walked on a small
// table by TestPaginationWalk.
func TestPaginationAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a table of 2,500 checkpoints: skipped by -short")
	}
	plans, checkpoints := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	counter := counting.New(db)
	e := newEnvWith(t, store.New(counter, plans, checkpoints))
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	const n = 2500
	base := day("2001-06-01T00:00:00Z")
	cs := make([]*domain.Checkpoint, 0, n)
	seeded := make([]listed, 0, n)
	for i := range n {
		// Three to a second, so that ties are broken by id.
		second := i / 3
		c := newCheckpoint(projA, noop, planID, domain.StatusAvailable, base.Add(time.Duration(second)*time.Second))
		// moto sorts a whole table by id on every Query; ids that grow with
		// the second (still random within it) keep that sort cheap. The
		// service treats them as any other UUID.
		c.ID = fmt.Sprintf("%08x", second) + c.ID[8:]
		cs = append(cs, c)
		seeded = append(seeded, listedOf(c))
	}
	// Another project's checkpoints at the same times stay out.
	cs = append(cs,
		newCheckpoint(projB, noop, planID, domain.StatusAvailable, base),
		newCheckpoint(projB, noop, planID, domain.StatusAvailable, base.Add(100*time.Second)))
	seed.Checkpoints(t, db, plans, checkpoints, cs)
	all := slices.Clone(seeded)
	for range 3 {
		all = append(all, listedView(e.createCheckpoint(t, tokenA, projA, planID)))
	}
	path := checkpointsPath(projA, noop)
	desc, asc := order(all, false), order(all, true)

	// The page size is capped at 1000, the default: three pages each way,
	// every checkpoint once, in order.
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"?limit=5000", desc},
		{"?sort=created_at:asc", asc},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var seen []string
			var sizes []int
			for next := path + tc.query; next != ""; {
				if len(sizes) == 3 {
					t.Fatalf("more than 3 pages: %v so far", sizes)
				}
				r := e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK)
				page := ids(r.list(t, "checkpoints"))
				seen, sizes = append(seen, page...), append(sizes, len(page))
				next = r.next(t, "checkpoints_links")
			}
			wantIDs(t, tc.query, seen, tc.want)
			if want := []int{1000, 1000, len(all) - 2000}; !slices.Equal(sizes, want) {
				t.Errorf("pages of %v, want %v", sizes, want)
			}
		})
	}

	// What one page costs, wherever it is in the listing.
	t.Run("cost of a page", func(t *testing.T) {
		const limit = 7
		seededDesc, seededAsc := order(seeded, false), order(seeded, true)
		// The seeded checkpoints are all of 2001-06-01; the API's are of
		// today.
		const seededDay = "&start_date=2001-06-01&end_date=2001-06-01"
		for _, tc := range []struct {
			name     string
			query    string
			want     []string // the page's ids
			filtered bool     // a filter: Queries may read past limit+1
		}{
			{"first page", "", desc[:limit], false},
			{"first page ascending", "&sort=created_at:asc", asc[:limit], false},
			{"after a marker", "&marker=" + desc[1234], desc[1235 : 1235+limit], false},
			{"after a marker ascending", "&sort=created_at:asc&marker=" + asc[1234], asc[1235 : 1235+limit], false},
			{"last page", "&marker=" + desc[len(desc)-4], desc[len(desc)-3:], false},
			{"last page ascending", "&sort=created_at:asc&marker=" + asc[len(asc)-3], asc[len(asc)-2:], false},
			{"date range", seededDay, seededDesc[:limit], false},
			{"date range ascending", seededDay + "&sort=created_at:asc", seededAsc[:limit], false},
			{"date range after a marker", seededDay + "&marker=" + seededDesc[2000], seededDesc[2001 : 2001+limit], false},
			{"date range after a marker ascending", seededDay + "&sort=created_at:asc&marker=" + seededAsc[2000], seededAsc[2001 : 2001+limit], false},
			{"filter", "&status=available", seededDesc[:limit], true},
			{"filter after a marker ascending", "&plan_id=" + planID + "&sort=created_at:asc&marker=" + asc[1500], asc[1501 : 1501+limit], true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				query := path + "?limit=" + strconv.Itoa(limit) + tc.query
				counter.Reset()
				r := e.do(t, http.MethodGet, query, tokenA, nil).wantStatus(t, http.StatusOK)
				got := counter.Counts()
				wantIDs(t, query, ids(r.list(t, "checkpoints")), tc.want)
				getItems := 0 // one to place a marker
				if params, _ := url.ParseQuery(strings.TrimPrefix(tc.query, "&")); params.Has("marker") {
					getItems = 1
				}
				if got.Queries != 1 || got.GetItems != getItems || got.Writes != 0 {
					t.Errorf("%d Query, %d GetItem, %d writes; want 1, %d, 0", got.Queries, got.GetItems, got.Writes, getItems)
				}
				// Unfiltered, a Query reads what the page shows and one
				// more (to know whether another page follows); filtered,
				// it reads in larger steps, never more than the largest
				// page and one: either way not the table.
				most := limit + 1
				if tc.filtered {
					most = domain.MaxPageLimit + 1
				}
				for i, scanned := range got.Scanned {
					if scanned > most {
						t.Errorf("Query %d read %d items, want at most %d of the table's %d", i+1, scanned, most, len(cs)+3)
					}
				}
			})
		}
	})
}

// TestPaginationWalk follows the next links over a small listing at a
// small page size, both ways: every checkpoint exactly once, in order, the
// expected number of pages; also while checkpoints are created between the
// pages: new ones are the newest, so newest first (where the walk is past
// them) they never show, and oldest first they show where their time puts
// them, once each.
func TestPaginationWalk(t *testing.T) {
	e := newEnv(t)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	base := day("2001-07-01T00:00:00Z")
	var cs []*domain.Checkpoint
	var all []listed
	for i := range 27 {
		// Three to a second: ties broken by id, across page boundaries.
		c := newCheckpoint(projA, noop, planID, domain.StatusAvailable, base.Add(time.Duration(i/3)*time.Second))
		cs = append(cs, c)
		all = append(all, listedOf(c))
	}
	cs = append(cs,
		newCheckpoint(projB, noop, planID, domain.StatusAvailable, base.Add(time.Second)),
		newCheckpoint(projA, otherProvider, planID, domain.StatusAvailable, base.Add(2*time.Second)))
	e.storeCheckpoints(t, cs)
	for range 3 {
		all = append(all, listedView(e.createCheckpoint(t, tokenA, projA, planID)))
	}
	path := checkpointsPath(projA, noop)
	const limit = 7
	pages := (len(all) + limit - 1) / limit

	for _, ascending := range []bool{false, true} {
		query := "limit=" + strconv.Itoa(limit) + "&sort=created_at:desc"
		if ascending {
			query = "limit=" + strconv.Itoa(limit) + "&sort=created_at:asc"
		}
		want := order(all, ascending)
		t.Run(query, func(t *testing.T) {
			seen, got := e.walk(t, tokenA, path+"?"+query, pages, nil)
			wantIDs(t, query, seen, want)
			if got != pages {
				t.Errorf("%d pages, want %d", got, pages)
			}
		})

		t.Run(query+" while checkpoints are created", func(t *testing.T) {
			var created []listed
			seen, _ := e.walk(t, tokenA, path+"?"+query, 2*pages, func(int) {
				created = append(created, listedView(e.createCheckpoint(t, tokenA, projA, planID)))
			})
			// Every checkpoint of the start once, in order; new ones
			// only where their time puts them, once each.
			byID := map[string]listed{}
			for _, c := range all {
				byID[c.id] = c
			}
			var old, listedSeen []listed
			for _, id := range seen {
				c, ok := byID[id]
				if ok {
					old = append(old, c)
				} else if i := slices.IndexFunc(created, func(c listed) bool { return c.id == id }); i >= 0 {
					c = created[i]
				} else {
					t.Fatalf("%s: listed %s, neither there at the start nor created during the walk", query, id)
				}
				listedSeen = append(listedSeen, c)
			}
			oldIDs := make([]string, 0, len(old))
			for _, c := range old {
				oldIDs = append(oldIDs, c.id)
			}
			wantIDs(t, query+" (there at the start)", oldIDs, want)
			wantIDs(t, query+" (in order)", seen, order(listedSeen, ascending))
			counts := map[string]int{}
			for _, id := range seen {
				if counts[id]++; counts[id] == 2 {
					t.Errorf("%s: %s listed twice", query, id)
				}
			}
			switch {
			case ascending && len(old) == len(seen):
				t.Errorf("oldest first, none of the %d checkpoints created during the walk was listed", len(created))
			case !ascending && len(old) != len(seen):
				t.Errorf("newest first, %d checkpoints created during the walk were listed behind its marker", len(seen)-len(old))
			}
			// Leave the new ones out of the next walk.
			for _, c := range created {
				e.setStatus(t, projA, c.id, domain.StatusProtecting, domain.StatusAvailable)
				e.setStatus(t, projA, c.id, domain.StatusAvailable, domain.StatusDeleting)
				e.setStatus(t, projA, c.id, domain.StatusDeleting, domain.StatusDeleted)
			}
		})
	}
}
