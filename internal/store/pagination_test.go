package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/counting"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// TestCheckpointPagination lists 2,500 checkpoints of one project at one
// provider through markers. The tables are filled once, in batches (package
// seed), and shared by the subtests; what a page costs whatever the table's
// size is counted (package counting), not timed.
func TestCheckpointPagination(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a table of 2,580 checkpoints: skipped by -short")
	}
	t.Parallel()
	plans, table := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	s := store.New(db, plans, table)
	project, provider := newProjectID(), domain.NewID()
	rng := rand.New(rand.NewPCG(2500, 7))
	// Spread over 300 seconds, about eight checkpoints share each second:
	// their order within it is by id.
	created := func() time.Time {
		return base.Add(time.Duration(rng.IntN(300))*time.Second + time.Duration(rng.IntN(int(time.Second))))
	}

	var mine, all []*domain.Checkpoint
	for i := range 2500 {
		c := newCheckpoint(project, provider, created(), settled[i%2])
		mine = append(mine, c)
	}
	// Checkpoints that must never show up: another project at the same
	// provider, the same project at another provider, and some of this
	// listing's own that were deleted.
	for range 40 {
		all = append(all, newCheckpoint(newProjectID(), provider, created(), domain.StatusAvailable))
		all = append(all, newCheckpoint(project, domain.NewID(), created(), domain.StatusAvailable))
	}
	var deleted []*domain.Checkpoint
	for range 10 {
		deleted = append(deleted, newCheckpoint(project, provider, created(), domain.StatusAvailable))
	}
	all = append(append(all, mine...), deleted...)
	seed.Checkpoints(t, db, plans, table, all)
	for _, c := range deleted {
		deleteCheckpoint(t, s, c)
	}

	// moto's Query sorts every item of the table on each call (over 100 ms
	// at this size), so small pages walk a window of the listing: the whole
	// of it at Limit 7, both ways, would take 716 Queries.
	windowStart := base.Truncate(time.Second).Add(100 * time.Second)
	windowEnd := windowStart.Add(9 * time.Second)
	var window []*domain.Checkpoint
	for _, c := range mine {
		if at := c.CreatedAt.Truncate(time.Second); !at.Before(windowStart) && !at.After(windowEnd) {
			window = append(window, c)
		}
	}
	t.Run("markers", func(t *testing.T) {
		for _, tc := range []struct {
			limit        int
			ascending    bool
			since, until time.Time
			want         []*domain.Checkpoint
		}{
			{limit: 1000, want: mine},
			{limit: 5000, ascending: true, want: mine}, // capped: pages of 1000
			{limit: 7, since: windowStart, until: windowEnd, want: window},
			{limit: 7, ascending: true, since: windowStart, until: windowEnd, want: window},
		} {
			name := fmt.Sprintf("limit %d ascending %v", tc.limit, tc.ascending)
			if !tc.since.IsZero() {
				name += fmt.Sprintf(" window of %d", len(tc.want))
			}
			t.Run(name, func(t *testing.T) {
				got := listAllPages(t, s, domain.CheckpointQuery{
					ProviderID: provider,
					Since:      tc.since, Until: tc.until,
					Listing: domain.Listing{ProjectID: project, Limit: tc.limit, Ascending: tc.ascending},
				})
				sameIDs(t, "listing", checkpointIDs(got), listOrdered(tc.want, tc.ascending))
				for _, c := range got {
					if c.ProjectID != project || c.ProviderID != provider || c.Status == domain.StatusDeleted {
						t.Fatalf("listed %s of project %s at provider %s, status %s", c.ID, c.ProjectID, c.ProviderID, c.Status)
					}
				}
			})
		}
	})

	// A page of an unfiltered listing costs one Query reading at most
	// Limit+1 items, plus one GetItem to place a marker, whatever the size
	// of the table.
	t.Run("cost", func(t *testing.T) {
		const limit = 10
		desc, asc := listOrdered(mine, false), listOrdered(mine, true)
		middle := desc[1234]
		since := mine[0].CreatedAt.Truncate(time.Second)
		for _, tc := range []struct {
			name     string
			q        domain.CheckpointQuery
			want     []string // ids of the page
			getItems int
			queries  int
		}{
			{"first page", domain.CheckpointQuery{}, desc[:limit], 0, 1},
			{"first page ascending", domain.CheckpointQuery{Listing: domain.Listing{Ascending: true}}, asc[:limit], 0, 1},
			{"marker", domain.CheckpointQuery{Listing: domain.Listing{Marker: middle}}, desc[1235 : 1235+limit], 1, 1},
			{"marker ascending", domain.CheckpointQuery{Listing: domain.Listing{Marker: middle, Ascending: true}}, asc[len(asc)-1234 : len(asc)-1234+limit], 1, 1},
			{"last page", domain.CheckpointQuery{Listing: domain.Listing{Marker: desc[len(desc)-4]}}, desc[len(desc)-3:], 1, 1},
			{"date range", domain.CheckpointQuery{Since: since, Until: since.Add(10 * time.Second)}, nil, 0, 1},
			{"date range and marker", domain.CheckpointQuery{Since: since.Add(-100 * time.Second), Until: since.Add(100 * time.Second), Listing: domain.Listing{Marker: mine[0].ID}}, nil, 1, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				counter := counting.New(db)
				q := tc.q
				q.ProviderID, q.ProjectID, q.Limit = provider, project, limit
				page, err := store.New(counter, plans, table).ListCheckpoints(t.Context(), q)
				if err != nil {
					t.Fatalf("ListCheckpoints: %v", err)
				}
				counts := counter.Counts()
				if tc.want != nil {
					sameIDs(t, "page", checkpointIDs(page.Items), tc.want)
				}
				if counts.Queries != tc.queries || counts.GetItems != tc.getItems || counts.Writes != 0 {
					t.Errorf("%d Query, %d GetItem, %d writes; want %d, %d, 0", counts.Queries, counts.GetItems, counts.Writes, tc.queries, tc.getItems)
				}
				for i := range counts.QueryItems {
					if counts.QueryItems[i] > limit+1 || counts.Scanned[i] > limit+1 {
						t.Errorf("Query %d returned %d items and evaluated %d, want at most %d of %d in the table",
							i+1, counts.QueryItems[i], counts.Scanned[i], limit+1, len(all))
					}
				}
			})
		}

		// Across projects a marker is placed by a Query on its id (the table
		// key's hash), which reads one item; the page is one Query of each
		// shard of by_provider, each reading at most limit+1 items, merged.
		t.Run("all projects with marker", func(t *testing.T) {
			counter := counting.New(db)
			page, err := store.New(counter, plans, table).ListCheckpoints(t.Context(), domain.CheckpointQuery{
				ProviderID: provider,
				Listing:    domain.Listing{Limit: limit, Marker: middle},
			})
			if err != nil {
				t.Fatalf("ListCheckpoints: %v", err)
			}
			counts := counter.Counts()
			if len(page.Items) != limit || !page.More {
				t.Errorf("%d checkpoints, More %v", len(page.Items), page.More)
			}
			if counts.Queries != 1+store.Shards || counts.GetItems != 0 || counts.Writes != 0 {
				t.Errorf("%d Query, %d GetItem, %d writes; want %d, 0, 0", counts.Queries, counts.GetItems, counts.Writes, 1+store.Shards)
			}
			if len(counts.QueryItems) > 0 && counts.QueryItems[0] != 1 {
				t.Errorf("the marker's Query returned %d items, want 1", counts.QueryItems[0])
			}
			for i := 1; i < len(counts.Scanned); i++ {
				if counts.QueryItems[i] > limit+1 || counts.Scanned[i] > limit+1 {
					t.Errorf("shard Query %d returned %d items, evaluated %d; want at most %d", i, counts.QueryItems[i], counts.Scanned[i], limit+1)
				}
			}
			t.Logf("all projects, limit %d, with a marker: %d Queries reading %v items", limit, counts.Queries, counts.Scanned)
		})
	})
}

