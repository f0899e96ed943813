package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
)

// checkpointItem is a checkpoint as stored. The list_* attributes are the
// partition keys of the listing indexes (sorted by list_order); they exist
// only while the checkpoint is listable: a deleted checkpoint leaves every
// listing index (they are sparse) and expires by TTL. The status keys
// follow the status on every change.
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
	ListProject    string  `dynamodbav:"list_project,omitempty"`    // provider#project: by_project
	ListProvider   string  `dynamodbav:"list_provider,omitempty"`   // provider#shard: by_provider
	ListPlan       string  `dynamodbav:"list_plan,omitempty"`       // provider#project#plan: by_plan
	ListStatus     string  `dynamodbav:"list_status,omitempty"`     // provider#project#status: by_status
	ListAllPlan    string  `dynamodbav:"list_all_plan,omitempty"`   // provider#plan: by_plan_all
	ListAllStatus  string  `dynamodbav:"list_all_status,omitempty"` // provider#status#shard: by_status_all
	ListOrder      string  `dynamodbav:"list_order"`
	// Pending is status#shard of a checkpoint in flight (protecting,
	// deleting), absent once it settles: the sweeper's sparse index.
	Pending string `dynamodbav:"pending,omitempty"`
	// DeletingBy: the scheduled operation whose retention moved it into
	// deleting last (set and cleared by SetStatus only).
	DeletingBy string `dynamodbav:"deleting_by,omitempty"`
	// Busy: the ids of the tasks marking it (tasks.go; read only here).
	Busy []string `dynamodbav:"busy,stringset,omitempty"`
}

// listOrder sorts by creation time (to the second, as shown), then by id.
func listOrder(created time.Time, id string) string {
	return domain.Timestamp(created) + "#" + id
}

func listProject(providerID, projectID string) string { return providerID + "#" + projectID }

func listPlan(providerID, projectID, planID string) string {
	return providerID + "#" + projectID + "#" + planID
}

func listStatus(providerID, projectID string, st domain.Status) string {
	return providerID + "#" + projectID + "#" + string(st)
}

func listAllPlan(providerID, planID string) string { return providerID + "#" + planID }

// listAllStatus is the unsharded prefix of the by_status_all key.
func listAllStatus(providerID string, st domain.Status) string {
	return providerID + "#" + string(st)
}

