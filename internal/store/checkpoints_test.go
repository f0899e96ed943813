package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

const graph = `[{"0x0": ["OS::Cinder::Volume", "c6cd2f4a-4a1b-4c4f-9e3b-6f0b1c8e9d2a", "Data volume", {"backup_id": "b1"}]}, []]`

func TestCheckpointRoundTrip(t *testing.T) {
	t.Parallel()
	plans, table := testenv.Tables(t)
	s := store.New(testenv.DynamoDB(t), plans, table)
	project, provider := newProjectID(), domain.NewID()
	tests := []struct {
		name string
		edit func(c *domain.Checkpoint)
	}{
		{"new, protecting", func(*domain.Checkpoint) {}},
		{"available with a resource graph", func(c *domain.Checkpoint) {
			c.Status = domain.StatusAvailable
			c.ResourceGraph = strptr(graph)
			c.UpdatedAt = c.CreatedAt.Add(90 * time.Second)
		}},
		{"resources without extra_info, no parameters", func(c *domain.Checkpoint) {
			for i := range c.Plan.Resources {
				c.Plan.Resources[i].ExtraInfo = nil
			}
			c.Plan.Parameters = nil
		}},
		{"typed extra_info", func(c *domain.Checkpoint) {
			c.ExtraInfo = json.RawMessage(`{"created_by":"operation-engine","retries":3,"full":true,"note:#. x":"y"}`)
		}},
		{"non-UTC creation time", func(c *domain.Checkpoint) {
			c.CreatedAt = c.CreatedAt.In(time.FixedZone("PST", -8*3600))
		}},
		{"empty resource graph text", func(c *domain.Checkpoint) { c.ResourceGraph = strptr("") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckpoint(project, provider, base, domain.StatusProtecting)
			tc.edit(c)
			createCheckpoints(t, s, c)
			got, err := s.GetCheckpoint(t.Context(), project, c.ID)
			if err != nil {
				t.Fatalf("GetCheckpoint: %v", err)
			}
			checkpointEqual(t, "GetCheckpoint", got, stored(c))
		})
	}

	t.Run("stored keys", func(t *testing.T) {
		c := newCheckpoint(project, provider, base, domain.StatusProtecting)
		createCheckpoints(t, s, c)
		item := rawItem(t, table, c.ID, project)
		shard := fmt.Sprint(store.ShardOf(c.ID))
		for attr, want := range map[string]string{
			"list_project":    provider + "#" + project,
			"list_provider":   provider + "#" + shard,
			"list_plan":       provider + "#" + project + "#" + c.Plan.ID,
			"list_status":     provider + "#" + project + "#protecting",
			"list_all_plan":   provider + "#" + c.Plan.ID,
			"list_all_status": provider + "#protecting#" + shard,
			"pending":         "protecting#" + shard,
			"list_order":      "2026-11-26T18:30:05Z#" + c.ID,
			"plan_id":         c.Plan.ID,
		} {
			if got := stringAttr(item, attr); got != want {
				t.Errorf("%s = %q, want %q", attr, got, want)
			}
		}
		if _, ok := item["expires_at"]; ok {
			t.Errorf("a new checkpoint has expires_at")
		}
	})
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func TestCreateCheckpointTwice(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	c := newCheckpoint(newProjectID(), domain.NewID(), base, domain.StatusProtecting)
	createCheckpoints(t, s, c)
	again := *c
	again.Status = domain.StatusAvailable
	wantErr(t, "second CreateCheckpoint with the same id", s.CreateCheckpoint(t.Context(), &again), domain.ErrExists)
	got, err := s.GetCheckpoint(t.Context(), c.ProjectID, c.ID)
	if err != nil {
		t.Fatalf("GetCheckpoint: %v", err)
	}
	checkpointEqual(t, "checkpoint after the refused create", got, stored(c))
}

func TestCheckpointOfAnotherProject(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	c := newCheckpoint(newProjectID(), domain.NewID(), base, domain.StatusAvailable)
	createCheckpoints(t, s, c)
	other := newProjectID()

	_, err := s.GetCheckpoint(t.Context(), other, c.ID)
	wantErr(t, "GetCheckpoint from another project", err, domain.ErrNotFound)
	_, err = s.SetStatus(t.Context(), domain.Transition{
		ProjectID: other, ProviderID: c.ProviderID, ID: c.ID,
		From: []domain.Status{domain.StatusAvailable}, To: domain.StatusDeleting,
	})
	wantErr(t, "SetStatus from another project", err, domain.ErrNotFound)
	page, err := s.ListCheckpoints(t.Context(), domain.CheckpointQuery{ProviderID: c.ProviderID, Listing: domain.Listing{ProjectID: other}})
	if err != nil {
		t.Fatalf("ListCheckpoints of another project: %v", err)
	}
	if len(page.Items) != 0 {
		t.Errorf("another project lists %d checkpoints", len(page.Items))
	}

	got, err := s.GetCheckpoint(t.Context(), c.ProjectID, c.ID)
	if err != nil {
		t.Fatalf("GetCheckpoint of the owner: %v", err)
	}
	checkpointEqual(t, "checkpoint after another project's attempts", got, stored(c))
	_, err = s.GetCheckpoint(t.Context(), other, c.ID)
	wantErr(t, "GetCheckpoint from another project after its SetStatus", err, domain.ErrNotFound)
}

var settled = []domain.Status{domain.StatusAvailable, domain.StatusError}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project, provider := newProjectID(), domain.NewID()
	at := base.Add(10 * time.Minute).Add(700 * time.Millisecond)
	tests := []struct {
		name  string
		from  domain.Status // the checkpoint's status before
		graph *string       // the checkpoint's resource graph before
		t     domain.Transition
		err   error         // nil, domain.ErrConflict or domain.ErrNotFound
		want  domain.Status // status afterwards
		// wantGraph is the resource graph afterwards.
		wantGraph *string
	}{
		{name: "protection finished", from: domain.StatusProtecting,
			t:    domain.Transition{From: []domain.Status{domain.StatusProtecting}, To: domain.StatusAvailable, ResourceGraph: strptr(graph)},
			want: domain.StatusAvailable, wantGraph: strptr(graph)},
		{name: "protection failed", from: domain.StatusProtecting,
			t:    domain.Transition{From: []domain.Status{domain.StatusProtecting}, To: domain.StatusError},
			want: domain.StatusError},
		{name: "delete available", from: domain.StatusAvailable, graph: strptr(graph),
			t:    domain.Transition{From: settled, To: domain.StatusDeleting},
			want: domain.StatusDeleting, wantGraph: strptr(graph)},
		{name: "delete error", from: domain.StatusError,
			t:    domain.Transition{From: settled, To: domain.StatusDeleting},
			want: domain.StatusDeleting},
		{name: "reset available to error", from: domain.StatusAvailable,
			t:    domain.Transition{From: settled, To: domain.StatusError},
			want: domain.StatusError},
		{name: "reset error to available", from: domain.StatusError,
			t:    domain.Transition{From: settled, To: domain.StatusAvailable},
			want: domain.StatusAvailable},
		{name: "reset to the same status", from: domain.StatusAvailable,
			t:    domain.Transition{From: settled, To: domain.StatusAvailable},
			want: domain.StatusAvailable},
		{name: "deletion failed", from: domain.StatusDeleting,
			t:    domain.Transition{From: []domain.Status{domain.StatusDeleting}, To: domain.StatusErrorDeleting},
			want: domain.StatusErrorDeleting},
		{name: "delete while protecting", from: domain.StatusProtecting,
			t:   domain.Transition{From: settled, To: domain.StatusDeleting},
			err: domain.ErrConflict, want: domain.StatusProtecting},
		{name: "delete while deleting", from: domain.StatusDeleting,
			t:   domain.Transition{From: settled, To: domain.StatusDeleting},
			err: domain.ErrConflict, want: domain.StatusDeleting},
		{name: "reset while error-deleting", from: domain.StatusErrorDeleting,
			t:   domain.Transition{From: settled, To: domain.StatusAvailable},
			err: domain.ErrConflict, want: domain.StatusErrorDeleting},
		{name: "protection finishing after a delete", from: domain.StatusDeleting,
			t:   domain.Transition{From: []domain.Status{domain.StatusProtecting}, To: domain.StatusAvailable, ResourceGraph: strptr(graph)},
			err: domain.ErrConflict, want: domain.StatusDeleting},
		{name: "wrong provider", from: domain.StatusAvailable,
			t:   domain.Transition{ProviderID: domain.NewID(), From: settled, To: domain.StatusDeleting},
			err: domain.ErrNotFound, want: domain.StatusAvailable},
		{name: "wrong provider and wrong status", from: domain.StatusProtecting,
			t:   domain.Transition{ProviderID: domain.NewID(), From: settled, To: domain.StatusDeleting},
			err: domain.ErrNotFound, want: domain.StatusProtecting},
		{name: "wrong project", from: domain.StatusAvailable,
			t:   domain.Transition{ProjectID: newProjectID(), From: settled, To: domain.StatusDeleting},
			err: domain.ErrNotFound, want: domain.StatusAvailable},
		{name: "missing checkpoint", from: domain.StatusAvailable,
			t:   domain.Transition{ID: domain.NewID(), From: settled, To: domain.StatusDeleting},
			err: domain.ErrNotFound, want: domain.StatusAvailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckpoint(project, provider, base, tc.from)
			c.ResourceGraph = tc.graph
			createCheckpoints(t, s, c)

			tr := tc.t
			tr.At = at
			if tr.ProjectID == "" {
				tr.ProjectID = project
			}
			if tr.ProviderID == "" {
				tr.ProviderID = provider
			}
			if tr.ID == "" {
				tr.ID = c.ID
			}
			got, err := s.SetStatus(t.Context(), tr)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("SetStatus: error %v, want %v", err, tc.err)
			}

			want := stored(c)
			if tc.err == nil {
				want.Status, want.ResourceGraph = tc.want, tc.wantGraph
				want.UpdatedAt = at.Truncate(time.Second)
			}
			switch {
			case errors.Is(tc.err, domain.ErrConflict):
				if got == nil {
					t.Fatalf("SetStatus conflict returned no checkpoint")
				}
				checkpointEqual(t, "checkpoint returned with the conflict", got, want)
			case tc.err != nil:
				if got != nil {
					t.Errorf("SetStatus returned a checkpoint with %v: %s", err, dump(got))
				}
			default:
				checkpointEqual(t, "SetStatus result", got, want)
			}
			read, err := s.GetCheckpoint(t.Context(), project, c.ID)
			if err != nil {
				t.Fatalf("GetCheckpoint: %v", err)
			}
			if read.Status != tc.want {
				t.Errorf("stored status %s, want %s", read.Status, tc.want)
			}
			checkpointEqual(t, "GetCheckpoint after SetStatus", read, want)
		})
	}

	t.Run("without a from status", func(t *testing.T) {
		c := newCheckpoint(project, provider, base, domain.StatusAvailable)
		createCheckpoints(t, s, c)
		_, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: project, ProviderID: provider, ID: c.ID, To: domain.StatusDeleting})
		if err == nil || errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("SetStatus without From: error %v, want a non-sentinel error", err)
		}
		read, err := s.GetCheckpoint(t.Context(), project, c.ID)
		if err != nil {
			t.Fatalf("GetCheckpoint: %v", err)
		}
		if read.Status != domain.StatusAvailable {
			t.Errorf("status %s after a refused transition", read.Status)
		}
	})

	t.Run("zero time means now", func(t *testing.T) {
		c := newCheckpoint(project, provider, base, domain.StatusAvailable)
		createCheckpoints(t, s, c)
		before := time.Now().Truncate(time.Second)
		got, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: project, ProviderID: provider, ID: c.ID, From: settled, To: domain.StatusError})
		after := time.Now()
		if err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
		if got.UpdatedAt.Before(before) || got.UpdatedAt.After(after) {
			t.Errorf("UpdatedAt = %v, want between %v and %v", got.UpdatedAt, before, after)
		}
	})
}

