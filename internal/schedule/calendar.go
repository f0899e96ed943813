package schedule

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseCalendar reads the RRULE of the first VEVENT of an iCalendar text.
// Line breaks may be real (LF or CRLF) or the two characters `\n`; folded
// lines (RFC 5545 3.1) are unfolded. Everything else in the text is
// ignored, DTSTART included: the rule counts from the trigger's start.
func parseCalendar(pattern string) (*rrule, error) {
	text := strings.ReplaceAll(pattern, `\n`, "\n")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, strings.TrimRight(l, "\r"))
	}
	inEvent, depth := false, 0
	var rules []string
	for _, l := range lines {
		head, value, _ := strings.Cut(l, ":")
		name, _, _ := strings.Cut(head, ";")
		name = strings.ToUpper(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !inEvent {
			if name == "BEGIN" && strings.EqualFold(value, "VEVENT") {
				inEvent = true
			}
			continue
		}
		if name == "BEGIN" {
			depth++
			continue
		}
		if name == "END" {
			if depth == 0 {
				break
			}
			depth--
			continue
		}
		if depth > 0 { // a VALARM or other component inside the VEVENT
			continue
		}
		switch name {
		case "RRULE":
			rules = append(rules, value)
		case "RDATE", "EXDATE", "EXRULE":
			return nil, refuse("%s is not supported: only the RRULE counts.", name)
		}
	}
	switch {
	case !inEvent:
		return nil, refuse("The calendar pattern has no VEVENT.")
	case len(rules) == 0:
		return nil, refuse("The calendar pattern's VEVENT has no RRULE.")
	case len(rules) > 1:
		return nil, refuse("The calendar pattern's VEVENT has %d RRULEs: it must have exactly one.", len(rules))
	}
	return parseRRule(rules[0])
}

const (
	yearly = iota
	monthly
	weekly
	daily
	hourly
	minutely
	secondly
)

var freqNames = []string{"YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"}

// weekdayNames are RFC 5545's, indexed by time.Weekday.
var weekdayNames = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

type nthDay struct {
	n   int // 0: every such day of the period
	day int // time.Weekday
}

// rrule is a parsed RFC 5545 recurrence rule. The BYxxx lists are as
// given; the defaults taken from the start are filled by withStart.
type rrule struct {
	freq, interval, count int
	until                 time.Time // zero: none
	bysetpos              []int
	bymonth               []int
	bymonthday            []int
	byyearday             []int
	byweekno              []int
	byday                 []nthDay
	byhour                []int
	byminute              []int
	bysecond              []int
	wkst                  int
}

func parseRRule(value string) (*rrule, error) {
	r := &rrule{freq: -1, interval: 1, wkst: int(time.Monday)}
	seen := map[string]bool{}
	for _, part := range strings.Split(value, ";") {
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		key = strings.ToUpper(strings.TrimSpace(key))
		val = strings.ToUpper(strings.TrimSpace(val))
		if !ok || val == "" {
			return nil, refuse("The RRULE part %q has no value.", part)
		}
		if seen[key] {
			return nil, refuse("The RRULE has %s twice.", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "FREQ":
			r.freq = indexOf(freqNames, val)
			if r.freq < 0 {
				err = refuse("The RRULE's FREQ %q is not one of %s.", val, strings.Join(freqNames, ", "))
			}
		case "INTERVAL":
			r.interval, err = ruleInt(key, val, 1, 1<<20)
		case "COUNT":
			r.count, err = ruleInt(key, val, 1, 1<<30)
		case "UNTIL":
			r.until, err = parseUntil(val)
		case "WKST":
			r.wkst = indexOf(weekdayNames, val)
			if r.wkst < 0 {
				err = refuse("The RRULE's WKST %q is not a day (MO, TU, WE, TH, FR, SA, SU).", val)
			}
		case "BYSECOND":
			r.bysecond, err = ruleInts(key, val, 0, 59, false)
		case "BYMINUTE":
			r.byminute, err = ruleInts(key, val, 0, 59, false)
		case "BYHOUR":
			r.byhour, err = ruleInts(key, val, 0, 23, false)
		case "BYMONTHDAY":
			r.bymonthday, err = ruleInts(key, val, 1, 31, true)
		case "BYYEARDAY":
			r.byyearday, err = ruleInts(key, val, 1, 366, true)
		case "BYWEEKNO":
			r.byweekno, err = ruleInts(key, val, 1, 53, true)
		case "BYMONTH":
			r.bymonth, err = ruleInts(key, val, 1, 12, false)
		case "BYSETPOS":
			r.bysetpos, err = ruleInts(key, val, 1, 366, true)
		case "BYDAY":
			r.byday, err = ruleDays(val)
		default:
			err = refuse("The RRULE part %s is not supported.", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if r.freq < 0 {
		return nil, refuse("The RRULE has no FREQ.")
	}
	if r.count > 0 && !r.until.IsZero() {
		return nil, refuse("The RRULE has both COUNT and UNTIL: it may have only one.")
	}
	return r, nil
}

func indexOf(names []string, s string) int {
	for i, n := range names {
		if n == s {
			return i
		}
	}
	return -1
}

func ruleInt(key, val string, min, max int) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < min || n > max {
		return 0, refuse("The RRULE's %s %q is not a whole number from %d to %d.", key, val, min, max)
	}
	return n, nil
}

// ruleInts reads a list of values in [min, max], or also in [-max, -min]
// when signed; sorted, without repeats.
func ruleInts(key, val string, min, max int, signed bool) ([]int, error) {
	var out []int
	for _, s := range strings.Split(val, ",") {
		n, err := strconv.Atoi(s)
		a := n
		if signed && a < 0 {
			a = -a
		}
		if err != nil || a < min || a > max {
			span := fmt.Sprintf("%d to %d", min, max)
			if signed {
				span += fmt.Sprintf(" or -%d to -%d", max, min)
			}
			return nil, refuse("The RRULE's %s value %q is not a whole number from %s.", key, s, span)
		}
		if indexOfInt(out, n) < 0 {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

func indexOfInt(list []int, n int) int {
	for i, v := range list {
		if v == n {
			return i
		}
	}
	return -1
}

func ruleDays(val string) ([]nthDay, error) {
	var out []nthDay
	for _, s := range strings.Split(val, ",") {
		if len(s) < 2 {
			return nil, refuse("The RRULE's BYDAY value %q is not a day such as MO, 2TU or -1FR.", s)
		}
		d := indexOf(weekdayNames, s[len(s)-2:])
		n := 0
		if num := s[:len(s)-2]; num != "" {
			var err error
			n, err = strconv.Atoi(num)
			if err != nil || n == 0 || n < -53 || n > 53 {
				d = -1
			}
		}
		if d < 0 {
			return nil, refuse("The RRULE's BYDAY value %q is not a day such as MO, 2TU or -1FR.", s)
		}
		out = append(out, nthDay{n: n, day: d})
	}
	return out, nil
}

// parseUntil reads UNTIL: a date-time with or without Z, or a date
// (midnight), all read as UTC.
func parseUntil(val string) (time.Time, error) {
	for _, layout := range []string{"20060102T150405Z", "20060102T150405", "20060102"} {
		if t, err := time.Parse(layout, val); err == nil {
			return t, nil
		}
	}
	return time.Time{}, refuse("The RRULE's UNTIL %q is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, optionally with Z).", val)
}
