// Package store keeps plans and checkpoints in DynamoDB.
//
// Both tables are keyed by (id, project_id): a read or write names the
// project, so no request can reach another project's item (tenant isolation
// lives in the keys). Listings read sparse global secondary indexes ordered by
// list_order = "<created_at>#<id>", so a page is one Query whose cost grows
// with the page, never with the table: every checkpoint filter (plan,
// status, dates) is part of an index key. No index partition key takes the
// same value on every create: the listings of every project and the
// sweeper's index are sharded (Shards partitions, by a hash of the id) and
// merged on read. Nothing here scans.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"strconv"
	"sync"

	"karbor/internal/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names; they must match template.yaml (a test checks).
const (
	attrID            = "id"
	attrProjectID     = "project_id"
	attrListOrder     = "list_order"
	attrListProject   = "list_project"
	attrListProvider  = "list_provider"
	attrListAll       = "list_all"
	attrListPlan      = "list_plan"
	attrListStatus    = "list_status"
	attrListAllPlan   = "list_all_plan"
	attrListAllStatus = "list_all_status"
	attrStatus        = "status"
	attrExpiresAt     = "expires_at"
	attrPending       = "pending"
	attrUpdatedAt     = "updated_at"
	attrProviderID    = "provider_id"
	attrPlanID        = "plan_id"
	attrResourceGraph = "resource_graph"
	attrChangeID      = "change_id"
	attrDeletingBy    = "deleting_by"

	// IndexByProject lists one project's items (checkpoints: at one
	// provider; key provider#project).
	IndexByProject = "by_project"
	// IndexByProvider lists every project's checkpoints at one provider
	// (key provider#shard).
	IndexByProvider = "by_provider"
	// IndexByPlan lists one project's checkpoints of one plan at one
	// provider (key provider#project#plan).
	IndexByPlan = "by_plan"
	// IndexByStatus lists one project's checkpoints in one status at one
	// provider (key provider#project#status).
	IndexByStatus = "by_status"
	// IndexByPlanAll lists every checkpoint of one plan at one provider,
	// whatever its project (admin; key provider#plan).
	IndexByPlanAll = "by_plan_all"
	// IndexByStatusAll lists every project's checkpoints in one status at
	// one provider (admin; key provider#status#shard).
	IndexByStatusAll = "by_status_all"
	// IndexByAll lists every project's plans (key plan#shard).
	IndexByAll = "by_all"
	// IndexByPending lists checkpoints in flight by when they entered it
	// (key status#shard).
	IndexByPending = "by_pending"

	// TTLAttribute is the attribute DynamoDB's TTL expires items by.
	TTLAttribute = attrExpiresAt

	listAllPlans = "plan"
	filteredStep = 200

	// Shards is how many partitions a sharded index key is spread over:
	// the all-projects listings (by_provider, by_status_all; plans'
	// by_all) and the sweeper's by_pending. A create writes one of them,
	// chosen by a hash of its id, so creates at thousands per second
	// spread over Shards partitions; a listing Queries all of them.
	Shards = 16
)

// API is the subset of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	// TransactWriteItems writes a task with its checkpoint's mark
	// (tasks.go).
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Store reads and writes plans and checkpoints.
type Store struct {
	db               API
	plansTable       string
	checkpointsTable string
	tasksTable       string
	oplogsTable      string // WithOperationLogs
	schedulesTable   string // WithSchedules
	quotasTable      string // WithQuotas
}

// New returns a store over the two tables.
func New(db API, plansTable, checkpointsTable string) *Store {
	return &Store{db: db, plansTable: plansTable, checkpointsTable: checkpointsTable}
}

// WithTasks sets the table of restores and verifications (tasks.go) and
// returns s; a store without one fails every task call.
func (s *Store) WithTasks(tasksTable string) *Store {
	s.tasksTable = tasksTable
	return s
}

// ShardOf is the shard of an item in the sharded index keys: a hash (FNV-1a)
// of its id, 0..Shards-1.
func ShardOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

// sharded is prefix#<shard> for the item's shard.
func sharded(prefix, id string) string { return prefix + "#" + strconv.Itoa(ShardOf(id)) }

// allShards is prefix#0 .. prefix#<Shards-1>: every partition of a sharded
// key.
func allShards(prefix string) []string {
	out := make([]string, Shards)
	for i := range out {
		out[i] = prefix + "#" + strconv.Itoa(i)
	}
	return out
}

