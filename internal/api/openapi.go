package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// The OpenAPI 3.1 document of the API (docs/openapi.json, written by `make
// generate`; served at GET /openapi.json). Routes are declared once, in
// routes.go; what the document adds to each (its body schemas, query
// parameters and error statuses) is the table opDocs below, keyed by the
// route's Name, next to the handlers' view types whose JSON it describes. A
// test checks that every route has an entry and that no entry names a
// missing route; the test suites validate every response they get against
// the document (internal/testsupport/openapicheck).

// opDoc is what the document says of one route beyond routes.go.
type opDoc struct {
	summary string
	// request is the component schema of the request body ("" for none).
	request string
	// response is the component schema of the 200 body; "" is an empty
	// body.
	response string
	// query names the query parameters the route reads (components/parameters).
	query []string
	// errors are the statuses the route's handler may answer besides those
	// every authenticated route shares (commonErrors).
	errors []int
}

// Query parameters of listings.
var (
	pageQuery    = []string{"limit", "marker"}
	sortedQuery  = []string{"limit", "marker", "sort", "sort_key", "sort_dir"}
	tenantsQuery = []string{"all_tenants", "project_id"}
)

func queryOf(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

const (
	s400 = http.StatusBadRequest
	s404 = http.StatusNotFound
	s409 = http.StatusConflict
	s413 = http.StatusRequestEntityTooLarge
)

var opDocs = map[string]opDoc{
	"list-checkpoints": {summary: "List the checkpoints of a provider", response: "checkpoint_list",
		query: queryOf(sortedQuery, []string{"plan_id", "start_date", "end_date", "status"}, tenantsQuery), errors: []int{s404}},
	"create-checkpoint": {summary: "Create a checkpoint of a plan", request: "checkpoint_create", response: "checkpoint_answer", errors: []int{s404, s409, s413}},
	"show-checkpoint":   {summary: "Show a checkpoint", response: "checkpoint_answer", errors: []int{s404}},
	"delete-checkpoint": {summary: "Delete a checkpoint", response: "empty_object", errors: []int{s404, s409}},
	"reset-checkpoint-state": {summary: "Reset a checkpoint's state", request: "checkpoint_reset_state", response: "empty_object",
		errors: []int{s404, s413}},
	"list-providers": {summary: "List the protection providers", response: "provider_list", query: pageQuery},
	"show-provider":  {summary: "Show a protection provider", response: "provider_answer", errors: []int{s404}},
	"create-plan":    {summary: "Create a plan", request: "plan_create", response: "plan_answer", errors: []int{s409, s413}},
	"list-plans": {summary: "List plans", response: "plan_list",
		query: queryOf(sortedQuery, tenantsQuery, []string{"name", "description", "plan_status"})},
	"show-plan":         {summary: "Show a plan", response: "plan_answer", errors: []int{s404}},
	"update-plan":       {summary: "Update a plan", request: "plan_update", response: "plan_answer", errors: []int{s404, s413}},
	"delete-plan":       {summary: "Delete a plan", errors: []int{s404, s409}},
	"list-protectables": {summary: "List the protectable types", response: "protectable_list"},
	"show-protectable":  {summary: "Show a protectable type", response: "protectable_answer", errors: []int{s404}},
	"list-protectable-instances": {summary: "List the project's instances of a protectable type", response: "instance_list",
		query: queryOf(sortedQuery, []string{"parameters", "type"}), errors: []int{s404}},
	"show-protectable-instance": {summary: "Show a protectable instance", response: "instance_answer", query: []string{"parameters"}, errors: []int{s404}},
	"list-operation-logs": {summary: "List operation logs", response: "operation_log_list",
		query: queryOf(sortedQuery, tenantsQuery, []string{"operation_log_status", "operation_type", "checkpoint_id", "plan_id", "restore_id", "scheduled_operation_id"})},
	"show-operation-log": {summary: "Show an operation log", response: "operation_log_answer", errors: []int{s404}},
	"create-restore":     {summary: "Restore a checkpoint", request: "restore_create", response: "restore_answer", errors: []int{s404, s409, s413}},
	"list-restores": {summary: "List restores", response: "restore_list",
		query: queryOf(sortedQuery, tenantsQuery, []string{"task_status", "checkpoint_id", "provider_id"})},
	"show-restore":        {summary: "Show a restore", response: "restore_answer", errors: []int{s404}},
	"create-verification": {summary: "Verify a checkpoint", request: "verification_create", response: "verification_answer", errors: []int{s404, s409, s413}},
	"list-verifications": {summary: "List verifications", response: "verification_list",
		query: queryOf(sortedQuery, tenantsQuery, []string{"task_status", "checkpoint_id", "provider_id"})},
	"show-verification": {summary: "Show a verification", response: "verification_answer", errors: []int{s404}},
	"create-trigger":    {summary: "Create a trigger", request: "trigger_create", response: "trigger_answer", errors: []int{s409, s413}},
	"list-triggers": {summary: "List triggers", response: "trigger_list",
		query: queryOf(sortedQuery, tenantsQuery, []string{"name", "type", "properties"})},
	"show-trigger":   {summary: "Show a trigger", response: "trigger_answer", errors: []int{s404}},
	"update-trigger": {summary: "Update a trigger", request: "trigger_update", response: "trigger_answer", errors: []int{s404, s413}},
	"delete-trigger": {summary: "Delete a trigger", errors: []int{s404, s409}},
	"create-scheduled-operation": {summary: "Create a scheduled operation", request: "scheduled_operation_create", response: "scheduled_operation_answer",
		errors: []int{s404, s409, s413}},
	"list-scheduled-operations": {summary: "List scheduled operations", response: "scheduled_operation_list",
		query: queryOf(sortedQuery, tenantsQuery, []string{"name", "operation_definition", "operation_type", "trigger_id"})},
	"show-scheduled-operation": {summary: "Show a scheduled operation", response: "scheduled_operation_answer", errors: []int{s404}},
	"update-scheduled-operation": {summary: "Update a scheduled operation", request: "scheduled_operation_update", response: "scheduled_operation_answer",
		errors: []int{s404, s409, s413}},
	"delete-scheduled-operation": {summary: "Delete a scheduled operation", errors: []int{s404, s409}},
	"show-quota":                 {summary: "Show a project's quota", response: "quota_answer"},
	"show-quota-detail":          {summary: "Show a project's quota with usage", response: "quota_detail_answer"},
	"show-quota-defaults":        {summary: "Show the default quota", response: "quota_answer"},
	"update-quota":               {summary: "Update a project's quota", request: "quota_update", response: "quota_answer", errors: []int{s413}},
	"delete-quota":               {summary: "Remove a project's quota overrides"},
	"show-quota-class":           {summary: "Show a quota class", response: "quota_class_answer", errors: []int{s404}},
	"update-quota-class":         {summary: "Update a quota class", request: "quota_class_update", response: "quota_class_answer", errors: []int{s404, s413}},
	"show-openapi":               {summary: "This document", response: "openapi_document"},
}

// commonErrors are the statuses of every authenticated route: a malformed
// tenant (400), no caller (401, also API Gateway's own), another project
// (403), API Gateway's throttling (429), an internal error (500) and AWS's
// throttling (503).
var commonErrors = []int{400, 401, 403, 429, 500, 503}

// FaultNames are the fault names by status (CONTRACT.md "Every response"),
// as the handlers write them.
func FaultNames() map[int]string {
	out := map[int]string{http.StatusInternalServerError: "computeFault"}
	for k, v := range faultNames {
		out[k] = v
	}
	return out
}

// OpDocNames lists the route names the document's table describes.
func OpDocNames() []string {
	names := make([]string, 0, len(opDocs))
	for n := range opDocs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// documented is Routes, set at init: the document's handler is one of them.
var documented []Route

func init() { documented = Routes }

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
	openAPIErr  error
)

// OpenAPI returns the OpenAPI 3.1.0 document of the API, as JSON (built
// once).
func OpenAPI() ([]byte, error) {
	openAPIOnce.Do(func() { openAPIDoc, openAPIErr = buildOpenAPI() })
	return openAPIDoc, openAPIErr
}

type obj = map[string]any

var pathParamRE = regexp.MustCompile(`\{(\w+)\}`)

func buildOpenAPI() ([]byte, error) {
	paths := obj{}
	for _, rt := range documented {
		doc, ok := opDocs[rt.Name]
		if !ok {
			return nil, fmt.Errorf("openapi: route %s has no entry in opDocs", rt.Name)
		}
		item, _ := paths[rt.Path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.Path] = item
		}
		op := obj{"operationId": rt.Name, "summary": doc.summary}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, obj{"$ref": "#/components/parameters/path_" + m[1]})
		}
		for _, q := range doc.query {
			if _, ok := queryParams[q]; !ok {
				return nil, fmt.Errorf("openapi: route %s: no query parameter %s", rt.Name, q)
			}
			params = append(params, obj{"$ref": "#/components/parameters/" + q})
		}
		if rt.idempotent {
			params = append(params, obj{"$ref": "#/components/parameters/idempotency_key"})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Anonymous {
			op["security"] = []any{}
		} else {
			op["security"] = []any{obj{"jwt": []any{}}, obj{"keystone": []any{}}}
		}
		if doc.request != "" {
			op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": ref(doc.request)}}}
		}
		ok200 := obj{"description": "OK", "headers": obj{"X-Openstack-Request-Id": obj{"$ref": "#/components/headers/request_id"}}}
		if doc.response != "" {
			ok200["content"] = obj{"application/json": obj{"schema": ref(doc.response)}}
		} else {
			ok200["description"] = "OK, with an empty body"
		}
		responses := obj{"200": ok200}
		statuses := slices.Clone(doc.errors)
		if rt.Anonymous {
			// No authorizer, but API Gateway's throttling.
			statuses = append(statuses, http.StatusTooManyRequests, http.StatusInternalServerError)
		} else {
			statuses = append(statuses, commonErrors...)
		}
		slices.Sort(statuses)
		for _, st := range slices.Compact(statuses) {
			responses[strconv.Itoa(st)] = obj{"$ref": "#/components/responses/" + responseName(st)}
		}
		op["responses"] = responses
		item[lowerMethod(rt.Method)] = op
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "Karbor checkpoints API, serverless",
			"version": "1",
			"description": "OpenStack Karbor's v1 API on AWS (CONTRACT.md, docs/api.md). Generated from internal/api " +
				"(routes.go, openapi.go) by `make generate`. Every error a function answers has the fault shape " +
				"{\"<fault>\": {\"code\", \"message\"}}, one top-level key; API Gateway's own 401 (JWT authorizer) " +
				"and 429 (throttling) are {\"message\": ...}. A path no route has answers 404, a method its path " +
				"lacks 405, both in the fault shape.",
		},
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"servers":           []any{obj{"url": "/"}},
		"paths":             paths,
		"components": obj{
			"schemas":         schemas(),
			"parameters":      parameters(),
			"responses":       errorResponses(),
			"headers":         obj{"request_id": obj{"description": "The request's id, also in the log", "schema": obj{"type": "string", "pattern": "^req-"}}},
			"securitySchemes": securitySchemes,
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func lowerMethod(m string) string {
	b := []byte(m)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// responseName is the component response of an error status.
func responseName(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusTooManyRequests:
		return "tooManyRequests"
	}
	return FaultNames()[status]
}

func errorResponses() obj {
	out := obj{}
	reqID := obj{"X-Openstack-Request-Id": obj{"$ref": "#/components/headers/request_id"}}
	for st, name := range FaultNames() {
		if st == http.StatusUnauthorized {
			continue
		}
		out[name] = obj{"description": http.StatusText(st) + ": the fault " + name, "headers": reqID,
			"content": obj{"application/json": obj{"schema": ref("fault_" + name)}}}
	}
	out["unauthorized"] = obj{
		"description": "No caller, or malformed credentials: the fault unauthorized from the function, or (deployed) " +
			"API Gateway's JWT authorizer's own answer, which has no request id",
		"content": obj{"application/json": obj{"schema": obj{"oneOf": []any{ref("fault_unauthorized"), ref("gateway_message")}}}},
	}
	out["tooManyRequests"] = obj{
		"description": "API Gateway's throttling (deployed only): {\"message\":\"Too Many Requests\"}, no request id",
		"content":     obj{"application/json": obj{"schema": ref("gateway_message")}},
	}
	return out
}

var securitySchemes = obj{
	"jwt": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
		"description": "Deployed with AuthMode jwt: API Gateway's JWT authorizer reads the caller from the token's claims."},
	"keystone": obj{"type": "apiKey", "in": "header", "name": "X-Auth-Token",
		"description": "A Keystone token (AuthMode keystone); on the local server, the development token <user_id>:<project_id>[:<role>,...]."},
}

