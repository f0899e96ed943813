package lambdafn_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
)

// TestEventsFunction: the status-change publisher as deployed, built by
// its Makefile target and driven by aws-lambda-rie with the unmodified
// events/events-checkpoint.json (a checkpoint's move protecting →
// available, then a change of it that keeps its status), puts one event on
// moto's default bus; a rule there copies it into an SQS queue, where the
// test reads it (the detail docs/api.md shows, event_id included).
func TestEventsFunction(t *testing.T) {
	rie.SkipIfShort(t)
	endpoint := testenv.Endpoint(t)
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(endpoint) })
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	name := "events-fn-" + domain.NewID()
	q, err := sq.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	// The sample's checkpoint; no other test publishes events of it.
	pattern := fmt.Sprintf(`{"source": ["karbor"], "detail": {"id": [%q]}}`, checkpointID)
	if _, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = eb.RemoveTargets(t.Context(), &eventbridge.RemoveTargetsInput{Rule: aws.String(name), Ids: []string{"q"}})
		_, _ = eb.DeleteRule(t.Context(), &eventbridge.DeleteRuleInput{Name: aws.String(name)})
	})
	if _, err := eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}
	emu := rie.Start(t, rie.Build(t, "EventsFunction"), map[string]string{"EVENTS_ENDPOINT": endpoint})
	if failed := handle(t, emu, sampleEvent(t, "events-checkpoint")); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none\n%s", failed, emu.Output())
	}
	res, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("%d events published, want 1\n%s", len(res.Messages), emu.Output())
	}
	var ev struct {
		Source     string         `json:"source"`
		DetailType string         `json:"detail-type"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(res.Messages[0].Body)), &ev); err != nil {
		t.Fatal(err)
	}
	d := ev.Detail
	if ev.Source != "karbor" || ev.DetailType != "Checkpoint Status Change" || d["old_status"] != "protecting" || d["new_status"] != "available" ||
		d["time"] != "2026-11-26T18:32:05Z" || d["plan_id"] != "3523a271-68aa-42f5-b9ba-56e5200a2ebb" || d["event_id"] != "15f6bfecda58fc41dde507cd8991c725" || d["reason"] != nil {
		t.Errorf("event %s", aws.ToString(res.Messages[0].Body))
	}
}
