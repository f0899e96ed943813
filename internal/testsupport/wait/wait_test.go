package wait_test

import (
	"errors"
	"testing"
	"time"

	"karbor/internal/testsupport/wait"
)

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	wait.For(t, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("cond called %d times, want 3", calls)
	}
}

func TestPollGivesTheLastErrorAtTheTimeout(t *testing.T) {
	defer func(d time.Duration) { wait.Timeout = d }(wait.Timeout)
	wait.Timeout = 30 * time.Millisecond
	calls := 0
	err := wait.Poll(func() error { calls++; return errors.New("still waiting") })
	if err == nil || err.Error() != "still waiting" || calls < 2 {
		t.Errorf("Poll = %v after %d calls, want the condition's error after more than one", err, calls)
	}
}

func TestStopEndsTheWait(t *testing.T) {
	gone := errors.New("the process exited")
	calls := 0
	err := wait.Poll(func() error { calls++; return wait.Stop(gone) })
	if err != gone || calls != 1 {
		t.Errorf("Poll = %v after %d calls, want %v after one", err, calls, gone)
	}
}
