package cfn_test

// These tests check that the route table (api.Routes), the fallback of
// API Gateway's $default route (api.Fallback) and the background functions
// (worker.Functions), template.yaml, functions/, events/ and the Makefile
// describe the same set of functions, and that every function's IAM policy
// is exactly what it needs. Adding a route means adding it to all of them,
// and to tableAccess below; a background function has its own test.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/api"
	"karbor/internal/local/cfn"
	"karbor/internal/worker"
)

// repoRoot is the module root as seen from this package's directory, where
// go test runs.
const repoRoot = "../../.."

// tableAccess is the least privilege of each route: the DynamoDB actions its
// function may call, per table (by logical id). Index ARNs
// (${Table.Arn}/index/*) may be granted only together with Query.
var tableAccess = map[string]map[string][]string{
	"list-checkpoints":       {"CheckpointsTable": {"dynamodb:GetItem", "dynamodb:Query"}},
	"create-checkpoint":      {"PlansTable": {"dynamodb:GetItem"}, "CheckpointsTable": {"dynamodb:PutItem"}},
	"show-checkpoint":        {"CheckpointsTable": {"dynamodb:GetItem"}},
	"delete-checkpoint":      {"CheckpointsTable": {"dynamodb:UpdateItem"}},
	"reset-checkpoint-state": {"CheckpointsTable": {"dynamodb:UpdateItem"}},
	"list-providers":         {}, // providers are compiled into the code
	"show-provider":          {},
	"create-plan":            {"PlansTable": {"dynamodb:PutItem"}},
	"list-plans":             {"PlansTable": {"dynamodb:GetItem", "dynamodb:Query"}},
	"show-plan":              {"PlansTable": {"dynamodb:GetItem"}},
	"update-plan":            {"PlansTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"}}, // GetItem: new resources are checked against the plan's provider
	"delete-plan":            {"PlansTable": {"dynamodb:DeleteItem"}},
}

// The only resources a function's statements may name: a table, or its
// indexes.
var (
	tableARN = regexp.MustCompile(`^!GetAtt (\w+)\.Arn$`)
	indexARN = regexp.MustCompile(`^!Sub \$\{(\w+)\.Arn\}/index/(\*|\w+)$`)
)

// readActions are the only actions a route with Writes == false may have.
var readActions = []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}

func routeNames() []string {
	var names []string
	for _, r := range api.Routes {
		names = append(names, r.Name)
	}
	return names
}

// functionNames are the names of every function: the routes', the
// fallback's, then the background functions'.
func functionNames() []string {
	names := append(routeNames(), api.Fallback.Name)
	for _, f := range worker.Functions {
		names = append(names, f.Name)
	}
	return names
}

// backgroundEvent reports the background function that a file of events/
// is a sample event of (events/<Name>-<case>.json, as worker.Function
// documents), if any.
func backgroundEvent(file string) (worker.Function, bool) {
	for _, f := range worker.Functions {
		if rest, ok := strings.CutPrefix(file, f.Name+"-"); ok && strings.HasSuffix(rest, ".json") && rest != ".json" {
			return f, true
		}
	}
	return worker.Function{}, false
}

