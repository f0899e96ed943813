package events

import (
	"fmt"
	"strings"
	"testing"
)

// TestCapReason: a failed task's reasons are cut to MaxReasonBytes, first
// resources by key, and the cut is said; small ones pass whole.
func TestCapReason(t *testing.T) {
	small := map[string]string{"AWS::DynamoDB::Table#orders": "backup gone"}
	if got, cut := capReason(small); cut || len(got) != 1 {
		t.Errorf("small reason = %v, %v; want it whole", got, cut)
	}
	big := map[string]string{}
	for i := range 300 {
		big[fmt.Sprintf("AWS::EC2::Volume#vol-%04d", i)] = strings.Repeat("x", 1000)
	}
	got, cut := capReason(big)
	size := 0
	for k, v := range got {
		size += len(k) + len(v)
	}
	if !cut || size > MaxReasonBytes || len(got) == 0 || got["AWS::EC2::Volume#vol-0000"] == "" {
		t.Errorf("300 KB of reasons: kept %d (%d bytes), cut %v; want the first ones within %d bytes, cut", len(got), size, cut, MaxReasonBytes)
	}
}
