package worker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// pending lists the ids the by_pending index holds under a status, read
// with a raw Query.
func (e *env) pending(status domain.Status) []string {
	e.t.Helper()
	// by_pending's key is status#shard: every shard holds some.
	var ids []string
	for shard := range store.Shards {
		out, err := e.ddb.Query(context.Background(), &dynamodb.QueryInput{
			TableName:                 aws.String(e.checkpoints),
			IndexName:                 aws.String(store.IndexByPending),
			KeyConditionExpression:    aws.String("#p = :s"),
			ExpressionAttributeNames:  map[string]string{"#p": "pending"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: fmt.Sprintf("%s#%d", status, shard)}},
		})
		if err != nil {
			e.t.Fatalf("Query %s: %v", store.IndexByPending, err)
		}
		for _, item := range out.Items {
			ids = append(ids, item["id"].(*types.AttributeValueMemberS).Value)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestSweeperEndsStuckCheckpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noop := []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}
	const limit = 2 * time.Hour
	start := time.Now()
	later := start.Add(limit + time.Minute) // the sweeper's now
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup, Now: func() time.Time { return later }}, Log: e.log, StuckAfter: limit}

	// In protecting since start: stuck at later.
	stuckProtecting := e.newCheckpointAt(provider.NoOpID, noop, nil, start)
	// In deleting since start, with what protection produced.
	table := e.sourceTable()
	stuckDeleting := e.newCheckpointAt(provider.AWSID, []domain.Resource{{ID: table, Type: provider.TypeDynamoDBTable, Name: "Orders"}}, nil, start)
	e.protect(e.worker, stuckDeleting)
	if _, err := e.store.SetStatus(t.Context(), domain.Transition{
		ProjectID: stuckDeleting.ProjectID, ProviderID: stuckDeleting.ProviderID, ID: stuckDeleting.ID,
		From: []domain.Status{domain.StatusAvailable}, To: domain.StatusDeleting, At: start,
	}); err != nil {
		t.Fatal(err)
	}
	backupARN := infoString(graph(t, e.get(stuckDeleting))[table].Info, "backup_arn")
	// In protecting for less than the limit at later.
	fresh := e.newCheckpointAt(provider.NoOpID, noop, nil, start.Add(limit))
	// Settled, as available and as deleted and error-deleting, long ago.
	settled := e.newCheckpointAt(provider.NoOpID, noop, nil, start)
	e.protect(e.worker, settled)
	deleted := e.newCheckpointAt(provider.NoOpID, noop, nil, start)
	e.protect(e.worker, deleted)
	e.remove(e.worker, deleted)
	before := map[string]*domain.Checkpoint{settled.ID: e.get(settled), deleted.ID: e.get(deleted)}

	if got, want := e.pending(domain.StatusProtecting), sorted(stuckProtecting.ID, fresh.ID); !slices.Equal(got, want) {
		t.Fatalf("by_pending protecting holds %q, want %q", got, want)
	}
	if got, want := e.pending(domain.StatusDeleting), sorted(stuckDeleting.ID); !slices.Equal(got, want) {
		t.Fatalf("by_pending deleting holds %q, want %q", got, want)
	}

	res, err := sweeper.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res != (worker.SweepResult{Protecting: 1, Deleting: 1}) {
		t.Errorf("Sweep = %+v, want one of each ended", res)
	}

	got := e.get(stuckProtecting)
	if got.Status != domain.StatusError || !got.UpdatedAt.Equal(later.UTC().Truncate(time.Second)) {
		t.Errorf("stuck protecting: status %s at %s, want error at %s", got.Status, got.UpdatedAt, later)
	}
	for id, n := range graph(t, got) {
		if n.Info["status"] != "error" || infoString(n.Info, "error") != "protection did not finish within 2h0m0s" {
			t.Errorf("stuck protecting: node %s = %v, want status error with the reason", id, n.Info)
		}
	}

	got = e.get(stuckDeleting)
	if got.Status != domain.StatusErrorDeleting {
		t.Errorf("stuck deleting: status %s, want error-deleting", got.Status)
	}
	info := graph(t, got)[table].Info
	if info["status"] != "error" || infoString(info, "delete_error") != "deletion did not finish within 2h0m0s" || infoString(info, "backup_arn") != backupARN {
		t.Errorf("stuck deleting: node %v, want status error, the reason in delete_error, and the backup it still has (%s)", info, backupARN)
	}

	if got := e.get(fresh); got.Status != domain.StatusProtecting || got.ResourceGraph != nil {
		t.Errorf("fresh: status %s, graph %v; want protecting and untouched", got.Status, got.ResourceGraph)
	}
	for id, want := range before {
		got, err := e.store.GetCheckpoint(t.Context(), want.ProjectID, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want.Status || !got.UpdatedAt.Equal(want.UpdatedAt) || *got.ResourceGraph != *want.ResourceGraph {
			t.Errorf("settled %s: %s %v → %s %v; want untouched", id, want.Status, *want.ResourceGraph, got.Status, *got.ResourceGraph)
		}
	}

	// Only the fresh one is still in flight; the settled ones left the
	// index.
	if got, want := e.pending(domain.StatusProtecting), sorted(fresh.ID); !slices.Equal(got, want) {
		t.Errorf("by_pending protecting holds %q, want %q", got, want)
	}
	if got := e.pending(domain.StatusDeleting); len(got) != 0 {
		t.Errorf("by_pending deleting holds %q, want none", got)
	}

	// Sweeping again ends nothing more; the worker's late record for the
	// swept checkpoint does nothing either.
	if res, err := sweeper.Sweep(t.Context()); err != nil || res != (worker.SweepResult{}) {
		t.Errorf("second Sweep = %+v, %v; want nothing", res, err)
	}
	e.handle(e.worker, e.record(stuckProtecting, "INSERT", domain.StatusProtecting))
	if got := e.get(stuckProtecting); got.Status != domain.StatusError {
		t.Errorf("a late protect record moved a swept checkpoint to %s", got.Status)
	}
}

func TestSweeperBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noop := []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}
	start := time.Now()
	var stuck []*domain.Checkpoint
	for range 3 {
		stuck = append(stuck, e.newCheckpointAt(provider.NoOpID, noop, nil, start))
	}
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup, Now: func() time.Time { return start.Add(2 * time.Hour) }}, Log: e.log, StuckAfter: time.Hour, Batch: 2}
	for _, want := range []int{2, 1, 0} {
		res, err := sweeper.Sweep(t.Context())
		if err != nil || res.Protecting != want {
			t.Fatalf("Sweep = %+v, %v; want %d ended", res, err, want)
		}
	}
	if got := e.pending(domain.StatusProtecting); len(got) != 0 {
		t.Errorf("by_pending still holds %q", got)
	}
	for _, c := range stuck {
		if got := e.get(c); got.Status != domain.StatusError {
			t.Errorf("checkpoint %s is %s after the sweeps, want error", c.ID, got.Status)
		}
	}
}

// A checkpoint that ends in error-deleting or deleted leaves the index.
func TestSettledCheckpointsLeavePendingIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noop := []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}
	a := e.newCheckpoint(provider.NoOpID, noop, nil)
	b := e.newCheckpoint(provider.NoOpID, noop, nil)
	if got := e.pending(domain.StatusProtecting); !slices.Equal(got, sorted(a.ID, b.ID)) {
		t.Fatalf("by_pending protecting holds %q, want both", got)
	}
	e.protect(e.worker, a)
	e.protect(e.worker, b)
	e.setStatus(a, domain.StatusAvailable, domain.StatusDeleting)
	if got := e.pending(domain.StatusDeleting); !slices.Equal(got, sorted(a.ID)) {
		t.Fatalf("by_pending deleting holds %q, want %s", got, a.ID)
	}
	e.handle(e.worker, e.record(a, "MODIFY", domain.StatusDeleting))
	if got := e.pending(domain.StatusProtecting); len(got) != 0 {
		t.Errorf("by_pending protecting holds %q, want none", got)
	}
	if got := e.pending(domain.StatusDeleting); len(got) != 0 {
		t.Errorf("by_pending deleting holds %q, want none", got)
	}
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
