package cfn_test

// What the generated files (internal/local/gen) do not already make agree:
// the hand-written HttpApi's authorizer and the background functions'
// sample events. The routes' template blocks, build targets and mains are
// generated and checked for staleness there; their IAM statements are proven
// by internal/lambdafn's TestRoutePolicies; the background functions'
// template blocks are checked in background_test.go.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"karbor/internal/lambdafn"
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
	for _, f := range lambdafn.Backgrounds {
		var n int
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), f.Name+"-")
			if !ok || e.IsDir() || !strings.HasSuffix(rest, ".json") || rest == ".json" {
				continue
			}
			n++
			t.Run(e.Name(), func(t *testing.T) { checkBackgroundEvent(t, f, filepath.Join(repoRoot, "events", e.Name())) })
		}
		if n == 0 {
			t.Errorf("events/ has no %s-<case>.json", f.Name)
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
