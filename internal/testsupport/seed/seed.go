// Package seed fills test tables fast. The items are the store's own: the
// store encodes each plan or checkpoint as its Create method does (its
// PutItem is captured instead of sent), and they are written by
// BatchWriteItem, 25 to a call, from a few goroutines at once. A test that
// needs thousands of items spends seconds, not minutes, on them.
//
// Seeding skips the store's "id must be new" condition: the fixtures' ids
// are new.
package seed

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/store"
)

// Workers is how many writes are in flight at once.
const Workers = 4

// batchSize is DynamoDB's limit of items in one BatchWriteItem.
const batchSize = 25

// Checkpoints writes cs to the checkpoints table, as the store's
// CreateCheckpoint would.
func Checkpoints(t testing.TB, db *dynamodb.Client, plansTable, checkpointsTable string, cs []*domain.Checkpoint) {
	t.Helper()
	Items(t, db, capture(t, plansTable, checkpointsTable, func(s *store.Store) error {
		for _, c := range cs {
			if err := s.CreateCheckpoint(context.Background(), c); err != nil {
				return fmt.Errorf("encode checkpoint %s: %w", c.ID, err)
			}
		}
		return nil
	}))
}

// Plans writes ps to the plans table, as the store's CreatePlan would.
func Plans(t testing.TB, db *dynamodb.Client, plansTable, checkpointsTable string, ps []*domain.Plan) {
	t.Helper()
	Items(t, db, capture(t, plansTable, checkpointsTable, func(s *store.Store) error {
		for _, p := range ps {
			if err := s.CreatePlan(context.Background(), p); err != nil {
				return fmt.Errorf("encode plan %s: %w", p.ID, err)
			}
		}
		return nil
	}))
}

// Item is one item to write to a table.
type Item struct {
	Table string
	Item  map[string]types.AttributeValue
}

// Items writes items with BatchWriteItem from Workers goroutines, and
// writes again what DynamoDB leaves unprocessed.
func Items(t testing.TB, db *dynamodb.Client, items []Item) {
	t.Helper()
	var batches []map[string][]types.WriteRequest
	for start := 0; start < len(items); start += batchSize {
		batch := map[string][]types.WriteRequest{}
		for _, it := range items[start:min(start+batchSize, len(items))] {
			batch[it.Table] = append(batch[it.Table], types.WriteRequest{PutRequest: &types.PutRequest{Item: it.Item}})
		}
		batches = append(batches, batch)
	}
	Parallel(t, batches, func(batch map[string][]types.WriteRequest) error { return write(db, batch) })
}

// Parallel calls write for each of items from Workers goroutines, and
// fails the test with the first error once all calls have returned: the
// one pool of the tests that write many items through the store itself.
func Parallel[T any](t testing.TB, items []T, write func(T) error) {
	t.Helper()
	work := make(chan T)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range Workers {
		wg.Go(func() {
			for it := range work {
				if err := write(it); err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("seed: %v", firstErr)
	}
}

func write(db *dynamodb.Client, batch map[string][]types.WriteRequest) error {
	for attempt := 0; len(batch) > 0; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("BatchWriteItem: items still unprocessed after %d attempts", attempt)
		}
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		}
		out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: batch})
		if err != nil {
			return fmt.Errorf("BatchWriteItem: %w", err)
		}
		batch = out.UnprocessedItems
	}
	return nil
}

// capture runs create against a store whose writes are kept, not sent, and
// returns the items it put.
func capture(t testing.TB, plansTable, checkpointsTable string, create func(*store.Store) error) []Item {
	t.Helper()
	c := &capturer{}
	if err := create(store.New(c, plansTable, checkpointsTable)); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return c.items
}

// capturer keeps the items of PutItem calls. The store's Create methods
// make one PutItem and nothing else; any other call reaches the nil
// embedded API and panics, which would be a bug of this package.
type capturer struct {
	store.API
	items []Item
}

func (c *capturer) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.items = append(c.items, Item{Table: aws.ToString(in.TableName), Item: in.Item})
	return &dynamodb.PutItemOutput{}, nil
}
