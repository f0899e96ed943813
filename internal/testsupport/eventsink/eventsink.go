// Package eventsink lets a test read the events put on moto_server's
// default EventBridge bus: a rule matching the test's pattern copies them
// into an SQS queue of the test's own, which Bodies reads.
package eventsink

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/testsupport/testenv"
)

// EventBridge is moto's EventBridge, one call at a time within the test
// binary. moto's EventBridge is not safe for concurrent use: a PutRule
// during another test's PutEvents sometimes answers 500 after part of the
// events went out, and the SDK's retry then delivers those twice, which no
// real EventBridge does for a call that succeeded. The calls themselves are
// the real ones.
type EventBridge struct{ *eventbridge.Client }

var mu sync.Mutex

// Client is the test's EventBridge client on moto_server.
func Client(t testing.TB) *EventBridge {
	t.Helper()
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testenv.Endpoint(t)
	return &EventBridge{eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(endpoint) })}
}

// PutEvents implements events.PutEventsAPI.
func (c *EventBridge) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	mu.Lock()
	defer mu.Unlock()
	return c.Client.PutEvents(ctx, in, opts...)
}

// Sink is a rule on the default bus and the queue it copies events into.
type Sink struct {
	t     testing.TB
	sqs   *sqs.Client
	queue *string
}

// New makes a sink of the events matching pattern (an EventBridge event
// pattern); the test's cleanup removes the rule.
func New(t testing.TB, pattern string) *Sink {
	t.Helper()
	ctx := t.Context()
	cfg, err := awscfg.Load(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testenv.Endpoint(t)
	s := &Sink{t: t, sqs: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })}
	name := "sink-" + domain.NewID()
	q, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	s.queue = q.QueueUrl
	attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	eb := Client(t)
	mu.Lock()
	defer mu.Unlock()
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatalf("PutRule: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		ctx := context.Background()
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(name), Ids: []string{"q"}})
		_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(name)})
	})
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatalf("PutTargets: %v", err)
	}
	return s
}

// Bodies reads every event the queue has gained since the last call (moto
// delivers to the rule's target within PutEvents), each as its JSON.
func (s *Sink) Bodies() [][]byte {
	s.t.Helper()
	var out [][]byte
	for {
		res, err := s.sqs.ReceiveMessage(s.t.Context(), &sqs.ReceiveMessageInput{QueueUrl: s.queue, MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil {
			s.t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			out = append(out, []byte(aws.ToString(m.Body)))
		}
	}
}
