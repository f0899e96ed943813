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

// Operation log attributes and indexes (template.yaml's OperationLogsTable).
const (
	attrOperationType = "operation_type"
	attrEndedAt       = "ended_at"
	attrErrorInfo     = "error_info"
	attrExtraInfo     = "extra_info"

	// IndexByCheckpoint lists one project's logs of one checkpoint (key
	// project#checkpoint).
	IndexByCheckpoint = "by_checkpoint"

	listAllLogs = "oplog"
)

// WithOperationLogs sets the table of operation logs and returns s. The
// worker, the sweeper and the operation log routes need it.
func (s *Store) WithOperationLogs(table string) *Store {
	s.oplogsTable = table
	return s
}

// oplogItem is an operation log as stored. Every log is in by_project
// (project_id) and by_all (list_all, sharded); a log of a checkpoint in
// by_checkpoint; by_status's key follows the status.
type oplogItem struct {
	ID                   string  `dynamodbav:"id"`
	ProjectID            string  `dynamodbav:"project_id"`
	Type                 string  `dynamodbav:"operation_type"`
	CheckpointID         *string `dynamodbav:"checkpoint_id,omitempty"`
	PlanID               *string `dynamodbav:"plan_id,omitempty"`
	ProviderID           *string `dynamodbav:"provider_id,omitempty"`
	RestoreID            *string `dynamodbav:"restore_id,omitempty"`
	ScheduledOperationID *string `dynamodbav:"scheduled_operation_id,omitempty"`
	Status               string  `dynamodbav:"status"`
	StartedAt            string  `dynamodbav:"started_at"`
	EndedAt              *string `dynamodbav:"ended_at,omitempty"`
	ErrorInfo            *string `dynamodbav:"error_info,omitempty"`
	ExtraInfo            *string `dynamodbav:"extra_info,omitempty"` // JSON object
	ListOrder            string  `dynamodbav:"list_order"`
	ListAll              string  `dynamodbav:"list_all"`
	ListCheckpoint       string  `dynamodbav:"list_checkpoint,omitempty"` // project#checkpoint
	ListStatus           string  `dynamodbav:"list_status"`               // project#status
}

func logListStatus(projectID, status string) string { return projectID + "#" + status }

func toOplogItem(l *domain.OperationLog) (*oplogItem, error) {
	it := &oplogItem{
		ID:                   l.ID,
		ProjectID:            l.ProjectID,
		Type:                 string(l.Type),
		CheckpointID:         l.CheckpointID,
		PlanID:               l.PlanID,
		ProviderID:           l.ProviderID,
		RestoreID:            l.RestoreID,
		ScheduledOperationID: l.ScheduledOperationID,
		Status:               l.Status,
		StartedAt:            domain.Timestamp(l.StartedAt),
		ErrorInfo:            l.ErrorInfo,
		ListOrder:            listOrder(l.StartedAt, l.ID),
		ListAll:              sharded(listAllLogs, l.ID),
		ListStatus:           logListStatus(l.ProjectID, l.Status),
	}
	if l.EndedAt != nil {
		it.EndedAt = aws.String(domain.Timestamp(*l.EndedAt))
	}
	if l.ExtraInfo != nil {
		text, err := jsonText(l.ExtraInfo)
		if err != nil {
			return nil, fmt.Errorf("operation log %s: extra_info: %w", l.ID, err)
		}
		it.ExtraInfo = &text
	}
	if l.CheckpointID != nil {
		it.ListCheckpoint = l.ProjectID + "#" + *l.CheckpointID
	}
	return it, nil
}

func (it *oplogItem) log() (*domain.OperationLog, error) {
	l := &domain.OperationLog{
		ID:                   it.ID,
		ProjectID:            it.ProjectID,
		Type:                 domain.OperationType(it.Type),
		CheckpointID:         it.CheckpointID,
		PlanID:               it.PlanID,
		ProviderID:           it.ProviderID,
		RestoreID:            it.RestoreID,
		ScheduledOperationID: it.ScheduledOperationID,
		Status:               it.Status,
		ErrorInfo:            it.ErrorInfo,
	}
	var err error
	if l.StartedAt, err = time.Parse(time.RFC3339, it.StartedAt); err != nil {
		return nil, fmt.Errorf("operation log %s: started_at: %w", it.ID, err)
	}
	if it.EndedAt != nil {
		ended, err := time.Parse(time.RFC3339, *it.EndedAt)
		if err != nil {
			return nil, fmt.Errorf("operation log %s: ended_at: %w", it.ID, err)
		}
		l.EndedAt = &ended
	}
	if it.ExtraInfo != nil {
		if err := json.Unmarshal([]byte(*it.ExtraInfo), &l.ExtraInfo); err != nil {
			return nil, fmt.Errorf("operation log %s: extra_info: %w", it.ID, err)
		}
	}
	return l, nil
}

func oplogFromItem(item map[string]types.AttributeValue) (*domain.OperationLog, error) {
	return decode(item, (*oplogItem).log)
}

func (s *Store) logsTable() (string, error) {
	if s.oplogsTable == "" {
		return "", errors.New("the operation logs table is not configured (OPERATION_LOGS_TABLE)")
	}
	return s.oplogsTable, nil
}

// StartOperationLog writes l unless a log of its id exists: one PutItem
// conditional on attribute_not_exists(id). An existing log (a retried
// start, or one ended first) is left as it is, and that is success.
func (s *Store) StartOperationLog(ctx context.Context, l *domain.OperationLog) error {
	table, err := s.logsTable()
	if err != nil {
		return err
	}
	it, err := toOplogItem(l)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode operation log %s: %w", l.ID, err)
	}
	err = s.putNew(ctx, table, item)
	if err == nil || errors.Is(err, domain.ErrExists) {
		return nil
	}
	return fmt.Errorf("put operation log %s: %w", l.ID, err)
}

