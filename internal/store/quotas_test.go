package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/local/atomicddb"
	"karbor/internal/local/tables"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

func limit(n int64) *int64 { return &n }

// quotaStore is a store over fresh tables (quotas included) whose client is
// db(the real client).
func quotaStore(t *testing.T, db func(store.API) store.API) *store.Store {
	t.Helper()
	plans, checkpoints := testenv.Tables(t)
	return store.New(db(testenv.DynamoDB(t)), plans, checkpoints).WithQuotas(testenv.Table(t, tables.Quotas, "quotas"))
}

// serialized is a quota store whose writes reach moto one at a time
// (atomicddb). moto has no lock around a transaction: it checks the
// conditions, then applies the writes, and a cancelled one puts back a
// copy of each table it touched, taken before, undoing what others wrote
// meanwhile. Seen without serializing: 10 parallel creates at a limit of 5
// (none created before) let 6 through, in one round of 11. DynamoDB never
// does; the parallel tests check the store's conditions given DynamoDB's
// atomicity. (A test of moto's misbehaviour would pass or fail by chance,
// so there is none.)
func serialized(t *testing.T) *store.Store {
	return quotaStore(t, func(db store.API) store.API { return atomicddb.Wrap(db) })
}

func wantInUse(t *testing.T, s *store.Store, project string, r domain.QuotaResource, want int64) {
	t.Helper()
	q, err := s.GetQuota(t.Context(), project)
	if err != nil {
		t.Fatalf("GetQuota: %v", err)
	}
	if q.InUse[r] != want {
		t.Errorf("%s in use = %d, want %d", r, q.InUse[r], want)
	}
}

func wantOverLimit(t *testing.T, what string, err error, r domain.QuotaResource, limit int64) {
	t.Helper()
	var over *domain.OverLimitError
	if !errors.As(err, &over) || over.Resource != r || over.Limit != limit {
		t.Fatalf("%s: error %v, want over the %s limit %d", what, err, r, limit)
	}
}

func setQuota(t *testing.T, s *store.Store, project string, u domain.QuotaUpdate) {
	t.Helper()
	if _, err := s.UpdateQuota(t.Context(), project, u); err != nil {
		t.Fatalf("UpdateQuota: %v", err)
	}
}

// TestQuotaCountsPlans: a plan's create and delete change the count in the
// same transaction; a failed delete changes nothing.
func TestQuotaCountsPlans(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	project := newProjectID()
	a, b := newPlan(project, base), newPlan(project, base)
	for _, p := range []*domain.Plan{a, b} {
		if err := s.CreatePlan(t.Context(), p); err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
	}
	wantInUse(t, s, project, domain.QuotaPlans, 2)
	wantErr(t, "CreatePlan of an existing id", s.CreatePlan(t.Context(), &domain.Plan{ID: a.ID, ProjectID: project, Name: "other", CreatedAt: base}), domain.ErrExists)
	wantInUse(t, s, project, domain.QuotaPlans, 2)
	if err := s.DeletePlan(t.Context(), project, a.ID); err != nil {
		t.Fatalf("DeletePlan: %v", err)
	}
	wantInUse(t, s, project, domain.QuotaPlans, 1)
	wantErr(t, "DeletePlan again", s.DeletePlan(t.Context(), project, a.ID), domain.ErrNotFound)
	wantInUse(t, s, project, domain.QuotaPlans, 1)
	wantInUse(t, s, newProjectID(), domain.QuotaPlans, 0)
}

