package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/testsupport/testenv"
)

func TestCheckpointFilters(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	// sec(n) is the n-th second of the fixtures, a whole second.
	sec := func(n int) time.Time { return base.Truncate(time.Second).Add(time.Duration(n) * time.Second) }
	planA, planB := domain.NewID(), domain.NewID()
	listable := []domain.Status{domain.StatusAvailable, domain.StatusError, domain.StatusProtecting, domain.StatusDeleting, domain.StatusErrorDeleting}

	// 40 checkpoints over ten seconds, four in each, at fractions of it.
	var cs []*domain.Checkpoint
	for i := range 40 {
		c := newCheckpoint(project, provider, sec(i/4).Add(time.Duration(i%4)*220*time.Millisecond), listable[i%len(listable)])
		c.Plan.ID = planA
		if i%3 == 0 {
			c.Plan.ID = planB
		}
		cs = append(cs, c)
	}
	otherProvider := newCheckpoint(project, domain.NewID(), sec(5), domain.StatusAvailable)
	otherProject := newCheckpoint(newProjectID(), provider, sec(5), domain.StatusAvailable)
	otherProvider.Plan.ID, otherProject.Plan.ID = planA, planA
	createCheckpoints(t, s, cs...)
	createCheckpoints(t, s, otherProvider, otherProject)

	// shown reports whether c's created_at, as shown (to the second), lies
	// in [since, until]; a zero bound is open.
	shown := func(c *domain.Checkpoint, since, until time.Time) bool {
		at := c.CreatedAt.Truncate(time.Second)
		return (since.IsZero() || !at.Before(since)) && (until.IsZero() || !at.After(until))
	}
	half := 500 * time.Millisecond
	tests := []struct {
		name  string
		q     domain.CheckpointQuery
		match func(c *domain.Checkpoint) bool
		count int // how many match, to keep the cases honest
	}{
		{"plan", domain.CheckpointQuery{PlanID: planB}, func(c *domain.Checkpoint) bool { return c.Plan.ID == planB }, 14},
		{"unknown plan", domain.CheckpointQuery{PlanID: domain.NewID()}, func(*domain.Checkpoint) bool { return false }, 0},
		{"status", domain.CheckpointQuery{Status: domain.StatusError}, func(c *domain.Checkpoint) bool { return c.Status == domain.StatusError }, 8},
		{"plan and status", domain.CheckpointQuery{PlanID: planA, Status: domain.StatusAvailable}, func(c *domain.Checkpoint) bool {
			return c.Plan.ID == planA && c.Status == domain.StatusAvailable
		}, 5},
		{"plan and dates", domain.CheckpointQuery{PlanID: planA, Since: sec(3), Until: sec(6)}, func(c *domain.Checkpoint) bool {
			return c.Plan.ID == planA && shown(c, sec(3), sec(6))
		}, 10},
		{"status and dates", domain.CheckpointQuery{Status: domain.StatusAvailable, Since: sec(2)}, func(c *domain.Checkpoint) bool {
			return c.Status == domain.StatusAvailable && shown(c, sec(2), time.Time{})
		}, 6},
		{"since", domain.CheckpointQuery{Since: sec(3)}, func(c *domain.Checkpoint) bool { return shown(c, sec(3), time.Time{}) }, 28},
		{"until", domain.CheckpointQuery{Until: sec(6)}, func(c *domain.Checkpoint) bool { return shown(c, time.Time{}, sec(6)) }, 28},
		{"since and until", domain.CheckpointQuery{Since: sec(3), Until: sec(6)}, func(c *domain.Checkpoint) bool { return shown(c, sec(3), sec(6)) }, 16},
		{"one second", domain.CheckpointQuery{Since: sec(4), Until: sec(4)}, func(c *domain.Checkpoint) bool { return shown(c, sec(4), sec(4)) }, 4},
		{"since with a fraction", domain.CheckpointQuery{Since: sec(3).Add(half)}, func(c *domain.Checkpoint) bool { return shown(c, sec(3).Add(half), time.Time{}) }, 24},
		{"until with a fraction", domain.CheckpointQuery{Until: sec(6).Add(half)}, func(c *domain.Checkpoint) bool { return shown(c, time.Time{}, sec(6).Add(half)) }, 28},
		{"both with fractions", domain.CheckpointQuery{Since: sec(3).Add(half), Until: sec(6).Add(half)}, func(c *domain.Checkpoint) bool {
			return shown(c, sec(3).Add(half), sec(6).Add(half))
		}, 12},
		{"inside one second", domain.CheckpointQuery{Since: sec(4).Add(100 * time.Millisecond), Until: sec(4).Add(900 * time.Millisecond)}, func(*domain.Checkpoint) bool { return false }, 0},
		{"non-UTC bounds", domain.CheckpointQuery{Since: sec(3).In(time.FixedZone("JST", 9*3600)), Until: sec(6).In(time.FixedZone("EST", -5*3600))}, func(c *domain.Checkpoint) bool {
			return shown(c, sec(3), sec(6))
		}, 16},
		{"since after until", domain.CheckpointQuery{Since: sec(6), Until: sec(3)}, func(*domain.Checkpoint) bool { return false }, 0},
		{"before everything", domain.CheckpointQuery{Until: sec(-1)}, func(*domain.Checkpoint) bool { return false }, 0},
		{"range, plan and status", domain.CheckpointQuery{Since: sec(2), Until: sec(8), PlanID: planA, Status: domain.StatusProtecting}, func(c *domain.Checkpoint) bool {
			return shown(c, sec(2), sec(8)) && c.Plan.ID == planA && c.Status == domain.StatusProtecting
		}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []*domain.Checkpoint
			for _, c := range cs {
				if tc.match(c) {
					want = append(want, c)
				}
			}
			if len(want) != tc.count {
				t.Fatalf("fixture: %d checkpoints match, the case expects %d", len(want), tc.count)
			}
			// Every project (admin all_tenants): the other project's
			// checkpoint too, when it matches.
			wantAll := want
			if tc.match(otherProject) {
				wantAll = append(slices.Clone(want), otherProject)
			}
			// 4 divides most counts: a full last page must say no More.
			// The fast tier walks pages of 4 only, and every project
			// (16 shard Queries a page) newest first only.
			limits := []int{4, 1000}
			if testing.Short() {
				limits = limits[:1]
			}
			for _, limit := range limits {
				for _, asc := range []bool{false, true} {
					q := tc.q
					q.ProviderID, q.ProjectID, q.Limit, q.Ascending = provider, project, limit, asc
					got := listAllPages(t, s, q)
					sameIDs(t, fmt.Sprintf("limit %d ascending %v", limit, asc), checkpointIDs(got), listOrdered(want, asc))
					if testing.Short() && asc {
						continue
					}
					q.ProjectID = ""
					got = listAllPages(t, s, q)
					sameIDs(t, fmt.Sprintf("all projects, limit %d ascending %v", limit, asc), checkpointIDs(got), listOrdered(wantAll, asc))
				}
			}
		})
	}

	// With a date range, a listing walks from its near end to its far end.
	t.Run("marker outside the date range", func(t *testing.T) {
		inRange := func(c *domain.Checkpoint) bool { return shown(c, sec(3), sec(6)) }
		early, late := cs[2], cs[33] // seconds 0 and 8
		for _, tc := range []struct {
			name      string
			ascending bool
			marker    *domain.Checkpoint
			err       error // else an empty last page
		}{
			{"ascending, before the range", true, early, domain.ErrBadMarker},
			{"ascending, after the range", true, late, nil},
			{"descending, after the range", false, late, domain.ErrBadMarker},
			{"descending, before the range", false, early, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if inRange(tc.marker) {
					t.Fatalf("fixture: marker %v is in the range", tc.marker.CreatedAt)
				}
				page, err := s.ListCheckpoints(t.Context(), domain.CheckpointQuery{
					ProviderID: provider, Since: sec(3), Until: sec(6),
					Listing: domain.Listing{ProjectID: project, Ascending: tc.ascending, Marker: tc.marker.ID, Limit: 5},
				})
				if tc.err != nil {
					wantErr(t, "ListCheckpoints", err, tc.err)
					return
				}
				if err != nil {
					t.Fatalf("ListCheckpoints: %v", err)
				}
				if len(page.Items) != 0 || page.More {
					t.Errorf("%d checkpoints, More %v; want an empty last page", len(page.Items), page.More)
				}
			})
		}
		// Only one bound: the other side is open.
		page, err := s.ListCheckpoints(t.Context(), domain.CheckpointQuery{
			ProviderID: provider, Until: sec(6),
			Listing: domain.Listing{ProjectID: project, Ascending: true, Marker: early.ID, Limit: 1000},
		})
		if err != nil {
			t.Fatalf("ascending to a bound, marker before it: %v", err)
		}
		var want []*domain.Checkpoint
		for _, c := range cs {
			if shown(c, time.Time{}, sec(6)) {
				want = append(want, c)
			}
		}
		order := listOrdered(want, true)
		sameIDs(t, "ascending from an early marker", checkpointIDs(page.Items), order[slices.Index(order, early.ID)+1:])
	})

	t.Run("marker of another listing", func(t *testing.T) {
		for name, marker := range map[string]string{
			"another provider": otherProvider.ID,
			"another project":  otherProject.ID,
			"unknown":          domain.NewID(),
		} {
			for _, q := range []domain.CheckpointQuery{
				{ProviderID: provider, Listing: domain.Listing{ProjectID: project, Marker: marker}},
				{ProviderID: provider, PlanID: planA, Listing: domain.Listing{ProjectID: project, Marker: marker, Ascending: true}},
			} {
				_, err := s.ListCheckpoints(t.Context(), q)
				wantErr(t, name, err, domain.ErrBadMarker)
			}
		}
	})

	t.Run("marker deleted since", func(t *testing.T) {
		// A fresh provider, so that deleting does not disturb the other cases.
		provider := domain.NewID()
		var mine []*domain.Checkpoint
		for i := range 12 {
			mine = append(mine, newCheckpoint(project, provider, sec(i/3), settled[i%2]))
		}
		createCheckpoints(t, s, mine...)
		for _, tc := range []struct {
			name string
			q    domain.CheckpointQuery
		}{
			{"descending", domain.CheckpointQuery{Listing: domain.Listing{ProjectID: project}}},
			{"ascending", domain.CheckpointQuery{Listing: domain.Listing{ProjectID: project, Ascending: true}}},
			{"every project", domain.CheckpointQuery{}},
			{"filtered on its old status", domain.CheckpointQuery{Status: domain.StatusAvailable, Listing: domain.Listing{ProjectID: project}}},
			{"every project, filtered on its old status", domain.CheckpointQuery{Status: domain.StatusAvailable}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := tc.q
				q.ProviderID, q.Limit = provider, 2
				var live []*domain.Checkpoint
				for _, c := range mine {
					if c.Status != domain.StatusDeleted && (q.Status == "" || c.Status == q.Status) {
						live = append(live, c)
					}
				}
				want := listOrdered(live, q.Ascending)
				page, err := s.ListCheckpoints(t.Context(), q)
				if err != nil {
					t.Fatalf("first page: %v", err)
				}
				sameIDs(t, "first page", checkpointIDs(page.Items), want[:2])
				marker := page.Items[1]
				for _, c := range mine {
					if c.ID == marker.ID {
						deleteCheckpoint(t, s, c)
						c.Status = domain.StatusDeleted
					}
				}
				q.Marker = marker.ID
				sameIDs(t, "after the deleted marker", checkpointIDs(listAllPages(t, s, q)), want[2:])
			})
		}
	})
}
