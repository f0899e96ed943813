package domain

import (
	"testing"

	"github.com/google/uuid"
)

// TestOperationLogID: one id per operation (and per deletion attempt), in
// version 4's layout as every id the service makes.
func TestOperationLogID(t *testing.T) {
	a := OperationLogID(OpDelete, "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", "2026-12-01T10:00:00Z")
	if b := OperationLogID(OpDelete, "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", "2026-12-01T10:00:00Z"); a != b {
		t.Errorf("two ids for one operation: %s, %s", a, b)
	}
	for _, other := range []string{
		OperationLogID(OpDelete, "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", "2026-12-01T10:05:00Z"),
		OperationLogID(OpProtect, "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", "2026-12-01T10:00:00Z"),
	} {
		if other == a {
			t.Errorf("another operation has the id %s", a)
		}
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != a {
		t.Errorf("id %s: version %d, variant %v, %v; want a lower-case v4 UUID", a, u.Version(), u.Variant(), err)
	}
}
