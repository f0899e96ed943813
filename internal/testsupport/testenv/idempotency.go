package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"karbor/internal/idempotency"
	"karbor/internal/local/tables"
)

// IdempotencyTable creates a fresh table of Idempotency-Key answers for one
// test, from template.yaml (with its TTL), and returns its name.
func IdempotencyTable(t testing.TB) string {
	t.Helper()
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(base) > 80 {
		base = base[:80]
	}
	name := sanitize(fmt.Sprintf("idem-%s-%d-%d", base, os.Getpid(), counter.Add(1)))
	if err := tables.Ensure(context.Background(), DynamoDB(t), tables.Names{tables.Idempotency: name}); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return name
}

// Idempotency returns an idempotency store over a fresh table.
func Idempotency(t testing.TB) *idempotency.Store {
	t.Helper()
	return idempotency.New(DynamoDB(t), IdempotencyTable(t))
}
