package lambdafn_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"karbor/internal/testsupport/eventsink"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
)

// TestEventsFunction: the status-change publisher as deployed, built by
// its Makefile target and driven by aws-lambda-rie with the unmodified
// events/events-checkpoint.json (a checkpoint's move protecting →
// available, then a change of it that keeps its status), puts one event on
// moto's default bus, where the test's sink (package eventsink) reads it (the detail docs/api.md shows, event_id included).
func TestEventsFunction(t *testing.T) {
	rie.SkipIfShort(t)
	endpoint := testenv.Endpoint(t)
	// The sample's checkpoint; no other test publishes events of it.
	sink := eventsink.New(t, fmt.Sprintf(`{"source": ["karbor"], "detail": {"id": [%q]}}`, checkpointID))
	emu := rie.Start(t, rie.Build(t, "EventsFunction"), map[string]string{"EVENTS_ENDPOINT": endpoint})
	if failed := handle(t, emu, sampleEvent(t, "events-checkpoint")); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none\n%s", failed, emu.Output())
	}
	published := sink.Bodies()
	if len(published) != 1 {
		t.Fatalf("%d events published, want 1\n%s", len(published), emu.Output())
	}
	var ev struct {
		Source     string         `json:"source"`
		DetailType string         `json:"detail-type"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(published[0], &ev); err != nil {
		t.Fatal(err)
	}
	d := ev.Detail
	if ev.Source != "karbor" || ev.DetailType != "Checkpoint Status Change" || d["old_status"] != "protecting" || d["new_status"] != "available" ||
		d["time"] != "2026-11-26T18:32:05Z" || d["plan_id"] != "3523a271-68aa-42f5-b9ba-56e5200a2ebb" || d["event_id"] != "15f6bfecda58fc41dde507cd8991c725" || d["reason"] != nil {
		t.Errorf("event %s", published[0])
	}
}