func key(id, projectID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrID:        &types.AttributeValueMemberS{Value: id},
		attrProjectID: &types.AttributeValueMemberS{Value: projectID},
	}
}

// get reads one item of a project (one strongly consistent GetItem),
// decodes it as I and converts it with conv.
func get[I, T any](ctx context.Context, s *Store, table, id, projectID string, conv func(*I) (T, error)) (T, error) {
	item, err := s.getRaw(ctx, table, id, projectID)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(item, conv)
}

// decode reads an item as its stored form I and converts it with conv.
func decode[I, T any](item map[string]types.AttributeValue, conv func(*I) (T, error)) (T, error) {
	var it I
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", stringAttr(item, attrID), err)
	}
	return conv(&it)
}

// create writes a new item, v encoded; its key must be free (ErrExists).
func (s *Store) create(ctx context.Context, table, what, id string, v any) error {
	item, err := encodeNew(what, id, v)
	if err != nil {
		return err
	}
	err = tooLarge(s.putNew(ctx, table, item))
	if err != nil && !errors.Is(err, domain.ErrExists) {
		return fmt.Errorf("put %s %s: %w", what, id, err)
	}
	return err
}

// encodeNew encodes a new item, within DynamoDB's item size.
func encodeNew(what, id string, v any) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	if n := ItemSize(item); n > domain.MaxItemBytes {
		return nil, fmt.Errorf("put %s %s: %d bytes: %w", what, id, n, domain.ErrTooLarge)
	}
	return item, nil
}

// getRaw reads one item of a project: one strongly consistent GetItem.
func (s *Store) getRaw(ctx context.Context, table, id, projectID string) (map[string]types.AttributeValue, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            key(id, projectID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", table, id, err)
	}
	if res.Item == nil {
		return nil, domain.ErrNotFound
	}
	return res.Item, nil
}

// findRaw looks an item up by id alone, in whatever project it is: one
// Query on the table's hash key. Only admin listings across projects need it,
// to resolve a marker.
func (s *Store) findRaw(ctx context.Context, table, id string) (map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key(attrID).Equal(expression.Value(id))).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(1),
	})
	if err != nil {
		return nil, fmt.Errorf("find %s %s: %w", table, id, err)
	}
	if len(res.Items) == 0 {
		return nil, domain.ErrNotFound
	}
	return res.Items[0], nil
}

// conditionFailed reports whether err is a failed condition, and returns the
// item as it was (nil when there was none).
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// putNew writes an item whose key must be free. The SDK retries a write
// whose response was lost (a connection reset while reading it, see
// aws/retry.RetryableConnectionError), so the condition can fail on the very
// item an earlier attempt of this call wrote: that is success, not ErrExists.
func (s *Store) putNew(ctx context.Context, table string, item map[string]types.AttributeValue) error {
	cond, err := newItemCondition()
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(table),
		Item:                                item,
		ConditionExpression:                 cond.Condition(),
		ExpressionAttributeNames:            cond.Names(),
		ExpressionAttributeValues:           cond.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return putNewOutcome(err, item)
}

func newItemCondition() (expression.Expression, error) {
	return expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrID))).Build()
}

// putNewOutcome is the outcome of a put of item whose key must be free:
// its condition failing on this very item is success (see putNew).
func putNewOutcome(err error, item map[string]types.AttributeValue) error {
	if old, failed := conditionFailed(err); failed {
		if reflect.DeepEqual(old, item) {
			return nil
		}
		return domain.ErrExists
	}
	return err
}

// cursor reads one shard of a listing: Queries of one index partition, in
// list order, each starting where the last ended.
type cursor struct {
	in   *dynamodb.QueryInput
	buf  []map[string]types.AttributeValue
	read int  // items the Queries read so far (before any filter)
	done bool // the partition has no more items in range
}