// Path parameter and id schemas.
var (
	uuidIn = obj{"type": "string", "pattern": "^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32})$",
		"description": "A UUID, dashed or 32 hex digits, any case"}
	// uuidOut is an id as the service returns it: lower-case, dashed.
	uuidOut     = obj{"type": "string", "format": "uuid", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
	projectID   = obj{"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
	timestamp   = obj{"type": "string", "format": "date-time", "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$"}
	nullString  = obj{"type": []any{"string", "null"}}
	anyObject   = obj{"type": "object"}
	stringMap   = obj{"type": "object", "additionalProperties": obj{"type": "string"}}
	nullUUIDOut = obj{"oneOf": []any{uuidOut, obj{"type": "null"}}}
)

func pathParamSchema(name string) obj {
	switch name {
	case "tenant_id", "project_id":
		return projectID
	case "protectable_type":
		return obj{"type": "string", "description": "A protectable type, e.g. AWS::EC2::Volume"}
	case "resource_id":
		return obj{"type": "string", "description": "An instance id of the type's form"}
	case "class_name":
		return obj{"type": "string"}
	}
	return uuidIn
}

var queryParams = map[string]obj{
	"limit":                  {"schema": obj{"type": "string", "pattern": "^[0-9]+$"}, "description": "Page size: a positive integer, at most 1000 (capped)"},
	"marker":                 {"schema": obj{"type": "string"}, "description": "The last id of the previous page"},
	"sort":                   {"schema": obj{"type": "string"}, "description": "created_at[:asc|:desc] (instances: id[:asc|:desc])"},
	"sort_key":               {"schema": obj{"type": "string"}, "description": "The older form of sort: the key"},
	"sort_dir":               {"schema": obj{"type": "string", "enum": []any{"asc", "desc"}}, "description": "The older form of sort: the direction"},
	"all_tenants":            {"schema": obj{"type": "string"}, "description": "true|false|1|0|yes|no, any case; admin only"},
	"project_id":             {"schema": projectID, "description": "With all_tenants, only this project; admin only"},
	"plan_id":                {"schema": uuidIn, "description": "Filter: the plan"},
	"checkpoint_id":          {"schema": uuidIn, "description": "Filter: the checkpoint"},
	"provider_id":            {"schema": uuidIn, "description": "Filter: the provider"},
	"restore_id":             {"schema": uuidIn, "description": "Filter: the restore"},
	"scheduled_operation_id": {"schema": uuidIn, "description": "Filter: the scheduled operation"},
	"trigger_id":             {"schema": uuidIn, "description": "Filter: the trigger"},
	"start_date":             {"schema": obj{"type": "string"}, "description": "Filter: created on or after (YYYY-MM-DD or RFC 3339)"},
	"end_date":               {"schema": obj{"type": "string"}, "description": "Filter: created on or before (YYYY-MM-DD or RFC 3339)"},
	"status":                 {"schema": obj{"type": "string", "enum": []any{"protecting", "available", "error", "deleting", "error-deleting"}}, "description": "Filter: the checkpoint's status"},
	"plan_status":            {"name": "status", "schema": obj{"type": "string", "enum": []any{"suspended", "started"}}, "description": "Filter: the plan's status"},
	"task_status":            {"name": "status", "schema": obj{"type": "string", "enum": []any{"in_progress", "success", "fail"}}, "description": "Filter: the status"},
	"operation_log_status":   {"name": "status", "schema": obj{"type": "string"}, "description": "Filter: the log's status"},
	"operation_type":         {"schema": obj{"type": "string"}, "description": "Filter: the operation type"},
	"name":                   {"schema": obj{"type": "string"}, "description": "Filter: the name (plans: exact; triggers, scheduled operations: a regular expression)"},
	"description":            {"schema": obj{"type": "string"}, "description": "Filter: the description, exact"},
	"type":                   {"schema": obj{"type": "string"}, "description": "Filter: the type (instances: ignored)"},
	"properties":             {"schema": obj{"type": "string"}, "description": "Filter: a regular expression on the properties' JSON"},
	"operation_definition":   {"schema": obj{"type": "string"}, "description": "Filter: a regular expression on the definition's JSON"},
	"parameters":             {"schema": obj{"type": "string"}, "description": "A Python or JSON dict literal of string values (checked, no effect)"},
}

func parameters() obj {
	out := obj{}
	for key, p := range queryParams {
		name := key
		if n, ok := p["name"].(string); ok {
			name = n
		}
		out[key] = obj{"name": name, "in": "query", "required": false, "schema": p["schema"], "description": p["description"]}
	}
	for _, rt := range documented {
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Path, -1) {
			out["path_"+m[1]] = obj{"name": m[1], "in": "path", "required": true, "schema": pathParamSchema(m[1])}
		}
	}
	out["idempotency_key"] = obj{"name": "Idempotency-Key", "in": "header", "required": false,
		"description": "1 to 255 printable ASCII characters: the same key and body within 24 hours answer the first response again",
		"schema":      obj{"type": "string", "pattern": "^[\\x20-\\x7e]{1,255}$"}}
	return out
}

// closed is an object with exactly these keys, all required, and no other.
func closed(props obj) obj {
	req := make([]string, 0, len(props))
	for k := range props {
		req = append(req, k)
	}
	sort.Strings(req)
	return obj{"type": "object", "properties": props, "required": req, "additionalProperties": false}
}

// open is an object of these keys, required as listed, and no other.
func objOf(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func arrayOf(s obj) obj { return obj{"type": "array", "items": s} }

// wrap is a body of one key holding a component schema.
func wrap(key, schema string) obj { return closed(obj{key: ref(schema)}) }

// list is a listing's body: the items under key, and the next link when
// another page exists.
func listOf(key, schema string) obj {
	return objOf(obj{key: arrayOf(ref(schema)), key + "_links": ref("links")}, key)
}

func schemas() obj {
	s := obj{
		"links": obj{"type": "array", "minItems": 1, "maxItems": 1, "items": closed(obj{
			"rel": obj{"const": "next"}, "href": obj{"type": "string", "format": "uri"}})},
		"fault": obj{"type": "object", "minProperties": 1, "maxProperties": 1,
			"propertyNames": obj{"enum": faultNameList()}, "additionalProperties": ref("fault_body"),
			"description": "An error a function answers: exactly one key, the fault's name"},
		"fault_body":      closed(obj{"code": obj{"type": "integer"}, "message": obj{"type": "string"}}),
		"gateway_message": closed(obj{"message": obj{"type": "string"}}),
		"empty_object":    obj{"type": "object", "maxProperties": 0},
		"openapi_document": obj{"type": "object", "required": []any{"openapi", "paths"},
			"properties": obj{"openapi": obj{"const": "3.1.0"}}},

		"resource": objOf(obj{"id": obj{"type": "string"}, "type": obj{"type": "string"}, "name": obj{"type": "string"},
			"extra_info": anyObject}, "id", "type", "name"),
		"checkpoint": closed(obj{
			"id": uuidOut, "project_id": projectID,
			"status": obj{"enum": []any{"protecting", "available", "error", "deleting", "deleted", "error-deleting"}},
			"protection_plan": closed(obj{"id": uuidOut, "name": obj{"type": "string"}, "provider_id": uuidOut,
				"resources": arrayOf(ref("resource"))}),
			"resource_graph": nullString, "created_at": timestamp,
			"extra_info": obj{"type": "object", "additionalProperties": obj{"type": []any{"string", "integer", "boolean"}}},
		}),
		"checkpoint_answer": wrap("checkpoint", "checkpoint"),
		"checkpoint_list":   listOf("checkpoints", "checkpoint"),

		"plan": closed(obj{
			"id": uuidOut, "name": obj{"type": "string"}, "description": nullString,
			"resources": arrayOf(ref("resource")), "provider_id": uuidOut,
			"status": obj{"enum": []any{"suspended", "started"}}, "parameters": anyObject, "project_id": projectID,
		}),
		"plan_answer": wrap("plan", "plan"),
		"plan_list":   listOf("plans", "plan"),

		"provider": closed(obj{"id": uuidOut, "name": obj{"type": "string"}, "description": obj{"type": "string"},
			"extended_info_schema": closed(obj{"options_schema": anyObject, "restore_schema": anyObject, "saved_info_schema": anyObject})}),
		"provider_answer": wrap("provider", "provider"),
		"provider_list":   listOf("providers", "provider"),

		"protectable":        closed(obj{"name": obj{"type": "string"}, "dependent_types": arrayOf(obj{"type": "string"})}),
		"protectable_answer": wrap("protectable_type", "protectable"),
		"protectable_list":   closed(obj{"protectable_type": arrayOf(obj{"type": "string"})}),

		// An instance's dependents are shown without their own.
		"instance": closed(obj{"id": obj{"type": "string"}, "type": obj{"type": "string"}, "name": obj{"type": "string"},
			"extra_info": anyObject, "dependent_resources": arrayOf(closed(obj{"id": obj{"type": "string"},
				"type": obj{"type": "string"}, "name": obj{"type": "string"}, "extra_info": anyObject}))}),
		"instance_answer": wrap("instance", "instance"),
		"instance_list":   listOf("instances", "instance"),

		"restore": closed(obj{
			"id": uuidOut, "project_id": projectID, "provider_id": uuidOut, "checkpoint_id": uuidOut,
			"restore_target": nullString, "parameters": anyObject, "status": ref("task_status"),
			"resources_status": stringMap, "resources_reason": stringMap,
			"restored_resources": obj{"type": "object", "additionalProperties": closed(obj{"id": obj{"type": "string"}, "arn": obj{"type": "string"}})},
			"created_at":         timestamp, "updated_at": timestamp,
		}),
		"task_status":    obj{"enum": []any{"in_progress", "success", "fail"}},
		"restore_answer": wrap("restore", "restore"),
		"restore_list":   listOf("restores", "restore"),
		"verification": closed(obj{
			"id": uuidOut, "project_id": projectID, "provider_id": uuidOut, "checkpoint_id": uuidOut,
			"parameters": anyObject, "status": ref("task_status"),
			"resources_status": stringMap, "resources_reason": stringMap,
			"created_at": timestamp, "updated_at": timestamp,
		}),
		"verification_answer": wrap("verification", "verification"),
		"verification_list":   listOf("verifications", "verification"),

		"operation_log": closed(obj{
			"id": uuidOut, "project_id": projectID,
			"operation_type": obj{"enum": []any{"protect", "delete", "restore", "verify", "retention"}},
			"checkpoint_id":  nullUUIDOut, "plan_id": nullUUIDOut, "provider_id": nullUUIDOut, "restore_id": nullUUIDOut,
			"scheduled_operation_id": nullUUIDOut, "status": obj{"type": "string"},
			"started_at": timestamp, "ended_at": obj{"oneOf": []any{timestamp, obj{"type": "null"}}},
			"error_info": nullString, "extra_info": obj{"type": []any{"object", "null"}},
		}),
		"operation_log_answer": wrap("operation_log", "operation_log"),
		"operation_log_list":   listOf("operation_logs", "operation_log"),

		"trigger": closed(obj{
			"id": uuidOut, "name": obj{"type": "string"}, "type": obj{"const": "time"}, "project_id": projectID,
			"created_at": timestamp,
			"properties": closed(obj{"format": obj{"enum": []any{"crontab", "calendar"}}, "pattern": obj{"type": "string"},
				"start_time": timestamp, "end_time": obj{"oneOf": []any{timestamp, obj{"type": "null"}}}, "window": obj{"type": "integer"}}),
		}),
		"trigger_answer": wrap("trigger_info", "trigger"),
		"trigger_list":   listOf("triggers", "trigger"),

		"scheduled_operation": closed(obj{
			"id": uuidOut, "name": obj{"type": "string"}, "description": nullString,
			"operation_type": obj{"enum": []any{"protect", "retention_protect"}}, "trigger_id": uuidOut,
			"operation_definition": objOf(obj{"provider_id": uuidOut, "plan_id": uuidOut,
				"max_backups": obj{"type": "integer"}, "retention_duration": obj{"type": "integer"}}, "provider_id", "plan_id"),
			"enabled": obj{"type": "boolean"}, "project_id": projectID, "created_at": timestamp,
		}),
		"scheduled_operation_answer": wrap("scheduled_operation", "scheduled_operation"),
		"scheduled_operation_list":   listOf("operations", "scheduled_operation"),

		"quota":        closed(obj{"id": projectID, "plans": obj{"type": "integer"}, "checkpoints": obj{"type": "integer"}}),
		"quota_answer": wrap("quota", "quota"),
		"quota_usage":  closed(obj{"limit": obj{"type": "integer"}, "in_use": obj{"type": "integer"}, "reserved": obj{"const": 0}}),
		"quota_detail_answer": closed(obj{"quota": closed(obj{"id": projectID, "plans": ref("quota_usage"),
			"checkpoints": ref("quota_usage")})}),
		"quota_class":        closed(obj{"id": obj{"type": "string"}, "plans": obj{"type": "integer"}, "checkpoints": obj{"type": "integer"}}),
		"quota_class_answer": wrap("quota_class", "quota_class"),
	}
	for st, name := range FaultNames() {
		s["fault_"+name] = closed(obj{name: objOf(obj{"code": obj{"const": st}, "message": obj{"type": "string"}}, "code", "message")})
	}
	for k, v := range requestSchemas() {
		s[k] = v
	}
	return s
}

func faultNameList() []any {
	var out []any
	for _, n := range FaultNames() {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].(string) < out[j].(string) })
	return out
}

