package schedule

import (
	"sort"
	"time"
)

// ruleHorizonYears bounds the search for a rule's next occurrence: a rule
// with none in the 100 years after a point is taken to have none (the
// rarest real ones, such as a fifth Monday of February, recur within 40).
const ruleHorizonYears = 100

// ruleWorkLimit bounds the periods generated in search of one occurrence
// (days that fail the day-level parts are skipped whole and cheaply; this
// bounds rules such as FREQ=SECONDLY;INTERVAL=2;BYSECOND=1 from an even
// second, whose interval never meets their BYxxx parts).
const ruleWorkLimit = 1 << 18

// spec is a rule with the defaults RFC 5545 (as python-dateutil, which
// upstream used, reads it) takes from the start filled in.
type spec struct {
	*rrule
	start                   time.Time
	bymonth, bymonthday     []int
	byday                   []nthDay
	hours, minutes, seconds []int
	timeset                 []int // seconds of the day, for periods of a day or more
	base                    int64 // the unit of the start's period
	nthInMonth              bool  // BYDAY's ordinals count within the month
	weekOffset              int64 // day numbers of the week start are ≡ weekOffset mod 7
}

func (r *rrule) withStart(start time.Time) *spec {
	start = truncSecond(start)
	s := &spec{rrule: r, start: start, bymonth: r.bymonth, bymonthday: r.bymonthday, byday: r.byday,
		hours: r.byhour, minutes: r.byminute, seconds: r.bysecond}
	if len(r.byweekno) == 0 && len(r.byyearday) == 0 && len(r.bymonthday) == 0 && len(r.byday) == 0 {
		switch r.freq {
		case yearly:
			if len(s.bymonth) == 0 {
				s.bymonth = []int{int(start.Month())}
			}
			s.bymonthday = []int{start.Day()}
		case monthly:
			s.bymonthday = []int{start.Day()}
		case weekly:
			s.byday = []nthDay{{day: int(start.Weekday())}}
		}
	}
	if len(s.hours) == 0 && r.freq < hourly {
		s.hours = []int{start.Hour()}
	}
	if len(s.minutes) == 0 && r.freq < minutely {
		s.minutes = []int{start.Minute()}
	}
	if len(s.seconds) == 0 && r.freq < secondly {
		s.seconds = []int{start.Second()}
	}
	if r.freq <= daily {
		for _, h := range s.hours {
			for _, m := range s.minutes {
				for _, sec := range s.seconds {
					s.timeset = append(s.timeset, h*3600+m*60+sec)
				}
			}
		}
		sort.Ints(s.timeset)
	}
	s.nthInMonth = r.freq == monthly || r.freq == yearly && len(r.bymonth) > 0
	s.weekOffset = int64((r.wkst - 4 + 7) % 7) // day 0 is a Thursday
	s.base = s.unitOf(start)
	return s
}

// unitOf numbers t's period of the rule's frequency (year, month, week
// from WKST, day, hour, minute, second).
func (s *spec) unitOf(t time.Time) int64 {
	day, _ := dayOf(t)
	switch s.freq {
	case yearly:
		return int64(t.Year())
	case monthly:
		return int64(t.Year())*12 + int64(t.Month()) - 1
	case weekly:
		return floorDiv(day-s.weekOffset, 7)
	case daily:
		return day
	case hourly:
		return floorDiv(t.Unix(), 3600)
	case minutely:
		return floorDiv(t.Unix(), 60)
	}
	return t.Unix()
}

// days returns the first day and the number of days of period u, for
// frequencies of a day or more.
func (s *spec) days(u int64) (int64, int) {
	switch s.freq {
	case yearly:
		return dayNumber(int(u), 1, 1), yearLen(int(u))
	case monthly:
		y, m := int(floorDiv(u, 12)), int(u-floorDiv(u, 12)*12)+1
		return dayNumber(y, m, 1), monthLen(y, m)
	case weekly:
		return u*7 + s.weekOffset, 7
	}
	return u, 1
}

// ceilUnit is the first period of the rule (base + k·INTERVAL) at or
// after unit target, and after u.
func (s *spec) ceilUnit(u, target int64) int64 {
	iv := int64(s.interval)
	k := floorDiv(target-s.base+iv-1, iv)
	if next := s.base + k*iv; next > u {
		return next
	}
	return u + iv
}

