package store_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

// protectLog is the start of a protect log of a new checkpoint.
func protectLog(projectID string, started time.Time) *domain.OperationLog {
	cp := domain.NewID()
	return &domain.OperationLog{
		ID:           domain.OperationLogID(domain.OpProtect, cp, ""),
		ProjectID:    projectID,
		Type:         domain.OpProtect,
		CheckpointID: &cp,
		PlanID:       strptr(domain.NewID()),
		ProviderID:   strptr(domain.NewID()),
		Status:       string(domain.StatusProtecting),
		StartedAt:    started,
	}
}

func getLog(t *testing.T, s *store.Store, projectID, id string) *domain.OperationLog {
	t.Helper()
	got, err := s.GetOperationLog(t.Context(), projectID, id)
	if err != nil {
		t.Fatalf("GetOperationLog(%s): %v", id, err)
	}
	return got
}

func logEqual(t *testing.T, what string, got, want *domain.OperationLog) {
	t.Helper()
	w := *want
	w.StartedAt = want.StartedAt.UTC().Truncate(time.Second)
	if want.EndedAt != nil {
		e := want.EndedAt.UTC().Truncate(time.Second)
		w.EndedAt = &e
	}
	if !reflect.DeepEqual(got, &w) {
		t.Errorf("%s:\n got %s\nwant %s", what, dump(got), dump(&w))
	}
}

func ended(l *domain.OperationLog, status string, at time.Time, errorInfo *string) *domain.OperationLog {
	e := *l
	e.Status = status
	e.EndedAt = &at
	e.ErrorInfo = errorInfo
	return &e
}