// TestQuotaLimits: limit 0 refuses without writing, -1 admits any number,
// and the effective limit is the override, else the class, else the
// deployment default.
func TestQuotaLimits(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	ctx := t.Context()
	project := newProjectID()
	create := func() error { return s.CreatePlan(ctx, newPlan(project, base)) }

	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaPlans: limit(0)})
	p := newPlan(project, base)
	wantOverLimit(t, "limit 0", s.CreatePlan(ctx, p), domain.QuotaPlans, 0)
	if _, err := s.GetPlan(ctx, project, p.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a plan refused by the quota was written: %v", err)
	}
	wantInUse(t, s, project, domain.QuotaPlans, 0)

	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaPlans: limit(-1)})
	for range 3 {
		if err := create(); err != nil {
			t.Fatalf("unlimited: %v", err)
		}
	}
	wantInUse(t, s, project, domain.QuotaPlans, 3)

	// The class's value applies to a project without an override.
	if _, err := s.UpdateQuotaClass(ctx, domain.DefaultQuotaClass, domain.QuotaUpdate{domain.QuotaPlans: limit(3)}); err != nil {
		t.Fatalf("UpdateQuotaClass: %v", err)
	}
	if err := s.DeleteQuota(ctx, project); err != nil {
		t.Fatalf("DeleteQuota: %v", err)
	}
	q, err := s.GetQuota(ctx, project)
	if err != nil {
		t.Fatalf("GetQuota: %v", err)
	}
	if len(q.Overrides) != 0 || q.InUse[domain.QuotaPlans] != 3 {
		t.Errorf("after DeleteQuota: overrides %v, in use %v; want none, counts kept (3 plans)", q.Overrides, q.InUse)
	}
	wantOverLimit(t, "class limit 3 at 3", create(), domain.QuotaPlans, 3)
	// The override wins over the class.
	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaPlans: limit(4)})
	if err := create(); err != nil {
		t.Fatalf("override 4 at 3: %v", err)
	}
	wantOverLimit(t, "override 4 at 4", create(), domain.QuotaPlans, 4)
	// Without either, the deployment default (50).
	if _, err := s.UpdateQuotaClass(ctx, domain.DefaultQuotaClass, domain.QuotaUpdate{domain.QuotaPlans: nil}); err != nil {
		t.Fatalf("UpdateQuotaClass: %v", err)
	}
	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaPlans: nil})
	if err := create(); err != nil {
		t.Fatalf("default 50 at 4: %v", err)
	}
	wantInUse(t, s, project, domain.QuotaPlans, 5)
	// Lowering a limit below the count deletes nothing.
	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaPlans: limit(1)})
	wantOverLimit(t, "limit 1 at 5", create(), domain.QuotaPlans, 1)
	wantInUse(t, s, project, domain.QuotaPlans, 5)
}

// TestQuotaUpdates: set and remove (nil) overrides and class values; a
// resource absent from the update stays.
func TestQuotaUpdates(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	ctx := t.Context()
	project := newProjectID()
	q, err := s.UpdateQuota(ctx, project, domain.QuotaUpdate{domain.QuotaPlans: limit(7), domain.QuotaCheckpoints: limit(-1)})
	if err != nil {
		t.Fatalf("UpdateQuota: %v", err)
	}
	if got := q.Overrides; len(got) != 2 || got[domain.QuotaPlans] != 7 || got[domain.QuotaCheckpoints] != -1 {
		t.Errorf("overrides = %v", got)
	}
	q, err = s.UpdateQuota(ctx, project, domain.QuotaUpdate{domain.QuotaCheckpoints: nil})
	if err != nil {
		t.Fatalf("UpdateQuota: %v", err)
	}
	if got := q.Overrides; len(got) != 1 || got[domain.QuotaPlans] != 7 {
		t.Errorf("overrides after removing checkpoints = %v", got)
	}
	if q, err = s.GetQuota(ctx, project); err != nil || len(q.Overrides) != 1 || q.Overrides[domain.QuotaPlans] != 7 {
		t.Errorf("GetQuota = %+v, %v", q, err)
	}
	if l, err := s.GetQuotaClass(ctx, domain.DefaultQuotaClass); err != nil || len(l) != 0 {
		t.Errorf("GetQuotaClass of a fresh table = %v, %v; want none set", l, err)
	}
	l, err := s.UpdateQuotaClass(ctx, domain.DefaultQuotaClass, domain.QuotaUpdate{domain.QuotaCheckpoints: limit(9)})
	if err != nil || len(l) != 1 || l[domain.QuotaCheckpoints] != 9 {
		t.Errorf("UpdateQuotaClass = %v, %v", l, err)
	}
	if l, err := s.GetQuotaClass(ctx, domain.DefaultQuotaClass); err != nil || len(l) != 1 || l[domain.QuotaCheckpoints] != 9 {
		t.Errorf("GetQuotaClass = %v, %v", l, err)
	}
}

func move(t *testing.T, s *store.Store, c *domain.Checkpoint, from, to domain.Status) {
	t.Helper()
	if _, err := s.SetStatus(t.Context(), domain.Transition{ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID, From: []domain.Status{from}, To: to}); err != nil {
		t.Fatalf("SetStatus %s → %s: %v", from, to, err)
	}
}

