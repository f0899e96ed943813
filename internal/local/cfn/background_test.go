package cfn_test

// The background functions: the stream worker's event source (filter,
// partial batch failures, bounded retries, bisect, failure destination) and
// least privilege, the sweeper's schedule and least privilege, and the proof
// that the worker's own record filter (worker.JobOf) selects exactly what the
// template's filter criteria let through.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"

	"karbor"
	"karbor/internal/api"
	"karbor/internal/domain"
	statusevents "karbor/internal/events"
	"karbor/internal/lambdafn/background"
	"karbor/internal/local/cfn"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// rawTemplate is template.yaml as plain Go values (maps, slices, strings),
// for the settings the cfn package does not model: event source properties
// and policy conditions. A short-form intrinsic on a scalar is kept as text,
// "!GetAtt X.Arn"; long forms stay mappings.
func rawTemplate(t *testing.T) map[string]any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(karbor.TemplateYAML, &doc); err != nil {
		t.Fatal(err)
	}
	m, ok := plain(&doc).(map[string]any)
	if !ok {
		t.Fatal("template.yaml is not a mapping")
	}
	return m
}

func plain(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		return plain(n.Content[0])
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = plain(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, plain(c))
		}
		return out
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return n.Tag + " " + n.Value
	}
	return n.Value
}

// dig follows a path of mapping keys through plain values.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// theEvent returns the only event of a function, failing otherwise.
func theEvent(t *testing.T, raw map[string]any, logicalID string) (name string, props map[string]any, typ string) {
	t.Helper()
	evs, _ := dig(raw, "Resources", logicalID, "Properties", "Events").(map[string]any)
	if len(evs) != 1 {
		t.Fatalf("%s has %d events, want exactly one", logicalID, len(evs))
	}
	for name, ev := range evs {
		props, _ = dig(ev, "Properties").(map[string]any)
		typ, _ = dig(ev, "Type").(string)
		return name, props, typ
	}
	panic("unreachable")
}

func functionByID(t *testing.T, id string) cfn.Function {
	t.Helper()
	fns, err := parseTemplate(t).Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if f.LogicalID == id {
			return f
		}
	}
	t.Fatalf("template.yaml has no function %s", id)
	return cfn.Function{}
}

// filterPatterns returns the worker's event source filter patterns, parsed.
func filterPatterns(t *testing.T) []map[string]any {
	t.Helper()
	_, props, _ := theEvent(t, rawTemplate(t), "WorkerFunction")
	filters, _ := dig(props, "FilterCriteria", "Filters").([]any)
	if len(filters) == 0 {
		t.Fatal("WorkerFunction's stream event has no FilterCriteria.Filters: it would be woken by every write")
	}
	var out []map[string]any
	for i, f := range filters {
		text, ok := dig(f, "Pattern").(string)
		if !ok {
			t.Fatalf("filter %d has no literal Pattern", i)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			t.Fatalf("filter %d: Pattern %q is not a JSON object: %v", i, text, err)
		}
		out = append(out, p)
	}
	return out
}

