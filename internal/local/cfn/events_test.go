package cfn_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"karbor/internal/events"
)

// eventsStreams are the properties of EventsFunction's stream event
// sources, by event name.
func eventsStreams(t *testing.T) map[string]map[string]any {
	t.Helper()
	evs, _ := dig(rawTemplate(t), "Resources", "EventsFunction", "Properties", "Events").(map[string]any)
	out := map[string]map[string]any{}
	for name, ev := range evs {
		if typ, _ := dig(ev, "Type").(string); typ != "DynamoDB" {
			t.Errorf("EventsFunction's event %s has type %q, want DynamoDB", name, typ)
			continue
		}
		props, _ := dig(ev, "Properties").(map[string]any)
		out[name] = props
	}
	return out
}

// TestAgreementEventsFunction: the status-change publisher reads both
// streams with the filter events.FilterPattern (every record
// events.Changed keeps passes it), reports partial failures, bisects,
// retries a bounded number of times, gives up on old records into a queue,
// and may only put events on the EventBusName bus.
func TestAgreementEventsFunction(t *testing.T) {
	streams := eventsStreams(t)
	wantStreams := map[string]bool{"!GetAtt CheckpointsTable.StreamArn": true, "!GetAtt TasksTable.StreamArn": true}
	if len(streams) != len(wantStreams) {
		t.Fatalf("EventsFunction has %d stream events, want the checkpoints and tasks tables'", len(streams))
	}
	var want any
	if err := json.Unmarshal([]byte(events.FilterPattern), &want); err != nil {
		t.Fatal(err)
	}
	for name, props := range streams {
		if s, _ := props["Stream"].(string); !wantStreams[s] {
			t.Errorf("%s: Stream %v", name, props["Stream"])
		}
		delete(wantStreams, props["Stream"].(string))
		filters, _ := dig(props, "FilterCriteria", "Filters").([]any)
		if len(filters) != 1 {
			t.Fatalf("%s: filters %v, want one", name, filters)
		}
		text, _ := dig(filters[0], "Pattern").(string)
		var got any
		if err := json.Unmarshal([]byte(text), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: filter %s, want events.FilterPattern %s", name, text, events.FilterPattern)
		}
		// Every status change passes the template's filter.
		p, _ := got.(map[string]any)
		for _, r := range []lambdaevents.DynamoDBEventRecord{
			{EventName: "INSERT", Change: lambdaevents.DynamoDBStreamRecord{NewImage: map[string]lambdaevents.DynamoDBAttributeValue{"status": lambdaevents.NewStringAttribute("protecting")}}},
			{EventName: "MODIFY", Change: lambdaevents.DynamoDBStreamRecord{
				OldImage: map[string]lambdaevents.DynamoDBAttributeValue{"status": lambdaevents.NewStringAttribute("in_progress")},
				NewImage: map[string]lambdaevents.DynamoDBAttributeValue{"status": lambdaevents.NewStringAttribute("fail")}}},
		} {
			if !events.Changed(r) || !templateSelects(t, []map[string]any{p}, r) {
				t.Errorf("%s: the %s record of a status change does not pass the filter", name, r.EventName)
			}
		}
		if got := props["FunctionResponseTypes"]; !reflect.DeepEqual(got, []any{"ReportBatchItemFailures"}) {
			t.Errorf("%s: FunctionResponseTypes %v", name, got)
		}
		if got := props["BisectBatchOnFunctionError"]; got != "true" {
			t.Errorf("%s: BisectBatchOnFunctionError %v", name, got)
		}
		retries, _ := props["MaximumRetryAttempts"].(string)
		if n, err := strconv.Atoi(retries); err != nil || n < 0 || n > 10000 {
			t.Errorf("%s: MaximumRetryAttempts %q, want a bound", name, retries)
		}
		age, _ := props["MaximumRecordAgeInSeconds"].(string)
		if n, err := strconv.Atoi(age); err != nil || n < 60 || n > 604800 {
			t.Errorf("%s: MaximumRecordAgeInSeconds %q, want 60 to 604800", name, age)
		}
		if d := dig(props, "DestinationConfig", "OnFailure"); !reflect.DeepEqual(d, map[string]any{"Type": "SQS", "Destination": "!GetAtt WorkerFailureQueue.Arn"}) {
			t.Errorf("%s: OnFailure %v, want WorkerFailureQueue", name, d)
		}
	}

	f := functionByID(t, "EventsFunction")
	if f.Role != "" || len(f.Policies) > 0 {
		t.Errorf("EventsFunction has role %q and managed policies %q; want only explicit statements", f.Role, f.Policies)
	}
	got := allowedByResource(f)
	wantIAM := map[string][]string{
		"!Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}": {"events:PutEvents"},
	}
	if !reflect.DeepEqual(got, wantIAM) {
		t.Errorf("EventsFunction may call %v, want exactly %v", got, wantIAM)
	}
	if d := dig(rawTemplate(t), "Parameters", "EventBusName", "Default"); d != "default" {
		t.Errorf("EventBusName defaults to %v, want default", d)
	}
	if v := f.EnvRefs["EVENT_BUS_NAME"]; v != "EventBusName" {
		t.Errorf("EVENT_BUS_NAME is %q, want !Ref EventBusName", v)
	}
}
