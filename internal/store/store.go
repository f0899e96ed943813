// Package store keeps plans and checkpoints in DynamoDB.
//
// Both tables are keyed by (id, project_id): a read or write names the
// project, so no request can reach another project's item (tenant isolation
// lives in the keys). Listings read sparse global secondary indexes ordered by
// list_order = "<created_at>#<id>", so a page is one Query whose cost grows
// with the page, never with the table (a filtered page reads at most
// defaultMaxExamined items); nothing here scans.
package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"

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
	attrStatus        = "status"
	attrExpiresAt     = "expires_at"
	attrPending       = "pending"
	attrUpdatedAt     = "updated_at"
	attrProviderID    = "provider_id"
	attrPlanID        = "plan_id"
	attrResourceGraph = "resource_graph"
	attrChangeID      = "change_id"

	// IndexByProject lists one project's items (checkpoints: at one provider).
	IndexByProject = "by_project"
	// IndexByProvider lists every project's checkpoints at one provider.
	IndexByProvider = "by_provider"
	// IndexByAll lists every project's plans.
	IndexByAll = "by_all"
	// IndexByPending lists checkpoints in flight by when they entered it.
	IndexByPending = "by_pending"

	// TTLAttribute is the attribute DynamoDB's TTL expires items by.
	TTLAttribute = attrExpiresAt

	listAllPlans = "plan"
	filteredStep = 200

	// defaultMaxExamined caps the index items one filtered listing request
	// reads. DynamoDB bills, and takes time for, every item a Query reads,
	// also those its filter then drops: without a cap, a filter matching
	// nothing in a project of 10^5 checkpoints reads them all, hundreds of
	// Queries in one request, past the Lambda's timeout. 5,000 items is 5
	// Queries at the largest step (MaxPageLimit+1), 25 at the smallest
	// (filteredStep), well under a second; the cap is on items rather than
	// Queries because items are what cost, whatever the step. It is 5 pages
	// of the largest size, so a filter matching one item in 4 fills even
	// those; a sparser one gets short pages with a marker to go on.
	defaultMaxExamined = 5000
)

// API is the subset of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Store reads and writes plans and checkpoints.
type Store struct {
	db               API
	plansTable       string
	checkpointsTable string
	maxExamined      int // 0: defaultMaxExamined
}

// New returns a store over the two tables.
func New(db API, plansTable, checkpointsTable string) *Store {
	return &Store{db: db, plansTable: plansTable, checkpointsTable: checkpointsTable}
}

// SetMaxExamined sets how many index items a filtered listing reads in one
// request before it returns a short page (n <= 0: the default, 5,000). Call
// it before the store is used. The service keeps the default; tests lower it
// to reach the cap on tables small enough to fill quickly.
func (s *Store) SetMaxExamined(n int) { s.maxExamined = n }

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
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if n := ItemSize(item); n > domain.MaxItemBytes {
		return fmt.Errorf("put %s %s: %d bytes: %w", what, id, n, domain.ErrTooLarge)
	}
	err = tooLarge(s.putNew(ctx, table, item))
	if err != nil && !errors.Is(err, domain.ErrExists) {
		return fmt.Errorf("put %s %s: %w", what, id, err)
	}
	return err
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
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrID))).Build()
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
	if old, failed := conditionFailed(err); failed {
		if reflect.DeepEqual(old, item) {
			return nil
		}
		return domain.ErrExists
	}
	return err
}

// query runs one listing: Queries until it has want matching items or the
// index is exhausted. Without a filter that is a single Query reading at
// most want items, unless a page passes DynamoDB's 1 MB response limit.
// With a filter it also stops once it has read the store's maxExamined
// items: then lastRead is the id of the last item read (matching or not),
// after which the listing goes on, and items are fewer than want.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, want int, filtered bool) (items []map[string]types.AttributeValue, lastRead string, err error) {
	budget := s.maxExamined
	if budget <= 0 {
		budget = defaultMaxExamined
	}
	examined := 0
	for {
		if filtered {
			// A filter may drop most of what a Query reads: read in
			// larger steps so that a selective filter takes few round
			// trips. What is read past the page is dropped; the next page
			// starts again from the marker. Limit counts items read,
			// before the filter, so no Query passes the budget.
			in.Limit = aws.Int32(int32(min(max(want, filteredStep), domain.MaxPageLimit+1, budget-examined)))
		} else {
			in.Limit = aws.Int32(int32(want - len(items)))
		}
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("query %s: %w", aws.ToString(in.IndexName), err)
		}
		items = append(items, res.Items...)
		// ScannedCount is what the Query read before its filter.
		examined += max(int(res.ScannedCount), len(res.Items))
		if len(items) >= want || res.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
		if filtered && examined >= budget {
			// LastEvaluatedKey is the last item read, an item of this
			// index: the marker resolution places it like any other.
			id, _ := res.LastEvaluatedKey[attrID].(*types.AttributeValueMemberS)
			if id == nil {
				return nil, "", fmt.Errorf("query %s: last evaluated key without %s", aws.ToString(in.IndexName), attrID)
			}
			return items, id.Value, nil
		}
	}
	if len(items) > want {
		items = items[:want]
	}
	return items, "", nil
}

// listing is one page request on a listing index: the index's partition,
// the list_order range, the filters, and what a marker must be.
type listing struct {
	table, index        string
	hashAttr, hashValue string
	lo, hi              string // list_order bounds, inclusive; "" is open
	filters             []expression.ConditionBuilder
	page                domain.Listing
	// belongs, when set, reports whether a marker item (of the listed
	// project) is an item of this listing.
	belongs func(item map[string]types.AttributeValue) bool
}

// list returns one page of a listing, ordered by list_order: one index
// Query (plus one read to resolve a marker). Without a filter that Query
// reads at most Limit+1 items; with one it Queries on until the page is
// full, the index ends, or it has read the store's budget of items (see
// defaultMaxExamined).
func list[T any](ctx context.Context, s *Store, l listing, decode func(map[string]types.AttributeValue) (T, error), idOf func(T) string) (*domain.Page[T], error) {
	limit := domain.ClampLimit(l.page.Limit)
	keyCond := expression.Key(l.hashAttr).Equal(expression.Value(l.hashValue))
	order := expression.Key(attrListOrder)
	switch {
	case l.lo != "" && l.hi != "":
		if l.lo > l.hi {
			return &domain.Page[T]{}, nil
		}
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
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(l.index),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(l.page.Ascending),
	}
	if l.page.Marker != "" {
		start, past, err := s.marker(ctx, l)
		if err != nil {
			return nil, err
		}
		if past {
			return &domain.Page[T]{}, nil
		}
		in.ExclusiveStartKey = start
	}

	items, lastRead, err := s.query(ctx, in, limit+1, len(l.filters) > 0)
	if err != nil {
		return nil, err
	}
	page := &domain.Page[T]{More: len(items) > limit || lastRead != ""}
	if len(items) > limit {
		items = items[:limit]
	}
	for _, item := range items {
		v, err := decode(item)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, v)
	}
	switch {
	case lastRead != "":
		page.NextMarker = lastRead
	case page.More:
		page.NextMarker = idOf(page.Items[len(page.Items)-1])
	}
	return page, nil
}

// marker resolves a listing's marker to the index position after it. The
// marker must be an item of the listed project(s) that belongs to the
// listing; it may have left the index since (a deleted checkpoint): its key
// still places it. past reports that the marker lies beyond the listing's
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
		l.hashAttr:    &types.AttributeValueMemberS{Value: l.hashValue},
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
