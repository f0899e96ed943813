package store_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

func newPlan(projectID string, created time.Time) *domain.Plan {
	return &domain.Plan{
		ID:          domain.NewID(),
		ProjectID:   projectID,
		Name:        "My 3 tier application",
		Description: strptr("Protect the database and the web tier"),
		ProviderID:  domain.NewID(),
		Status:      domain.PlanSuspended,
		Parameters:  map[string]json.RawMessage{"OS::Cinder::Volume": json.RawMessage(`{"backup_mode":"full"}`)},
		Resources:   resources(),
		CreatedAt:   created,
	}
}

func planEqual(t *testing.T, what string, got, want *domain.Plan) {
	t.Helper()
	wantCreated := want.CreatedAt.UTC().Truncate(time.Second)
	if !got.CreatedAt.Equal(wantCreated) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: CreatedAt = %v, want %v (UTC, to the second)", what, got.CreatedAt, wantCreated)
	}
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, dump(g), dump(w))
	}
}

func planIDs(ps []*domain.Plan) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func TestPlanRoundTrip(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project := newProjectID()
	tests := []struct {
		name string
		edit func(p *domain.Plan)
	}{
		{"every field", func(*domain.Plan) {}},
		{"no description", func(p *domain.Plan) { p.Description = nil }},
		{"empty description", func(p *domain.Plan) { p.Description = strptr("") }},
		{"no parameters", func(p *domain.Plan) { p.Parameters = nil }},
		{"parameters per resource", func(p *domain.Plan) {
			p.Parameters = map[string]json.RawMessage{
				"OS::Nova::Server":                        json.RawMessage(`{"consistency":"crash"}`),
				"OS::Cinder::Volume#" + p.Resources[0].ID: json.RawMessage(`{"backup_name":"db","incremental":true,"retries":3}`),
			}
		}},
		{"resources without extra_info", func(p *domain.Plan) {
			for i := range p.Resources {
				p.Resources[i].ExtraInfo = nil
			}
		}},
		{"started, non-UTC creation time", func(p *domain.Plan) {
			p.Status = domain.PlanStarted
			p.CreatedAt = p.CreatedAt.In(time.FixedZone("CET", 3600))
		}},
		{"unicode name", func(p *domain.Plan) { p.Name = "Sauvegarde « base » ✓" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlan(project, base)
			tc.edit(p)
			if err := s.CreatePlan(t.Context(), p); err != nil {
				t.Fatalf("CreatePlan: %v", err)
			}
			got, err := s.GetPlan(t.Context(), project, p.ID)
			if err != nil {
				t.Fatalf("GetPlan: %v", err)
			}
			planEqual(t, "GetPlan", got, p)
		})
	}
}

func TestCreatePlanTwice(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	p := newPlan(newProjectID(), base)
	if err := s.CreatePlan(t.Context(), p); err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	second := *p
	second.Name = "another name"
	wantErr(t, "second CreatePlan with the same id", s.CreatePlan(t.Context(), &second), domain.ErrExists)

	got, err := s.GetPlan(t.Context(), p.ProjectID, p.ID)
	if err != nil {
		t.Fatalf("GetPlan: %v", err)
	}
	planEqual(t, "plan after the refused create", got, p)
}

func TestPlanOfAnotherProject(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	p := newPlan(newProjectID(), base)
	if err := s.CreatePlan(t.Context(), p); err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	other := newProjectID()
	_, err := s.GetPlan(t.Context(), other, p.ID)
	wantErr(t, "GetPlan from another project", err, domain.ErrNotFound)
	_, err = s.UpdatePlan(t.Context(), other, p.ID, domain.PlanUpdate{Name: strptr("stolen")})
	wantErr(t, "UpdatePlan from another project", err, domain.ErrNotFound)
	wantErr(t, "DeletePlan from another project", s.DeletePlan(t.Context(), other, p.ID), domain.ErrNotFound)

	got, err := s.GetPlan(t.Context(), p.ProjectID, p.ID)
	if err != nil {
		t.Fatalf("GetPlan of the owner: %v", err)
	}
	planEqual(t, "plan after another project's attempts", got, p)
	// A failed update must not have created an item in the other project.
	_, err = s.GetPlan(t.Context(), other, p.ID)
	wantErr(t, "GetPlan from another project after its update", err, domain.ErrNotFound)
}

