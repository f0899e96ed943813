package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

// replayingAPI sends every write to the real server twice and answers with
// the second outcome: what the SDK does when the response to the first
// attempt is lost (it retries on "connection reset" and "use of closed
// network connection", also after the server has applied the write). Reads
// pass through once.
type replayingAPI struct{ db *dynamodb.Client }

var _ store.API = replayingAPI{}

func (r replayingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return r.db.GetItem(ctx, in, opts...)
}

func (r replayingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return r.db.Query(ctx, in, opts...)
}

func (r replayingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := r.db.PutItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return r.db.PutItem(ctx, in, opts...)
}

func (r replayingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if _, err := r.db.UpdateItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return r.db.UpdateItem(ctx, in, opts...)
}

func (r replayingAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if _, err := r.db.DeleteItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return r.db.DeleteItem(ctx, in, opts...)
}

func (r replayingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if _, err := r.db.TransactWriteItems(ctx, in, opts...); err != nil {
		return nil, err
	}
	return r.db.TransactWriteItems(ctx, in, opts...)
}

// A write retried after its response was lost keeps the outcome of its first
// attempt: the retry's failed condition is the write's own doing.
func TestRetriedWrites(t *testing.T) {
	t.Parallel()
	plans, checkpoints := testenv.Tables(t)
	s := store.New(replayingAPI{testenv.DynamoDB(t)}, plans, checkpoints)
	plain := store.New(testenv.DynamoDB(t), plans, checkpoints)
	project, provider := newProjectID(), domain.NewID()

	t.Run("create plan", func(t *testing.T) {
		p := newPlan(project, base)
		if err := s.CreatePlan(t.Context(), p); err != nil {
			t.Fatalf("CreatePlan retried: %v", err)
		}
		got, err := s.GetPlan(t.Context(), project, p.ID)
		if err != nil {
			t.Fatalf("GetPlan: %v", err)
		}
		planEqual(t, "GetPlan", got, p)

		other := newPlan(project, base)
		other.ID = p.ID
		wantErr(t, "another plan with the same id", s.CreatePlan(t.Context(), other), domain.ErrExists)
	})

	t.Run("update plan", func(t *testing.T) {
		p := newPlan(project, base)
		if err := plain.CreatePlan(t.Context(), p); err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
		got, err := s.UpdatePlan(t.Context(), project, p.ID, domain.PlanUpdate{Name: strptr("renamed")})
		if err != nil {
			t.Fatalf("UpdatePlan retried: %v", err)
		}
		if got.Name != "renamed" {
			t.Errorf("name %q after update", got.Name)
		}
	})

	t.Run("create checkpoint", func(t *testing.T) {
		c := newCheckpoint(project, provider, base, domain.StatusProtecting)
		if err := s.CreateCheckpoint(t.Context(), c); err != nil {
			t.Fatalf("CreateCheckpoint retried: %v", err)
		}
		got, err := s.GetCheckpoint(t.Context(), project, c.ID)
		if err != nil {
			t.Fatalf("GetCheckpoint: %v", err)
		}
		checkpointEqual(t, "GetCheckpoint", got, stored(c))

		other := newCheckpoint(project, provider, base, domain.StatusProtecting)
		other.ID = c.ID
		wantErr(t, "another checkpoint with the same id", s.CreateCheckpoint(t.Context(), other), domain.ErrExists)
	})

	t.Run("set status", func(t *testing.T) {
		c := newCheckpoint(project, provider, base, domain.StatusAvailable)
		createCheckpoints(t, plain, c)
		at := base.Add(time.Minute)
		got, err := s.SetStatus(t.Context(), domain.Transition{
			ProjectID: project, ProviderID: provider, ID: c.ID, From: settled, To: domain.StatusDeleting, At: at,
		})
		if err != nil {
			t.Fatalf("SetStatus retried: %v", err)
		}
		want := stored(c)
		want.Status, want.UpdatedAt = domain.StatusDeleting, at.Truncate(time.Second)
		checkpointEqual(t, "SetStatus result", got, want)

		// A second delete is a different change: it conflicts.
		got, err = s.SetStatus(t.Context(), domain.Transition{
			ProjectID: project, ProviderID: provider, ID: c.ID, From: settled, To: domain.StatusDeleting, At: at,
		})
		wantErr(t, "second delete", err, domain.ErrConflict)
		if got == nil || got.Status != domain.StatusDeleting {
			t.Errorf("second delete saw %v, want deleting", got)
		}
	})
}
