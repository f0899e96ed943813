package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
)

// Triggers and scheduled operations, in the SchedulesTable (WithSchedules).
//
// Both kinds share the table, told apart by kind ("trigger", "operation"):
// by_project's key is kind#project, by_all's kind#shard, both ordered by
// created_at#id. A trigger with a next occurrence is in by_due (due#shard,
// due_at = its Unix seconds); one with none has neither attribute. The
// used_by string set of a trigger (here) and of a plan (PlansTable) holds
// the ids of the scheduled operations naming it; DynamoDB removes the
// attribute when its last id goes, so "not in use" is
// attribute_not_exists(used_by).

const (
	kindTrigger   = "trigger"
	kindOperation = "operation"

	attrUsedBy    = "used_by"
	attrNextAt    = "next_at"
	attrType      = "type"
	attrTriggerID = "trigger_id"

	// IndexSchedulesByDue lists triggers by their next occurrence (key
	// due#shard, range due_at in Unix seconds).
	IndexSchedulesByDue = "by_due"
)

var errNoSchedules = errors.New("store: no schedules table (SCHEDULES_TABLE)")

// WithSchedules sets the table of triggers and scheduled operations and
// returns s.
func (s *Store) WithSchedules(table string) *Store {
	s.schedulesTable = table
	return s
}

func (s *Store) needSchedules() error {
	if s.schedulesTable == "" {
		return errNoSchedules
	}
	return nil
}

// scheduleListing are the attributes every item of the table has.
type scheduleListing struct {
	ID          string `dynamodbav:"id"`
	ProjectID   string `dynamodbav:"project_id"`
	Kind        string `dynamodbav:"kind"`
	Name        string `dynamodbav:"name"`
	CreatedAt   string `dynamodbav:"created_at"`
	ListOrder   string `dynamodbav:"list_order"`
	ListProject string `dynamodbav:"list_project"` // kind#project: by_project
	ListAll     string `dynamodbav:"list_all"`     // kind#shard: by_all
}

func newScheduleListing(kind, id, projectID, name string, created time.Time) scheduleListing {
	return scheduleListing{
		ID: id, ProjectID: projectID, Kind: kind, Name: name,
		CreatedAt:   domain.Timestamp(created),
		ListOrder:   listOrder(created, id),
		ListProject: kind + "#" + projectID,
		ListAll:     sharded(kind, id),
	}
}

// triggerProps are a trigger's properties as stored: a map keeping JSON
// types (window a number).
type triggerProps struct {
	Format    string  `dynamodbav:"format"`
	Pattern   string  `dynamodbav:"pattern"`
	StartTime string  `dynamodbav:"start_time"`
	EndTime   *string `dynamodbav:"end_time,omitempty"`
	Window    int     `dynamodbav:"window"`
}

type triggerItem struct {
	scheduleListing
	Type       string       `dynamodbav:"type"`
	Properties triggerProps `dynamodbav:"properties"`
	UsedBy     []string     `dynamodbav:"used_by,stringset,omitempty"`
	Version    int64        `dynamodbav:"version"`
	NextAt     string       `dynamodbav:"next_at,omitempty"`
	Due        string       `dynamodbav:"due,omitempty"`    // due#shard: by_due, while NextAt is set
	DueAt      int64        `dynamodbav:"due_at,omitempty"` // Unix seconds of NextAt
}

func triggerDue(id string) string { return sharded("due", id) }

func toTriggerProps(p domain.TriggerProperties) triggerProps {
	out := triggerProps{Format: p.Format, Pattern: p.Pattern, StartTime: domain.Timestamp(p.StartTime), Window: p.Window}
	if p.EndTime != nil {
		out.EndTime = aws.String(domain.Timestamp(*p.EndTime))
	}
	return out
}

