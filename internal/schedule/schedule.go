// Package schedule reads the time patterns of triggers: crontab (five
// fields, UTC) and iCalendar (the RRULE of the first VEVENT, RFC 5545), and
// gives their occurrences (CONTRACT.md "Triggers").
//
// Crontab reads as Vixie cron: a step needs a range or "*" ("5/10" is
// refused); when both day fields are restricted a day matching either
// fires, but a day field starting with "*" (such as "*/2") counts as
// unrestricted, so then both must match. The search jumps by month, day
// and hour, and gives up past 10 years (a crontab matching at all does so
// within 8).
//
// Calendar patterns follow RFC 5545 as python-dateutil (upstream's
// library) reads it: the defaults taken from the start (DTSTART there),
// BYDAY ordinals counted in the month for MONTHLY and for YEARLY with
// BYMONTH, ignored for finer frequencies; the first WEEKLY period begins
// on the start's day (it matters to BYSETPOS); a date-only UNTIL is its
// midnight. Unlike dateutil, BYDAY mixing plain and ordinal days is their
// union, as the RFC says. Without COUNT, Next starts at the period holding
// t, not at the start; with COUNT it counts from the start. A rule with no
// occurrence within 100 years, or 2^18 periods generated, has none.
package schedule

import (
	"fmt"
	"time"
)

// MaxPatternLength is the longest pattern accepted, in characters.
const MaxPatternLength = 4096

// Pattern is a parsed trigger pattern. Occurrences are whole seconds, UTC.
type Pattern interface {
	// Next returns the first occurrence strictly after t, at or after
	// start (the trigger's start_time, which an RRULE counts from), or
	// ok false when there is none (an RRULE's COUNT or UNTIL reached, or
	// none within the search horizon: a pattern that never matches).
	Next(start, t time.Time) (next time.Time, ok bool)
	// Iter returns a function giving, call after call, the occurrences
	// strictly after t and at or after start, in order; ok false once
	// there are no more. Cheaper than calling Next repeatedly.
	Iter(start, t time.Time) func() (next time.Time, ok bool)
}

// Parse reads pattern in format ("crontab" or "calendar"). Its error's
// text names the problem, to be shown to the caller as it is.
func Parse(format, pattern string) (Pattern, error) {
	if n := len([]rune(pattern)); n > MaxPatternLength {
		return nil, refuse("The pattern has %d characters: at most %d are allowed.", n, MaxPatternLength)
	}
	switch format {
	case "crontab":
		if c, err := parseCrontab(pattern); err != nil {
			return nil, err
		} else {
			return c, nil
		}
	case "calendar":
		if r, err := parseCalendar(pattern); err != nil {
			return nil, err
		} else {
			return r, nil
		}
	}
	return nil, refuse("The pattern format %q is not supported: it must be crontab or calendar.", format)
}

// Validate checks a trigger's occurrences, the pattern's times from start
// to end inclusive (end nil: no end): at least one after now, and the
// next 1,000 after now at least minInterval apart (CONTRACT.md
// "Triggers"). Its error's text is the contract's 400 message.
func Validate(p Pattern, start time.Time, end *time.Time, now time.Time, minInterval time.Duration) error {
	next := p.Iter(start, now)
	prev, ok := next()
	if !ok || end != nil && prev.After(*end) {
		return refuse("The trigger has no future occurrence.")
	}
	for i := 1; i < 1000; i++ {
		o, ok := next()
		if !ok || end != nil && o.After(*end) {
			break
		}
		if o.Sub(prev) < minInterval {
			return refuse("The interval of two adjacent time points is less than %d.", int64(minInterval/time.Second))
		}
		prev = o
	}
	return nil
}

// MissedCap bounds the count Latest returns: past it, Latest stops
// counting and reports MissedCap (read it as "at least").
const MissedCap = 100000

// Latest is for a scheduler catching up: from is the trigger's recorded
// next occurrence (normally itself an occurrence, at or before now).
// latest is the last occurrence in [from, now] and missed how many
// occurrences in [from, latest) were passed over (at most MissedCap);
// ok is false when [from, now] holds no occurrence.
func Latest(p Pattern, start, from, now time.Time) (latest time.Time, missed int, ok bool) {
	from = from.Truncate(time.Second)
	if from.After(now) {
		return time.Time{}, 0, false
	}
	next := p.Iter(start, from.Add(-time.Second))
	n := 0
	for {
		o, more := next()
		if !more || o.After(now) {
			if n == 0 {
				return time.Time{}, 0, false
			}
			return latest, n - 1, true
		}
		latest, n = o, n+1
		if n > MissedCap {
			break
		}
	}
	// Too many to count: look for the last one in a window before now,
	// doubling it until it holds one (it holds latest at worst).
	for d := time.Hour; ; d *= 2 {
		lo := now.Add(-d)
		if d > 1<<61 || !lo.After(latest) {
			lo = latest.Add(-time.Second)
		}
		next := p.Iter(start, lo)
		found := false
		for {
			o, more := next()
			if !more || o.After(now) {
				break
			}
			latest, found = o, true
		}
		if found || !lo.After(latest) {
			return latest, MissedCap, true
		}
	}
}

// truncSecond drops t's fraction of a second and zone.
func truncSecond(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// lowerBound is the first whole second strictly after t and at or after
// start (both taken to whole seconds).
func lowerBound(start, t time.Time) time.Time {
	lo := truncSecond(t).Add(time.Second)
	if s := truncSecond(start); s.After(lo) {
		return s
	}
	return lo
}

// Error is a refusal of a pattern or of a trigger's times; Error() is the
// message for the caller, a sentence.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func refuse(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}
