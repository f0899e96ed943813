package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
)

// checkpointItem is a checkpoint as stored. list_project and list_provider
// exist only while the checkpoint is listable: a deleted checkpoint leaves
// both indexes (they are sparse) and expires by TTL.
type checkpointItem struct {
	ID             string  `dynamodbav:"id"`
	ProjectID      string  `dynamodbav:"project_id"`
	ProviderID     string  `dynamodbav:"provider_id"`
	PlanID         string  `dynamodbav:"plan_id"`
	Status         string  `dynamodbav:"status"`
	ProtectionPlan string  `dynamodbav:"protection_plan"` // JSON
	ResourceGraph  *string `dynamodbav:"resource_graph,omitempty"`
	ExtraInfo      string  `dynamodbav:"extra_info"` // JSON
	CreatedAt      string  `dynamodbav:"created_at"`
	UpdatedAt      string  `dynamodbav:"updated_at"`
	ExpiresAt      int64   `dynamodbav:"expires_at,omitempty"`
	ListProject    string  `dynamodbav:"list_project,omitempty"`
	ListProvider   string  `dynamodbav:"list_provider,omitempty"`
	ListOrder      string  `dynamodbav:"list_order"`
	// Pending is the status of a checkpoint in flight (protecting,
	// deleting), absent once it settles: the sweeper's sparse index.
	Pending string `dynamodbav:"pending,omitempty"`
}

// inFlight reports the statuses background work is under way in.
func inFlight(s domain.Status) bool {
	return s == domain.StatusProtecting || s == domain.StatusDeleting
}

// listOrder sorts by creation time (to the second, as shown), then by id.
func listOrder(created time.Time, id string) string {
	return domain.Timestamp(created) + "#" + id
}

func listProject(providerID, projectID string) string { return providerID + "#" + projectID }

func toCheckpointItem(c *domain.Checkpoint) (*checkpointItem, error) {
	plan, err := json.Marshal(c.Plan)
	if err != nil {
		return nil, err
	}
	it := &checkpointItem{
		ID:             c.ID,
		ProjectID:      c.ProjectID,
		ProviderID:     c.ProviderID,
		PlanID:         c.Plan.ID,
		Status:         string(c.Status),
		ProtectionPlan: string(plan),
		ResourceGraph:  c.ResourceGraph,
		ExtraInfo:      string(c.ExtraInfo),
		CreatedAt:      domain.Timestamp(c.CreatedAt),
		UpdatedAt:      domain.Timestamp(c.UpdatedAt),
		ExpiresAt:      c.ExpiresAt,
		ListOrder:      listOrder(c.CreatedAt, c.ID),
	}
	if c.Status != domain.StatusDeleted {
		it.ListProject = listProject(c.ProviderID, c.ProjectID)
		it.ListProvider = c.ProviderID
	}
	if inFlight(c.Status) {
		it.Pending = string(c.Status)
	}
	return it, nil
}

func (it *checkpointItem) checkpoint() (*domain.Checkpoint, error) {
	c := &domain.Checkpoint{
		ID:            it.ID,
		ProjectID:     it.ProjectID,
		ProviderID:    it.ProviderID,
		Status:        domain.Status(it.Status),
		ResourceGraph: it.ResourceGraph,
		ExtraInfo:     json.RawMessage(it.ExtraInfo),
		ExpiresAt:     it.ExpiresAt,
	}
	if err := json.Unmarshal([]byte(it.ProtectionPlan), &c.Plan); err != nil {
		return nil, fmt.Errorf("checkpoint %s: protection_plan: %w", it.ID, err)
	}
	var err error
	if c.CreatedAt, err = time.Parse(time.RFC3339, it.CreatedAt); err != nil {
		return nil, fmt.Errorf("checkpoint %s: created_at: %w", it.ID, err)
	}
	if it.UpdatedAt != "" {
		if c.UpdatedAt, err = time.Parse(time.RFC3339, it.UpdatedAt); err != nil {
			return nil, fmt.Errorf("checkpoint %s: updated_at: %w", it.ID, err)
		}
	}
	return c, nil
}

// CheckpointFromItem decodes a checkpoint from a DynamoDB item, such as a
// stream record's image.
func CheckpointFromItem(item map[string]types.AttributeValue) (*domain.Checkpoint, error) {
	var it checkpointItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, err
	}
	return it.checkpoint()
}

// CreateCheckpoint writes a new checkpoint. Its id must be new.
func (s *Store) CreateCheckpoint(ctx context.Context, c *domain.Checkpoint) error {
	it, err := toCheckpointItem(c)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	err = s.putNew(ctx, s.checkpointsTable, item)
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("put checkpoint %s: %w", c.ID, err)
	}
	return err
}

// GetCheckpoint reads one checkpoint of a project: one strongly consistent
// GetItem.
func (s *Store) GetCheckpoint(ctx context.Context, projectID, id string) (*domain.Checkpoint, error) {
	var it checkpointItem
	if err := s.getItem(ctx, s.checkpointsTable, id, projectID, &it); err != nil {
		return nil, err
	}
	return it.checkpoint()
}

