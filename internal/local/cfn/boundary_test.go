package cfn_test

// The permissions boundary of the stack's roles: KarborFunctionBoundary in
// deploy/github-oidc-role.yaml must allow everything the stack's functions
// are granted (their policies in template.yaml, the statements SAM adds,
// the AWS managed policies SAM attaches), and every role the translated
// stack makes must carry it. Both templates are read with their
// intrinsics resolved for one account, region and stack name; IAM's
// wildcards (* and ?) are matched as IAM matches them.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"karbor/internal/local/cfn"
)

const (
	bPartition = "aws"
	bRegion    = "us-east-1"
	bAccount   = "123456789012"
	bStack     = "karbor-checkpoints-prod" // samconfig.toml's prod stack; the OIDC stack's StackName default
	bSuffix    = "1A2B3C4D5E6F"            // CloudFormation's suffix of a generated name
)

// statement is one IAM statement with its intrinsics resolved.
type statement struct {
	where     string
	effect    string
	actions   []string
	resources []string
	condition map[string]map[string][]string // operator -> key -> values
}

// globMatch reports whether an IAM pattern (* any run, ? one character)
// matches s. Matched against another pattern taken literally, it tells
// whether the pattern covers every string the other covers: a * of s can
// only be consumed by a * of the pattern.
func globMatch(pattern, s string, fold bool) bool {
	var b strings.Builder
	b.WriteString("^")
	if fold {
		b.WriteString("(?i)")
	}
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(s)
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		fold, want bool
	}{
		{"ec2:Describe*", "ec2:DescribeVolumes", true, true},
		{"ec2:Describe*", "ec2:describevolumes", true, true}, // actions: any case
		{"ec2:Describe*", "ec2:CreateVolume", true, false},
		{"table/Karbor-*", "table/karbor-X-1", false, false}, // resources: exact case
		{"table/karbor-*", "table/karbor-X-1", false, true},
		{"table/karbor-*", "table/*", false, false}, // a narrower pattern does not cover a wider one
		{"table/*", "table/*/backup/*", false, true},
		{"table/*/index/*", "table/t", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
	} {
		if got := globMatch(c.pattern, c.s, c.fold); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
}

// strs turns a string or a list of strings into a list.
func strs(t *testing.T, v any, resolve func(any) string) []string {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, resolve(e))
		}
		return out
	default:
		return []string{resolve(x)}
	}
}

// statements reads a policy document's statements.
func statements(t *testing.T, where string, doc any, resolve func(any) string) []statement {
	t.Helper()
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s: policy document %v", where, doc)
	}
	sts, ok := m["Statement"].([]any)
	if !ok {
		sts = []any{m["Statement"]}
	}
	var out []statement
	for i, s := range sts {
		s := s.(map[string]any)
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if s[k] != nil {
				t.Fatalf("%s statement %d: %s is not read here", where, i, k)
			}
		}
		st := statement{
			where:     fmt.Sprintf("%s statement %d (%v)", where, i, s["Sid"]),
			effect:    fmt.Sprint(s["Effect"]),
			actions:   strs(t, s["Action"], resolve),
			resources: strs(t, s["Resource"], resolve),
			condition: map[string]map[string][]string{},
		}
		if c, ok := s["Condition"].(map[string]any); ok {
			for op, keys := range c {
				st.condition[op] = map[string][]string{}
				for key, vals := range keys.(map[string]any) {
					st.condition[op][key] = strs(t, vals, resolve)
				}
			}
		} else if s["Condition"] != nil {
			t.Fatalf("%s: condition %v", st.where, s["Condition"])
		}
		out = append(out, st)
	}
	return out
}

// subst replaces ${Name} in a Fn::Sub string.
func subst(t *testing.T, s string, lookup func(name string) string) string {
	t.Helper()
	return regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(s, func(m string) string {
		return lookup(m[2 : len(m)-1])
	})
}

func pseudo(name string) (string, bool) {
	switch name {
	case "AWS::Partition":
		return bPartition, true
	case "AWS::Region":
		return bRegion, true
	case "AWS::AccountId":
		return bAccount, true
	case "AWS::StackName":
		return bStack, true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	}
	return "", false
}

