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

// Attributes and indexes of the tasks table (restores and verifications);
// they must match template.yaml's TasksTable.
const (
	attrKind              = "kind"
	attrVersion           = "version"
	attrBusy              = "busy" // on a checkpoint: the ids of its tasks in progress
	attrListCheckpoint    = "list_checkpoint"
	attrListAllCheckpoint = "list_all_checkpoint"
	attrDue               = "due"
	attrDueAt             = "due_at"
	attrResourcesStatus   = "resources_status"
	attrResourcesReason   = "resources_reason"
	attrRestoredResources = "restored_resources"
	attrWork              = "work"

	// IndexTasksByCheckpoint lists one project's tasks of one kind and
	// checkpoint (key kind#project#checkpoint).
	IndexTasksByCheckpoint = "by_checkpoint"
	// IndexTasksByCheckpointAll lists every task of one kind and
	// checkpoint (admin; key kind#checkpoint).
	IndexTasksByCheckpointAll = "by_checkpoint_all"
	// IndexTasksByDue lists tasks in progress by due_at (key due#shard).
	IndexTasksByDue = "by_due"
)

// taskItem is a restore or verification as stored. The maps (parameters,
// resources_status, resources_reason, restored_resources, work) are stored
// as JSON strings: one attribute each, written whole by every step, with no
// rules on their keys (DynamoDB maps would be as good; a string keeps the
// item's encoding the domain's own). The list_* keys place it in the
// listing indexes for its whole life (a task is never deleted); the status
// keys follow its status. due and due_at exist only while in_progress.
//
// Size: parameters come from a body of at most 64 KiB; resources_* and
// restored_resources have one short entry per resource of the checkpoint's
// graph, which fits a checkpoint item; work is the runner's. Every write
// checks the item against MaxItemBytes before it is sent (ErrTooLarge).
type taskItem struct {
	ID                string  `dynamodbav:"id"`
	ProjectID         string  `dynamodbav:"project_id"`
	Kind              string  `dynamodbav:"kind"`
	ProviderID        string  `dynamodbav:"provider_id"`
	CheckpointID      string  `dynamodbav:"checkpoint_id"`
	PlanID            string  `dynamodbav:"plan_id"`
	Parameters        string  `dynamodbav:"parameters"` // JSON object
	RestoreTarget     *string `dynamodbav:"restore_target,omitempty"`
	Status            string  `dynamodbav:"status"`
	ResourcesStatus   string  `dynamodbav:"resources_status"`   // JSON object
	ResourcesReason   string  `dynamodbav:"resources_reason"`   // JSON object
	RestoredResources string  `dynamodbav:"restored_resources"` // JSON object
	Work              string  `dynamodbav:"work"`               // JSON object
	Version           int64   `dynamodbav:"version"`
	CreatedAt         string  `dynamodbav:"created_at"`
	UpdatedAt         string  `dynamodbav:"updated_at"`
	ListOrder         string  `dynamodbav:"list_order"`
	ListProject       string  `dynamodbav:"list_project"`        // kind#project: by_project
	ListAll           string  `dynamodbav:"list_all"`            // kind#shard: by_all
	ListCheckpoint    string  `dynamodbav:"list_checkpoint"`     // kind#project#checkpoint: by_checkpoint
	ListAllCheckpoint string  `dynamodbav:"list_all_checkpoint"` // kind#checkpoint: by_checkpoint_all
	ListStatus        string  `dynamodbav:"list_status"`         // kind#project#status: by_status
	ListAllStatus     string  `dynamodbav:"list_all_status"`     // kind#status#shard: by_status_all
	Due               string  `dynamodbav:"due,omitempty"`       // due#shard: by_due, while in_progress
	DueAt             int64   `dynamodbav:"due_at,omitempty"`    // Unix milliseconds
}

func taskListStatus(kind domain.TaskKind, projectID string, st domain.TaskStatus) string {
	return string(kind) + "#" + projectID + "#" + string(st)
}

func taskListAllStatus(kind domain.TaskKind, st domain.TaskStatus) string {
	return string(kind) + "#" + string(st)
}

