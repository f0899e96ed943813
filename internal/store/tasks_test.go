package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

// newTask returns a task on c as the domain creates it.
func newTask(kind domain.TaskKind, c *domain.Checkpoint, created time.Time) *domain.Task {
	return &domain.Task{
		Kind: kind, ID: domain.NewID(), ProjectID: c.ProjectID, ProviderID: c.ProviderID,
		CheckpointID: c.ID, PlanID: c.Plan.ID,
		Parameters: map[string]json.RawMessage{"OS::Cinder::Volume": json.RawMessage(`{"restore_name":"x"}`)},
		Status:     domain.TaskInProgress,
		CreatedAt:  created, UpdatedAt: created, DueAt: created,
	}
}

// availableCheckpoint writes an available checkpoint of a new project.
func availableCheckpoint(t *testing.T, s *store.Store, project, provider string) *domain.Checkpoint {
	t.Helper()
	c := newCheckpoint(project, provider, base, domain.StatusAvailable)
	createCheckpoints(t, s, c)
	return c
}

func TestTaskCreateMarksCheckpoint(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	c := availableCheckpoint(t, s, project, provider)

	r := newTask(domain.KindRestore, c, base)
	r.RestoreTarget = strptr("us-east-1")
	if _, err := s.CreateTask(t.Context(), r); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	got, err := s.GetTask(t.Context(), domain.KindRestore, project, r.ID)
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	if got.Status != domain.TaskInProgress || got.Version != 0 || got.CheckpointID != c.ID || got.PlanID != c.Plan.ID ||
		string(got.Parameters["OS::Cinder::Volume"]) != `{"restore_name":"x"}` || got.RestoreTarget == nil || *got.RestoreTarget != "us-east-1" ||
		len(got.ResourcesStatus) != 0 || got.ResourcesStatus == nil || !got.CreatedAt.Equal(base.Truncate(time.Second)) {
		t.Errorf("GetTask = %s", dump(got))
	}
	// Of another kind, of another project: not found.
	_, err = s.GetTask(t.Context(), domain.KindVerification, project, r.ID)
	wantErr(t, "GetTask as a verification", err, domain.ErrNotFound)
	_, err = s.GetTask(t.Context(), domain.KindRestore, newProjectID(), r.ID)
	wantErr(t, "GetTask of another project", err, domain.ErrNotFound)

	// A second task marks it too; the checkpoint cannot be deleted while
	// either is in progress.
	v := newTask(domain.KindVerification, c, base.Add(time.Second))
	if _, err := s.CreateTask(t.Context(), v); err != nil {
		t.Fatalf("CreateTask (verification): %v", err)
	}
	del := domain.Transition{ProjectID: project, ProviderID: provider, ID: c.ID, From: []domain.Status{domain.StatusAvailable, domain.StatusError}, To: domain.StatusDeleting}
	got2, err := s.SetStatus(t.Context(), del)
	wantErr(t, "delete while marked", err, domain.ErrBusy)
	if got2 == nil || got2.Status != domain.StatusAvailable {
		t.Errorf("delete while marked returned %s", dump(got2))
	}
	// Reset is still allowed (only deletion is blocked).
	for _, task := range []*domain.Task{r, v} {
		task.Status = domain.TaskSuccess
		task.ResourcesStatus = map[string]string{"OS::Cinder::Volume#a": domain.ResourceAvailable}
		task.ResourcesReason = map[string]string{"OS::Cinder::Volume#a": ""}
		ended, err := s.EndTask(t.Context(), task)
		if err != nil {
			t.Fatalf("EndTask: %v", err)
		}
		if ended.Status != domain.TaskSuccess || ended.Version != 1 || ended.ResourcesStatus["OS::Cinder::Volume#a"] != "available" || !ended.DueAt.IsZero() {
			t.Errorf("EndTask = %s", dump(ended))
		}
		if task == r {
			_, err = s.SetStatus(t.Context(), del)
			wantErr(t, "delete while one task remains", err, domain.ErrBusy)
		}
	}
	if _, has := rawItem(t, checkpointsTable(s, t), c.ID, project)["busy"]; has {
		t.Errorf("busy remains after both tasks ended")
	}
	if _, err := s.SetStatus(t.Context(), del); err != nil {
		t.Fatalf("delete after the tasks ended: %v", err)
	}
	// Ending again is a conflict.
	_, err = s.EndTask(t.Context(), r)
	wantErr(t, "EndTask twice", err, domain.ErrConflict)
}