// boundary reads KarborFunctionBoundary's statements from the OIDC
// template (short-form intrinsics, as cfn.Template renders them), with
// StackName the prod stack.
func boundary(t *testing.T) []statement {
	t.Helper()
	tpl := oidcTemplate(t)
	resolve := func(v any) string {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("boundary: %v is not a string", v)
		}
		lookup := func(name string) string {
			if p, ok := pseudo(name); ok {
				return p
			}
			if name == "StackName" {
				return bStack
			}
			t.Fatalf("boundary: ${%s} not resolved here", name)
			return ""
		}
		switch {
		case strings.HasPrefix(s, "!Sub "):
			return subst(t, strings.TrimPrefix(s, "!Sub "), lookup)
		case strings.HasPrefix(s, "!Ref "):
			return lookup(strings.TrimPrefix(s, "!Ref "))
		case strings.HasPrefix(s, "!"):
			t.Fatalf("boundary: %s not resolved here", s)
		}
		return s
	}
	if got := lookup(tpl, "Resources", "KarborFunctionBoundary", "Type"); got != "AWS::IAM::ManagedPolicy" {
		t.Fatalf("KarborFunctionBoundary is %q", got)
	}
	sts := statements(t, "KarborFunctionBoundary", value(t, tpl, "Resources", "KarborFunctionBoundary", "Properties", "PolicyDocument"), resolve)
	for _, st := range sts {
		if st.effect != "Allow" {
			t.Errorf("%s: effect %s (a boundary of Allows only)", st.where, st.effect)
		}
		for _, a := range st.actions {
			if strings.HasSuffix(a, ":*") || a == "*" || strings.HasPrefix(strings.ToLower(a), "iam:") || strings.HasPrefix(strings.ToLower(a), "sts:") {
				t.Errorf("%s: the boundary allows %s", st.where, a)
			}
		}
	}
	return sts
}

func oidcTemplate(t *testing.T) *cfn.Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "github-oidc-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := cfn.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// allowedBy returns the boundary statement that allows action on resource
// under a condition at least as strict as cond (every condition of the
// boundary statement is in cond, cond's values a subset of its), or nil.
func allowedBy(bs []statement, action, resource string, cond map[string]map[string][]string) *statement {
	for i, b := range bs {
		if !slices.ContainsFunc(b.actions, func(p string) bool { return globMatch(p, action, true) }) ||
			!slices.ContainsFunc(b.resources, func(p string) bool { return globMatch(p, resource, false) }) {
			continue
		}
		strict := true
		for op, keys := range b.condition {
			for key, vals := range keys {
				got, ok := cond[op][key]
				if !ok || len(got) == 0 || slices.ContainsFunc(got, func(v string) bool { return !slices.Contains(vals, v) }) {
					strict = false
				}
			}
		}
		if strict {
			return &bs[i]
		}
	}
	return nil
}

// roleResolver resolves the translated template's long-form intrinsics
// (their Fn::Ifs already picked by deployed.active) for one deployment.
func roleResolver(t *testing.T, d *deployed, res map[string]map[string]any) func(any) string {
	getAtt := func(id, attr string) string {
		r, ok := res[id]
		if !ok {
			t.Fatalf("GetAtt of %s, which does not exist here", id)
		}
		switch {
		case r["Type"] == "AWS::DynamoDB::Table" && attr == "Arn":
			return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s-%s-%s", bPartition, bRegion, bAccount, bStack, id, bSuffix)
		case r["Type"] == "AWS::DynamoDB::Table" && attr == "StreamArn":
			return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s-%s-%s/stream/2026-12-01T00:00:00.000", bPartition, bRegion, bAccount, bStack, id, bSuffix)
		case r["Type"] == "AWS::SQS::Queue" && attr == "Arn":
			return fmt.Sprintf("arn:%s:sqs:%s:%s:%s-%s-%s", bPartition, bRegion, bAccount, bStack, id, bSuffix)
		}
		t.Fatalf("GetAtt %s.%s (%v) not resolved here", id, attr, r["Type"])
		return ""
	}
	var resolve func(v any) string
	ref := func(name string) string {
		if p, ok := pseudo(name); ok {
			return p
		}
		if p, ok := d.params[name]; ok {
			return p
		}
		if r, ok := res[name]; ok && r["Type"] == "AWS::Logs::LogGroup" {
			return resolve(r["Properties"].(map[string]any)["LogGroupName"])
		}
		t.Fatalf("Ref %s not resolved here", name)
		return ""
	}
	resolve = func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case map[string]any:
			if len(x) != 1 {
				break
			}
			if name, ok := x["Ref"].(string); ok {
				return ref(name)
			}
			if ga, ok := x["Fn::GetAtt"]; ok {
				switch g := ga.(type) {
				case []any:
					return getAtt(g[0].(string), g[1].(string))
				case string:
					id, attr, _ := strings.Cut(g, ".")
					return getAtt(id, attr)
				}
			}
			if sub, ok := x["Fn::Sub"]; ok {
				var s string
				vars := map[string]any{}
				switch y := sub.(type) {
				case string:
					s = y
				case []any:
					s = y[0].(string)
					vars = y[1].(map[string]any)
				}
				return subst(t, s, func(name string) string {
					if v, ok := vars[name]; ok {
						return resolve(v)
					}
					if id, attr, ok := strings.Cut(name, "."); ok {
						return getAtt(id, attr)
					}
					return ref(name)
				})
			}
		}
		t.Fatalf("%v not resolved here", v)
		return ""
	}
	return resolve
}

