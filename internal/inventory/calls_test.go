package inventory_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/ownership"
)

// counting is the real DynamoDB client, recording the operations called.
type counting struct {
	*dynamodb.Client
	mu    sync.Mutex
	calls []string
}

func (c *counting) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op)
}

func (c *counting) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	slices.Sort(out)
	return out
}

func (c *counting) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	c.add("DescribeTable")
	return c.Client.DescribeTable(ctx, in, opts...)
}

func (c *counting) ListTagsOfResource(ctx context.Context, in *dynamodb.ListTagsOfResourceInput, opts ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error) {
	c.add("ListTagsOfResource")
	return c.Client.ListTagsOfResource(ctx, in, opts...)
}

func (c *counting) ListTables(ctx context.Context, in *dynamodb.ListTablesInput, opts ...func(*dynamodb.Options)) (*dynamodb.ListTablesOutput, error) {
	c.add("ListTables")
	return c.Client.ListTables(ctx, in, opts...)
}

// TestTableCallsTellNothing: showing or checking a missing table, another
// project's, an untagged one, the service's own (by tag or by name) and
// an owned one costs the same calls, so that their timing tells nothing.
func TestTableCallsTellNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, mode := range []ownership.Mode{ownership.ModeTag, ownership.ModeAccount} {
		t.Run(string(mode), func(t *testing.T) {
			inv := w.inventory(mode)
			db := &counting{Client: w.env.DynamoDB}
			inv.DynamoDB = db
			want := []string{"DescribeTable", "ListTagsOfResource"}
			for name, id := range map[string]string{
				"missing": "no-such-table", "other's": w.otherTable, "untagged": w.untaggedTable,
				"service-tagged": w.serviceTagged, "service by name": w.serviceNamed, "owned": w.table,
			} {
				owned := id == w.table || (mode == ownership.ModeAccount && (id == w.otherTable || id == w.untaggedTable))
				_, err := inv.Show(t.Context(), w.project, domain.TypeDynamoDBTable, id)
				if owned != (err == nil) || (!owned && !errors.Is(err, domain.ErrNotFound)) {
					t.Errorf("Show %s: %v", name, err)
				}
				if got := db.take(); !slices.Equal(got, want) {
					t.Errorf("Show %s called %v, want %v", name, got, want)
				}
				errs := inv.Owned(t.Context(), w.project, []domain.Resource{{ID: id, Type: domain.TypeDynamoDBTable}})
				if owned != (errs[0] == nil) {
					t.Errorf("Owned %s: %v", name, errs[0])
				}
				if got := db.take(); !slices.Equal(got, want) {
					t.Errorf("Owned %s called %v, want %v", name, got, want)
				}
			}
		})
	}
	// Without the ARN prefix, the answers are the same (the calls are
	// made one after the other, as far as needed).
	inv := w.inventory(ownership.ModeTag)
	inv.TableARNPrefix = ""
	for id, owned := range map[string]bool{"no-such-table": false, w.otherTable: false, w.serviceTagged: false, w.serviceNamed: false, w.table: true} {
		if _, err := inv.Show(t.Context(), w.project, domain.TypeDynamoDBTable, id); owned != (err == nil) {
			t.Errorf("no prefix, Show %s: %v", id, err)
		}
	}
	// A prefix that does not match the tables' ARNs fails loudly.
	inv.TableARNPrefix = "arn:aws:dynamodb:nowhere-1:000000000000:table/"
	if _, err := inv.Show(t.Context(), w.project, domain.TypeDynamoDBTable, w.table); err == nil || errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a wrong prefix: %v, want an error", err)
	}
}

// TestListTagModeTableCalls: in tag mode a listing's tables take their tags
// from the tagging API: DescribeTable alone per table, none for the
// service's own.
func TestListTagModeTableCalls(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inv := w.inventory(ownership.ModeTag)
	db := &counting{Client: w.env.DynamoDB}
	inv.DynamoDB = db
	page, err := inv.List(t.Context(), domain.InstanceQuery{Type: domain.TypeDynamoDBTable, Listing: domain.Listing{ProjectID: w.project, Limit: 10, Ascending: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page.Items); !slices.Equal(got, []string{w.table}) {
		t.Errorf("listed %v, want %v", got, []string{w.table})
	}
	// The project's tagged tables: its own, the service-tagged one and
	// the one named in the configuration (refused without a call).
	if got := db.take(); !slices.Equal(got, []string{"DescribeTable", "DescribeTable"}) {
		t.Errorf("calls %v, want DescribeTable for the owned and the service-tagged table", got)
	}
}

var _ inventory.DynamoDBAPI = (*counting)(nil)