// TestQuotaCountsCheckpoints: a checkpoint counts from its create until it
// becomes deleted (deleting and error-deleting still count); SetStatus into
// deleted keeps its answers.
func TestQuotaCountsCheckpoints(t *testing.T) {
	t.Parallel()
	s := testenv.Store(t)
	ctx := t.Context()
	project, provider := newProjectID(), domain.NewID()
	a := newCheckpoint(project, provider, base, domain.StatusAvailable)
	b := newCheckpoint(project, provider, base, domain.StatusAvailable)
	createCheckpoints(t, s, a, b)
	wantInUse(t, s, project, domain.QuotaCheckpoints, 2)
	wantErr(t, "CreateCheckpoint twice", s.CreateCheckpoint(ctx, &domain.Checkpoint{ID: a.ID, ProjectID: project, ProviderID: provider, Status: domain.StatusAvailable, CreatedAt: base}), domain.ErrExists)
	wantInUse(t, s, project, domain.QuotaCheckpoints, 2)

	move(t, s, a, domain.StatusAvailable, domain.StatusDeleting)
	move(t, s, b, domain.StatusAvailable, domain.StatusDeleting)
	move(t, s, b, domain.StatusDeleting, domain.StatusErrorDeleting)
	wantInUse(t, s, project, domain.QuotaCheckpoints, 2)

	got, err := s.SetStatus(ctx, domain.Transition{ProjectID: project, ProviderID: provider, ID: a.ID, From: []domain.Status{domain.StatusDeleting}, To: domain.StatusDeleted})
	if err != nil || got.Status != domain.StatusDeleted || got.ExpiresAt == 0 {
		t.Fatalf("SetStatus deleting → deleted = %+v, %v; want the deleted checkpoint as written", got, err)
	}
	wantInUse(t, s, project, domain.QuotaCheckpoints, 1)

	// Refused moves into deleted change no count and answer as before.
	c, err := s.SetStatus(ctx, domain.Transition{ProjectID: project, ProviderID: provider, ID: a.ID, From: []domain.Status{domain.StatusDeleting}, To: domain.StatusDeleted})
	if !errors.Is(err, domain.ErrConflict) || c == nil || c.Status != domain.StatusDeleted {
		t.Errorf("deleted again: %+v, %v; want ErrConflict with the deleted checkpoint", c, err)
	}
	_, err = s.SetStatus(ctx, domain.Transition{ProjectID: project, ProviderID: domain.NewID(), ID: b.ID, From: []domain.Status{domain.StatusErrorDeleting}, To: domain.StatusDeleted})
	wantErr(t, "deleted at another provider", err, domain.ErrNotFound)
	_, err = s.SetStatus(ctx, domain.Transition{ProjectID: project, ProviderID: provider, ID: domain.NewID(), From: []domain.Status{domain.StatusDeleting}, To: domain.StatusDeleted})
	wantErr(t, "deleted of no checkpoint", err, domain.ErrNotFound)
	wantInUse(t, s, project, domain.QuotaCheckpoints, 1)

	// A limit on checkpoints (default -1) refuses at the count.
	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaCheckpoints: limit(1)})
	wantOverLimit(t, "checkpoints at 1", s.CreateCheckpoint(ctx, newCheckpoint(project, provider, base, domain.StatusProtecting)), domain.QuotaCheckpoints, 1)
}

// parallel runs n calls of f at once and returns how many succeeded and
// how many were over the limit (others fail the test).
func parallel(t *testing.T, n int, r domain.QuotaResource, lim int64, f func() error) (ok, over int) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	for _, err := range errs {
		var o *domain.OverLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &o) && o.Resource == r && o.Limit == lim:
			over++
		default:
			t.Errorf("parallel create: %v", err)
		}
	}
	return ok, over
}

// TestQuotaParallelPlans: ten parallel creates with three plans left under
// the limit: exactly three pass.
func TestQuotaParallelPlans(t *testing.T) {
	t.Parallel()
	s := serialized(t)
	project := newProjectID()
	setQuota(t, s, project, domain.QuotaUpdate{domain.QuotaPlans: limit(5)})
	for range 2 {
		if err := s.CreatePlan(t.Context(), newPlan(project, base)); err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
	}
	ok, over := parallel(t, 10, domain.QuotaPlans, 5, func() error { return s.CreatePlan(t.Context(), newPlan(project, base)) })
	if ok != 3 || over != 7 {
		t.Errorf("%d created, %d over the limit; want 3 and 7", ok, over)
	}
	wantInUse(t, s, project, domain.QuotaPlans, 5)
	page, err := s.ListPlans(t.Context(), domain.PlanQuery{Listing: domain.Listing{ProjectID: project}})
	if err != nil || len(page.Items) != 5 {
		t.Errorf("ListPlans: %d plans, %v; want 5", len(page.Items), err)
	}
}

