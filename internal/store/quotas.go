package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
)

// Quotas, in the QuotasTable (WithQuotas), keyed by id alone:
//
//	project#<project id>  the project's overrides (attributes "plans",
//	                      "checkpoints") and its counts ("plans_in_use",
//	                      "checkpoints_in_use")
//	class#default         the class's values ("plans", "checkpoints")
//
// A count changes in the same TransactWriteItems as the item it counts
// (writeCounted): a plan's create and delete, a checkpoint's create and its
// move into deleted. A store without a quotas table counts nothing.

const (
	quotaProjectPrefix = "project#"
	quotaClassPrefix   = "class#"
	inUseSuffix        = "_in_use"
	// quotaAttempts bounds the transactions of one counted write: a
	// cancellation by a concurrent transaction (TransactionConflict, which
	// the SDK does not retry) or by the quota item's condition (a change
	// of the override or the count since it was read; the next read tells)
	// is tried again after a jittered backoff.
	quotaAttempts = 8
	quotaBackoff  = 20 * time.Millisecond
)

// WithQuotas sets the table of quotas and returns s.
func (s *Store) WithQuotas(table string) *Store {
	s.quotasTable = table
	return s
}

func quotaKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrID: &types.AttributeValueMemberS{Value: id}}
}

func inUseAttr(r domain.QuotaResource) string { return string(r) + inUseSuffix }

func (s *Store) needQuotas() error {
	if s.quotasTable == "" {
		return errors.New("store: no quotas table (QUOTAS_TABLE)")
	}
	return nil
}

// quotaItem reads one item of the quotas table (strongly consistent); nil
// when there is none.
func (s *Store) quotaItem(ctx context.Context, id string) (map[string]types.AttributeValue, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.quotasTable),
		Key:            quotaKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get quota %s: %w", id, err)
	}
	return res.Item, nil
}

