package store_test

import (
	"testing"

	"karbor/internal/domain"
	"karbor/internal/testsupport/testenv"
)

// A move into deleting stores who deletes (a retention step's operation)
// and a caller's later move into deleting clears it; a task's mark reads
// back as Busy.
func TestSetStatusDeletingBy(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	c := availableCheckpoint(t, s, project, provider)
	op := domain.NewID()
	move := func(from, to domain.Status, by string) *domain.Checkpoint {
		t.Helper()
		got, err := s.SetStatus(t.Context(), domain.Transition{
			ProjectID: project, ProviderID: provider, ID: c.ID, From: []domain.Status{from}, To: to, DeletingBy: by,
		})
		if err != nil {
			t.Fatalf("SetStatus(%s → %s): %v", from, to, err)
		}
		return got
	}
	if got := move(domain.StatusAvailable, domain.StatusDeleting, op); got.DeletingBy != op {
		t.Errorf("after a retention's delete, DeletingBy = %q, want %q", got.DeletingBy, op)
	}
	// It stays with the outcome (the worker's delete log reads it there).
	if got := move(domain.StatusDeleting, domain.StatusErrorDeleting, ""); got.DeletingBy != op {
		t.Errorf("after error-deleting, DeletingBy = %q, want %q", got.DeletingBy, op)
	}
	// A caller's retry clears it.
	if got := move(domain.StatusErrorDeleting, domain.StatusDeleting, ""); got.DeletingBy != "" {
		t.Errorf("after a caller's delete, DeletingBy = %q, want none", got.DeletingBy)
	}
	if _, has := rawItem(t, checkpointsTable(s, t), c.ID, project)["deleting_by"]; has {
		t.Errorf("deleting_by remains after a caller's delete")
	}

	b := availableCheckpoint(t, s, project, provider)
	if got, err := s.GetCheckpoint(t.Context(), project, b.ID); err != nil || got.Busy {
		t.Fatalf("GetCheckpoint = %+v, %v; want not busy", got, err)
	}
	if _, err := s.CreateTask(t.Context(), newTask(domain.KindRestore, b, base)); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	page, err := s.ListCheckpoints(t.Context(), domain.CheckpointQuery{
		Listing: domain.Listing{ProjectID: project, Limit: 10}, ProviderID: provider, PlanID: b.Plan.ID,
	})
	if err != nil || len(page.Items) != 1 || !page.Items[0].Busy {
		t.Fatalf("ListCheckpoints by plan = %s, %v; want the marked checkpoint, Busy", dump(page), err)
	}
}
