package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"karbor/internal/domain"
)

// TestPaginationAtScale walks 2,500 checkpoints (written with the store: the
// API would take too long) plus a few created through the API, following
// the next links: every checkpoint exactly once, in order.
func TestPaginationAtScale(t *testing.T) {
	e := newEnv(t)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)
	const n = 2500
	base := day("2001-06-01T00:00:00Z")
	cs := make([]*domain.Checkpoint, 0, n)
	all := make([]listed, 0, n+3)
	for i := range n {
		// Three to a second, so that ties are broken by id.
		second := i / 3
		c := newCheckpoint(projA, noop, planID, domain.StatusAvailable, base.Add(time.Duration(second)*time.Second))
		// moto sorts a whole table by id on every Query; ids that grow with
		// the second (still random within it) keep that sort cheap. The
		// service treats them as any other UUID.
		c.ID = fmt.Sprintf("%08x", second) + c.ID[8:]
		cs = append(cs, c)
		all = append(all, listedOf(c))
	}
	e.storeCheckpoints(t, cs)
	for range 3 {
		all = append(all, listedView(e.createCheckpoint(t, tokenA, projA, planID)))
	}
	// Another project's checkpoints at the same times stay out.
	e.storeCheckpoints(t, []*domain.Checkpoint{
		newCheckpoint(projB, noop, planID, domain.StatusAvailable, base),
		newCheckpoint(projB, noop, planID, domain.StatusAvailable, base.Add(100*time.Second)),
	})
	path := checkpointsPath(projA, noop)
	desc, asc := order(all, false), order(all, true)

	t.Run("limit capped at 1000", func(t *testing.T) {
		for _, query := range []string{"?limit=5000", ""} {
			r := e.do(t, http.MethodGet, path+query, tokenA, nil).wantStatus(t, http.StatusOK)
			wantIDs(t, "first page "+query, ids(r.list(t, "checkpoints")), desc[:1000])
			if r.next(t, "checkpoints_links") == "" {
				t.Errorf("%s: no next link after 1000 of %d", query, len(all))
			}
		}
	})

	// Both orders at limit=7 too: 358 pages each, the slow part of this
	// package (moto's Query cost grows with the table), kept because the
	// contract promises every checkpoint exactly once at any page size.
	for _, tc := range []struct {
		limit int
		sort  string
		want  []string
	}{
		{1000, "created_at:desc", desc},
		{1000, "created_at:asc", asc},
		{7, "created_at:desc", desc},
		{7, "created_at:asc", asc},
	} {
		query := "limit=" + strconv.Itoa(tc.limit) + "&sort=" + tc.sort
		t.Run(query, func(t *testing.T) {
			pages := (len(all) + tc.limit - 1) / tc.limit
			seen, got := e.walk(t, tokenA, path+"?"+query, pages, nil)
			wantIDs(t, query, seen, tc.want)
			if got != pages {
				t.Errorf("%d pages, want %d", got, pages)
			}
		})
	}
}