// checkpointsTable is the name of s's checkpoints table, read back through
// a checkpoint listing: the tests know it from testenv only through s.
func checkpointsTable(s *store.Store, t *testing.T) string {
	t.Helper()
	return store.CheckpointsTableOf(s)
}

func TestTaskCreateRefusals(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	avail := availableCheckpoint(t, s, project, provider)
	protecting := newCheckpoint(project, provider, base, domain.StatusProtecting)
	createCheckpoints(t, s, protecting)

	for _, tc := range []struct {
		name string
		edit func(*domain.Task)
		want error
	}{
		{"no such checkpoint", func(r *domain.Task) { r.CheckpointID = domain.NewID() }, domain.ErrNotFound},
		{"checkpoint of another project", func(r *domain.Task) { r.ProjectID = newProjectID() }, domain.ErrNotFound},
		{"checkpoint of another provider", func(r *domain.Task) { r.ProviderID = domain.NewID() }, domain.ErrNotFound},
		{"checkpoint not available", func(r *domain.Task) { r.CheckpointID = protecting.ID }, domain.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTask(domain.KindRestore, avail, base)
			tc.edit(r)
			c, err := s.CreateTask(t.Context(), r)
			wantErr(t, "CreateTask", err, tc.want)
			if tc.want == domain.ErrConflict && (c == nil || c.Status != domain.StatusProtecting) {
				t.Errorf("conflict returned checkpoint %s, want it as it is", dump(c))
			}
			if _, err := s.GetTask(t.Context(), domain.KindRestore, r.ProjectID, r.ID); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("a refused create wrote its task: %v", err)
			}
		})
	}
	if _, has := rawItem(t, checkpointsTable(s, t), protecting.ID, project)["busy"]; has {
		t.Errorf("a refused create marked the checkpoint")
	}
}

// An SDK retry of a create or an end whose first response was lost is
// not a conflict.
func TestTaskRetriedWrites(t *testing.T) {
	t.Parallel()
	plans, checkpoints := testenv.Tables(t)
	tasks := testenv.TasksTable(t)
	s := store.New(replayingAPI{testenv.DynamoDB(t)}, plans, checkpoints).WithTasks(tasks)
	project, provider := newProjectID(), domain.NewID()
	c := availableCheckpoint(t, s, project, provider)
	r := newTask(domain.KindRestore, c, base)
	if _, err := s.CreateTask(t.Context(), r); err != nil {
		t.Fatalf("retried CreateTask: %v", err)
	}
	r.Status = domain.TaskFail
	if _, err := s.EndTask(t.Context(), r); err != nil {
		t.Fatalf("retried EndTask: %v", err)
	}
	if _, has := rawItem(t, checkpoints, c.ID, project)["busy"]; has {
		t.Errorf("busy remains after the retried end")
	}
}