func TestDeletedCheckpoint(t *testing.T) {
	t.Parallel()
	plans, table := testenv.Tables(t)
	s := store.New(testenv.DynamoDB(t), plans, table)
	project, provider := newProjectID(), domain.NewID()
	at := base.Add(24 * time.Hour).Add(300 * time.Millisecond)

	tests := []struct {
		name      string
		retention time.Duration
		want      int64
	}{
		{"two days", 48 * time.Hour, at.Add(48 * time.Hour).Unix()},
		{"default", 0, at.Add(domain.DefaultRetention).Unix()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckpoint(project, provider, base, domain.StatusDeleting)
			kept := newCheckpoint(project, provider, base, domain.StatusAvailable)
			createCheckpoints(t, s, c, kept)

			got, err := s.SetStatus(t.Context(), domain.Transition{
				ProjectID: project, ProviderID: provider, ID: c.ID,
				From: []domain.Status{domain.StatusDeleting}, To: domain.StatusDeleted,
				At: at, Retention: tc.retention,
			})
			if err != nil {
				t.Fatalf("SetStatus → deleted: %v", err)
			}
			if got.Status != domain.StatusDeleted || got.ExpiresAt != tc.want {
				t.Errorf("SetStatus result: status %s, expires_at %d; want deleted, %d", got.Status, got.ExpiresAt, tc.want)
			}

			item := rawItem(t, table, c.ID, project)
			n, ok := item["expires_at"].(*types.AttributeValueMemberN)
			if !ok || n.Value != fmt.Sprint(tc.want) {
				t.Errorf("raw expires_at = %#v, want the number %d", item["expires_at"], tc.want)
			}
			for _, attr := range []string{"list_project", "list_provider", "list_plan", "list_status", "list_all_plan", "list_all_status", "pending"} {
				if v, ok := item[attr]; ok {
					t.Errorf("raw item still has %s = %#v: the checkpoint stays listed", attr, v)
				}
			}
			if stringAttr(item, "list_order") == "" {
				t.Errorf("raw item lost list_order: a marker on it could not be placed")
			}

			for _, q := range []domain.CheckpointQuery{
				{ProviderID: provider, Listing: domain.Listing{ProjectID: project}},
				{ProviderID: provider},
				{ProviderID: provider, PlanID: c.Plan.ID, Listing: domain.Listing{ProjectID: project}},
				{ProviderID: provider, PlanID: c.Plan.ID},
				{ProviderID: provider, PlanID: c.Plan.ID, Status: domain.StatusDeleting},
				{ProviderID: provider, Status: domain.StatusDeleting, Listing: domain.Listing{ProjectID: project}},
				{ProviderID: provider, Status: domain.StatusDeleting},
			} {
				page, err := s.ListCheckpoints(t.Context(), q)
				if err != nil {
					t.Fatalf("ListCheckpoints(%+v): %v", q, err)
				}
				for _, l := range page.Items {
					if l.ID == c.ID {
						t.Errorf("ListCheckpoints(%+v) lists the deleted checkpoint", q)
					}
				}
			}
			page, err := s.ListCheckpoints(t.Context(), domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{ProjectID: project}})
			if err != nil {
				t.Fatalf("ListCheckpoints: %v", err)
			}
			found := false
			for _, l := range page.Items {
				found = found || l.ID == kept.ID
			}
			if !found {
				t.Errorf("the checkpoint that was not deleted is not listed")
			}

			shown, err := s.GetCheckpoint(t.Context(), project, c.ID)
			if err != nil {
				t.Fatalf("GetCheckpoint of a deleted checkpoint: %v", err)
			}
			want := stored(c)
			want.Status, want.ExpiresAt, want.UpdatedAt = domain.StatusDeleted, tc.want, at.Truncate(time.Second)
			checkpointEqual(t, "GetCheckpoint of a deleted checkpoint", shown, want)

			// deleted is final: no transition leaves it.
			_, err = s.SetStatus(t.Context(), domain.Transition{
				ProjectID: project, ProviderID: provider, ID: c.ID, From: settled, To: domain.StatusDeleting,
			})
			wantErr(t, "deleting a deleted checkpoint", err, domain.ErrConflict)
		})
	}
}

