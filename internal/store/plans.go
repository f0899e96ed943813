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

type planItem struct {
	ID          string  `dynamodbav:"id"`
	ProjectID   string  `dynamodbav:"project_id"`
	Name        string  `dynamodbav:"name"`
	Description *string `dynamodbav:"description"`
	ProviderID  string  `dynamodbav:"provider_id"`
	Status      string  `dynamodbav:"status"`
	Parameters  string  `dynamodbav:"parameters"` // JSON
	Resources   string  `dynamodbav:"resources"`  // JSON
	CreatedAt   string  `dynamodbav:"created_at"`
	ListOrder   string  `dynamodbav:"list_order"`
	ListAll     string  `dynamodbav:"list_all"`
}

func (it *planItem) plan() (*domain.Plan, error) {
	p := &domain.Plan{
		ID:          it.ID,
		ProjectID:   it.ProjectID,
		Name:        it.Name,
		Description: it.Description,
		ProviderID:  it.ProviderID,
		Status:      it.Status,
	}
	if err := json.Unmarshal([]byte(it.Parameters), &p.Parameters); err != nil {
		return nil, fmt.Errorf("plan %s: parameters: %w", it.ID, err)
	}
	if err := json.Unmarshal([]byte(it.Resources), &p.Resources); err != nil {
		return nil, fmt.Errorf("plan %s: resources: %w", it.ID, err)
	}
	var err error
	if p.CreatedAt, err = time.Parse(time.RFC3339, it.CreatedAt); err != nil {
		return nil, fmt.Errorf("plan %s: created_at: %w", it.ID, err)
	}
	return p, nil
}

func planFromItem(item map[string]types.AttributeValue) (*domain.Plan, error) {
	return decode(item, (*planItem).plan)
}

// jsonText is v as stored JSON text: without HTML escaping, which would
// take 6 bytes of the item for each "<", ">" and "&".
func jsonText(v any) (string, error) {
	b, err := domain.MarshalJSON(v)
	return string(b), err
}

// CreatePlan writes a new plan. Its id must be new.
func (s *Store) CreatePlan(ctx context.Context, p *domain.Plan) error {
	params, err := jsonText(p.Parameters)
	if err != nil {
		return err
	}
	resources, err := jsonText(p.Resources)
	if err != nil {
		return err
	}
	return s.create(ctx, s.plansTable, "plan", p.ID, planItem{
		ID:          p.ID,
		ProjectID:   p.ProjectID,
		Name:        p.Name,
		Description: p.Description,
		ProviderID:  p.ProviderID,
		Status:      p.Status,
		Parameters:  params,
		Resources:   resources,
		CreatedAt:   domain.Timestamp(p.CreatedAt),
		ListOrder:   listOrder(p.CreatedAt, p.ID),
		ListAll:     sharded(listAllPlans, p.ID),
	})
}

// GetPlan reads one plan of a project.
func (s *Store) GetPlan(ctx context.Context, projectID, id string) (*domain.Plan, error) {
	return get(ctx, s, s.plansTable, id, projectID, (*planItem).plan)
}

// UpdatePlan changes an existing plan and returns it as written.
func (s *Store) UpdatePlan(ctx context.Context, projectID, id string, u domain.PlanUpdate) (*domain.Plan, error) {
	var update expression.UpdateBuilder
	changed := false
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
	if u.Resources != nil {
		resources, err := jsonText(u.Resources)
		if err != nil {
			return nil, err
		}
		set("resources", resources)
	}
	if u.Status != nil {
		set("status", *u.Status)
	}
	if !changed {
		return nil, errors.New("empty plan update")
	}
	expr, err := expression.NewBuilder().
		WithCondition(expression.AttributeExists(expression.Name(attrID))).
		WithUpdate(update).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.plansTable),
		Key:                       key(id, projectID),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if _, failed := conditionFailed(err); failed {
		return nil, domain.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("update plan %s: %w", id, tooLarge(err))
	}
	return planFromItem(res.Attributes)
}

// DeletePlan removes a plan no scheduled operation names: one DeleteItem
// conditional on its used_by being absent (an *InUseError naming them
// otherwise), so that it and a create naming the plan never both succeed.
// Checkpoints keep their snapshot of it.
func (s *Store) DeletePlan(ctx context.Context, projectID, id string) error {
	return s.deleteUnused(ctx, s.plansTable, "", id, projectID)
}

// ListPlans returns one page of plans, of one project (index by_project)
// or of every project (by_all, Shards Queries merged), newest first unless
// Ascending; see list for its cost. The filters (name, description,
// status) are Query filters: a filtered page reads on until it is full or
// the listing ends, bounded by the project's plans (by every project's
// plans for all_tenants), not by the page.
func (s *Store) ListPlans(ctx context.Context, q domain.PlanQuery) (*domain.Page[*domain.Plan], error) {
	l := listing{table: s.plansTable, page: q.Listing, index: IndexByProject, hashAttr: attrProjectID, hashValues: []string{q.ProjectID}}
	if q.ProjectID == "" {
		l.index, l.hashAttr, l.hashValues = IndexByAll, attrListAll, allShards(listAllPlans)
	}
	for _, f := range [][2]string{{"name", q.Name}, {"description", q.Description}, {"status", q.Status}} {
		if f[1] != "" {
			l.filters = append(l.filters, expression.Name(f[0]).Equal(expression.Value(f[1])))
		}
	}
	return list(ctx, s, l, planFromItem, func(p *domain.Plan) string { return p.ID })
}
