package schedule

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// tm reads "2006-01-02 15:04:05" as UTC.
func tm(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateTime, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustParse(t testing.TB, format, pattern string) Pattern {
	t.Helper()
	p, err := Parse(format, pattern)
	if err != nil {
		t.Fatalf("Parse(%s, %q): %v", format, pattern, err)
	}
	return p
}

// occurrences lists up to n occurrences after t with Next, one call per
// occurrence, and checks Iter gives the same.
func occurrences(t *testing.T, p Pattern, start, after time.Time, n int) []string {
	t.Helper()
	var got []string
	next := p.Iter(start, after)
	for i := 0; i < n; i++ {
		o, ok := p.Next(start, after)
		io, iok := next()
		if ok != iok || ok && !o.Equal(io) {
			t.Fatalf("Next gives %v %v, Iter %v %v", o, ok, io, iok)
		}
		if !ok {
			break
		}
		if o.Location() != time.UTC || o.Nanosecond() != 0 || !o.After(after) || o.Before(start) {
			t.Fatalf("occurrence %v after %v from %v", o, after, start)
		}
		got = append(got, o.Format(time.DateTime))
		after = o
	}
	return got
}

type nextCase struct {
	name, pattern, start, after string
	want                        []string // all there are when fewer than 4
}

func runNext(t *testing.T, format string, cases []nextCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, format, c.pattern)
			got := occurrences(t, p, tm(t, c.start), tm(t, c.after), 4)
			if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
				t.Errorf("%q from %s after %s:\n got  %v\n want %v", c.pattern, c.start, c.after, got, c.want)
			}
		})
	}
}

const (
	dec1  = "2026-12-01 00:00:00" // a Tuesday
	dec19 = "2026-12-01 09:00:00"
)

