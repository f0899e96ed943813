package background

import (
	"testing"
)

func TestEveryBackgroundStarts(t *testing.T) {
	for _, b := range Functions {
		if starts[b.Name] == nil {
			t.Errorf("background function %s has no start", b.Name)
		}
	}
	if len(starts) != len(Functions) {
		t.Errorf("%d starts for %d background functions", len(starts), len(Functions))
	}
}