// pending is the by_pending key of a checkpoint in flight.
func pending(st domain.Status, id string) string { return sharded(string(st), id) }

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
		it.ListProvider = sharded(c.ProviderID, c.ID)
		it.ListPlan = listPlan(c.ProviderID, c.ProjectID, c.Plan.ID)
		it.ListStatus = listStatus(c.ProviderID, c.ProjectID, c.Status)
		it.ListAllPlan = listAllPlan(c.ProviderID, c.Plan.ID)
		it.ListAllStatus = sharded(listAllStatus(c.ProviderID, c.Status), c.ID)
	}
	if c.Status.InFlight() {
		it.Pending = pending(c.Status, c.ID)
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
		DeletingBy:    it.DeletingBy,
		Busy:          len(it.Busy) > 0,
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

// CreateCheckpoint writes a new checkpoint, counted in the project's quota
// (a *domain.OverLimitError at its limit). Its id must be new.
func (s *Store) CreateCheckpoint(ctx context.Context, c *domain.Checkpoint) error {
	it, err := toCheckpointItem(c)
	if err != nil {
		return err
	}
	return s.createCounted(ctx, s.checkpointsTable, "checkpoint", c.ID, c.ProjectID, domain.QuotaCheckpoints, it)
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
	if t.To == domain.StatusDeleting {
		// Not while a restore or verification marks it (tasks.go): the
		// busy set is removed by DynamoDB with its last element.
		cond = cond.And(expression.AttributeNotExists(expression.Name(attrBusy)))
	}

	// change marks this write, so that a retry of it by the SDK (after a
	// lost response) recognises its own change instead of a conflict.
	change := domain.NewID()
	update := expression.Set(status, expression.Value(string(t.To))).
		Set(expression.Name(attrUpdatedAt), expression.Value(domain.Timestamp(at))).
		Set(expression.Name(attrChangeID), expression.Value(change))
	if t.ResourceGraph != nil {
		update = update.Set(expression.Name(attrResourceGraph), expression.Value(*t.ResourceGraph))
	}
	if t.To == domain.StatusDeleting {
		// Who deletes: a retention step's operation, or (cleared) a caller.
		if t.DeletingBy != "" {
			update = update.Set(expression.Name(attrDeletingBy), expression.Value(t.DeletingBy))
		} else {
			update = update.Remove(expression.Name(attrDeletingBy))
		}
	}
	if t.To.InFlight() {
		update = update.Set(expression.Name(attrPending), expression.Value(pending(t.To, t.ID)))
	} else {
		update = update.Remove(expression.Name(attrPending))
	}
	if t.To.Listed() {
		// The status keys follow the status (the condition above makes
		// sure this is the checkpoint of t.ProviderID and t.ProjectID).
		update = update.Set(expression.Name(attrListStatus), expression.Value(listStatus(t.ProviderID, t.ProjectID, t.To))).
			Set(expression.Name(attrListAllStatus), expression.Value(sharded(listAllStatus(t.ProviderID, t.To), t.ID)))
	} else {
		// It leaves every listing index.
		for _, a := range []string{attrListProject, attrListProvider, attrListPlan, attrListStatus, attrListAllPlan, attrListAllStatus} {
			update = update.Remove(expression.Name(a))
		}
	}
	if t.To.Expires() {
		retention := t.Retention
		if retention <= 0 {
			retention = domain.DefaultRetention
		}
		update = update.Set(expression.Name(attrExpiresAt), expression.Value(at.Add(retention).Unix()))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.updateStatus(ctx, t, conditionalUpdate(s.checkpointsTable, key(t.ID, t.ProjectID), expr))
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
		if _, busy := old[attrBusy]; busy && t.To == domain.StatusDeleting && slices.Contains(t.From, c.Status) {
			return c, domain.ErrBusy
		}
		return c, domain.ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("update checkpoint %s: %w", t.ID, tooLarge(err))
	}
	return CheckpointFromItem(res)
}

// updateStatus runs SetStatus's write and returns the checkpoint as
// written. A move into deleted leaves the project's count of checkpoints
// (deleting and error-deleting still count): the write and the count's
// change are one transaction, followed by a strongly consistent read of
// the checkpoint (a transaction returns no item; deleted is final, so the
// read sees this write). Its failed condition is reported as the single
// UpdateItem's is, with the item as it was.
func (s *Store) updateStatus(ctx context.Context, t domain.Transition, in *dynamodb.UpdateItemInput) (map[string]types.AttributeValue, error) {
	if t.To != domain.StatusDeleted || slices.Contains(t.From, domain.StatusDeleted) || s.quotasTable == "" {
		res, err := s.db.UpdateItem(ctx, in)
		if err != nil {
			return nil, err
		}
		return res.Attributes, nil
	}
	err := s.writeCounted(ctx, types.TransactWriteItem{Update: &types.Update{
		TableName:                           in.TableName,
		Key:                                 in.Key,
		ConditionExpression:                 in.ConditionExpression,
		UpdateExpression:                    in.UpdateExpression,
		ExpressionAttributeNames:            in.ExpressionAttributeNames,
		ExpressionAttributeValues:           in.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: in.ReturnValuesOnConditionCheckFailure,
	}}, t.ProjectID, domain.QuotaCheckpoints, -1)
	if err != nil {
		return nil, err
	}
	return s.getRaw(ctx, s.checkpointsTable, t.ID, t.ProjectID)
}

// ListCheckpoints returns one page of checkpoints at a provider, of one
// project or of every project, ordered by created_at then id. Every filter
// is an index key, so a page is one Query reading at most Limit+1 items
// (plus one read to place a marker), however many checkpoints the filter
// leaves out:
//
//	project            all projects (admin)
//	by_project         by_provider: Shards Queries, merged
//	plan: by_plan      by_plan_all
//	status: by_status  by_status_all: Shards Queries, merged
//
// Dates are list_order bounds of the same Query. Plan and status together
// read the plan's index with a status filter: bounded by the plan's
// checkpoints (in the date range), not by the page. Deleted checkpoints
// are in none of these indexes.
func (s *Store) ListCheckpoints(ctx context.Context, q domain.CheckpointQuery) (*domain.Page[*domain.Checkpoint], error) {
	if !q.Status.Listed() && q.Status != "" {
		return nil, fmt.Errorf("list checkpoints: status %s is never listed", q.Status)
	}
	l := listing{
		table: s.checkpointsTable, page: q.Listing,
		belongs: func(item map[string]types.AttributeValue) bool {
			return stringAttr(item, attrProviderID) == q.ProviderID
		},
	}
	all := q.ProjectID == ""
	one := func(index, attr, value string) { l.index, l.hashAttr, l.hashValues = index, attr, []string{value} }
	switch {
	case q.PlanID != "" && all:
		one(IndexByPlanAll, attrListAllPlan, listAllPlan(q.ProviderID, q.PlanID))
	case q.PlanID != "":
		one(IndexByPlan, attrListPlan, listPlan(q.ProviderID, q.ProjectID, q.PlanID))
	case q.Status != "" && all:
		l.index, l.hashAttr, l.hashValues = IndexByStatusAll, attrListAllStatus, allShards(listAllStatus(q.ProviderID, q.Status))
	case q.Status != "":
		one(IndexByStatus, attrListStatus, listStatus(q.ProviderID, q.ProjectID, q.Status))
	case all:
		l.index, l.hashAttr, l.hashValues = IndexByProvider, attrListProvider, allShards(q.ProviderID)
	default:
		one(IndexByProject, attrListProject, listProject(q.ProviderID, q.ProjectID))
	}
	if q.PlanID != "" && q.Status != "" {
		l.filters = append(l.filters, expression.Name(attrStatus).Equal(expression.Value(string(q.Status))))
	}
	l.lo, l.hi = orderBounds(q.Since, q.Until)
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
