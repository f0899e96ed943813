package server_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/testsupport/eventsink"
	"karbor/internal/testsupport/wait"
)

// TestStatusEventsPublished: the local server publishes a checkpoint's
// status changes (created protecting, then available) to the endpoint's
// default event bus, as EventsFunction does; the test reads the project's
// events from a sink on moto's bus (package eventsink).
func TestStatusEventsPublished(t *testing.T) {
	c := start(t, "")
	sink := eventsink.New(t, fmt.Sprintf(`{"source": ["karbor"], "detail": {"project_id": [%q]}}`, c.project))

	id := c.createCheckpoint(provider.NoOpID, []map[string]any{{"id": domain.NewID(), "type": "OS::Nova::Server", "name": "Web server"}}, map[string]any{})
	c.waitStatus(provider.NoOpID, id, "available")
	var changes []string
	wait.For(t, "the checkpoint's two status events", func() bool {
		for _, body := range sink.Bodies() {
			var ev struct {
				DetailType string `json:"detail-type"`
				Detail     struct {
					ID        string  `json:"id"`
					OldStatus *string `json:"old_status"`
					NewStatus string  `json:"new_status"`
				} `json:"detail"`
			}
			if err := json.Unmarshal(body, &ev); err != nil {
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
