package worker_test

// BenchmarkRequestsPerCheckpoint counts the AWS requests the worker's
// plugins make for one checkpoint (HTTP requests, retries included: a
// counting middleware on the plugins' SDK clients, against moto_server),
// for plans of 1, 10 and 50 DynamoDB tables or EBS volumes:
//
//	protect-reqs    protecting the checkpoint (a record entering protecting)
//	redeliver-reqs  the same protection again, as a redelivered record that
//	                finds the checkpoint still protecting: nothing is
//	                created twice
//	delete-reqs     deleting it (a record entering deleting)
//
// The figures are per checkpoint, not per iteration's time; one iteration is
// enough (an iteration of 50 resources takes a second or two on moto):
//
//	go test -run '^$' -bench RequestsPerCheckpoint -benchtime=1x ./internal/worker/
//
// moto_server ignores ListBackups' time range and never pages it, so the
// listing is one request here; on AWS it is one per 1 MB page of the user
// backups made since the checkpoint's creation.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/worker"
)

// requestCounter counts requests by operation, each attempt once.
type requestCounter struct {
	mu    sync.Mutex
	byOp  map[string]int
	total int
}

func (c *requestCounter) add(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("countRequests",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.byOp[awsmiddleware.GetOperationName(ctx)]++
			c.total++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After) // after the retry middleware: once per attempt
}

// take returns the count so far and its breakdown, and resets them.
func (c *requestCounter) take() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, s := c.total, fmt.Sprint(c.byOp)
	c.total, c.byOp = 0, map[string]int{}
	return n, s
}

func streamRecord(c *domain.Checkpoint, eventName string, from, to domain.Status) events.DynamoDBEventRecord {
	r := events.DynamoDBEventRecord{EventID: domain.NewID(), EventName: eventName}
	r.Change.Keys = map[string]events.DynamoDBAttributeValue{
		"id": events.NewStringAttribute(c.ID), "project_id": events.NewStringAttribute(c.ProjectID),
	}
	r.Change.NewImage = map[string]events.DynamoDBAttributeValue{"status": events.NewStringAttribute(string(to))}
	if from != "" {
		r.Change.OldImage = map[string]events.DynamoDBAttributeValue{"status": events.NewStringAttribute(string(from))}
	}
	return r
}

func BenchmarkRequestsPerCheckpoint(b *testing.B) {
	for _, typ := range []string{provider.TypeDynamoDBTable, provider.TypeEC2Volume} {
		for _, n := range []int{1, 10, 50} {
			name := map[string]string{provider.TypeDynamoDBTable: "tables", provider.TypeEC2Volume: "volumes"}[typ]
			b.Run(fmt.Sprintf("%s-%d", name, n), func(b *testing.B) { benchRequests(b, typ, n) })
		}
	}
}

func benchRequests(b *testing.B, typ string, n int) {
	r := newRequestRun(b, typ, n)
	var protect, redeliver, del int
	var detail string
	for b.Loop() {
		p, rd, d, dt := r.checkpoint()
		protect, redeliver, del, detail = protect+p, redeliver+rd, del+d, dt
	}
	b.Logf("requests by operation (last iteration): %s", detail)
	f := float64(b.N)
	b.ReportMetric(float64(protect)/f, "protect-reqs")
	b.ReportMetric(float64(redeliver)/f, "redeliver-reqs")
	b.ReportMetric(float64(del)/f, "delete-reqs")
}

// TestRequestsPerCheckpoint holds the plugins to one listing per checkpoint
// and type, plus one create or delete per resource, and the ownership
// check made before every protection to DescribeTable and
// ListTagsOfResource per table (DynamoDB has no batch describe), one
// DescribeVolumes for all volumes.
func TestRequestsPerCheckpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ               string
		protect, again, d int
	}{
		{provider.TypeDynamoDBTable, 3 + 1 + 6, 1 + 6, 4},
		{provider.TypeEC2Volume, 3 + 1 + 1, 1 + 1, 4},
	} {
		r := newRequestRun(t, tc.typ, 3)
		p, rd, d, detail := r.checkpoint()
		if p != tc.protect || rd != tc.again || d != tc.d {
			t.Errorf("%s: %d requests to protect 3, %d to protect again, %d to delete; want %d, %d, %d (%s)", tc.typ, p, rd, d, tc.protect, tc.again, tc.d, detail)
		}
	}
}

