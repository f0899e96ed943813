package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// AWS answers that moto cannot be made to give on demand (throttling, a
// refusal naming the worker's role) are injected by a wrapper around the
// real clients.

// A transient failure hands the record back to the stream (a batch item
// failure) instead of ending the checkpoint in error; the retry finishes it
// with what was already produced found again.
func TestTransientFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	clients := wrap(e.clients)
	clients.ec2.createErr = &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}

	rec := e.record(c, "INSERT", domain.StatusProtecting)
	resp, err := w.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != rec.Change.SequenceNumber {
		t.Fatalf("Handle = %+v, %v; want the record handed back", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusProtecting {
		t.Fatalf("status %s after a throttled call, want still protecting", got.Status)
	}

	clients.ec2.createErr = nil
	e.handle(w, rec)
	if got := e.get(c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s after the retry, want available", got.Status)
	}
	if n := clients.ddb.created.Load(); n != 1 {
		t.Errorf("%d backups created over the two attempts, want 1", n)
	}
}

// A refusal's AWS message names the worker's role and account: the graph
// shows a fixed text instead, and the checkpoint ends in error.
func TestRefusalReasonIsMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	clients := wrap(e.clients)
	clients.ec2.createErr = &smithy.GenericAPIError{Code: "UnauthorizedOperation",
		Message: "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/karbor-WorkerFunctionRole/x"}
	got := e.protect(&worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}, c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want error", got.Status)
	}
	text := infoString(graph(t, got)[volume].Info, "error")
	if strings.Contains(text, "123456789012") || strings.Contains(text, "assumed-role") || !strings.Contains(text, "UnauthorizedOperation") {
		t.Errorf("reason %q: want the code without the account or role", text)
	}
}

// One stuck checkpoint that cannot be ended does not hold back the others.
func TestSweeperSkipsWhatItCannotEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noop := []domain.Resource{{ID: "server-1", Type: "OS::Nova::Server", Name: "Web server"}}
	start := e.get(e.newCheckpoint(provider.NoOpID, noop, nil)).UpdatedAt
	good := e.newCheckpointAt(provider.NoOpID, noop, nil, start)
	// An item the store cannot decode, stuck longest (in the
	// by_pending shard of its id).
	bad := domain.NewID()
	_, err := e.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(e.checkpoints),
		Item: map[string]ddbtypes.AttributeValue{
			"id":              &ddbtypes.AttributeValueMemberS{Value: bad},
			"project_id":      &ddbtypes.AttributeValueMemberS{Value: "p1"},
			"provider_id":     &ddbtypes.AttributeValueMemberS{Value: provider.NoOpID},
			"status":          &ddbtypes.AttributeValueMemberS{Value: "protecting"},
			"protection_plan": &ddbtypes.AttributeValueMemberS{Value: "not json"},
			"pending":         &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("protecting#%d", store.ShardOf(bad))},
			"updated_at":      &ddbtypes.AttributeValueMemberS{Value: "2000-01-01T00:00:00Z"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup, Now: func() time.Time { return start.Add(time.Hour) }}, Log: e.log, StuckAfter: 1}
	res, err := s.Sweep(context.Background())
	if err != nil || res.Failed != 1 || res.Protecting < 1 {
		t.Fatalf("Sweep = %+v, %v; want the bad item counted and the others ended", res, err)
	}
	if got := e.get(good); got.Status != domain.StatusError {
		t.Errorf("the decodable stuck checkpoint is %s, want error", got.Status)
	}
}