func taskDue(id string) string { return sharded("due", id) }

// jsonString encodes one of a task's maps; a nil map is stored as {}.
func jsonString(v any) (string, error) {
	b, err := domain.MarshalJSON(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return "{}", nil
	}
	return string(b), nil
}

// taskMaps are a task's maps, encoded as stored.
type taskMaps struct {
	parameters, status, reason, restored, work string
}

func encodeTaskMaps(t *domain.Task) (m taskMaps, err error) {
	for _, f := range []struct {
		dst *string
		v   any
	}{{&m.parameters, t.Parameters}, {&m.status, t.ResourcesStatus}, {&m.reason, t.ResourcesReason}, {&m.restored, t.RestoredResources}, {&m.work, t.Work}} {
		if *f.dst, err = jsonString(f.v); err != nil {
			return m, fmt.Errorf("encode task %s: %w", t.ID, err)
		}
	}
	return m, nil
}

func toTaskItem(t *domain.Task) (*taskItem, error) {
	m, err := encodeTaskMaps(t)
	if err != nil {
		return nil, err
	}
	kind := string(t.Kind)
	it := &taskItem{
		ID:                t.ID,
		ProjectID:         t.ProjectID,
		Kind:              kind,
		ProviderID:        t.ProviderID,
		CheckpointID:      t.CheckpointID,
		PlanID:            t.PlanID,
		Parameters:        m.parameters,
		RestoreTarget:     t.RestoreTarget,
		Status:            string(t.Status),
		ResourcesStatus:   m.status,
		ResourcesReason:   m.reason,
		RestoredResources: m.restored,
		Work:              m.work,
		Version:           t.Version,
		CreatedAt:         domain.Timestamp(t.CreatedAt),
		UpdatedAt:         domain.Timestamp(t.UpdatedAt),
		ListOrder:         listOrder(t.CreatedAt, t.ID),
		ListProject:       kind + "#" + t.ProjectID,
		ListAll:           sharded(kind, t.ID),
		ListCheckpoint:    kind + "#" + t.ProjectID + "#" + t.CheckpointID,
		ListAllCheckpoint: kind + "#" + t.CheckpointID,
		ListStatus:        taskListStatus(t.Kind, t.ProjectID, t.Status),
		ListAllStatus:     sharded(taskListAllStatus(t.Kind, t.Status), t.ID),
	}
	if t.Status == domain.TaskInProgress {
		it.Due = taskDue(t.ID)
		it.DueAt = t.DueAt.UnixMilli()
	}
	return it, nil
}

func (it *taskItem) task() (*domain.Task, error) {
	t := &domain.Task{
		Kind:          domain.TaskKind(it.Kind),
		ID:            it.ID,
		ProjectID:     it.ProjectID,
		ProviderID:    it.ProviderID,
		CheckpointID:  it.CheckpointID,
		PlanID:        it.PlanID,
		RestoreTarget: it.RestoreTarget,
		Status:        domain.TaskStatus(it.Status),
		Version:       it.Version,
	}
	for _, f := range []struct {
		name, src string
		dst       any
	}{
		{"parameters", it.Parameters, &t.Parameters},
		{"resources_status", it.ResourcesStatus, &t.ResourcesStatus},
		{"resources_reason", it.ResourcesReason, &t.ResourcesReason},
		{"restored_resources", it.RestoredResources, &t.RestoredResources},
		{"work", it.Work, &t.Work},
	} {
		if f.src == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return nil, fmt.Errorf("task %s: %s: %w", it.ID, f.name, err)
		}
	}
	if t.Parameters == nil {
		t.Parameters = map[string]json.RawMessage{}
	}
	if t.ResourcesStatus == nil {
		t.ResourcesStatus = map[string]string{}
	}
	if t.ResourcesReason == nil {
		t.ResourcesReason = map[string]string{}
	}
	if t.RestoredResources == nil {
		t.RestoredResources = map[string]domain.Restored{}
	}
	if t.Work == nil {
		t.Work = map[string]json.RawMessage{}
	}
	var err error
	if t.CreatedAt, err = time.Parse(time.RFC3339, it.CreatedAt); err != nil {
		return nil, fmt.Errorf("task %s: created_at: %w", it.ID, err)
	}
	if t.UpdatedAt, err = time.Parse(time.RFC3339, it.UpdatedAt); err != nil {
		return nil, fmt.Errorf("task %s: updated_at: %w", it.ID, err)
	}
	if it.DueAt != 0 {
		t.DueAt = time.UnixMilli(it.DueAt).UTC()
	}
	return t, nil
}