func TestAgreementWorkerEventSource(t *testing.T) {
	raw := rawTemplate(t)
	name, props, typ := theEvent(t, raw, "WorkerFunction")
	if typ != "DynamoDB" {
		t.Fatalf("WorkerFunction's event %s has type %q, want DynamoDB", name, typ)
	}
	if got := props["Stream"]; got != "!GetAtt CheckpointsTable.StreamArn" {
		t.Errorf("Stream is %v, want !GetAtt CheckpointsTable.StreamArn", got)
	}
	if got := props["FunctionResponseTypes"]; !reflect.DeepEqual(got, []any{"ReportBatchItemFailures"}) {
		t.Errorf("FunctionResponseTypes is %v, want [ReportBatchItemFailures]: the worker answers with events.DynamoDBEventResponse", got)
	}
	// Unset or -1 retries a failing record until it expires (a day of a
	// stuck shard); a bound lets the shard move on.
	retries, _ := props["MaximumRetryAttempts"].(string)
	if n, err := strconv.Atoi(retries); err != nil || n < 0 || n > 10000 {
		t.Errorf("MaximumRetryAttempts is %q, want a bound from 0 to 10000", retries)
	}
	if got := props["BisectBatchOnFunctionError"]; got != "true" {
		t.Errorf("BisectBatchOnFunctionError is %v, want true", got)
	}
	if got := props["StartingPosition"]; got != "TRIM_HORIZON" && got != "LATEST" {
		t.Errorf("StartingPosition is %v, want TRIM_HORIZON or LATEST (SAM requires one)", got)
	}
	onFailure, _ := dig(props, "DestinationConfig", "OnFailure").(map[string]any)
	dest, _ := onFailure["Destination"].(string)
	queue, ok := strings.CutPrefix(dest, "!GetAtt ")
	queue, _, _ = strings.Cut(queue, ".")
	if onFailure["Type"] != "SQS" || !ok || !slices.Contains(parseTemplate(t).ResourceIDs("AWS::SQS::Queue"), queue) {
		t.Errorf("DestinationConfig.OnFailure is %v, want Type SQS and the Arn of a queue of the template", onFailure)
	}

	// The filters read OldImage: the stream must carry both images.
	tables, err := parseTemplate(t).Tables()
	if err != nil {
		t.Fatal(err)
	}
	if spec := tables["CheckpointsTable"].StreamSpecification; spec == nil || spec.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("CheckpointsTable's stream is %+v, want NEW_AND_OLD_IMAGES", spec)
	}

	// INSERT as protecting, MODIFY into deleting from anything else.
	patterns := filterPatterns(t)
	want := []map[string]any{
		{"eventName": []any{"INSERT"}, "dynamodb": map[string]any{"NewImage": map[string]any{"status": map[string]any{"S": []any{"protecting"}}}}},
		{"eventName": []any{"MODIFY"}, "dynamodb": map[string]any{
			"NewImage": map[string]any{"status": map[string]any{"S": []any{"deleting"}}},
			"OldImage": map[string]any{"status": map[string]any{"S": []any{map[string]any{"anything-but": []any{"deleting"}}}}},
		}},
	}
	if !reflect.DeepEqual(patterns, want) {
		t.Errorf("filter patterns are\n%s\nwant\n%s", jsonText(patterns), jsonText(want))
	}
}

