package worker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/testsupport/streamread"
	"karbor/internal/testsupport/wait"
	"karbor/internal/worker"
)

// wantLog is what a test expects of one operation log of a checkpoint.
type wantLog struct {
	Type   domain.OperationType
	Status string
	// ErrorInfo is a text error_info must contain ("": it must be null).
	ErrorInfo string
}

// logsOf lists the operation logs of a checkpoint, oldest first.
func (e *env) logsOf(c *domain.Checkpoint) []*domain.OperationLog {
	e.t.Helper()
	page, err := e.store.ListOperationLogs(e.t.Context(), domain.OperationLogQuery{
		Listing: domain.Listing{ProjectID: c.ProjectID, Ascending: true}, CheckpointID: c.ID,
	})
	if err != nil {
		e.t.Fatalf("ListOperationLogs: %v", err)
	}
	return page.Items
}

// wantLogs checks that the checkpoint has exactly these logs, in order of
// their start, each with the checkpoint's ids and an end when it ended.
func (e *env) wantLogs(c *domain.Checkpoint, want ...wantLog) []*domain.OperationLog {
	e.t.Helper()
	logs := e.logsOf(c)
	// Listed by started_at, to the second, then id: logs of one second
	// are compared protect first.
	slices.SortStableFunc(logs, func(a, b *domain.OperationLog) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return slices.Index(domain.OperationTypes, a.Type) - slices.Index(domain.OperationTypes, b.Type)
	})
	var got []wantLog
	for _, l := range logs {
		w := wantLog{Type: l.Type, Status: l.Status}
		if l.ErrorInfo != nil {
			w.ErrorInfo = *l.ErrorInfo
		}
		got = append(got, w)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Type == want[i].Type && got[i].Status == want[i].Status &&
			(want[i].ErrorInfo == "") == (got[i].ErrorInfo == "") && strings.Contains(got[i].ErrorInfo, want[i].ErrorInfo)
	}
	if !ok {
		e.t.Fatalf("logs of checkpoint %s:\n got %+v\nwant %+v", c.ID, got, want)
	}
	for _, l := range logs {
		if l.ProjectID != c.ProjectID || l.CheckpointID == nil || *l.CheckpointID != c.ID || l.PlanID == nil || *l.PlanID != c.Plan.ID ||
			l.ProviderID == nil || *l.ProviderID != c.ProviderID || l.RestoreID != nil || l.ScheduledOperationID != nil {
			e.t.Errorf("log %s names project %s, checkpoint %v, plan %v, provider %v, restore %v, scheduled operation %v; want the checkpoint's",
				l.ID, l.ProjectID, l.CheckpointID, l.PlanID, l.ProviderID, l.RestoreID, l.ScheduledOperationID)
		}
		if settled := l.Status != l.Type.StartStatus(); settled != (l.EndedAt != nil) {
			e.t.Errorf("log %s is %s with ended_at %v", l.ID, l.Status, l.EndedAt)
		}
	}
	return logs
}

// recordAt waits for the MODIFY record of c into deleting whose NewImage
// has this updated_at (one deletion attempt of several).
func (e *env) recordAt(c *domain.Checkpoint, updatedAt time.Time) events.DynamoDBEventRecord {
	e.t.Helper()
	var found events.DynamoDBEventRecord
	at := domain.Timestamp(updatedAt)
	wait.Until(e.t, "the record of the deletion at "+at, func() error {
		for _, r := range e.stream.Read(e.t) {
			if streamread.Is(r, c.ID, "MODIFY", domain.StatusDeleting) && r.Change.NewImage["updated_at"].String() == at {
				found = r
				return nil
			}
		}
		return fmt.Errorf("no such record yet")
	})
	return found
}

