package domain_test

import (
	"encoding/json"
	"slices"
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
		{"MODIFY", domain.StatusErrorDeleting, domain.StatusDeleting, domain.JobDelete}, // a retry
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
	for _, m := range domain.Moves {
		if m.By == domain.ByCaller && len(m.From) > 0 && m.Refusal == 0 {
			t.Errorf("callers' move %s has no refusal", m.Name)
		}
		if m.By != domain.ByCaller && (len(m.Done) > 0 || m.Refusal != 0) {
			t.Errorf("background move %s has a caller's done statuses or refusal", m.Name)
		}
		for _, st := range m.Done {
			if slices.Contains(m.From, st) {
				t.Errorf("move %s both leaves %s and counts as done in it", m.Name, st)
			}
		}
		// A caller's move into an in-flight status, from each status it
		// leaves, wakes the worker: nothing else would end it.
		for _, to := range m.To {
			if m.By != domain.ByCaller || !to.InFlight() {
				continue
			}
			event, froms := "MODIFY", m.From
			if len(froms) == 0 {
				event, froms = "INSERT", []domain.Status{""}
			}
			for _, from := range froms {
				if domain.JobOf(event, from, to) == domain.JobNone {
					t.Errorf("move %s from %q to %s wakes no worker", m.Name, from, to)
				}
			}
		}
	}
	// The amended contract (2026-12-01): delete retries from
	// error-deleting and is done already when deleting or deleted; reset
	// leaves error-deleting, and its refusal is a 400.
	if !slices.Contains(domain.MoveDelete.From, domain.StatusErrorDeleting) || !slices.Contains(domain.MoveReset.From, domain.StatusErrorDeleting) {
		t.Error("delete and reset leave error-deleting")
	}
	for _, st := range domain.Statuses {
		wantDone := st == domain.StatusDeleting || st == domain.StatusDeleted
		if domain.MoveDelete.DoneIn(st) != wantDone {
			t.Errorf("delete done in %s = %v, want %v", st, !wantDone, wantDone)
		}
		if domain.MoveReset.DoneIn(st) {
			t.Errorf("reset counts as done in %s", st)
		}
	}
	if domain.MoveDelete.Refusal != domain.Conflict || domain.MoveReset.Refusal != domain.Invalid {
		t.Error("a refused delete is a conflict (409), a refused reset invalid (400)")
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
