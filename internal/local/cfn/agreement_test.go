package cfn_test

// What the generated files (internal/local/gen) do not already make agree:
// the hand-written HttpApi's authorizer and the background functions'
// sample events. The routes' template blocks, build targets and mains are
// generated and checked for staleness there; their IAM statements are proven
// by internal/lambdafn's TestRoutePolicies; the background functions'
// template blocks are checked in background_test.go.

import (
	"karbor/internal/lambdafn/background"
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

func TestAgreementHTTPAPIAuthorizer(t *testing.T) {
	tpl := parseTemplate(t)
	authorizer, _ := tpl.Lookup("Resources", "HttpApi", "Properties", "Auth", "DefaultAuthorizer")
	if authorizer == "" {
		t.Fatal("HttpApi has no DefaultAuthorizer: routes would be public")
	}
	if _, ok := tpl.Lookup("Resources", "HttpApi", "Properties", "Auth", "Authorizers", authorizer, "JwtConfiguration"); !ok {
		t.Errorf("HttpApi's default authorizer %s is not a JWT authorizer of the API", authorizer)
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

// TestSafeDefaults: a stack trusts only an issuer its deployer names (no
// default, https only, and no samconfig environment supplies one), and the
// unauthenticated $default route is throttled at API Gateway, so that
// anonymous requests cannot spend the account's Lambda concurrency.
func TestSafeDefaults(t *testing.T) {
	tpl := parseTemplate(t)
	if def, ok := tpl.Lookup("Parameters", "JwtIssuer", "Default"); ok {
		t.Errorf("JwtIssuer has the default %q: a stack would trust an issuer nobody chose", def)
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
		"":                                                               false,
		"https://a.example/?x=1":                                         false,
	} {
		if got := re.MatchString(issuer); got != want {
			t.Errorf("JwtIssuer %q allowed = %v, want %v", issuer, got, want)
		}
	}
	for _, setting := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
		if v, ok := tpl.Lookup("Resources", "HttpApi", "Properties", "RouteSettings", "$default", setting); !ok || v == "" {
			t.Errorf("HttpApi's $default route has no %s: anonymous requests could spend the account's concurrency", setting)
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
