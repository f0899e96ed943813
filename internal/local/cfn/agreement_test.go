package cfn_test

// What the generated files (internal/local/gen) do not already make agree:
// the hand-written HttpApi's authorizer and the background functions'
// sample events. The routes' template blocks, build targets and mains are
// generated and checked for staleness there; their IAM statements are proven
// by internal/lambdafn's TestRoutePolicies; the background functions'
// template blocks are checked in background_test.go.

import (
	"karbor/internal/api"
	"karbor/internal/lambdafn/background"
	"karbor/internal/local/gen"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the module root as seen from this package's directory, where
// go test runs.
const repoRoot = "../../.."

// TestAgreementHTTPAPIAuthorizer: every route but the anonymous ones runs
// the AuthMode's authorizer, and HttpApi has no authorizer of SAM's (SAM's
// Auth cannot depend on AuthMode; TestTransformedTemplate checks the
// translated stack in each mode).
func TestAgreementHTTPAPIAuthorizer(t *testing.T) {
	tpl := parseTemplate(t)
	if auth, ok := tpl.Lookup("Resources", "HttpApi", "Properties", "Auth"); ok {
		t.Errorf("HttpApi has SAM's Auth %s: the routes' authorizers are raw resources chosen by AuthMode", auth)
	}
	for _, r := range api.Routes {
		id := gen.GoName(r.Name) + "Route"
		typ, _ := tpl.Lookup("Resources", id, "Properties", "AuthorizationType")
		authorizer, _ := tpl.Lookup("Resources", id, "Properties", "AuthorizerId")
		wantType, wantAuthorizer := "!If [IsKeystone, CUSTOM, JWT]", "!If [IsKeystone, !Ref KeystoneAuthorizer, !Ref JwtAuthorizer]"
		if r.Anonymous {
			wantType, wantAuthorizer = "NONE", ""
		}
		if typ != wantType || authorizer != wantAuthorizer {
			t.Errorf("%s: AuthorizationType %q, AuthorizerId %q; want %q, %q", id, typ, authorizer, wantType, wantAuthorizer)
		}
	}
	for id, want := range map[string]string{"JwtAuthorizer": "IsJwt", "KeystoneAuthorizer": "IsKeystone", "KeystoneAuthorizerPermission": "IsKeystone"} {
		if got, _ := tpl.Lookup("Resources", id, "Condition"); got != want {
			t.Errorf("%s has Condition %q, want %s", id, got, want)
		}
	}
	if got, _ := tpl.Lookup("Conditions", "IsKeystone"); got != "!Equals [!Ref AuthMode, keystone]" {
		t.Errorf("Conditions.IsKeystone = %q", got)
	}
}

// TestClaimParameters: the functions read the claims the parameters name;
// empty ones fall back to the issuer's usual names (the Cognito pool's
// custom:project_id and cognito:groups, else project_id and roles).
func TestClaimParameters(t *testing.T) {
	tpl := parseTemplate(t)
	vars := []string{"Globals", "Function", "Environment", "Variables"}
	for name, want := range map[string]string{
		"CLAIM_USER":    "!Ref JwtUserClaim",
		"CLAIM_PROJECT": "!If [HasJwtProjectClaim, !Ref JwtProjectClaim, !If [HasJwtIssuer, project_id, custom:project_id]]",
		"CLAIM_ROLES":   "!If [HasJwtRolesClaim, !Ref JwtRolesClaim, !If [HasJwtIssuer, roles, cognito:groups]]",
	} {
		if got, _ := tpl.Lookup(append(vars, name)...); got != want {
			t.Errorf("Globals' %s = %q, want %q", name, got, want)
		}
	}
	for param, want := range map[string]string{"JwtUserClaim": "sub", "JwtProjectClaim": "", "JwtRolesClaim": "", "JwtIssuer": "", "JwtAudience": ""} {
		if got, ok := tpl.Lookup("Parameters", param, "Default"); !ok || got != want {
			t.Errorf("parameter %s: default %q (set %v), want %q", param, got, ok, want)
		}
	}
}

// TestAgreementBackgroundEvents checks events/<name>-<case>.json of every
// background function: each has at least one, and each is an event its
// source would deliver.
func TestAgreementBackgroundEvents(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "events"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range background.Functions {
		var n int
		for _, e := range entries {
			// <name>-<case>.json, or <name>.json alone.
			rest, ok := strings.CutPrefix(e.Name(), f.Name)
			if !ok || e.IsDir() || !strings.HasSuffix(rest, ".json") || (rest != ".json" && (!strings.HasPrefix(rest, "-") || rest == "-.json")) {
				continue
			}
			n++
			t.Run(e.Name(), func(t *testing.T) { checkBackgroundEvent(t, f, filepath.Join(repoRoot, "events", e.Name())) })
		}
		if n == 0 {
			t.Errorf("events/ has no %s-<case>.json (or %[1]s.json)", f.Name)
		}
	}
}

func appendUnique(s []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

// TestSafeDefaults: a stack trusts only an issuer its deployer names or its
// own Cognito pool (JwtIssuer "" by default, https only, an audience
// required with it, and no samconfig environment supplies one), and the
// unauthenticated $default route is throttled at API Gateway, so that
// anonymous requests cannot spend the account's Lambda concurrency.
func TestSafeDefaults(t *testing.T) {
	tpl := parseTemplate(t)
	if def, _ := tpl.Lookup("Parameters", "JwtIssuer", "Default"); def != "" {
		t.Errorf("JwtIssuer has the default %q: a stack would trust an issuer nobody chose", def)
	}
	if cond, _ := tpl.Lookup("Conditions", "UseCognito"); cond != "!And [!Condition IsJwt, !Not [!Condition HasJwtIssuer]]" {
		t.Errorf("Conditions.UseCognito = %q: without an issuer the stack must make its own pool", cond)
	}
	// (Lookup's text writes the empty string "" as nothing.)
	rule := []string{"Rules", "AudienceWithIssuer"}
	if got, _ := tpl.Lookup(append(rule, "RuleCondition")...); got != "!Not [!Equals [!Ref JwtIssuer, ]]" {
		t.Errorf("Rules.AudienceWithIssuer.RuleCondition = %q", got)
	}
	if got, _ := tpl.Lookup(append(rule, "Assertions")...); !strings.Contains(got, "Assert: !Not [!Equals [!Ref JwtAudience, ]]") {
		t.Errorf("Rules.AudienceWithIssuer.Assertions = %q: want JwtAudience required", got)
	}
	pattern, _ := tpl.Lookup("Parameters", "JwtIssuer", "AllowedPattern")
	re, err := regexp.Compile(pattern)
	if err != nil || pattern == "" {
		t.Fatalf("JwtIssuer's AllowedPattern %q: %v", pattern, err)
	}
	for issuer, want := range map[string]bool{
		"https://login.example.com/realms/karbor/":                       true,
		"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf12": true,
		"https://example.auth0.com/":                                     true,
		"http://login.example.com/":                                      false,
		"login.example.com":                                              false,
		"https://":                                                       false,
		"https:// evil":                                                  false,
		"":                                                               true, // the stack's Cognito pool
		"https://a.example/?x=1":                                         false,
	} {
		if got := re.MatchString(issuer); got != want {
			t.Errorf("JwtIssuer %q allowed = %v, want %v", issuer, got, want)
		}
	}
	// Every route without an authorizer ($default and the anonymous
	// routes) is throttled by the Fallback's limits, and the stage waits
	// for it.
	unauthenticated := map[string]string{"$default": "NotFoundRoute"}
	for _, r := range api.Routes {
		if r.Anonymous {
			unauthenticated[r.Method+" "+r.Path] = gen.GoName(r.Name) + "Route"
		}
	}
	dependsOn, _ := tpl.Lookup("Resources", "HttpApiStage", "DependsOn")
	for key, route := range unauthenticated {
		for setting, param := range map[string]string{"ThrottlingRateLimit": "FallbackRateLimit", "ThrottlingBurstLimit": "FallbackBurstLimit"} {
			if v, _ := tpl.Lookup("Resources", "HttpApiStage", "Properties", "RouteSettings", key, setting); v != "!Ref "+param {
				t.Errorf("route %s has %s %q, want !Ref %s: anonymous requests could spend the account's concurrency", key, setting, v, param)
			}
		}
		if !strings.Contains(dependsOn, route) {
			t.Errorf("HttpApiStage DependsOn %q lacks %s, whose route key its RouteSettings name", dependsOn, route)
		}
	}
	samconfig, err := os.ReadFile(filepath.Join(repoRoot, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(samconfig), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.Contains(line, "JwtIssuer") {
			t.Errorf("samconfig.toml:%d names an issuer: %s; the deployer must give it", i+1, line)
		}
	}
}