// raceStore returns a store over fresh tables whose client sends one request
// at a time. moto applies a conditional update in two steps without a lock
// (moto/dynamodb/models/__init__.py, update_item: the condition check, then
// the update), so two requests it handles at once can both pass the check,
// which DynamoDB never lets happen to one item. Through one connection the
// racing calls are still concurrent and unordered, and a store that read
// the status before writing would still let several through; but moto
// applies their writes one at a time, as DynamoDB does.
func raceStore(t *testing.T) *store.Store {
	t.Helper()
	plans, checkpoints := testenv.Tables(t)
	serial := dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxConnsPerHost = 1
		})
	})
	return store.New(serial, plans, checkpoints)
}

// TestConcurrentDeletes races ten deletes of one checkpoint: the conditional
// write lets exactly one through.
func TestConcurrentDeletes(t *testing.T) {
	t.Parallel()
	s := raceStore(t)
	project, provider := newProjectID(), domain.NewID()
	for round := range 5 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			from := settled[round%2]
			c := newCheckpoint(project, provider, base, from)
			createCheckpoints(t, s, c)

			const racers = 10
			type result struct {
				c   *domain.Checkpoint
				err error
			}
			results := make([]result, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					got, err := s.SetStatus(t.Context(), domain.Transition{
						ProjectID: project, ProviderID: provider, ID: c.ID,
						From: settled, To: domain.StatusDeleting, At: base.Add(time.Duration(i+1) * time.Second),
					})
					results[i] = result{got, err}
				})
			}
			close(start)
			wg.Wait()

			won, conflicts := -1, 0
			for i, r := range results {
				switch {
				case r.err == nil:
					if won >= 0 {
						t.Errorf("deletes %d and %d both succeeded", won, i)
					}
					won = i
					if r.c.Status != domain.StatusDeleting {
						t.Errorf("winner's checkpoint is %s", r.c.Status)
					}
				case errors.Is(r.err, domain.ErrConflict):
					conflicts++
					if r.c == nil || r.c.Status != domain.StatusDeleting {
						t.Errorf("a losing delete saw %v, want the checkpoint as deleting", r.c)
					}
				default:
					t.Errorf("delete %d: %v", i, r.err)
				}
			}
			if won < 0 || conflicts != racers-1 {
				t.Fatalf("%d winner(s), %d conflicts; want 1 and %d", racers-conflicts, conflicts, racers-1)
			}
			final, err := s.GetCheckpoint(t.Context(), project, c.ID)
			if err != nil {
				t.Fatalf("GetCheckpoint: %v", err)
			}
			if final.Status != domain.StatusDeleting {
				t.Errorf("final status %s, want deleting", final.Status)
			}
			// The stored write is the winner's, not a loser's.
			if want := base.Add(time.Duration(won+1) * time.Second).Truncate(time.Second); !final.UpdatedAt.Equal(want) {
				t.Errorf("final updated_at %v, want the winner's %v", final.UpdatedAt, want)
			}
		})
	}
}

