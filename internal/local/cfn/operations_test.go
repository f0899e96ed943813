package cfn_test

// The template's operations (docs/architecture.md, "Operating it"): log
// groups and their retention, tracing, the HTTP API's access logs, the
// alarms and their topic, the dashboard, and the tables' protection.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"karbor/internal/api"
	"karbor/internal/lambdafn/background"
	"karbor/internal/local/cfn"
)

// value returns the template's value at path, failing the test when absent.
func value(t *testing.T, tpl *cfn.Template, path ...string) any {
	t.Helper()
	v, ok := tpl.Value(path...)
	if !ok {
		t.Fatalf("template.yaml has no %s", strings.Join(path, "."))
	}
	return v
}

func lookup(tpl *cfn.Template, path ...string) string {
	s, _ := tpl.Lookup(path...)
	return s
}

func TestOperationsLogRetentionParameter(t *testing.T) {
	tpl := parseTemplate(t)
	if got := lookup(tpl, "Parameters", "LogRetentionDays", "Default"); got != "30" {
		t.Errorf("LogRetentionDays default = %q, want 30", got)
	}
	// CloudWatch Logs' RetentionInDays values (PutRetentionPolicy).
	want := []any{"1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653"}
	if got := value(t, tpl, "Parameters", "LogRetentionDays", "AllowedValues"); !slices.Equal(got.([]any), want) {
		t.Errorf("LogRetentionDays AllowedValues = %v, want %v", got, want)
	}
}

// Every function, the routes' (generated) and the background ones, has its
// own log group, named as Lambda names it, kept LogRetentionDays.
func TestOperationsEveryFunctionHasALogGroup(t *testing.T) {
	tpl := parseTemplate(t)
	groups := tpl.ResourceIDs("AWS::Logs::LogGroup")
	for _, id := range groups {
		if got := lookup(tpl, "Resources", id, "Properties", "RetentionInDays"); got != "!Ref LogRetentionDays" {
			t.Errorf("log group %s: RetentionInDays = %q, want !Ref LogRetentionDays", id, got)
		}
		// Lambda makes /aws/lambda/<function> itself on an invocation:
		// the template's own would then fail the deploy (already exists).
		if name := lookup(tpl, "Resources", id, "Properties", "LogGroupName"); strings.Contains(name, "/aws/lambda/") {
			t.Errorf("log group %s is named %q: a name Lambda may have taken already", id, name)
		}
	}
	functions := tpl.ResourceIDs("AWS::Serverless::Function")
	if len(functions) != len(api.Functions())+len(background.Functions) {
		t.Fatalf("template has %d functions, want the %d routes (and fallback) and %d background ones", len(functions), len(api.Functions()), len(background.Functions))
	}
	used := map[string]string{} // log group -> function
	for _, fn := range functions {
		ref := lookup(tpl, "Resources", fn, "Properties", "LoggingConfig", "LogGroup")
		group, ok := strings.CutPrefix(ref, "!Ref ")
		if !ok || !slices.Contains(groups, group) {
			t.Errorf("function %s: LoggingConfig.LogGroup = %q, want !Ref of a log group of the template", fn, ref)
			continue
		}
		if other, dup := used[group]; dup {
			t.Errorf("functions %s and %s share log group %s", other, fn, group)
		}
		used[group] = fn
	}
}

func TestOperationsTracing(t *testing.T) {
	tpl := parseTemplate(t)
	if got := lookup(tpl, "Globals", "Function", "Tracing"); got != "Active" {
		t.Errorf("Globals.Function.Tracing = %q, want Active", got)
	}
	for _, fn := range tpl.ResourceIDs("AWS::Serverless::Function") {
		if got, ok := tpl.Lookup("Resources", fn, "Properties", "Tracing"); ok && got != "Active" {
			t.Errorf("function %s overrides Tracing with %q", fn, got)
		}
	}
}

