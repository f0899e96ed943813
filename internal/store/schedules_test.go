package store_test

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/local/atomicddb"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

func timeptr(t time.Time) *time.Time { return &t }

func newTrigger(projectID string, created time.Time, next *time.Time) *domain.Trigger {
	return &domain.Trigger{
		ID: domain.NewID(), ProjectID: projectID, Name: "nightly", Type: domain.TriggerTypeTime,
		Properties: domain.TriggerProperties{Format: domain.FormatCrontab, Pattern: "0 2 * * *", StartTime: created.Truncate(time.Second), Window: 900},
		CreatedAt:  created, NextAt: next,
	}
}

func newOperation(projectID string, created time.Time, trig *domain.Trigger, plan *domain.Plan) *domain.ScheduledOperation {
	return &domain.ScheduledOperation{
		ID: domain.NewID(), ProjectID: projectID, Name: "nightly orders", Type: domain.OpTypeProtect,
		TriggerID:  trig.ID,
		Definition: domain.OperationDefinition{ProviderID: plan.ProviderID, PlanID: plan.ID},
		Enabled:    true, EnabledAt: created, CreatedAt: created,
	}
}

func mustCreateTrigger(t *testing.T, s *store.Store, tr *domain.Trigger) {
	t.Helper()
	if err := s.CreateTrigger(t.Context(), tr); err != nil {
		t.Fatalf("CreateTrigger: %v", err)
	}
}

func mustCreatePlan(t *testing.T, s *store.Store, p *domain.Plan) {
	t.Helper()
	if err := s.CreatePlan(t.Context(), p); err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
}

func TestTriggerRoundTrip(t *testing.T) {
	s := testenv.Store(t)
	project := newProjectID()
	end := base.Add(48 * time.Hour).Truncate(time.Second)
	tr := newTrigger(project, base, timeptr(base.Add(time.Hour).Truncate(time.Second)))
	tr.Properties.EndTime = &end
	tr.Properties.Format, tr.Properties.Pattern, tr.Properties.Window = domain.FormatCalendar, "BEGIN:VEVENT\nRRULE:FREQ=DAILY\nEND:VEVENT", 1800
	mustCreateTrigger(t, s, tr)
	taken := *tr
	taken.Name = "another"
	if err := s.CreateTrigger(t.Context(), &taken); !errors.Is(err, domain.ErrExists) {
		t.Errorf("CreateTrigger again: %v, want ErrExists", err)
	}
	got, err := s.GetTrigger(t.Context(), project, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *tr
	want.CreatedAt = base.Truncate(time.Second)
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("GetTrigger = %+v\nwant %+v", got, &want)
	}
	// JSON types kept: window a number, properties a map.
	item := rawItem(t, store.SchedulesTableOf(s), tr.ID, project)
	props, ok := item["properties"].(*types.AttributeValueMemberM)
	if !ok {
		t.Fatalf("properties stored as %T", item["properties"])
	}
	if _, ok := props.Value["window"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("window stored as %T, want a number", props.Value["window"])
	}
	if n, ok := item["due_at"].(*types.AttributeValueMemberN); !ok || n.Value != strconv.FormatInt(tr.NextAt.Unix(), 10) {
		t.Errorf("due_at = %v, want %d", item["due_at"], tr.NextAt.Unix())
	}
	if _, err := s.GetTrigger(t.Context(), newProjectID(), tr.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetTrigger of another project: %v, want ErrNotFound", err)
	}
	if _, err := s.GetScheduledOperation(t.Context(), project, tr.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetScheduledOperation of a trigger's id: %v, want ErrNotFound", err)
	}
}

