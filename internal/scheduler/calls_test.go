package scheduler_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"karbor"
	"karbor/internal/domain"
	"karbor/internal/local/cfn"
	"karbor/internal/store"
	"karbor/internal/testsupport/testenv"
)

// recorder notes each DynamoDB call as the IAM action and resource text
// template.yaml grants it with ("!GetAtt <Table>.Arn", "!Sub
// ${<Table>.Arn}/index/<index>"); a transaction's items as their own
// actions, as IAM authorizes them.
type recorder struct {
	mu      sync.Mutex
	logical map[string]string // table name → logical id
	calls   map[string]bool   // "action resource"
}

func (r *recorder) note(action, table, index string) {
	res := "!GetAtt " + r.logical[table] + ".Arn"
	if index != "" {
		res = "!Sub ${" + r.logical[table] + ".Arn}/index/" + index
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls["dynamodb:"+action+" "+res] = true
}

func (r *recorder) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		switch p := in.Parameters.(type) {
		case *dynamodb.GetItemInput:
			r.note("GetItem", aws.ToString(p.TableName), "")
		case *dynamodb.PutItemInput:
			r.note("PutItem", aws.ToString(p.TableName), "")
		case *dynamodb.UpdateItemInput:
			r.note("UpdateItem", aws.ToString(p.TableName), "")
		case *dynamodb.DeleteItemInput:
			r.note("DeleteItem", aws.ToString(p.TableName), "")
		case *dynamodb.QueryInput:
			r.note("Query", aws.ToString(p.TableName), aws.ToString(p.IndexName))
		case *dynamodb.TransactWriteItemsInput:
			for _, it := range p.TransactItems {
				switch {
				case it.Put != nil:
					r.note("PutItem", aws.ToString(it.Put.TableName), "")
				case it.Update != nil:
					r.note("UpdateItem", aws.ToString(it.Update.TableName), "")
				case it.Delete != nil:
					r.note("DeleteItem", aws.ToString(it.Delete.TableName), "")
				case it.ConditionCheck != nil:
					r.note("ConditionCheckItem", aws.ToString(it.ConditionCheck.TableName), "")
				}
			}
		default:
			r.note("unexpected call", "", "")
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// TestSchedulerCalls: every DynamoDB call the scheduler makes, through
// fires that run, are refused (plan gone), skipped (late), and are
// delivered again, is granted to SchedulerFunction by template.yaml.
func TestSchedulerCalls(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{calls: map[string]bool{}, logical: map[string]string{}}
	for logical, name := range e.tables {
		rec.logical[name] = logical
	}
	// The scheduler's store: the same tables over a recording client.
	db := dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, rec.middleware) })
	e.sched.Domain.Store = storeOver(db, e.tables)

	tr := e.trigger(domain.FormatCrontab, "0 * * * *", day0, nil)
	op := e.operation(tr, domain.OpTypeRetentionProtect, day0.Add(-time.Minute))
	key := domain.TriggerKey{ID: tr.ID, ProjectID: tr.ProjectID}
	e.tick(day0.Add(time.Minute)) // fired
	if err := e.st.AdvanceTrigger(t.Context(), key, day0.Add(time.Hour), &day0); err != nil {
		t.Fatal(err)
	}
	e.tick(day0.Add(2 * time.Minute))            // delivered again
	e.tick(day0.Add(time.Hour + 20*time.Minute)) // skipped
	if _, err := e.st.SetStatus(t.Context(), domain.Transition{ProjectID: e.project, ProviderID: e.plan.ProviderID,
		ID: domain.FireID(op.ID, day0), From: []domain.Status{domain.StatusProtecting}, To: domain.StatusAvailable}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AdvanceTrigger(t.Context(), key, day0.Add(2*time.Hour), &day0); err != nil {
		t.Fatal(err)
	}
	e.tick(day0.Add(3 * time.Minute)) // again, its checkpoint available: retention at once
	_, err := testenv.DynamoDB(t).DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(store.PlansTableOf(e.st)),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: e.plan.ID}, "project_id": &types.AttributeValueMemberS{Value: e.project}}})
	if err != nil {
		t.Fatal(err)
	}
	e.tick(day0.Add(2*time.Hour + time.Minute)) // refused

	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, f := range fns {
		if f.LogicalID != "SchedulerFunction" {
			continue
		}
		for _, st := range f.Statements {
			for _, a := range st.Actions {
				for _, r := range st.Resources {
					granted[a+" "+r] = st.Effect == "Allow"
				}
			}
		}
	}
	var calls []string
	for c := range rec.calls {
		calls = append(calls, c)
		if !granted[c] {
			t.Errorf("the scheduler calls %s, which template.yaml does not grant SchedulerFunction", c)
		}
	}
	slices.Sort(calls)
	t.Logf("calls: %q", calls)
	for _, want := range []string{"dynamodb:Query !Sub ${SchedulesTable.Arn}/index/by_due", "dynamodb:PutItem !GetAtt CheckpointsTable.Arn",
		"dynamodb:UpdateItem !GetAtt SchedulesTable.Arn", "dynamodb:GetItem !GetAtt PlansTable.Arn"} {
		if !rec.calls[want] {
			t.Errorf("no call %s recorded: the scenarios do not reach a fire", want)
		}
	}
}