func TestCrontabNext(t *testing.T) {
	runNext(t, "crontab", []nextCase{
		{"hourly", "0 * * * *", dec1, dec19, []string{"2026-12-01 10:00:00", "2026-12-01 11:00:00", "2026-12-01 12:00:00", "2026-12-01 13:00:00"}},
		{"daily at a time", "30 2 * * *", dec1, dec19, []string{"2026-12-02 02:30:00", "2026-12-03 02:30:00", "2026-12-04 02:30:00", "2026-12-05 02:30:00"}},
		{"every 20 minutes", "*/20 * * * *", dec1, dec19, []string{"2026-12-01 09:20:00", "2026-12-01 09:40:00", "2026-12-01 10:00:00", "2026-12-01 10:20:00"}},
		{"range with step", "1-30/10 0 * * *", dec1, dec19, []string{"2026-12-02 00:01:00", "2026-12-02 00:11:00", "2026-12-02 00:21:00", "2026-12-03 00:01:00"}},
		{"weekly by name", "0 8 * * mon", dec1, dec19, []string{"2026-12-07 08:00:00", "2026-12-14 08:00:00", "2026-12-21 08:00:00", "2026-12-28 08:00:00"}},
		{"both day fields: either fires", "0 0 13 * FRI", dec1, dec19, []string{"2026-12-04 00:00:00", "2026-12-11 00:00:00", "2026-12-13 00:00:00", "2026-12-18 00:00:00"}},
		{"day of month */2 and a weekday: both must match (Vixie)", "0 0 */2 * 1", dec1, dec19, []string{"2026-12-07 00:00:00", "2026-12-21 00:00:00", "2027-01-11 00:00:00", "2027-01-25 00:00:00"}},
		{"weekday 7 is Sunday", "0 0 * * 7", dec1, dec19, []string{"2026-12-06 00:00:00", "2026-12-13 00:00:00", "2026-12-20 00:00:00", "2026-12-27 00:00:00"}},
		{"weekdays 5-7 are Friday to Sunday", "0 0 * * 5-7", dec1, dec19, []string{"2026-12-04 00:00:00", "2026-12-05 00:00:00", "2026-12-06 00:00:00", "2026-12-11 00:00:00"}},
		{"month names, any case", "0 0 1 jan-Mar,DEC *", dec1, dec19, []string{"2027-01-01 00:00:00", "2027-02-01 00:00:00", "2027-03-01 00:00:00", "2027-12-01 00:00:00"}},
		{"names holding L and W are names", "0 0 1 jul * ", dec1, dec19, []string{"2027-07-01 00:00:00", "2028-07-01 00:00:00", "2029-07-01 00:00:00", "2030-07-01 00:00:00"}},
		{"@hourly", "@hourly", dec1, dec19, []string{"2026-12-01 10:00:00", "2026-12-01 11:00:00", "2026-12-01 12:00:00", "2026-12-01 13:00:00"}},
		{"@daily", "@daily", dec1, dec19, []string{"2026-12-02 00:00:00", "2026-12-03 00:00:00", "2026-12-04 00:00:00", "2026-12-05 00:00:00"}},
		{"@midnight", "@midnight", dec1, dec19, []string{"2026-12-02 00:00:00", "2026-12-03 00:00:00", "2026-12-04 00:00:00", "2026-12-05 00:00:00"}},
		{"@weekly", "@weekly", dec1, dec19, []string{"2026-12-06 00:00:00", "2026-12-13 00:00:00", "2026-12-20 00:00:00", "2026-12-27 00:00:00"}},
		{"@monthly", "@monthly", dec1, dec19, []string{"2027-01-01 00:00:00", "2027-02-01 00:00:00", "2027-03-01 00:00:00", "2027-04-01 00:00:00"}},
		{"@yearly", "@yearly", dec1, dec19, []string{"2027-01-01 00:00:00", "2028-01-01 00:00:00", "2029-01-01 00:00:00", "2030-01-01 00:00:00"}},
		{"@annually", "@ANNUALLY", dec1, dec19, []string{"2027-01-01 00:00:00", "2028-01-01 00:00:00", "2029-01-01 00:00:00", "2030-01-01 00:00:00"}},
		{"29 February", "0 0 29 2 *", dec1, dec19, []string{"2028-02-29 00:00:00", "2032-02-29 00:00:00", "2036-02-29 00:00:00", "2040-02-29 00:00:00"}},
		{"start after t: at or after start", "0 0 * * *", "2026-12-05 00:00:00", dec19, []string{"2026-12-05 00:00:00", "2026-12-06 00:00:00", "2026-12-07 00:00:00", "2026-12-08 00:00:00"}},
		{"t within a minute", "* * * * *", dec1, "2026-12-01 09:00:30", []string{"2026-12-01 09:01:00", "2026-12-01 09:02:00", "2026-12-01 09:03:00", "2026-12-01 09:04:00"}},
		{"across a year", "59 23 31 12 *", dec1, dec19, []string{"2026-12-31 23:59:00", "2027-12-31 23:59:00", "2028-12-31 23:59:00", "2029-12-31 23:59:00"}},
		{"never: 30 February", "0 0 30 2 *", dec1, dec19, nil},
		{"never: 31 April", "0 0 31 4 *", dec1, dec19, nil},
	})
}