// Transition is a status change of one checkpoint.
type Transition struct {
	ProjectID  string
	ProviderID string
	ID         string
	From       []domain.Status // the change happens only from one of these
	To         domain.Status
	// ResourceGraph, when set, is written with the status.
	ResourceGraph *string
	// At is the time of the change; zero means now.
	At time.Time
	// Retention is how long a checkpoint that becomes deleted is kept
	// before DynamoDB's TTL expires it.
	Retention time.Duration
}

// DefaultRetention is how long a deleted checkpoint stays visible.
const DefaultRetention = 30 * 24 * time.Hour

// SetStatus changes a checkpoint's status with one conditional write on the
// status it leaves, so that of two racing changes exactly one wins. It
// returns the checkpoint as written, ErrNotFound when the checkpoint does not
// exist at this project and provider, or ErrConflict (with the checkpoint as
// it is) when its status is not one of t.From.
func (s *Store) SetStatus(ctx context.Context, t Transition) (*domain.Checkpoint, error) {
	at := t.At
	if at.IsZero() {
		at = time.Now()
	}
	from := make([]expression.OperandBuilder, 0, len(t.From))
	for _, st := range t.From {
		from = append(from, expression.Value(string(st)))
	}
	if len(from) == 0 {
		return nil, errors.New("transition without a from status")
	}
	status := expression.Name(attrStatus)
	var inFrom expression.ConditionBuilder
	if len(from) == 1 {
		inFrom = status.Equal(from[0])
	} else {
		inFrom = status.In(from[0], from[1:]...)
	}
	cond := expression.AttributeExists(expression.Name(attrID)).
		And(expression.Name(attrProviderID).Equal(expression.Value(t.ProviderID))).
		And(inFrom)

	// change marks this write, so that a retry of it by the SDK (after a
	// lost response) recognises its own change instead of a conflict.
	change := domain.NewID()
	update := expression.Set(status, expression.Value(string(t.To))).
		Set(expression.Name(attrUpdatedAt), expression.Value(domain.Timestamp(at))).
		Set(expression.Name(attrChangeID), expression.Value(change))
	if t.ResourceGraph != nil {
		update = update.Set(expression.Name(attrResourceGraph), expression.Value(*t.ResourceGraph))
	}
	if inFlight(t.To) {
		update = update.Set(expression.Name(attrPending), expression.Value(string(t.To)))
	} else {
		update = update.Remove(expression.Name(attrPending))
	}
	if t.To == domain.StatusDeleted {
		retention := t.Retention
		if retention <= 0 {
			retention = DefaultRetention
		}
		update = update.Set(expression.Name(attrExpiresAt), expression.Value(at.Add(retention).Unix())).
			Remove(expression.Name(attrListProject)).
			Remove(expression.Name(attrListProvider))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.checkpointsTable),
		Key:                                 key(t.ID, t.ProjectID),
		ConditionExpression:                 expr.Condition(),
		UpdateExpression:                    expr.Update(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if old == nil {
			return nil, ErrNotFound
		}
		c, derr := CheckpointFromItem(old)
		if derr != nil {
			return nil, derr
		}
		if id, ok := old[attrChangeID].(*types.AttributeValueMemberS); ok && id.Value == change {
			return c, nil
		}
		if c.ProviderID != t.ProviderID {
			return nil, ErrNotFound
		}
		return c, ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("update checkpoint %s: %w", t.ID, err)
	}
	return CheckpointFromItem(res.Attributes)
}

// CheckpointQuery selects a page of checkpoints.
type CheckpointQuery struct {
	ProviderID string
	// ProjectID is the project listed; empty lists every project (admin).
	ProjectID string
	PlanID    string        // optional filter
	Status    domain.Status // optional filter
	// Since and Until bound created_at, both inclusive; zero means open.
	Since, Until time.Time
	Ascending    bool
	Limit        int    // page size, 1..1000
	Marker       string // id of the last checkpoint of the previous page
}

// CheckpointPage is one page of a listing.
type CheckpointPage struct {
	Checkpoints []*domain.Checkpoint
	More        bool // another page follows
	// NextMarker, set when More is, is the marker of the next page: the
	// id of the last checkpoint of this one, or, when a filtered listing
	// stopped at its read budget (a short, maybe empty, page), of the last
	// checkpoint it read, which the filter may have left out.
	NextMarker string
}