// fetch runs the cursor's next Query. Without a filter the Queries of one
// cursor read want items in all (fewer when DynamoDB's 1 MB response limit
// cuts a Query short, and the next one reads the rest); with a filter each
// reads max(want, filteredStep) items, since the filter may drop most.
func (s *Store) fetch(ctx context.Context, c *cursor, want int, filtered bool) error {
	n := want - c.read
	if filtered {
		n = max(want, filteredStep)
	}
	if n <= 0 {
		c.done = true
		return nil
	}
	c.in.Limit = aws.Int32(int32(n))
	res, err := s.db.Query(ctx, c.in)
	if err != nil {
		return fmt.Errorf("query %s: %w", aws.ToString(c.in.IndexName), err)
	}
	c.buf = append(c.buf, res.Items...)
	c.read += max(int(res.ScannedCount), len(res.Items))
	c.in.ExclusiveStartKey = res.LastEvaluatedKey
	c.done = res.LastEvaluatedKey == nil
	return nil
}

// listing is one page request on a listing index: the index's partition
// (or, for a sharded key, each of its shard partitions), the list_order
// range, the filters, and what a marker must be.
type listing struct {
	table, index string
	hashAttr     string
	// hashValues are the partitions listed: one, or every shard of a
	// sharded key, whose Queries are merged in list order.
	hashValues []string
	lo, hi     string // list_order bounds, inclusive; "" is open
	filters    []expression.ConditionBuilder
	page       domain.Listing
	// belongs, when set, reports whether a marker item (of the listed
	// project) is an item of this listing.
	belongs func(item map[string]types.AttributeValue) bool
	// keep, when set, is a filter DynamoDB cannot apply (a regular
	// expression): the items read that it refuses are skipped, and the
	// listing reads on as with filters.
	keep func(item map[string]types.AttributeValue) bool
}

// list returns one page of a listing, ordered by list_order: one Query per
// partition listed (plus one read to resolve a marker), each reading at
// most Limit+1 items when the listing has no filter. A sharded listing
// Queries its N shards at once and merges them: N Queries, at most
// N*(Limit+1) items read, for a page of Limit. With a filter (plan
// listings' name, description, status; a checkpoint listing by plan and
// status) the Queries go on until the page is full or the partition ends:
// the read is bounded by the partition, not by the page. The page also
// ends before an item the listing's Fits refuses (its byte budget).
func list[T any](ctx context.Context, s *Store, l listing, decode func(map[string]types.AttributeValue) (T, error), idOf func(T) string) (*domain.Page[T], error) {
	limit := domain.ClampLimit(l.page.Limit)
	if l.lo != "" && l.hi != "" && l.lo > l.hi {
		return &domain.Page[T]{}, nil
	}
	var start map[string]types.AttributeValue
	if l.page.Marker != "" {
		var past bool
		var err error
		start, past, err = s.marker(ctx, l)
		if err != nil {
			return nil, err
		}
		if past {
			return &domain.Page[T]{}, nil
		}
	}
	cursors := make([]*cursor, len(l.hashValues))
	for i, hv := range l.hashValues {
		in, err := l.queryInput(hv)
		if err != nil {
			return nil, err
		}
		if start != nil {
			in.ExclusiveStartKey = maps.Clone(start)
			in.ExclusiveStartKey[l.hashAttr] = &types.AttributeValueMemberS{Value: hv}
		}
		cursors[i] = &cursor{in: in}
	}
	filtered := len(l.filters) > 0 || l.keep != nil
	if err := s.fetchAll(ctx, cursors, limit+1, filtered); err != nil {
		return nil, err
	}

	page := &domain.Page[T]{}
	for {
		// Every cursor needs its next item (or to be done) before the
		// merge can tell which comes first.
		var next *cursor
		for _, c := range cursors {
			for len(c.buf) == 0 && !c.done {
				if err := s.fetch(ctx, c, limit+1, filtered); err != nil {
					return nil, err
				}
			}
			if len(c.buf) == 0 {
				continue
			}
			if next == nil || before(stringAttr(c.buf[0], attrListOrder), stringAttr(next.buf[0], attrListOrder), l.page.Ascending) {
				next = c
			}
		}
		if next == nil {
			break
		}
		if l.keep != nil && !l.keep(next.buf[0]) {
			next.buf = next.buf[1:]
			continue
		}
		if len(page.Items) == limit {
			page.More = true
			break
		}
		v, err := decode(next.buf[0])
		if err != nil {
			return nil, err
		}
		if l.page.Fits != nil && !l.page.Fits(v) {
			page.More = true
			break
		}
		next.buf = next.buf[1:]
		page.Items = append(page.Items, v)
	}
	if page.More {
		if len(page.Items) == 0 {
			return nil, errors.New("list: the first item of a page does not fit it")
		}
		page.NextMarker = idOf(page.Items[len(page.Items)-1])
	}
	return page, nil
}