// TaskFromItem decodes a task from a DynamoDB item, such as a stream
// record's image.
func TaskFromItem(item map[string]types.AttributeValue) (*domain.Task, error) {
	return decode(item, (*taskItem).task)
}

func (s *Store) needTasks() error {
	if s.tasksTable == "" {
		return errors.New("store: no tasks table (TASKS_TABLE)")
	}
	return nil
}

// transactionCancelled returns the reasons of a cancelled transaction, one
// per item in order ("None" for an item that was not the cause).
func transactionCancelled(err error) ([]string, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	out := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code)
	}
	return out, true
}

// CreateTask writes t (in_progress, version 0, due at t.DueAt or now) and
// marks its checkpoint busy in one transaction: a Put of the task
// conditional on its id being new, and an update of the checkpoint adding
// t.ID to its busy set, conditional on the checkpoint existing in
// t.ProjectID at t.ProviderID and being available. On success it returns a
// nil checkpoint. When the transaction is cancelled, its reasons tell why:
// the task's condition failed, so it exists already (an SDK retry of this
// very call whose first response was lost; ids are new random UUIDs):
// success. Else the checkpoint's failed and a GetItem of it tells: no
// checkpoint at this project and provider is ErrNotFound; otherwise
// ErrConflict with the checkpoint as it is.
func (s *Store) CreateTask(ctx context.Context, t *domain.Task) (*domain.Checkpoint, error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	if t.Status == "" {
		t.Status = domain.TaskInProgress
	}
	if t.DueAt.IsZero() {
		t.DueAt = t.CreatedAt
	}
	it, err := toTaskItem(t)
	if err != nil {
		return nil, err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	if n := ItemSize(item); n > domain.MaxItemBytes {
		return nil, fmt.Errorf("put task %s: %d bytes: %w", t.ID, n, domain.ErrTooLarge)
	}
	putCond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrID))).Build()
	if err != nil {
		return nil, err
	}
	mark, err := expression.NewBuilder().
		WithCondition(expression.AttributeExists(expression.Name(attrID)).
			And(expression.Name(attrProviderID).Equal(expression.Value(t.ProviderID))).
			And(expression.Name(attrStatus).Equal(expression.Value(string(domain.StatusAvailable))))).
		WithUpdate(expression.Add(expression.Name(attrBusy), expression.Value(&types.AttributeValueMemberSS{Value: []string{t.ID}}))).
		Build()
	if err != nil {
		return nil, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:                 aws.String(s.tasksTable),
				Item:                      item,
				ConditionExpression:       putCond.Condition(),
				ExpressionAttributeNames:  putCond.Names(),
				ExpressionAttributeValues: putCond.Values(),
			}},
			// Its condition fails only when the task exists: ids are new
			// random UUIDs, so that is this call's own earlier attempt.
			{Update: &types.Update{
				TableName:                 aws.String(s.checkpointsTable),
				Key:                       key(t.CheckpointID, t.ProjectID),
				ConditionExpression:       mark.Condition(),
				UpdateExpression:          mark.Update(),
				ExpressionAttributeNames:  mark.Names(),
				ExpressionAttributeValues: mark.Values(),
			}},
		},
	})
	reasons, cancelled := transactionCancelled(err)
	if !cancelled {
		if err != nil {
			return nil, fmt.Errorf("create task %s: %w", t.ID, tooLarge(err))
		}
		return nil, nil
	}
	if len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		// The task exists: an earlier attempt of this call wrote it (and,
		// in the same transaction, the mark). No read is needed (the
		// routes that create tasks may not read the tasks table).
		return nil, nil
	}
	c, gerr := s.GetCheckpoint(ctx, t.ProjectID, t.CheckpointID)
	switch {
	case errors.Is(gerr, domain.ErrNotFound):
		return nil, domain.ErrNotFound
	case gerr != nil:
		return nil, gerr
	case c.ProviderID != t.ProviderID:
		return nil, domain.ErrNotFound
	case c.Status == domain.StatusAvailable:
		// Cancelled for another reason (a concurrent transaction on the
		// checkpoint): the caller may try again.
		return c, fmt.Errorf("create task %s: %w: %v", t.ID, domain.ErrConflict, reasons)
	}
	return c, domain.ErrConflict
}

