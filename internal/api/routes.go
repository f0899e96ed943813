package api

import (
	"net/http"
	"strings"
)

// Route is one Lambda function behind the HTTP API: an operation of the API,
// or the Fallback. Its declaration here is the only one: `make generate`
// (internal/local/cmd/karbor-gen) derives from it the function's block of
// template.yaml (its event and its IAM statements, from Access), its build
// target in functions.mk, functions/<Name>/main.go and, when missing, a
// skeleton events/<Name>.json; the local server mounts Routes.
type Route struct {
	Name   string // folder under functions/, file name under events/, and (as LogicalID) the template's logical id
	Method string // "" only for the Fallback
	Path   string // API Gateway route path, also a net/http pattern; "" only for the Fallback
	// Anonymous routes take no caller: API Gateway runs no authorizer and
	// the handler asks for no credentials.
	Anonymous bool
	// Policy is who may perform the route, by role (policy.go); every
	// route that is not Anonymous declares one. POLICY_OVERRIDES may
	// replace it.
	Policy Rule
	// Access is every AWS action the function may call, on which table or
	// index of the service or on which resources it reads in the account
	// (the protectable resources): its IAM statements, exactly. A test runs
	// the handler against moto and checks that it calls all of them and
	// nothing else.
	Access []Access
	handle handlerFunc
	// idempotent routes take the Idempotency-Key header: declare them with
	// Idempotent.
	idempotent bool
	// screen, for an idempotent route, refuses a body before its key is
	// reserved (see Idempotent).
	screen func(body []byte) error
}

// Table is a DynamoDB table by its logical id in template.yaml.
type Table string

// The tables of template.yaml.
const (
	PlansTable       Table = "PlansTable"
	CheckpointsTable Table = "CheckpointsTable"
	// OperationLogsTable holds the operation logs (read-only to the API).
	OperationLogsTable Table = "OperationLogsTable"
	TasksTable         Table = "TasksTable"
	// SchedulesTable holds triggers and scheduled operations.
	SchedulesTable Table = "SchedulesTable"
	// QuotasTable holds quota overrides, classes and usage counts.
	QuotasTable Table = "QuotasTable"
)

// Action is an IAM action.
type Action string

// The actions routes call: DynamoDB's on the service's tables, and the
// read-only lookups of the protectable resources (package inventory).
const (
	GetItem    Action = "dynamodb:GetItem"
	Query      Action = "dynamodb:Query"
	PutItem    Action = "dynamodb:PutItem"
	UpdateItem Action = "dynamodb:UpdateItem"
	DeleteItem Action = "dynamodb:DeleteItem"

	DescribeTable      Action = "dynamodb:DescribeTable"
	ListTagsOfResource Action = "dynamodb:ListTagsOfResource"
	ListTables         Action = "dynamodb:ListTables"
	DescribeVolumes    Action = "ec2:DescribeVolumes"
	DescribeInstances  Action = "ec2:DescribeInstances"
	// A restore's subnet and security groups (tag mode: their tags).
	DescribeSubnets        Action = "ec2:DescribeSubnets"
	DescribeSecurityGroups Action = "ec2:DescribeSecurityGroups"
	GetResources           Action = "tag:GetResources"
)

// Writes reports whether the action changes data.
func (a Action) Writes() bool { return a == PutItem || a == UpdateItem || a == DeleteItem }

// Access grants one action on a table of the service, or on one of its
// indexes, or (Resource set, Table empty) on resources of the account.
type Access struct {
	Action Action
	Table  Table
	Index  string // "" for the table itself, an index name, or "*" for all of its indexes
	// Resource is what an inventory action reads: AnyTable or AnyResource.
	Resource Resource
}

// Resource is a resource of the account outside the service's own tables.
type Resource string

// The resources inventory actions name.
const (
	// AnyTable is every DynamoDB table of the account and region.
	AnyTable Resource = "table/*"
	// AnyResource is "*": for actions that support no resource-level
	// permissions (EC2's Describe*, tag:GetResources, ListTables).
	AnyResource Resource = "*"
)

// Reads grants actions on resources of the account.
func Reads(res Resource, actions ...Action) []Access {
	out := make([]Access, 0, len(actions))
	for _, a := range actions {
		out = append(out, Access{Action: a, Resource: res})
	}
	return out
}