func TestUpdateTrigger(t *testing.T) {
	s := testenv.Store(t)
	project := newProjectID()
	tr := newTrigger(project, base, timeptr(base.Add(time.Hour).Truncate(time.Second)))
	mustCreateTrigger(t, s, tr)

	u := *tr
	u.Name = "weekly"
	u.Properties.Pattern = "0 3 * * 0"
	u.NextAt = nil
	got, err := s.UpdateTrigger(t.Context(), &u)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "weekly" || got.Properties.Pattern != "0 3 * * 0" || got.NextAt != nil || got.Version != 1 {
		t.Errorf("UpdateTrigger = %+v", got)
	}
	item := rawItem(t, store.SchedulesTableOf(s), tr.ID, project)
	for _, a := range []string{"next_at", "due", "due_at"} {
		if _, ok := item[a]; ok {
			t.Errorf("%s still stored after the next occurrence was removed", a)
		}
	}
	// The old version: a conflict.
	if _, err := s.UpdateTrigger(t.Context(), &u); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("UpdateTrigger at an old version: %v, want ErrConflict", err)
	}
	gone := *got
	gone.ID = domain.NewID()
	if _, err := s.UpdateTrigger(t.Context(), &gone); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("UpdateTrigger of a missing trigger: %v, want ErrNotFound", err)
	}
}

