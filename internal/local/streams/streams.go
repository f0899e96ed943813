// Package streams reads a DynamoDB table's stream locally and hands its
// records to a handler in the event shape Lambda delivers, with the same
// filter, batching, partial-failure retries and bounded attempts as the
// event source mapping in template.yaml. `make run` uses it to run the worker
// against moto_server, where there is no Lambda service to poll the stream.
package streams

import (
	"context"
	"errors"
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

// StreamsAPI is the part of the DynamoDB Streams client the poller uses
// (*dynamodbstreams.Client has it); tests wrap the client to inject the
// failures moto cannot produce on demand.
type StreamsAPI interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ StreamsAPI = (*dynamodbstreams.Client)(nil)

// Poller polls one table's stream.
type Poller struct {
	DB      *dynamodb.Client
	Streams StreamsAPI
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

const (
	// discoverEvery is how often the shards are listed again. DescribeStream
	// is rate-limited per account at AWS, far below one call per poll; new
	// shards only appear when one closes (which triggers a listing at once)
	// or every few hours.
	discoverEvery = 10 * time.Second
	// maxBackoff bounds the wait between attempts on a failing shard.
	maxBackoff = 10 * time.Second
	// refreshAfter: an iterator that has read nothing for this long is
	// replaced by a new one at lastSeq. moto undoes a cancelled
	// TransactWriteItems by putting back a copy of the tables it touched,
	// streams included: the iterators issued before read the old copy,
	// empty for ever after. AWS needs no such thing; a GetShardIterator a
	// second while idle costs nothing locally.
	refreshAfter = time.Second
)

type shardState struct {
	// iterator is nil when one must be acquired before the next read: at
	// first, and after any read error (the iterator may have expired, 15
	// minutes after it was issued, e.g. across a laptop's sleep).
	iterator *string
	// lastSeq is the sequence number of the last record handled (given to
	// the handler, filtered out, or given up); a new iterator starts after
	// it, so that nothing is lost or handled twice. Empty: none yet.
	lastSeq string
	// lastEventID is that record's event id: a new iterator starts at
	// lastSeq, and the record there is skipped only if it is that one.
	// moto, undoing a cancelled transaction, gives the sequence number of
	// a record it took back to the next record written.
	lastEventID string
	// acquired is when the iterator was issued (refreshAfter).
	acquired time.Time
	done     bool
	failures int       // consecutive failed reads: logged once per streak
	retryAt  time.Time // no read before, while failing
}

// Run polls until ctx ends. It starts at the stream's trim horizon: records
// written before it started are handled too (the worker ignores those whose
// checkpoint has moved on).
//
// Shards are polled side by side, so a child shard's records may be handed
// over before its parent's last ones (Lambda waits for the parent). That is
// harmless here: the worker acts on the checkpoint as it is when it reads
// it, not on the record's image.
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
	var nextDiscovery time.Time // zero: list the shards now
	discoveryFailing := false   // logged once per streak
	for {
		if !time.Now().Before(nextDiscovery) {
			nextDiscovery = time.Now().Add(discoverEvery)
			err := p.discover(ctx, arn, shards)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				if !discoveryFailing {
					p.Log.Warn("describe stream failed", "error", err.Error())
				}
				discoveryFailing = true
				// Without shards there is nothing to poll: retry soon.
				if len(shards) == 0 {
					nextDiscovery = time.Now().Add(min(p.Interval*10, discoverEvery))
				}
			default:
				discoveryFailing = false
			}
		}
		for id, s := range shards {
			if s.done || time.Now().Before(s.retryAt) {
				continue
			}
			err := p.poll(ctx, arn, id, s)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				s.failures++
				if s.failures == 1 {
					p.Log.Warn("stream read failed; retrying with a new iterator", "shard", id, "error", err.Error())
				}
				s.retryAt = time.Now().Add(min(p.Interval<<min(s.failures-1, 16), maxBackoff))
			default:
				if s.failures > 0 {
					p.Log.Info("stream read recovered", "shard", id, "failed_attempts", s.failures)
					s.failures, s.retryAt = 0, time.Time{}
				}
				if s.done {
					// A closed shard has children: find them now.
					nextDiscovery = time.Time{}
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.Interval):
		}
	}
}

// discover adds the shards not seen yet; poll acquires their iterators.
func (p *Poller) discover(ctx context.Context, arn string, shards map[string]*shardState) error {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := p.Streams.DescribeStream(ctx, in)
		if err != nil {
			return err
		}
		for _, sh := range out.StreamDescription.Shards {
			if id := aws.ToString(sh.ShardId); shards[id] == nil {
				shards[id] = &shardState{}
			}
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

// iterator returns a shard iterator at the last record handled (poll skips
// it by its event id), or at the trim horizon before the first. When that record has been trimmed (the
// stream keeps 24 hours), what followed it is gone too: the oldest record
// left is the place to go on from.
func (p *Poller) iterator(ctx context.Context, arn, shardID string, s *shardState) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shardID), ShardIteratorType: st.ShardIteratorTypeTrimHorizon}
	if s.lastSeq != "" {
		in.ShardIteratorType, in.SequenceNumber = st.ShardIteratorTypeAtSequenceNumber, aws.String(s.lastSeq)
	}
	out, err := p.Streams.GetShardIterator(ctx, in)
	var trimmed *st.TrimmedDataAccessException
	if s.lastSeq != "" && errors.As(err, &trimmed) {
		p.Log.Error("stream records trimmed before they were read; going on from the oldest left", "shard", shardID, "after_sequence_number", s.lastSeq)
		in.ShardIteratorType, in.SequenceNumber = st.ShardIteratorTypeTrimHorizon, nil
		out, err = p.Streams.GetShardIterator(ctx, in)
	}
	if err != nil {
		return nil, fmt.Errorf("get shard iterator: %w", err)
	}
	return out.ShardIterator, nil
}

func (p *Poller) poll(ctx context.Context, arn, shardID string, s *shardState) error {
	if s.iterator == nil {
		it, err := p.iterator(ctx, arn, shardID, s)
		if err != nil {
			return err
		}
		s.iterator, s.acquired = it, time.Now()
	}
	out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator, Limit: aws.Int32(p.BatchSize)})
	if err != nil {
		// Whatever failed (an expired iterator, a trimmed position, the
		// network), the old iterator may be unusable: the next attempt
		// starts from a new one at lastSeq.
		s.iterator = nil
		return err
	}
	switch {
	case out.NextShardIterator == nil:
		s.done = true
	case len(out.Records) == 0 && time.Since(s.acquired) > refreshAfter:
		s.iterator = nil // see refreshAfter
	case len(out.Records) > 0:
		s.iterator, s.acquired = out.NextShardIterator, time.Now()
	default:
		s.iterator = out.NextShardIterator
	}
	var batch []events.DynamoDBEventRecord
	for _, r := range out.Records {
		if s.lastEventID != "" && aws.ToString(r.EventID) == s.lastEventID {
			continue // handled already (the iterator starts at lastSeq)
		}
		er := ToEventRecord(r, arn)
		if p.Filter == nil || p.Filter(er) {
			batch = append(batch, er)
		}
	}
	if len(batch) > 0 {
		p.deliver(ctx, batch)
	}
	if n := len(out.Records); n > 0 && out.Records[n-1].Dynamodb != nil {
		s.lastSeq = aws.ToString(out.Records[n-1].Dynamodb.SequenceNumber)
		s.lastEventID = aws.ToString(out.Records[n-1].EventID)
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
