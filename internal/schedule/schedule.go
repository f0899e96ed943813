// Package schedule reads the time patterns of triggers: crontab (five
// fields, UTC) and iCalendar (the RRULE of the first VEVENT, RFC 5545), and
// gives their occurrences (CONTRACT.md "Triggers").
package schedule

import (
	"errors"
	"time"
)

// Pattern is a parsed trigger pattern.
type Pattern interface {
	// Next returns the first occurrence strictly after t, at or after
	// start (the trigger's start_time, which an RRULE counts from), or
	// ok false when there is none (an RRULE's COUNT or UNTIL reached).
	// Occurrences are whole seconds, UTC.
	Next(start, t time.Time) (next time.Time, ok bool)
}

// Parse reads pattern in format ("crontab" or "calendar"). Its error's
// text names the problem, to be shown to the caller as it is.
func Parse(format, pattern string) (Pattern, error) {
	return nil, errors.New("schedule: not implemented")
}
