// Package streamread reads a test table's DynamoDB stream (moto_server's,
// on the testenv endpoint) as Lambda's event source mapping would: every
// shard from its trim horizon, each record converted to Lambda's event form
// by the local poller's own conversion (streams.ToEventRecord), so that a
// test can hand the worker exactly what Lambda would.
package streamread

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/local/streams"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// Reader reads one table's stream. It is safe for concurrent use.
type Reader struct {
	client *dynamodbstreams.Client
	arn    string

	mu      sync.Mutex
	iters   map[string]*string // shard id → next iterator (nil: shard closed)
	records []events.DynamoDBEventRecord
}

// New returns a reader of the stream of table, on the test endpoint.
func New(t testing.TB, table string) *Reader {
	t.Helper()
	endpoint := testenv.Endpoint(t)
	cfg, err := awscfg.Load(context.Background(), true)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	desc, err := testenv.DynamoDB(t).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable %s: %v", table, err)
	}
	return &Reader{
		client: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		arn:    aws.ToString(desc.Table.LatestStreamArn),
		iters:  map[string]*string{},
	}
}

// ARN is the stream's ARN.
func (r *Reader) ARN() string { return r.arn }

// Read reads what the stream has gained since the last read and returns
// every record read so far, in stream order.
func (r *Reader) Read(t testing.TB) []events.DynamoDBEventRecord {
	t.Helper()
	ctx := context.Background()
	r.mu.Lock()
	defer r.mu.Unlock()
	stream, err := r.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.arn)})
	if err != nil {
		t.Fatalf("DescribeStream: %v", err)
	}
	for _, sh := range stream.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		if _, ok := r.iters[id]; ok {
			continue
		}
		it, err := r.client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(r.arn), ShardId: sh.ShardId, ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator: %v", err)
		}
		r.iters[id] = it.ShardIterator
	}
	for id, it := range r.iters {
		if it == nil {
			continue
		}
		out, err := r.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		r.iters[id] = out.NextShardIterator
		for _, rec := range out.Records {
			r.records = append(r.records, streams.ToEventRecord(rec, r.arn))
		}
	}
	return append([]events.DynamoDBEventRecord(nil), r.records...)
}

// Wait returns the record of the change of checkpoint (or plan) id with this
// event name (INSERT, MODIFY, REMOVE) and new status, waiting for it to show
// up on the stream (see package wait).
func (r *Reader) Wait(t testing.TB, id, eventName string, newStatus domain.Status) events.DynamoDBEventRecord {
	t.Helper()
	var found events.DynamoDBEventRecord
	wait.Until(t, fmt.Sprintf("a %s record of %s into %s on the stream", eventName, id, newStatus), func() error {
		records := r.Read(t)
		for _, rec := range records {
			if Is(rec, id, eventName, newStatus) {
				found = rec
				return nil
			}
		}
		return fmt.Errorf("the stream has %s", Describe(records))
	})
	return found
}

// Is reports whether rec is the change of id with this event name and new
// status.
func Is(rec events.DynamoDBEventRecord, id, eventName string, newStatus domain.Status) bool {
	return rec.EventName == eventName && ID(rec) == id && Status(rec.Change.NewImage) == string(newStatus)
}

// ID is the record's key id ("" if it has none).
func ID(rec events.DynamoDBEventRecord) string {
	v, ok := rec.Change.Keys["id"]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// Status is the status attribute of an image ("" if it has none).
func Status(image map[string]events.DynamoDBAttributeValue) string {
	v, ok := image["status"]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// Describe lists records briefly, for failure messages: event, id and
// status change of each.
func Describe(records []events.DynamoDBEventRecord) string {
	parts := make([]string, 0, len(records))
	for _, rec := range records {
		parts = append(parts, rec.EventName+" "+ID(rec)+" "+Status(rec.Change.OldImage)+"→"+Status(rec.Change.NewImage))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