func (e *env) move(c *domain.Checkpoint, from, to domain.Status, at time.Time) {
	e.t.Helper()
	_, err := e.store.SetStatus(e.t.Context(), domain.Transition{
		ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID, From: []domain.Status{from}, To: to, At: at,
	})
	if err != nil {
		e.t.Fatalf("SetStatus(%s → %s): %v", from, to, err)
	}
}

// A protection and two deletion attempts (the first ended by the sweeper,
// the retry by the worker) leave exactly three logs, whatever is
// redelivered, in whatever order.
func TestOperationLogsOfProtectionAndDeletions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noop := []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	c := e.newCheckpointAt(provider.NoOpID, noop, nil, start)

	insert := e.record(c, "INSERT", domain.StatusProtecting)
	e.handle(e.worker, insert, insert)
	e.handle(e.worker, insert)
	logs := e.wantLogs(c, wantLog{domain.OpProtect, "available", ""})
	if p := logs[0]; !p.StartedAt.Equal(start) || p.ID != domain.OperationLogID(domain.OpProtect, c.ID, "") {
		t.Errorf("protect log %s started at %s, want id %s and the checkpoint's created_at %s", p.ID, p.StartedAt, domain.OperationLogID(domain.OpProtect, c.ID, ""), start)
	}

	// The first deletion: stuck, ended by the sweeper.
	first := start.Add(time.Minute)
	e.move(c, domain.StatusAvailable, domain.StatusDeleting, first)
	firstRecord := e.recordAt(c, first)
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup, Now: func() time.Time { return first.Add(3 * time.Hour) }}, Log: e.log, StuckAfter: 2 * time.Hour}
	if res, err := sweeper.Sweep(t.Context()); err != nil || res.Deleting != 1 {
		t.Fatalf("Sweep = %+v, %v; want one deletion ended", res, err)
	}
	// The worker's late delivery of that attempt changes nothing.
	e.handle(e.worker, firstRecord)
	e.wantLogs(c, wantLog{domain.OpProtect, "available", ""}, wantLog{domain.OpDelete, "error-deleting", "deletion did not finish within 2h0m0s"})

	// The retry, delivered twice: a second delete log.
	second := first.Add(time.Minute)
	e.move(c, domain.StatusErrorDeleting, domain.StatusDeleting, second)
	secondRecord := e.recordAt(c, second)
	e.handle(e.worker, secondRecord, firstRecord, secondRecord)
	if got := e.get(c); got.Status != domain.StatusDeleted {
		t.Fatalf("status %s, want deleted", got.Status)
	}
	e.handle(e.worker, insert, secondRecord)
	logs = e.wantLogs(c, wantLog{domain.OpProtect, "available", ""},
		wantLog{domain.OpDelete, "error-deleting", "deletion did not finish within 2h0m0s"}, wantLog{domain.OpDelete, "deleted", ""})
	for i, at := range []time.Time{first, second} {
		if d := logs[1+i]; !d.StartedAt.Equal(at) || d.ID != domain.OperationLogID(domain.OpDelete, c.ID, domain.Timestamp(at)) {
			t.Errorf("delete log %d: id %s started %s, want the attempt's (%s)", i+1, d.ID, d.StartedAt, at)
		}
	}
}

// A protection with failed resources: its log ends error, saying which
// and why.
func TestOperationLogOfFailedProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const missing = "vol-0123456789abcdef0"
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{{ID: missing, Type: provider.TypeEC2Volume, Name: "Gone volume"}}, nil)
	if got := e.protect(e.worker, c); got.Status != domain.StatusError {
		t.Fatalf("status %s, want error", got.Status)
	}
	e.wantLogs(c, wantLog{domain.OpProtect, "error", provider.TypeEC2Volume + " " + missing + ": " + provider.TypeEC2Volume + " " + missing + " is not owned by the project"})
}