func TestUpdatePlan(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project := newProjectID()
	newResources := []domain.Resource{{ID: domain.NewID(), Type: "OS::Glance::Image", Name: "Golden image", ExtraInfo: json.RawMessage(`{"tier":"gold"}`)}}
	tests := []struct {
		name   string
		update domain.PlanUpdate
		want   func(p *domain.Plan)
	}{
		{"name", domain.PlanUpdate{Name: strptr("Renamed")}, func(p *domain.Plan) { p.Name = "Renamed" }},
		{"description", domain.PlanUpdate{Description: strptr("new text")}, func(p *domain.Plan) { p.Description = strptr("new text") }},
		{"clear description", domain.PlanUpdate{ClearDescription: true}, func(p *domain.Plan) { p.Description = nil }},
		{"description wins over clear", domain.PlanUpdate{Description: strptr("kept"), ClearDescription: true}, func(p *domain.Plan) { p.Description = strptr("kept") }},
		{"resources", domain.PlanUpdate{Resources: newResources}, func(p *domain.Plan) { p.Resources = newResources }},
		{"status", domain.PlanUpdate{Status: strptr(domain.PlanStarted)}, func(p *domain.Plan) { p.Status = domain.PlanStarted }},
		{"everything", domain.PlanUpdate{Name: strptr("All"), Description: strptr("all"), Resources: newResources, Status: strptr(domain.PlanStarted)},
			func(p *domain.Plan) {
				p.Name, p.Description, p.Resources, p.Status = "All", strptr("all"), newResources, domain.PlanStarted
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlan(project, base)
			if err := s.CreatePlan(t.Context(), p); err != nil {
				t.Fatalf("CreatePlan: %v", err)
			}
			want := *p
			tc.want(&want)
			got, err := s.UpdatePlan(t.Context(), project, p.ID, tc.update)
			if err != nil {
				t.Fatalf("UpdatePlan: %v", err)
			}
			planEqual(t, "UpdatePlan result", got, &want)
			read, err := s.GetPlan(t.Context(), project, p.ID)
			if err != nil {
				t.Fatalf("GetPlan: %v", err)
			}
			planEqual(t, "GetPlan after update", read, &want)
		})
	}

	t.Run("missing plan", func(t *testing.T) {
		id := domain.NewID()
		_, err := s.UpdatePlan(t.Context(), project, id, domain.PlanUpdate{Name: strptr("x")})
		wantErr(t, "UpdatePlan of a missing plan", err, domain.ErrNotFound)
		// The update must not have created the plan.
		_, err = s.GetPlan(t.Context(), project, id)
		wantErr(t, "GetPlan after updating a missing plan", err, domain.ErrNotFound)
	})

	t.Run("empty update", func(t *testing.T) {
		p := newPlan(project, base)
		if err := s.CreatePlan(t.Context(), p); err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
		_, err := s.UpdatePlan(t.Context(), project, p.ID, domain.PlanUpdate{})
		if err == nil || errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("UpdatePlan with nothing to change: error %v, want a non-sentinel error", err)
		}
	})
}

