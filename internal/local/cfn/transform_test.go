package cfn_test

// The template as CloudFormation deploys it: translated by samtranslator
// (the library behind the AWS::Serverless-2016-10-31 transform; it comes
// with cfn-lint) for each auth mode, its conditions evaluated with that
// mode's parameters, and the resources that then exist checked.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"karbor/internal/api"
	"karbor/internal/local/cfn"
	"karbor/internal/local/gen"
)

// deployed is a translated template under one set of parameter values.
type deployed struct {
	t          *testing.T
	resources  map[string]map[string]any // every resource, conditional or not
	conditions map[string]any
	params     map[string]string // parameter values, defaults filled in
	memo       map[string]bool
}

// translate runs testdata/sam_translate.py over template.yaml, once per
// set of parameter values.
func translate(t *testing.T, paramSets ...map[string]string) []*deployed {
	t.Helper()
	if out, err := exec.Command("python3", "-c", "import samtranslator, cfnlint").CombinedOutput(); err != nil {
		t.Fatalf("python3 with samtranslator and cfn-lint is needed to translate the template (pip install cfn-lint, which brings aws-sam-translator; make test needs it for the lint too): %v\n%s", err, out)
	}
	in, _ := json.Marshal(paramSets)
	cmd := exec.Command("python3", filepath.Join("testdata", "sam_translate.py"), filepath.Join(repoRoot, "template.yaml"), string(in))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("samtranslator refused template.yaml with %v: %v\n%s", paramSets, err, stderr.Bytes())
	}
	var tpls []struct {
		Parameters map[string]struct {
			Default any
		}
		Conditions map[string]any
		Resources  map[string]map[string]any
	}
	if err := json.Unmarshal(out, &tpls); err != nil || len(tpls) != len(paramSets) {
		t.Fatalf("translated templates: %d for %d parameter sets, %v", len(tpls), len(paramSets), err)
	}
	var ds []*deployed
	for i, tpl := range tpls {
		d := &deployed{t: t, resources: tpl.Resources, conditions: tpl.Conditions, params: map[string]string{}, memo: map[string]bool{}}
		for name, p := range tpl.Parameters {
			if p.Default != nil {
				d.params[name] = fmt.Sprint(p.Default)
			}
		}
		maps.Copy(d.params, paramSets[i])
		ds = append(ds, d)
	}
	return ds
}

// condition evaluates a named condition of the template.
func (d *deployed) condition(name string) bool {
	if v, ok := d.memo[name]; ok {
		return v
	}
	c, ok := d.conditions[name]
	if !ok {
		d.t.Fatalf("no condition %s", name)
	}
	v := d.eval(c)
	d.memo[name] = v
	return v
}

// eval evaluates a condition expression: Fn::Equals of literals and
// parameter refs, Fn::Not, Fn::And, Fn::Or and Condition.
func (d *deployed) eval(c any) bool {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		d.t.Fatalf("condition %v: not an intrinsic", c)
	}
	for fn, arg := range m {
		switch fn {
		case "Condition":
			return d.condition(arg.(string))
		case "Fn::Not":
			return !d.eval(arg.([]any)[0])
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, x := range arg.([]any) {
				if d.eval(x) != and {
					return !and
				}
			}
			return and
		case "Fn::Equals":
			xs := arg.([]any)
			return d.scalar(xs[0]) == d.scalar(xs[1])
		}
		d.t.Fatalf("condition function %s not evaluated here", fn)
	}
	return false
}

func (d *deployed) scalar(v any) string {
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["Ref"].(string); ok {
			if p, ok := d.params[ref]; ok {
				return p
			}
		}
		d.t.Fatalf("%v: not a parameter ref", v)
	}
	return fmt.Sprint(v)
}

// resolve picks the branches of every Fn::If in v.
func (d *deployed) resolve(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if args, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
			if d.condition(args[0].(string)) {
				return d.resolve(args[1])
			}
			return d.resolve(args[2])
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = d.resolve(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = d.resolve(e)
		}
		return out
	}
	return v
}

