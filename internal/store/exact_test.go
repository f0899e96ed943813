package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/counting"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// TestFilteredPageCost proves that a filtered page costs one Query reading
// at most Limit+1 items (plus one read to place a marker) however large the
// listing it filters, and is exact: a table of 3,000 checkpoints of one
// project at one provider, where the filters match a few. Every project
// (all_tenants) costs one Query per shard for the sharded indexes.
func TestFilteredPageCost(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a table of 3,000 checkpoints: skipped by -short")
	}
	t.Parallel()
	plans, table := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	project, other, provider := newProjectID(), newProjectID(), domain.NewID()
	rng := rand.New(rand.NewPCG(3000, 11))
	created := func() time.Time { return base.Add(time.Duration(rng.IntN(600_000)) * time.Millisecond) }
	rare, common := domain.NewID(), domain.NewID()
	var all, rarePlan, errored, rareErrored, otherErrored []*domain.Checkpoint
	for i := range 3000 {
		c := newCheckpoint(project, provider, created(), domain.StatusAvailable)
		c.Plan.ID = common
		switch {
		case i%250 == 0: // 12 of the rare plan, 4 of them errored
			c.Plan.ID = rare
			rarePlan = append(rarePlan, c)
			if i%750 == 0 {
				c.Status = domain.StatusError
				rareErrored = append(rareErrored, c)
				errored = append(errored, c)
			}
		case i%200 == 1: // 15 errored of the common plan
			c.Status = domain.StatusError
			errored = append(errored, c)
		}
		all = append(all, c)
	}
	// Another project: 5 errored checkpoints, for all_tenants.
	for range 5 {
		c := newCheckpoint(other, provider, created(), domain.StatusError)
		otherErrored = append(otherErrored, c)
		all = append(all, c)
	}
	seed.Checkpoints(t, db, plans, table, all)

	const limit = 10
	for _, tc := range []struct {
		name    string
		q       domain.CheckpointQuery
		want    []*domain.Checkpoint
		queries int // Queries of the page (the marker's Query aside)
		bounded int // the most items one Query may read: limit+1, or the plan's checkpoints
	}{
		{"plan", domain.CheckpointQuery{PlanID: rare, Listing: domain.Listing{ProjectID: project}}, rarePlan, 1, limit + 1},
		{"status", domain.CheckpointQuery{Status: domain.StatusError, Listing: domain.Listing{ProjectID: project}}, errored, 1, limit + 1},
		{"plan and status", domain.CheckpointQuery{PlanID: rare, Status: domain.StatusError, Listing: domain.Listing{ProjectID: project}}, rareErrored, 1, len(rarePlan)},
		{"plan, all projects", domain.CheckpointQuery{PlanID: rare}, rarePlan, 1, limit + 1},
		{"status, all projects", domain.CheckpointQuery{Status: domain.StatusError}, append(slices.Clone(errored), otherErrored...), store.Shards, limit + 1},
		{"plan and status, all projects", domain.CheckpointQuery{PlanID: rare, Status: domain.StatusError}, rareErrored, 1, len(rarePlan)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := listOrdered(tc.want, false)
			var got []string
			q := tc.q
			q.ProviderID, q.Limit = provider, limit
			for pages := 1; ; pages++ {
				counter := counting.New(db)
				page, err := store.New(counter, plans, table).ListCheckpoints(t.Context(), q)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				counts := counter.Counts()
				queries, getItems := tc.queries, 0
				if q.Marker != "" {
					if q.ProjectID != "" {
						getItems = 1
					} else {
						queries++ // the marker, by id: one item
					}
				}
				if counts.Queries != queries || counts.GetItems != getItems || counts.Writes != 0 {
					t.Errorf("page %d: %d Query, %d GetItem, %d writes; want %d, %d, 0", pages, counts.Queries, counts.GetItems, counts.Writes, queries, getItems)
				}
				for i, n := range counts.Scanned {
					if n > tc.bounded {
						t.Errorf("page %d: Query %d read %d items of %d in the table, want at most %d", pages, i+1, n, len(all), tc.bounded)
					}
				}
				t.Logf("page %d: %d items, %d Queries reading %v items, %d GetItem", pages, len(page.Items), counts.Queries, counts.Scanned, counts.GetItems)
				if page.More && len(page.Items) != limit {
					t.Fatalf("page %d: %d items and a next page, want %d", pages, len(page.Items), limit)
				}
				got = append(got, checkpointIDs(page.Items)...)
				if !page.More {
					break
				}
				q.Marker = page.NextMarker
			}
			sameIDs(t, "listing", got, want)
		})
	}
}