func TestDueTriggersAndAdvance(t *testing.T) {
	s := testenv.Store(t)
	project := newProjectID()
	now := base.Truncate(time.Second)
	var due []*domain.Trigger
	// Due ones, created in scrambled order so that the order is due_at's.
	for _, ago := range []time.Duration{3, 1, 5, 2, 4} {
		tr := newTrigger(project, base, timeptr(now.Add(-ago*time.Minute)))
		mustCreateTrigger(t, s, tr)
		due = append(due, tr)
	}
	slices.SortFunc(due, func(a, b *domain.Trigger) int { return a.NextAt.Compare(*b.NextAt) })
	at := newTrigger(project, base, timeptr(now)) // due at now exactly
	mustCreateTrigger(t, s, at)
	mustCreateTrigger(t, s, newTrigger(project, base, timeptr(now.Add(time.Second)))) // not yet
	mustCreateTrigger(t, s, newTrigger(project, base, nil))                           // no occurrence left

	keys, err := s.DueTriggers(t.Context(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var want []domain.TriggerKey
	for _, tr := range append(due, at) {
		want = append(want, domain.TriggerKey{ID: tr.ID, ProjectID: project})
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("DueTriggers = %v\nwant %v", keys, want)
	}
	if keys, err := s.DueTriggers(t.Context(), now, 2); err != nil || !reflect.DeepEqual(keys, want[:2]) {
		t.Errorf("DueTriggers(max 2) = %v, %v; want %v", keys, err, want[:2])
	}

	first := due[0]
	next := now.Add(time.Hour)
	if err := s.AdvanceTrigger(t.Context(), domain.TriggerKey{ID: first.ID, ProjectID: project}, *first.NextAt, &next); err != nil {
		t.Fatalf("AdvanceTrigger: %v", err)
	}
	// A second scheduler advancing from the same occurrence: conflict.
	if err := s.AdvanceTrigger(t.Context(), domain.TriggerKey{ID: first.ID, ProjectID: project}, *first.NextAt, &next); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("AdvanceTrigger from a moved occurrence: %v, want ErrConflict", err)
	}
	got, err := s.GetTrigger(t.Context(), project, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.NextAt.Equal(next) || got.Version != 1 {
		t.Errorf("after AdvanceTrigger: next %v version %d, want %v, 1", got.NextAt, got.Version, next)
	}
	// Advancing to none leaves the index.
	second := due[1]
	if err := s.AdvanceTrigger(t.Context(), domain.TriggerKey{ID: second.ID, ProjectID: project}, *second.NextAt, nil); err != nil {
		t.Fatal(err)
	}
	keys, err = s.DueTriggers(t.Context(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want)-2 || slices.Contains(keys, want[0]) || slices.Contains(keys, want[1]) {
		t.Errorf("DueTriggers after advancing two = %v", keys)
	}
	if err := s.AdvanceTrigger(t.Context(), domain.TriggerKey{ID: domain.NewID(), ProjectID: project}, now, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("AdvanceTrigger of a missing trigger: %v, want ErrNotFound", err)
	}
}

func TestScheduledOperationMarks(t *testing.T) {
	s := testenv.Store(t)
	ctx := t.Context()
	project := newProjectID()
	tr := newTrigger(project, base, nil)
	mustCreateTrigger(t, s, tr)
	plan := newPlan(project, base)
	mustCreatePlan(t, s, plan)

	op1 := newOperation(project, base, tr, plan)
	op2 := newOperation(project, base.Add(time.Second), tr, plan)
	op2.Type = domain.OpTypeRetentionProtect
	seven := int64(7)
	op2.Definition.MaxBackups = &seven
	op2.Description = strptr("keeps seven")
	for _, op := range []*domain.ScheduledOperation{op1, op2} {
		if err := s.CreateScheduledOperation(ctx, op); err != nil {
			t.Fatalf("CreateScheduledOperation: %v", err)
		}
	}
	got, err := s.GetScheduledOperation(ctx, project, op2.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *op2
	want.CreatedAt, want.EnabledAt = op2.CreatedAt.Truncate(time.Second), op2.EnabledAt.Truncate(time.Second)
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("GetScheduledOperation = %+v\nwant %+v", got, &want)
	}
	def, _ := rawItem(t, store.SchedulesTableOf(s), op2.ID, project)["operation_definition"].(*types.AttributeValueMemberM)
	if def == nil {
		t.Fatal("operation_definition not stored as a map")
	}
	if _, ok := def.Value["max_backups"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("max_backups stored as %T, want a number", def.Value["max_backups"])
	}
	if _, ok := def.Value["retention_duration"]; ok {
		t.Error("retention_duration stored though unset")
	}

	ids := []string{op1.ID, op2.ID}
	slices.Sort(ids)
	gotTr, err := s.GetTrigger(ctx, project, tr.ID)
	if err != nil || !reflect.DeepEqual(gotTr.UsedBy, ids) {
		t.Errorf("trigger UsedBy = %v (%v), want %v", gotTr.UsedBy, err, ids)
	}
	var inUse *domain.InUseError
	if err := s.DeleteTrigger(ctx, project, tr.ID); !errors.As(err, &inUse) || !reflect.DeepEqual(inUse.IDs, ids) || !errors.Is(err, domain.ErrInUse) {
		t.Errorf("DeleteTrigger in use: %v, want InUseError %v", err, ids)
	}
	if err := s.DeletePlan(ctx, project, plan.ID); !errors.As(err, &inUse) || !reflect.DeepEqual(inUse.IDs, ids) {
		t.Errorf("DeletePlan in use: %v, want InUseError %v", err, ids)
	}

	if err := s.DeleteScheduledOperation(ctx, project, op1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteScheduledOperation(ctx, project, op1.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("DeleteScheduledOperation again: %v, want ErrNotFound", err)
	}
	if err := s.DeleteTrigger(ctx, project, tr.ID); !errors.As(err, &inUse) || !reflect.DeepEqual(inUse.IDs, []string{op2.ID}) {
		t.Errorf("DeleteTrigger with one op left: %v, want InUseError [%s]", err, op2.ID)
	}
	if err := s.DeleteScheduledOperation(ctx, project, op2.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := rawItem(t, store.SchedulesTableOf(s), tr.ID, project)["used_by"]; ok {
		t.Error("the trigger's used_by stays after its last operation went")
	}
	if err := s.DeleteTrigger(ctx, project, tr.ID); err != nil {
		t.Errorf("DeleteTrigger unused: %v", err)
	}
	if err := s.DeleteTrigger(ctx, project, tr.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("DeleteTrigger again: %v, want ErrNotFound", err)
	}
	if err := s.DeletePlan(ctx, project, plan.ID); err != nil {
		t.Errorf("DeletePlan unused: %v", err)
	}
}

func TestCreateScheduledOperationMissing(t *testing.T) {
	s := testenv.Store(t)
	ctx := t.Context()
	project := newProjectID()
	tr := newTrigger(project, base, nil)
	mustCreateTrigger(t, s, tr)
	plan := newPlan(project, base)
	mustCreatePlan(t, s, plan)

	var missing *domain.MissingError
	op := newOperation(project, base, tr, plan)
	op.TriggerID = domain.NewID()
	if err := s.CreateScheduledOperation(ctx, op); !errors.As(err, &missing) || missing.What != "trigger" || !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing trigger: %v", err)
	}
	op = newOperation(project, base, tr, plan)
	op.Definition.PlanID = domain.NewID()
	if err := s.CreateScheduledOperation(ctx, op); !errors.As(err, &missing) || missing.What != "plan" {
		t.Errorf("missing plan: %v", err)
	}
	// A trigger or plan of another project is missing.
	other := newOperation(newProjectID(), base, tr, plan)
	if err := s.CreateScheduledOperation(ctx, other); !errors.As(err, &missing) || missing.What != "trigger" {
		t.Errorf("another project's trigger: %v", err)
	}
	op = newOperation(project, base, tr, plan)
	op.Definition.ProviderID = domain.NewID()
	var refusal *domain.Error
	if err := s.CreateScheduledOperation(ctx, op); !errors.As(err, &refusal) || refusal.Message != "Plan "+plan.ID+" belongs to provider "+plan.ProviderID+"." {
		t.Errorf("plan of another provider: %v", err)
	}
	// A scheduled operation's id is not a trigger.
	good := newOperation(project, base, tr, plan)
	if err := s.CreateScheduledOperation(ctx, good); err != nil {
		t.Fatal(err)
	}
	op = newOperation(project, base, tr, plan)
	op.TriggerID = good.ID
	if err := s.CreateScheduledOperation(ctx, op); !errors.As(err, &missing) || missing.What != "trigger" {
		t.Errorf("an operation named as trigger: %v", err)
	}
	if err := s.DeleteTrigger(ctx, project, good.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("DeleteTrigger of an operation's id: %v, want ErrNotFound", err)
	}
	// Nothing of the refused creates stayed: only good marks the trigger.
	gotTr, err := s.GetTrigger(ctx, project, tr.ID)
	if err != nil || !reflect.DeepEqual(gotTr.UsedBy, []string{good.ID}) {
		t.Errorf("trigger UsedBy = %v (%v), want [%s]", gotTr.UsedBy, err, good.ID)
	}
}

// TestDeleteTriggerRacesCreate: the delete's condition and the create's
// transaction decide the race; their atomicity is DynamoDB's, which moto
// lacks (it checks a condition and writes without a lock), so the writes
// reach it one at a time (atomicddb).
func TestDeleteTriggerRacesCreate(t *testing.T) {
	base0 := testenv.Store(t)
	s := store.New(atomicddb.Wrap(testenv.DynamoDB(t)), store.PlansTableOf(base0), store.CheckpointsTableOf(base0)).
		WithSchedules(store.SchedulesTableOf(base0))
	ctx := t.Context()
	project := newProjectID()
	plan := newPlan(project, base)
	mustCreatePlan(t, s, plan)
	for range 10 {
		tr := newTrigger(project, base, nil)
		mustCreateTrigger(t, s, tr)
		op := newOperation(project, base, tr, plan)
		var createErr, deleteErr error
		var wg sync.WaitGroup
		wg.Go(func() { createErr = s.CreateScheduledOperation(ctx, op) })
		wg.Go(func() { deleteErr = s.DeleteTrigger(ctx, project, tr.ID) })
		wg.Wait()
		if (createErr == nil) == (deleteErr == nil) {
			t.Fatalf("create: %v, delete: %v; want exactly one to succeed", createErr, deleteErr)
		}
		if createErr == nil {
			if _, err := s.GetTrigger(ctx, project, tr.ID); err != nil {
				t.Errorf("the created operation's trigger: %v", err)
			}
			if err := s.DeleteScheduledOperation(ctx, project, op.ID); err != nil {
				t.Fatal(err)
			}
		} else {
			var missing *domain.MissingError
			if !errors.As(createErr, &missing) || missing.What != "trigger" {
				t.Errorf("create after the delete: %v, want the trigger missing", createErr)
			}
		}
	}
}

func TestUpdateScheduledOperation(t *testing.T) {
	s := testenv.Store(t)
	ctx := t.Context()
	project := newProjectID()
	tr := newTrigger(project, base, nil)
	mustCreateTrigger(t, s, tr)
	plan := newPlan(project, base)
	mustCreatePlan(t, s, plan)
	op := newOperation(project, base, tr, plan)
	if err := s.CreateScheduledOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	off, on := false, true
	t1, t2 := base.Add(time.Hour).Truncate(time.Second), base.Add(2*time.Hour).Truncate(time.Second)
	got, err := s.UpdateScheduledOperation(ctx, project, op.ID, domain.ScheduledOperationUpdate{Name: strptr("renamed"), Description: strptr("d"), Enabled: &off, At: t1})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || *got.Description != "d" || got.Enabled || !got.EnabledAt.Equal(base.Truncate(time.Second)) {
		t.Errorf("disable: %+v", got)
	}
	if got, err = s.UpdateScheduledOperation(ctx, project, op.ID, domain.ScheduledOperationUpdate{Enabled: &on, ClearDescription: true, At: t1}); err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || !got.EnabledAt.Equal(t1) || got.Description != nil {
		t.Errorf("enable: %+v, want enabled at %v, no description", got, t1)
	}
	// Enabling an enabled operation moves nothing.
	if got, err = s.UpdateScheduledOperation(ctx, project, op.ID, domain.ScheduledOperationUpdate{Enabled: &on, At: t2}); err != nil {
		t.Fatal(err)
	}
	if !got.EnabledAt.Equal(t1) {
		t.Errorf("enable again: EnabledAt %v, want %v", got.EnabledAt, t1)
	}
	if _, err := s.UpdateScheduledOperation(ctx, project, tr.ID, domain.ScheduledOperationUpdate{Enabled: &on, At: t2}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("update of a trigger's id: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateScheduledOperation(ctx, newProjectID(), op.ID, domain.ScheduledOperationUpdate{Name: strptr("x")}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("update from another project: %v, want ErrNotFound", err)
	}
}

func TestListSchedules(t *testing.T) {
	s := testenv.Store(t)
	ctx := t.Context()
	project, other := newProjectID(), newProjectID()
	plan := newPlan(project, base)
	mustCreatePlan(t, s, plan)
	var trs []*domain.Trigger
	for i, name := range []string{"nightly", "weekly", "nightly-2", "hourly", "nightly-3"} {
		tr := newTrigger(project, base.Add(time.Duration(i)*time.Second), nil)
		tr.Name = name
		if name == "weekly" {
			tr.Properties.Pattern = "0 3 * * 0"
		}
		mustCreateTrigger(t, s, tr)
		trs = append(trs, tr)
	}
	mustCreateTrigger(t, s, newTrigger(other, base, nil))
	var ops []*domain.ScheduledOperation
	for i, tr := range trs[:3] {
		op := newOperation(project, base.Add(time.Duration(i)*time.Second), tr, plan)
		if i == 1 {
			op.Type = domain.OpTypeRetentionProtect
			n := int64(3)
			op.Definition.RetentionDuration = &n
		}
		if err := s.CreateScheduledOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	ids := func(items []*domain.Trigger) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	listT := func(q domain.TriggerQuery) []string {
		t.Helper()
		q.Limit = 10
		p, err := s.ListTriggers(ctx, q)
		if err != nil {
			t.Fatalf("ListTriggers(%+v): %v", q, err)
		}
		return ids(p.Items)
	}
	desc := func(trs ...*domain.Trigger) []string {
		out := ids(trs)
		slices.Reverse(out)
		return out
	}
	for _, c := range []struct {
		name string
		q    domain.TriggerQuery
		want []string
	}{
		{"all", domain.TriggerQuery{}, desc(trs...)},
		{"name regexp", domain.TriggerQuery{Name: "^nightly"}, desc(trs[0], trs[2], trs[4])},
		{"name unanchored", domain.TriggerQuery{Name: "ly-"}, desc(trs[2], trs[4])},
		{"properties regexp", domain.TriggerQuery{Properties: `"pattern":"0 3`}, desc(trs[1])},
		{"properties end_time null", domain.TriggerQuery{Properties: `"end_time":null`}, desc(trs...)},
		{"type", domain.TriggerQuery{Type: "time"}, desc(trs...)},
		{"type other", domain.TriggerQuery{Type: "event"}, nil},
	} {
		q := c.q
		q.ProjectID = project
		if got := listT(q); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Pages of two with a regexp filter: exact pages, the last without More.
	var walked []string
	marker := ""
	for range 5 {
		p, err := s.ListTriggers(ctx, domain.TriggerQuery{Listing: domain.Listing{ProjectID: project, Limit: 2, Marker: marker, Ascending: true}, Name: "nightly"})
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, ids(p.Items)...)
		if !p.More {
			break
		}
		marker = p.NextMarker
	}
	if want := ids([]*domain.Trigger{trs[0], trs[2], trs[4]}); !reflect.DeepEqual(walked, want) {
		t.Errorf("pages: %v, want %v", walked, want)
	}
	// A page that ends on the last match has no More.
	if p, err := s.ListTriggers(ctx, domain.TriggerQuery{Listing: domain.Listing{ProjectID: project, Limit: 1, Ascending: false}, Name: "weekly"}); err != nil || p.More || len(p.Items) != 1 {
		t.Errorf("one match, limit 1: %+v, %v", p, err)
	}
	// Markers: an operation's id is not a trigger marker.
	if _, err := s.ListTriggers(ctx, domain.TriggerQuery{Listing: domain.Listing{ProjectID: project, Limit: 2, Marker: ops[0].ID}}); !errors.Is(err, domain.ErrBadMarker) {
		t.Errorf("operation id as trigger marker: %v, want ErrBadMarker", err)
	}
	// Every project (admin).
	p, err := s.ListTriggers(ctx, domain.TriggerQuery{Listing: domain.Listing{Limit: 100}})
	if err != nil || len(p.Items) != 6 {
		t.Errorf("all projects: %d triggers, %v; want 6", len(p.Items), err)
	}

	listO := func(q domain.ScheduledOperationQuery) []string {
		t.Helper()
		q.Limit, q.ProjectID = 10, project
		p, err := s.ListScheduledOperations(ctx, q)
		if err != nil {
			t.Fatalf("ListScheduledOperations(%+v): %v", q, err)
		}
		var out []string
		for _, op := range p.Items {
			out = append(out, op.ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		q    domain.ScheduledOperationQuery
		want []string
	}{
		{"all", domain.ScheduledOperationQuery{}, []string{ops[2].ID, ops[1].ID, ops[0].ID}},
		{"type", domain.ScheduledOperationQuery{Type: domain.OpTypeRetentionProtect}, []string{ops[1].ID}},
		{"trigger", domain.ScheduledOperationQuery{TriggerID: trs[2].ID}, []string{ops[2].ID}},
		{"definition", domain.ScheduledOperationQuery{Definition: `"retention_duration":3`}, []string{ops[1].ID}},
		{"definition plan", domain.ScheduledOperationQuery{Definition: plan.ID}, []string{ops[2].ID, ops[1].ID, ops[0].ID}},
		{"name", domain.ScheduledOperationQuery{Name: "^nomatch"}, nil},
	} {
		if got := listO(c.q); !reflect.DeepEqual(got, c.want) {
			t.Errorf("operations %s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestScheduledOperationsPerItemBound: a trigger or a plan named by
// domain.MaxOperationsPerItem operations takes no more (their ids are kept
// on it: the item stays far below 400 KB), and one deleted makes room.
func TestScheduledOperationsPerItemBound(t *testing.T) {
	s := testenv.Store(t)
	ctx := t.Context()
	project := newProjectID()
	full := newTrigger(project, base, nil)
	mustCreateTrigger(t, s, full)
	plan := newPlan(project, base)
	mustCreatePlan(t, s, plan)
	var first *domain.ScheduledOperation
	for i := range domain.MaxOperationsPerItem {
		op := newOperation(project, base, full, plan)
		if err := s.CreateScheduledOperation(ctx, op); err != nil {
			t.Fatalf("operation %d: %v", i+1, err)
		}
		if first == nil {
			first = op
		}
	}
	var fe *domain.FullError
	if err := s.CreateScheduledOperation(ctx, newOperation(project, base, full, plan)); !errors.As(err, &fe) || fe.What != "trigger" {
		t.Errorf("one more on the trigger: %v, want the trigger full", err)
	}
	other := newTrigger(project, base, nil)
	mustCreateTrigger(t, s, other)
	if err := s.CreateScheduledOperation(ctx, newOperation(project, base, other, plan)); !errors.As(err, &fe) || fe.What != "plan" {
		t.Errorf("one more on the plan: %v, want the plan full", err)
	}
	if err := s.DeleteScheduledOperation(ctx, project, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateScheduledOperation(ctx, newOperation(project, base, other, plan)); err != nil {
		t.Errorf("after a delete: %v, want room for one", err)
	}
}