// The actions of the AWS managed policies SAM attaches to the template's
// roles (IAM's AWS managed policy reference; each on "*"). The boundary
// narrows their resources to the stack's log groups and streams, which
// TestFunctionBoundary checks with the stack's own ARNs.
var samManagedPolicies = map[string][]string{
	"AWSLambdaBasicExecutionRole":    {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	"AWSXrayWriteOnlyAccess":         {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"},
	"AWSLambdaDynamoDBExecutionRole": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
}

// TestFunctionBoundary: every role of the translated stack (each auth mode,
// each ownership mode) carries PermissionsBoundaryArn when it is set and
// none when it is empty; every Allow of every role's inline policies (the
// template's Policies and what SAM adds) is allowed by
// KarborFunctionBoundary on the same resources under a condition no
// looser; every managed policy attached is one the deploy role may attach,
// and its actions are allowed; the functions' log groups and the stream
// mappings' streams are within the boundary's resources.
func TestFunctionBoundary(t *testing.T) {
	bs := boundary(t)
	const arn = "arn:aws:iam::123456789012:policy/karbor-checkpoints-prod-function-boundary"
	keystone := map[string]string{"AuthMode": "keystone", "KeystoneUrl": "https://keystone.example.com:5000", "KeystoneCredentialsArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:karbor-keystone-AbCdEf"}
	ssm := map[string]string{"AuthMode": "keystone", "KeystoneUrl": "https://keystone.example.com:5000", "KeystoneCredentialsArn": "arn:aws:ssm:us-east-1:123456789012:parameter/karbor/keystone"}
	sets := []map[string]string{
		{"PermissionsBoundaryArn": arn},
		{"PermissionsBoundaryArn": arn, "OwnershipMode": "account", "EventBusName": "karbor-events"},
		withBoundary(keystone, arn),
		withBoundary(ssm, arn),
		{}, // no boundary
	}
	attachable := deployRoleAttachable(t)
	wantIf := `{"Fn::If":["HasBoundary",{"Ref":"PermissionsBoundaryArn"},{"Ref":"AWS::NoValue"}]}`
	for i, d := range translate(t, sets...) {
		res := d.active()
		resolve := roleResolver(t, d, res)
		roles := ofType(res, "AWS::IAM::Role")
		sort.Strings(roles)
		if len(roles) == 0 {
			t.Fatalf("set %d: no roles", i)
		}
		for _, id := range roles {
			raw, _ := json.Marshal(d.resources[id]["Properties"].(map[string]any)["PermissionsBoundary"])
			if string(raw) != wantIf {
				t.Errorf("set %d: role %s: PermissionsBoundary %s, want %s", i, id, raw, wantIf)
			}
			got := prop(res[id], "PermissionsBoundary")
			if want := `{"Ref":"PermissionsBoundaryArn"}`; sets[i]["PermissionsBoundaryArn"] == "" {
				if want = `{"Ref":"AWS::NoValue"}`; got != want {
					t.Errorf("set %d (no boundary): role %s: PermissionsBoundary %s", i, id, got)
				}
			} else if got != want {
				t.Errorf("set %d: role %s: PermissionsBoundary %s, want %s", i, id, got, want)
			}
			props := res[id]["Properties"].(map[string]any)
			pols, _ := props["Policies"].([]any)
			for _, p := range pols {
				p := p.(map[string]any)
				for _, st := range statements(t, fmt.Sprintf("set %d %s %v", i, id, p["PolicyName"]), p["PolicyDocument"], resolve) {
					if st.effect != "Allow" {
						continue
					}
					for _, a := range st.actions {
						for _, r := range st.resources {
							if allowedBy(bs, a, r, st.condition) == nil {
								t.Errorf("%s: %s on %s (condition %v) is not allowed by KarborFunctionBoundary", st.where, a, r, st.condition)
							}
						}
					}
				}
			}
			managed, _ := props["ManagedPolicyArns"].([]any)
			for _, m := range managed {
				m := resolve(m)
				if !slices.Contains(attachable, m) {
					t.Errorf("role %s: SAM attaches %s, which the deploy role may not attach (its iam:PolicyARN: %v)", id, m, attachable)
				}
				acts, ok := samManagedPolicies[m[strings.LastIndex(m, "/")+1:]]
				if !ok {
					t.Errorf("role %s: managed policy %s: its actions are not listed here", id, m)
				}
				for _, a := range acts {
					if !slices.ContainsFunc(bs, func(b statement) bool {
						return slices.ContainsFunc(b.actions, func(p string) bool { return globMatch(p, a, true) })
					}) {
						t.Errorf("role %s: %s of %s is not allowed by KarborFunctionBoundary", id, a, m)
					}
				}
			}
		}
		// Where the functions write their logs, and the streams they read.
		for _, id := range ofType(res, "AWS::Lambda::Function") {
			lg, ok := res[id]["Properties"].(map[string]any)["LoggingConfig"].(map[string]any)["LogGroup"]
			if !ok {
				t.Errorf("function %s has no LoggingConfig.LogGroup", id)
				continue
			}
			group := fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s", bPartition, bRegion, bAccount, resolve(lg))
			for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
				if r := group + ":log-stream:2026/12/01/[$LATEST]0123"; allowedBy(bs, a, r, nil) == nil {
					t.Errorf("function %s: %s on %s is not allowed by KarborFunctionBoundary", id, a, r)
				}
			}
		}
		for _, id := range ofType(res, "AWS::Lambda::EventSourceMapping") {
			src := resolve(res[id]["Properties"].(map[string]any)["EventSourceArn"])
			for _, a := range []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"} {
				if allowedBy(bs, a, src, nil) == nil {
					t.Errorf("mapping %s: %s on %s is not allowed by KarborFunctionBoundary", id, a, src)
				}
			}
		}
	}

	// Not everything: the boundary refuses what no function needs.
	for _, c := range []struct{ action, resource string }{
		{"iam:CreateRole", "*"},
		{"dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other-stack-Table-1"}, // allowed only without karbor:service
		{"dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:123456789012:table/customer-orders"},
		{"ec2:DeleteSnapshot", "arn:aws:ec2:us-east-1::snapshot/snap-1"}, // allowed only with karbor:checkpoint-id
		{"ec2:TerminateInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"},
		{"s3:GetObject", "arn:aws:s3:::any/key"},
		{"kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k"}, // only via EC2 and DynamoDB
		{"logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/karbor/other-stack/x:log-stream:y"},
		{"sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:other-queue"},
	} {
		if b := allowedBy(bs, c.action, c.resource, nil); b != nil {
			t.Errorf("KarborFunctionBoundary allows %s on %s unconditionally (%s)", c.action, c.resource, b.where)
		}
	}
}

func withBoundary(m map[string]string, arn string) map[string]string {
	out := map[string]string{"PermissionsBoundaryArn": arn}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// deployRoleAttachable returns the managed policy ARNs the deploy role may
// attach (its AttachRolePolicy statements' iam:PolicyARN), resolved.
func deployRoleAttachable(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, st := range deployRoleStatements(t) {
		if st.effect == "Allow" && slices.Contains(st.actions, "iam:AttachRolePolicy") {
			for _, v := range st.condition["StringEquals"]["iam:PolicyARN"] {
				out = append(out, strings.ReplaceAll(strings.TrimPrefix(v, "!Sub "), "${AWS::Partition}", bPartition))
			}
		}
	}
	return out
}

// deployRoleStatements returns the deploy role's statements, intrinsics as
// short-form text.
func deployRoleStatements(t *testing.T) []statement {
	t.Helper()
	tpl := oidcTemplate(t)
	var out []statement
	for _, p := range value(t, tpl, "Resources", "DeployRole", "Properties", "Policies").([]any) {
		p := p.(map[string]any)
		out = append(out, statements(t, fmt.Sprint("DeployRole ", p["PolicyName"]), p["PolicyDocument"], func(v any) string { return fmt.Sprint(v) })...)
	}
	return out
}