func TestAgreementWorkerPolicy(t *testing.T) {
	f := functionByID(t, "WorkerFunction")
	if f.Role != "" || len(f.Policies) > 0 {
		t.Errorf("WorkerFunction has role %q and managed policies or templates %q; want only explicit statements", f.Role, f.Policies)
	}
	// The checkpoint itself: read it, write its outcome; and its
	// operation log: start it, end it. A fire's retention step: its logs
	// read and ended, its plan's checkpoints listed (by_plan only) and
	// deleted.
	tableActions := []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}
	logActions := []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	// A checkpoint that becomes deleted leaves its project's count of
	// checkpoints (the quota item), in the same transaction.
	quotaActions := []string{"dynamodb:UpdateItem"}
	// What the AWS provider's plugins call, plus the tagging that
	// CreateSnapshot's TagSpecifications needs.
	pluginActions := []string{
		"dynamodb:CreateBackup", "dynamodb:ListBackups", "dynamodb:DeleteBackup",
		"dynamodb:DescribeTable", "dynamodb:ListTagsOfResource",
		"ec2:CreateSnapshot", "ec2:CreateTags", "ec2:DescribeSnapshots", "ec2:DeleteSnapshot",
		"ec2:CreateImage", "ec2:DescribeImages", "ec2:DeregisterImage", "ec2:DescribeInstances", "ec2:DescribeVolumes",
	}
	// Every method of the plugins' client interfaces must be allowed: a
	// new call without its permission would fail only in AWS.
	for prefix, api := range map[string]reflect.Type{
		"dynamodb:": reflect.TypeFor[awsplugin.DynamoDBBackupAPI](),
		"ec2:":      reflect.TypeFor[awsplugin.EC2SnapshotAPI](),
	} {
		for i := range api.NumMethod() {
			if a := prefix + api.Method(i).Name; !slices.Contains(pluginActions, a) {
				t.Errorf("the plugins call %s (%s), which the worker's policy is not checked to allow", a, api)
			}
		}
	}
	var got []string
	for _, st := range f.Statements {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Actions {
			got = appendUnique(got, a)
			if strings.ContainsAny(a, "*?") {
				t.Errorf("WorkerFunction is allowed %q; want only named actions", a)
			}
			onCheckpoints := reflect.DeepEqual(st.Resources, []string{"!GetAtt CheckpointsTable.Arn"})
			onLogs := reflect.DeepEqual(st.Resources, []string{"!GetAtt OperationLogsTable.Arn"})
			onQuotas := reflect.DeepEqual(st.Resources, []string{"!GetAtt QuotasTable.Arn"})
			if (slices.Contains(tableActions, a) || slices.Contains(logActions, a)) &&
				!(onCheckpoints && slices.Contains(tableActions, a)) && !(onLogs && slices.Contains(logActions, a)) && !(onQuotas && slices.Contains(quotaActions, a)) {
				t.Errorf("WorkerFunction is allowed %s on %q; want %q only on !GetAtt CheckpointsTable.Arn, %q only on !GetAtt OperationLogsTable.Arn, %q only on !GetAtt QuotasTable.Arn", a, st.Resources, tableActions, logActions, quotaActions)
			}
			if a == "dynamodb:Query" && !reflect.DeepEqual(st.Resources, []string{"!Sub ${CheckpointsTable.Arn}/index/" + store.IndexByPlan}) {
				t.Errorf("WorkerFunction may Query %q, want only the checkpoints' %s index", st.Resources, store.IndexByPlan)
			}
			if slices.Contains(pluginActions, a) && len(st.Refs) > 0 {
				t.Errorf("WorkerFunction's %s statement names %q of the template; the plugins act on the plans' resources", a, st.Refs)
			}
		}
	}
	want := slices.Concat(tableActions, []string{"dynamodb:PutItem", "dynamodb:Query"}, pluginActions)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("WorkerFunction may call %q, want exactly %q", got, want)
	}

	// Conditions (the cfn package does not read them).
	statements, _ := dig(rawTemplate(t), "Resources", "WorkerFunction", "Properties", "Policies").([]any)
	var tagging, deleting, creating, sources int
	for _, p := range statements {
		sts, _ := dig(p, "Statement").([]any)
		for _, st := range sts {
			actions := dig(st, "Action")
			has := func(a string) bool {
				if s, ok := actions.(string); ok {
					return s == a
				}
				l, _ := actions.([]any)
				return slices.Contains(l, any(a))
			}
			if has("ec2:CreateTags") {
				tagging++
				// CreateTags only as part of CreateSnapshot or
				// CreateImage: never after the fact (tag, then delete).
				onCreate := dig(st, "Condition", "StringEquals", "ec2:CreateAction")
				if !reflect.DeepEqual(onCreate, []any{"CreateSnapshot", "CreateImage"}) || len(dig(st, "Condition").(map[string]any)) != 1 {
					t.Errorf("ec2:CreateTags has condition %v, want only StringEquals ec2:CreateAction [CreateSnapshot CreateImage]", dig(st, "Condition"))
				}
			}
			if has("ec2:DeleteSnapshot") || has("ec2:DeregisterImage") {
				deleting++
				// Only what the plugins tagged; the tag is the one they
				// set.
				if got := dig(st, "Condition", "Null", "aws:ResourceTag/"+provider.TagCheckpointID); got != "false" {
					t.Errorf("ec2:DeleteSnapshot/DeregisterImage has condition %v, want Null aws:ResourceTag/%s false", dig(st, "Condition"), provider.TagCheckpointID)
				}
			}
			if has("ec2:CreateSnapshot") || has("ec2:CreateImage") || has("dynamodb:CreateBackup") {
				creating++
				// On the source: never the service's own (in every
				// mode), and the ownership tag in tag mode (an !If on
				// OwnershipByDefaultTag); on what is made: the checkpoint
				// tag in the request.
				// (the !If reads as its list of arguments here.)
				onSource, isIf := dig(st, "Condition").([]any)
				made := dig(st, "Condition", "Null", "aws:RequestTag/"+provider.TagCheckpointID)
				if !isIf && made != "false" {
					t.Errorf("%v has condition %v, want conditions on the source or the checkpoint tag in the request", actions, dig(st, "Condition"))
				}
				notService := "aws:ResourceTag/" + ownership.ServiceTag
				if isIf && (len(onSource) != 3 || onSource[0] != "OwnershipByDefaultTag" ||
					dig(onSource[1], "Null", "aws:ResourceTag/"+provider.TagProjectID) != "false" ||
					dig(onSource[1], "Null", notService) != "true" ||
					!reflect.DeepEqual(onSource[2], map[string]any{"Null": map[string]any{notService: "true"}})) {
					t.Errorf("%v has condition %v, want !If [OwnershipByDefaultTag, Null {%s: false, %s: true}, Null {%s: true}]",
						actions, onSource, "aws:ResourceTag/"+provider.TagProjectID, notService, notService)
				}
				if isIf {
					sources++
				}
			}
		}
	}
	if sources != 2 {
		t.Errorf("%d statements allow a create on a source (tables; volumes and instances), want 2", sources)
	}
	if tagging != 1 || deleting != 1 || creating != 3 {
		t.Errorf("ec2:CreateTags is in %d statements, the deletions in %d, the creations in %d; want 1, 1, 3", tagging, deleting, creating)
	}
}

