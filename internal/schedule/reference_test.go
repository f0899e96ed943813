package schedule

import (
	"bufio"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCalendarAgainstDateutil compares occurrences with those of
// python-dateutil (upstream's library) for random rules.
func TestCalendarAgainstDateutil(t *testing.T) {
	f, err := os.Open("testdata/dateutil.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		in, want, _ := strings.Cut(line, "\t")
		f := strings.Split(in, "|")
		start, err1 := time.Parse(time.RFC3339, f[1])
		after, err2 := time.Parse(time.RFC3339, f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", line)
		}
		p := mustParse(t, "calendar", "BEGIN:VEVENT\nRRULE:"+f[0]+"\nEND:VEVENT")
		var got []string
		next := p.Iter(start, after)
		for len(got) < 6 {
			o, ok := next()
			if !ok {
				break
			}
			got = append(got, o.Format("20060102T150405"))
		}
		if g := strings.Join(got, ","); g != want {
			t.Errorf("%s:\n got  %s\n want %s", in, g, want)
		}
		n++
	}
	if n < 300 {
		t.Fatalf("only %d rules read", n)
	}
}

// TestCrontabAgainstBruteForce checks the jumping search against a
// minute-by-minute one over 400 days, for random patterns.
func TestCrontabAgainstBruteForce(t *testing.T) {
	choices := [][]string{
		{"*", "*/7", "5", "0,30", "10-20/3", "59"},
		{"*", "3", "*/5", "22-23", "0,12"},
		{"*", "1", "13", "31", "*/10", "15-17", "29"},
		{"*", "2", "jan,jul", "*/3", "11-12"},
		{"*", "0", "7", "mon-fri", "5-7", "sat", "*/2"},
	}
	rng := rand.New(rand.NewSource(1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 60; i++ {
		var fields []string
		for _, c := range choices {
			fields = append(fields, c[rng.Intn(len(c))])
		}
		pattern := strings.Join(fields, " ")
		c, err := parseCrontab(pattern)
		if err != nil {
			t.Fatal(err)
		}
		from := base.Add(time.Duration(rng.Int63n(int64(3 * 365 * 24 * time.Hour)))).Truncate(time.Second)
		var want []time.Time
		m := from.Truncate(time.Minute).Add(time.Minute)
		for end := from.AddDate(0, 0, 400); m.Before(end) && len(want) < 5; m = m.Add(time.Minute) {
			day, _ := dayOf(m)
			if c.month&(1<<int(m.Month())) != 0 && c.dayMatches(day, m.Day()) &&
				c.hour&(1<<m.Hour()) != 0 && c.minute&(1<<m.Minute()) != 0 {
				want = append(want, m)
			}
		}
		next := c.Iter(base, from)
		for j, w := range want {
			if o, ok := next(); !ok || !o.Equal(w) {
				t.Errorf("%q after %v: occurrence %d is %v %v, want %v", pattern, from, j, o, ok, w)
				break
			}
		}
		if len(want) < 5 {
			if o, ok := next(); ok && o.Before(from.AddDate(0, 0, 400)) {
				t.Errorf("%q after %v: %v, but the minute-by-minute search found none", pattern, from, o)
			}
		}
	}
}