// GetTask reads one task of a project: one strongly consistent GetItem.
// A task of another kind is ErrNotFound.
func (s *Store) GetTask(ctx context.Context, kind domain.TaskKind, projectID, id string) (*domain.Task, error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	t, err := get(ctx, s, s.tasksTable, id, projectID, (*taskItem).task)
	if err != nil {
		return nil, err
	}
	if kind != "" && t.Kind != kind {
		return nil, domain.ErrNotFound
	}
	return t, nil
}

// ListTasks returns one page of restores or verifications, of one project
// or of every project, ordered by created_at then id:
//
//	project                  all projects (admin)
//	by_project               by_all: Shards Queries, merged
//	checkpoint: by_checkpoint by_checkpoint_all
//	status: by_status        by_status_all: Shards Queries, merged
//
// Without a filter, or with one of checkpoint_id or status, a page is one
// Query reading at most Limit+1 items. Checkpoint and status together read
// the checkpoint's index with a status filter (bounded by that
// checkpoint's tasks, a handful); provider_id is always a filter over the
// narrowest index (bounded by that index's partition: the project's tasks,
// of a status or checkpoint when given) — providers are few, so most tasks
// of a project match it anyway.
func (s *Store) ListTasks(ctx context.Context, q domain.TaskQuery) (*domain.Page[*domain.Task], error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	kind := string(q.Kind)
	l := listing{
		table: s.tasksTable, page: q.Listing,
		belongs: func(item map[string]types.AttributeValue) bool {
			return stringAttr(item, attrKind) == kind
		},
	}
	all := q.ProjectID == ""
	one := func(index, attr, value string) { l.index, l.hashAttr, l.hashValues = index, attr, []string{value} }
	switch {
	case q.CheckpointID != "" && all:
		one(IndexTasksByCheckpointAll, attrListAllCheckpoint, kind+"#"+q.CheckpointID)
	case q.CheckpointID != "":
		one(IndexTasksByCheckpoint, attrListCheckpoint, kind+"#"+q.ProjectID+"#"+q.CheckpointID)
	case q.Status != "" && all:
		l.index, l.hashAttr, l.hashValues = IndexByStatusAll, attrListAllStatus, allShards(taskListAllStatus(q.Kind, q.Status))
	case q.Status != "":
		one(IndexByStatus, attrListStatus, taskListStatus(q.Kind, q.ProjectID, q.Status))
	case all:
		l.index, l.hashAttr, l.hashValues = IndexByAll, attrListAll, allShards(kind)
	default:
		one(IndexByProject, attrListProject, kind+"#"+q.ProjectID)
	}
	if q.CheckpointID != "" && q.Status != "" {
		l.filters = append(l.filters, expression.Name(attrStatus).Equal(expression.Value(string(q.Status))))
	}
	if q.ProviderID != "" {
		l.filters = append(l.filters, expression.Name(attrProviderID).Equal(expression.Value(q.ProviderID)))
	}
	return list(ctx, s, l, TaskFromItem, func(t *domain.Task) string { return t.ID })
}

// taskUpdate is the SET part shared by a step and an end: the task's maps,
// the next version and the time.
func taskUpdate(t *domain.Task, at time.Time) (expression.UpdateBuilder, error) {
	m, err := encodeTaskMaps(t)
	if err != nil {
		return expression.UpdateBuilder{}, err
	}
	return expression.Set(expression.Name(attrVersion), expression.Value(t.Version+1)).
		Set(expression.Name(attrResourcesStatus), expression.Value(m.status)).
		Set(expression.Name(attrResourcesReason), expression.Value(m.reason)).
		Set(expression.Name(attrRestoredResources), expression.Value(m.restored)).
		Set(expression.Name(attrWork), expression.Value(m.work)).
		Set(expression.Name(attrUpdatedAt), expression.Value(domain.Timestamp(at))).
		Remove(expression.Name(attrLeaseUntil)), nil
}