// camel turns a route name into the stem of its logical id:
// "reset-checkpoint-state" → "ResetCheckpointState".
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func TestAgreementRouteTable(t *testing.T) {
	names, ids, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range api.Routes {
		key := r.Method + " " + r.Path
		if names[r.Name] || ids[r.LogicalID] || keys[key] {
			t.Errorf("route %s: name, logical id or %q is not unique", r.Name, key)
		}
		names[r.Name], ids[r.LogicalID], keys[key] = true, true, true
		if want := camel(r.Name) + "Function"; r.LogicalID != want {
			t.Errorf("route %s: logical id %s, want %s (it must match the folder name)", r.Name, r.LogicalID, want)
		}
		if !regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`).MatchString(r.Name) {
			t.Errorf("route %s: name is not lower-case-with-dashes", r.Name)
		}
	}
	for name := range tableAccess {
		if !names[name] {
			t.Errorf("tableAccess has %s, which is not a route", name)
		}
	}

	// The fallback is a function of its own, but not a route: it has no
	// method and no path (API Gateway's $default route), and reads no table.
	fb := api.Fallback
	if names[fb.Name] || ids[fb.LogicalID] {
		t.Errorf("fallback %s: name or logical id %s is also a route's", fb.Name, fb.LogicalID)
	}
	names[fb.Name], ids[fb.LogicalID] = true, true
	if want := camel(fb.Name) + "Function"; fb.LogicalID != want {
		t.Errorf("fallback %s: logical id %s, want %s (it must match the folder name)", fb.Name, fb.LogicalID, want)
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`).MatchString(fb.Name) {
		t.Errorf("fallback %s: name is not lower-case-with-dashes", fb.Name)
	}
	if fb.Method != "" || fb.Path != "" || fb.Writes || fb.UsesTables() {
		t.Errorf("fallback %+v: want no method, no path, no writes and no tables", fb)
	}
	if r, ok := api.RouteByName(fb.Name); !ok || r.LogicalID != fb.LogicalID {
		t.Errorf("RouteByName(%q) = %+v, %t; want the fallback", fb.Name, r, ok)
	}
	if len(worker.Functions) == 0 {
		t.Error("worker.Functions is empty; the worker and the sweeper belong there")
	}
	for _, f := range worker.Functions {
		if names[f.Name] || ids[f.LogicalID] {
			t.Errorf("background function %s: name or logical id %s is also a route's, the fallback's or another function's", f.Name, f.LogicalID)
		}
		names[f.Name], ids[f.LogicalID] = true, true
		if want := camel(f.Name) + "Function"; f.LogicalID != want {
			t.Errorf("background function %s: logical id %s, want %s (it must match the folder name)", f.Name, f.LogicalID, want)
		}
		if !regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`).MatchString(f.Name) {
			t.Errorf("background function %s: name is not lower-case-with-dashes", f.Name)
		}
	}
}

func TestAgreementTemplateFunctions(t *testing.T) {
	tpl := parseTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]cfn.Function{}
	for _, f := range fns {
		byID[f.LogicalID] = f
	}
	routeIDs := map[string]bool{}
	for _, r := range api.Routes {
		routeIDs[r.LogicalID] = true
		t.Run(r.Name, func(t *testing.T) {
			f, ok := byID[r.LogicalID]
			if !ok {
				t.Fatalf("template.yaml has no AWS::Serverless::Function %s", r.LogicalID)
			}
			if len(f.EventTypes) != 1 || len(f.Events) != 1 {
				t.Fatalf("%s has events %v, want a single HttpApi event", r.LogicalID, f.EventTypes)
			}
			e := f.Events[0]
			if e.Method != r.Method || e.Path != r.Path {
				t.Errorf("%s event is %s %s, want %s %s", r.LogicalID, e.Method, e.Path, r.Method, r.Path)
			}
			if e.APIID != "!Ref HttpApi" || e.Authorizer != "" {
				t.Errorf("%s event has ApiId %q and authorizer %q, want !Ref HttpApi and the API's default (JWT)", r.LogicalID, e.APIID, e.Authorizer)
			}
			if f.BuildMethod != "makefile" || f.CodeURI != "." {
				t.Errorf("%s has BuildMethod %q and CodeUri %q, want makefile and .", r.LogicalID, f.BuildMethod, f.CodeURI)
			}
			if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
				t.Errorf("%s has runtime %q, handler %q, architectures %q; want provided.al2023, bootstrap, [arm64] (the Makefile builds for arm64)",
					r.LogicalID, f.Runtime, f.Handler, f.Architectures)
			}
		})
	}
	fb := api.Fallback
	t.Run(fb.Name, func(t *testing.T) {
		f, ok := byID[fb.LogicalID]
		if !ok {
			t.Fatalf("template.yaml has no AWS::Serverless::Function %s", fb.LogicalID)
		}
		// SAM makes an HttpApi event without Path and Method the API's
		// $default route, which has no authorizer: requests that match no
		// route carry no token to check, and the answer reveals nothing.
		want := []string{"HttpApi"}
		if got := slices.Collect(maps.Values(f.EventTypes)); !slices.Equal(got, want) || len(f.Events) != 1 {
			t.Fatalf("%s has events %v, want a single HttpApi event", fb.LogicalID, f.EventTypes)
		}
		e := f.Events[0]
		if e.Method != "" || e.Path != "" {
			t.Errorf("%s event is %q %q, want no Method and no Path (the $default route)", fb.LogicalID, e.Method, e.Path)
		}
		if e.APIID != "!Ref HttpApi" || e.Authorizer != "NONE" {
			t.Errorf("%s event has ApiId %q and authorizer %q, want !Ref HttpApi and NONE", fb.LogicalID, e.APIID, e.Authorizer)
		}
		if f.BuildMethod != "makefile" || f.CodeURI != "." {
			t.Errorf("%s has BuildMethod %q and CodeUri %q, want makefile and .", fb.LogicalID, f.BuildMethod, f.CodeURI)
		}
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
			t.Errorf("%s has runtime %q, handler %q, architectures %q; want provided.al2023, bootstrap, [arm64] (the Makefile builds for arm64)",
				fb.LogicalID, f.Runtime, f.Handler, f.Architectures)
		}
	})
	backgroundIDs := map[string]bool{}
	for _, bf := range worker.Functions {
		backgroundIDs[bf.LogicalID] = true
		t.Run(bf.Name, func(t *testing.T) {
			f, ok := byID[bf.LogicalID]
			if !ok {
				t.Fatalf("template.yaml has no AWS::Serverless::Function %s", bf.LogicalID)
			}
			if len(f.Events) != 0 {
				t.Errorf("%s is a background function but has HttpApi events %+v", f.LogicalID, f.Events)
			}
			if f.BuildMethod != "makefile" || f.CodeURI != "." {
				t.Errorf("%s has BuildMethod %q and CodeUri %q, want makefile and .", f.LogicalID, f.BuildMethod, f.CodeURI)
			}
			if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
				t.Errorf("%s has runtime %q, handler %q, architectures %q; want provided.al2023, bootstrap, [arm64] (the Makefile builds for arm64)",
					f.LogicalID, f.Runtime, f.Handler, f.Architectures)
			}
		})
	}
	for _, f := range fns {
		isFallback := f.LogicalID == fb.LogicalID
		if !routeIDs[f.LogicalID] && !isFallback && !backgroundIDs[f.LogicalID] {
			t.Errorf("template.yaml function %s is neither a route of api.Routes, nor api.Fallback, nor in worker.Functions", f.LogicalID)
		}
		if len(f.Events) > 0 && !routeIDs[f.LogicalID] && !isFallback {
			t.Errorf("template.yaml function %s has HttpApi events but is not in api.Routes", f.LogicalID)
		}
		// Only the fallback is public, and only it is the $default route
		// (an API has one); every route keeps the API's JWT authorizer.
		for _, e := range f.Events {
			if isFallback {
				continue
			}
			if e.Authorizer != "" {
				t.Errorf("function %s event %s has authorizer %q; only %s may leave the API's default (JWT) authorizer", f.LogicalID, e.Name, e.Authorizer, fb.LogicalID)
			}
			if e.Method == "" || e.Path == "" {
				t.Errorf("function %s event %s has method %q and path %q; only %s is the $default route", f.LogicalID, e.Name, e.Method, e.Path, fb.LogicalID)
			}
		}
		for name, typ := range f.EventTypes {
			if typ == "Api" {
				t.Errorf("function %s event %s is a REST API (v1) event; the service is an HTTP API", f.LogicalID, name)
			}
		}
	}

	authorizer, _ := tpl.Lookup("Resources", "HttpApi", "Properties", "Auth", "DefaultAuthorizer")
	if authorizer == "" {
		t.Fatal("HttpApi has no DefaultAuthorizer: routes would be public")
	}
	if _, ok := tpl.Lookup("Resources", "HttpApi", "Properties", "Auth", "Authorizers", authorizer, "JwtConfiguration"); !ok {
		t.Errorf("HttpApi's default authorizer %s is not a JWT authorizer of the API", authorizer)
	}
}

func TestAgreementEnvironment(t *testing.T) {
	tpl := parseTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	tables := tpl.ResourceIDs("AWS::DynamoDB::Table")
	secretish := regexp.MustCompile(`(?i)secret|passw|token|credential|private|api_?key|access_?key`)
	for _, f := range fns {
		for name, id := range map[string]string{"PLANS_TABLE": "PlansTable", "CHECKPOINTS_TABLE": "CheckpointsTable"} {
			if got := f.EnvRefs[name]; got != id || !slices.Contains(tables, got) {
				t.Errorf("%s: %s is !Ref %q, want !Ref %s (a table)", f.LogicalID, name, got, id)
			}
		}
		for name, value := range f.Env {
			if secretish.MatchString(name) || secretish.MatchString(value) {
				t.Errorf("%s: environment variable %s looks like a secret; secrets do not belong in the template", f.LogicalID, name)
			}
		}
	}
	// The fallback reads no table: it sees Globals' environment (which
	// names the tables for every function) and adds nothing of its own.
	id := api.Fallback.LogicalID
	if _, ok := tpl.Lookup("Resources", id, "Properties"); !ok {
		t.Fatalf("template.yaml has no function %s", id)
	}
	if env, ok := tpl.Lookup("Resources", id, "Properties", "Environment"); ok {
		t.Errorf("%s has its own Environment %s; it reads no table and needs nothing beyond Globals", id, env)
	}
}

func TestAgreementPolicies(t *testing.T) {
	tpl := parseTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]cfn.Function{}
	for _, f := range fns {
		byID[f.LogicalID] = f
	}
	tables := tpl.ResourceIDs("AWS::DynamoDB::Table")
	for _, r := range api.Routes {
		t.Run(r.Name, func(t *testing.T) {
			want, ok := tableAccess[r.Name]
			if !ok {
				t.Fatalf("tableAccess has no entry for route %s: state its least privilege there", r.Name)
			}
			f, ok := byID[r.LogicalID]
			if !ok {
				t.Fatalf("template.yaml has no function %s", r.LogicalID)
			}
			if f.Role != "" || len(f.Policies) > 0 {
				t.Errorf("%s has role %q and managed policies or policy templates %q; want only explicit statements", f.LogicalID, f.Role, f.Policies)
			}
			got := map[string][]string{}
			for _, st := range f.Statements {
				if st.Effect != "Allow" {
					continue
				}
				for _, a := range st.Actions {
					if !strings.HasPrefix(a, "dynamodb:") || strings.ContainsAny(a, "*?") {
						t.Errorf("%s is allowed %q; want only named dynamodb actions", f.LogicalID, a)
					}
				}
				for _, res := range st.Resources {
					var table string
					if m := tableARN.FindStringSubmatch(res); m != nil {
						table = m[1]
					} else if m := indexARN.FindStringSubmatch(res); m != nil {
						table = m[1]
						if !slices.Contains(st.Actions, "dynamodb:Query") {
							t.Errorf("%s is allowed %q on the indexes of %s; indexes are for Query only", f.LogicalID, st.Actions, table)
						}
					} else {
						t.Errorf("%s is allowed %q on %q; want !GetAtt <table>.Arn or !Sub ${<table>.Arn}/index/<name or *>", f.LogicalID, st.Actions, res)
						continue
					}
					if !slices.Contains(tables, table) {
						t.Errorf("%s: %q is not a DynamoDB table of the template", f.LogicalID, res)
						continue
					}
					got[table] = appendUnique(got[table], st.Actions...)
				}
			}
			for table := range got {
				slices.Sort(got[table])
			}
			wantSorted := map[string][]string{}
			for table, actions := range want {
				wantSorted[table] = slices.Sorted(slices.Values(actions))
			}
			if !reflect.DeepEqual(got, wantSorted) {
				t.Errorf("%s may call %v, want exactly %v", f.LogicalID, got, wantSorted)
			}

			writes := false
			for _, a := range f.Actions {
				if !slices.Contains(readActions, a) {
					writes = true
					if !r.Writes {
						t.Errorf("%s is read-only (Writes=false) but is allowed %s", f.LogicalID, a)
					}
				}
			}
			if r.Writes && !writes {
				t.Errorf("%s has Writes=true but no write action", f.LogicalID)
			}
		})
	}
}

// TestAgreementFallbackPolicy checks that the fallback, which answers
// without a caller and reads no table, may call nothing: it has no Policies
// at all (SAM then gives its role the basic execution policy only, for its
// logs) and no Role of its own.
func TestAgreementFallbackPolicy(t *testing.T) {
	tpl := parseTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	id := api.Fallback.LogicalID
	i := slices.IndexFunc(fns, func(f cfn.Function) bool { return f.LogicalID == id })
	if i < 0 {
		t.Fatalf("template.yaml has no function %s", id)
	}
	f := fns[i]
	if f.Role != "" || len(f.Policies) > 0 || len(f.Statements) > 0 || len(f.Actions) > 0 || len(f.Resources) > 0 {
		t.Errorf("%s has role %q, policies %q, statements %+v; want none at all", id, f.Role, f.Policies, f.Statements)
	}
	// Not even an empty list: there is nothing to grant.
	for _, key := range []string{"Policies", "Role"} {
		if v, ok := tpl.Lookup("Resources", id, "Properties", key); ok {
			t.Errorf("%s has %s %s; want none", id, key, v)
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

// dirNames lists the entries of dir (relative to the repository root).
func dirNames(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestAgreementFunctionFolders(t *testing.T) {
	names := functionNames()
	for _, e := range dirNames(t, "functions") {
		if !e.IsDir() || !slices.Contains(names, e.Name()) {
			t.Errorf("functions/%s is neither a route of api.Routes, nor api.Fallback, nor in worker.Functions", e.Name())
		}
	}
	for _, f := range worker.Functions {
		t.Run(f.Name, func(t *testing.T) {
			path := filepath.Join(repoRoot, "functions", f.Name, "main.go")
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if file.Name.Name != "main" {
				t.Errorf("%s is package %s, want main", path, file.Name.Name)
			}
			if want := "Command " + f.Name + " "; !strings.HasPrefix(file.Doc.Text(), want) {
				t.Errorf("%s doc comment is %q, want it to start with %q", path, file.Doc.Text(), want)
			}
			pkg := ""
			for _, imp := range file.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == "karbor/internal/worker" {
					pkg = "worker"
					if imp.Name != nil {
						pkg = imp.Name.Name
					}
				}
			}
			// The wiring lives in package worker (Lambda's start, clients
			// built once): main only calls one of its Start functions.
			var starts []string
			ast.Inspect(file, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == pkg && pkg != "" && strings.HasPrefix(sel.Sel.Name, "Start") {
						starts = append(starts, sel.Sel.Name)
					}
				}
				return true
			})
			if len(starts) != 1 {
				t.Errorf("%s calls %q of karbor/internal/worker, want exactly one worker.Start... call", path, starts)
			}
		})
	}
	for _, r := range api.Routes {
		t.Run(r.Name, func(t *testing.T) {
			want := fmt.Sprintf("Command %s is the Lambda function for %s %s.\n", r.Name, r.Method, r.Path)
			checkLambdafnMain(t, r.Name, func(doc string) bool { return doc == want }, want)
		})
	}
	fb := api.Fallback
	t.Run(fb.Name, func(t *testing.T) {
		want := "Command " + fb.Name + " is the Lambda function for API Gateway's $default route"
		checkLambdafnMain(t, fb.Name, func(doc string) bool { return strings.HasPrefix(doc, want) }, want+"...")
	})
}

// checkLambdafnMain checks functions/<name>/main.go: package main, a doc
// comment that docOK accepts (wantDoc describes it), and exactly one call
// lambdafn.Start(<name>).
func checkLambdafnMain(t *testing.T, name string, docOK func(doc string) bool, wantDoc string) {
	t.Helper()
	path := filepath.Join(repoRoot, "functions", name, "main.go")
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if file.Name.Name != "main" {
		t.Errorf("%s is package %s, want main", path, file.Name.Name)
	}
	if !docOK(file.Doc.Text()) {
		t.Errorf("%s doc comment is %q, want %q", path, file.Doc.Text(), wantDoc)
	}
	pkg := ""
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "karbor/internal/lambdafn" {
			pkg = "lambdafn"
			if imp.Name != nil {
				pkg = imp.Name.Name
			}
		}
	}
	var starts []string
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Start" {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != pkg || pkg == "" {
			return true
		}
		arg := "<not a string literal>"
		if len(call.Args) == 1 {
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				arg, _ = strconv.Unquote(lit.Value)
			}
		}
		starts = append(starts, arg)
		return true
	})
	if !reflect.DeepEqual(starts, []string{name}) {
		t.Errorf("%s calls lambdafn.Start with %q, want exactly once with %q", path, starts, name)
	}
}

func TestAgreementEvents(t *testing.T) {
	names := append(routeNames(), api.Fallback.Name)
	for _, e := range dirNames(t, "events") {
		if bf, ok := backgroundEvent(e.Name()); ok && !e.IsDir() {
			t.Run(e.Name(), func(t *testing.T) { checkBackgroundEvent(t, bf, filepath.Join(repoRoot, "events", e.Name())) })
			continue
		}
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if e.IsDir() || !ok || !slices.Contains(names, name) {
			t.Errorf("events/%s is neither the event of a route of api.Routes or of api.Fallback, nor events/<name>-<case>.json of worker.Functions", e.Name())
		}
	}
	requestIDs := map[string]string{}
	pathValues := map[string]string{} // one value per path parameter across events, so one seed serves all
	for _, r := range api.Routes {
		t.Run(r.Name, func(t *testing.T) {
			path, ev := readHTTPEvent(t, r.Name)
			routeKey := r.Method + " " + r.Path
			rc := ev.RequestContext
			if ev.Version != "2.0" || ev.RouteKey != routeKey || rc.RouteKey != routeKey || rc.HTTP.Method != r.Method {
				t.Errorf("%s: version %q, routeKey %q, requestContext.routeKey %q, http.method %q; want 2.0, %q, %q, %s",
					path, ev.Version, ev.RouteKey, rc.RouteKey, rc.HTTP.Method, routeKey, routeKey, r.Method)
			}

			params := regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(r.Path, -1)
			if len(ev.PathParameters) != len(params) {
				t.Errorf("%s: pathParameters %v, want exactly the parameters of %s", path, ev.PathParameters, r.Path)
			}
			rawPath := r.Path
			for _, p := range params {
				v, ok := ev.PathParameters[p[1]]
				if !ok || v == "" {
					t.Errorf("%s: pathParameters has no %s", path, p[1])
					continue
				}
				if seen, ok := pathValues[p[1]]; ok && seen != v {
					t.Errorf("%s: %s is %q, another event has %q; use one value everywhere", path, p[1], v, seen)
				}
				pathValues[p[1]] = v
				rawPath = strings.Replace(rawPath, p[0], v, 1)
			}
			if ev.RawPath != rawPath || rc.HTTP.Path != rawPath {
				t.Errorf("%s: rawPath %q, requestContext.http.path %q; want %q", path, ev.RawPath, rc.HTTP.Path, rawPath)
			}

			checkHTTPEvent(t, path, r.Name, ev, requestIDs)

			if rc.Authorizer == nil || rc.Authorizer.JWT == nil {
				t.Fatalf("%s: no requestContext.authorizer.jwt", path)
			}
			claims := rc.Authorizer.JWT.Claims
			for _, c := range []string{"sub", "project_id", "roles"} {
				if claims[c] == "" {
					t.Errorf("%s: JWT claim %s missing", path, c)
				}
			}
			if tenant := ev.PathParameters["tenant_id"]; tenant != "" && claims["project_id"] != tenant {
				t.Errorf("%s: project_id claim %q addresses tenant %q; the sample caller should address its own project", path, claims["project_id"], tenant)
			}
		})
	}
	// The fallback's event is what API Gateway sends to the $default route:
	// a request that matches no route, with no path parameters and, the
	// route having no authorizer, no authorizer context.
	fb := api.Fallback
	t.Run(fb.Name, func(t *testing.T) {
		path, ev := readHTTPEvent(t, fb.Name)
		rc := ev.RequestContext
		if ev.Version != "2.0" || ev.RouteKey != "$default" || rc.RouteKey != "$default" {
			t.Errorf("%s: version %q, routeKey %q, requestContext.routeKey %q; want 2.0, $default, $default", path, ev.Version, ev.RouteKey, rc.RouteKey)
		}
		method := rc.HTTP.Method
		if method == "" || method != strings.ToUpper(method) {
			t.Errorf("%s: http.method %q, want an upper-case method", path, method)
		}
		if len(ev.PathParameters) != 0 {
			t.Errorf("%s: pathParameters %v; the $default route has none", path, ev.PathParameters)
		}
		if !strings.HasPrefix(ev.RawPath, "/") || rc.HTTP.Path != ev.RawPath {
			t.Errorf("%s: rawPath %q, requestContext.http.path %q; want the same absolute path", path, ev.RawPath, rc.HTTP.Path)
		}
		for _, r := range api.Routes {
			values, ok := matchPath(r.Path, ev.RawPath)
			if !ok {
				continue
			}
			if r.Method == method {
				t.Errorf("%s: %s %s is route %s; API Gateway would not send it to $default", path, method, ev.RawPath, r.Name)
			}
			for k, v := range values {
				if seen, ok := pathValues[k]; ok && seen != v {
					t.Errorf("%s: %s is %q, the routes' events have %q; use one value everywhere", path, k, v, seen)
				}
			}
		}
		if rc.Authorizer != nil {
			t.Errorf("%s: requestContext.authorizer %+v; the $default route has no authorizer", path, rc.Authorizer)
		}
		checkHTTPEvent(t, path, fb.Name, ev, requestIDs)
	})
}

// readHTTPEvent reads events/<name>.json, which must be an HTTP API payload
// 2.0 event with no field unknown to that type.
func readHTTPEvent(t *testing.T, name string) (path string, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	path = filepath.Join(repoRoot, "events", name+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s is not an HTTP API payload 2.0 event: %v", path, err)
	}
	return path, ev
}

// checkHTTPEvent checks what every sample HTTP API event shares: the
// $default stage, a query string that agrees with its parsed parameters, a
// request id no other event has (requestIDs records them), lower-case
// headers, and a readable body only where the method takes one.
func checkHTTPEvent(t *testing.T, path, name string, ev events.APIGatewayV2HTTPRequest, requestIDs map[string]string) {
	t.Helper()
	rc := ev.RequestContext
	if rc.Stage != "$default" {
		t.Errorf("%s: stage %q, want $default", path, rc.Stage)
	}

	query, err := url.ParseQuery(ev.RawQueryString)
	if err != nil {
		t.Errorf("%s: rawQueryString: %v", path, err)
	}
	flat := map[string]string{}
	for k, vs := range query {
		flat[k] = strings.Join(vs, ",") // as API Gateway joins repeated parameters
	}
	if len(flat) != len(ev.QueryStringParameters) || (len(flat) > 0 && !reflect.DeepEqual(flat, ev.QueryStringParameters)) {
		t.Errorf("%s: queryStringParameters %v do not match rawQueryString %q", path, ev.QueryStringParameters, ev.RawQueryString)
	}

	if rc.RequestID == "" {
		t.Errorf("%s: no requestContext.requestId", path)
	} else if other, ok := requestIDs[rc.RequestID]; ok {
		t.Errorf("%s: requestId %q is also the one of %s", path, rc.RequestID, other)
	}
	requestIDs[rc.RequestID] = name

	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("%s: header %q is not lower-case as HTTP API sends it", path, k)
		}
	}

	if ev.IsBase64Encoded {
		t.Errorf("%s: isBase64Encoded is true; keep sample bodies readable", path)
	}
	switch rc.HTTP.Method {
	case "POST", "PUT":
		if !json.Valid([]byte(ev.Body)) {
			t.Errorf("%s: body %q is not JSON", path, ev.Body)
		}
		if ev.Headers["content-type"] != "application/json" {
			t.Errorf("%s: content-type %q, want application/json", path, ev.Headers["content-type"])
		}
	default:
		if ev.Body != "" {
			t.Errorf("%s: a %s has a body", path, rc.HTTP.Method)
		}
	}
	if n, ok := ev.Headers["content-length"]; ok && n != strconv.Itoa(len(ev.Body)) {
		t.Errorf("%s: content-length %s, body is %d bytes", path, n, len(ev.Body))
	}
}

// matchPath matches a request path against a route path as API Gateway
// does, segment by segment, a {name} standing for one non-empty segment; it
// returns the parameters' values.
func matchPath(pattern, path string) (map[string]string, bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	values := map[string]string{}
	for i, p := range ps {
		if name, ok := strings.CutPrefix(p, "{"); ok && strings.HasSuffix(name, "}") {
			if xs[i] == "" {
				return nil, false
			}
			values[strings.TrimSuffix(name, "}")] = xs[i]
		} else if p != xs[i] {
			return nil, false
		}
	}
	return values, true
}

// callLine matches a Makefile line defining one function's build target.
var callLine = regexp.MustCompile(`(?m)^\$\(eval \$\(call lambda-function,([^,\s]+),([^,\s)]+)\)\)\s*$`)

func TestAgreementMakefile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]string{} // logical id → route name
	for _, m := range callLine.FindAllStringSubmatch(string(b), -1) {
		if _, dup := defined[m[1]]; dup {
			t.Errorf("Makefile defines build-%s twice", m[1])
		}
		defined[m[1]] = m[2]
	}
	for _, m := range regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+)\s*:`).FindAllStringSubmatch(string(b), -1) {
		if m[1] != "functions" {
			t.Errorf("Makefile has a hand-written target build-%s; define it with lambda-function", m[1])
		}
	}
	type target struct{ name, logicalID string }
	var targets []target
	for _, r := range api.Routes {
		targets = append(targets, target{r.Name, r.LogicalID})
	}
	targets = append(targets, target{api.Fallback.Name, api.Fallback.LogicalID})
	for _, f := range worker.Functions {
		targets = append(targets, target{f.Name, f.LogicalID})
	}
	for _, tg := range targets {
		if name, ok := defined[tg.logicalID]; !ok || name != tg.name {
			t.Errorf("Makefile: want $(eval $(call lambda-function,%s,%s)), have %q", tg.logicalID, tg.name, name)
		}
		delete(defined, tg.logicalID)
	}
	for id := range defined {
		t.Errorf("Makefile has build-%s, which is neither a route of api.Routes, nor api.Fallback, nor in worker.Functions", id)
	}

	// What sam build would run: make build-<LogicalId> with ARTIFACTS_DIR.
	makePath, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed; the targets' commands were not checked")
	}
	goarch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	tpl := parseTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	archs := map[string][]string{}
	for _, f := range fns {
		archs[f.LogicalID] = f.Architectures
	}
	artifacts := t.TempDir()
	for _, r := range targets {
		cmd := exec.Command(makePath, "--no-print-directory", "-n", "-C", repoRoot, "build-"+r.logicalID, "ARTIFACTS_DIR="+artifacts)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			for _, k := range []string{"GOARCH=", "GOOS=", "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=", "ARTIFACTS_DIR="} {
				if strings.HasPrefix(kv, k) {
					return true
				}
			}
			return false
		})
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n build-%s: %v\n%s", r.logicalID, err, out)
			continue
		}
		got := strings.TrimSpace(string(out))
		arch := "<none>"
		if a := archs[r.logicalID]; len(a) == 1 {
			arch = goarch[a[0]]
		}
		for _, want := range []string{"GOOS=linux ", "GOARCH=" + arch + " ", "CGO_ENABLED=0 ", "go build ", "-tags lambda.norpc ",
			"-o " + artifacts + "/bootstrap "} {
			if !strings.Contains(got, want) {
				t.Errorf("make build-%s runs %q; want it to contain %q (GOARCH from the template's Architectures)", r.logicalID, got, want)
			}
		}
		if !strings.HasSuffix(got, " ./functions/"+r.name) {
			t.Errorf("make build-%s runs %q; want it to build ./functions/%s", r.logicalID, got, r.name)
		}
		if strings.Count(got, "\n") != 0 {
			t.Errorf("make build-%s runs more than one command:\n%s", r.logicalID, got)
		}
	}
}