func toTriggerItem(t *domain.Trigger) *triggerItem {
	it := &triggerItem{
		scheduleListing: newScheduleListing(kindTrigger, t.ID, t.ProjectID, t.Name, t.CreatedAt),
		Type:            t.Type,
		Properties:      toTriggerProps(t.Properties),
		UsedBy:          t.UsedBy,
		Version:         t.Version,
	}
	if t.NextAt != nil {
		it.NextAt = domain.Timestamp(*t.NextAt)
		it.Due = triggerDue(t.ID)
		it.DueAt = t.NextAt.Unix()
	}
	return it
}

func parseTime(what, id, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s: %w", what, id, err)
	}
	return t, nil
}

func (it *triggerItem) trigger() (*domain.Trigger, error) {
	if it.Kind != kindTrigger {
		return nil, domain.ErrNotFound
	}
	t := &domain.Trigger{
		ID: it.ID, ProjectID: it.ProjectID, Name: it.Name, Type: it.Type,
		UsedBy: it.UsedBy, Version: it.Version,
		Properties: domain.TriggerProperties{Format: it.Properties.Format, Pattern: it.Properties.Pattern, Window: it.Properties.Window},
	}
	sort.Strings(t.UsedBy)
	var err error
	if t.CreatedAt, err = parseTime("trigger created_at", it.ID, it.CreatedAt); err != nil {
		return nil, err
	}
	if t.Properties.StartTime, err = parseTime("trigger start_time", it.ID, it.Properties.StartTime); err != nil {
		return nil, err
	}
	if it.Properties.EndTime != nil {
		end, err := parseTime("trigger end_time", it.ID, *it.Properties.EndTime)
		if err != nil {
			return nil, err
		}
		t.Properties.EndTime = &end
	}
	if it.NextAt != "" {
		next, err := parseTime("trigger next_at", it.ID, it.NextAt)
		if err != nil {
			return nil, err
		}
		t.NextAt = &next
	}
	return t, nil
}

func triggerFromItem(item map[string]types.AttributeValue) (*domain.Trigger, error) {
	return decode(item, (*triggerItem).trigger)
}

// opDefinition is an operation_definition as stored: a map keeping JSON
// types, only the keys set.
type opDefinition struct {
	ProviderID        string `dynamodbav:"provider_id"`
	PlanID            string `dynamodbav:"plan_id"`
	MaxBackups        *int64 `dynamodbav:"max_backups,omitempty"`
	RetentionDuration *int64 `dynamodbav:"retention_duration,omitempty"`
}

type operationItem struct {
	scheduleListing
	Description *string      `dynamodbav:"description"`
	Type        string       `dynamodbav:"operation_type"`
	TriggerID   string       `dynamodbav:"trigger_id"`
	Definition  opDefinition `dynamodbav:"operation_definition"`
	Enabled     bool         `dynamodbav:"enabled"`
	EnabledAt   string       `dynamodbav:"enabled_at"`
}

func toOperationItem(op *domain.ScheduledOperation) *operationItem {
	d := op.Definition
	return &operationItem{
		scheduleListing: newScheduleListing(kindOperation, op.ID, op.ProjectID, op.Name, op.CreatedAt),
		Description:     op.Description,
		Type:            string(op.Type),
		TriggerID:       op.TriggerID,
		Definition:      opDefinition{ProviderID: d.ProviderID, PlanID: d.PlanID, MaxBackups: d.MaxBackups, RetentionDuration: d.RetentionDuration},
		Enabled:         op.Enabled,
		EnabledAt:       domain.Timestamp(op.EnabledAt),
	}
}

func (it *operationItem) operation() (*domain.ScheduledOperation, error) {
	if it.Kind != kindOperation {
		return nil, domain.ErrNotFound
	}
	d := it.Definition
	op := &domain.ScheduledOperation{
		ID: it.ID, ProjectID: it.ProjectID, Name: it.Name, Description: it.Description,
		Type: domain.ScheduledOperationType(it.Type), TriggerID: it.TriggerID,
		Definition: domain.OperationDefinition{ProviderID: d.ProviderID, PlanID: d.PlanID, MaxBackups: d.MaxBackups, RetentionDuration: d.RetentionDuration},
		Enabled:    it.Enabled,
	}
	var err error
	if op.CreatedAt, err = parseTime("scheduled operation created_at", it.ID, it.CreatedAt); err != nil {
		return nil, err
	}
	if op.EnabledAt, err = parseTime("scheduled operation enabled_at", it.ID, it.EnabledAt); err != nil {
		return nil, err
	}
	return op, nil
}

