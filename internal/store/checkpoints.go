package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// listOrder sorts by creation time (to the second, as shown), then by id.
func listOrder(created time.Time, id string) string {
	return domain.Timestamp(created) + "#" + id
}

func listProject(providerID, projectID string) string { return providerID + "#" + projectID }

func toCheckpointItem(c *domain.Checkpoint) (*checkpointItem, error) {
	plan, err := domain.MarshalJSON(c.Plan)
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
	if c.Status.Listed() {
		it.ListProject = listProject(c.ProviderID, c.ProjectID)
		it.ListProvider = c.ProviderID
	}
	if c.Status.InFlight() {
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
	return decode(item, (*checkpointItem).checkpoint)
}

// CreateCheckpoint writes a new checkpoint. Its id must be new.
func (s *Store) CreateCheckpoint(ctx context.Context, c *domain.Checkpoint) error {
	it, err := toCheckpointItem(c)
	if err != nil {
		return err
	}
	return s.create(ctx, s.checkpointsTable, "checkpoint", c.ID, it)
}

// GetCheckpoint reads one checkpoint of a project: one strongly consistent
// GetItem.
func (s *Store) GetCheckpoint(ctx context.Context, projectID, id string) (*domain.Checkpoint, error) {
	return get(ctx, s, s.checkpointsTable, id, projectID, (*checkpointItem).checkpoint)
}

// SetStatus changes a checkpoint's status with one conditional write on the
// status it leaves, so that of two racing changes exactly one wins. It
// returns the checkpoint as written, ErrNotFound when the checkpoint does not
// exist at this project and provider, or ErrConflict (with the checkpoint as
// it is) when its status is not one of t.From.
func (s *Store) SetStatus(ctx context.Context, t domain.Transition) (*domain.Checkpoint, error) {
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
	if t.To.InFlight() {
		update = update.Set(expression.Name(attrPending), expression.Value(string(t.To)))
	} else {
		update = update.Remove(expression.Name(attrPending))
	}
	if t.To.Expires() {
		retention := t.Retention
		if retention <= 0 {
			retention = domain.DefaultRetention
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
			return nil, domain.ErrNotFound
		}
		c, derr := CheckpointFromItem(old)
		if derr != nil {
			return nil, derr
		}
		if id, ok := old[attrChangeID].(*types.AttributeValueMemberS); ok && id.Value == change {
			return c, nil
		}
		if c.ProviderID != t.ProviderID {
			return nil, domain.ErrNotFound
		}
		return c, domain.ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("update checkpoint %s: %w", t.ID, tooLarge(err))
	}
	return CheckpointFromItem(res.Attributes)
}

// ListCheckpoints returns one page of checkpoints at a provider, of one
// project (index by_project) or of every project (by_provider), ordered by
// created_at then id; see list for its cost.
func (s *Store) ListCheckpoints(ctx context.Context, q domain.CheckpointQuery) (*domain.Page[*domain.Checkpoint], error) {
	l := listing{
		table: s.checkpointsTable, page: q.Listing,
		index: IndexByProject, hashAttr: attrListProject, hashValue: listProject(q.ProviderID, q.ProjectID),
		belongs: func(item map[string]types.AttributeValue) bool {
			return stringAttr(item, attrProviderID) == q.ProviderID
		},
	}
	if q.ProjectID == "" {
		l.index, l.hashAttr, l.hashValue = IndexByProvider, attrListProvider, q.ProviderID
	}
	l.lo, l.hi = orderBounds(q.Since, q.Until)
	if q.PlanID != "" {
		l.filters = append(l.filters, expression.Name(attrPlanID).Equal(expression.Value(q.PlanID)))
	}
	if q.Status != "" {
		l.filters = append(l.filters, expression.Name(attrStatus).Equal(expression.Value(string(q.Status))))
	}
	return list(ctx, s, l, CheckpointFromItem, func(c *domain.Checkpoint) string { return c.ID })
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