func TestCrontabRefused(t *testing.T) {
	for _, c := range []struct{ pattern, want string }{
		{"0 0 * * * *", `The crontab pattern "0 0 * * * *" has 6 fields: it needs 5 (minute, hour, day of month, month, day of week); a seconds field is not supported.`},
		{"0 0 * *", `The crontab pattern "0 0 * *" has 4 fields: it needs 5 (minute, hour, day of month, month, day of week).`},
		{"  ", `The crontab pattern "" has 0 fields: it needs 5 (minute, hour, day of month, month, day of week).`},
		{"0 0 L * *", `The crontab pattern's day of month field "L" uses L, which is not supported.`},
		{"0 0 * * 5L", `The crontab pattern's day of week field "5L" uses L, which is not supported.`},
		{"0 0 15W * *", `The crontab pattern's day of month field "15W" uses W, which is not supported.`},
		{"0 0 * * 5#3", `The crontab pattern's day of week field "5#3" uses #, which is not supported.`},
		{"0 0 ? * MON", `The crontab pattern's day of month field "?" uses ?, which is not supported.`},
		{"60 * * * *", `The crontab pattern's minute field has the value 60, outside 0-59.`},
		{"0 24 * * *", `The crontab pattern's hour field has the value 24, outside 0-23.`},
		{"0 0 0 * *", `The crontab pattern's day of month field has the value 0, outside 1-31.`},
		{"0 0 1-32 * *", `The crontab pattern's day of month field has the value 32, outside 1-31.`},
		{"0 0 * 13 *", `The crontab pattern's month field has the value 13, outside 1-12.`},
		{"0 0 * * 8", `The crontab pattern's day of week field has the value 8, outside 0-7.`},
		{"5/10 * * * *", `The crontab pattern's minute field has the step "5/10" on a single value: a step needs a range or *.`},
		{"*/0 * * * *", `The crontab pattern's minute field has the step "0", which is not a positive whole number.`},
		{"30-10 * * * *", `The crontab pattern's minute field has the range "30-10", whose start is after its end.`},
		{"a * * * *", `The crontab pattern's minute field has "a", which is not a value, a range, a list or a step.`},
		{"1,,2 * * * *", `The crontab pattern's minute field has "", which is not a value, a range, a list or a step.`},
		{"0 0 * * FOO", `The crontab pattern's day of week field has "FOO", which is not a value, a range, a list or a step.`},
		{"-1 * * * *", `The crontab pattern's minute field has "-1", which is not a value, a range, a list or a step.`},
		{"@reboot", `The crontab pattern "@reboot" is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.`},
		{strings.Repeat("1,", 2048) + "1 * * * *", `The pattern has 4105 characters: at most 4096 are allowed.`},
	} {
		t.Run(c.pattern[:min(len(c.pattern), 20)], func(t *testing.T) {
			wantRefusal(t, "crontab", c.pattern, c.want)
		})
	}
	wantRefusal(t, "ical", "0 * * * *", `The pattern format "ical" is not supported: it must be crontab or calendar.`)
}

func wantRefusal(t *testing.T, format, pattern, want string) {
	t.Helper()
	p, err := Parse(format, pattern)
	var e *Error
	if !errors.As(err, &e) || err.Error() != want || p != nil {
		t.Errorf("Parse(%s, %q) = %v, %v; want the refusal %q", format, pattern, p, err, want)
	}
}

// vevent wraps an RRULE in a minimal calendar, lines joined by `\n` as
// the CLI sends them.
func vevent(rule string) string {
	return `BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Europe/Paris:20200101T101010\nRRULE:` + rule + `\nEND:VEVENT\nEND:VCALENDAR`
}