func operationFromItem(item map[string]types.AttributeValue) (*domain.ScheduledOperation, error) {
	return decode(item, (*operationItem).operation)
}

func isKind(kind string) expression.ConditionBuilder {
	return expression.Name(attrKind).Equal(expression.Value(kind))
}

// exists is the condition of a write to an existing item of kind.
func exists(kind string) expression.ConditionBuilder {
	return expression.AttributeExists(expression.Name(attrID)).And(isKind(kind))
}

// CreateTrigger writes a new trigger (ErrExists if its id is taken), in
// by_due when it has a next occurrence.
func (s *Store) CreateTrigger(ctx context.Context, t *domain.Trigger) error {
	if err := s.needSchedules(); err != nil {
		return err
	}
	return s.create(ctx, s.schedulesTable, "trigger", t.ID, toTriggerItem(t))
}

// GetTrigger reads one trigger of a project: one strongly consistent
// GetItem. A scheduled operation's id is ErrNotFound.
func (s *Store) GetTrigger(ctx context.Context, projectID, id string) (*domain.Trigger, error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	return get(ctx, s, s.schedulesTable, id, projectID, (*triggerItem).trigger)
}

// setNext adds the writes of a trigger's next occurrence to update: next_at,
// due and due_at, or their removal when next is nil.
func setNext(update expression.UpdateBuilder, id string, next *time.Time) expression.UpdateBuilder {
	if next == nil {
		return update.Remove(expression.Name(attrNextAt)).Remove(expression.Name(attrDue)).Remove(expression.Name(attrDueAt))
	}
	return update.Set(expression.Name(attrNextAt), expression.Value(domain.Timestamp(*next))).
		Set(expression.Name(attrDue), expression.Value(triggerDue(id))).
		Set(expression.Name(attrDueAt), expression.Value(next.Unix()))
}

// updateSchedule runs one UpdateItem of an item of kind, conditional on
// it existing and on cond, and returns it as written (decoded by conv); a
// failed condition is ErrNotFound when there is no such item, else
// ErrConflict.
func updateSchedule[T any](ctx context.Context, s *Store, kind, id, projectID string, cond expression.ConditionBuilder, update expression.UpdateBuilder, conv func(map[string]types.AttributeValue) (T, error)) (T, error) {
	var zero T
	expr, err := expression.NewBuilder().WithCondition(exists(kind).And(cond)).WithUpdate(update).Build()
	if err != nil {
		return zero, err
	}
	res, err := s.db.UpdateItem(ctx, conditionalUpdate(s.schedulesTable, key(id, projectID), expr))
	if old, failed := conditionFailed(err); failed {
		if old == nil || stringAttr(old, attrKind) != kind {
			return zero, domain.ErrNotFound
		}
		return zero, domain.ErrConflict
	}
	if err != nil {
		return zero, fmt.Errorf("update %s %s: %w", kind, id, tooLarge(err))
	}
	return conv(res.Attributes)
}

func (s *Store) updateTrigger(ctx context.Context, projectID, id string, cond expression.ConditionBuilder, update expression.UpdateBuilder) (*domain.Trigger, error) {
	return updateSchedule(ctx, s, kindTrigger, id, projectID, cond, update, triggerFromItem)
}