func TestOperationsAccessLogs(t *testing.T) {
	tpl := parseTemplate(t)
	settings := []string{"Resources", "HttpApiStage", "Properties", "AccessLogSettings"}
	dest := lookup(tpl, append(settings, "DestinationArn")...)
	m := regexp.MustCompile(`^!GetAtt (\w+)\.Arn$`).FindStringSubmatch(dest)
	if m == nil {
		t.Fatalf("AccessLogSettings.DestinationArn = %q, want !GetAtt <log group>.Arn", dest)
	}
	if !slices.Contains(tpl.ResourceIDs("AWS::Logs::LogGroup"), m[1]) {
		t.Errorf("access logs go to %s, not a log group of the template", m[1])
	}
	// Its retention: TestOperationsEveryFunctionHasALogGroup checks every
	// log group's.
	var format map[string]string
	if err := json.Unmarshal([]byte(lookup(tpl, append(settings, "Format")...)), &format); err != nil {
		t.Fatalf("AccessLogSettings.Format is not a JSON object of strings: %v", err)
	}
	for field, want := range map[string]string{
		"requestId":               "$context.requestId",
		"ip":                      "$context.identity.sourceIp",
		"routeKey":                "$context.routeKey",
		"status":                  "$context.status",
		"responseLatency":         "$context.responseLatency",
		"integrationErrorMessage": "$context.integrationErrorMessage",
	} {
		if format[field] != want {
			t.Errorf("access log field %s = %q, want %q", field, format[field], want)
		}
	}
}

func TestOperationsAlarmTopic(t *testing.T) {
	tpl := parseTemplate(t)
	if !slices.Contains(tpl.ResourceIDs("AWS::SNS::Topic"), "AlarmTopic") {
		t.Fatal("no AWS::SNS::Topic AlarmTopic")
	}
	if got := lookup(tpl, "Parameters", "AlarmEmail", "Default"); got != "" {
		t.Errorf("AlarmEmail default = %q, want empty (no subscription)", got)
	}
	if got := lookup(tpl, "Conditions", "HasAlarmEmail"); got != `!Not [!Equals [!Ref AlarmEmail, ]]` {
		t.Errorf("HasAlarmEmail = %q, want it true when AlarmEmail is not empty", got)
	}
	subs := tpl.ResourceIDs("AWS::SNS::Subscription")
	if len(subs) != 1 {
		t.Fatalf("subscriptions = %v, want one", subs)
	}
	for key, want := range map[string]string{
		"Condition":           "HasAlarmEmail",
		"Properties.TopicArn": "!Ref AlarmTopic",
		"Properties.Protocol": "email",
		"Properties.Endpoint": "!Ref AlarmEmail",
	} {
		if got := lookup(tpl, append([]string{"Resources", subs[0]}, strings.Split(key, ".")...)...); got != want {
			t.Errorf("subscription %s: %s = %q, want %q", subs[0], key, got, want)
		}
	}
	for _, id := range tpl.ResourceIDs("AWS::CloudWatch::Alarm") {
		for _, actions := range []string{"AlarmActions", "OKActions"} {
			if got := lookup(tpl, "Resources", id, "Properties", actions); got != "[!Ref AlarmTopic]" {
				t.Errorf("alarm %s: %s = %q, want [!Ref AlarmTopic]", id, actions, got)
			}
		}
	}
}

type metric struct {
	namespace, name, dimensions string
}

