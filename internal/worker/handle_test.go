package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// unreachable is a store API whose every call fails: the store is down.
type unreachable struct{ store.API }

var errDown = errors.New("injected: DynamoDB unreachable")

func (unreachable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errDown
}

func (unreachable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errDown
}

func statusImage(status string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{
		"id":         events.NewStringAttribute(domain.NewID()),
		"project_id": events.NewStringAttribute("p1"),
		"status":     events.NewStringAttribute(status),
	}
}

func syntheticRecord(event, seq string, old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: event, Change: events.DynamoDBStreamRecord{SequenceNumber: seq, OldImage: old, NewImage: new}}
}

// Records that ask for nothing are not even looked up: a store that is
// down does not fail them.
func TestHandleIgnoresRecordsThatAskForNothing(t *testing.T) {
	t.Parallel()
	w := &worker.Worker{Domain: &domain.Service{Store: store.New(unreachable{}, "plans", "checkpoints"), Providers: provider.Lookup}, Clients: noClients{t}, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	resp, err := w.Handle(t.Context(), eventOf(
		syntheticRecord("INSERT", "1", nil, statusImage("available")),
		syntheticRecord("MODIFY", "2", statusImage("protecting"), statusImage("available")),
		syntheticRecord("MODIFY", "3", statusImage("deleting"), statusImage("deleting")),
		syntheticRecord("MODIFY", "4", statusImage("deleting"), statusImage("deleted")),
		syntheticRecord("REMOVE", "5", statusImage("deleted"), nil),
	))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("Handle = %+v, %v; want nothing failed", resp, err)
	}
}

// A record the worker cannot finish is the batch's failure, and the
// records after it are left for Lambda's retry.
func TestHandleReportsTheFirstRecordItCannotFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newCheckpoint(provider.NoOpID, []domain.Resource{{ID: "r", Type: "OS::Nova::Server", Name: "r"}}, nil)
	good := e.record(c, "INSERT", domain.StatusProtecting)
	garbled := syntheticRecord("INSERT", "1", nil, statusImage("protecting")) // no keys
	resp, err := e.worker.Handle(t.Context(), eventOf(garbled, good))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "1" {
		t.Fatalf("Handle = %+v, %v; want the garbled record reported", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusProtecting {
		t.Errorf("the record after the failure was handled: %s", got.Status)
	}

	// The store down: the record fails, and is not lost.
	down := &worker.Worker{Domain: &domain.Service{Store: store.New(unreachable{}, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup}, Clients: e.clients, Log: e.log, Ownership: accountMode}
	resp, err = down.Handle(t.Context(), eventOf(good))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != good.Change.SequenceNumber {
		t.Fatalf("Handle with the store down = %+v, %v; want the record reported", resp, err)
	}
	e.handle(e.worker, good)
	if got := e.get(c); got.Status != domain.StatusAvailable {
		t.Errorf("status %s after the retry, want available", got.Status)
	}
}

// The record of a checkpoint that no longer exists (expired by TTL) is
// done: there is nothing to do.
func TestHandleRecordOfVanishedCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newCheckpoint(provider.NoOpID, []domain.Resource{{ID: "r", Type: "OS::Nova::Server", Name: "r"}}, nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)
	if _, err := e.ddb.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{
		TableName: &e.checkpoints,
		Key: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: c.ID}, "project_id": &types.AttributeValueMemberS{Value: c.ProjectID},
		},
	}); err != nil {
		t.Fatal(err)
	}
	e.handle(e.worker, insert)
}