// UpdateTrigger writes t's name, type, properties and NextAt with one
// UpdateItem conditional on t.Version (ErrConflict when it moved,
// ErrNotFound when the trigger is gone) and returns it as written, its
// version one more.
func (s *Store) UpdateTrigger(ctx context.Context, t *domain.Trigger) (*domain.Trigger, error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	update := expression.Set(expression.Name("name"), expression.Value(t.Name)).
		Set(expression.Name(attrType), expression.Value(t.Type)).
		Set(expression.Name("properties"), expression.Value(toTriggerProps(t.Properties))).
		Set(expression.Name(attrVersion), expression.Value(t.Version+1))
	update = setNext(update, t.ID, t.NextAt)
	return s.updateTrigger(ctx, t.ProjectID, t.ID, expression.Name(attrVersion).Equal(expression.Value(t.Version)), update)
}

// AdvanceTrigger sets the trigger's next occurrence to next (nil: none
// left, out of by_due) and adds one to its version, conditional on next_at
// still being from: ErrConflict when it moved (another scheduler advanced
// it, or an update), ErrNotFound when the trigger is gone.
func (s *Store) AdvanceTrigger(ctx context.Context, k domain.TriggerKey, from time.Time, next *time.Time) error {
	if err := s.needSchedules(); err != nil {
		return err
	}
	update := setNext(expression.Add(expression.Name(attrVersion), expression.Value(1)), k.ID, next)
	_, err := s.updateTrigger(ctx, k.ProjectID, k.ID, expression.Name(attrNextAt).Equal(expression.Value(domain.Timestamp(from))), update)
	return err
}

// inUse is the refusal of deleting an item whose used_by (in old) is not
// empty, its ids sorted.
// usedBy is how many scheduled operations an item's used_by names.
func usedBy(item map[string]types.AttributeValue) int {
	ss, _ := item[attrUsedBy].(*types.AttributeValueMemberSS)
	if ss == nil {
		return 0
	}
	return len(ss.Value)
}

func inUse(old map[string]types.AttributeValue) error {
	ss, _ := old[attrUsedBy].(*types.AttributeValueMemberSS)
	if ss == nil {
		return nil
	}
	ids := slices.Clone(ss.Value)
	sort.Strings(ids)
	return &domain.InUseError{IDs: ids}
}

// deleteUnused deletes an item of table that exists (and is of kind, when
// given) and that no scheduled operation names: one DeleteItem conditional
// on attribute_not_exists(used_by) — with counted, a transaction that also
// takes the item off the project's count of that resource. ErrNotFound
// when there is none, an *domain.InUseError naming the operations
// otherwise.
func (s *Store) deleteUnused(ctx context.Context, table, kind, id, projectID string, counted domain.QuotaResource) error {
	cond := expression.AttributeExists(expression.Name(attrID)).And(expression.AttributeNotExists(expression.Name(attrUsedBy)))
	if kind != "" {
		cond = cond.And(isKind(kind))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return err
	}
	del := &types.Delete{
		TableName:                           aws.String(table),
		Key:                                 key(id, projectID),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if counted != "" {
		err = s.deleteCounted(ctx, del, projectID, counted)
	} else {
		err = s.deleteOne(ctx, del)
	}
	if old, failed := conditionFailed(err); failed {
		if old == nil || (kind != "" && stringAttr(old, attrKind) != kind) {
			return domain.ErrNotFound
		}
		if err := inUse(old); err != nil {
			return err
		}
		return domain.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", table, id, err)
	}
	return nil
}

// DeleteTrigger deletes a trigger no scheduled operation names: one
// DeleteItem conditional on its used_by being absent, so that it and a
// create naming the trigger (which adds to used_by on condition that the
// trigger exists) never both succeed. Else an *InUseError.
func (s *Store) DeleteTrigger(ctx context.Context, projectID, id string) error {
	if err := s.needSchedules(); err != nil {
		return err
	}
	return s.deleteUnused(ctx, s.schedulesTable, kindTrigger, id, projectID, "")
}

// regexpTest is one filter of a listing: a pattern ("" for none) and the
// text of an item it is matched against.
type regexpTest[T any] struct {
	pattern string
	text    func(T) string
}

// regexpFilter is a listing's Go-side filter: the item, decoded, matches
// every pattern given (RE2, unanchored) against what text returns of it.
func regexpFilter[T any](decode func(map[string]types.AttributeValue) (T, error), tests ...regexpTest[T]) (func(map[string]types.AttributeValue) bool, error) {
	type test struct {
		re   *regexp.Regexp
		text func(T) string
	}
	var all []test
	for _, t := range tests {
		if t.pattern == "" {
			continue
		}
		re, err := regexp.Compile(t.pattern)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", t.pattern, err)
		}
		all = append(all, test{re, t.text})
	}
	if len(all) == 0 {
		return nil, nil
	}
	return func(item map[string]types.AttributeValue) bool {
		v, err := decode(item)
		if err != nil {
			return true // decode fails again on the page, with its error
		}
		for _, t := range all {
			if !t.re.MatchString(t.text(v)) {
				return false
			}
		}
		return true
	}, nil
}