// TestListAllProjects lists one provider's checkpoints across projects, as an
// admin's all_tenants listing does.
func TestListAllProjects(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	provider, otherProvider := domain.NewID(), domain.NewID()
	var listed []*domain.Checkpoint
	for p := range 3 {
		project := newProjectID()
		for i := range 12 {
			// Projects interleave in time, several in one second.
			listed = append(listed, newCheckpoint(project, provider, base.Add(time.Duration(i*3+p)*300*time.Millisecond), settled[i%2]))
		}
	}
	var hidden []*domain.Checkpoint
	for i := range 6 {
		hidden = append(hidden, newCheckpoint(newProjectID(), otherProvider, base.Add(time.Duration(i)*time.Second), domain.StatusAvailable))
	}
	gone := newCheckpoint(listed[0].ProjectID, provider, base.Add(2*time.Second), domain.StatusAvailable)
	createCheckpoints(t, s, listed...)
	createCheckpoints(t, s, hidden...)
	createCheckpoints(t, s, gone)
	deleteCheckpoint(t, s, gone)

	limits := []int{1, 5, 36, 1000}
	if testing.Short() {
		limits = limits[1:] // a page of one costs 16 shard Queries per item
	}
	for _, limit := range limits {
		for _, asc := range []bool{false, true} {
			got := listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{Limit: limit, Ascending: asc}})
			sameIDs(t, fmt.Sprintf("every project, limit %d, ascending %v", limit, asc), checkpointIDs(got), listOrdered(listed, asc))
		}
	}

	_, err := s.ListCheckpoints(t.Context(), domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{Marker: hidden[0].ID}})
	wantErr(t, "marker at another provider", err, domain.ErrBadMarker)
	_, err = s.ListCheckpoints(t.Context(), domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{Marker: domain.NewID()}})
	wantErr(t, "unknown marker", err, domain.ErrBadMarker)

	// The deleted checkpoint still places its marker.
	want := listOrdered(append(slices.Clone(listed), gone), false)
	at := slices.Index(want, gone.ID)
	got := listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{Limit: 4, Marker: gone.ID}})
	sameIDs(t, "after a deleted marker", checkpointIDs(got), want[at+1:])
}
