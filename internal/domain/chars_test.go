package domain

import (
	"regexp"
	"strings"
	"testing"
)

// TestHandWrittenChecksMatchPatterns checks the hand-written checks against
// the patterns they replace, over strings built from the characters that
// matter.
func TestHandWrittenChecksMatchPatterns(t *testing.T) {
	checks := []struct {
		name    string
		pattern *regexp.Regexp
		f       func(string) bool
	}{
		{"project id", regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`), validProjectID},
		{"info key", regexp.MustCompile(`^[A-Za-z0-9\-_:.# ]{1,255}$`), validInfoKey},
		{"param key", regexp.MustCompile(`^[A-Za-z0-9\-_:. ]+(#[A-Za-z0-9\-_:.#/ ]*)?$`), validParamKey},
	}
	alphabet := []string{"a", "Z", "0", "-", "_", ":", ".", "#", " ", "/", "é", "\n", "$", "+"}
	var inputs []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		inputs = append(inputs, prefix)
		if n == 0 {
			return
		}
		for _, a := range alphabet {
			grow(prefix+a, n-1)
		}
	}
	grow("", 3)
	for _, n := range []int{63, 64, 65, 254, 255, 256} {
		inputs = append(inputs, strings.Repeat("a", n), "AWS::X#"+strings.Repeat("b", n))
	}
	inputs = append(inputs, "OS::Nova::Server#arn:aws:x/y", "#id", "a#", "a##/", "a/#b")
	for _, c := range checks {
		for _, in := range inputs {
			if got, want := c.f(in), c.pattern.MatchString(in); got != want {
				t.Errorf("%s %q: %v, the pattern says %v", c.name, in, got, want)
			}
		}
	}
}