func TestAgreementSweeper(t *testing.T) {
	raw := rawTemplate(t)
	name, props, typ := theEvent(t, raw, "SweeperFunction")
	if typ != "Schedule" {
		t.Fatalf("SweeperFunction's event %s has type %q, want Schedule", name, typ)
	}
	if s, _ := props["Schedule"].(string); !strings.HasPrefix(s, "rate(") && !strings.HasPrefix(s, "cron(") {
		t.Errorf("Schedule is %v, want rate(...) or cron(...)", props["Schedule"])
	}
	f := functionByID(t, "SweeperFunction")
	if f.Role != "" || len(f.Policies) > 0 {
		t.Errorf("SweeperFunction has role %q and managed policies or templates %q; want only explicit statements", f.Role, f.Policies)
	}
	got := allowedByResource(f)
	want := map[string][]string{
		"!Sub ${CheckpointsTable.Arn}/index/" + store.IndexByPending: {"dynamodb:Query"},
		"!GetAtt CheckpointsTable.Arn":                               {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		// The retention step of a fire whose checkpoint it ends: the
		// fire's logs read and ended, its plan's checkpoints listed.
		"!GetAtt OperationLogsTable.Arn":                          {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		"!Sub ${CheckpointsTable.Arn}/index/" + store.IndexByPlan: {"dynamodb:Query"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SweeperFunction may call %v, want exactly %v", got, want)
	}
}

// The sweeper reads domain.CheckpointKey from the by_pending index: the
// index must project every attribute of it.
func TestAgreementPendingIndex(t *testing.T) {
	tables, err := parseTemplate(t).Tables()
	if err != nil {
		t.Fatal(err)
	}
	def := tables["CheckpointsTable"]
	var idx *types.GlobalSecondaryIndex
	for i := range def.GlobalSecondaryIndexes {
		if aws.ToString(def.GlobalSecondaryIndexes[i].IndexName) == store.IndexByPending {
			idx = &def.GlobalSecondaryIndexes[i]
		}
	}
	if idx == nil {
		t.Fatalf("CheckpointsTable has no index %s", store.IndexByPending)
	}
	projected := map[string]bool{}
	for _, ks := range [][]types.KeySchemaElement{def.KeySchema, idx.KeySchema} {
		for _, k := range ks {
			projected[aws.ToString(k.AttributeName)] = true
		}
	}
	for _, a := range idx.Projection.NonKeyAttributes {
		projected[a] = true
	}
	all := idx.Projection.ProjectionType == types.ProjectionTypeAll
	key := reflect.TypeFor[domain.CheckpointKey]()
	for i := range key.NumField() {
		attr, _, _ := strings.Cut(key.Field(i).Tag.Get("dynamodbav"), ",")
		if !all && !projected[attr] {
			t.Errorf("%s does not project %s, which domain.CheckpointKey reads", store.IndexByPending, attr)
		}
	}
}

// The parameters' defaults are the code's defaults, and both parse as the
// worker parses them.
func TestAgreementBackgroundParameters(t *testing.T) {
	tpl := parseTemplate(t)
	for param, want := range map[string]time.Duration{"DeletedRetention": domain.DefaultRetention, "StuckAfter": worker.DefaultStuckAfter} {
		def, _ := tpl.Lookup("Parameters", param, "Default")
		got, err := time.ParseDuration(def)
		if err != nil || got != want {
			t.Errorf("parameter %s defaults to %q, want %s (the code's default)", param, def, want)
		}
	}
}

// sampleRecord is a stream record as Lambda delivers it, with only status
// in its images (nil: no image).
func sampleRecord(event string, oldStatus, newStatus *string) events.DynamoDBEventRecord {
	image := func(s *string) map[string]events.DynamoDBAttributeValue {
		if s == nil {
			return nil
		}
		return map[string]events.DynamoDBAttributeValue{
			"id":     events.NewStringAttribute("dcb20606-ad71-40a3-80e4-ef0fafdad0c3"),
			"status": events.NewStringAttribute(*s),
		}
	}
	return events.DynamoDBEventRecord{
		EventName:   event,
		EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{
			Keys:           map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute("dcb20606-ad71-40a3-80e4-ef0fafdad0c3")},
			OldImage:       image(oldStatus),
			NewImage:       image(newStatus),
			SequenceNumber: "100",
			StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}
}

// templateSelects reports whether the template's filter criteria let the
// record through: filters are OR-ed; each applies to the record's JSON as
// Lambda sends it.
func templateSelects(t *testing.T, patterns []map[string]any, r events.DynamoDBEventRecord) bool {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range patterns {
		ok, err := matchPattern(p, doc)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return true
		}
	}
	return false
}

// The worker's filter criteria in template.yaml are the lifecycle's
// stream triggers (domain.StreamTriggers), and select exactly the records
// the worker acts on.
func TestAgreementWorkerFilter(t *testing.T) {
	patterns := filterPatterns(t)
	if len(patterns) != len(domain.StreamTriggers) {
		t.Fatalf("template.yaml has %d filter patterns, domain.StreamTriggers %d", len(patterns), len(domain.StreamTriggers))
	}
	for i, trigger := range domain.StreamTriggers {
		var want map[string]any
		if err := json.Unmarshal([]byte(trigger.FilterPattern()), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(patterns[i], want) {
			t.Errorf("filter pattern %d is %v; the lifecycle's trigger is %s", i, patterns[i], trigger.FilterPattern())
		}
	}
	s := func(v string) *string { return &v }
	tests := []struct {
		name     string
		record   events.DynamoDBEventRecord
		want     domain.Job
		selected bool
	}{
		{"INSERT protecting", sampleRecord("INSERT", nil, s("protecting")), domain.JobProtect, true},
		{"INSERT available", sampleRecord("INSERT", nil, s("available")), domain.JobNone, false},
		{"INSERT deleting", sampleRecord("INSERT", nil, s("deleting")), domain.JobNone, false},
		{"MODIFY available to deleting", sampleRecord("MODIFY", s("available"), s("deleting")), domain.JobDelete, true},
		{"MODIFY error to deleting", sampleRecord("MODIFY", s("error"), s("deleting")), domain.JobDelete, true},
		{"MODIFY deleting to deleting", sampleRecord("MODIFY", s("deleting"), s("deleting")), domain.JobNone, false},
		{"MODIFY protecting to available", sampleRecord("MODIFY", s("protecting"), s("available")), domain.JobNone, false},
		{"MODIFY protecting to protecting", sampleRecord("MODIFY", s("protecting"), s("protecting")), domain.JobNone, false},
		{"MODIFY deleting to deleted", sampleRecord("MODIFY", s("deleting"), s("deleted")), domain.JobNone, false},
		{"REMOVE deleted", sampleRecord("REMOVE", s("deleted"), nil), domain.JobNone, false},
		{"REMOVE protecting", sampleRecord("REMOVE", s("protecting"), nil), domain.JobNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := worker.JobOf(tt.record)
			selected := templateSelects(t, patterns, tt.record)
			if job != tt.want {
				t.Errorf("worker.JobOf = %v, want %v", job, tt.want)
			}
			if selected != tt.selected {
				t.Errorf("template filter selects = %v, want %v", selected, tt.selected)
			}
			if selected != (job != domain.JobNone) {
				t.Errorf("template filter selects = %v but worker.JobOf = %v: the two filters disagree", selected, job)
			}
		})
	}
}

// matchPattern reports whether a JSON value (decoded into any) matches an
// EventBridge event pattern, for the part of the syntax the template uses:
// nested objects, and arrays of exact values or {"anything-but": [...]}. A
// field the pattern names must be present; an array matches a value equal
// to any of its entries (an array value matches when one element does).
// Any other syntax is an error, so that the test cannot silently misread a
// pattern.
func matchPattern(pattern map[string]any, v any) (bool, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return false, nil
	}
	for key, p := range pattern {
		field, present := obj[key]
		if !present {
			// "exists": false is not supported, so absence never matches.
			if _, err := matchRules(p, nil, false); err != nil {
				return false, err
			}
			return false, nil
		}
		ok, err := matchRules(p, field, true)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func matchRules(p, field any, present bool) (bool, error) {
	switch p := p.(type) {
	case map[string]any:
		if !present {
			return false, nil
		}
		return matchPattern(p, field)
	case []any:
		values := []any{field}
		if arr, ok := field.([]any); ok {
			values = arr
		}
		for _, rule := range p {
			for _, v := range values {
				ok, err := matchRule(rule, v)
				if err != nil {
					return false, err
				}
				if ok && present {
					return true, nil
				}
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("pattern value %v: want an object or an array", p)
}

func matchRule(rule, v any) (bool, error) {
	switch rule := rule.(type) {
	case string, float64, bool, nil:
		return isScalar(v) && v == rule, nil
	case map[string]any:
		if len(rule) != 1 {
			return false, fmt.Errorf("rule %v: the matcher knows only anything-but", rule)
		}
		but, ok := rule["anything-but"]
		if !ok {
			return false, fmt.Errorf("rule %v: the matcher knows only anything-but", rule)
		}
		excluded, ok := but.([]any)
		if !ok {
			excluded = []any{but}
		}
		for _, e := range excluded {
			if !isScalar(e) {
				return false, fmt.Errorf("anything-but %v: the matcher knows only lists of values", but)
			}
		}
		return isScalar(v) && v != nil && !slices.Contains(excluded, v), nil
	}
	return false, fmt.Errorf("rule %v is not supported by the matcher", rule)
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, float64, bool, nil:
		return true
	}
	return false
}

// The matcher itself, on EventBridge's documented examples.
func TestPatternMatcher(t *testing.T) {
	doc := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		pattern, event string
		want           bool
	}{
		{`{"a": ["x"]}`, `{"a": "x"}`, true},
		{`{"a": ["x", "y"]}`, `{"a": "y"}`, true},
		{`{"a": ["x"]}`, `{"a": "z"}`, false},
		{`{"a": ["x"]}`, `{"b": "x"}`, false},
		{`{"a": ["x"]}`, `{"a": ["z", "x"]}`, true},
		{`{"a": ["x"]}`, `{"a": {"x": 1}}`, false},
		{`{"a": {"b": ["x"]}}`, `{"a": {"b": "x", "c": 1}}`, true},
		{`{"a": {"b": ["x"]}}`, `{"a": "x"}`, false},
		{`{"a": {"b": ["x"]}}`, `{}`, false},
		{`{"a": [{"anything-but": ["x"]}]}`, `{"a": "y"}`, true},
		{`{"a": [{"anything-but": ["x"]}]}`, `{"a": "x"}`, false},
		{`{"a": [{"anything-but": ["x"]}]}`, `{}`, false},
		{`{"a": [{"anything-but": "x"}]}`, `{"a": "y"}`, true},
		{`{"a": ["x"], "b": ["y"]}`, `{"a": "x", "b": "z"}`, false},
		{`{"a": [1]}`, `{"a": 1}`, true},
	}
	for _, tt := range tests {
		got, err := matchPattern(doc(tt.pattern).(map[string]any), doc(tt.event))
		if err != nil || got != tt.want {
			t.Errorf("match(%s, %s) = %v, %v; want %v", tt.pattern, tt.event, got, err, tt.want)
		}
	}
	for _, unsupported := range []string{`{"a": [{"prefix": "x"}]}`, `{"a": [{"exists": false}]}`, `{"a": "x"}`, `{"a": [{"anything-but": {"prefix": "x"}}]}`} {
		if _, err := matchPattern(doc(unsupported).(map[string]any), doc(`{"a": "x"}`)); err == nil {
			t.Errorf("match(%s) gave no error; the matcher must refuse syntax it does not know", unsupported)
		}
		if _, err := matchPattern(doc(unsupported).(map[string]any), doc(`{}`)); err == nil {
			t.Errorf("match(%s) on a missing field gave no error", unsupported)
		}
	}
}

// checkBackgroundEvent checks a sample event of a background function:
// worker events are stream batches Lambda would deliver (every record
// passes the template's filter), sweeper events are scheduled events.
func checkBackgroundEvent(t *testing.T, f background.Function, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	switch api.LogicalID(f.Name) {
	case "WorkerFunction":
		var ev events.DynamoDBEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s is not a DynamoDB stream event: %v", path, err)
		}
		if len(ev.Records) == 0 {
			t.Fatalf("%s has no records", path)
		}
		patterns := filterPatterns(t)
		for i, r := range ev.Records {
			if !templateSelects(t, patterns, r) {
				t.Errorf("%s: record %d (%s) does not pass the template's filter; Lambda would never deliver it", path, i, r.EventName)
			}
			if r.EventSource != "aws:dynamodb" || r.Change.SequenceNumber == "" || r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" {
				t.Errorf("%s: record %d has eventSource %q, sequence number %q, view type %q; want aws:dynamodb, one, NEW_AND_OLD_IMAGES",
					path, i, r.EventSource, r.Change.SequenceNumber, r.Change.StreamViewType)
			}
		}
	case "RunnerFunction":
		var probe struct{ Records []json.RawMessage }
		_ = json.Unmarshal(b, &probe)
		if probe.Records == nil {
			checkScheduledEvent(t, dec, path)
			return
		}
		var ev events.DynamoDBEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s is not a DynamoDB stream event: %v", path, err)
		}
		patterns := runnerFilterPatterns(t)
		for i, r := range ev.Records {
			if !templateSelects(t, patterns, r) || !worker.TaskJob(r) {
				t.Errorf("%s: record %d (%s) does not pass the runner's filter; Lambda would never deliver it", path, i, r.EventName)
			}
		}
	case "EventsFunction":
		var ev events.DynamoDBEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s is not a DynamoDB stream event: %v", path, err)
		}
		var p map[string]any
		_ = json.Unmarshal([]byte(statusevents.FilterPattern), &p)
		for i, r := range ev.Records {
			if !templateSelects(t, []map[string]any{p}, r) {
				t.Errorf("%s: record %d (%s) does not pass the events filter; Lambda would never deliver it", path, i, r.EventName)
			}
		}
	case "SweeperFunction", "SchedulerFunction":
		checkScheduledEvent(t, dec, path)
	case "KeystoneAuthorizerFunction":
		// A REQUEST authorizer's event (payload 2.0) with X-Auth-Token
		// and no identity source, as the Authorizer resource declares
		// none.
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s is not an API Gateway v2 REQUEST authorizer event: %v", path, err)
		}
		token := ev.Headers["x-auth-token"]
		if ev.Version != "2.0" || ev.Type != "REQUEST" || token == "" || len(ev.IdentitySource) != 0 || ev.RouteArn == "" {
			t.Errorf("%s: version %q, type %q, identitySource %q, x-auth-token %q; want 2.0, REQUEST, none, a token", path, ev.Version, ev.Type, ev.IdentitySource, token)
		}
	default:
		t.Errorf("%s: no check for the events of %s", path, api.LogicalID(f.Name))
	}
}

