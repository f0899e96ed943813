// Package atomicddb gives moto_server DynamoDB's atomicity of a write: moto
// checks a write's condition and applies it without a lock, so two
// concurrent conditional writes (or transactions) on one item can both pass
// their checks there, which DynamoDB never lets happen. Writes wrapped here
// reach moto one at a time; reads stay concurrent. Local use only (the
// local server and tests): never linked into a Lambda binary.
package atomicddb

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/store"
)

// API is a store.API whose writes run one at a time.
type API struct {
	store.API
	mu sync.Mutex
}

// Wrap returns db with its writes serialized.
func Wrap(db store.API) *API { return &API{API: db} }

// PutItem runs alone among the writes.
func (a *API) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.PutItem(ctx, in, o...)
}

// UpdateItem runs alone among the writes.
func (a *API) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.UpdateItem(ctx, in, o...)
}

// DeleteItem runs alone among the writes.
func (a *API) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.DeleteItem(ctx, in, o...)
}

// TransactWriteItems runs alone among the writes.
func (a *API) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.API.TransactWriteItems(ctx, in, o...)
}