// numAttr is an item's number attribute, if present.
func numAttr(item map[string]types.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

// limitsOf are the limits an item sets.
func limitsOf(item map[string]types.AttributeValue) domain.Limits {
	out := domain.Limits{}
	for _, r := range domain.QuotaResources {
		if n, ok := numAttr(item, string(r)); ok {
			out[r] = n
		}
	}
	return out
}

func projectQuota(projectID string, item map[string]types.AttributeValue) *domain.ProjectQuota {
	q := &domain.ProjectQuota{ProjectID: projectID, Overrides: limitsOf(item), InUse: map[domain.QuotaResource]int64{}}
	for _, r := range domain.QuotaResources {
		n, _ := numAttr(item, inUseAttr(r))
		q.InUse[r] = n
	}
	return q
}

// GetQuota returns a project's overrides and counts: one GetItem.
func (s *Store) GetQuota(ctx context.Context, projectID string) (*domain.ProjectQuota, error) {
	if err := s.needQuotas(); err != nil {
		return nil, err
	}
	item, err := s.quotaItem(ctx, quotaProjectPrefix+projectID)
	if err != nil {
		return nil, err
	}
	return projectQuota(projectID, item), nil
}

// UpdateQuota sets and removes a project's overrides: one UpdateItem, so
// the change is atomic and keeps the counts.
func (s *Store) UpdateQuota(ctx context.Context, projectID string, u domain.QuotaUpdate) (*domain.ProjectQuota, error) {
	item, err := s.updateLimits(ctx, quotaProjectPrefix+projectID, u)
	if err != nil {
		return nil, err
	}
	return projectQuota(projectID, item), nil
}

// DeleteQuota removes a project's overrides, keeping its counts: one
// UpdateItem.
func (s *Store) DeleteQuota(ctx context.Context, projectID string) error {
	u := domain.QuotaUpdate{}
	for _, r := range domain.QuotaResources {
		u[r] = nil
	}
	_, err := s.updateLimits(ctx, quotaProjectPrefix+projectID, u)
	return err
}

// GetQuotaClass returns the values a class sets: one GetItem.
func (s *Store) GetQuotaClass(ctx context.Context, name string) (domain.Limits, error) {
	if err := s.needQuotas(); err != nil {
		return nil, err
	}
	item, err := s.quotaItem(ctx, quotaClassPrefix+name)
	if err != nil {
		return nil, err
	}
	return limitsOf(item), nil
}

// UpdateQuotaClass sets and removes a class's values: one UpdateItem.
func (s *Store) UpdateQuotaClass(ctx context.Context, name string, u domain.QuotaUpdate) (domain.Limits, error) {
	item, err := s.updateLimits(ctx, quotaClassPrefix+name, u)
	if err != nil {
		return nil, err
	}
	return limitsOf(item), nil
}

// updateLimits applies u to an item's limits in one UpdateItem and returns
// the item as written.
func (s *Store) updateLimits(ctx context.Context, id string, u domain.QuotaUpdate) (map[string]types.AttributeValue, error) {
	if err := s.needQuotas(); err != nil {
		return nil, err
	}
	if len(u) == 0 {
		return nil, errors.New("empty quota update")
	}
	var update expression.UpdateBuilder
	for _, r := range domain.QuotaResources {
		v, ok := u[r]
		switch {
		case !ok:
		case v == nil:
			update = update.Remove(expression.Name(string(r)))
		default:
			update = update.Set(expression.Name(string(r)), expression.Value(*v))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(update).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.quotasTable),
		Key:                       quotaKey(id),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, fmt.Errorf("update quota %s: %w", id, err)
	}
	return res.Attributes, nil
}

// quotaState is what a counted create needs to know: the effective limit,
// the project's override as read (nil when it has none) and its count.
type quotaState struct {
	limit    int64
	override *int64
	inUse    int64
}

// readQuota reads the project's item and, only when the project has no
// override of r, the class's: at most two GetItems (strongly consistent;
// BatchGetItem would be one round trip for the two, but it is not in the
// store's API, it leaves UnprocessedKeys to handle, and the class read is
// not needed at all when the project overrides r).
func (s *Store) readQuota(ctx context.Context, projectID string, r domain.QuotaResource) (quotaState, error) {
	item, err := s.quotaItem(ctx, quotaProjectPrefix+projectID)
	if err != nil {
		return quotaState{}, err
	}
	var st quotaState
	st.inUse, _ = numAttr(item, inUseAttr(r))
	if n, ok := numAttr(item, string(r)); ok {
		st.limit, st.override = n, &n
		return st, nil
	}
	class, err := s.quotaItem(ctx, quotaClassPrefix+domain.DefaultQuotaClass)
	if err != nil {
		return quotaState{}, err
	}
	if n, ok := numAttr(class, string(r)); ok {
		st.limit = n
	} else {
		st.limit = domain.DefaultQuotas[r]
	}
	return st, nil
}

// writeCounted runs w (a Put, Update or Delete of the counted item) and
// the change of the project's count of r by delta in one transaction.
//
// A create (delta > 0) reads the effective limit first (readQuota): a limit
// of 0, or a count already at the limit, is *domain.OverLimitError without
// a write. Otherwise the count's update is conditional on the project's
// override being the one read (so that a quota update between the read and
// the write is not lost) and, unless the limit is -1, on the count being
// below the limit: of N parallel creates at the limit exactly the
// remaining number pass. The class's value is not part of the condition:
// a ConditionCheck of the one class item in every project's creates would
// make them all conflict with each other; a create racing a class update
// is admitted under the value it read, which can only leave the count
// above a lowered limit, as lowering a limit below the count does anyway.
//
// A decrement has no condition on the quota item. When w's own condition
// fails, writeCounted returns a *types.ConditionalCheckFailedException
// holding w's item as it was (when w asks for ALL_OLD), as the single
// write would, so callers keep their handling of it (conditionFailed).
func (s *Store) writeCounted(ctx context.Context, w types.TransactWriteItem, projectID string, r domain.QuotaResource, delta int64) error {
	for attempt := 1; ; attempt++ {
		var cond *expression.ConditionBuilder
		if delta > 0 {
			st, err := s.readQuota(ctx, projectID, r)
			if err != nil {
				return err
			}
			if st.limit == 0 || (st.limit > 0 && st.inUse >= st.limit) {
				return &domain.OverLimitError{Resource: r, Limit: st.limit}
			}
			c := expression.AttributeNotExists(expression.Name(string(r)))
			if st.override != nil {
				c = expression.Name(string(r)).Equal(expression.Value(*st.override))
			}
			if st.limit > 0 {
				count := expression.Name(inUseAttr(r))
				c = c.And(expression.AttributeNotExists(count).Or(count.LessThan(expression.Value(st.limit))))
			}
			cond = &c
		}
		builder := expression.NewBuilder().WithUpdate(expression.Add(expression.Name(inUseAttr(r)), expression.Value(delta)))
		if cond != nil {
			builder = builder.WithCondition(*cond)
		}
		expr, err := builder.Build()
		if err != nil {
			return err
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{w, {Update: &types.Update{
				TableName:                 aws.String(s.quotasTable),
				Key:                       quotaKey(quotaProjectPrefix + projectID),
				ConditionExpression:       expr.Condition(),
				UpdateExpression:          expr.Update(),
				ExpressionAttributeNames:  expr.Names(),
				ExpressionAttributeValues: expr.Values(),
			}}},
		})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return err
		}
		if len(tce.CancellationReasons) == 2 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return &types.ConditionalCheckFailedException{Message: tce.Message, Item: tce.CancellationReasons[0].Item}
		}
		if !retryable(tce) {
			return err
		}
		if attempt == quotaAttempts {
			// Still contended: the caller may retry (503, not 500).
			return fmt.Errorf("%w: the quota item stayed contended: %w", domain.ErrUnavailable, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// retryable reports whether a cancelled counted write may be tried again:
// every reason is a conflict with a concurrent transaction or the quota
// item's condition (the count or override changed since the read).
func retryable(tce *types.TransactionCanceledException) bool {
	ok := false
	for i, r := range tce.CancellationReasons {
		switch code := aws.ToString(r.Code); {
		case code == "" || code == "None":
		case code == "TransactionConflict", code == "ConditionalCheckFailed" && i == 1:
			ok = true
		default:
			return false
		}
	}
	return ok
}

// createCounted is create (store.go) with the project's count of r, in one
// transaction (writeCounted): *domain.OverLimitError at the limit.
func (s *Store) createCounted(ctx context.Context, table, what, id, projectID string, r domain.QuotaResource, v any) error {
	if s.quotasTable == "" {
		return s.create(ctx, table, what, id, v)
	}
	item, err := encodeNew(what, id, v)
	if err != nil {
		return err
	}
	cond, err := newItemCondition()
	if err != nil {
		return err
	}
	err = putNewOutcome(s.writeCounted(ctx, types.TransactWriteItem{Put: &types.Put{
		TableName:                           aws.String(table),
		Item:                                item,
		ConditionExpression:                 cond.Condition(),
		ExpressionAttributeNames:            cond.Names(),
		ExpressionAttributeValues:           cond.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, projectID, r, 1), item)
	var over *domain.OverLimitError
	if err != nil && !errors.Is(err, domain.ErrExists) && !errors.As(err, &over) {
		return fmt.Errorf("put %s %s: %w", what, id, tooLarge(err))
	}
	return err
}

// deleteCounted runs del and takes one off the project's count of r in one
// transaction (one DeleteItem without a quotas table). del's failed
// condition is a *types.ConditionalCheckFailedException, with the item as
// it was when del asks for ALL_OLD.
func (s *Store) deleteCounted(ctx context.Context, del *types.Delete, projectID string, r domain.QuotaResource) error {
	if s.quotasTable == "" {
		return s.deleteOne(ctx, del)
	}
	return s.writeCounted(ctx, types.TransactWriteItem{Delete: del}, projectID, r, -1)
}

// deleteOne runs a transaction's Delete alone, as one DeleteItem.
func (s *Store) deleteOne(ctx context.Context, del *types.Delete) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           del.TableName,
		Key:                                 del.Key,
		ConditionExpression:                 del.ConditionExpression,
		ExpressionAttributeNames:            del.ExpressionAttributeNames,
		ExpressionAttributeValues:           del.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailure(del.ReturnValuesOnConditionCheckFailure),
	})
	return err
}

// backoff waits before attempt+1 of a transaction a concurrent one
// cancelled: full jitter, a random wait up to quotaBackoff doubled per
// attempt.
func backoff(ctx context.Context, attempt int) error {
	wait := time.Duration(rand.Int64N(int64(quotaBackoff << (attempt - 1))))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}