// gen appends period u's occurrences (sorted) to buf and returns the next
// period worth generating.
func (s *spec) gen(u int64, buf []time.Time) ([]time.Time, int64) {
	next := u + int64(s.interval)
	first := len(buf)
	switch s.freq {
	case yearly:
		if len(s.bymonth) > 0 { // only those months' days can match
			for _, m := range s.bymonth {
				buf = s.genDays(dayNumber(int(u), m, 1), dayNumber(int(u), m, 1)+int64(monthLen(int(u), m)), buf)
			}
			break
		}
		d0, n := s.days(u)
		buf = s.genDays(d0, d0+int64(n), buf)
	case monthly, weekly, daily:
		d0, n := s.days(u)
		end := d0 + int64(n)
		if s.freq == weekly && u == s.base {
			// As python-dateutil (upstream's): the first week starts on
			// the start's day, which matters to BYSETPOS.
			d0, _ = dayOf(s.start)
		}
		buf = s.genDays(d0, end, buf)
	case hourly:
		day, h := floorDiv(u, 24), int(u-floorDiv(u, 24)*24)
		if !s.dayMatches(day) {
			return buf, s.ceilUnit(u, (day+1)*24)
		}
		if has(s.hours, h) {
			for _, m := range s.minutes {
				for _, sec := range s.seconds {
					buf = append(buf, atSecond(day, h*3600+m*60+sec))
				}
			}
		}
	case minutely:
		day, rest := floorDiv(u, 1440), int(u-floorDiv(u, 1440)*1440)
		h, m := rest/60, rest%60
		switch {
		case !s.dayMatches(day):
			return buf, s.ceilUnit(u, (day+1)*1440)
		case !has(s.hours, h):
			return buf, s.ceilUnit(u, day*1440+int64(h+1)*60)
		case has(s.minutes, m):
			for _, sec := range s.seconds {
				buf = append(buf, atSecond(day, rest*60+sec))
			}
		}
	default:
		day, rest := floorDiv(u, 86400), int(u-floorDiv(u, 86400)*86400)
		h, m, sec := rest/3600, rest%3600/60, rest%60
		switch {
		case !s.dayMatches(day):
			return buf, s.ceilUnit(u, (day+1)*86400)
		case !has(s.hours, h):
			return buf, s.ceilUnit(u, day*86400+int64(h+1)*3600)
		case !has(s.minutes, m):
			return buf, s.ceilUnit(u, day*86400+int64(h*3600+(m+1)*60))
		case has(s.seconds, sec):
			buf = append(buf, atSecond(day, rest))
		}
	}
	if len(s.bysetpos) > 0 {
		buf = setpos(buf, first, s.bysetpos)
	}
	return buf, next
}

// genDays appends the occurrences of days [d0, end).
func (s *spec) genDays(d0, end int64, buf []time.Time) []time.Time {
	for d := d0; d < end; d++ {
		if s.dayMatches(d) {
			for _, sec := range s.timeset {
				buf = append(buf, atSecond(d, sec))
			}
		}
	}
	return buf
}

// setpos keeps, of buf[first:], the positions BYSETPOS names.
func setpos(buf []time.Time, first int, positions []int) []time.Time {
	set := buf[first:]
	var picked []time.Time
	for _, p := range positions {
		i := p - 1
		if p < 0 {
			i = len(set) + p
		}
		if i >= 0 && i < len(set) {
			picked = append(picked, set[i])
		}
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Before(picked[j]) })
	buf = buf[:first]
	for i, t := range picked {
		if i == 0 || !t.Equal(picked[i-1]) {
			buf = append(buf, t)
		}
	}
	return buf
}

// has reports whether list holds v; an empty list allows every value.
func has(list []int, v int) bool {
	return len(list) == 0 || indexOfInt(list, v) >= 0
}