func checkScheduledEvent(t *testing.T, dec *json.Decoder, path string) {
	t.Helper()
	{
		var ev events.EventBridgeEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s is not an EventBridge event: %v", path, err)
		}
		if ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
			t.Errorf("%s: source %q, detail-type %q; want aws.events, Scheduled Event", path, ev.Source, ev.DetailType)
		}
	}
}

// runnerFilterPatterns are the filter patterns of the runner's stream
// event.
func runnerFilterPatterns(t *testing.T) []map[string]any {
	t.Helper()
	evs, _ := dig(rawTemplate(t), "Resources", "RunnerFunction", "Properties", "Events").(map[string]any)
	var out []map[string]any
	for _, ev := range evs {
		if typ, _ := dig(ev, "Type").(string); typ != "DynamoDB" {
			continue
		}
		filters, _ := dig(ev, "Properties", "FilterCriteria", "Filters").([]any)
		for _, f := range filters {
			text, _ := dig(f, "Pattern").(string)
			var p map[string]any
			if err := json.Unmarshal([]byte(text), &p); err != nil {
				t.Fatalf("RunnerFunction's filter %q is not a JSON object: %v", text, err)
			}
			out = append(out, p)
		}
	}
	return out
}

// TestAgreementRunnerEvents: the runner is woken by the tasks table's
// stream, filtered to exactly worker.TaskTrigger, and by a schedule of one
// minute (its tick).
func TestAgreementRunnerEvents(t *testing.T) {
	evs, _ := dig(rawTemplate(t), "Resources", "RunnerFunction", "Properties", "Events").(map[string]any)
	types := map[string]map[string]any{}
	for _, ev := range evs {
		typ, _ := dig(ev, "Type").(string)
		props, _ := dig(ev, "Properties").(map[string]any)
		types[typ] = props
	}
	if len(evs) != 2 || types["DynamoDB"] == nil || types["Schedule"] == nil {
		t.Fatalf("RunnerFunction's events are %v; want one DynamoDB stream and one Schedule", evs)
	}
	if stream := fmt.Sprint(dig(types["DynamoDB"], "Stream")); !strings.Contains(stream, "TasksTable.StreamArn") {
		t.Errorf("RunnerFunction's stream is %v; want the TasksTable's", dig(types["DynamoDB"], "Stream"))
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(worker.TaskFilterPattern()), &want); err != nil {
		t.Fatal(err)
	}
	if got := runnerFilterPatterns(t); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("RunnerFunction's filters are %v; want exactly %v (worker.TaskFilterPattern)", got, want)
	}
	if s := dig(types["Schedule"], "Schedule"); s != "rate(1 minute)" {
		t.Errorf("RunnerFunction's schedule is %v; want rate(1 minute)", s)
	}
}

