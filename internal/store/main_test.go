package store_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// base is the creation time the fixtures count from. It has a fraction of a
// second on purpose: the store keeps created_at to the second.
var base = time.Date(2026, 11, 26, 18, 30, 5, 250_000_000, time.UTC)

func newProjectID() string { return strings.ReplaceAll(domain.NewID(), "-", "") }

func strptr(s string) *string { return &s }

func resources() []domain.Resource {
	return []domain.Resource{
		{ID: domain.NewID(), Type: "OS::Cinder::Volume", Name: "Data volume", ExtraInfo: json.RawMessage(`{"availability_zone":"az1"}`)},
		{ID: domain.NewID(), Type: "OS::Nova::Server", Name: "Web server"},
	}
}

// newCheckpoint returns a checkpoint as the API creates it.
func newCheckpoint(projectID, providerID string, created time.Time, status domain.Status) *domain.Checkpoint {
	return &domain.Checkpoint{
		ID:         domain.NewID(),
		ProjectID:  projectID,
		ProviderID: providerID,
		Status:     status,
		Plan: domain.ProtectionPlan{
			ID:         domain.NewID(),
			Name:       "My 3 tier application",
			ProviderID: providerID,
			Resources:  resources(),
			Parameters: map[string]json.RawMessage{"OS::Cinder::Volume": json.RawMessage(`{"backup_mode":"full"}`)},
		},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`),
		CreatedAt: created,
		UpdatedAt: created,
	}
}

// stored is what a checkpoint reads back as: times to the second, in UTC.
func stored(c *domain.Checkpoint) *domain.Checkpoint {
	out := *c
	out.CreatedAt = c.CreatedAt.UTC().Truncate(time.Second)
	out.UpdatedAt = c.UpdatedAt.UTC().Truncate(time.Second)
	return &out
}

func createCheckpoints(t *testing.T, s *store.Store, cs ...*domain.Checkpoint) {
	t.Helper()
	for _, c := range cs {
		if err := s.CreateCheckpoint(t.Context(), c); err != nil {
			t.Fatalf("CreateCheckpoint(%s): %v", c.ID, err)
		}
	}
}

// deleteCheckpoint makes a checkpoint deleted, as the background deletion
// does when it finishes.
func deleteCheckpoint(t *testing.T, s *store.Store, c *domain.Checkpoint) {
	t.Helper()
	_, err := s.SetStatus(t.Context(), domain.Transition{
		ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID,
		From: domain.Statuses, To: domain.StatusDeleted, At: c.CreatedAt.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("SetStatus(%s → deleted): %v", c.ID, err)
	}
}

// listOrdered returns the ids of cs in listing order: by created_at (to the
// second), then by id, both ascending or both descending.
func listOrdered(cs []*domain.Checkpoint, ascending bool) []string {
	sorted := slices.Clone(cs)
	slices.SortFunc(sorted, func(a, b *domain.Checkpoint) int {
		if c := a.CreatedAt.Truncate(time.Second).Compare(b.CreatedAt.Truncate(time.Second)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if !ascending {
		slices.Reverse(sorted)
	}
	return checkpointIDs(sorted)
}

func checkpointIDs(cs []*domain.Checkpoint) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// listAllPages follows markers from the first page to the last and returns
// every checkpoint listed. It fails the test when a page breaks the paging
// rules: larger than the limit, not full although another page follows, or
// empty after a page that promised more, or its NextMarker is not its last
// id.
func listAllPages(t *testing.T, s *store.Store, q domain.CheckpointQuery) []*domain.Checkpoint {
	t.Helper()
	limit := domain.ClampLimit(q.Limit)
	var out []*domain.Checkpoint
	for pages := 0; ; pages++ {
		if pages > 5000 {
			t.Fatalf("listing %+v: more than 5000 pages, markers do not advance", q)
		}
		page, err := s.ListCheckpoints(t.Context(), q)
		if err != nil {
			t.Fatalf("ListCheckpoints(%+v) page %d: %v", q, pages+1, err)
		}
		n := len(page.Items)
		if n > limit {
			t.Fatalf("page %d has %d checkpoints, limit %d", pages+1, n, limit)
		}
		if pages > 0 && n == 0 {
			t.Fatalf("page %d is empty although page %d said more follow", pages+1, pages)
		}
		if page.More && n != limit {
			t.Fatalf("page %d has %d checkpoints and More, want a full page of %d", pages+1, n, limit)
		}
		out = append(out, page.Items...)
		if !page.More {
			return out
		}
		if page.NextMarker != page.Items[n-1].ID {
			t.Fatalf("page %d: NextMarker %q, want its last id %s", pages+1, page.NextMarker, page.Items[n-1].ID)
		}
		q.Marker = page.NextMarker
	}
}

// sameIDs reports the first difference between two id sequences.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s: %s listed %d times", what, id, n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d ids, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: position %d is %s, want %s", what, i, got[i], want[i])
		}
	}
}

func checkpointEqual(t *testing.T, what string, got, want *domain.Checkpoint) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: CreatedAt = %v, want %v (UTC)", what, got.CreatedAt, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s: UpdatedAt = %v, want %v", what, got.UpdatedAt, want.UpdatedAt)
	}
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, dump(g), dump(w))
	}
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// rawItem reads an item straight from DynamoDB, bypassing the store.
func rawItem(t *testing.T, table, id, projectID string) map[string]types.AttributeValue {
	t.Helper()
	res, err := testenv.DynamoDB(t).GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"id":         &types.AttributeValueMemberS{Value: id},
			"project_id": &types.AttributeValueMemberS{Value: projectID},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", id, err)
	}
	if res.Item == nil {
		t.Fatalf("GetItem %s: no item", id)
	}
	return res.Item
}

// store.API has no Scan method, so the store cannot scan a table at all:
// the compiler checks that (counting.API, which every cost test wraps the
// client in, implements no more than store.API), and TestAPIHasNoScan keeps
// it so.
func TestAPIHasNoScan(t *testing.T) {
	t.Parallel()
	api := reflect.TypeFor[store.API]()
	for _, name := range []string{"Scan", "ParallelScan", "ExecuteStatement", "BatchExecuteStatement"} {
		if _, ok := api.MethodByName(name); ok {
			t.Errorf("store.API has %s: a listing could read the whole table", name)
		}
	}
}

// The index and TTL names the store uses must exist on the tables
// template.yaml creates.
func TestTablesMatchStore(t *testing.T) {
	t.Parallel()
	plans, checkpoints := testenv.Tables(t)
	tasks := testenv.TasksTable(t)
	db := testenv.DynamoDB(t)
	for _, tc := range []struct {
		table   string
		indexes []string
		ttl     string
	}{
		{plans, []string{store.IndexByProject, store.IndexByAll}, ""},
		{checkpoints, []string{store.IndexByProject, store.IndexByProvider, store.IndexByPlan, store.IndexByStatus, store.IndexByPlanAll, store.IndexByStatusAll, store.IndexByPending}, store.TTLAttribute},
		{tasks, []string{store.IndexByProject, store.IndexByAll, store.IndexTasksByCheckpoint, store.IndexTasksByCheckpointAll, store.IndexByStatus, store.IndexByStatusAll, store.IndexTasksByDue}, ""},
		{testenv.OperationLogsTable(t), []string{store.IndexByProject, store.IndexByAll, store.IndexByCheckpoint, store.IndexByStatus}, ""},
	} {
		desc, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(tc.table)})
		if err != nil {
			t.Fatalf("DescribeTable %s: %v", tc.table, err)
		}
		var got []string
		for _, gsi := range desc.Table.GlobalSecondaryIndexes {
			got = append(got, aws.ToString(gsi.IndexName))
		}
		for _, index := range tc.indexes {
			if !slices.Contains(got, index) {
				t.Errorf("%s has indexes %v, not the store's %s", tc.table, got, index)
			}
		}
		ttl, err := db.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tc.table)})
		if err != nil {
			t.Fatalf("DescribeTimeToLive %s: %v", tc.table, err)
		}
		var attr string
		if d := ttl.TimeToLiveDescription; d != nil && d.TimeToLiveStatus == types.TimeToLiveStatusEnabled {
			attr = aws.ToString(d.AttributeName)
		}
		if attr != tc.ttl {
			t.Errorf("%s TTL attribute = %q, want %q", tc.table, attr, tc.ttl)
		}
	}
}

func TestClampLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want int }{
		{-5, 1000}, {0, 1000}, {1, 1}, {7, 7}, {1000, 1000}, {1001, 1000}, {1 << 30, 1000},
	} {
		if got := domain.ClampLimit(tc.in); got != tc.want {
			t.Errorf("ClampLimit(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}