// dayMatches applies the day-level BYxxx parts to day d.
func (s *spec) dayMatches(d int64) bool {
	y, m, md := civil(d)
	if len(s.bymonth) > 0 && indexOfInt(s.bymonth, m) < 0 {
		return false
	}
	if len(s.bymonthday) > 0 && indexOfInt(s.bymonthday, md) < 0 && indexOfInt(s.bymonthday, md-monthLen(y, m)-1) < 0 {
		return false
	}
	ylen := yearLen(y)
	yd := int(d-dayNumber(y, 1, 1)) + 1
	if len(s.byyearday) > 0 && indexOfInt(s.byyearday, yd) < 0 && indexOfInt(s.byyearday, yd-ylen-1) < 0 {
		return false
	}
	if len(s.byweekno) > 0 {
		w, neg := s.weekNumber(d)
		if indexOfInt(s.byweekno, w) < 0 && indexOfInt(s.byweekno, neg) < 0 {
			return false
		}
	}
	if len(s.byday) > 0 {
		wd := weekday(d)
		ok := false
		for _, b := range s.byday {
			if b.day != wd {
				continue
			}
			if b.n == 0 || s.freq > monthly {
				ok = true
				break
			}
			pos, neg := (yd-1)/7+1, -((ylen-yd)/7 + 1)
			if s.nthInMonth {
				pos, neg = (md-1)/7+1, -((monthLen(y, m)-md)/7 + 1)
			}
			if b.n == pos || b.n == neg {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// weekNumber gives day d's week number (weeks start on WKST; week 1 is
// the first with at least four days in its year) and the same counted
// from the end of that year (-1 the last week).
func (s *spec) weekNumber(d int64) (int, int) {
	weekStart := d - floorMod(d-s.weekOffset, 7)
	y, _, _ := civil(weekStart + 3)
	first := s.firstWeek(y)
	w := int((weekStart-first)/7) + 1
	weeks := int((s.firstWeek(y+1) - first) / 7)
	return w, w - weeks - 1
}

// firstWeek is the first day of week 1 of year y: the week holding 4 January.
func (s *spec) firstWeek(y int) int64 {
	jan4 := dayNumber(y, 1, 4)
	return jan4 - floorMod(jan4-s.weekOffset, 7)
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// ruleIter walks a rule's occurrences, period after period.
type ruleIter struct {
	s         *spec
	unit      int64
	buf       []time.Time
	i, n      int
	lo        time.Time // next occurrence at or after this
	limit     int64     // last period to look at
	untilUnit int64
	work      int // periods generated since the last occurrence
	done      bool
}

func (it *ruleIter) setLow(lo time.Time) {
	it.lo = lo
	it.work = 0
	it.limit = it.s.unitOf(lo.AddDate(ruleHorizonYears, 0, 0))
	if it.limit > it.untilUnit {
		it.limit = it.untilUnit
	}
}

func (it *ruleIter) next() (time.Time, bool) {
	s := it.s
	for !it.done {
		for it.i < len(it.buf) {
			o := it.buf[it.i]
			it.i++
			if o.Before(s.start) {
				continue
			}
			if !s.until.IsZero() && o.After(s.until) || s.count > 0 && it.n >= s.count {
				it.done = true
				return time.Time{}, false
			}
			it.n++
			if o.Before(it.lo) {
				continue
			}
			it.setLow(o.Add(time.Second))
			return o, true
		}
		if it.unit > it.limit || it.work >= ruleWorkLimit {
			it.done = true
			break
		}
		it.work++
		it.buf, it.i = it.buf[:0], 0
		it.buf, it.unit = s.gen(it.unit, it.buf)
	}
	return time.Time{}, false
}

func (r *rrule) iter(start, t time.Time) *ruleIter {
	s := r.withStart(start)
	it := &ruleIter{s: s, unit: s.base, untilUnit: 1<<62 - 1}
	if !r.until.IsZero() {
		it.untilUnit = s.unitOf(r.until)
	}
	lo := lowerBound(start, t)
	it.setLow(lo)
	if r.count == 0 {
		// Without COUNT nothing before lo matters: start at its period.
		if k := floorDiv(s.unitOf(lo)-s.base, int64(r.interval)); k > 0 {
			it.unit = s.base + k*int64(r.interval)
		}
	}
	return it
}

func (r *rrule) Next(start, t time.Time) (time.Time, bool) {
	return r.iter(start, t).next()
}

func (r *rrule) Iter(start, t time.Time) func() (time.Time, bool) {
	return r.iter(start, t).next
}