// active returns the resources that exist under the parameters, their
// Fn::Ifs resolved.
func (d *deployed) active() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range d.resources {
		if c, ok := r["Condition"].(string); ok && !d.condition(c) {
			continue
		}
		out[id] = d.resolve(r).(map[string]any)
	}
	return out
}

// prop returns a resource's property as JSON text ("" when absent).
func prop(r map[string]any, path ...string) string {
	var v any = r["Properties"]
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func ofType(res map[string]map[string]any, typ string) []string {
	var ids []string
	for id, r := range res {
		if r["Type"] == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

var authModes = []struct {
	name   string
	params map[string]string
}{
	{"jwt-issuer", map[string]string{"AuthMode": "jwt", "JwtIssuer": "https://login.example.com/realms/karbor/", "JwtAudience": "karbor"}},
	{"jwt-cognito", map[string]string{"AuthMode": "jwt"}},
	{"keystone", map[string]string{"AuthMode": "keystone"}},
}

// TestTransformedTemplate: in every auth mode, each route has its route,
// integration and permission behind that mode's authorizer, the
// operations (log groups with retention, tracing, alarms, dashboard,
// access logs) exist, and the stack stays under CloudFormation's 500
// resources.
func TestTransformedTemplate(t *testing.T) {
	var sets []map[string]string
	for _, mode := range authModes {
		sets = append(sets, mode.params)
	}
	ds := translate(t, sets...)
	for i, mode := range authModes {
		t.Run(mode.name, func(t *testing.T) {
			d := ds[i]
			d.t = t
			res := d.active()
			t.Logf("%s: %d resources (CloudFormation's limit: 500); %d in the template with every condition true", mode.name, len(res), len(d.resources))
			if len(d.resources) >= 500 {
				t.Errorf("the translated template has %d resources: CloudFormation refuses more than 500", len(d.resources))
			}
			checkRoutes(t, mode.name, res)
			checkAuthorizers(t, mode.name, res)
			checkOperations(t, res)
		})
	}
}

func checkRoutes(t *testing.T, mode string, res map[string]map[string]any) {
	wantType, wantAuthorizer := "JWT", `{"Ref":"JwtAuthorizer"}`
	if mode == "keystone" {
		wantType, wantAuthorizer = "CUSTOM", `{"Ref":"KeystoneAuthorizer"}`
	}
	routes := map[string]string{} // route key -> resource id
	for _, id := range ofType(res, "AWS::ApiGatewayV2::Route") {
		routes[prop(res[id], "RouteKey")] = id
	}
	permissions := map[string][]string{} // function -> permissions' source ARNs
	for _, id := range ofType(res, "AWS::Lambda::Permission") {
		var fn string
		switch f := res[id]["Properties"].(map[string]any)["FunctionName"].(type) {
		case map[string]any:
			fn, _ = f["Ref"].(string)
			if fn == "" {
				if ga, ok := f["Fn::GetAtt"].([]any); ok {
					fn, _ = ga[0].(string)
				}
			}
		}
		if prop(res[id], "Principal") == "apigateway.amazonaws.com" {
			permissions[fn] = append(permissions[fn], prop(res[id], "SourceArn"))
		}
	}
	for _, r := range api.Routes {
		key := r.Method + " " + r.Path
		id, ok := routes[key]
		if !ok {
			t.Errorf("no AWS::ApiGatewayV2::Route %q", key)
			continue
		}
		route := res[id]
		if got := prop(route, "ApiId"); got != `{"Ref":"HttpApi"}` {
			t.Errorf("%s: ApiId %s, want HttpApi", id, got)
		}
		if r.Anonymous {
			if got := prop(route, "AuthorizationType"); got != "NONE" {
				t.Errorf("%s (anonymous): AuthorizationType %q, want NONE", id, got)
			}
		} else if got, authz := prop(route, "AuthorizationType"), prop(route, "AuthorizerId"); got != wantType || authz != wantAuthorizer {
			t.Errorf("%s: AuthorizationType %q, AuthorizerId %s; want %s and %s", id, got, authz, wantType, wantAuthorizer)
		}
		m := regexp.MustCompile(`^\{"Fn::Sub":"integrations/\$\{(\w+)\}"\}$`).FindStringSubmatch(prop(route, "Target"))
		if m == nil {
			t.Errorf("%s: Target %s, want integrations/${<integration>}", id, prop(route, "Target"))
			continue
		}
		integration, ok := res[m[1]]
		if !ok || integration["Type"] != "AWS::ApiGatewayV2::Integration" {
			t.Errorf("%s: target %s is no integration of the stack", id, m[1])
			continue
		}
		want := fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, r.LogicalID())
		if prop(integration, "IntegrationType") != "AWS_PROXY" || prop(integration, "PayloadFormatVersion") != "2.0" || prop(integration, "IntegrationUri") != want {
			t.Errorf("integration %s: %v; want AWS_PROXY, payload 2.0, %s", m[1], integration["Properties"], want)
		}
		fn := res[r.LogicalID()]
		if fn == nil || fn["Type"] != "AWS::Lambda::Function" {
			t.Errorf("%s: no AWS::Lambda::Function %s", key, r.LogicalID())
		}
		wantARN := fmt.Sprintf(`{"Fn::Sub":"%s"}`, gen.SourceARN(r))
		if got := permissions[r.LogicalID()]; !slices.Equal(got, []string{wantARN}) {
			t.Errorf("%s: API Gateway may invoke it for %q, want only %s", r.LogicalID(), got, wantARN)
		}
		if !strings.HasSuffix(gen.SourceARN(r), "/"+r.Method+regexp.MustCompile(`\{\w+\}`).ReplaceAllString(r.Path, "*")) {
			t.Errorf("%s: source ARN %s is not scoped to %s", r.LogicalID(), gen.SourceARN(r), key)
		}
	}
	// And the $default route: the Fallback's, anonymous.
	if n := len(routes); n != len(api.Routes)+1 {
		t.Errorf("%d routes, want the %d of api.Routes and $default", n, len(api.Routes))
	}
	if id, ok := routes["$default"]; !ok || prop(res[id], "AuthorizationType") != "NONE" {
		t.Errorf("the $default route %q: want one, AuthorizationType NONE", id)
	}
	// The API has no OpenAPI body: a change of a body reimports the API,
	// which would drop routes made beside it.
	if httpAPI := res["HttpApi"]; httpAPI == nil || httpAPI["Type"] != "AWS::ApiGatewayV2::Api" || prop(httpAPI, "Body") != "" || prop(httpAPI, "BodyS3Location") != "" {
		t.Errorf("HttpApi %v: want an AWS::ApiGatewayV2::Api without a body", httpAPI)
	}
	wantDefault := fmt.Sprintf(`{"Fn::Sub":"%s"}`, gen.SourceARN(api.NotFound))
	if got := permissions[api.NotFound.LogicalID()]; !slices.Equal(got, []string{wantDefault}) {
		t.Errorf("NotFoundFunction: API Gateway permissions %q, want only %s", got, wantDefault)
	}
	stages := ofType(res, "AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 || prop(res[stages[0]], "StageName") != "$default" || prop(res[stages[0]], "AutoDeploy") != "true" {
		t.Errorf("stages %v: want one, $default, AutoDeploy (the raw routes are deployed by it)", stages)
	}
}

func checkAuthorizers(t *testing.T, mode string, res map[string]map[string]any) {
	authorizers := ofType(res, "AWS::ApiGatewayV2::Authorizer")
	cognito := ofType(res, "AWS::Cognito::UserPool")
	switch mode {
	case "keystone":
		if !slices.Equal(authorizers, []string{"KeystoneAuthorizer"}) {
			t.Fatalf("authorizers %v, want KeystoneAuthorizer", authorizers)
		}
		a := res["KeystoneAuthorizer"]
		for path, want := range map[string]string{
			"AuthorizerType":                 "REQUEST",
			"AuthorizerPayloadFormatVersion": "2.0",
			"EnableSimpleResponses":          "true",
			"AuthorizerResultTtlInSeconds":   "0",
			"AuthorizerUri":                  `{"Fn::Sub":"arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${KeystoneAuthorizerFunction.Arn}/invocations"}`,
		} {
			if got := prop(a, path); got != want {
				t.Errorf("KeystoneAuthorizer.%s = %s, want %s", path, got, want)
			}
		}
		// No identity source: a request without X-Auth-Token reaches the
		// function, and gets the 401 in the fault shape rather than API
		// Gateway's bare one.
		if got := prop(a, "IdentitySource"); got != "" {
			t.Errorf("KeystoneAuthorizer.IdentitySource = %s, want none", got)
		}
		if res["KeystoneAuthorizerFunction"] == nil || res["KeystoneAuthorizerPermission"] == nil {
			t.Error("keystone mode without KeystoneAuthorizerFunction and its invoke permission")
		} else if got := prop(res["KeystoneAuthorizerPermission"], "SourceArn"); !strings.Contains(got, "${HttpApi}/authorizers/${KeystoneAuthorizer}") {
			t.Errorf("KeystoneAuthorizerPermission's SourceArn %s, want the API's KeystoneAuthorizer", got)
		}
		if len(cognito) != 0 {
			t.Errorf("keystone mode makes user pools %v", cognito)
		}
	default:
		if !slices.Equal(authorizers, []string{"JwtAuthorizer"}) {
			t.Fatalf("authorizers %v, want JwtAuthorizer", authorizers)
		}
		if res["KeystoneAuthorizerFunction"] != nil {
			t.Error("jwt mode has KeystoneAuthorizerFunction")
		}
		a := res["JwtAuthorizer"]
		wantIssuer, wantAudience := `{"Ref":"JwtIssuer"}`, `[{"Ref":"JwtAudience"}]`
		if mode == "jwt-cognito" {
			wantIssuer, wantAudience = `{"Fn::Sub":"https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}`, `[{"Ref":"UserPoolClient"}]`
		}
		if prop(a, "AuthorizerType") != "JWT" || prop(a, "IdentitySource") != `["$request.header.Authorization"]` ||
			prop(a, "JwtConfiguration", "Issuer") != wantIssuer || prop(a, "JwtConfiguration", "Audience") != wantAudience {
			t.Errorf("JwtAuthorizer = %v; want JWT on Authorization, issuer %s, audience %s", a["Properties"], wantIssuer, wantAudience)
		}
		if mode == "jwt-issuer" {
			if len(cognito) != 0 {
				t.Errorf("a stack with an issuer makes user pools %v", cognito)
			}
			return
		}
		checkCognito(t, res)
	}
}

func checkCognito(t *testing.T, res map[string]map[string]any) {
	pool := res["UserPool"]
	if pool == nil {
		t.Fatal("no UserPool without an issuer")
	}
	if prop(pool, "AdminCreateUserConfig", "AllowAdminCreateUserOnly") != "true" || prop(pool, "DeletionProtection") != "ACTIVE" {
		t.Errorf("UserPool: self sign-up or no deletion protection: %v", pool["Properties"])
	}
	// Protected, so retained: else deleting the stack would fail on it.
	if pool["DeletionPolicy"] != "Retain" || pool["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("UserPool: DeletionPolicy %v, UpdateReplacePolicy %v; want Retain", pool["DeletionPolicy"], pool["UpdateReplacePolicy"])
	}
	if !strings.Contains(prop(pool, "Schema"), `"AttributeDataType":"String","Mutable":true,"Name":"project_id"`) {
		t.Errorf("UserPool schema %s: want a mutable String project_id", prop(pool, "Schema"))
	}
	client := res["UserPoolClient"]
	if client == nil || prop(client, "GenerateSecret") != "false" {
		t.Fatal("no UserPoolClient without a secret")
	}
	var flows, read, write []string
	_ = json.Unmarshal([]byte(prop(client, "ExplicitAuthFlows")), &flows)
	_ = json.Unmarshal([]byte(prop(client, "ReadAttributes")), &read)
	_ = json.Unmarshal([]byte(prop(client, "WriteAttributes")), &write)
	for _, f := range []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} {
		if !slices.Contains(flows, f) {
			t.Errorf("UserPoolClient lacks the auth flow %s", f)
		}
	}
	if !slices.Contains(read, "custom:project_id") {
		t.Errorf("UserPoolClient's ReadAttributes %v lack custom:project_id", read)
	}
	// A user that could write its project could move itself into another.
	if len(write) == 0 || slices.Contains(write, "custom:project_id") {
		t.Errorf("UserPoolClient's WriteAttributes %v: want a list without custom:project_id (absent = every attribute writable)", write)
	}
	var groups []string
	for _, id := range ofType(res, "AWS::Cognito::UserPoolGroup") {
		groups = append(groups, prop(res[id], "GroupName"))
	}
	slices.Sort(groups)
	// The admin group is the admin role's: AdminRoleName.
	if !slices.Equal(groups, []string{"member", "reader", `{"Ref":"AdminRoleName"}`}) {
		t.Errorf("user pool groups %v, want AdminRoleName's, member, reader", groups)
	}
}

func checkOperations(t *testing.T, res map[string]map[string]any) {
	for _, id := range ofType(res, "AWS::Lambda::Function") {
		fn := res[id]
		if got := prop(fn, "TracingConfig", "Mode"); got != "Active" {
			t.Errorf("%s: tracing %q, want Active", id, got)
		}
		role := strings.TrimSuffix(strings.TrimPrefix(prop(fn, "Role"), `{"Fn::GetAtt":["`), `","Arn"]}`)
		if !strings.Contains(prop(res[role], "ManagedPolicyArns"), "AWSXrayWriteOnlyAccess") {
			t.Errorf("%s: its role %s may not write X-Ray traces", id, role)
		}
		m := regexp.MustCompile(`^\{"Ref":"(\w+)"\}$`).FindStringSubmatch(prop(fn, "LoggingConfig", "LogGroup"))
		if m == nil || res[m[1]]["Type"] != "AWS::Logs::LogGroup" {
			t.Errorf("%s: log group %s, want one of the stack", id, prop(fn, "LoggingConfig", "LogGroup"))
		}
	}
	for _, id := range ofType(res, "AWS::Logs::LogGroup") {
		if got := prop(res[id], "RetentionInDays"); got != `{"Ref":"LogRetentionDays"}` {
			t.Errorf("log group %s: retention %s, want LogRetentionDays", id, got)
		}
	}
	for _, id := range ofType(res, "AWS::ApiGatewayV2::Stage") {
		if got := prop(res[id], "AccessLogSettings", "DestinationArn"); got != `{"Fn::GetAtt":["HttpApiAccessLogs","Arn"]}` {
			t.Errorf("stage %s: access logs to %s", id, got)
		}
	}
	alarms := ofType(res, "AWS::CloudWatch::Alarm")
	for _, want := range []string{"WorkerFailureQueueAlarm", "WorkerErrorsAlarm", "SchedulerErrorsAlarm", "Api5xxAlarm", "CheckpointsEndedBySweeperAlarm", "WorkerThrottlesAlarm"} {
		if !slices.Contains(alarms, want) {
			t.Errorf("no alarm %s (alarms: %v)", want, alarms)
		}
	}
	for _, id := range alarms {
		if got := prop(res[id], "AlarmActions"); got != `[{"Ref":"AlarmTopic"}]` {
			t.Errorf("alarm %s notifies %s, want AlarmTopic", id, got)
		}
	}
	if len(ofType(res, "AWS::CloudWatch::Dashboard")) != 1 {
		t.Error("no dashboard")
	}
}

// TestDeployRole: deploy/github-oidc-role.yaml, the one-time setup of the
// deploy job's OIDC role: GitHub's OIDC provider, and a role that trusts
// only the repository's jobs in the environment deploy.yml's deploy job
// names (a job with an environment gets a token whose sub names it, not
// the branch), and may make what the stack now holds (authorizers,
// routes and integrations of the HTTP API; the Cognito pool), but cannot
// escalate: the roles it makes carry KarborFunctionBoundary, and it
// reaches only the Cognito pool tagged with its stack's name.
func TestDeployRole(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "github-oidc-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := cfn.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if got := lookup(tpl, "Resources", "GitHubOidcProvider", "Type"); got != "AWS::IAM::OIDCProvider" {
		t.Errorf("GitHubOidcProvider is %q", got)
	}
	if got := lookup(tpl, "Resources", "GitHubOidcProvider", "Properties", "Url"); got != "https://token.actions.githubusercontent.com" {
		t.Errorf("GitHubOidcProvider's Url %q", got)
	}
	if got := lookup(tpl, "Resources", "DeployRole", "Type"); got != "AWS::IAM::Role" {
		t.Fatalf("DeployRole is %q", got)
	}
	trust := value(t, tpl, "Resources", "DeployRole", "Properties", "AssumeRolePolicyDocument", "Statement").([]any)
	if len(trust) != 1 {
		t.Fatalf("trust statements %v, want one", trust)
	}
	cond := trust[0].(map[string]any)["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	environment := lookup(tpl, "Parameters", "Environment", "Default")
	if cond["token.actions.githubusercontent.com:sub"] != "!Sub repo:${GitHubRepository}:environment:${Environment}" ||
		cond["token.actions.githubusercontent.com:aud"] != "sts.amazonaws.com" {
		t.Errorf("trust condition %v: want sub repo:<repo>:environment:<Environment>, aud sts.amazonaws.com", cond)
	}

	// deploy.yml's deploy job runs in that environment.
	wf, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", "deploy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var workflow struct {
		Jobs map[string]struct {
			Environment string `yaml:"environment"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(wf, &workflow); err != nil {
		t.Fatal(err)
	}
	if got := workflow.Jobs["deploy"].Environment; got == "" || got != environment {
		t.Errorf("deploy.yml's deploy job has environment %q; the role trusts %q", got, environment)
	}

	actions := map[string][]string{} // action -> resources
	for _, p := range value(t, tpl, "Resources", "DeployRole", "Properties", "Policies").([]any) {
		for _, st := range p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			var acts, res []any
			for key, dst := range map[string]*[]any{"Action": &acts, "Resource": &res} {
				switch v := st[key].(type) {
				case []any:
					*dst = v
				default:
					*dst = []any{v}
				}
			}
			for _, a := range acts {
				for _, r := range res {
					actions[a.(string)] = append(actions[a.(string)], r.(string))
				}
			}
		}
	}
	for _, a := range []string{"cognito-idp:CreateUserPool", "cognito-idp:CreateUserPoolClient", "cognito-idp:CreateGroup", "cognito-idp:UpdateUserPool", "cognito-idp:DescribeUserPool", "apigateway:POST", "apigateway:PATCH", "apigateway:DELETE", "lambda:AddPermission"} {
		if len(actions[a]) == 0 {
			t.Errorf("the deploy role may not %s", a)
		}
	}
	if !slices.Contains(actions["apigateway:POST"], "!Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/apis/*") {
		t.Errorf("apigateway:POST on %v: want the region's /apis/* (routes, integrations, authorizers)", actions["apigateway:POST"])
	}
	if got := actions["cognito-idp:UpdateUserPool"]; !slices.Equal(got, []string{"!Sub arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*"}) {
		t.Errorf("cognito-idp:UpdateUserPool on %v: want the account's pools in the region only", got)
	}

	// No escalation through the stack's roles: every role the deploy role
	// makes or changes carries KarborFunctionBoundary (TestFunctionBoundary
	// checks that it covers the functions), which it may never take off;
	// it attaches only the AWS managed policies SAM uses.
	sts := deployRoleStatements(t)
	allows := func(st statement, action string) bool {
		return slices.ContainsFunc(st.actions, func(p string) bool { return globMatch(p, action, true) })
	}
	wantBoundary := []string{"!Ref KarborFunctionBoundary"}
	for _, a := range []string{"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"} {
		allowed := false
		for _, st := range sts {
			if st.effect != "Allow" || !allows(st, a) {
				continue
			}
			allowed = true
			if got := st.condition["StringEquals"]["iam:PermissionsBoundary"]; !slices.Equal(got, wantBoundary) {
				t.Errorf("%s: %s with iam:PermissionsBoundary %v, want %v", st.where, a, got, wantBoundary)
			}
			if a == "iam:AttachRolePolicy" {
				arns := st.condition["StringEquals"]["iam:PolicyARN"]
				if len(arns) == 0 {
					t.Errorf("%s: iam:AttachRolePolicy of any policy (no iam:PolicyARN)", st.where)
				}
				for _, arn := range arns {
					if !strings.HasPrefix(arn, "!Sub arn:${AWS::Partition}:iam::aws:policy/") {
						t.Errorf("%s: may attach %s, not an AWS managed policy", st.where, arn)
					}
				}
			}
		}
		if !allowed {
			t.Errorf("the deploy role may not %s", a)
		}
	}
	for _, a := range []string{"iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:CreatePolicy", "iam:PutUserPolicy", "iam:CreateUser", "iam:PassRole"} {
		for _, st := range sts {
			if st.effect == "Allow" && allows(st, a) && (a != "iam:PassRole" || st.condition["StringEquals"]["iam:PassedToService"] == nil) {
				t.Errorf("%s: the deploy role may %s", st.where, a)
			}
		}
	}
	if !slices.ContainsFunc(sts, func(st statement) bool { return st.effect == "Deny" && allows(st, "iam:DeleteRolePermissionsBoundary") }) {
		t.Error("no Deny of iam:DeleteRolePermissionsBoundary")
	}
	if got := lookup(tpl, "Outputs", "PermissionsBoundaryArn", "Value"); got != "!Ref KarborFunctionBoundary" {
		t.Errorf("output PermissionsBoundaryArn is %q, want the boundary's ARN", got)
	}

	// Cognito: only the pool tagged with the stack's name, and a new pool
	// must be made with that tag.
	cognitoAllowed := false
	for _, st := range sts {
		if st.effect != "Allow" || !slices.ContainsFunc(st.actions, func(a string) bool { return strings.HasPrefix(a, "cognito-idp:") }) {
			continue
		}
		cognitoAllowed = true
		key := "aws:ResourceTag/karbor:stack"
		if slices.Contains(st.actions, "cognito-idp:CreateUserPool") {
			key = "aws:RequestTag/karbor:stack"
			if len(st.actions) != 1 {
				t.Errorf("%s: CreateUserPool with other actions %v (their tag condition differs)", st.where, st.actions)
			}
		}
		if got := st.condition["StringEquals"][key]; !slices.Equal(got, []string{"!Ref StackName"}) {
			t.Errorf("%s: %v with %s %v, want the stack's name", st.where, st.actions, key, got)
		}
	}
	if !cognitoAllowed {
		t.Error("the deploy role has no Cognito statement")
	}
	stack := parseTemplate(t)
	if got := lookup(stack, "Resources", "UserPool", "Properties", "UserPoolTags", "karbor:stack"); got != "!Ref AWS::StackName" {
		t.Errorf("template.yaml's UserPool tag karbor:stack is %q, want !Ref AWS::StackName", got)
	}

	// deploy.yml passes the boundary (the repository variable set from the
	// PermissionsBoundaryArn output) to the stack.
	var steps struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Env  map[string]string `yaml:"env"`
				Run  string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(wf, &steps); err != nil {
		t.Fatal(err)
	}
	passed := false
	for _, s := range steps.Jobs["deploy"].Steps {
		if strings.Contains(s.Run, "sam deploy") {
			passed = s.Env["PERMISSIONS_BOUNDARY_ARN"] == "${{ vars.PERMISSIONS_BOUNDARY_ARN }}" && strings.Contains(s.Run, "PermissionsBoundaryArn=$PERMISSIONS_BOUNDARY_ARN")
		}
	}
	if !passed {
		t.Error("deploy.yml's sam deploy does not pass PermissionsBoundaryArn=$PERMISSIONS_BOUNDARY_ARN from vars.PERMISSIONS_BOUNDARY_ARN")
	}
}
