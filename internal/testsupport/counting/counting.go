// Package counting wraps the store's DynamoDB API (store.API) with a tally
// of the calls made through it and the items each Query read, so that a
// test can prove what a request costs: how many calls, how many items read,
// whatever the size of the table.
package counting

import (
	"context"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/store"
)

// API is DB with a tally. It delegates every call unchanged. store.API has
// no Scan method, so a store cannot scan a table through it at all.
type API struct {
	DB store.API

	mu     sync.Mutex
	counts Counts
}

var _ store.API = (*API)(nil)

// New returns a counting wrapper of db.
func New(db store.API) *API { return &API{DB: db} }

// Counts is what the calls through an API have cost so far.
type Counts struct {
	Queries    int
	QueryItems []int // items each Query returned
	Scanned    []int // items each Query evaluated, as the server reports
	GetItems   int
	Writes     int // PutItem, UpdateItem, DeleteItem and TransactWriteItems calls
}

// Read is the number of items read: every item each Query evaluated, and
// one per GetItem.
func (c Counts) Read() int {
	n := c.GetItems
	for _, s := range c.Scanned {
		n += s
	}
	return n
}

// Calls is the number of calls of any kind.
func (c Counts) Calls() int { return c.Queries + c.GetItems + c.Writes }

// Counts returns the tally so far.
func (a *API) Counts() Counts {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.counts
	c.QueryItems, c.Scanned = slices.Clone(c.QueryItems), slices.Clone(c.Scanned)
	return c
}

// Reset sets the tally back to zero.
func (a *API) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts = Counts{}
}

func (a *API) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	a.mu.Lock()
	a.counts.GetItems++
	a.mu.Unlock()
	return a.DB.GetItem(ctx, in, opts...)
}

func (a *API) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	a.mu.Lock()
	a.counts.Writes++
	a.mu.Unlock()
	return a.DB.TransactWriteItems(ctx, in, opts...)
}

func (a *API) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	a.mu.Lock()
	a.counts.Writes++
	a.mu.Unlock()
	return a.DB.PutItem(ctx, in, opts...)
}

func (a *API) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	a.mu.Lock()
	a.counts.Writes++
	a.mu.Unlock()
	return a.DB.UpdateItem(ctx, in, opts...)
}

func (a *API) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	a.mu.Lock()
	a.counts.Writes++
	a.mu.Unlock()
	return a.DB.DeleteItem(ctx, in, opts...)
}

func (a *API) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := a.DB.Query(ctx, in, opts...)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts.Queries++
	if out != nil {
		a.counts.QueryItems = append(a.counts.QueryItems, len(out.Items))
		a.counts.Scanned = append(a.counts.Scanned, int(out.ScannedCount))
	}
	return out, err
}