// compactJSON is v's compact JSON with sorted keys (encoding/json sorts map
// keys), what the regexp filters on properties and definitions match.
func compactJSON(v map[string]any) string {
	b, err := domain.MarshalJSON(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// scheduleList is the listing of one kind: by_project (kind#project) or,
// for every project, by_all (kind#shard, Shards Queries merged).
func (s *Store) scheduleList(kind string, page domain.Listing) listing {
	l := listing{
		table: s.schedulesTable, page: page, index: IndexByProject, hashAttr: attrListProject,
		hashValues: []string{kind + "#" + page.ProjectID},
		belongs:    func(item map[string]types.AttributeValue) bool { return stringAttr(item, attrKind) == kind },
	}
	if page.ProjectID == "" {
		l.index, l.hashAttr, l.hashValues = IndexByAll, attrListAll, allShards(kind)
	}
	return l
}

// ListTriggers returns one page of triggers, of one project (by_project)
// or every project (by_all), ordered by created_at then id. type is a
// Query filter; name and properties are regular expressions applied to
// the items read (DynamoDB has none): a filtered page reads on until it is
// full or the partition ends.
func (s *Store) ListTriggers(ctx context.Context, q domain.TriggerQuery) (*domain.Page[*domain.Trigger], error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	l := s.scheduleList(kindTrigger, q.Listing)
	if q.Type != "" {
		l.filters = append(l.filters, expression.Name(attrType).Equal(expression.Value(q.Type)))
	}
	var err error
	l.keep, err = regexpFilter(triggerFromItem,
		regexpTest[*domain.Trigger]{q.Name, func(t *domain.Trigger) string { return t.Name }},
		regexpTest[*domain.Trigger]{q.Properties, func(t *domain.Trigger) string { return compactJSON(t.Properties.View()) }})
	if err != nil {
		return nil, err
	}
	return list(ctx, s, l, triggerFromItem, func(t *domain.Trigger) string { return t.ID })
}

// ListScheduledOperations returns one page of scheduled operations, as
// ListTriggers: operation_type and trigger_id are Query filters, name and
// operation_definition regular expressions over the items read.
func (s *Store) ListScheduledOperations(ctx context.Context, q domain.ScheduledOperationQuery) (*domain.Page[*domain.ScheduledOperation], error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	l := s.scheduleList(kindOperation, q.Listing)
	if q.Type != "" {
		l.filters = append(l.filters, expression.Name(attrOperationType).Equal(expression.Value(string(q.Type))))
	}
	if q.TriggerID != "" {
		l.filters = append(l.filters, expression.Name(attrTriggerID).Equal(expression.Value(q.TriggerID)))
	}
	var err error
	l.keep, err = regexpFilter(operationFromItem,
		regexpTest[*domain.ScheduledOperation]{q.Name, func(op *domain.ScheduledOperation) string { return op.Name }},
		regexpTest[*domain.ScheduledOperation]{q.Definition, func(op *domain.ScheduledOperation) string { return compactJSON(op.Definition.View()) }})
	if err != nil {
		return nil, err
	}
	return list(ctx, s, l, operationFromItem, func(op *domain.ScheduledOperation) string { return op.ID })
}

// markUpdate is the transaction item that adds (add) or removes the
// operation id from the used_by set of an item of table, conditional on
// cond.
func markUpdate(table, id, projectID, opID string, add bool, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	set := expression.Value(&types.AttributeValueMemberSS{Value: []string{opID}})
	update := expression.Delete(expression.Name(attrUsedBy), set)
	if add {
		update = expression.Add(expression.Name(attrUsedBy), set)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(table),
		Key:                       key(id, projectID),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// CreateScheduledOperation writes op and adds its id to its trigger's and
// its plan's used_by in one transaction: a Put conditional on the id being
// new, an Update of the trigger conditional on it existing, an Update of
// the plan conditional on it existing at the definition's provider. When
// the transaction is cancelled, its reasons tell why: the operation exists
// (an SDK retry of this very call whose first response was lost; ids are
// new random UUIDs): success; the trigger is missing: a *MissingError; the
// plan's condition: a GetItem of the plan tells a *MissingError from the
// plan's provider differing (PlanProviderMismatch). Another cancellation
// (a concurrent transaction on the trigger or plan) is ErrConflict: the
// caller may try again.
func (s *Store) CreateScheduledOperation(ctx context.Context, op *domain.ScheduledOperation) error {
	if err := s.needSchedules(); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(toOperationItem(op))
	if err != nil {
		return fmt.Errorf("encode scheduled operation %s: %w", op.ID, err)
	}
	if n := ItemSize(item); n > domain.MaxItemBytes {
		return fmt.Errorf("put scheduled operation %s: %d bytes: %w", op.ID, n, domain.ErrTooLarge)
	}
	putCond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrID))).Build()
	if err != nil {
		return err
	}
	// Room for one more id (domain.MaxOperationsPerItem) on each.
	room := expression.AttributeNotExists(expression.Name(attrUsedBy)).
		Or(expression.Size(expression.Name(attrUsedBy)).LessThan(expression.Value(domain.MaxOperationsPerItem)))
	markTrigger, err := markUpdate(s.schedulesTable, op.TriggerID, op.ProjectID, op.ID, true, exists(kindTrigger).And(room))
	if err != nil {
		return err
	}
	plan := op.Definition.PlanID
	markPlan, err := markUpdate(s.plansTable, plan, op.ProjectID, op.ID, true,
		expression.AttributeExists(expression.Name(attrID)).And(expression.Name(attrProviderID).Equal(expression.Value(op.Definition.ProviderID)), room))
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:                 aws.String(s.schedulesTable),
				Item:                      item,
				ConditionExpression:       putCond.Condition(),
				ExpressionAttributeNames:  putCond.Names(),
				ExpressionAttributeValues: putCond.Values(),
			}},
			markTrigger,
			markPlan,
		},
	})
	reasons, cancelled := transactionCancelled(err)
	if !cancelled {
		if err != nil {
			return fmt.Errorf("create scheduled operation %s: %w", op.ID, tooLarge(err))
		}
		return nil
	}
	failed := func(i int) bool { return len(reasons) > i && reasons[i] == "ConditionalCheckFailed" }
	switch {
	case failed(0):
		return nil
	case failed(1):
		t, err := s.GetTrigger(ctx, op.ProjectID, op.TriggerID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return &domain.MissingError{What: "trigger", ID: op.TriggerID}
		case err != nil:
			return err
		case len(t.UsedBy) >= domain.MaxOperationsPerItem:
			return &domain.FullError{What: "trigger", ID: op.TriggerID}
		}
	case failed(2):
		raw, err := s.getRaw(ctx, s.plansTable, plan, op.ProjectID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return &domain.MissingError{What: "plan", ID: plan}
		case err != nil:
			return err
		case stringAttr(raw, attrProviderID) != op.Definition.ProviderID:
			return domain.PlanProviderMismatch(plan, stringAttr(raw, attrProviderID))
		case usedBy(raw) >= domain.MaxOperationsPerItem:
			return &domain.FullError{What: "plan", ID: plan}
		}
	}
	return fmt.Errorf("create scheduled operation %s: %w: %v", op.ID, domain.ErrConflict, reasons)
}