// atVersion is the condition of the runner's writes: in_progress at the
// version read.
func atVersion(t *domain.Task) expression.ConditionBuilder {
	return expression.Name(attrStatus).Equal(expression.Value(string(domain.TaskInProgress))).
		And(expression.Name(attrVersion).Equal(expression.Value(t.Version)))
}

// checkTaskSize refuses an update whose task would exceed MaxItemBytes.
func checkTaskSize(t *domain.Task) error {
	it, err := toTaskItem(t)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return err
	}
	if n := ItemSize(item); n > domain.MaxItemBytes {
		return fmt.Errorf("task %s: %d bytes: %w", t.ID, n, domain.ErrTooLarge)
	}
	return nil
}

// SaveTaskStep writes a step's progress: resources_status, _reason,
// restored_resources, work, due_at (and its due key) and updated_at (now
// when t.UpdatedAt is zero), with version+1, conditional on the task being
// in_progress at t.Version. It returns the task as written, or ErrConflict
// when another step or the end came first (ErrNotFound: no such task).
func (s *Store) SaveTaskStep(ctx context.Context, t *domain.Task) (*domain.Task, error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	if err := checkTaskSize(t); err != nil {
		return nil, err
	}
	at := t.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	update, err := taskUpdate(t, at)
	if err != nil {
		return nil, err
	}
	update = update.Set(expression.Name(attrDueAt), expression.Value(t.DueAt.UnixMilli())).
		Set(expression.Name(attrDue), expression.Value(taskDue(t.ID)))
	return s.updateTask(ctx, t, "step", atVersion(t), update)
}

// updateTask is one conditional UpdateItem of an existing task, returning
// it as written: ErrNotFound when there is none, ErrConflict when cond
// does not hold.
func (s *Store) updateTask(ctx context.Context, t *domain.Task, what string, cond expression.ConditionBuilder, update expression.UpdateBuilder) (*domain.Task, error) {
	expr, err := expression.NewBuilder().
		WithCondition(expression.AttributeExists(expression.Name(attrID)).And(cond)).
		WithUpdate(update).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.UpdateItem(ctx, conditionalUpdate(s.tasksTable, key(t.ID, t.ProjectID), expr))
	if old, failed := conditionFailed(err); failed {
		if old == nil {
			return nil, domain.ErrNotFound
		}
		return nil, domain.ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("%s task %s: %w", what, t.ID, tooLarge(err))
	}
	return TaskFromItem(res.Attributes)
}