// EndOperationLog writes l's end with one UpdateItem: status (and the
// by_status key), ended_at, and error_info and extra_info when set; the
// start's fields only where absent (if_not_exists), so that a log never
// started is written whole. It is conditional on the log being absent or
// still in its type's start status: a log ended already keeps its first
// end, and that is success.
// ClearCheckpoint removes checkpoint_id (and the by_checkpoint key): a
// fire's protect log that made no checkpoint.
func (s *Store) EndOperationLog(ctx context.Context, l *domain.OperationLog) error {
	table, err := s.logsTable()
	if err != nil {
		return err
	}
	it, err := toOplogItem(l)
	if err != nil {
		return err
	}
	ended := time.Now()
	if l.EndedAt != nil {
		ended = *l.EndedAt
	}
	update := expression.Set(expression.Name(attrStatus), expression.Value(it.Status)).
		Set(expression.Name(attrListStatus), expression.Value(it.ListStatus)).
		Set(expression.Name(attrEndedAt), expression.Value(domain.Timestamp(ended)))
	if it.ErrorInfo != nil {
		update = update.Set(expression.Name(attrErrorInfo), expression.Value(*it.ErrorInfo))
	}
	if it.ExtraInfo != nil {
		update = update.Set(expression.Name(attrExtraInfo), expression.Value(*it.ExtraInfo))
	}
	ifAbsent := func(name string, v string) {
		n := expression.Name(name)
		update = update.Set(n, expression.IfNotExists(n, expression.Value(v)))
	}
	ifAbsent(attrOperationType, it.Type)
	ifAbsent("started_at", it.StartedAt)
	ifAbsent(attrListOrder, it.ListOrder)
	ifAbsent(attrListAll, it.ListAll)
	for name, v := range map[string]*string{
		"checkpoint_id": it.CheckpointID, attrPlanID: it.PlanID, attrProviderID: it.ProviderID,
		"restore_id": it.RestoreID, "scheduled_operation_id": it.ScheduledOperationID,
	} {
		if v != nil {
			ifAbsent(name, *v)
		}
	}
	if it.ListCheckpoint != "" {
		ifAbsent(attrListCheckpoint, it.ListCheckpoint)
	}
	if l.ClearCheckpoint && l.CheckpointID == nil {
		update = update.Remove(expression.Name("checkpoint_id")).Remove(expression.Name(attrListCheckpoint))
	}
	cond := expression.AttributeNotExists(expression.Name(attrID)).
		Or(expression.Name(attrStatus).Equal(expression.Value(l.Type.StartStatus())))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key(l.ID, l.ProjectID),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if _, failed := conditionFailed(err); failed {
		return nil // ended already: the first end stays
	}
	if err != nil {
		return fmt.Errorf("end operation log %s: %w", l.ID, err)
	}
	return nil
}

// GetOperationLog reads one log of a project: one strongly consistent
// GetItem.
func (s *Store) GetOperationLog(ctx context.Context, projectID, id string) (*domain.OperationLog, error) {
	table, err := s.logsTable()
	if err != nil {
		return nil, err
	}
	return get(ctx, s, table, id, projectID, (*oplogItem).log)
}

// ListOperationLogs returns one page of logs, of one project or of every
// project, ordered by started_at then id. The index is the narrowest the
// filters allow; the other filters are Query filters over it, so a
// filtered page reads on until it is full or the index partition ends:
//
//	project                               all projects (admin)
//	checkpoint_id: by_checkpoint          by_all (Shards Queries, merged)
//	status: by_status                     by_all
//	otherwise: by_project                 by_all
//
// Without a filter beyond the index's key, a page reads at most Limit+1
// items (Shards*(Limit+1) for all projects). With one, the read is bounded
// by the partition: the project's logs of that checkpoint (a handful), in
// that status, or all of them; every project's for all_tenants.
func (s *Store) ListOperationLogs(ctx context.Context, q domain.OperationLogQuery) (*domain.Page[*domain.OperationLog], error) {
	table, err := s.logsTable()
	if err != nil {
		return nil, err
	}
	l := listing{table: table, page: q.Listing}
	filter := func(name, v string) {
		if v != "" {
			l.filters = append(l.filters, expression.Name(name).Equal(expression.Value(v)))
		}
	}
	one := func(index, attr, value string) { l.index, l.hashAttr, l.hashValues = index, attr, []string{value} }
	switch {
	case q.ProjectID == "":
		l.index, l.hashAttr, l.hashValues = IndexByAll, attrListAll, allShards(listAllLogs)
		filter("checkpoint_id", q.CheckpointID)
		filter(attrStatus, q.Status)
	case q.CheckpointID != "":
		one(IndexByCheckpoint, attrListCheckpoint, q.ProjectID+"#"+q.CheckpointID)
		filter(attrStatus, q.Status)
	case q.Status != "":
		one(IndexByStatus, attrListStatus, logListStatus(q.ProjectID, q.Status))
	default:
		one(IndexByProject, attrProjectID, q.ProjectID)
	}
	filter(attrOperationType, string(q.Type))
	filter(attrPlanID, q.PlanID)
	filter("restore_id", q.RestoreID)
	filter("scheduled_operation_id", q.ScheduledOperationID)
	return list(ctx, s, l, oplogFromItem, func(o *domain.OperationLog) string { return o.ID })
}