func TestOperationLogStartTwice(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	l := protectLog(newProjectID(), base)
	if err := s.StartOperationLog(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	again := *l
	again.StartedAt = base.Add(time.Hour) // a retry with another clock
	if err := s.StartOperationLog(t.Context(), &again); err != nil {
		t.Fatalf("second start: %v", err)
	}
	logEqual(t, "after two starts", getLog(t, s, l.ProjectID, l.ID), l)
	page, err := s.ListOperationLogs(t.Context(), domain.OperationLogQuery{Listing: domain.Listing{ProjectID: l.ProjectID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Errorf("%d logs listed, want 1", len(page.Items))
	}
}

func TestOperationLogEndTwice(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	l := protectLog(newProjectID(), base)
	if err := s.StartOperationLog(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	first := ended(l, string(domain.StatusError), base.Add(time.Minute), strptr("volume: not found"))
	if err := s.EndOperationLog(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	second := ended(l, string(domain.StatusAvailable), base.Add(2*time.Minute), nil)
	if err := s.EndOperationLog(t.Context(), second); err != nil {
		t.Fatalf("second end: %v", err)
	}
	logEqual(t, "after two ends", getLog(t, s, l.ProjectID, l.ID), first)
	// A start after the end changes nothing either.
	if err := s.StartOperationLog(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	logEqual(t, "after a late start", getLog(t, s, l.ProjectID, l.ID), first)
	// The status index followed the end.
	for st, want := range map[string]int{string(domain.StatusProtecting): 0, string(domain.StatusError): 1} {
		page, err := s.ListOperationLogs(t.Context(), domain.OperationLogQuery{Listing: domain.Listing{ProjectID: l.ProjectID}, Status: st})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != want {
			t.Errorf("status=%s: %d logs, want %d", st, len(page.Items), want)
		}
	}
}

func TestOperationLogEndWithoutStart(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	l := protectLog(newProjectID(), base)
	l.ScheduledOperationID = strptr(domain.NewID())
	l.ExtraInfo = map[string]any{"trigger_id": domain.NewID(), "scheduled_time": "2026-12-01T08:00:00Z"}
	end := ended(l, domain.OpSkipped, base.Add(time.Second), strptr("the plan is suspended"))
	if err := s.EndOperationLog(t.Context(), end); err != nil {
		t.Fatal(err)
	}
	logEqual(t, "a log ended without a start", getLog(t, s, l.ProjectID, l.ID), end)
	// Listed by every index it belongs to.
	for _, q := range []domain.OperationLogQuery{
		{Listing: domain.Listing{ProjectID: l.ProjectID}},
		{Listing: domain.Listing{ProjectID: l.ProjectID}, CheckpointID: *l.CheckpointID},
		{Listing: domain.Listing{ProjectID: l.ProjectID}, Status: domain.OpSkipped},
		{Listing: domain.Listing{}, ScheduledOperationID: *l.ScheduledOperationID},
	} {
		page, err := s.ListOperationLogs(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != l.ID {
			t.Errorf("%+v: listed %s, want just %s", q, dump(page.Items), l.ID)
		}
	}
}

func TestOperationLogOfAnotherProject(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	l := protectLog(newProjectID(), base)
	if err := s.StartOperationLog(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	other := newProjectID()
	_, err := s.GetOperationLog(t.Context(), other, l.ID)
	wantErr(t, "another project's log", err, domain.ErrNotFound)
	_, err = s.ListOperationLogs(t.Context(), domain.OperationLogQuery{Listing: domain.Listing{ProjectID: other, Marker: l.ID}})
	wantErr(t, "another project's log as marker", err, domain.ErrBadMarker)
	page, err := s.ListOperationLogs(t.Context(), domain.OperationLogQuery{Listing: domain.Listing{ProjectID: other}, CheckpointID: *l.CheckpointID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("another project lists %s", dump(page.Items))
	}
}

// TestListOperationLogs: every filter, alone and with others, over both
// directions and small pages, gives exactly the matching logs in order.
func TestListOperationLogs(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, other := newProjectID(), newProjectID()
	cp := domain.NewID()
	plan := domain.NewID()
	restore := domain.NewID()
	sched := domain.NewID()
	var logs []*domain.OperationLog
	add := func(projectID string, typ domain.OperationType, checkpoint *string, status string, at time.Time, mod func(*domain.OperationLog)) {
		l := &domain.OperationLog{
			ID: domain.NewID(), ProjectID: projectID, Type: typ, CheckpointID: checkpoint,
			PlanID: strptr(plan), ProviderID: strptr(domain.NewID()), Status: typ.StartStatus(), StartedAt: at,
		}
		if mod != nil {
			mod(l)
		}
		if err := s.StartOperationLog(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		if status != l.Status {
			l = ended(l, status, at.Add(time.Minute), nil)
			if err := s.EndOperationLog(t.Context(), l); err != nil {
				t.Fatal(err)
			}
		}
		logs = append(logs, l)
	}
	for i := range 4 {
		at := base.Add(time.Duration(i) * time.Minute)
		add(project, domain.OpProtect, strptr(cp), "available", at, nil)
		add(project, domain.OpDelete, strptr(cp), "deleting", at, nil) // same second: ties by id
		add(project, domain.OpRestore, strptr(cp), "success", at.Add(time.Second), func(l *domain.OperationLog) { l.RestoreID = strptr(restore) })
		add(project, domain.OpProtect, strptr(domain.NewID()), "error", at.Add(2*time.Second), func(l *domain.OperationLog) {
			l.ScheduledOperationID = strptr(sched)
			l.PlanID = strptr(domain.NewID())
		})
		add(project, domain.OpRetention, nil, "in_progress", at.Add(3*time.Second), func(l *domain.OperationLog) { l.ScheduledOperationID = strptr(sched) })
		add(other, domain.OpProtect, strptr(domain.NewID()), "available", at.Add(4*time.Second), nil)
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, q := range []domain.OperationLogQuery{
		{},
		{CheckpointID: cp},
		{CheckpointID: cp, Status: "available"},
		{Status: "error"},
		{Status: "in_progress", Type: domain.OpRetention},
		{Type: domain.OpDelete},
		{PlanID: plan},
		{RestoreID: restore},
		{ScheduledOperationID: sched, Type: domain.OpProtect},
		{CheckpointID: domain.NewID()},
	} {
		for _, projectID := range []string{project, ""} {
			var want []*domain.OperationLog
			for _, l := range logs {
				if (projectID == "" || l.ProjectID == projectID) &&
					(q.CheckpointID == "" || deref(l.CheckpointID) == q.CheckpointID) &&
					(q.Status == "" || l.Status == q.Status) && (q.Type == "" || l.Type == q.Type) &&
					(q.PlanID == "" || deref(l.PlanID) == q.PlanID) && (q.RestoreID == "" || deref(l.RestoreID) == q.RestoreID) &&
					(q.ScheduledOperationID == "" || deref(l.ScheduledOperationID) == q.ScheduledOperationID) {
					want = append(want, l)
				}
			}
			for _, asc := range []bool{false, true} {
				sorted := slices.Clone(want)
				slices.SortFunc(sorted, func(a, b *domain.OperationLog) int {
					ka := domain.Timestamp(a.StartedAt) + "#" + a.ID
					kb := domain.Timestamp(b.StartedAt) + "#" + b.ID
					if asc {
						return compare(ka, kb)
					}
					return compare(kb, ka)
				})
				var wantIDs []string
				for _, l := range sorted {
					wantIDs = append(wantIDs, l.ID)
				}
				q := q
				q.ProjectID, q.Ascending, q.Limit = projectID, asc, 3
				var got []string
				for pages := 0; ; pages++ {
					page, err := s.ListOperationLogs(t.Context(), q)
					if err != nil {
						t.Fatalf("%+v: %v", q, err)
					}
					if page.More && len(page.Items) != q.Limit {
						t.Errorf("%+v: a page of %d with more to come", q, len(page.Items))
					}
					for _, l := range page.Items {
						got = append(got, l.ID)
					}
					if !page.More || pages > 50 {
						break
					}
					q.Marker = page.NextMarker
				}
				sameIDs(t, dump(q), got, wantIDs)
			}
		}
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
