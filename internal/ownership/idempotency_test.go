package ownership

import "testing"

// TestIdempotencyTableIsTheServices: the table of Idempotency-Key answers
// is never protectable.
func TestIdempotencyTableIsTheServices(t *testing.T) {
	t.Setenv("PLANS_TABLE", "")
	t.Setenv("CHECKPOINTS_TABLE", "")
	t.Setenv("SERVICE_TABLES", "")
	t.Setenv("IDEMPOTENCY_TABLE", "karbor-idempotency")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !c.ServiceTable("arn:aws:dynamodb:eu-west-1:123456789012:table/karbor-idempotency") {
		t.Errorf("ServiceTables %q: the idempotency table is not the service's", c.ServiceTables)
	}
}