// The sweeper ends a protection the worker never started: the log is
// written whole, error with the sweeper's reason; the worker's late
// delivery leaves it so.
func TestOperationLogOfStuckProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := time.Now().Add(-3 * time.Hour)
	c := e.newCheckpointAt(provider.NoOpID, []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}, nil, start)
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Log: e.log, StuckAfter: 2 * time.Hour}
	if res, err := sweeper.Sweep(t.Context()); err != nil || res.Protecting != 1 {
		t.Fatalf("Sweep = %+v, %v; want one protection ended", res, err)
	}
	e.handle(e.worker, e.record(c, "INSERT", domain.StatusProtecting))
	logs := e.wantLogs(c, wantLog{domain.OpProtect, "error", "protection did not finish within 2h0m0s"})
	if !logs[0].StartedAt.Equal(start.Truncate(time.Second)) {
		t.Errorf("started_at %s, want the checkpoint's created_at %s", logs[0].StartedAt, start)
	}
}

// A log write that fails retries the record; the checkpoint's outcome,
// written before it, stays, and the retry ends the log from it.
func TestFailedLogEndIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noop := []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}
	c := e.newCheckpoint(provider.NoOpID, noop, nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)

	// The checkpoint's write passes, the log's end (the next UpdateItem)
	// fails, as when the connection drops between the two.
	db := &failingLogEnds{API: e.db, table: e.oplogs}
	db.failures.Store(1)
	w := &worker.Worker{Domain: &domain.Service{Store: e.storeOver(db), Providers: provider.Lookup}, Clients: noClients{t}, Log: e.log, Ownership: accountMode}
	resp, err := w.Handle(t.Context(), eventOf(insert))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record reported failed", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available (written before the log)", got.Status)
	}
	e.wantLogs(c, wantLog{domain.OpProtect, "protecting", ""})
	e.handle(w, insert) // the retry
	e.wantLogs(c, wantLog{domain.OpProtect, "available", ""})

	// The same for a deletion; the checkpoint's deletion is not redone.
	e.setStatus(c, domain.StatusAvailable, domain.StatusDeleting)
	modify := e.record(c, "MODIFY", domain.StatusDeleting)
	db.failures.Store(1)
	resp, err = w.Handle(t.Context(), eventOf(modify))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record reported failed", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusDeleted {
		t.Fatalf("status %s, want deleted", got.Status)
	}
	e.handle(w, modify)
	e.wantLogs(c, wantLog{domain.OpProtect, "available", ""}, wantLog{domain.OpDelete, "deleted", ""})

	// A start that fails retries the record before anything is done.
	other := e.newCheckpoint(provider.NoOpID, noop, nil)
	starts := &failingLogStarts{API: e.db}
	starts.failures.Store(1)
	w = &worker.Worker{Domain: &domain.Service{Store: e.storeOver(starts), Providers: provider.Lookup}, Clients: noClients{t}, Log: e.log, Ownership: accountMode}
	otherInsert := e.record(other, "INSERT", domain.StatusProtecting)
	resp, err = w.Handle(t.Context(), eventOf(otherInsert))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record reported failed", resp, err)
	}
	if got := e.get(other); got.Status != domain.StatusProtecting {
		t.Fatalf("status %s, want protecting (nothing done before the log started)", got.Status)
	}
	e.handle(w, otherInsert)
	e.wantLogs(other, wantLog{domain.OpProtect, "available", ""})
}

func TestOperationLogIDsDiffer(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	ids := []string{
		domain.OperationLogID(domain.OpProtect, id, ""),
		domain.OperationLogID(domain.OpDelete, id, "2026-12-01T08:00:00Z"),
		domain.OperationLogID(domain.OpDelete, id, "2026-12-01T08:00:01Z"),
		domain.OperationLogID(domain.OpProtect, domain.NewID(), ""),
	}
	for i, a := range ids {
		if _, ok := domain.ParseUUID(a); !ok || slices.Contains(ids[i+1:], a) {
			t.Errorf("log ids %q: %s is not a UUID, or not unique", ids, a)
		}
	}
}
