package inventory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/ownership"
	"karbor/internal/testsupport/invenv"
)

// BenchmarkListTables300 lists 300 owned tables in one page of 300 in tag
// mode (GetResources, then a table lookup each), and checks the same 300
// tables as a plan would (DescribeTable and ListTagsOfResource each), on
// moto. moto is one Python process: it serves concurrent calls in part
// only, so AWS, bound by each call's latency, gains more.
func BenchmarkListTables300(b *testing.B) {
	e := invenv.New(b)
	p := invenv.Project()
	own := invenv.Owner(p)
	res := make([]domain.Resource, 300)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := range res {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res[i] = domain.Resource{Type: domain.TypeDynamoDBTable, ID: e.Table(fmt.Sprintf("bench-%s-%03d", p[:8], i), own)}
		}()
	}
	wg.Wait()
	inv := e.Inventory(ownership.Config{Mode: ownership.ModeTag})
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			page, err := inv.List(b.Context(), domain.InstanceQuery{Type: domain.TypeDynamoDBTable, Listing: domain.Listing{ProjectID: p, Limit: 300, Ascending: true}})
			if err != nil || len(page.Items) != 300 {
				b.Fatalf("List: %v, %d items", err, len(page.Items))
			}
		}
	})
	// With 10 ms more per DynamoDB call, about AWS's latency: what
	// concurrency gains where the calls' latency, not moto's CPU, bounds.
	slow := e.Inventory(ownership.Config{Mode: ownership.ModeTag})
	slow.DynamoDB = slowDB{inv.DynamoDB}
	b.Run("check-10ms", func(b *testing.B) {
		for b.Loop() {
			bad, err := slow.Check(b.Context(), p, res)
			if err != nil || len(bad) != 0 {
				b.Fatalf("Check: %v, %v", err, bad)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			bad, err := inv.Check(b.Context(), p, res)
			if err != nil || len(bad) != 0 {
				b.Fatalf("Check: %v, %v", err, bad)
			}
		}
	})
}

// slowDB adds 10 ms to each call.
type slowDB struct{ inventory.DynamoDBAPI }

func (s slowDB) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	time.Sleep(10 * time.Millisecond)
	return s.DynamoDBAPI.DescribeTable(ctx, in, opts...)
}

func (s slowDB) ListTagsOfResource(ctx context.Context, in *dynamodb.ListTagsOfResourceInput, opts ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error) {
	time.Sleep(10 * time.Millisecond)
	return s.DynamoDBAPI.ListTagsOfResource(ctx, in, opts...)
}
