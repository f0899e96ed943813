package server_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// TestStatusEventsPublished: the local server publishes a checkpoint's
// status changes (created protecting, then available) to the endpoint's
// default event bus, as EventsFunction does; a rule on moto's bus copies
// the project's events into an SQS queue, where the test reads them.
func TestStatusEventsPublished(t *testing.T) {
	c := start(t, "")
	endpoint := testenv.Endpoint(t)
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(endpoint) })
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	name := "server-events-" + c.project
	q, err := sq.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	pattern := fmt.Sprintf(`{"source": ["karbor"], "detail": {"project_id": [%q]}}`, c.project)
	if _, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}

	id := c.createCheckpoint(provider.NoOpID, []map[string]any{{"id": domain.NewID(), "type": "OS::Nova::Server", "name": "Web server"}}, map[string]any{})
	c.waitStatus(provider.NoOpID, id, "available")
	var changes []string
	wait.For(t, "the checkpoint's two status events", func() bool {
		res, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Messages {
			var ev struct {
				DetailType string `json:"detail-type"`
				Detail     struct {
					ID        string  `json:"id"`
					OldStatus *string `json:"old_status"`
					NewStatus string  `json:"new_status"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Detail.ID == id && ev.DetailType == "Checkpoint Status Change" {
				changes = append(changes, fmt.Sprintf("%s→%s", aws.ToString(ev.Detail.OldStatus), ev.Detail.NewStatus))
			}
		}
		return len(changes) >= 2
	})
	slices.Sort(changes)
	if want := []string{"protecting→available", "→protecting"}; !slices.Equal(changes, want) {
		t.Errorf("events %v, want %v", changes, want)
	}
}