// allowedByResource is what f's statements allow, by resource: the
// actions, sorted.
func allowedByResource(f cfn.Function) map[string][]string {
	got := map[string][]string{}
	for _, st := range f.Statements {
		if st.Effect != "Allow" {
			continue
		}
		for _, r := range st.Resources {
			got[r] = appendUnique(got[r], st.Actions...)
			slices.Sort(got[r])
		}
	}
	return got
}

// TestAgreementScheduler: the scheduler is ticked every minute by one
// schedule and may call exactly what a fire needs (scheduler tests prove
// the calls: TestSchedulerCalls).
func TestAgreementScheduler(t *testing.T) {
	name, props, typ := theEvent(t, rawTemplate(t), "SchedulerFunction")
	if typ != "Schedule" || props["Schedule"] != "rate(1 minute)" {
		t.Errorf("SchedulerFunction's event %s is %s %v; want a Schedule rate(1 minute)", name, typ, props["Schedule"])
	}
	f := functionByID(t, "SchedulerFunction")
	if f.Role != "" || len(f.Policies) > 0 {
		t.Errorf("SchedulerFunction has role %q and managed policies or templates %q; want only explicit statements", f.Role, f.Policies)
	}
	got := allowedByResource(f)
	want := map[string][]string{
		"!Sub ${SchedulesTable.Arn}/index/by_due":    {"dynamodb:Query"},
		"!GetAtt SchedulesTable.Arn":                 {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		"!GetAtt PlansTable.Arn":                     {"dynamodb:GetItem"},
		"!GetAtt CheckpointsTable.Arn":               {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		"!Sub ${CheckpointsTable.Arn}/index/by_plan": {"dynamodb:Query"},
		"!GetAtt QuotasTable.Arn":                    {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		"!GetAtt OperationLogsTable.Arn":             {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SchedulerFunction may call %v, want exactly %v", got, want)
	}
}

// TestAgreementThrottling: the HTTP API's routes are throttled by the
// ApiRateLimit and ApiBurstLimit parameters (the $default route keeps its
// own), and the worker, the runner and the scheduler reserve concurrency
// from parameters, 0 leaving the reservation out.
func TestAgreementThrottling(t *testing.T) {
	raw := rawTemplate(t)
	for setting, param := range map[string]string{"ThrottlingRateLimit": "ApiRateLimit", "ThrottlingBurstLimit": "ApiBurstLimit"} {
		if v := dig(raw, "Resources", "HttpApiStage", "Properties", "DefaultRouteSettings", setting); v != "!Ref "+param {
			t.Errorf("HttpApiStage's DefaultRouteSettings.%s is %v, want !Ref %s", setting, v, param)
		}
	}
	for fn, param := range map[string]string{"WorkerFunction": "WorkerReservedConcurrency", "RunnerFunction": "WorkerReservedConcurrency",
		"SchedulerFunction": "SchedulerReservedConcurrency"} {
		// A short-form !If [c, a, b] reads as its list (plain keeps no
		// tag of a sequence); the template's text says it is an !If.
		v := dig(raw, "Resources", fn, "Properties", "ReservedConcurrentExecutions")
		cond, _ := v.([]any)
		if len(cond) != 3 || cond[1] != "!Ref "+param || cond[2] != "!Ref AWS::NoValue" {
			t.Errorf("%s's ReservedConcurrentExecutions is %v, want !If [<condition>, !Ref %s, !Ref AWS::NoValue]", fn, v, param)
			continue
		}
		name, _ := cond[0].(string)
		if c := dig(raw, "Conditions", name); c == nil {
			t.Errorf("%s's reservation names the condition %q, which the template lacks", fn, name)
		}
	}
	for param, def := range map[string]string{"ApiRateLimit": "50", "ApiBurstLimit": "100", "WorkerReservedConcurrency": "5", "SchedulerReservedConcurrency": "2"} {
		if got := dig(raw, "Parameters", param, "Default"); got != def {
			t.Errorf("parameter %s defaults to %v, want %s", param, got, def)
		}
	}
}