func TestCalendarNext(t *testing.T) {
	before := "2026-12-01 08:59:59"
	runNext(t, "calendar", []nextCase{
		{"daily at 02:00", vevent("FREQ=DAILY;BYHOUR=2;BYMINUTE=0"), dec19, dec19, []string{"2026-12-02 02:00:00", "2026-12-03 02:00:00", "2026-12-04 02:00:00", "2026-12-05 02:00:00"}},
		{"weekly on Monday, time from the start", vevent("FREQ=WEEKLY;BYDAY=MO"), dec19, dec19, []string{"2026-12-07 09:00:00", "2026-12-14 09:00:00", "2026-12-21 09:00:00", "2026-12-28 09:00:00"}},
		{"last day of the month", vevent("FREQ=MONTHLY;BYMONTHDAY=-1"), dec19, dec19, []string{"2026-12-31 09:00:00", "2027-01-31 09:00:00", "2027-02-28 09:00:00", "2027-03-31 09:00:00"}},
		{"last weekday of the month (BYSETPOS)", vevent("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"), dec19, dec19, []string{"2026-12-31 09:00:00", "2027-01-29 09:00:00", "2027-02-26 09:00:00", "2027-03-31 09:00:00"}},
		{"ordinal weekdays", vevent("FREQ=MONTHLY;BYDAY=2TU,-1FR"), dec19, dec19, []string{"2026-12-08 09:00:00", "2026-12-25 09:00:00", "2027-01-12 09:00:00", "2027-01-29 09:00:00"}},
		{"week number 1", vevent("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO"), dec19, dec19, []string{"2027-01-04 09:00:00", "2028-01-03 09:00:00", "2029-01-01 09:00:00", "2029-12-31 09:00:00"}},
		{"last day of the year", vevent("FREQ=YEARLY;BYYEARDAY=-1;BYHOUR=23;BYMINUTE=59;BYSECOND=59"), dec19, dec19, []string{"2026-12-31 23:59:59", "2027-12-31 23:59:59", "2028-12-31 23:59:59", "2029-12-31 23:59:59"}},
		{"BYSETPOS in the first week counts from the start's day (as dateutil)", vevent("FREQ=WEEKLY;BYDAY=TU,FR,SA;BYHOUR=7;BYMINUTE=0;BYSECOND=0;BYSETPOS=1"), "2026-01-29 01:00:00", "2026-01-29 00:00:00", []string{"2026-01-30 07:00:00", "2026-02-03 07:00:00", "2026-02-10 07:00:00", "2026-02-17 07:00:00"}},
		{"every 90 minutes", vevent("FREQ=MINUTELY;INTERVAL=90"), dec19, dec19, []string{"2026-12-01 10:30:00", "2026-12-01 12:00:00", "2026-12-01 13:30:00", "2026-12-01 15:00:00"}},
		{"every 5 hours from 2016", vevent("FREQ=HOURLY;INTERVAL=5"), "2016-01-01 00:00:00", dec19, []string{"2026-12-01 12:00:00", "2026-12-01 17:00:00", "2026-12-01 22:00:00", "2026-12-02 03:00:00"}},
		{"COUNT includes the start", vevent("FREQ=DAILY;COUNT=3"), dec19, before, []string{"2026-12-01 09:00:00", "2026-12-02 09:00:00", "2026-12-03 09:00:00"}},
		{"COUNT exhausted", vevent("FREQ=DAILY;COUNT=3"), dec19, "2026-12-03 09:00:00", nil},
		{"COUNT counted from the start", vevent("FREQ=HOURLY;COUNT=10"), dec1, "2026-12-01 07:30:00", []string{"2026-12-01 08:00:00", "2026-12-01 09:00:00"}},
		{"UNTIL with Z, inclusive", vevent("FREQ=DAILY;UNTIL=20261203T090000Z"), dec19, before, []string{"2026-12-01 09:00:00", "2026-12-02 09:00:00", "2026-12-03 09:00:00"}},
		{"UNTIL without Z is UTC", vevent("FREQ=DAILY;UNTIL=20261203T090000"), dec19, before, []string{"2026-12-01 09:00:00", "2026-12-02 09:00:00", "2026-12-03 09:00:00"}},
		{"UNTIL a date: its midnight", vevent("FREQ=DAILY;UNTIL=20261203"), dec19, before, []string{"2026-12-01 09:00:00", "2026-12-02 09:00:00"}},
		{"UNTIL reached", vevent("FREQ=DAILY;UNTIL=20261203T090000Z"), dec19, "2026-12-03 09:00:00", nil},
		{"never: 30 February", vevent("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), dec19, dec19, nil},
		{"never: interval misses the minute", vevent("FREQ=SECONDLY;INTERVAL=2;BYSECOND=1"), dec19, dec19, nil},
		{"real line breaks, CRLF, folded lines, lower case",
			"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nrrule:FREQ=WEEKLY;\r\n BYDAY=MO;\r\n\tBYHOUR=7\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			dec19, dec19, []string{"2026-12-07 07:00:00", "2026-12-14 07:00:00", "2026-12-21 07:00:00", "2026-12-28 07:00:00"}},
		{"LF line breaks, a VALARM, the first VEVENT's RRULE",
			"BEGIN:VEVENT\nRRULE:FREQ=DAILY;BYHOUR=3\nBEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nBEGIN:VEVENT\nRRULE:FREQ=YEARLY\nEND:VEVENT",
			dec19, dec19, []string{"2026-12-02 03:00:00", "2026-12-03 03:00:00", "2026-12-04 03:00:00", "2026-12-05 03:00:00"}},
	})
}

func TestCalendarRefused(t *testing.T) {
	for _, c := range []struct{ name, pattern, want string }{
		{"no VEVENT", `BEGIN:VCALENDAR\nEND:VCALENDAR`, "The calendar pattern has no VEVENT."},
		{"no RRULE", `BEGIN:VEVENT\nDTSTART:20260101T000000Z\nEND:VEVENT`, "The calendar pattern's VEVENT has no RRULE."},
		{"RRULE only in the second VEVENT", "BEGIN:VEVENT\nEND:VEVENT\nBEGIN:VEVENT\nRRULE:FREQ=DAILY\nEND:VEVENT", "The calendar pattern's VEVENT has no RRULE."},
		{"two RRULEs", "BEGIN:VEVENT\nRRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY\nEND:VEVENT", "The calendar pattern's VEVENT has 2 RRULEs: it must have exactly one."},
		{"RDATE", `BEGIN:VEVENT\nRRULE:FREQ=DAILY\nRDATE:20270101T000000Z\nEND:VEVENT`, "RDATE is not supported: only the RRULE counts."},
		{"EXDATE", `BEGIN:VEVENT\nRRULE:FREQ=DAILY\nEXDATE;VALUE=DATE:20270101\nEND:VEVENT`, "EXDATE is not supported: only the RRULE counts."},
		{"EXRULE", `BEGIN:VEVENT\nEXRULE:FREQ=WEEKLY\nRRULE:FREQ=DAILY\nEND:VEVENT`, "EXRULE is not supported: only the RRULE counts."},
		{"COUNT and UNTIL", vevent("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z"), "The RRULE has both COUNT and UNTIL: it may have only one."},
		{"no FREQ", vevent("BYHOUR=1"), "The RRULE has no FREQ."},
		{"unknown FREQ", vevent("FREQ=FORTNIGHTLY"), `The RRULE's FREQ "FORTNIGHTLY" is not one of YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY.`},
		{"part twice", vevent("FREQ=DAILY;FREQ=WEEKLY"), "The RRULE has FREQ twice."},
		{"unknown part", vevent("FREQ=DAILY;BYEASTER=0"), "The RRULE part BYEASTER is not supported."},
		{"part without value", vevent("FREQ=DAILY;BYHOUR"), `The RRULE part "BYHOUR" has no value.`},
		{"hour 24", vevent("FREQ=DAILY;BYHOUR=1,24"), `The RRULE's BYHOUR value "24" is not a whole number from 0 to 23.`},
		{"month day 0", vevent("FREQ=MONTHLY;BYMONTHDAY=0"), `The RRULE's BYMONTHDAY value "0" is not a whole number from 1 to 31 or -31 to -1.`},
		{"week 54", vevent("FREQ=YEARLY;BYWEEKNO=-54"), `The RRULE's BYWEEKNO value "-54" is not a whole number from 1 to 53 or -53 to -1.`},
		{"bad day", vevent("FREQ=WEEKLY;BYDAY=XX"), `The RRULE's BYDAY value "XX" is not a day such as MO, 2TU or -1FR.`},
		{"ordinal 0", vevent("FREQ=MONTHLY;BYDAY=0MO"), `The RRULE's BYDAY value "0MO" is not a day such as MO, 2TU or -1FR.`},
		{"interval 0", vevent("FREQ=DAILY;INTERVAL=0"), `The RRULE's INTERVAL "0" is not a whole number from 1 to 1048576.`},
		{"bad UNTIL", vevent("FREQ=DAILY;UNTIL=2027"), `The RRULE's UNTIL "2027" is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, optionally with Z).`},
		{"bad WKST", vevent("FREQ=WEEKLY;WKST=XX"), `The RRULE's WKST "XX" is not a day (MO, TU, WE, TH, FR, SA, SU).`},
	} {
		t.Run(c.name, func(t *testing.T) { wantRefusal(t, "calendar", c.pattern, c.want) })
	}
}

func TestValidate(t *testing.T) {
	end := func(s string) *time.Time { v := tm(t, s); return &v }
	// Six times a day (gaps 4 h, and 2 h from 23:00 to the next day's
	// 01:00), on the odd days of the year: consecutive days only from 31
	// December to 1 January of a year of 365 days, about 1,100
	// occurrences apart.
	var odd []string
	for d := 1; d <= 366; d += 2 {
		odd = append(odd, fmt.Sprint(d))
	}
	sparse := vevent("FREQ=DAILY;BYHOUR=1,5,9,13,17,23;BYMINUTE=0;BYSECOND=0;BYYEARDAY=" + strings.Join(odd, ","))
	for _, c := range []struct {
		name, format, pattern string
		start                 string
		end                   *time.Time
		now                   string
		min                   time.Duration
		want                  string
	}{
		{"hourly at the minimum", "crontab", "0 * * * *", dec1, nil, dec19, time.Hour, ""},
		{"every 20 minutes", "crontab", "*/20 * * * *", dec1, nil, dec19, time.Hour, "The interval of two adjacent time points is less than 3600."},
		{"every 20 minutes, other minimum", "crontab", "*/20 * * * *", dec1, nil, dec19, 30 * time.Minute, "The interval of two adjacent time points is less than 1800."},
		{"never matches", "crontab", "0 0 30 2 *", dec1, nil, dec19, time.Hour, "The trigger has no future occurrence."},
		{"end before the next", "crontab", "0 0 * * *", dec1, end("2026-12-01 23:59:59"), dec19, time.Hour, "The trigger has no future occurrence."},
		{"end at the next", "crontab", "0 0 * * *", dec1, end("2026-12-02 00:00:00"), dec19, time.Hour, ""},
		{"short gaps after the end do not count", "crontab", "0,30 0 * * *", dec1, end("2026-12-02 00:00:00"), dec19, time.Hour, ""},
		{"COUNT exhausted", "calendar", vevent("FREQ=DAILY;COUNT=3"), "2026-11-01 00:00:00", nil, dec19, time.Hour, "The trigger has no future occurrence."},
		{"UNTIL passed", "calendar", vevent("FREQ=DAILY;UNTIL=20261130"), "2026-11-01 00:00:00", nil, dec19, time.Hour, "The trigger has no future occurrence."},
		{"1 h gap on the 2nd of a month, minimum 1 h", "calendar", vevent("FREQ=DAILY;BYHOUR=0,23;BYMINUTE=0;BYMONTHDAY=1,2"), dec1, nil, dec19, time.Hour, ""},
		{"1 h gap on the 2nd of a month, minimum 2 h: the second gap", "calendar", vevent("FREQ=DAILY;BYHOUR=0,23;BYMINUTE=0;BYMONTHDAY=1,2"), dec1, nil, dec19, 2 * time.Hour, "The interval of two adjacent time points is less than 7200."},
		{"short gap about 700 occurrences ahead", "calendar", sparse, "2026-01-01 00:00:00", nil, "2027-06-01 00:00:00", 3 * time.Hour, "The interval of two adjacent time points is less than 10800."},
		{"short gap beyond the next 1,000", "calendar", sparse, "2026-01-01 00:00:00", nil, "2027-01-01 02:00:00", 3 * time.Hour, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, c.format, c.pattern)
			err := Validate(p, tm(t, c.start), c.end, tm(t, c.now), c.min)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != c.want {
				t.Errorf("Validate = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLatest(t *testing.T) {
	for _, c := range []struct {
		name, format, pattern, start, from, now string
		want                                    string // "" when none
		missed                                  int
	}{
		{"four passed over", "crontab", "0 * * * *", dec1, "2026-12-01 05:00:00", "2026-12-01 09:30:00", "2026-12-01 09:00:00", 4},
		{"from is the latest", "crontab", "0 * * * *", dec1, "2026-12-01 09:00:00", "2026-12-01 09:59:59", "2026-12-01 09:00:00", 0},
		{"from after now", "crontab", "0 * * * *", dec1, "2026-12-01 10:00:00", "2026-12-01 09:59:59", "", 0},
		{"COUNT ends it", "calendar", vevent("FREQ=HOURLY;COUNT=3"), dec1, "2026-12-01 01:00:00", "2026-12-01 09:30:00", "2026-12-01 02:00:00", 1},
		{"capped", "crontab", "* * * * *", "2020-01-01 00:00:00", "2020-01-01 00:00:00", "2026-12-01 09:30:30", "2026-12-01 09:30:00", MissedCap},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, c.format, c.pattern)
			latest, missed, ok := Latest(p, tm(t, c.start), tm(t, c.from), tm(t, c.now))
			if c.want == "" {
				if ok {
					t.Errorf("Latest = %v, %d, want none", latest, missed)
				}
				return
			}
			if !ok || latest.Format(time.DateTime) != c.want || missed != c.missed {
				t.Errorf("Latest = %v, %d, %v; want %s, %d", latest, missed, ok, c.want, c.missed)
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	now := tm(b, dec19)
	for _, c := range []struct{ name, format, pattern, start string }{
		{"crontab daily", "crontab", "0 2 * * *", "2016-01-01 00:00:00"},
		{"crontab both day fields", "crontab", "0 0 13 * FRI", "2016-01-01 00:00:00"},
		{"crontab never", "crontab", "0 0 30 2 *", "2016-01-01 00:00:00"},
		{"rrule hourly from 2016", "calendar", vevent("FREQ=HOURLY;INTERVAL=5"), "2016-01-01 00:00:00"},
		{"rrule monthly BYSETPOS", "calendar", vevent("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"), "2016-01-01 00:00:00"},
		{"rrule hourly COUNT from 2016", "calendar", vevent("FREQ=HOURLY;COUNT=200000"), "2016-01-01 00:00:00"},
		{"rrule never (30 February)", "calendar", vevent("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"), "2016-01-01 00:00:00"},
		{"rrule never (work bound)", "calendar", vevent("FREQ=SECONDLY;INTERVAL=2;BYSECOND=1"), "2016-01-01 00:00:00"},
	} {
		p := mustParse(b, c.format, c.pattern)
		start := tm(b, c.start)
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p.Next(start, now)
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	now := tm(b, dec19)
	for _, c := range []struct{ name, format, pattern string }{
		{"crontab daily", "crontab", "0 2 * * *"},
		{"crontab hourly", "crontab", "0 * * * *"},
		{"rrule daily", "calendar", vevent("FREQ=DAILY;BYHOUR=2;BYMINUTE=0")},
		{"rrule monthly BYSETPOS", "calendar", vevent("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1")},
		{"crontab 29 February (1,000 over 4,000 years)", "crontab", "0 0 29 2 *"},
		{"rrule fifth Monday of February (1,000 over 28,000 years)", "calendar", vevent("FREQ=YEARLY;BYMONTH=2;BYDAY=5MO")},
	} {
		p := mustParse(b, c.format, c.pattern)
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := Validate(p, now, nil, now, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
