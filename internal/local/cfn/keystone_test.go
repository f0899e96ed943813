package cfn_test

// AuthMode keystone: the authorizer function exists only in that mode,
// reads exactly the one secret or parameter and no table, logs to its own
// group, and the stack refuses the mode without its settings.

import (
	"reflect"
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
	// (SAM adds the logs and X-Ray policies itself).
	if len(f.Policies) != 0 || len(f.Statements) != 1 {
		t.Fatalf("KeystoneAuthorizerFunction: policies %v, statements %+v; want the one statement", f.Policies, f.Statements)
	}
	st := f.Statements[0]
	if st.Effect != "Allow" || !slices.Equal(slices.Sorted(slices.Values(st.Actions)), []string{"secretsmanager:GetSecretValue", "ssm:GetParameter"}) ||
		len(st.Resources) != 1 || !strings.Contains(st.Resources[0], "KeystoneCredentialsArn") || strings.Contains(st.Resources[0], "*") {
		t.Errorf("KeystoneAuthorizerFunction's statement %+v: want GetSecretValue and GetParameter on KeystoneCredentialsArn alone", st)
	}
	for _, a := range st.Actions {
		if strings.HasPrefix(a, "dynamodb:") {
			t.Errorf("the authorizer may %s: it reads no table", a)
		}
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