// TestResetRacesDelete races a reset (available → error) with a delete of
// the same checkpoint.
func TestResetRacesDelete(t *testing.T) {
	t.Parallel()
	s := raceStore(t)
	project, provider := newProjectID(), domain.NewID()
	// Whole seconds, as updated_at is stored.
	resetAt, deleteAt := base.Truncate(time.Second).Add(time.Second), base.Truncate(time.Second).Add(2*time.Second)

	// outcome is what each side got back, and the checkpoint afterwards.
	type outcome struct {
		resetErr, deleteErr error
		reset, delete       *domain.Checkpoint
		final               *domain.Checkpoint
	}
	race := func(t *testing.T, reset, del domain.Transition) outcome {
		t.Helper()
		c := newCheckpoint(project, provider, base, domain.StatusAvailable)
		createCheckpoints(t, s, c)
		for _, tr := range []*domain.Transition{&reset, &del} {
			tr.ProjectID, tr.ProviderID, tr.ID = project, provider, c.ID
		}
		var o outcome
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; o.reset, o.resetErr = s.SetStatus(t.Context(), reset) })
		wg.Go(func() { <-start; o.delete, o.deleteErr = s.SetStatus(t.Context(), del) })
		close(start)
		wg.Wait()
		for _, err := range []error{o.resetErr, o.deleteErr} {
			if err != nil && !errors.Is(err, domain.ErrConflict) {
				t.Fatalf("SetStatus: %v", err)
			}
		}
		var err error
		if o.final, err = s.GetCheckpoint(t.Context(), project, c.ID); err != nil {
			t.Fatalf("GetCheckpoint: %v", err)
		}
		return o
	}

	// Each side conditions on the status it saw (available): exactly one
	// wins, and the stored checkpoint is the winner's.
	t.Run("both from available", func(t *testing.T) {
		for round := range 10 {
			o := race(t,
				domain.Transition{From: []domain.Status{domain.StatusAvailable}, To: domain.StatusError, At: resetAt},
				domain.Transition{From: []domain.Status{domain.StatusAvailable}, To: domain.StatusDeleting, At: deleteAt})
			switch {
			case o.resetErr == nil && o.deleteErr == nil:
				t.Fatalf("round %d: reset and delete both succeeded from available", round)
			case o.resetErr == nil:
				if o.final.Status != domain.StatusError || !o.final.UpdatedAt.Equal(resetAt) {
					t.Errorf("round %d: reset won, final %s at %v", round, o.final.Status, o.final.UpdatedAt)
				}
				if o.delete == nil || o.delete.Status != domain.StatusError {
					t.Errorf("round %d: the losing delete saw %v, want error", round, o.delete)
				}
			case o.deleteErr == nil:
				if o.final.Status != domain.StatusDeleting || !o.final.UpdatedAt.Equal(deleteAt) {
					t.Errorf("round %d: delete won, final %s at %v", round, o.final.Status, o.final.UpdatedAt)
				}
				if o.reset == nil || o.reset.Status != domain.StatusDeleting {
					t.Errorf("round %d: the losing reset saw %v, want deleting", round, o.reset)
				}
			default:
				t.Fatalf("round %d: neither reset nor delete succeeded", round)
			}
		}
	})

	// As the API issues them (both from available|error), a reset that lands
	// first leaves a checkpoint the delete may still take; a delete that
	// lands first refuses the reset. Either way the outcome is one of the two
	// serial orders, and the delete is never lost.
	t.Run("as the API issues them", func(t *testing.T) {
		for round := range 10 {
			o := race(t,
				domain.Transition{From: settled, To: domain.StatusError, At: resetAt},
				domain.Transition{From: settled, To: domain.StatusDeleting, At: deleteAt})
			if o.deleteErr != nil {
				t.Fatalf("round %d: delete refused (%v) although the reset leaves error, which it may delete", round, o.deleteErr)
			}
			if o.resetErr != nil && (o.reset == nil || o.reset.Status != domain.StatusDeleting) {
				t.Errorf("round %d: the losing reset saw %v, want deleting", round, o.reset)
			}
			if o.final.Status != domain.StatusDeleting || !o.final.UpdatedAt.Equal(deleteAt) {
				t.Errorf("round %d: final %s at %v, want the delete's", round, o.final.Status, o.final.UpdatedAt)
			}
		}
	})
}