// ListCheckpoints returns one page, ordered by created_at then id. It reads
// one index Query (plus one GetItem to resolve a marker); without a filter
// that Query reads at most Limit+1 items. With a filter it Queries on until
// the page is full, the index ends, or it has read the store's budget of
// items (see defaultMaxExamined).
func (s *Store) ListCheckpoints(ctx context.Context, q CheckpointQuery) (*CheckpointPage, error) {
	limit := ClampLimit(q.Limit)

	index, hashAttr, hashValue := IndexByProject, attrListProject, listProject(q.ProviderID, q.ProjectID)
	if q.ProjectID == "" {
		index, hashAttr, hashValue = IndexByProvider, attrListProvider, q.ProviderID
	}
	keyCond := expression.Key(hashAttr).Equal(expression.Value(hashValue))
	lo, hi := orderBounds(q.Since, q.Until)
	switch {
	case lo != "" && hi != "":
		if lo > hi {
			return &CheckpointPage{}, nil
		}
		keyCond = keyCond.And(expression.Key(attrListOrder).Between(expression.Value(lo), expression.Value(hi)))
	case lo != "":
		keyCond = keyCond.And(expression.Key(attrListOrder).GreaterThanEqual(expression.Value(lo)))
	case hi != "":
		keyCond = keyCond.And(expression.Key(attrListOrder).LessThanEqual(expression.Value(hi)))
	}
	builder := expression.NewBuilder().WithKeyCondition(keyCond)

	var filters []expression.ConditionBuilder
	if q.PlanID != "" {
		filters = append(filters, expression.Name(attrPlanID).Equal(expression.Value(q.PlanID)))
	}
	if q.Status != "" {
		filters = append(filters, expression.Name(attrStatus).Equal(expression.Value(string(q.Status))))
	}
	if len(filters) > 0 {
		f := filters[0]
		for _, g := range filters[1:] {
			f = f.And(g)
		}
		builder = builder.WithFilter(f)
	}
	expr, err := builder.Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.checkpointsTable),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(q.Ascending),
	}

	if q.Marker != "" {
		start, past, err := s.checkpointMarker(ctx, q, hashAttr, hashValue, lo, hi)
		if err != nil {
			return nil, err
		}
		if past {
			return &CheckpointPage{}, nil
		}
		in.ExclusiveStartKey = start
	}

	items, lastRead, err := s.query(ctx, in, limit+1, len(filters) > 0)
	if err != nil {
		return nil, err
	}
	page := &CheckpointPage{More: len(items) > limit || lastRead != ""}
	if len(items) > limit {
		items = items[:limit]
	}
	for _, item := range items {
		c, err := CheckpointFromItem(item)
		if err != nil {
			return nil, err
		}
		page.Checkpoints = append(page.Checkpoints, c)
	}
	switch {
	case lastRead != "":
		page.NextMarker = lastRead
	case page.More:
		page.NextMarker = page.Checkpoints[len(page.Checkpoints)-1].ID
	}
	return page, nil
}

// checkpointMarker resolves a marker to the index position after it. The
// marker must be a checkpoint of the listed project(s) at this provider; it
// may have been deleted since (its key still places it). past reports that
// the marker lies beyond the listing's date range, so nothing follows it.
func (s *Store) checkpointMarker(ctx context.Context, q CheckpointQuery, hashAttr, hashValue, lo, hi string) (start map[string]types.AttributeValue, past bool, err error) {
	var it checkpointItem
	if q.ProjectID != "" {
		err = s.getItem(ctx, s.checkpointsTable, q.Marker, q.ProjectID, &it)
	} else {
		err = s.findByID(ctx, s.checkpointsTable, q.Marker, &it)
	}
	if errors.Is(err, ErrNotFound) || (err == nil && it.ProviderID != q.ProviderID) {
		return nil, false, ErrBadMarker
	}
	if err != nil {
		return nil, false, err
	}
	order := it.ListOrder
	// A listing walks from its near end of the date range to its far end:
	// a marker before the near end was never on one of its pages, and past
	// the far end nothing follows it.
	nearMissed := (q.Ascending && lo != "" && order < lo) || (!q.Ascending && hi != "" && order > hi)
	farPassed := (q.Ascending && hi != "" && order > hi) || (!q.Ascending && lo != "" && order < lo)
	switch {
	case nearMissed:
		return nil, false, ErrBadMarker
	case farPassed:
		return nil, true, nil
	}
	return map[string]types.AttributeValue{
		attrID:        &types.AttributeValueMemberS{Value: it.ID},
		attrProjectID: &types.AttributeValueMemberS{Value: it.ProjectID},
		hashAttr:      &types.AttributeValueMemberS{Value: hashValue},
		attrListOrder: &types.AttributeValueMemberS{Value: order},
	}, false, nil
}

// orderBounds turns an inclusive created_at range into list_order bounds.
// list_order holds whole seconds, so a bound with a fraction rounds inward.
func orderBounds(since, until time.Time) (lo, hi string) {
	if !since.IsZero() {
		s := since.UTC()
		if t := s.Truncate(time.Second); !t.Equal(s) {
			s = t.Add(time.Second)
		}
		lo = domain.Timestamp(s) + "#"
	}
	if !until.IsZero() {
		// "~" sorts after every id character.
		hi = domain.Timestamp(until.UTC().Truncate(time.Second)) + "#~"
	}
	return lo, hi
}