// GetScheduledOperation reads one scheduled operation of a project: one
// strongly consistent GetItem. A trigger's id is ErrNotFound.
func (s *Store) GetScheduledOperation(ctx context.Context, projectID, id string) (*domain.ScheduledOperation, error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	return get(ctx, s, s.schedulesTable, id, projectID, (*operationItem).operation)
}

// UpdateScheduledOperation sets what u sets with one UpdateItem
// conditional on the operation existing, and returns it as written.
// Enabling a disabled operation also sets its enabled_at to u.At: that
// write is conditional on enabled being false, and when it fails on an
// operation enabled already, the update is made without it (enabling an
// enabled operation moves nothing).
func (s *Store) UpdateScheduledOperation(ctx context.Context, projectID, id string, u domain.ScheduledOperationUpdate) (*domain.ScheduledOperation, error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	// An UpdateBuilder's Set adds to a map the copies share: each
	// attempt builds its own.
	build := func(enabling bool) (update expression.UpdateBuilder, changed bool) {
		set := func(name string, v any) {
			update, changed = update.Set(expression.Name(name), expression.Value(v)), true
		}
		if u.Name != nil {
			set("name", *u.Name)
		}
		if u.Description != nil {
			set("description", *u.Description)
		} else if u.ClearDescription {
			set("description", nil)
		}
		if u.Enabled != nil {
			set("enabled", *u.Enabled)
		}
		if enabling {
			set("enabled_at", domain.Timestamp(u.At))
		}
		return update, changed
	}
	update, changed := build(false)
	if !changed {
		return nil, errors.New("empty scheduled operation update")
	}
	if u.Enabled != nil && *u.Enabled {
		enabling, _ := build(true)
		op, err := s.updateOperation(ctx, projectID, id, expression.Name("enabled").Equal(expression.Value(false)), enabling)
		if !errors.Is(err, domain.ErrConflict) {
			return op, err
		}
	}
	return s.updateOperation(ctx, projectID, id, expression.AttributeExists(expression.Name(attrID)), update)
}

