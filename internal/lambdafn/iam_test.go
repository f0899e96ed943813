package lambdafn_test

// TestRoutePolicies proves each HTTP function's IAM policy by what its
// handler calls: every route runs, as Lambda runs it (its sample event
// through the HTTP API adapter, the caller from the JWT claims), through
// scenarios that reach every branch touching DynamoDB, against a real
// DynamoDB endpoint, with a middleware on the SDK client that records each
// call's operation, table and index. Every recorded call must be granted to
// the function by template.yaml, and every (action, resource) pair granted
// must have been called by some scenario. A new route needs scenarios here.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/smithy-go/middleware"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"karbor"
	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/inventory/tagging"
	"karbor/internal/lambdafn"
	"karbor/internal/local/cfn"
	"karbor/internal/local/tables"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
)

// grant is one action on one resource: a table of the service (Index "")
// or an index of it (a name, or "*" for all of them, in a grant only), or
// (Table "") resources of the account the inventory reads: api.AnyTable
// or api.AnyResource.
type grant struct {
	Action   string // e.g. dynamodb:GetItem
	Table    string // logical id in template.yaml
	Index    string
	Resource api.Resource
}

func (g grant) String() string {
	switch {
	case g.Resource != "":
		return g.Action + " on " + string(g.Resource)
	case g.Index == "":
		return g.Action + " on " + g.Table
	}
	return g.Action + " on " + g.Table + "/index/" + g.Index
}

// covers reports whether granted g allows call c.
func (g grant) covers(c grant) bool {
	return g.Action == c.Action && g.Table == c.Table && g.Resource == c.Resource && (g.Index == c.Index || g.Index == "*" && c.Index != "")
}

// recorder records the DynamoDB calls made through its client.
type recorder struct {
	tables map[string]string // table name → logical id
	mu     sync.Mutex
	calls  []grant
	errs   []string
}

// client is a client of the test endpoint that records every call.
func (rec *recorder) client(t *testing.T) *dynamodb.Client {
	return dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, rec.middleware("dynamodb"))
	})
}

// middleware records each call of a client of the service (dynamodb, ec2
// or tag).
func (rec *recorder) middleware(service string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		// After the operation's own initialize middlewares, which put
		// its name in the context.
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetOperationName(ctx)
				if service == "dynamodb" {
					rec.record(op, in.Parameters)
				} else {
					// EC2's Describe* and the tagging API support no
					// resource-level permission.
					rec.add(grant{Action: service + ":" + op, Resource: api.AnyResource})
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// inventory is the inventory a route builds, over clients of the test
// endpoint that record every call, with the ownership of the environment.
func (rec *recorder) inventory(t *testing.T) *inventory.Inventory {
	e := invenv.New(t)
	own, err := ownership.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return &inventory.Inventory{
		DynamoDB: rec.client(t),
		EC2: ec2.NewFromConfig(e.Config, func(o *ec2.Options) {
			o.BaseEndpoint = aws.String(e.Endpoint)
			o.APIOptions = append(o.APIOptions, rec.middleware("ec2"))
		}),
		Tagging: tagging.Client{API: resourcegroupstaggingapi.NewFromConfig(e.Config, func(o *resourcegroupstaggingapi.Options) {
			o.BaseEndpoint = aws.String(e.Endpoint)
			o.APIOptions = append(o.APIOptions, rec.middleware("tag"))
		})},
		Ownership:      own,
		Region:         e.Config.Region,
		TableARNPrefix: invenv.TableARNPrefix(e.Config.Region),
	}
}

func (rec *recorder) add(g grant) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls = append(rec.calls, g)
}

func (rec *recorder) record(op string, input any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	field := func(name string) string {
		v := reflect.ValueOf(input)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return ""
		}
		f := v.FieldByName(name)
		if !f.IsValid() || f.Type() != reflect.TypeFor[*string]() || f.IsNil() {
			return ""
		}
		return f.Elem().String()
	}
	switch op {
	case "ListTables":
		rec.calls = append(rec.calls, grant{Action: "dynamodb:" + op, Resource: api.AnyResource})
		return
	case "DescribeTable", "ListTagsOfResource":
		// The inventory reads tables of the account, the service's
		// own included: refusing them costs the same calls as any
		// other table (no existence oracle by timing).
		rec.calls = append(rec.calls, grant{Action: "dynamodb:" + op, Resource: api.AnyTable})
		return
	}
	if in, ok := input.(*dynamodb.TransactWriteItemsInput); ok {
		// A transaction needs each of its items' own actions.
		for _, it := range in.TransactItems {
			var action string
			var name *string
			switch {
			case it.Put != nil:
				action, name = "PutItem", it.Put.TableName
			case it.Update != nil:
				action, name = "UpdateItem", it.Update.TableName
			case it.Delete != nil:
				action, name = "DeleteItem", it.Delete.TableName
			case it.ConditionCheck != nil:
				action, name = "ConditionCheckItem", it.ConditionCheck.TableName
			}
			table, ok := rec.tables[aws.ToString(name)]
			if !ok {
				rec.errs = append(rec.errs, fmt.Sprintf("%s in a transaction on table %q: not a table of the test", action, aws.ToString(name)))
				continue
			}
			rec.calls = append(rec.calls, grant{Action: "dynamodb:" + action, Table: table})
		}
		return
	}
	table, ok := rec.tables[field("TableName")]
	if op == "" || !ok {
		// A batch or transaction names its tables elsewhere: teach
		// record to read them before a route calls one.
		rec.errs = append(rec.errs, fmt.Sprintf("%s on table %q: not a single-table call on a table of the test", op, field("TableName")))
		return
	}
	rec.calls = append(rec.calls, grant{Action: "dynamodb:" + op, Table: table, Index: field("IndexName")})
}

// scenario is one request to a route: its sample event, changed by edit.
type scenario struct {
	name   string
	edit   func(ev *events.APIGatewayV2HTTPRequest)
	status int
	// mode is the ownership mode (OWNERSHIP_MODE); "" is the default, tag.
	mode ownership.Mode
}

func sample(status int) scenario { return scenario{name: "sample event", status: status} }

// setQuery replaces the event's query string.
func setQuery(ev *events.APIGatewayV2HTTPRequest, q url.Values) {
	ev.RawQueryString = q.Encode()
	ev.QueryStringParameters = map[string]string{}
	for k := range q {
		ev.QueryStringParameters[k] = q.Get(k)
	}
}

func asAdmin(ev *events.APIGatewayV2HTTPRequest) {
	ev.RequestContext.Authorizer.JWT.Claims["roles"] = "admin"
}

func listScenarios(markerID string) []scenario {
	return []scenario{
		sample(http.StatusOK),
		{"marker", func(ev *events.APIGatewayV2HTTPRequest) {
			setQuery(ev, url.Values{"marker": {markerID}})
		}, http.StatusOK, ""},
		{"all_tenants as admin", func(ev *events.APIGatewayV2HTTPRequest) {
			asAdmin(ev)
			setQuery(ev, url.Values{"all_tenants": {"1"}})
		}, http.StatusOK, ""},
		{"all_tenants as admin with marker", func(ev *events.APIGatewayV2HTTPRequest) {
			asAdmin(ev)
			setQuery(ev, url.Values{"all_tenants": {"1"}, "marker": {markerID}})
		}, http.StatusOK, ""},
	}
}

// filterScenarios are the checkpoint listing's filters, each of which
// Queries its own index, for a project and for all_tenants.
func filterScenarios() []scenario {
	var out []scenario
	for name, q := range map[string]url.Values{
		"plan_id":            {"plan_id": {planID}},
		"status":             {"status": {"available"}},
		"plan_id and status": {"plan_id": {planID}, "status": {"available"}},
	} {
		out = append(out, scenario{name, func(ev *events.APIGatewayV2HTTPRequest) { setQuery(ev, q) }, http.StatusOK, ""},
			scenario{name + ", all_tenants", func(ev *events.APIGatewayV2HTTPRequest) {
				asAdmin(ev)
				all := url.Values{"all_tenants": {"1"}}
				for k, v := range q {
					all[k] = v
				}
				setQuery(ev, all)
			}, http.StatusOK, ""})
	}
	return out
}

// scenarios lists, per function, requests that together reach every call
// the function makes to DynamoDB. Each runs over fresh tables seeded with
// the plan and the checkpoint the sample events name.
var scenarios = map[string][]scenario{
	"list-checkpoints": append(listScenarios(checkpointID), filterScenarios()...),
	"create-checkpoint": append([]scenario{sample(http.StatusOK)},
		idempotencyScenarios(`{"checkpoint": {"plan_id": "00000000-0000-4000-8000-000000000000"}}`, http.StatusNotFound)...),
	"show-checkpoint":        {sample(http.StatusOK)},
	"delete-checkpoint":      {sample(http.StatusOK)},
	"reset-checkpoint-state": {sample(http.StatusOK)},
	"list-providers":         {sample(http.StatusOK)},
	"show-provider":          {sample(http.StatusOK)},
	"create-plan":            append([]scenario{sample(http.StatusOK)}, idempotencyScenarios(`{"plan": {}}`, http.StatusBadRequest)...),
	"list-plans":             listScenarios(planID),
	"show-plan":              {sample(http.StatusOK)},
	"update-plan": {
		sample(http.StatusOK),
		// A change of resources reads the plan, to check them against its
		// provider.
		{"with resources", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Body = `{"plan": {"resources": [{"id": "cb4ef2ff-10f5-46c9-bce4-cf7a49c65a01", "type": "OS::Nova::Server", "name": "App server"}]}}`
			delete(ev.Headers, "content-length")
		}, http.StatusOK, ""},
	},
	"delete-plan": {sample(http.StatusOK)},
	// Quotas: the project without an override reads the class too.
	"show-quota":          {sample(http.StatusOK)},
	"show-quota-detail":   {sample(http.StatusOK)},
	"show-quota-defaults": {sample(http.StatusOK)},
	"update-quota":        {sample(http.StatusOK)},
	"delete-quota":        {sample(http.StatusOK)},
	"show-quota-class":    {sample(http.StatusOK)},
	"update-quota-class":  {sample(http.StatusOK)},
	"not-found":           {sample(http.StatusMethodNotAllowed)},
	"show-openapi":        {sample(http.StatusOK)},
	// by_project, and the marker's GetItem (one project) or Query by id
	// (all_tenants: by_all); by_checkpoint and by_status by their filters.
	"list-operation-logs": append(listScenarios(operationLogID),
		scenario{"checkpoint_id", func(ev *events.APIGatewayV2HTTPRequest) {
			setQuery(ev, url.Values{"checkpoint_id": {checkpointID}, "operation_type": {"protect"}})
		}, http.StatusOK, ""},
		scenario{"status", func(ev *events.APIGatewayV2HTTPRequest) {
			setQuery(ev, url.Values{"status": {"available"}, "plan_id": {planID}})
		}, http.StatusOK, ""}),
	"show-operation-log": {sample(http.StatusOK)},
	"create-restore": append([]scenario{sample(http.StatusOK),
		// An instance's subnet and security groups are looked up (the
		// answer: they are not the project's).
		{"with a subnet and security groups", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Body = `{"restore": {"provider_id": "` + provider.AWSID + `", "checkpoint_id": "` + awsCheckpointID + `", "parameters": {"AWS::EC2::Instance": {"subnet_id": "subnet-0123456789abcdef0", "security_group_ids": "sg-0123456789abcdef0"}}}}`
			delete(ev.Headers, "content-length")
		}, http.StatusBadRequest, ""},
		{"with security groups", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Body = `{"restore": {"provider_id": "` + provider.AWSID + `", "checkpoint_id": "` + awsCheckpointID + `", "parameters": {"AWS::EC2::Instance": {"security_group_ids": ["sg-0123456789abcdef0"]}}}}`
			delete(ev.Headers, "content-length")
		}, http.StatusBadRequest, ""}},
		idempotencyScenarios(`{"restore": {}}`, http.StatusBadRequest)...),
	"list-restores":       append(listScenarios(restoreID), taskFilterScenarios()...),
	"show-restore":        {sample(http.StatusOK)},
	"create-verification": append([]scenario{sample(http.StatusOK)}, idempotencyScenarios(`{"verification": {}}`, http.StatusBadRequest)...),
	"list-verifications":  append(listScenarios(verificationID), taskFilterScenarios()...),
	"show-verification":   {sample(http.StatusOK)},
}

// The restore and verification the task routes' sample events name, and
// an available checkpoint of the AWS provider.
const (
	restoreID       = "22b82aa7-9179-4c71-bba2-caf5c0e68db7"
	verificationID  = "5a7b9e3c-2f4d-4e8a-9b1c-0d2e3f4a5b6c"
	awsCheckpointID = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
)

// seedTasks writes the sample restore and verification (ended, so that
// the checkpoint is not marked) and an available checkpoint of the AWS
// provider with an instance.
func seedTasks(t *testing.T, s *store.Store) {
	t.Helper()
	for id, kind := range map[string]domain.TaskKind{restoreID: domain.KindRestore, verificationID: domain.KindVerification} {
		task := &domain.Task{Kind: kind, ID: id, ProjectID: projectID, ProviderID: providerID, CheckpointID: checkpointID, PlanID: planID,
			Status: domain.TaskInProgress, CreatedAt: created, UpdatedAt: created, DueAt: created}
		if _, err := s.CreateTask(t.Context(), task); err != nil {
			t.Fatalf("seed %s: %v", kind, err)
		}
		task.Status = domain.TaskSuccess
		if _, err := s.EndTask(t.Context(), task); err != nil {
			t.Fatalf("seed %s: %v", kind, err)
		}
	}
	cp := &domain.Checkpoint{ID: awsCheckpointID, ProjectID: projectID, ProviderID: provider.AWSID, Status: domain.StatusAvailable,
		Plan: domain.ProtectionPlan{ID: planID, Name: "AWS", ProviderID: provider.AWSID,
			Resources: []domain.Resource{{ID: "i-0123456789abcdef0", Type: provider.TypeEC2Instance, Name: "web"}}},
		ExtraInfo: json.RawMessage(`{}`), CreatedAt: created, UpdatedAt: created}
	if err := s.CreateCheckpoint(t.Context(), cp); err != nil {
		t.Fatalf("seed AWS checkpoint: %v", err)
	}
}

// taskFilterScenarios are the task listings' filters, each of which
// Queries its own index, for a project and for all_tenants.
func taskFilterScenarios() []scenario {
	var out []scenario
	for name, q := range map[string]url.Values{
		"checkpoint_id":            {"checkpoint_id": {checkpointID}},
		"status":                   {"status": {"success"}},
		"checkpoint_id and status": {"checkpoint_id": {checkpointID}, "status": {"success"}},
		"provider_id":              {"provider_id": {providerID}},
	} {
		out = append(out, scenario{name, func(ev *events.APIGatewayV2HTTPRequest) { setQuery(ev, q) }, http.StatusOK, ""},
			scenario{name + ", all_tenants", func(ev *events.APIGatewayV2HTTPRequest) {
				asAdmin(ev)
				all := url.Values{"all_tenants": {"1"}}
				for k, v := range q {
					all[k] = v
				}
				setQuery(ev, all)
			}, http.StatusOK, ""})
	}
	return out
}

// The inventory's scenarios need AWS resources the sample tenant owns:
// the sample events' table "orders", and a volume and an instance made
// once per test binary (their ids are moto's).
func init() {
	scenarios["create-plan"] = append(scenarios["create-plan"], scenario{name: "with AWS resources", status: http.StatusOK,
		edit: func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Body = `{"plan": {"name": "aws", "parameters": {}, "provider_id": "` + providerID + `", "resources": ` + owned.resourcesJSON() + `}}`
			delete(ev.Headers, "content-length")
		}})
	scenarios["update-plan"] = append(scenarios["update-plan"], scenario{name: "with AWS resources", status: http.StatusOK,
		edit: func(ev *events.APIGatewayV2HTTPRequest) {
			// The seeded plan is the No-Op provider's, which takes any
			// type: AWS:: ones are checked all the same.
			ev.Body = `{"plan": {"resources": ` + owned.resourcesJSON() + `}}`
			delete(ev.Headers, "content-length")
		}})
	scenarios["list-protectables"] = []scenario{sample(http.StatusOK)}
	scenarios["show-protectable"] = []scenario{sample(http.StatusOK),
		// A client may percent-encode the colons: API Gateway passes the
		// raw path on, and the type is matched after decoding.
		{name: "percent-encoded type", status: http.StatusOK, edit: func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RawPath = strings.ReplaceAll(ev.RawPath, "::", "%3A%3A")
			ev.RequestContext.HTTP.Path = ev.RawPath
		}},
		{name: "an OS type", status: http.StatusNotFound, edit: func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RawPath = strings.Replace(ev.RawPath, "AWS::DynamoDB::Table", "OS::Nova::Server", 1)
			ev.RequestContext.HTTP.Path = ev.RawPath
		}},
	}
	typed := func(typ string, id func() string, mode ownership.Mode) scenario {
		return scenario{name: typ + " " + string(mode), status: http.StatusOK, mode: mode,
			edit: func(ev *events.APIGatewayV2HTTPRequest) {
				ev.RawPath = strings.Replace(ev.RawPath, "AWS::DynamoDB::Table", typ, 1)
				if id != nil {
					ev.RawPath = strings.Replace(ev.RawPath, "/orders", "/"+id(), 1)
				}
				ev.RequestContext.HTTP.Path = ev.RawPath
			}}
	}
	scenarios["list-protectable-instances"] = []scenario{
		sample(http.StatusOK), // tables, tag mode: the tagging API
		typed(domain.TypeDynamoDBTable, nil, ownership.ModeAccount), // ListTables
		typed(domain.TypeEC2Volume, nil, ""),
		typed(domain.TypeEC2Instance, nil, ""),
	}
	scenarios["show-protectable-instance"] = []scenario{
		sample(http.StatusOK),
		typed(domain.TypeEC2Volume, func() string { return owned.volume }, ""),
		typed(domain.TypeEC2Instance, func() string { return owned.instance }, ""),
	}
}

// ownedResources are AWS resources of the sample tenant. (The plans are
// the No-Op provider's, which takes any type: AWS:: ones are checked all
// the same.)
type ownedResources struct {
	once             sync.Once
	volume, instance string
}

var owned ownedResources

// make creates them once (the table "orders" if missing).
func (o *ownedResources) make(t *testing.T) {
	o.once.Do(func() {
		e := invenv.New(t)
		ensureOrders(t, e)
		o.volume = e.Volume(invenv.Owner(projectID))
		o.instance, _ = e.Instance(invenv.Owner(projectID))
	})
	if o.volume == "" {
		t.Fatal("the owned resources could not be made")
	}
}

func (o *ownedResources) resourcesJSON() string {
	return `[{"id": "orders", "type": "AWS::DynamoDB::Table", "name": "orders"},
		{"id": "` + o.volume + `", "type": "AWS::EC2::Volume", "name": "v"},
		{"id": "` + o.instance + `", "type": "AWS::EC2::Instance", "name": "i"}]`
}

// ensureOrders makes the sample events' table "orders", owned by the
// sample tenant, unless it exists (tests of a binary share moto).
func ensureOrders(t testing.TB, e *invenv.Env) {
	t.Helper()
	if _, err := e.DynamoDB.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("orders")}); err == nil {
		return
	}
	e.Table("orders", invenv.Owner(projectID))
}

func TestRoutePolicies(t *testing.T) {
	owned.make(t)
	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range api.Functions() {
		t.Run(r.Name, func(t *testing.T) {
			scs, ok := scenarios[r.Name]
			if !ok || len(scs) == 0 {
				t.Fatalf("no scenarios for %s: add requests that reach every DynamoDB call it makes", r.Name)
			}
			i := slices.IndexFunc(fns, func(f cfn.Function) bool { return f.LogicalID == r.LogicalID() })
			if i < 0 {
				t.Fatalf("template.yaml has no function %s; run make generate", r.LogicalID())
			}
			granted := grants(t, fns[i])

			var called []grant
			for _, sc := range scs {
				t.Run(sc.name, func(t *testing.T) { called = append(called, runScenario(t, r, sc)...) })
			}
			for _, c := range called {
				if !slices.ContainsFunc(granted, func(g grant) bool { return g.covers(c) }) {
					t.Errorf("%s calls %s, which template.yaml does not grant it: add it to the route's Access", r.LogicalID(), c)
				}
			}
			for _, g := range granted {
				if !slices.ContainsFunc(called, g.covers) {
					t.Errorf("%s is granted %s, which no scenario called: remove it from the route's Access, or add the scenario that needs it", r.LogicalID(), g)
				}
				if r.Method == http.MethodGet && api.Action(g.Action).Writes() {
					t.Errorf("%s serves GET and is granted the write action %s", r.LogicalID(), g)
				}
			}
		})
	}
	for name := range scenarios {
		if _, ok := api.RouteByName(name); !ok {
			t.Errorf("scenarios has %s, which is no route", name)
		}
	}
}

// The only resources a route's statements may name: a table, or its
// indexes.
var (
	tableARN = regexp.MustCompile(`^!GetAtt (\w+)\.Arn$`)
	indexARN = regexp.MustCompile(`^!Sub \$\{(\w+)\.Arn\}/index/(\*|\w+)$`)
)

// The resources an inventory statement may name: every table of the
// account and region, or "*".
const anyTableARN = `!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*`

// grants lists the (action, resource) pairs a function's policy allows.
func grants(t *testing.T, f cfn.Function) []grant {
	t.Helper()
	if f.Role != "" || len(f.Policies) > 0 {
		t.Errorf("%s has role %q and managed policies or policy templates %q; want only explicit statements", f.LogicalID, f.Role, f.Policies)
	}
	var out []grant
	for _, st := range f.Statements {
		if st.Effect != "Allow" {
			t.Errorf("%s has a %s statement; want Allow only", f.LogicalID, st.Effect)
			continue
		}
		for _, res := range st.Resources {
			var table, index string
			var other api.Resource
			if res == anyTableARN {
				other = api.AnyTable
			} else if res == "*" {
				other = api.AnyResource
			} else if m := tableARN.FindStringSubmatch(res); m != nil {
				table = m[1]
			} else if m := indexARN.FindStringSubmatch(res); m != nil {
				table, index = m[1], m[2]
			} else {
				t.Errorf("%s is allowed %q on %q; want !GetAtt <table>.Arn or !Sub ${<table>.Arn}/index/<name or *>", f.LogicalID, st.Actions, res)
				continue
			}
			for _, a := range st.Actions {
				if other != "" && !strings.HasPrefix(a, "ec2:Describe") && !strings.HasPrefix(a, "dynamodb:Describe") &&
					!strings.HasPrefix(a, "dynamodb:List") && a != "tag:GetResources" {
					t.Errorf("%s is allowed %s on %q: only reads may name resources outside the service", f.LogicalID, a, res)
				}
				out = append(out, grant{Action: a, Table: table, Index: index, Resource: other})
			}
		}
	}
	return out
}

// runScenario serves one request with the route's handler as its Lambda
// function does, and returns the DynamoDB calls it made.
func runScenario(t *testing.T, r api.Route, sc scenario) []grant {
	b, err := os.ReadFile(filepath.Join(rie.RepoRoot(t), "events", r.Name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if sc.edit != nil {
		sc.edit(&ev)
	}

	plans, checkpoints := testenv.Tables(t)
	idem := testenv.IdempotencyTable(t)
	oplogs := testenv.OperationLogsTable(t)
	tasks := testenv.TasksTable(t)
	quotas := testenv.Table(t, tables.Quotas, "quotas")
	schedules := testenv.Table(t, tables.Schedules, "schedules")
	st := store.New(testenv.DynamoDB(t), plans, checkpoints).WithOperationLogs(oplogs).WithTasks(tasks).WithQuotas(quotas).WithSchedules(schedules)
	seed(t, st)
	if strings.Contains(r.Name, "restore") || strings.Contains(r.Name, "verification") {
		seedTasks(t, st)
	}
	if schedulesRoute(r.Name) {
		seedSchedules(t, st)
	}
	rec := &recorder{tables: map[string]string{plans: string(api.PlansTable), checkpoints: string(api.CheckpointsTable), idem: string(api.IdempotencyTable),
		oplogs: string(api.OperationLogsTable), tasks: string(api.TasksTable), quotas: string(api.QuotasTable), schedules: string(api.SchedulesTable)}}
	// The service as the function builds it, over the recording clients.
	t.Setenv("PLANS_TABLE", plans)
	t.Setenv("CHECKPOINTS_TABLE", checkpoints)
	t.Setenv("IDEMPOTENCY_TABLE", idem)
	t.Setenv("OPERATION_LOGS_TABLE", oplogs)
	t.Setenv("TASKS_TABLE", tasks)
	t.Setenv("QUOTAS_TABLE", quotas)
	t.Setenv("SCHEDULES_TABLE", schedules)
	t.Setenv("OWNERSHIP_MODE", string(sc.mode))
	svc, err := lambdafn.NewServiceOver(r, slog.New(slog.NewTextHandler(io.Discard, nil)), rec.client(t), rec.inventory(t))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpadapter.NewV2(lambdafn.Handler(svc, r)).ProxyWithContext(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if evJSON, err := json.Marshal(ev); err != nil {
		t.Error(err)
	} else {
		openapicheck.API(t).Lambda(t, evJSON, resp, r.Name == api.Fallback.Name)
	}
	if resp.StatusCode != sc.status {
		t.Errorf("status %d, want %d; body %s", resp.StatusCode, sc.status, resp.Body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.errs {
		t.Error(e)
	}
	return rec.calls
}