// requestRun is a worker whose plugins' requests are counted, and a plan's
// resources.
type requestRun struct {
	e         *env
	counter   *requestCounter
	w         *worker.Worker
	resources []domain.Resource
}

func newRequestRun(t testing.TB, typ string, n int) *requestRun {
	e := newEnv(t)
	counter := &requestCounter{byOp: map[string]int{}}
	clients := &worker.AWSClients{Config: e.clients.Config, DynamoDBEndpoint: e.clients.DynamoDBEndpoint,
		EC2Endpoint: e.clients.EC2Endpoint, ImageSnapshotTagsAfter: true, APIOptions: []func(*middleware.Stack) error{counter.add}}
	w := &worker.Worker{Domain: e.worker.Domain, Clients: clients, Log: slog.New(slog.DiscardHandler), Ownership: accountMode}
	resources := make([]domain.Resource, n)
	for i := range resources {
		id := ""
		if typ == provider.TypeDynamoDBTable {
			id = e.sourceTable()
		} else {
			id = e.volume()
		}
		resources[i] = domain.Resource{ID: id, Type: typ, Name: fmt.Sprintf("resource %d", i)}
	}
	return &requestRun{e: e, counter: counter, w: w, resources: resources}
}

// checkpoint protects a new checkpoint of the plan, protects it again as a
// redelivered record would, deletes it, and counts the requests of each.
func (r *requestRun) checkpoint() (protect, redeliver, del int, detail string) {
	e := r.e
	c := e.newCheckpoint(provider.AWSID, r.resources, nil)
	insert := streamRecord(c, "INSERT", "", domain.StatusProtecting)
	e.handle(r.w, insert)
	protect, pd := r.counter.take()
	if got := e.get(c); got.Status != domain.StatusAvailable {
		e.t.Fatalf("checkpoint %s, want available: %s", got.Status, aws.ToString(got.ResourceGraph))
	}
	// Back to protecting, as if the status write had been lost, and the
	// record delivered again: nothing is created twice.
	e.setStatus(c, domain.StatusAvailable, domain.StatusProtecting)
	r.counter.take() // not the worker's
	e.handle(r.w, insert)
	redeliver, rd := r.counter.take()
	e.setStatus(c, domain.StatusAvailable, domain.StatusDeleting)
	r.counter.take()
	e.handle(r.w, streamRecord(c, "MODIFY", domain.StatusAvailable, domain.StatusDeleting))
	del, dd := r.counter.take()
	if got := e.get(c); got.Status != domain.StatusDeleted {
		e.t.Fatalf("checkpoint %s after delete, want deleted: %s", got.Status, aws.ToString(got.ResourceGraph))
	}
	return protect, redeliver, del, "protect " + pd + ", redelivered " + rd + ", delete " + dd
}

// TestThrottledCallRetriedAlone: a create that AWS throttles is retried by
// the client, alone, and the record is done the first time: one backup per
// table, no record failure, no other call repeated.
func TestThrottledCallRetriedAlone(t *testing.T) {
	t.Parallel()
	r := newRequestRun(t, provider.TypeDynamoDBTable, 2)
	var throttled atomic.Int32
	r.w.Clients = &worker.AWSClients{Config: r.e.clients.Config, DynamoDBEndpoint: r.e.clients.DynamoDBEndpoint,
		APIOptions: []func(*middleware.Stack) error{r.counter.add, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("throttle",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if awsmiddleware.GetOperationName(ctx) == "CreateBackup" && throttled.Add(1) <= 2 {
						return middleware.FinalizeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "injected"}
					}
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		}}}
	c := r.e.newCheckpoint(provider.AWSID, r.resources, nil)
	r.e.handle(r.w, streamRecord(c, "INSERT", "", domain.StatusProtecting))
	n, detail := r.counter.take()
	if got := r.e.get(c); got.Status != domain.StatusAvailable {
		t.Fatalf("checkpoint %s, want available", got.Status)
	}
	// The ownership check (2 per table), one listing, two creates, two
	// throttled attempts retried.
	if n != 9 {
		t.Errorf("%d requests (%s), want 9: the ownership check, the list once, each create once, the 2 throttled attempts again", n, detail)
	}
	for _, table := range []string{r.resources[0].ID, r.resources[1].ID} {
		if got := r.e.backups(table, c); len(got) != 1 {
			t.Errorf("table %s has %d backups of the checkpoint, want 1", table, len(got))
		}
	}
}