// inventoryChecks is what checking resources costs (inventory.Check and
// Show): DescribeTable and ListTagsOfResource on the tables, the EC2
// describes (which support no resource-level permission).
var inventoryChecks = grants(Reads(AnyTable, DescribeTable, ListTagsOfResource), Reads(AnyResource, DescribeVolumes, DescribeInstances))

// On grants actions on a table.
func On(t Table, actions ...Action) []Access {
	out := make([]Access, 0, len(actions))
	for _, a := range actions {
		out = append(out, Access{Action: a, Table: t})
	}
	return out
}

// QueryIndexes grants Query on indexes of a table ("*": all of them).
func QueryIndexes(t Table, indexes ...string) []Access {
	out := make([]Access, 0, len(indexes))
	for _, ix := range indexes {
		out = append(out, Access{Action: Query, Table: t, Index: ix})
	}
	return out
}

func grants(lists ...[]Access) []Access {
	var out []Access
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

const (
	checkpointsPath   = "/v1/{tenant_id}/providers/{provider_id}/checkpoints"
	checkpointPath    = checkpointsPath + "/{checkpoint_id}"
	providersPath     = "/v1/{tenant_id}/providers"
	providerPath      = providersPath + "/{provider_id}"
	plansPath         = "/v1/{tenant_id}/plans"
	planPath          = plansPath + "/{plan_id}"
	protectablesPath  = "/v1/{tenant_id}/protectables"
	protectablePath   = protectablesPath + "/{protectable_type}"
	instancesPath     = protectablePath + "/instances"
	instancePath      = instancesPath + "/{resource_id}"
	operationLogsPath = "/v1/{tenant_id}/operation_logs"
	operationLogPath  = operationLogsPath + "/{operation_log_id}"
	restoresPath      = "/v1/{tenant_id}/restores"
	restorePath       = restoresPath + "/{restore_id}"
	verificationsPath = "/v1/{tenant_id}/verifications"
	verificationPath  = verificationsPath + "/{verification_id}"
	triggersPath      = "/v1/{tenant_id}/triggers"
	triggerPath       = triggersPath + "/{trigger_id}"
	operationsPath    = "/v1/{tenant_id}/scheduled_operations"
	operationPath     = operationsPath + "/{scheduled_operation_id}"
	quotaPath         = "/v1/{tenant_id}/quotas/{project_id}"
	quotaClassPath    = "/v1/{tenant_id}/quota_classes/{class_name}"
)

// taskCreate is what creating a restore or verification costs: the
// checkpoint's GetItem, then one TransactWriteItems (IAM has no action of
// its own for it: PutItem of the task, UpdateItem of the checkpoint's
// mark); when that is cancelled by the checkpoint, a GetItem of it again.
// quotaCount is what a counted create costs (store.writeCounted): the
// project's quota item and the default class read (GetItem), the count
// updated in the create's transaction (UpdateItem).
var quotaCount = On(QuotasTable, GetItem, UpdateItem)

var taskCreate = grants(On(CheckpointsTable, GetItem, UpdateItem), On(TasksTable, PutItem))

// taskList is what a listing of restores or verifications costs: the
// marker's item (GetItem in one project, Query by id for all_tenants); one
// index per filter, project or all_tenants.
var taskList = grants(On(TasksTable, GetItem, Query), QueryIndexes(TasksTable,
	"by_project", "by_all", "by_checkpoint", "by_checkpoint_all", "by_status", "by_status_all"))

// The functions behind the HTTP API. Each is named after its Name
// (show-checkpoint: ShowCheckpoint), as functions/<Name>/main.go, generated,
// refers to it: lambdafn.Start(api.ShowCheckpoint).
var (
	ListCheckpoints = Route{Name: "list-checkpoints", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: checkpointsPath, handle: (*Service).listCheckpoints,
		// The table: the marker's item (GetItem in one project, Query by
		// id for all_tenants); one index per filter, project or all_tenants.
		Access: grants(On(CheckpointsTable, GetItem, Query), QueryIndexes(CheckpointsTable,
			"by_project", "by_provider", "by_plan", "by_status", "by_plan_all", "by_status_all"))}
	CreateCheckpoint = Idempotent(Route{Name: "create-checkpoint", Policy: RuleMemberOrAdmin, Method: http.MethodPost, Path: checkpointsPath, handle: (*Service).createCheckpoint,
		Access: grants(On(PlansTable, GetItem), On(CheckpointsTable, PutItem), quotaCount)})
	ShowCheckpoint = Route{Name: "show-checkpoint", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: checkpointPath, handle: (*Service).showCheckpoint,
		Access: On(CheckpointsTable, GetItem)}
	DeleteCheckpoint = Route{Name: "delete-checkpoint", Policy: RuleMemberOrAdmin, Method: http.MethodDelete, Path: checkpointPath, handle: (*Service).deleteCheckpoint,
		Access: On(CheckpointsTable, UpdateItem)}
	ResetCheckpointState = Route{Name: "reset-checkpoint-state", Policy: RuleMemberOrAdmin, Method: http.MethodPut, Path: checkpointPath, handle: (*Service).resetCheckpointState,
		Access: On(CheckpointsTable, UpdateItem)}
	// Providers are a registry compiled into the code: no table access.
	ListProviders = Route{Name: "list-providers", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: providersPath, handle: (*Service).listProviders}
	ShowProvider  = Route{Name: "show-provider", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: providerPath, handle: (*Service).showProvider}
	// Plans check the AWS resources they name (package inventory).
	CreatePlan = Idempotent(Route{Name: "create-plan", Policy: RuleMemberOrAdmin, Method: http.MethodPost, Path: plansPath, handle: (*Service).createPlan,
		Access: grants(On(PlansTable, PutItem), quotaCount, inventoryChecks)})
	ListPlans = Route{Name: "list-plans", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: plansPath, handle: (*Service).listPlans,
		Access: grants(On(PlansTable, GetItem, Query), QueryIndexes(PlansTable, "*"))}
	ShowPlan = Route{Name: "show-plan", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: planPath, handle: (*Service).showPlan,
		Access: On(PlansTable, GetItem)}
	// GetItem: a change of resources reads the plan first, to check them
	// against the plan's provider.
	UpdatePlan = Route{Name: "update-plan", Policy: RuleMemberOrAdmin, Method: http.MethodPut, Path: planPath, handle: (*Service).updatePlan,
		Access: grants(On(PlansTable, GetItem, UpdateItem), inventoryChecks)}
	// UpdateItem on QuotasTable: the project's count of plans, in the
	// delete's transaction.
	DeletePlan = Route{Name: "delete-plan", Policy: RuleMemberOrAdmin, Method: http.MethodDelete, Path: planPath, handle: (*Service).deletePlan,
		Access: grants(On(PlansTable, DeleteItem), On(QuotasTable, UpdateItem))}
	// The protectable types are compiled into the code: no AWS access.
	ListProtectables = Route{Name: "list-protectables", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: protectablesPath, handle: (*Service).listProtectableTypes}
	ShowProtectable  = Route{Name: "show-protectable", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: protectablePath, handle: (*Service).showProtectableType}
	// A listing finds the project's tables with the tagging API (tag
	// mode) or ListTables (account mode), its volumes and instances with
	// EC2's describes.
	ListProtectableInstances = Route{Name: "list-protectable-instances", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: instancesPath, handle: (*Service).listProtectableInstances,
		Access: grants(inventoryChecks, Reads(AnyResource, GetResources, ListTables))}
	ShowProtectableInstance = Route{Name: "show-protectable-instance", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: instancePath, handle: (*Service).showProtectableInstance,
		Access: inventoryChecks}
	// The table: the marker's item (GetItem in one project, Query by id
	// for all_tenants); the index the filters narrow to.
	ListOperationLogs = Route{Name: "list-operation-logs", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: operationLogsPath, handle: (*Service).listOperationLogs,
		Access: grants(On(OperationLogsTable, GetItem, Query), QueryIndexes(OperationLogsTable, "by_project", "by_all", "by_checkpoint", "by_status"))}
	ShowOperationLog = Route{Name: "show-operation-log", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: operationLogPath, handle: (*Service).showOperationLog,
		Access: On(OperationLogsTable, GetItem)}
	// A restore's subnet and security groups are looked up (tag mode).
	CreateRestore = Idempotent(Route{Name: "create-restore", Policy: RuleMemberOrAdmin, Method: http.MethodPost, Path: restoresPath, handle: (*Service).createRestore,
		Access: grants(taskCreate, Reads(AnyResource, DescribeSubnets, DescribeSecurityGroups)), screen: screenRestore})
	ListRestores = Route{Name: "list-restores", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: restoresPath, handle: (*Service).listRestores,
		Access: taskList}
	ShowRestore = Route{Name: "show-restore", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: restorePath, handle: (*Service).showRestore,
		Access: On(TasksTable, GetItem)}
	CreateVerification = Idempotent(Route{Name: "create-verification", Policy: RuleMemberOrAdmin, Method: http.MethodPost, Path: verificationsPath, handle: (*Service).createVerification,
		Access: taskCreate})
	ListVerifications = Route{Name: "list-verifications", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: verificationsPath, handle: (*Service).listVerifications,
		Access: taskList}
	ShowVerification = Route{Name: "show-verification", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: verificationPath, handle: (*Service).showVerification,
		Access: On(TasksTable, GetItem)}

	// Triggers and scheduled operations (SchedulesTable; a scheduled
	// operation's create and delete also mark the plan).
	CreateTrigger = Idempotent(Route{Name: "create-trigger", Policy: RuleMemberOrAdmin, Method: http.MethodPost, Path: triggersPath, handle: (*Service).createTrigger,
		Access: On(SchedulesTable, PutItem)})
	ListTriggers = Route{Name: "list-triggers", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: triggersPath, handle: (*Service).listTriggers,
		Access: grants(On(SchedulesTable, GetItem, Query), QueryIndexes(SchedulesTable, "by_project", "by_all"))}
	ShowTrigger = Route{Name: "show-trigger", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: triggerPath, handle: (*Service).showTrigger,
		Access: On(SchedulesTable, GetItem)}
	UpdateTrigger = Route{Name: "update-trigger", Policy: RuleMemberOrAdmin, Method: http.MethodPut, Path: triggerPath, handle: (*Service).updateTrigger,
		Access: On(SchedulesTable, GetItem, UpdateItem)}
	DeleteTrigger = Route{Name: "delete-trigger", Policy: RuleMemberOrAdmin, Method: http.MethodDelete, Path: triggerPath, handle: (*Service).deleteTrigger,
		Access: On(SchedulesTable, DeleteItem)}
	CreateScheduledOperation = Idempotent(Route{Name: "create-scheduled-operation", Policy: RuleMemberOrAdmin, Method: http.MethodPost, Path: operationsPath, handle: (*Service).createScheduledOperation,
		Access: grants(On(SchedulesTable, GetItem, PutItem, UpdateItem), On(PlansTable, GetItem, UpdateItem))})
	ListScheduledOperations = Route{Name: "list-scheduled-operations", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: operationsPath, handle: (*Service).listScheduledOperations,
		Access: grants(On(SchedulesTable, GetItem, Query), QueryIndexes(SchedulesTable, "by_project", "by_all"))}
	ShowScheduledOperation = Route{Name: "show-scheduled-operation", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: operationPath, handle: (*Service).showScheduledOperation,
		Access: On(SchedulesTable, GetItem)}
	UpdateScheduledOperation = Route{Name: "update-scheduled-operation", Policy: RuleMemberOrAdmin, Method: http.MethodPut, Path: operationPath, handle: (*Service).updateScheduledOperation,
		Access: On(SchedulesTable, UpdateItem)}
	DeleteScheduledOperation = Route{Name: "delete-scheduled-operation", Policy: RuleMemberOrAdmin, Method: http.MethodDelete, Path: operationPath, handle: (*Service).deleteScheduledOperation,
		Access: grants(On(SchedulesTable, GetItem, DeleteItem, UpdateItem), On(PlansTable, UpdateItem))}

	// Quotas (QuotasTable).
	ShowQuota = Route{Name: "show-quota", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: quotaPath, handle: (*Service).showQuota,
		Access: On(QuotasTable, GetItem)}
	ShowQuotaDetail = Route{Name: "show-quota-detail", Policy: RuleReaderOrAbove, Method: http.MethodGet, Path: quotaPath + "/detail", handle: (*Service).showQuotaDetail,
		Access: On(QuotasTable, GetItem)}
	ShowQuotaDefaults = Route{Name: "show-quota-defaults", Policy: RuleAny, Method: http.MethodGet, Path: quotaPath + "/defaults", handle: (*Service).showQuotaDefaults,
		Access: On(QuotasTable, GetItem)}
	UpdateQuota = Route{Name: "update-quota", Policy: RuleAdmin, Method: http.MethodPut, Path: quotaPath, handle: (*Service).updateQuota,
		Access: On(QuotasTable, GetItem, UpdateItem)}
	DeleteQuota = Route{Name: "delete-quota", Policy: RuleAdmin, Method: http.MethodDelete, Path: quotaPath, handle: (*Service).deleteQuota,
		Access: On(QuotasTable, UpdateItem)}
	ShowQuotaClass = Route{Name: "show-quota-class", Policy: RuleAny, Method: http.MethodGet, Path: quotaClassPath, handle: (*Service).showQuotaClass,
		Access: On(QuotasTable, GetItem)}
	UpdateQuotaClass = Route{Name: "update-quota-class", Policy: RuleAdmin, Method: http.MethodPut, Path: quotaClassPath, handle: (*Service).updateQuotaClass,
		Access: On(QuotasTable, UpdateItem)}

	// ShowOpenapi serves the API's OpenAPI document (openapi.go), built
	// once per process: anonymous, no AWS access.
	ShowOpenapi = Route{Name: "show-openapi", Method: http.MethodGet, Path: "/openapi.json", Anonymous: true, handle: (*Service).showOpenAPI}

	// NotFound is the function behind API Gateway's $default route, which
	// gets every request no route matches: it has no Method and no Path.
	// Without it API Gateway would answer those itself, outside the fault
	// shape and without a request id. It is anonymous (what it answers
	// reveals nothing) and reads no table. It is not in Routes: the local
	// server's own mux does its job.
	NotFound = Route{Name: "not-found", Anonymous: true}
)

// Routes lists every operation of the service, in template order.
var Routes = []Route{
	ListCheckpoints, CreateCheckpoint, ShowCheckpoint, DeleteCheckpoint, ResetCheckpointState,
	ListProviders, ShowProvider,
	CreatePlan, ListPlans, ShowPlan, UpdatePlan, DeletePlan,
	ListProtectables, ShowProtectable, ListProtectableInstances, ShowProtectableInstance,
	ListOperationLogs, ShowOperationLog,
	CreateRestore, ListRestores, ShowRestore, CreateVerification, ListVerifications, ShowVerification,
	CreateTrigger, ListTriggers, ShowTrigger, UpdateTrigger, DeleteTrigger,
	CreateScheduledOperation, ListScheduledOperations, ShowScheduledOperation, UpdateScheduledOperation, DeleteScheduledOperation,
	ShowQuota, ShowQuotaDetail, ShowQuotaDefaults, UpdateQuota, DeleteQuota, ShowQuotaClass, UpdateQuotaClass,
	ShowOpenapi,
}

// Fallback is NotFound, the function of API Gateway's $default route.
var Fallback = NotFound

// Functions lists every function behind the HTTP API: Routes, then the
// Fallback.
func Functions() []Route { return append(append([]Route(nil), Routes...), Fallback) }

// RouteByName finds a route, or the Fallback, by its Name.
func RouteByName(name string) (Route, bool) {
	for _, r := range Functions() {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// LogicalID is the function's logical id in template.yaml and the name of
// its build target (build-<LogicalID>), derived from its name:
// show-checkpoint ↔ ShowCheckpointFunction.
func (r Route) LogicalID() string { return LogicalID(r.Name) }

// LogicalID derives a function's logical id from its folder name:
// "reset-checkpoint-state" → "ResetCheckpointStateFunction".
func LogicalID(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String() + "Function"
}

// UsesTables reports whether the route reads or writes the service's
// tables.
func (r Route) UsesTables() bool {
	for _, a := range r.Access {
		if a.Table != "" {
			return true
		}
	}
	return false
}

// UsesInventory reports whether the route looks up protectable resources
// (package inventory): its function links the EC2 SDK.
func (r Route) UsesInventory() bool {
	for _, a := range r.Access {
		if a.Resource != "" {
			return true
		}
	}
	return false
}

// UsesTagging reports whether the route calls the tagging API.
func (r Route) UsesTagging() bool {
	for _, a := range r.Access {
		if a.Action == GetResources {
			return true
		}
	}
	return false
}

// Writes reports whether the route may change data.
func (r Route) Writes() bool {
	for _, a := range r.Access {
		if a.Action.Writes() {
			return true
		}
	}
	return false
}
