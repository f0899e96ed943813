// Package wait is the tests' one way to wait for something that happens in
// the background (a stream record, a status change, a line of output): poll
// a condition every Interval until it holds, for at most Timeout, which
// every test shares. The timeout is generous on purpose: it bounds a test
// that is broken, never a test that is merely slow (on a loaded 2-core
// machine, under -race, or on a slow CI runner), so that tests never fail by
// timing. TEST_WAIT_TIMEOUT (a Go duration, such as 2m) overrides it.
package wait

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// DefaultTimeout is Timeout unless TEST_WAIT_TIMEOUT says otherwise.
const DefaultTimeout = 30 * time.Second

// Interval is how often a condition is checked.
const Interval = 10 * time.Millisecond

// Timeout is how long For, Until and Poll wait at most.
var Timeout = timeoutFromEnv()

func timeoutFromEnv() time.Duration {
	s := os.Getenv("TEST_WAIT_TIMEOUT")
	if s == "" {
		return DefaultTimeout
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		panic(fmt.Sprintf("TEST_WAIT_TIMEOUT=%q is not a positive Go duration (such as 45s or 2m)", s))
	}
	return d
}

// For waits until cond returns true, and fails the test if it has not
// after Timeout. what says what was awaited, for the failure message.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Until(t, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("the condition does not hold")

// Until waits until cond returns nil, and fails the test if it has not
// after Timeout, with what and the last error cond returned (which should
// say what was seen instead). cond may fail the test itself (t.Fatal), as
// from the test's goroutine.
func Until(t testing.TB, what string, cond func() error) {
	t.Helper()
	if err := Poll(cond); err != nil {
		t.Fatalf("waited %v for %s: %v", Timeout, what, err)
	}
}

// Poll calls cond every Interval until it returns nil, and returns nil; or
// until Timeout has passed, and returns cond's last error. An error made by
// Stop ends the wait at once: Poll returns the error Stop was given.
func Poll(cond func() error) error {
	deadline := time.Now().Add(Timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(Interval)
	}
}

// Stop wraps err so that Poll returns it at once instead of waiting on:
// for a condition that can no longer come true (the process exited).
func Stop(err error) error { return stopError{err} }

type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }
