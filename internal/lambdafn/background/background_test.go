package background

import (
	"testing"

	"karbor/internal/lambdafn"
)

func TestEveryBackgroundStarts(t *testing.T) {
	for _, b := range lambdafn.Backgrounds {
		if starts[b.Name] == nil {
			t.Errorf("background function %s has no start", b.Name)
		}
	}
	if len(starts) != len(lambdafn.Backgrounds) {
		t.Errorf("%d starts for %d background functions", len(starts), len(lambdafn.Backgrounds))
	}
}
