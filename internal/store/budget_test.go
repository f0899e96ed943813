package store_test

// A filtered listing reads at most the store's budget of index items in one
// request, however many its filter drops: a filter matching nothing costs a
// bounded read, and its short page's NextMarker (the last item read, not the
// last returned) lets the next request go on from there. The tests lower the
// budget (SetMaxExamined) so that a table of 1,200 checkpoints passes it
// several times over: moto's Queries slow down with the table, so the
// default budget of 5,000 would need a table too slow to fill and query.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/counting"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

const testBudget = 300

// listFunc lists one page through st: the ids on it, More and NextMarker.
type listFunc func(st *store.Store, marker string) (ids []string, more bool, next string, err error)

// walkBudgeted follows NextMarker from the first page to the last, each
// request through a fresh counting store with the budget lowered, and
// returns every id listed. order is the listing order of every item the
// listing's Queries can read (matching or not), to place markers. Each
// request must read at most the budget (plus one item to place a marker
// across projects, acrossProjects); a page whose NextMarker is not its last
// id must have read exactly the budget, and its marker must lie past what
// it returned.
func walkBudgeted(t *testing.T, db store.API, plans, table string, limit int, acrossProjects bool, order []string, list listFunc) (all []string, pages int) {
	t.Helper()
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	marker := ""
	for pages = 1; ; pages++ {
		if pages > 100 {
			t.Fatalf("more than 100 pages: markers do not advance")
		}
		counter := counting.New(db)
		st := store.New(counter, plans, table)
		st.SetMaxExamined(testBudget)
		ids, more, next, err := list(st, marker)
		if err != nil {
			t.Fatalf("page %d (marker %q): %v", pages, marker, err)
		}
		read := 0
		for _, n := range counter.Counts().Scanned {
			read += n
		}
		if marker != "" && acrossProjects {
			read-- // the Query placing the marker reads it
		}
		if read > testBudget {
			t.Fatalf("page %d read %d items, budget %d", pages, read, testBudget)
		}
		if len(ids) > limit {
			t.Fatalf("page %d has %d items, limit %d", pages, len(ids), limit)
		}
		all = append(all, ids...)
		if !more {
			if next != "" {
				t.Fatalf("last page %d has NextMarker %q", pages, next)
			}
			return all, pages
		}
		if next == "" {
			t.Fatalf("page %d has More and no NextMarker", pages)
		}
		if len(ids) == 0 || next != ids[len(ids)-1] {
			// Cut short by the budget: the marker is the last item read.
			if read != testBudget {
				t.Errorf("page %d: %d items, NextMarker %s not the last, after reading %d items: want the budget, %d", pages, len(ids), next, read, testBudget)
			}
			p, ok := pos[next]
			if !ok {
				t.Fatalf("page %d: NextMarker %s is not an item of the listing", pages, next)
			}
			if len(ids) > 0 && p <= pos[ids[len(ids)-1]] {
				t.Fatalf("page %d: NextMarker %s is not past its last item %s", pages, next, ids[len(ids)-1])
			}
		}
		marker = next
	}
}

func TestFilteredCheckpointsReadBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 1,200 checkpoints and walks them a dozen times: skipped by -short")
	}
	t.Parallel()
	plans, table := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	project, provider := newProjectID(), domain.NewID()
	planA, planB := domain.NewID(), domain.NewID()
	const n = 1200
	var cs []*domain.Checkpoint
	for i := range n {
		status := domain.StatusAvailable
		if i%97 == 5 {
			status = domain.StatusError // 13 of them, scattered
		}
		c := newCheckpoint(project, provider, base.Add(time.Duration(i)*333*time.Millisecond), status)
		c.Plan.ID = planA
		if i%3 == 0 {
			c.Plan.ID = planB // 400 of them
		}
		cs = append(cs, c)
	}
	seed.Checkpoints(t, db, plans, table, cs)

	t.Run("matching nothing stops at the budget", func(t *testing.T) {
		counter := counting.New(db)
		st := store.New(counter, plans, table)
		st.SetMaxExamined(testBudget)
		page, err := st.ListCheckpoints(t.Context(), domain.CheckpointQuery{ProviderID: provider, PlanID: domain.NewID(), Listing: domain.Listing{ProjectID: project, Limit: 10}})
		if err != nil {
			t.Fatalf("ListCheckpoints: %v", err)
		}
		// Steps of 200, the second cut to what is left of the budget.
		if len(page.Items) != 0 || !page.More || page.NextMarker != listOrdered(cs, false)[testBudget-1] {
			t.Errorf("%d checkpoints, More %v, NextMarker %s; want none, More, the %dth of the listing", len(page.Items), page.More, page.NextMarker, testBudget)
		}
		if counts := counter.Counts(); !slices.Equal(counts.Scanned, []int{200, 100}) || counts.GetItems != 0 {
			t.Errorf("Queries read %v items, %d GetItem; want [200 100], 0", counts.Scanned, counts.GetItems)
		}
	})

	// An unfiltered listing has no budget: one Query of Limit+1 items.
	t.Run("unfiltered unchanged", func(t *testing.T) {
		counter := counting.New(db)
		st := store.New(counter, plans, table)
		st.SetMaxExamined(testBudget)
		page, err := st.ListCheckpoints(t.Context(), domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{ProjectID: project, Limit: 1000}})
		if err != nil {
			t.Fatalf("ListCheckpoints: %v", err)
		}
		want := listOrdered(cs, false)
		sameIDs(t, "page", checkpointIDs(page.Items), want[:1000])
		if !page.More || page.NextMarker != want[999] {
			t.Errorf("More %v, NextMarker %s; want More, %s", page.More, page.NextMarker, want[999])
		}
		if scanned := counter.Counts().Scanned; !slices.Equal(scanned, []int{1001}) {
			t.Errorf("Queries read %v items, want one of 1001", scanned)
		}
	})

	for _, tc := range []struct {
		name  string
		q     domain.CheckpointQuery
		match func(*domain.Checkpoint) bool
	}{
		{"nothing", domain.CheckpointQuery{PlanID: domain.NewID(), Listing: domain.Listing{Limit: 10}}, func(*domain.Checkpoint) bool { return false }},
		{"sparse", domain.CheckpointQuery{Status: domain.StatusError, Listing: domain.Listing{Limit: 5}}, func(c *domain.Checkpoint) bool { return c.Status == domain.StatusError }},
		{"sparse across projects", domain.CheckpointQuery{Status: domain.StatusError, Listing: domain.Listing{Limit: 5, ProjectID: "-"}}, func(c *domain.Checkpoint) bool { return c.Status == domain.StatusError }},
		// A third match: pages of 50 fill within the budget, pages of 150
		// do not (they need 450 reads), so they end short, not empty.
		{"dense", domain.CheckpointQuery{PlanID: planB, Listing: domain.Listing{Limit: 50}}, func(c *domain.Checkpoint) bool { return c.Plan.ID == planB }},
		{"dense, pages past the budget", domain.CheckpointQuery{PlanID: planB, Listing: domain.Listing{Limit: 150}}, func(c *domain.Checkpoint) bool { return c.Plan.ID == planB }},
		{"plan and status", domain.CheckpointQuery{PlanID: planB, Status: domain.StatusError, Listing: domain.Listing{Limit: 2}}, func(c *domain.Checkpoint) bool {
			return c.Plan.ID == planB && c.Status == domain.StatusError
		}},
	} {
		for _, asc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s ascending %v", tc.name, asc), func(t *testing.T) {
				var want []*domain.Checkpoint
				for _, c := range cs {
					if tc.match(c) {
						want = append(want, c)
					}
				}
				q := tc.q
				q.ProviderID, q.Ascending = provider, asc
				if q.ProjectID == "-" {
					q.ProjectID = "" // every project: markers placed by id alone
				} else {
					q.ProjectID = project
				}
				got, pages := walkBudgeted(t, db, plans, table, q.Limit, q.ProjectID == "", listOrdered(cs, asc), func(st *store.Store, marker string) ([]string, bool, string, error) {
					q := q
					q.Marker = marker
					page, err := st.ListCheckpoints(t.Context(), q)
					if err != nil {
						return nil, false, "", err
					}
					return checkpointIDs(page.Items), page.More, page.NextMarker, nil
				})
				sameIDs(t, "listing", got, listOrdered(want, asc))
				// Every page reads at most the budget: at least n/budget of
				// them.
				if pages < n/testBudget {
					t.Errorf("%d pages, want at least %d", pages, n/testBudget)
				}
			})
		}
	}
}

func TestFilteredPlansReadBudget(t *testing.T) {
	t.Parallel()
	plans, table := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	project := newProjectID()
	const n = 2 * testBudget
	var mine []*domain.Plan
	for i := range n {
		p := newPlan(project, base.Add(time.Duration(i)*400*time.Millisecond))
		if i%50 == 7 {
			p.Name = "weekly" // 12 of them
		}
		mine = append(mine, p)
	}
	seed.Plans(t, db, plans, table, mine)

	for _, tc := range []struct {
		name           string
		filter         string
		acrossProjects bool
		match          func(*domain.Plan) bool
	}{
		{"nothing", "hourly", false, func(*domain.Plan) bool { return false }},
		{"sparse", "weekly", false, func(p *domain.Plan) bool { return p.Name == "weekly" }},
		{"sparse across projects", "weekly", true, func(p *domain.Plan) bool { return p.Name == "weekly" }},
	} {
		for _, asc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s ascending %v", tc.name, asc), func(t *testing.T) {
				var want []*domain.Plan
				for _, p := range mine {
					if tc.match(p) {
						want = append(want, p)
					}
				}
				q := domain.PlanQuery{Name: tc.filter, Listing: domain.Listing{ProjectID: project, Limit: 4, Ascending: asc}}
				if tc.acrossProjects {
					q.ProjectID = ""
				}
				got, pages := walkBudgeted(t, db, plans, table, q.Limit, tc.acrossProjects, plansOrdered(mine, asc), func(st *store.Store, marker string) ([]string, bool, string, error) {
					q := q
					q.Marker = marker
					page, err := st.ListPlans(t.Context(), q)
					if err != nil {
						return nil, false, "", err
					}
					return planIDs(page.Items), page.More, page.NextMarker, nil
				})
				sameIDs(t, "listing", got, plansOrdered(want, asc))
				if pages < n/testBudget {
					t.Errorf("%d pages, want at least %d", pages, n/testBudget)
				}
			})
		}
	}
}