// before reports whether list order a comes before b in the listing's
// direction.
func before(a, b string, ascending bool) bool {
	if ascending {
		return a < b
	}
	return a > b
}

// fetchAll runs the first Query of every cursor, at once when there are
// several (the shards of a sharded listing).
func (s *Store) fetchAll(ctx context.Context, cursors []*cursor, want int, filtered bool) error {
	if len(cursors) == 1 {
		return s.fetch(ctx, cursors[0], want, filtered)
	}
	errs := make([]error, len(cursors))
	var wg sync.WaitGroup
	for i, c := range cursors {
		wg.Go(func() { errs[i] = s.fetch(ctx, c, want, filtered) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// queryInput is the Query of one partition of the listing, in its order
// and list_order range.
func (l listing) queryInput(hashValue string) (*dynamodb.QueryInput, error) {
	keyCond := expression.Key(l.hashAttr).Equal(expression.Value(hashValue))
	order := expression.Key(attrListOrder)
	switch {
	case l.lo != "" && l.hi != "":
		keyCond = keyCond.And(order.Between(expression.Value(l.lo), expression.Value(l.hi)))
	case l.lo != "":
		keyCond = keyCond.And(order.GreaterThanEqual(expression.Value(l.lo)))
	case l.hi != "":
		keyCond = keyCond.And(order.LessThanEqual(expression.Value(l.hi)))
	}
	builder := expression.NewBuilder().WithKeyCondition(keyCond)
	if len(l.filters) > 0 {
		f := l.filters[0]
		for _, g := range l.filters[1:] {
			f = f.And(g)
		}
		builder = builder.WithFilter(f)
	}
	expr, err := builder.Build()
	if err != nil {
		return nil, err
	}
	return &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(l.index),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(l.page.Ascending),
	}, nil
}

// marker resolves a listing's marker to the index position after it. The
// marker must be an item of the listed project(s) that belongs to the
// listing; it may have left the index since (a deleted checkpoint): its key
// still places it. The start key it returns has no partition: list sets
// each Query's own, so that in a sharded listing every shard starts at the
// marker's place in list order, whichever shard the marker is in. past reports that the marker lies beyond the listing's
// range, so nothing follows it.
func (s *Store) marker(ctx context.Context, l listing) (start map[string]types.AttributeValue, past bool, err error) {
	var item map[string]types.AttributeValue
	if l.page.ProjectID != "" {
		item, err = s.getRaw(ctx, l.table, l.page.Marker, l.page.ProjectID)
	} else {
		item, err = s.findRaw(ctx, l.table, l.page.Marker)
	}
	if errors.Is(err, domain.ErrNotFound) || (err == nil && l.belongs != nil && !l.belongs(item)) {
		return nil, false, domain.ErrBadMarker
	}
	if err != nil {
		return nil, false, err
	}
	order := stringAttr(item, attrListOrder)
	// A listing walks from its near end of the range to its far end: a
	// marker before the near end was never on one of its pages, and past
	// the far end nothing follows it.
	asc := l.page.Ascending
	nearMissed := (asc && l.lo != "" && order < l.lo) || (!asc && l.hi != "" && order > l.hi)
	farPassed := (asc && l.hi != "" && order > l.hi) || (!asc && l.lo != "" && order < l.lo)
	switch {
	case nearMissed:
		return nil, false, domain.ErrBadMarker
	case farPassed:
		return nil, true, nil
	}
	return map[string]types.AttributeValue{
		attrID:        item[attrID],
		attrProjectID: item[attrProjectID],
		attrListOrder: &types.AttributeValueMemberS{Value: order},
	}, false, nil
}

// stringAttr is an item's string attribute, "" when absent.
func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

var _ domain.Store = (*Store)(nil)

// conditionalUpdate is the UpdateItem of expr's update under expr's
// condition on the item at k: the item as written when it succeeds, the item
// as it was when the condition fails (conditionFailed reads it).
func conditionalUpdate(table string, k map[string]types.AttributeValue, expr expression.Expression) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                           aws.String(table),
		Key:                                 k,
		ConditionExpression:                 expr.Condition(),
		UpdateExpression:                    expr.Update(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}
