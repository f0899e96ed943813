// Package streams reads a DynamoDB table's stream locally and hands its
// records to a handler in the event shape Lambda delivers, with the same
// filter, batching, partial-failure retries and bounded attempts as the
// event source mapping in template.yaml. `make run` uses it to run the worker
// against moto_server, where there is no Lambda service to poll the stream.
package streams

import (
	"context"

	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	st "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler is a stream function: the worker's Handle.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Poller polls one table's stream.
type Poller struct {
	DB      *dynamodb.Client
	Streams *dynamodbstreams.Client
	Table   string
	Handler Handler
	// Filter selects the records the handler gets (the filter criteria);
	// nil passes every record.
	Filter func(events.DynamoDBEventRecord) bool
	Log    *slog.Logger
	// BatchSize, MaxAttempts and Interval default to 10, 6 and 200 ms.
	BatchSize   int32
	MaxAttempts int
	Interval    time.Duration
}

type shardState struct {
	iterator *string
	done     bool
}

// Run polls until ctx ends. It starts at the stream's trim horizon: records
// written before it started are handled too (the worker ignores those whose
// checkpoint has moved on).
func (p *Poller) Run(ctx context.Context) error {
	if p.BatchSize <= 0 {
		p.BatchSize = 10
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 6
	}
	if p.Interval <= 0 {
		p.Interval = 200 * time.Millisecond
	}
	desc, err := p.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.Table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", p.Table, err)
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	if arn == "" {
		return fmt.Errorf("table %s has no stream", p.Table)
	}
	shards := map[string]*shardState{}
	for {
		if err := p.discover(ctx, arn, shards); err != nil && ctx.Err() == nil {
			p.Log.Warn("describe stream failed", "error", err.Error())
		}
		for id, s := range shards {
			if s.done {
				continue
			}
			if err := p.poll(ctx, arn, id, s); err != nil && ctx.Err() == nil {
				p.Log.Warn("stream read failed", "shard", id, "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.Interval):
		}
	}
}

func (p *Poller) discover(ctx context.Context, arn string, shards map[string]*shardState) error {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := p.Streams.DescribeStream(ctx, in)
		if err != nil {
			return err
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, known := shards[id]; known {
				continue
			}
			it, err := p.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: st.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return err
			}
			shards[id] = &shardState{iterator: it.ShardIterator}
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

func (p *Poller) poll(ctx context.Context, arn, shardID string, s *shardState) error {
	out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator, Limit: aws.Int32(p.BatchSize)})
	if err != nil {
		return err
	}
	if out.NextShardIterator == nil {
		s.done = true
	} else {
		s.iterator = out.NextShardIterator
	}
	var batch []events.DynamoDBEventRecord
	for _, r := range out.Records {
		er := ToEventRecord(r, arn)
		if p.Filter == nil || p.Filter(er) {
			batch = append(batch, er)
		}
	}
	if len(batch) > 0 {
		p.deliver(ctx, batch)
	}
	return nil
}

// deliver invokes the handler like Lambda's event source mapping: a batch
// item failure retries from that record on, up to MaxAttempts; then the
// records are given up (in AWS: sent to the on-failure queue).
func (p *Poller) deliver(ctx context.Context, batch []events.DynamoDBEventRecord) {
	for attempt := 1; len(batch) > 0; attempt++ {
		resp, err := p.Handler(ctx, events.DynamoDBEvent{Records: batch})
		if err == nil && len(resp.BatchItemFailures) == 0 {
			return
		}
		from := 0
		if err == nil {
			from = indexOf(batch, resp.BatchItemFailures[0].ItemIdentifier)
		}
		if attempt >= p.MaxAttempts {
			p.Log.Error("records given up after retries", "records", len(batch)-from, "first_sequence_number", batch[from].Change.SequenceNumber, "error", errText(err))
			return
		}
		batch = batch[from:]
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(attempt) * p.Interval):
		}
	}
}

func indexOf(batch []events.DynamoDBEventRecord, seq string) int {
	for i, r := range batch {
		if r.Change.SequenceNumber == seq {
			return i
		}
	}
	return 0
}

func errText(err error) string {
	if err == nil {
		return "batch item failure"
	}
	return err.Error()
}

// ToEventRecord converts a DynamoDB Streams record to Lambda's event form.
func ToEventRecord(r st.Record, streamARN string) events.DynamoDBEventRecord {
	er := events.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if d := r.Dynamodb; d != nil {
		er.Change = events.DynamoDBStreamRecord{
			Keys:           toEventImage(d.Keys),
			NewImage:       toEventImage(d.NewImage),
			OldImage:       toEventImage(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			er.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return er
}

func toEventImage(m map[string]st.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = toEventValue(v)
	}
	return out
}

func toEventValue(v st.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *st.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *st.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *st.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *st.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *st.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *st.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *st.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *st.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, 0, len(v.Value))
		for _, e := range v.Value {
			list = append(list, toEventValue(e))
		}
		return events.NewListAttribute(list)
	case *st.AttributeValueMemberM:
		return events.NewMapAttribute(toEventImage(v.Value))
	}
	return events.NewNullAttribute()
}
