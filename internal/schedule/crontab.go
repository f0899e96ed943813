package schedule

import (
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// crontab is a five-field pattern read as Vixie cron does, in UTC. Each
// field is a bit set of the values it allows.
type crontab struct {
	minute, hour, dom, month, dow uint64
	// domStar, dowStar: the day field starts with "*". When neither does,
	// a day matching either day field fires; otherwise both must match
	// (Vixie's rule, so "*/2" counts as unrestricted here).
	domStar, dowStar bool
}

// cronHorizon bounds Next's search: a crontab that matches at all does so
// within 8 years (29 February), so past 10 it never will.
const cronHorizonDays = 3653

var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i (months) or i (days)
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
	cronFields = []cronField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day of month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: monthNames},
		{name: "day of week", min: 0, max: 7, names: dayNames},
	}
)

func parseCrontab(pattern string) (*crontab, error) {
	text := strings.TrimSpace(pattern)
	if strings.HasPrefix(text, "@") {
		expanded, ok := cronMacros[strings.ToLower(text)]
		if !ok {
			return nil, refuse("The crontab pattern %q is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.", text)
		}
		text = expanded
	}
	parts := strings.Fields(text)
	switch {
	case len(parts) == 6:
		return nil, refuse("The crontab pattern %q has 6 fields: it needs 5 (minute, hour, day of month, month, day of week); a seconds field is not supported.", text)
	case len(parts) != 5:
		return nil, refuse("The crontab pattern %q has %d fields: it needs 5 (minute, hour, day of month, month, day of week).", text, len(parts))
	}
	var c crontab
	sets := []*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range cronFields {
		set, err := f.parse(parts[i])
		if err != nil {
			return nil, err
		}
		*sets[i] = set
	}
	if c.dow&(1<<7) != 0 {
		c.dow = c.dow&^(1<<7) | 1
	}
	c.domStar = strings.HasPrefix(parts[2], "*")
	c.dowStar = strings.HasPrefix(parts[4], "*")
	return &c, nil
}

// parse reads one field: a comma-separated list of "*", "n", "a-b", each
// range (or "*") optionally followed by "/step".
func (f cronField) parse(text string) (uint64, error) {
	if err := f.unsupported(text); err != nil {
		return 0, err
	}
	var set uint64
	for _, item := range strings.Split(text, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a, item); err != nil {
				return 0, err
			}
			if hi, err = f.value(b, item); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, refuse("The crontab pattern's %s field has the range %q, whose start is after its end.", f.name, rng)
			}
		default:
			if hasStep {
				return 0, refuse("The crontab pattern's %s field has the step %q on a single value: a step needs a range or *.", f.name, item)
			}
			v, err := f.value(rng, item)
			if err != nil {
				return 0, err
			}
			lo, hi = v, v
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || strings.HasPrefix(stepText, "+") {
				return 0, refuse("The crontab pattern's %s field has the step %q, which is not a positive whole number.", f.name, stepText)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// value reads a number or (for months and days of week) a name.
func (f cronField) value(text, item string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(text, n) {
			if f.min == 1 {
				return i + 1, nil
			}
			return i, nil
		}
	}
	n, err := strconv.Atoi(text)
	if err != nil || text == "" || text[0] == '+' || text[0] == '-' {
		return 0, refuse("The crontab pattern's %s field has %q, which is not a value, a range, a list or a step.", f.name, item)
	}
	if n < f.min || n > f.max {
		return 0, refuse("The crontab pattern's %s field has the value %d, outside %d-%d.", f.name, n, f.min, f.max)
	}
	return n, nil
}

// unsupported names the extensions of other crons (Quartz, cronie) that
// are refused: ?, L, W, #.
func (f cronField) unsupported(text string) error {
	rest := strings.ToUpper(text)
	for _, n := range f.names {
		rest = strings.ReplaceAll(rest, n, "")
	}
	for _, c := range []string{"?", "#", "L", "W"} {
		if strings.Contains(rest, c) {
			return refuse("The crontab pattern's %s field %q uses %s, which is not supported.", f.name, text, c)
		}
	}
	return nil
}

func (c *crontab) dayMatches(day int64, mday int) bool {
	domOK := c.dom&(1<<mday) != 0
	dowOK := c.dow&(1<<weekday(day)) != 0
	if c.domStar || c.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// from returns the first match at or after lo, searching lo's day and
// the cronHorizonDays after it. It jumps by month, day and hour rather than
// stepping minute by minute.
func (c *crontab) from(lo time.Time) (time.Time, bool) {
	day, sec := dayOf(lo)
	h, m := sec/3600, (sec%3600+59)/60 // a minute boundary at or after lo
	if m == 60 {
		h, m = h+1, 0
	}
	for limit := day + cronHorizonDays; day <= limit; day, h, m = day+1, 0, 0 {
		y, mo, d := civil(day)
		if c.month&(1<<mo) == 0 {
			if mo == 12 {
				y, mo = y+1, 0
			}
			day = dayNumber(y, mo+1, 1) - 1
			continue
		}
		if !c.dayMatches(day, d) {
			continue
		}
		for ; h < 24; h, m = h+1, 0 {
			if c.hour&(1<<h) == 0 {
				continue
			}
			if rest := c.minute >> m << m; rest != 0 {
				return atSecond(day, h*3600+bits.TrailingZeros64(rest)*60), true
			}
		}
	}
	return time.Time{}, false
}

func (c *crontab) Next(start, t time.Time) (time.Time, bool) {
	return c.from(lowerBound(start, t))
}

func (c *crontab) Iter(start, t time.Time) func() (time.Time, bool) {
	lo := lowerBound(start, t)
	done := false
	return func() (time.Time, bool) {
		if done {
			return time.Time{}, false
		}
		o, ok := c.from(lo)
		if !ok {
			done = true
			return o, false
		}
		lo = o.Add(time.Minute)
		return o, true
	}
}