func TestTaskStepVersions(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	c := availableCheckpoint(t, s, project, provider)
	r := newTask(domain.KindRestore, c, base)
	if _, err := s.CreateTask(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	read, err := s.GetTask(t.Context(), domain.KindRestore, project, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	step := *read
	step.ResourcesStatus = map[string]string{"AWS::DynamoDB::Table#t": domain.ResourceRestoring}
	step.RestoredResources = map[string]domain.Restored{"AWS::DynamoDB::Table#t": {ID: "t-1", ARN: "arn:x"}}
	step.Work = map[string]json.RawMessage{"AWS::DynamoDB::Table#t": json.RawMessage(`{"phase":2}`)}
	step.DueAt = base.Add(time.Minute)
	saved, err := s.SaveTaskStep(t.Context(), &step)
	if err != nil {
		t.Fatalf("SaveTaskStep: %v", err)
	}
	if saved.Version != 1 || saved.ResourcesStatus["AWS::DynamoDB::Table#t"] != "restoring" || saved.RestoredResources["AWS::DynamoDB::Table#t"].ARN != "arn:x" ||
		string(saved.Work["AWS::DynamoDB::Table#t"]) != `{"phase":2}` || !saved.DueAt.Equal(base.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("SaveTaskStep = %s", dump(saved))
	}
	// Another runner that read version 0 loses.
	stale := *read
	_, err = s.SaveTaskStep(t.Context(), &stale)
	wantErr(t, "stale step", err, domain.ErrConflict)
	stale.Status = domain.TaskSuccess
	_, err = s.EndTask(t.Context(), &stale)
	wantErr(t, "stale end", err, domain.ErrConflict)
	// The current one ends it; a step after the end is a conflict.
	saved.Status = domain.TaskFail
	if _, err := s.EndTask(t.Context(), saved); err != nil {
		t.Fatalf("EndTask: %v", err)
	}
	saved.Status = domain.TaskInProgress
	saved.Version = 2
	_, err = s.SaveTaskStep(t.Context(), saved)
	wantErr(t, "step after the end", err, domain.ErrConflict)
	missing := *read
	missing.ID = domain.NewID()
	_, err = s.SaveTaskStep(t.Context(), &missing)
	wantErr(t, "step of no task", err, domain.ErrNotFound)
}

// A task whose checkpoint is gone still ends, and no checkpoint stub is
// made.
func TestTaskEndWithoutCheckpoint(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	c := availableCheckpoint(t, s, project, provider)
	r := newTask(domain.KindVerification, c, base)
	if _, err := s.CreateTask(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	r.CheckpointID = domain.NewID() // stands for a checkpoint removed since
	r.Status = domain.TaskSuccess
	if _, err := s.EndTask(t.Context(), r); err != nil {
		t.Fatalf("EndTask: %v", err)
	}
	if _, err := s.GetCheckpoint(t.Context(), project, r.CheckpointID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("EndTask made a checkpoint stub: %v", err)
	}
}

func TestDueTasks(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	c := availableCheckpoint(t, s, project, provider)
	now := time.Now().UTC()
	var want []string
	for i := range 6 {
		r := newTask(domain.KindRestore, c, now)
		r.DueAt = now.Add(time.Duration(2*i-5) * time.Minute) // 3 due, 3 later
		if i < 3 {
			want = append(want, r.ID)
		}
		if _, err := s.CreateTask(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// An ended task is never due.
			r.Status = domain.TaskSuccess
			if _, err := s.EndTask(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			want = want[1:]
		}
	}
	keys, err := s.DueTasks(t.Context(), now, 10)
	if err != nil {
		t.Fatalf("DueTasks: %v", err)
	}
	var got []string
	for _, k := range keys {
		if k.ProjectID != project {
			t.Errorf("DueTasks key %+v: project", k)
		}
		got = append(got, k.ID)
	}
	sameIDs(t, "DueTasks", got, want)
	keys, err = s.DueTasks(t.Context(), now, 1)
	if err != nil || len(keys) != 1 || keys[0].ID != want[0] {
		t.Errorf("DueTasks(max 1) = %v, %v; want the oldest %s", keys, err, want[0])
	}
}

func TestListTasks(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	projA, projB, provider, provider2 := newProjectID(), newProjectID(), domain.NewID(), domain.NewID()
	cA := availableCheckpoint(t, s, projA, provider)
	cA2 := availableCheckpoint(t, s, projA, provider2)
	cB := availableCheckpoint(t, s, projB, provider)
	var restoresA, all, ofA2, successA []*domain.Task
	for i := range 9 {
		c := []*domain.Checkpoint{cA, cA2, cB}[i%3]
		r := newTask(domain.KindRestore, c, base.Add(time.Duration(i/2)*time.Second))
		if _, err := s.CreateTask(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		// A verification of each, which no restore listing shows.
		if _, err := s.CreateTask(t.Context(), newTask(domain.KindVerification, c, r.CreatedAt)); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
		if c.ProjectID == projA {
			restoresA = append(restoresA, r)
			if i%2 == 0 {
				r.Status = domain.TaskSuccess
				if _, err := s.EndTask(t.Context(), r); err != nil {
					t.Fatal(err)
				}
				successA = append(successA, r)
			}
		}
		if c == cA2 {
			ofA2 = append(ofA2, r)
		}
	}
	order := func(ts []*domain.Task, asc bool) []string {
		sorted := slices.Clone(ts)
		slices.SortFunc(sorted, func(a, b *domain.Task) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			if a.ID < b.ID {
				return -1
			}
			return 1
		})
		if !asc {
			slices.Reverse(sorted)
		}
		ids := make([]string, len(sorted))
		for i, t := range sorted {
			ids[i] = t.ID
		}
		return ids
	}
	filter := func(ts []*domain.Task, keep func(*domain.Task) bool) []*domain.Task {
		var out []*domain.Task
		for _, t := range ts {
			if keep(t) {
				out = append(out, t)
			}
		}
		return out
	}
	q := func(project string, limit int, asc bool) domain.TaskQuery {
		return domain.TaskQuery{Kind: domain.KindRestore, Listing: domain.Listing{ProjectID: project, Limit: limit, Ascending: asc}}
	}
	for _, tc := range []struct {
		name string
		q    domain.TaskQuery
		want []string
	}{
		{"project", q(projA, 2, false), order(restoresA, false)},
		{"project ascending", q(projA, 4, true), order(restoresA, true)},
		{"all projects", q("", 2, false), order(all, false)},
		{"by checkpoint", func() domain.TaskQuery { x := q(projA, 1, false); x.CheckpointID = cA2.ID; return x }(), order(ofA2, false)},
		{"by checkpoint, all projects", func() domain.TaskQuery { x := q("", 1, true); x.CheckpointID = cB.ID; return x }(),
			order(filter(all, func(t *domain.Task) bool { return t.CheckpointID == cB.ID }), true)},
		{"by status", func() domain.TaskQuery { x := q(projA, 2, false); x.Status = domain.TaskSuccess; return x }(), order(successA, false)},
		{"in progress, all projects", func() domain.TaskQuery { x := q("", 2, false); x.Status = domain.TaskInProgress; return x }(),
			order(filter(all, func(t *domain.Task) bool { return !slices.Contains(successA, t) }), false)},
		{"checkpoint and status", func() domain.TaskQuery {
			x := q(projA, 1, false)
			x.CheckpointID, x.Status = cA.ID, domain.TaskInProgress
			return x
		}(), order(filter(restoresA, func(t *domain.Task) bool { return t.CheckpointID == cA.ID && !slices.Contains(successA, t) }), false)},
		{"by provider", func() domain.TaskQuery { x := q(projA, 1, false); x.ProviderID = provider2; return x }(), order(ofA2, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for pages := 0; ; pages++ {
				page, err := s.ListTasks(t.Context(), tc.q)
				if err != nil {
					t.Fatalf("ListTasks page %d: %v", pages+1, err)
				}
				if page.More && len(page.Items) != domain.ClampLimit(tc.q.Limit) {
					t.Fatalf("page %d: %d items and More", pages+1, len(page.Items))
				}
				for _, it := range page.Items {
					if it.Kind != domain.KindRestore {
						t.Fatalf("a %s listed among restores", it.Kind)
					}
					got = append(got, it.ID)
				}
				if !page.More {
					break
				}
				tc.q.Marker = page.NextMarker
			}
			sameIDs(t, tc.name, got, tc.want)
		})
	}

	t.Run("markers", func(t *testing.T) {
		for _, tc := range []struct {
			name, project, marker string
		}{
			{"unknown id", projA, domain.NewID()},
			{"another project's restore", projA, all[2].ID},
			{"a checkpoint", projA, cA.ID},
		} {
			x := q(tc.project, 1, false)
			x.Marker = tc.marker
			_, err := s.ListTasks(t.Context(), x)
			wantErr(t, tc.name, err, domain.ErrBadMarker)
		}
		v, err := s.ListTasks(t.Context(), domain.TaskQuery{Kind: domain.KindVerification, Listing: domain.Listing{ProjectID: projA, Limit: 1}})
		if err != nil || len(v.Items) != 1 {
			t.Fatalf("verifications: %v", err)
		}
		x := q(projA, 1, false)
		x.Marker = v.Items[0].ID
		_, err = s.ListTasks(t.Context(), x)
		wantErr(t, "a verification as a restore marker", err, domain.ErrBadMarker)
		x = q("", 1, false)
		x.Marker = v.Items[0].ID
		_, err = s.ListTasks(t.Context(), x)
		wantErr(t, "a verification as an all-projects restore marker", err, domain.ErrBadMarker)
	})
	_ = fmt.Sprint
}