// requestSchemas are the bodies routes accept. The contract fixes their
// keys at both levels: any other → 400.
func requestSchemas() obj {
	str := obj{"type": "string"}
	limit := obj{"type": []any{"integer", "string", "null"}}
	extraInfo := obj{"type": []any{"object", "null"}}
	resources := obj{"type": "array", "minItems": 1, "items": ref("resource")}
	return obj{
		"checkpoint_create":      closed(obj{"checkpoint": objOf(obj{"plan_id": str, "extra_info": extraInfo, "extra-info": extraInfo}, "plan_id")}),
		"checkpoint_reset_state": closed(obj{"os-resetState": closed(obj{"state": obj{"enum": []any{"available", "error"}}})}),
		"plan_create": closed(obj{"plan": objOf(obj{"name": str, "description": nullString, "provider_id": str,
			"parameters": anyObject, "resources": resources}, "name", "provider_id", "resources")}),
		"plan_update": closed(obj{"plan": obj{"type": "object", "minProperties": 1, "additionalProperties": false,
			"properties": obj{"name": str, "description": nullString, "resources": resources, "status": obj{"enum": []any{"suspended", "started"}}}}}),
		"restore_create": closed(obj{"restore": objOf(obj{"provider_id": str, "checkpoint_id": str, "parameters": anyObject,
			"restore_target": nullString, "restore_auth": obj{"type": "null"}}, "provider_id", "checkpoint_id")}),
		"verification_create": closed(obj{"verification": objOf(obj{"provider_id": str, "checkpoint_id": str, "parameters": anyObject},
			"provider_id", "checkpoint_id")}),
		"trigger_create": closed(obj{"trigger_info": objOf(obj{"name": str, "type": str, "properties": anyObject}, "name", "type", "properties")}),
		"trigger_update": closed(obj{"trigger_info": objOf(obj{"name": str, "type": str, "properties": anyObject})}),
		"scheduled_operation_create": closed(obj{"scheduled_operation": objOf(obj{"name": str, "description": nullString,
			"operation_type": str, "trigger_id": str, "operation_definition": anyObject}, "name", "operation_type", "trigger_id", "operation_definition")}),
		"scheduled_operation_update": closed(obj{"scheduled_operation": obj{"type": "object", "minProperties": 1, "additionalProperties": false,
			"properties": obj{"name": str, "description": nullString, "enabled": obj{"type": "boolean"}}}}),
		"quota_update":       closed(obj{"quota": obj{"type": "object", "minProperties": 1, "additionalProperties": false, "properties": obj{"plans": limit, "checkpoints": limit}}}),
		"quota_class_update": closed(obj{"quota_class": obj{"type": "object", "minProperties": 1, "additionalProperties": false, "properties": obj{"plans": limit, "checkpoints": limit}}}),
	}
}

// showOpenAPI serves the document.
func (s *Service) showOpenAPI(*request) (any, error) {
	doc, err := OpenAPI()
	if err != nil {
		return nil, err
	}
	return json.RawMessage(doc), nil
}