// EndTask writes t's final status (success or fail) and its maps, with
// version+1, and removes its due keys, in one transaction with the removal
// of its mark from the checkpoint (DELETE busy {id}, conditional only on
// the checkpoint existing, so that no stub item is made). The task's write
// is conditional on in_progress at t.Version: ErrConflict otherwise. If the
// checkpoint is gone, the task is ended alone. It returns the task as
// written.
func (s *Store) EndTask(ctx context.Context, t *domain.Task) (*domain.Task, error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	if t.Status != domain.TaskSuccess && t.Status != domain.TaskFail {
		return nil, fmt.Errorf("end task %s: status %q is not final", t.ID, t.Status)
	}
	if err := checkTaskSize(t); err != nil {
		return nil, err
	}
	at := t.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	update, err := taskUpdate(t, at)
	if err != nil {
		return nil, err
	}
	// change marks this end, so that an SDK retry of it recognises its
	// own write instead of a conflict.
	change := domain.NewID()
	update = update.Set(expression.Name(attrStatus), expression.Value(string(t.Status))).
		Set(expression.Name(attrChangeID), expression.Value(change)).
		Set(expression.Name(attrListStatus), expression.Value(taskListStatus(t.Kind, t.ProjectID, t.Status))).
		Set(expression.Name(attrListAllStatus), expression.Value(sharded(taskListAllStatus(t.Kind, t.Status), t.ID))).
		Remove(expression.Name(attrDue)).
		Remove(expression.Name(attrDueAt))
	end, err := expression.NewBuilder().
		WithCondition(expression.AttributeExists(expression.Name(attrID)).And(atVersion(t))).
		WithUpdate(update).Build()
	if err != nil {
		return nil, err
	}
	endTask := &types.Update{
		TableName:                 aws.String(s.tasksTable),
		Key:                       key(t.ID, t.ProjectID),
		ConditionExpression:       end.Condition(),
		UpdateExpression:          end.Update(),
		ExpressionAttributeNames:  end.Names(),
		ExpressionAttributeValues: end.Values(),
	}
	unmark, err := expression.NewBuilder().
		WithCondition(expression.AttributeExists(expression.Name(attrID))).
		WithUpdate(expression.Delete(expression.Name(attrBusy), expression.Value(&types.AttributeValueMemberSS{Value: []string{t.ID}}))).
		Build()
	if err != nil {
		return nil, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Update: endTask},
			{Update: &types.Update{
				TableName:                 aws.String(s.checkpointsTable),
				Key:                       key(t.CheckpointID, t.ProjectID),
				ConditionExpression:       unmark.Condition(),
				UpdateExpression:          unmark.Update(),
				ExpressionAttributeNames:  unmark.Names(),
				ExpressionAttributeValues: unmark.Values(),
			}},
		},
	})
	reasons, cancelled := transactionCancelled(err)
	switch {
	case !cancelled && err != nil:
		return nil, fmt.Errorf("end task %s: %w", t.ID, tooLarge(err))
	case cancelled && len(reasons) == 2 && reasons[0] == "ConditionalCheckFailed":
		return nil, s.endConflict(ctx, t, change)
	case cancelled && len(reasons) == 2 && reasons[1] == "ConditionalCheckFailed":
		// The checkpoint is gone: end the task alone.
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: endTask.TableName, Key: endTask.Key,
			ConditionExpression: endTask.ConditionExpression, UpdateExpression: endTask.UpdateExpression,
			ExpressionAttributeNames: endTask.ExpressionAttributeNames, ExpressionAttributeValues: endTask.ExpressionAttributeValues,
		})
		if _, failed := conditionFailed(err); failed {
			return nil, s.endConflict(ctx, t, change)
		}
		if err != nil {
			return nil, fmt.Errorf("end task %s: %w", t.ID, tooLarge(err))
		}
	case cancelled:
		return nil, fmt.Errorf("end task %s: %w: %v", t.ID, domain.ErrConflict, reasons)
	}
	return s.GetTask(ctx, t.Kind, t.ProjectID, t.ID)
}

// endConflict tells why an end was refused: the task ended by this very
// end (change: an SDK retry of this call after a lost response) is not a
// conflict; anything else is.
func (s *Store) endConflict(ctx context.Context, t *domain.Task, change string) error {
	item, err := s.getRaw(ctx, s.tasksTable, t.ID, t.ProjectID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.ErrNotFound
	}
	if err != nil {
		return err
	}
	if stringAttr(item, attrChangeID) == change {
		return nil
	}
	return domain.ErrConflict
}

// DueTasks lists up to max in_progress tasks whose due_at has passed at
// now, oldest first: one Query per due shard (each reading at most max
// keys), merged.
func (s *Store) DueTasks(ctx context.Context, now time.Time, max int) ([]domain.TaskKey, error) {
	if err := s.needTasks(); err != nil {
		return nil, err
	}
	return dueKeys(ctx, s, s.tasksTable, IndexTasksByDue, now.UnixMilli(), max,
		func(id, projectID string) domain.TaskKey { return domain.TaskKey{ID: id, ProjectID: projectID} })
}

// CheckpointsTableOf is s's checkpoints table (for tests that read items
// raw).
func CheckpointsTableOf(s *Store) string { return s.checkpointsTable }
func TasksTableOf(s *Store) string       { return s.tasksTable }
