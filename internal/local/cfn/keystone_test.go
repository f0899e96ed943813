package cfn_test

// AuthMode keystone: the authorizer function exists only in that mode,
// reads exactly the one secret or parameter and no table, logs to its own
// group, and the stack refuses the mode without its settings.

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestAgreementKeystoneAuthorizer(t *testing.T) {
	tpl := parseTemplate(t)
	raw := rawTemplate(t)
	if got := dig(raw, "Conditions", "IsKeystone"); !reflect.DeepEqual(got, []any{"!Ref AuthMode", "keystone"}) {
		t.Errorf("Conditions.IsKeystone = %v, want !Equals [!Ref AuthMode, keystone]", got)
	}
	for id, def := range map[string]string{"KeystoneUrl": "", "KeystoneCredentialsArn": "", "KeystoneCacheSeconds": "300"} {
		if got, ok := tpl.Lookup("Parameters", id, "Default"); !ok || got != def {
			t.Errorf("parameter %s: default %q (%v), want %q", id, got, ok, def)
		}
	}
	for _, id := range []string{"KeystoneAuthorizerFunction", "KeystoneAuthorizerLogGroup"} {
		if got := lookup(tpl, "Resources", id, "Condition"); got != "IsKeystone" {
			t.Errorf("%s: Condition %q, want IsKeystone (it exists in AuthMode keystone only)", id, got)
		}
	}
	if got := lookup(tpl, "Resources", "KeystoneAuthorizerLogGroup", "Properties", "LogGroupName"); got != "!Sub /karbor/${AWS::StackName}/keystone-authorizer" {
		t.Errorf("KeystoneAuthorizerLogGroup's name is %q", got)
	}
	f := functionByID(t, "KeystoneAuthorizerFunction")
	for name, param := range map[string]string{"KEYSTONE_URL": "KeystoneUrl", "KEYSTONE_CREDENTIALS_ARN": "KeystoneCredentialsArn", "KEYSTONE_CACHE_SECONDS": "KeystoneCacheSeconds"} {
		if f.EnvRefs[name] != param {
			t.Errorf("KeystoneAuthorizerFunction: %s is %q, want !Ref %s", name, f.EnvRefs[name], param)
		}
	}
	// Least privilege: the credentials' secret or parameter, nothing else
	// (SAM adds the logs and X-Ray policies itself); each action on its
	// own service's resources only.
	if len(f.Policies) != 0 || len(f.Statements) != 2 {
		t.Fatalf("KeystoneAuthorizerFunction: policies %v, statements %+v; want the two statements", f.Policies, f.Statements)
	}
	granted := map[string][]string{} // action -> resources, as text
	for _, st := range f.Statements {
		if st.Effect != "Allow" {
			t.Errorf("statement %+v: want Allow", st)
		}
		for _, a := range st.Actions {
			granted[a] = append(granted[a], st.Resources...)
		}
	}
	if got := slices.Sorted(maps.Keys(granted)); !slices.Equal(got, []string{"secretsmanager:GetSecretValue", "ssm:GetParameter"}) {
		t.Errorf("KeystoneAuthorizerFunction may %v, want GetSecretValue and GetParameter only", got)
	}
	for _, resources := range granted {
		for _, r := range resources {
			if !strings.Contains(r, "KeystoneCredentialsArn") {
				t.Errorf("a resource %q that is not KeystoneCredentialsArn's", r)
			}
		}
	}
	// IAM matches a request against the secret's full ARN, whatever ARN
	// the function was given: a partial ARN (no -XXXXXX suffix) must be
	// granted as the full one is, and neither may reach another secret.
	const full = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:karbor/keystone-AbCdEf"
	pattern := regexp.MustCompile(lookup(tpl, "Parameters", "KeystoneCredentialsArn", "AllowedPattern"))
	allows := func(action, param, resource string) bool {
		for _, r := range granted[action] {
			arn := strings.ReplaceAll(strings.TrimPrefix(r, "!Sub "), "${KeystoneCredentialsArn}", param)
			if iamMatch(arn, resource) {
				return true
			}
		}
		return false
	}
	for _, param := range []string{full, strings.TrimSuffix(full, "-AbCdEf")} {
		if !pattern.MatchString(param) {
			t.Errorf("KeystoneCredentialsArn's AllowedPattern refuses %s", param)
		}
		if !allows("secretsmanager:GetSecretValue", param, full) {
			t.Errorf("KeystoneCredentialsArn=%s: GetSecretValue on %s is not granted", param, full)
		}
		for _, other := range []string{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:karbor/keystone2-AbCdEf",
			"arn:aws:secretsmanager:eu-west-1:123456789012:secret:karbor/keystone-other-AbCdEf", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:karbor/other-AbCdEf"} {
			if allows("secretsmanager:GetSecretValue", param, other) {
				t.Errorf("KeystoneCredentialsArn=%s: GetSecretValue on %s, another secret, is granted", param, other)
			}
		}
	}
	const parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/karbor/keystone"
	if !allows("ssm:GetParameter", parameter, parameter) || allows("ssm:GetParameter", parameter, parameter+"-AbCdEf") {
		t.Errorf("KeystoneCredentialsArn=%s: GetParameter must be granted on it alone (%v)", parameter, granted["ssm:GetParameter"])
	}
	// The stack refuses AuthMode keystone without its endpoint and
	// credentials.
	rule, _ := dig(raw, "Rules", "KeystoneSettings").(map[string]any)
	if got := rule["RuleCondition"]; !reflect.DeepEqual(got, []any{"!Ref AuthMode", "keystone"}) {
		t.Errorf("Rules.KeystoneSettings.RuleCondition = %v, want !Equals [!Ref AuthMode, keystone]", got)
	}
	var asserted []string
	assertions, _ := rule["Assertions"].([]any)
	for _, a := range assertions {
		// !Not [!Equals [!Ref X, ""]]
		if not, ok := dig(a, "Assert").([]any); ok && len(not) == 1 {
			if eq, ok := not[0].([]any); ok && len(eq) == 2 && eq[1] == "" {
				asserted = append(asserted, strings.TrimPrefix(eq[0].(string), "!Ref "))
			}
		}
	}
	if slices.Sort(asserted); !slices.Equal(asserted, []string{"KeystoneCredentialsArn", "KeystoneUrl"}) {
		t.Errorf("Rules.KeystoneSettings asserts %v set, want KeystoneCredentialsArn and KeystoneUrl", asserted)
	}
}

// iamMatch is IAM's resource matching: * any run of characters, ? one.
func iamMatch(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}
