package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/testsupport/testenv"
)

// A filtered listing that reaches the store's read budget before its page is
// full answers a short (maybe empty) page whose next link carries the last
// item read, not the last one shown: following the links still shows every
// match once. The budget is lowered to 50 so that 120 items pass it.
func TestFilteredListingReadBudgetLinks(t *testing.T) {
	const budget = 50
	st := testenv.Store(t)
	st.SetMaxExamined(budget)
	e := newEnvWith(t, st)
	planID := e.createPlan(t, tokenA, projA, samplePlan())["id"].(string)

	// cs[i] is created at second i: newest first, position k of the
	// listing is cs[119-k]. Three match status=error, at positions 10, 70
	// and 110: one in each stretch of 50 items read.
	const n = 120
	start := day("2001-04-01T00:00:00Z")
	var cs []*domain.Checkpoint
	var all []listed
	for i := range n {
		status := domain.StatusAvailable
		if k := n - 1 - i; k == 10 || k == 70 || k == 110 {
			status = domain.StatusError
		}
		c := newCheckpoint(projA, noop, planID, status, start.Add(time.Duration(i)*time.Second))
		cs = append(cs, c)
		all = append(all, listedOf(c))
	}
	e.storeCheckpoints(t, cs)
	desc := order(all, false)
	path := checkpointsPath(projA, noop)

	// walkPages follows the links from first; it returns the ids of each
	// page and the marker of each link.
	walkPages := func(t *testing.T, first, key string) (pages [][]string, markers []string) {
		t.Helper()
		for next := first; next != ""; {
			if len(pages) == 10 {
				t.Fatalf("walk from %s: more than 10 pages", first)
			}
			r := e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK)
			pages = append(pages, ids(r.list(t, key)))
			if next = r.next(t, key+"_links"); next != "" {
				u, err := url.Parse(next)
				if err != nil {
					t.Fatalf("href %q: %v", next, err)
				}
				q := u.Query()
				markers = append(markers, q.Get("marker"))
				q.Del("marker")
				// Every other parameter of the request is kept.
				f, _ := url.Parse(first)
				if want := f.Query(); !equalQuery(q, want) {
					t.Errorf("href %s keeps %v, want %v", next, q, want)
				}
			}
		}
		return pages, markers
	}

	t.Run("sparse filter", func(t *testing.T) {
		pages, markers := walkPages(t, path+"?status=error&limit=2", "checkpoints")
		want := [][]string{{desc[10]}, {desc[70]}, {desc[110]}}
		if !slices.EqualFunc(pages, want, slices.Equal) {
			t.Errorf("pages %v, want %v", pages, want)
		}
		// The last item of each stretch of 50 read, not the match shown.
		if wantMarkers := []string{desc[49], desc[99]}; !slices.Equal(markers, wantMarkers) {
			t.Errorf("next link markers %v, want %v (the last items read)", markers, wantMarkers)
		}
	})

	t.Run("filter matching nothing", func(t *testing.T) {
		pages, markers := walkPages(t, path+"?plan_id="+domain.NewID(), "checkpoints")
		if len(pages) != 3 || len(pages[0])+len(pages[1])+len(pages[2]) != 0 {
			t.Errorf("pages %v, want three empty ones", pages)
		}
		if wantMarkers := []string{desc[49], desc[99]}; !slices.Equal(markers, wantMarkers) {
			t.Errorf("next link markers %v, want %v", markers, wantMarkers)
		}
	})

	t.Run("unfiltered pages are whole", func(t *testing.T) {
		pages, markers := walkPages(t, path+"?limit=100", "checkpoints")
		if len(pages) != 2 || !slices.Equal(pages[0], desc[:100]) || !slices.Equal(pages[1], desc[100:]) {
			t.Errorf("pages of %d and %d, want 100 and 20", len(pages[0]), len(pages[len(pages)-1]))
		}
		if !slices.Equal(markers, []string{desc[99]}) {
			t.Errorf("next link markers %v, want %v", markers, desc[99:100])
		}
	})

	t.Run("plans", func(t *testing.T) {
		// Plans of projA, newest first: the one made above is the newest;
		// 60 more, one a second, before it.
		var plans []string
		for i := range 60 {
			p := &domain.Plan{
				ID: domain.NewID(), ProjectID: projA, Name: "nightly", ProviderID: noop,
				Status: domain.PlanSuspended, Resources: []domain.Resource{{ID: "r1", Type: "OS::Nova::Server", Name: "web"}},
				CreatedAt: start.Add(time.Duration(i) * time.Second),
			}
			if err := st.CreatePlan(t.Context(), p); err != nil {
				t.Fatalf("CreatePlan: %v", err)
			}
			plans = append(plans, p.ID)
		}
		slices.Reverse(plans)
		plans = append([]string{planID}, plans...)
		pages, markers := walkPages(t, plansPath(projA)+"?name=hourly", "plans")
		if len(pages) != 2 || len(pages[0])+len(pages[1]) != 0 {
			t.Errorf("pages %v, want two empty ones", pages)
		}
		if !slices.Equal(markers, []string{plans[49]}) {
			t.Errorf("next link markers %v, want %v (the last plan read)", markers, plans[49:50])
		}
	})
}

func equalQuery(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