// TestQuotaParallelCheckpoints: the same for checkpoints, then a delete
// that reaches deleted frees one place and one that ends in error-deleting
// does not.
func TestQuotaParallelCheckpoints(t *testing.T) {
	t.Parallel()
	s := serialized(t)
	ctx := t.Context()
	project, provider := newProjectID(), domain.NewID()
	if _, err := s.UpdateQuotaClass(ctx, domain.DefaultQuotaClass, domain.QuotaUpdate{domain.QuotaCheckpoints: limit(4)}); err != nil {
		t.Fatalf("UpdateQuotaClass: %v", err)
	}
	first := newCheckpoint(project, provider, base, domain.StatusAvailable)
	createCheckpoints(t, s, first)
	var created sync.Map
	ok, over := parallel(t, 10, domain.QuotaCheckpoints, 4, func() error {
		c := newCheckpoint(project, provider, base, domain.StatusAvailable)
		err := s.CreateCheckpoint(ctx, c)
		if err == nil {
			created.Store(c.ID, c)
		}
		return err
	})
	if ok != 3 || over != 7 {
		t.Errorf("%d created, %d over the limit; want 3 and 7", ok, over)
	}
	wantInUse(t, s, project, domain.QuotaCheckpoints, 4)
	var second *domain.Checkpoint
	created.Range(func(_, v any) bool { second = v.(*domain.Checkpoint); return false })

	move(t, s, second, domain.StatusAvailable, domain.StatusDeleting)
	move(t, s, second, domain.StatusDeleting, domain.StatusErrorDeleting)
	wantOverLimit(t, "after error-deleting", s.CreateCheckpoint(ctx, newCheckpoint(project, provider, base, domain.StatusProtecting)), domain.QuotaCheckpoints, 4)
	move(t, s, first, domain.StatusAvailable, domain.StatusDeleting)
	move(t, s, first, domain.StatusDeleting, domain.StatusDeleted)
	if err := s.CreateCheckpoint(ctx, newCheckpoint(project, provider, base, domain.StatusProtecting)); err != nil {
		t.Errorf("after a checkpoint became deleted: %v", err)
	}
	wantInUse(t, s, project, domain.QuotaCheckpoints, 4)
}

// conflicting answers the first n TransactWriteItems calls with the
// TransactionConflict cancellation that real DynamoDB gives two
// transactions on one item at once (moto never produces it), without
// sending them; everything else goes to moto.
type conflicting struct {
	store.API
	n     int32
	calls atomic.Int32
}

func (c *conflicting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if c.calls.Add(1) <= c.n {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[len(reasons)-1].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	return c.API.TransactWriteItems(ctx, in, o...)
}

// TestQuotaTransactionConflict: a counted write cancelled by a conflicting
// transaction is tried again (a fake injects the conflict); a conflict that
// persists is an error after a bounded number of attempts, nothing written.
func TestQuotaTransactionConflict(t *testing.T) {
	t.Parallel()
	var fake *conflicting
	s := quotaStore(t, func(db store.API) store.API { fake = &conflicting{API: db, n: 3}; return fake })
	project := newProjectID()
	start := time.Now()
	if err := s.CreatePlan(t.Context(), newPlan(project, base)); err != nil {
		t.Fatalf("CreatePlan after 3 conflicts: %v", err)
	}
	if got := fake.calls.Load(); got != 4 {
		t.Errorf("%d transactions, want 4 (3 conflicts, then success)", got)
	}
	t.Logf("3 conflicts retried in %v", time.Since(start))
	wantInUse(t, s, project, domain.QuotaPlans, 1)

	fake.calls.Store(0)
	fake.n = 1000
	p := newPlan(project, base)
	err := s.CreatePlan(t.Context(), p)
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("CreatePlan under a lasting conflict: %v, want the cancellation marked unavailable (503)", err)
	}
	if got := fake.calls.Load(); got < 2 || got > 20 {
		t.Errorf("%d attempts under a lasting conflict, want a small bound", got)
	}
	wantInUse(t, s, project, domain.QuotaPlans, 1)
	if _, err := s.GetPlan(t.Context(), project, p.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("plan written despite the cancellation: %v", err)
	}
}