func TestDeletePlan(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project := newProjectID()
	p, kept := newPlan(project, base), newPlan(project, base)
	for _, x := range []*domain.Plan{p, kept} {
		if err := s.CreatePlan(t.Context(), x); err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
	}
	if err := s.DeletePlan(t.Context(), project, p.ID); err != nil {
		t.Fatalf("DeletePlan: %v", err)
	}
	_, err := s.GetPlan(t.Context(), project, p.ID)
	wantErr(t, "GetPlan after DeletePlan", err, domain.ErrNotFound)
	wantErr(t, "DeletePlan again", s.DeletePlan(t.Context(), project, p.ID), domain.ErrNotFound)
	wantErr(t, "DeletePlan of a missing plan", s.DeletePlan(t.Context(), project, domain.NewID()), domain.ErrNotFound)

	page, err := s.ListPlans(t.Context(), domain.PlanQuery{Listing: domain.Listing{ProjectID: project}})
	if err != nil {
		t.Fatalf("ListPlans: %v", err)
	}
	sameIDs(t, "ListPlans after DeletePlan", planIDs(page.Items), []string{kept.ID})
	if _, err := s.GetPlan(t.Context(), project, kept.ID); err != nil {
		t.Fatalf("GetPlan of the other plan: %v", err)
	}
}

// plansOrdered returns plan ids in listing order: created_at to the second,
// then id.
func plansOrdered(ps []*domain.Plan, ascending bool) []string {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b *domain.Plan) int {
		if c := a.CreatedAt.Truncate(time.Second).Compare(b.CreatedAt.Truncate(time.Second)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if !ascending {
		slices.Reverse(sorted)
	}
	return planIDs(sorted)
}

func listAllPlans(t *testing.T, s *store.Store, q domain.PlanQuery) []*domain.Plan {
	t.Helper()
	limit := domain.ClampLimit(q.Limit)
	var out []*domain.Plan
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("ListPlans(%+v): markers do not advance", q)
		}
		page, err := s.ListPlans(t.Context(), q)
		if err != nil {
			t.Fatalf("ListPlans(%+v) page %d: %v", q, pages+1, err)
		}
		n := len(page.Items)
		if n > limit {
			t.Fatalf("page %d has %d plans, limit %d", pages+1, n, limit)
		}
		if pages > 0 && n == 0 {
			t.Fatalf("page %d is empty although page %d said more follow", pages+1, pages)
		}
		if page.More && n != limit {
			t.Fatalf("page %d has %d plans and More, want a full page of %d", pages+1, n, limit)
		}
		out = append(out, page.Items...)
		if !page.More {
			return out
		}
		if page.NextMarker != page.Items[n-1].ID {
			t.Fatalf("page %d: NextMarker %q, want its last id %s", pages+1, page.NextMarker, page.Items[n-1].ID)
		}
		q.Marker = page.NextMarker
	}
}