// TestShardedListing walks every project's checkpoints (by_provider and
// by_status_all, Shards partitions each) in pages, both ways: every item
// once, in order, whichever shards the page boundaries fall in, with
// markers of every shard, also one deleted since.
func TestShardedListing(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	provider := domain.NewID()
	var cs []*domain.Checkpoint
	shards := map[int]bool{}
	for i := range 60 {
		// Three projects, several checkpoints per second: ties are
		// broken by id, across shards.
		c := newCheckpoint(fmt.Sprintf("%032d", i%3), provider, base.Add(time.Duration(i)*250*time.Millisecond), settled[i%2])
		shards[store.ShardOf(c.ID)] = true
		cs = append(cs, c)
	}
	if len(shards) < store.Shards/2 {
		t.Fatalf("fixture: %d checkpoints in only %d shards", len(cs), len(shards))
	}
	createCheckpoints(t, s, cs...)
	for _, limit := range []int{7, 1000} {
		for _, asc := range []bool{false, true} {
			got := listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{Limit: limit, Ascending: asc}})
			sameIDs(t, fmt.Sprintf("limit %d ascending %v", limit, asc), checkpointIDs(got), listOrdered(cs, asc))
		}
	}
	var errored []*domain.Checkpoint
	for _, c := range cs {
		if c.Status == domain.StatusError {
			errored = append(errored, c)
		}
	}
	for _, asc := range []bool{false, true} {
		got := listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Status: domain.StatusError, Listing: domain.Listing{Limit: 4, Ascending: asc}})
		sameIDs(t, fmt.Sprintf("errored, ascending %v", asc), checkpointIDs(got), listOrdered(errored, asc))
	}
	// A marker deleted since still places the walk, in every shard.
	order := listOrdered(cs, false)
	gone := cs[slices.Index(checkpointIDs(cs), order[20])]
	if _, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: gone.ProjectID, ProviderID: provider, ID: gone.ID, From: settled, To: domain.StatusDeleting}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: gone.ProjectID, ProviderID: provider, ID: gone.ID, From: []domain.Status{domain.StatusDeleting}, To: domain.StatusDeleted}); err != nil {
		t.Fatalf("deleted: %v", err)
	}
	got := listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{Limit: 6, Marker: gone.ID}})
	sameIDs(t, "after a deleted marker", checkpointIDs(got), order[21:])
}

// TestStatusKeysFollowStatus: a status change moves the checkpoint from
// one status listing to the other, for its project and for every project.
func TestStatusKeysFollowStatus(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	var cs []*domain.Checkpoint
	for i := range 6 {
		cs = append(cs, newCheckpoint(project, provider, base.Add(time.Duration(i)*time.Second), domain.StatusProtecting))
	}
	createCheckpoints(t, s, cs...)
	for _, c := range cs[:4] {
		if _, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: project, ProviderID: provider, ID: c.ID, From: []domain.Status{domain.StatusProtecting}, To: domain.StatusAvailable}); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
	}
	if _, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: project, ProviderID: provider, ID: cs[0].ID, From: settled, To: domain.StatusError}); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	for st, want := range map[domain.Status][]*domain.Checkpoint{
		domain.StatusProtecting: cs[4:],
		domain.StatusAvailable:  cs[1:4],
		domain.StatusError:      cs[:1],
	} {
		for _, projectID := range []string{project, ""} {
			got := listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Status: st, Listing: domain.Listing{ProjectID: projectID, Limit: 2}})
			sameIDs(t, fmt.Sprintf("%s, project %q", st, projectID), checkpointIDs(got), listOrdered(want, false))
			got = listAllPages(t, s, domain.CheckpointQuery{ProviderID: provider, Status: st, PlanID: cs[0].Plan.ID, Listing: domain.Listing{ProjectID: projectID}})
			var wantPlan []*domain.Checkpoint
			if slices.Contains(want, cs[0]) {
				wantPlan = cs[:1]
			}
			sameIDs(t, fmt.Sprintf("%s of a plan, project %q", st, projectID), checkpointIDs(got), checkpointIDs(wantPlan))
		}
	}
}

// TestStuckAcrossShards: the sweeper's Stuck reads every shard of
// by_pending (one Query each, reading at most max items) and returns the
// oldest first, each once; batch after batch, every stuck checkpoint comes
// once, in order.
func TestStuckAcrossShards(t *testing.T) {
	t.Parallel()
	plans, table := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	s := store.New(db, plans, table)
	project, provider := newProjectID(), domain.NewID()
	var stuck []*domain.Checkpoint
	for i := range 40 {
		// Two a second: ties on updated_at, broken by id.
		c := newCheckpoint(project, provider, base.Add(time.Duration(i/2)*time.Second), domain.StatusProtecting)
		stuck = append(stuck, c)
	}
	fresh := newCheckpoint(project, provider, base.Add(time.Hour), domain.StatusProtecting)
	settledOne := newCheckpoint(project, provider, base, domain.StatusAvailable)
	deleting := newCheckpoint(project, provider, base, domain.StatusDeleting)
	createCheckpoints(t, s, append(slices.Clone(stuck), fresh, settledOne, deleting)...)
	slices.SortFunc(stuck, func(a, b *domain.Checkpoint) int {
		if c := a.UpdatedAt.Truncate(time.Second).Compare(b.UpdatedAt.Truncate(time.Second)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	cutoff := base.Add(30 * time.Minute)

	const batch = 7
	var got []string
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatalf("more than 10 rounds")
		}
		counter := counting.New(db)
		keys, err := store.New(counter, plans, table).Stuck(t.Context(), domain.StatusProtecting, cutoff, batch)
		if err != nil {
			t.Fatalf("Stuck: %v", err)
		}
		counts := counter.Counts()
		if counts.Queries != store.Shards {
			t.Errorf("round %d: %d Queries, want one per shard (%d)", round, counts.Queries, store.Shards)
		}
		for i, n := range counts.Scanned {
			if n > batch {
				t.Errorf("round %d: Query %d read %d items, want at most %d", round, i+1, n, batch)
			}
		}
		if len(keys) == 0 {
			break
		}
		if len(keys) > batch {
			t.Fatalf("round %d: %d keys, want at most %d", round, len(keys), batch)
		}
		for _, k := range keys {
			got = append(got, k.ID)
			// The sweeper ends each, so the next round goes on.
			if _, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: k.ProjectID, ProviderID: provider, ID: k.ID, From: []domain.Status{domain.StatusProtecting}, To: domain.StatusError}); err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
		}
	}
	sameIDs(t, "stuck, batch after batch", got, checkpointIDs(stuck))
	keys, err := s.Stuck(t.Context(), domain.StatusDeleting, cutoff, batch)
	if err != nil || len(keys) != 1 || keys[0].ID != deleting.ID {
		t.Errorf("Stuck deleting = %v, %v; want only %s", keys, err, deleting.ID)
	}
}