func (s *Store) updateOperation(ctx context.Context, projectID, id string, cond expression.ConditionBuilder, update expression.UpdateBuilder) (*domain.ScheduledOperation, error) {
	return updateSchedule(ctx, s, kindOperation, id, projectID, cond, update, operationFromItem)
}

// DeleteScheduledOperation reads the operation (its trigger and plan), then
// deletes it and removes its id from its trigger's and its plan's used_by
// in one transaction, each update conditional on its item existing (an
// update of a missing item would create one). A trigger or plan that is
// gone (none can be while marked, but a plan deleted before marks existed
// could) is left out and the transaction tried again; the operation gone
// meanwhile is ErrNotFound.
func (s *Store) DeleteScheduledOperation(ctx context.Context, projectID, id string) error {
	op, err := s.GetScheduledOperation(ctx, projectID, id)
	if err != nil {
		return err
	}
	delCond, err := expression.NewBuilder().WithCondition(exists(kindOperation)).Build()
	if err != nil {
		return err
	}
	marks := []struct {
		table, id string
		cond      expression.ConditionBuilder
	}{
		{s.schedulesTable, op.TriggerID, exists(kindTrigger)},
		{s.plansTable, op.Definition.PlanID, expression.AttributeExists(expression.Name(attrID))},
	}
	for attempt := 1; attempt <= quotaAttempts; attempt++ {
		if attempt > 1 {
			if err := backoff(ctx, attempt-1); err != nil {
				return err
			}
		}
		items := []types.TransactWriteItem{{Delete: &types.Delete{
			TableName:                 aws.String(s.schedulesTable),
			Key:                       key(id, projectID),
			ConditionExpression:       delCond.Condition(),
			ExpressionAttributeNames:  delCond.Names(),
			ExpressionAttributeValues: delCond.Values(),
		}}}
		for _, m := range marks {
			item, err := markUpdate(m.table, m.id, projectID, id, false, m.cond)
			if err != nil {
				return err
			}
			items = append(items, item)
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		reasons, cancelled := transactionCancelled(err)
		if !cancelled {
			if err != nil {
				return fmt.Errorf("delete scheduled operation %s: %w", id, err)
			}
			return nil
		}
		if len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
			return domain.ErrNotFound
		}
		kept := marks[:0:0]
		for i, m := range marks {
			if len(reasons) <= i+1 || reasons[i+1] != "ConditionalCheckFailed" {
				kept = append(kept, m)
			}
		}
		marks = kept
	}
	// Still contended (concurrent creates, deletes or the scheduler on the
	// trigger or plan): the caller may retry (503).
	return fmt.Errorf("delete scheduled operation %s: %w: still contended", id, domain.ErrUnavailable)
}

