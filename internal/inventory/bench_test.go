package inventory_test

import (
	"fmt"
	"sync"
	"testing"

	"karbor/internal/domain"
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
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			bad, err := inv.Check(b.Context(), p, res)
			if err != nil || len(bad) != 0 {
				b.Fatalf("Check: %v, %v", err, bad)
			}
		}
	})
}
