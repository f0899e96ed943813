package domain_test

import (
	"encoding/json"
	"testing"

	"karbor/internal/domain"
)

func TestJobOf(t *testing.T) {
	const none = domain.Status("")
	for _, tc := range []struct {
		event         string
		before, after domain.Status
		want          domain.Job
	}{
		{"INSERT", none, domain.StatusProtecting, domain.JobProtect},
		{"INSERT", none, domain.StatusAvailable, domain.JobNone},
		{"INSERT", none, domain.StatusDeleting, domain.JobNone},
		{"MODIFY", domain.StatusAvailable, domain.StatusDeleting, domain.JobDelete},
		{"MODIFY", domain.StatusError, domain.StatusDeleting, domain.JobDelete},
		{"MODIFY", domain.StatusDeleting, domain.StatusDeleting, domain.JobNone},
		{"MODIFY", domain.StatusProtecting, domain.StatusProtecting, domain.JobNone},
		{"MODIFY", domain.StatusProtecting, domain.StatusAvailable, domain.JobNone},
		{"MODIFY", domain.StatusDeleting, domain.StatusDeleted, domain.JobNone},
		{"REMOVE", domain.StatusDeleted, none, domain.JobNone},
	} {
		if got := domain.JobOf(tc.event, tc.before, tc.after); got != tc.want {
			t.Errorf("JobOf(%s, %q, %q) = %v, want %v", tc.event, tc.before, tc.after, got, tc.want)
		}
	}
}

// The moves are consistent with the statuses' properties: the sweeper and
// the worker end exactly the in-flight statuses the stream triggers start,
// and callers never move a checkpoint in flight.
func TestMoves(t *testing.T) {
	valid := map[domain.Status]bool{}
	for _, s := range domain.Statuses {
		valid[s] = true
	}
	for _, m := range domain.Moves {
		for _, s := range append(append([]domain.Status{}, m.From...), m.To...) {
			if !valid[s] {
				t.Errorf("move %s names unknown status %q", m.Name, s)
			}
		}
		for _, from := range m.From {
			if m.By == domain.ByCaller && from.InFlight() {
				t.Errorf("callers' move %s leaves %s, where background work is under way", m.Name, from)
			}
			if m.By != domain.ByCaller && !from.InFlight() {
				t.Errorf("background move %s leaves %s, which is not in flight", m.Name, from)
			}
		}
	}
	for _, trig := range domain.StreamTriggers {
		if !trig.Status.InFlight() {
			t.Errorf("trigger of job %v starts %s, which is not in flight: nothing would end it", trig.Job, trig.Status)
		}
	}
	if !domain.MoveReset.Allows(domain.StatusError) || domain.MoveReset.Allows(domain.StatusDeleting) {
		t.Error("reset goes to available or error only")
	}
	if domain.StatusDeleted.Listed() || !domain.StatusDeleted.Expires() || !domain.StatusErrorDeleting.Listed() {
		t.Error("only deleted checkpoints leave listings and expire")
	}
}

func TestFilterPattern(t *testing.T) {
	want := []string{
		`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["protecting"]}}}}`,
		`{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["deleting"]}}, "OldImage": {"status": {"S": [{"anything-but": ["deleting"]}]}}}}`,
	}
	if len(domain.StreamTriggers) != len(want) {
		t.Fatalf("%d triggers", len(domain.StreamTriggers))
	}
	for i, trig := range domain.StreamTriggers {
		var got, w any
		if err := json.Unmarshal([]byte(trig.FilterPattern()), &got); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(want[i]), &w)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("pattern %d = %s, want %s", i, gb, wb)
		}
	}
}