func TestListPlans(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, other := newProjectID(), newProjectID()

	// 13 plans of one project, several created in the same second, with
	// names, descriptions and statuses to filter on; 4 of another project.
	var mine, theirs []*domain.Plan
	for i := range 13 {
		p := newPlan(project, base.Add(time.Duration(i/3)*time.Second+time.Duration(i)*time.Millisecond))
		p.Name = []string{"daily", "weekly", "monthly"}[i%3]
		switch i % 4 {
		case 0:
			p.Description = nil
		case 1:
			p.Description = strptr("gold")
		}
		if i%2 == 0 {
			p.Status = domain.PlanStarted
		}
		mine = append(mine, p)
	}
	for i := range 4 {
		p := newPlan(other, base.Add(time.Duration(i)*1500*time.Millisecond))
		p.Name = "daily"
		theirs = append(theirs, p)
	}
	for _, p := range append(slices.Clone(mine), theirs...) {
		if err := s.CreatePlan(t.Context(), p); err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
	}

	t.Run("order", func(t *testing.T) {
		for _, asc := range []bool{false, true} {
			page, err := s.ListPlans(t.Context(), domain.PlanQuery{Listing: domain.Listing{ProjectID: project, Ascending: asc}})
			if err != nil {
				t.Fatalf("ListPlans: %v", err)
			}
			if page.More {
				t.Errorf("ascending=%v: More with every plan on the page", asc)
			}
			sameIDs(t, "ListPlans", planIDs(page.Items), plansOrdered(mine, asc))
			byID := map[string]*domain.Plan{}
			for _, p := range mine {
				byID[p.ID] = p
			}
			for _, p := range page.Items {
				planEqual(t, "listed plan", p, byID[p.ID])
			}
		}
	})

	t.Run("limit and more", func(t *testing.T) {
		for _, tc := range []struct {
			limit    int
			wantLen  int
			wantMore bool
		}{
			{1, 1, true}, {12, 12, true}, {13, 13, false}, {14, 13, false}, {0, 13, false},
		} {
			page, err := s.ListPlans(t.Context(), domain.PlanQuery{Listing: domain.Listing{ProjectID: project, Limit: tc.limit}})
			if err != nil {
				t.Fatalf("ListPlans limit %d: %v", tc.limit, err)
			}
			if len(page.Items) != tc.wantLen || page.More != tc.wantMore {
				t.Errorf("limit %d: %d plans, More %v; want %d, %v", tc.limit, len(page.Items), page.More, tc.wantLen, tc.wantMore)
			}
			sameIDs(t, "first page", planIDs(page.Items), plansOrdered(mine, false)[:len(page.Items)])
		}
	})

	t.Run("markers", func(t *testing.T) {
		for _, limit := range []int{1, 4, 13} {
			for _, asc := range []bool{false, true} {
				got := listAllPlans(t, s, domain.PlanQuery{Listing: domain.Listing{ProjectID: project, Limit: limit, Ascending: asc}})
				sameIDs(t, "paged plans", planIDs(got), plansOrdered(mine, asc))
			}
		}
	})

	t.Run("bad marker", func(t *testing.T) {
		for name, marker := range map[string]string{
			"plan of another project": theirs[0].ID,
			"unknown id":              domain.NewID(),
		} {
			_, err := s.ListPlans(t.Context(), domain.PlanQuery{Listing: domain.Listing{ProjectID: project, Marker: marker}})
			wantErr(t, name, err, domain.ErrBadMarker)
		}
	})

	t.Run("all projects", func(t *testing.T) {
		all := append(slices.Clone(mine), theirs...)
		for _, limit := range []int{3, 1000} {
			for _, asc := range []bool{false, true} {
				got := listAllPlans(t, s, domain.PlanQuery{Listing: domain.Listing{Limit: limit, Ascending: asc}})
				sameIDs(t, "plans of every project", planIDs(got), plansOrdered(all, asc))
			}
		}
		_, err := s.ListPlans(t.Context(), domain.PlanQuery{Listing: domain.Listing{Marker: domain.NewID()}})
		wantErr(t, "unknown marker across projects", err, domain.ErrBadMarker)
	})

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name  string
			query domain.PlanQuery
			match func(p *domain.Plan) bool
		}{
			{"name", domain.PlanQuery{Name: "weekly"}, func(p *domain.Plan) bool { return p.Name == "weekly" }},
			{"status", domain.PlanQuery{Status: domain.PlanStarted}, func(p *domain.Plan) bool { return p.Status == domain.PlanStarted }},
			{"description", domain.PlanQuery{Description: "gold"}, func(p *domain.Plan) bool { return p.Description != nil && *p.Description == "gold" }},
			{"name and status", domain.PlanQuery{Name: "daily", Status: domain.PlanStarted}, func(p *domain.Plan) bool {
				return p.Name == "daily" && p.Status == domain.PlanStarted
			}},
			{"no match", domain.PlanQuery{Name: "hourly"}, func(*domain.Plan) bool { return false }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var want []*domain.Plan
				for _, p := range mine {
					if tc.match(p) {
						want = append(want, p)
					}
				}
				for _, limit := range []int{1, 2, 1000} {
					for _, asc := range []bool{false, true} {
						q := tc.query
						q.ProjectID, q.Limit, q.Ascending = project, limit, asc
						got := listAllPlans(t, s, q)
						sameIDs(t, "filtered plans", planIDs(got), plansOrdered(want, asc))
					}
				}
			})
		}
	})
}