// DueTriggers lists up to max triggers whose next occurrence is at or
// before now, earliest first: one Query of by_due per shard (each reading
// at most max keys), merged.
func (s *Store) DueTriggers(ctx context.Context, now time.Time, max int) ([]domain.TriggerKey, error) {
	if err := s.needSchedules(); err != nil {
		return nil, err
	}
	return dueKeys(ctx, s, s.schedulesTable, IndexSchedulesByDue, now.Unix(), max,
		func(id, projectID string) domain.TriggerKey { return domain.TriggerKey{ID: id, ProjectID: projectID} })
}

// dueKeys lists up to max items of a by_due index (keys due#shard, range
// due_at) whose due_at is at most until, lowest first, as made by mk from
// their keys: one Query per shard, each reading at most max keys, merged.
func dueKeys[K any](ctx context.Context, s *Store, table, index string, until int64, max int, mk func(id, projectID string) K) ([]K, error) {
	if max <= 0 {
		return nil, nil
	}
	type due struct {
		key K
		at  int64
	}
	shards := allShards("due")
	found := make([][]due, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() {
			expr, err := expression.NewBuilder().WithKeyCondition(
				expression.Key(attrDue).Equal(expression.Value(shard)).
					And(expression.Key(attrDueAt).LessThanEqual(expression.Value(until)))).Build()
			if err != nil {
				errs[i] = err
				return
			}
			res, err := s.db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(table),
				IndexName:                 aws.String(index),
				KeyConditionExpression:    expr.KeyCondition(),
				ExpressionAttributeNames:  expr.Names(),
				ExpressionAttributeValues: expr.Values(),
				ScanIndexForward:          aws.Bool(true),
				Limit:                     aws.Int32(int32(max)),
			})
			if err != nil {
				errs[i] = fmt.Errorf("query %s %s: %w", index, shard, err)
				return
			}
			for _, item := range res.Items {
				n, _ := item[attrDueAt].(*types.AttributeValueMemberN)
				var at int64
				if n != nil {
					at, _ = strconv.ParseInt(n.Value, 10, 64)
				}
				found[i] = append(found[i], due{mk(stringAttr(item, attrID), stringAttr(item, attrProjectID)), at})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	merged := slices.Concat(found...)
	slices.SortStableFunc(merged, func(a, b due) int { return cmp.Compare(a.at, b.at) })
	out := make([]K, 0, min(len(merged), max))
	for _, d := range merged[:min(len(merged), max)] {
		out = append(out, d.key)
	}
	return out, nil
}

// SchedulesTableOf and PlansTableOf are s's tables (for tests that read
// items raw or build a store over another client).
func SchedulesTableOf(s *Store) string { return s.schedulesTable }
func PlansTableOf(s *Store) string     { return s.plansTable }