// alarmMetrics returns an alarm's single metric, or those its metric math
// reads, with its threshold and comparison.
func alarmMetrics(t *testing.T, tpl *cfn.Template, id string) (ms []metric, expression, threshold, comparison string) {
	t.Helper()
	props := value(t, tpl, "Resources", id, "Properties").(map[string]any)
	threshold, _ = props["Threshold"].(string)
	comparison, _ = props["ComparisonOperator"].(string)
	dims := func(m map[string]any) string {
		var parts []string
		for _, d := range asSlice(m["Dimensions"]) {
			d := d.(map[string]any)
			parts = append(parts, d["Name"].(string)+"="+d["Value"].(string))
		}
		return strings.Join(parts, ",")
	}
	if props["Metrics"] == nil {
		ns, _ := props["Namespace"].(string)
		name, _ := props["MetricName"].(string)
		return []metric{{ns, name, dims(props)}}, "", threshold, comparison
	}
	for _, q := range asSlice(props["Metrics"]) {
		q := q.(map[string]any)
		if e, ok := q["Expression"].(string); ok {
			expression = e
			continue
		}
		m := q["MetricStat"].(map[string]any)["Metric"].(map[string]any)
		ms = append(ms, metric{m["Namespace"].(string), q["Id"].(string) + ":" + m["MetricName"].(string), dims(m)})
	}
	return ms, expression, threshold, comparison
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func TestOperationsAlarms(t *testing.T) {
	tpl := parseTemplate(t)
	type want struct {
		metrics    []metric
		expression string
		threshold  string // "" = 0; every alarm fires above its threshold
	}
	wants := map[string]want{
		"WorkerFailureQueueAlarm":        {metrics: []metric{{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName=!GetAtt WorkerFailureQueue.QueueName"}}},
		"CheckpointsEndedBySweeperAlarm": {metrics: []metric{{"Karbor", "CheckpointsEndedBySweeper", ""}}},
		"Api5xxAlarm": {
			metrics: []metric{
				{"AWS/ApiGateway", "errors:5xx", "ApiId=!Ref HttpApi,Stage=$default"},
				{"AWS/ApiGateway", "requests:Count", "ApiId=!Ref HttpApi,Stage=$default"},
			},
			expression: "IF(requests >= 20, 100 * errors / requests, 0)",
			threshold:  "1",
		},
	}
	for _, fn := range []string{"WorkerFunction", "RunnerFunction", "SchedulerFunction", "SweeperFunction", "EventsFunction"} {
		for _, m := range []string{"Errors", "Throttles"} {
			wants[strings.TrimSuffix(fn, "Function")+m+"Alarm"] = want{metrics: []metric{{"AWS/Lambda", m, "FunctionName=!Ref " + fn}}}
		}
	}
	alarms := tpl.ResourceIDs("AWS::CloudWatch::Alarm")
	for id, w := range wants {
		if !slices.Contains(alarms, id) {
			t.Errorf("no alarm %s", id)
			continue
		}
		if w.threshold == "" {
			w.threshold = "0"
		}
		ms, expression, threshold, comparison := alarmMetrics(t, tpl, id)
		if !slices.Equal(ms, w.metrics) || expression != w.expression {
			t.Errorf("alarm %s watches %v %q, want %v %q", id, ms, expression, w.metrics, w.expression)
		}
		if threshold != w.threshold || comparison != "GreaterThanThreshold" {
			t.Errorf("alarm %s fires when %s %s, want GreaterThanThreshold %s", id, comparison, threshold, w.threshold)
		}
	}
	if len(alarms) != len(wants) {
		t.Errorf("alarms = %v, want the %d checked here", alarms, len(wants))
	}
	// The 5xx alarm's Stage dimension is the $default stage: the API has
	// no other.
	if got, _ := tpl.Lookup("Resources", "HttpApiStage", "Properties", "StageName"); got != "$default" {
		t.Errorf("HttpApiStage is %q; the 5xx alarm and the dashboard watch $default", got)
	}
}

// The metric filter counts the line the sweeper logs for each checkpoint it
// ends, in its own log group.
func TestOperationsSweptCheckpointsMetric(t *testing.T) {
	tpl := parseTemplate(t)
	filters := tpl.ResourceIDs("AWS::Logs::MetricFilter")
	if len(filters) != 1 {
		t.Fatalf("metric filters = %v, want one", filters)
	}
	props := value(t, tpl, "Resources", filters[0], "Properties").(map[string]any)
	group := strings.TrimPrefix(props["LogGroupName"].(string), "!Ref ")
	if got := lookup(tpl, "Resources", "SweeperFunction", "Properties", "LoggingConfig", "LogGroup"); got != "!Ref "+group {
		t.Errorf("metric filter reads log group %s; the sweeper logs to %q", group, got)
	}
	transforms := asSlice(props["MetricTransformations"])
	if len(transforms) != 1 {
		t.Fatalf("MetricTransformations = %v, want one", transforms)
	}
	tr := transforms[0].(map[string]any)
	if tr["MetricNamespace"] != "Karbor" || tr["MetricName"] != "CheckpointsEndedBySweeper" || tr["MetricValue"] != "1" {
		t.Errorf("metric filter makes %v, want 1 in Karbor/CheckpointsEndedBySweeper per line", tr)
	}
	// slog's JSON handler (internal/logging) writes the message under
	// "msg"; the sweeper logs this message once per checkpoint it ends.
	m := regexp.MustCompile(`^\{ \$\.msg = "([^"]+)" \}$`).FindStringSubmatch(props["FilterPattern"].(string))
	if m == nil {
		t.Fatalf("FilterPattern = %q, want { $.msg = \"<message>\" }", props["FilterPattern"])
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, "internal", "worker", "sweeper.go"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), `s.Log.Warn("`+m[1]+`"`); n != 1 {
		t.Errorf("internal/worker/sweeper.go logs %q %d times, want once (where it ends a checkpoint)", m[1], n)
	}
	logging, err := os.ReadFile(filepath.Join(repoRoot, "internal", "logging", "logging.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logging), "slog.NewJSONHandler(os.Stdout") {
		t.Error("internal/logging no longer logs JSON to stdout: the metric filter's $.msg matches nothing")
	}
}

func TestOperationsDashboard(t *testing.T) {
	tpl := parseTemplate(t)
	ids := tpl.ResourceIDs("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards = %v, want one", ids)
	}
	body := lookup(tpl, "Resources", ids[0], "Properties", "DashboardBody")
	if !strings.HasPrefix(body, "!Sub ") {
		t.Fatalf("DashboardBody = %.40q..., want !Sub", body)
	}
	resources := tpl.ResourceIDs("")
	// Substitute every ${...} as CloudFormation would, with a stand-in.
	var bad []string
	subbed := regexp.MustCompile(`\$\{([^}]*)\}`).ReplaceAllStringFunc(strings.TrimPrefix(body, "!Sub "), func(v string) string {
		ref := strings.TrimSuffix(strings.TrimPrefix(v, "${"), "}")
		if ref != "AWS::Region" && !slices.Contains(resources, strings.SplitN(ref, ".", 2)[0]) {
			bad = append(bad, ref)
		}
		return "<" + ref + ">"
	})
	if bad != nil {
		t.Errorf("DashboardBody refers to %v: no such resources", bad)
	}
	var dash struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(subbed), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	shown := map[string]bool{}
	for _, w := range dash.Widgets {
		for _, m := range w.Properties.Metrics {
			var parts []string
			for _, p := range m {
				if s, ok := p.(string); ok {
					parts = append(parts, s)
				}
			}
			shown[strings.Join(parts, " ")] = true
		}
	}
	apiDims := "ApiId <HttpApi> Stage $default"
	want := []string{
		"AWS/ApiGateway Count " + apiDims,
		"AWS/ApiGateway 4xx " + apiDims,
		"AWS/ApiGateway 5xx " + apiDims,
		"AWS/ApiGateway Latency " + apiDims,
		"AWS/SQS ApproximateNumberOfMessagesVisible QueueName <WorkerFailureQueue.QueueName>",
		"Karbor CheckpointsEndedBySweeper",
	}
	for _, fn := range []string{"WorkerFunction", "RunnerFunction", "SchedulerFunction", "SweeperFunction", "EventsFunction"} {
		for _, m := range []string{"Invocations", "Errors", "Duration", "Throttles"} {
			want = append(want, "AWS/Lambda "+m+" FunctionName <"+fn+">")
		}
	}
	for _, w := range want {
		if !shown[w] {
			t.Errorf("dashboard shows no %s", w)
		}
	}
}

// Every table keeps point-in-time recovery; every retained one is also
// protected from DeleteTable. The idempotency table, deleted with the
// stack, is not: protection would make the stack's deletion fail.
func TestOperationsTablesProtected(t *testing.T) {
	tpl := parseTemplate(t)
	for _, id := range tpl.ResourceIDs("AWS::DynamoDB::Table") {
		if got := lookup(tpl, "Resources", id, "Properties", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"); got != "true" {
			t.Errorf("table %s: PointInTimeRecoveryEnabled = %q, want true", id, got)
		}
		retained := lookup(tpl, "Resources", id, "DeletionPolicy") == "Retain"
		protected := lookup(tpl, "Resources", id, "Properties", "DeletionProtectionEnabled") == "true"
		if retained != protected {
			t.Errorf("table %s: retained %v, deletion protection %v; want both or neither", id, retained, protected)
		}
	}
	if got := lookup(tpl, "Resources", "CheckpointsTable", "Properties", "DeletionProtectionEnabled"); got != "true" {
		t.Errorf("CheckpointsTable: DeletionProtectionEnabled = %q, want true", got)
	}
	// Local tables stay deletable: Tables() leaves protection out.
	defs, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	for id, in := range defs {
		if in.DeletionProtectionEnabled != nil {
			t.Errorf("Tables()[%s] sets DeletionProtectionEnabled; local tables must stay deletable", id)
		}
	}
}
