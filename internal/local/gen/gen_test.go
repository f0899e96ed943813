package gen_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor"
	"karbor/internal/api"
	"karbor/internal/lambdafn/background"
	"karbor/internal/local/cfn"
	"karbor/internal/local/gen"
)

// root is the module root as seen from this package's directory.
const root = "../../.."

// TestGeneratedFilesAreFresh renders every generated file in memory and
// compares it with the file on disk: a route declared or changed without
// `make generate` fails here.
func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := gen.Render(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Errorf("%s: %v; run make generate", f.Path, err)
			continue
		}
		if !bytes.Equal(got, f.Content) {
			t.Errorf("%s is stale (first difference at line %d); run make generate", f.Path, firstDiffLine(got, f.Content))
		}
	}
	missing, err := gen.MissingEvents(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range missing {
		t.Errorf("%s is missing; run make generate for a skeleton", f.Path)
	}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(gen.Names(), e.Name()) {
			t.Errorf("functions/%s is no declared function (api.Routes, api.NotFound, background.Functions); run make generate or remove it", e.Name())
		}
	}
}

func firstDiffLine(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

// TestDeclarations checks what the generator relies on: unique,
// lower-case-with-dashes names, each declared by a Go variable of the same
// name (the generated mains refer to it), a unique method and path per
// route, only the fallback without them, only tables and indexes the
// template defines, and no write access for a GET.
func TestDeclarations(t *testing.T) {
	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	nameOK := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	names, keys := map[string]bool{}, map[string]bool{}
	for _, n := range gen.Names() {
		if names[n] || !nameOK.MatchString(n) {
			t.Errorf("function %q: name not unique or not lower-case-with-dashes", n)
		}
		names[n] = true
	}
	for _, r := range api.Functions() {
		if (r.Path == "") != (r.Name == api.NotFound.Name) || (r.Method == "") != (r.Path == "") {
			t.Errorf("%s: method %q, path %q; only api.NotFound, the $default route, has neither", r.Name, r.Method, r.Path)
		}
		if key := r.Method + " " + r.Path; keys[key] {
			t.Errorf("%s: %s is another route's too", r.Name, key)
		} else {
			keys[key] = true
		}
		if r.Method == "GET" && r.Writes() {
			t.Errorf("%s is a GET with write access %v", r.Name, r.Access)
		}
		for _, a := range r.Access {
			if a.Resource != "" {
				// Reads of the account's resources: no table of the
				// service, and read-only.
				if a.Table != "" || a.Index != "" || a.Action.Writes() || (a.Resource != api.AnyTable && a.Resource != api.AnyResource) {
					t.Errorf("%s: %+v: want a read on api.AnyTable or api.AnyResource alone", r.Name, a)
				}
				continue
			}
			in, ok := tables[string(a.Table)]
			if !ok {
				t.Errorf("%s: %s is not a table of template.yaml", r.Name, a.Table)
				continue
			}
			if a.Index == "" || a.Index == "*" {
				continue
			}
			if a.Action != api.Query || !slices.ContainsFunc(in.GlobalSecondaryIndexes, func(ix types.GlobalSecondaryIndex) bool { return *ix.IndexName == a.Index }) {
				t.Errorf("%s: %s on %s/index/%s: want Query on an index of the table", r.Name, a.Action, a.Table, a.Index)
			}
		}
	}
	vars := declaredVars(t, filepath.Join(root, "internal/api/routes.go"))
	for _, r := range api.Functions() {
		if got := vars[r.Name]; got != gen.GoName(r.Name) {
			t.Errorf("route %s is declared by var %q, want %s", r.Name, got, gen.GoName(r.Name))
		}
	}
	vars = declaredVars(t, filepath.Join(root, "internal/lambdafn/background/functions.go"))
	for _, b := range background.Functions {
		if got := vars[b.Name]; got != gen.GoName(b.Name) {
			t.Errorf("background function %s is declared by var %q, want %s", b.Name, got, gen.GoName(b.Name))
		}
	}
}

// declaredVars maps the Name field of each composite literal assigned to a
// package variable of the file to the variable's name.
func declaredVars(t *testing.T, path string) map[string]string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, v := range vs.Values {
				// A declaration may wrap its literal: Idempotent(Route{...}).
				if call, ok := v.(*ast.CallExpr); ok && len(call.Args) == 1 {
					v = call.Args[0]
				}
				lit, ok := v.(*ast.CompositeLit)
				if !ok {
					continue
				}
				for _, e := range lit.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					if k, _ := kv.Key.(*ast.Ident); k == nil || k.Name != "Name" {
						continue
					}
					if b, ok := kv.Value.(*ast.BasicLit); ok {
						name, _ := strconv.Unquote(b.Value)
						out[name] = vs.Names[i].Name
					}
				}
			}
		}
	}
	return out
}

// TestEvents checks that each route's sample event is the HTTP API payload
// 2.0 event of its declaration: its routeKey, method and a path that matches
// the route's (the fallback's: $default, and a path no route serves with
// that method).
func TestEvents(t *testing.T) {
	for _, r := range api.Functions() {
		t.Run(r.Name, func(t *testing.T) {
			path := filepath.Join(root, gen.EventPath(r.Name))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("%s is not an HTTP API payload 2.0 event: %v", path, err)
			}
			rc := ev.RequestContext
			routeKey := r.Method + " " + r.Path
			if r.Path == "" {
				routeKey = "$default"
			}
			if ev.Version != "2.0" || ev.RouteKey != routeKey || rc.RouteKey != routeKey || ev.RawPath != rc.HTTP.Path {
				t.Errorf("%s: version %q, routeKey %q and %q, rawPath %q and http.path %q; want 2.0, %q twice and one path",
					path, ev.Version, ev.RouteKey, rc.RouteKey, ev.RawPath, rc.HTTP.Path, routeKey)
			}
			if r.Path == "" {
				for _, other := range api.Routes {
					if matchPath(other.Path, ev.RawPath) != nil && other.Method == rc.HTTP.Method {
						t.Errorf("%s: %s %s is route %s's; API Gateway would not send it to $default", path, rc.HTTP.Method, ev.RawPath, other.Name)
					}
				}
				return
			}
			if rc.HTTP.Method != r.Method {
				t.Errorf("%s: method %s, want %s", path, rc.HTTP.Method, r.Method)
			}
			params := matchPath(r.Path, ev.RawPath)
			if params == nil || len(params) != len(ev.PathParameters) {
				t.Errorf("%s: rawPath %q with pathParameters %v does not match %s", path, ev.RawPath, ev.PathParameters, r.Path)
			}
			for k, v := range params {
				if ev.PathParameters[k] != v {
					t.Errorf("%s: pathParameters[%s] = %q, rawPath has %q", path, k, ev.PathParameters[k], v)
				}
			}
			if !r.Anonymous && (rc.Authorizer == nil || rc.Authorizer.JWT == nil) {
				t.Errorf("%s: no requestContext.authorizer.jwt, which API Gateway sends to every route but the anonymous", path)
			}
		})
	}
}

// matchPath matches a request path against a route path as API Gateway
// does, a {name} standing for one non-empty segment; nil when it does not
// match.
func matchPath(pattern, path string) map[string]string {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil
	}
	values := map[string]string{}
	for i, p := range ps {
		if name, ok := strings.CutPrefix(p, "{"); ok && strings.HasSuffix(name, "}") {
			if xs[i] == "" {
				return nil
			}
			values[strings.TrimSuffix(name, "}")] = xs[i]
		} else if p != xs[i] {
			return nil
		}
	}
	return values
}

// TestSkeletonEvents checks that a skeleton event, as make generate
// writes it for a new route, passes TestEvents' checks (by decoding it the
// same way).
func TestSkeletonEvents(t *testing.T) {
	for _, r := range api.Functions() {
		b, err := gen.EventSkeleton(r)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if r.Path != "" && (ev.RouteKey != r.Method+" "+r.Path || matchPath(r.Path, ev.RawPath) == nil) {
			t.Errorf("%s: skeleton routeKey %q rawPath %q", r.Name, ev.RouteKey, ev.RawPath)
		}
	}
}

// TestStatementsGrantExactlyTheAccess checks the rendering of access into
// IAM statements: each resource gets exactly its declared actions.
func TestStatementsGrantExactlyTheAccess(t *testing.T) {
	got := gen.Statements(api.ListCheckpoints.Access)
	want := []gen.Statement{
		{Actions: []string{"dynamodb:GetItem", "dynamodb:Query"}, Resources: []string{"!GetAtt CheckpointsTable.Arn"}},
		{Actions: []string{"dynamodb:Query"}, Resources: []string{`!Sub "${CheckpointsTable.Arn}/index/by_project"`, `!Sub "${CheckpointsTable.Arn}/index/by_provider"`, `!Sub "${CheckpointsTable.Arn}/index/by_plan"`, `!Sub "${CheckpointsTable.Arn}/index/by_status"`, `!Sub "${CheckpointsTable.Arn}/index/by_plan_all"`, `!Sub "${CheckpointsTable.Arn}/index/by_status_all"`}},
	}
	if !slices.EqualFunc(got, want, func(a, b gen.Statement) bool {
		return slices.Equal(a.Actions, b.Actions) && slices.Equal(a.Resources, b.Resources)
	}) {
		t.Errorf("Statements = %+v, want %+v", got, want)
	}
}

// The inventory's reads name every table of the account, or "*" for the
// actions without resource-level permissions.
func TestStatementsOfInventoryReads(t *testing.T) {
	got := gen.Statements(api.ShowProtectableInstance.Access)
	want := []gen.Statement{
		{Actions: []string{"dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"}, Resources: []string{`!Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"`}},
		{Actions: []string{"ec2:DescribeInstances", "ec2:DescribeVolumes"}, Resources: []string{`"*"`}},
	}
	if !slices.EqualFunc(got, want, func(a, b gen.Statement) bool {
		return slices.Equal(a.Actions, b.Actions) && slices.Equal(a.Resources, b.Resources)
	}) {
		t.Errorf("Statements = %+v, want %+v", got, want)
	}
}

// TestMakeTargets checks that make build-<LogicalId>, as sam build runs it,
// builds each function's folder for the template's architecture.
func TestMakeTargets(t *testing.T) {
	makePath, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	goarch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	artifacts := t.TempDir()
	for _, f := range fns {
		i := slices.IndexFunc(gen.Names(), func(n string) bool { return api.LogicalID(n) == f.LogicalID })
		if i < 0 {
			t.Errorf("template.yaml function %s is no declared function", f.LogicalID)
			continue
		}
		name := gen.Names()[i]
		cmd := exec.Command(makePath, "--no-print-directory", "-n", "-C", root, "build-"+f.LogicalID, "ARTIFACTS_DIR="+artifacts)
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
			t.Errorf("make -n build-%s: %v\n%s", f.LogicalID, err, out)
			continue
		}
		got := strings.TrimSpace(string(out))
		arch := "<none>"
		if len(f.Architectures) == 1 {
			arch = goarch[f.Architectures[0]]
		}
		for _, want := range []string{"GOOS=linux ", "GOARCH=" + arch + " ", "CGO_ENABLED=0 ", "-tags lambda.norpc ", "-o " + artifacts + "/bootstrap "} {
			if !strings.Contains(got, want) {
				t.Errorf("make build-%s runs %q; want %q in it", f.LogicalID, got, want)
			}
		}
		if !strings.HasSuffix(got, " ./functions/"+name) {
			t.Errorf("make build-%s runs %q; want it to build ./functions/%s", f.LogicalID, got, name)
		}
	}
}

// TestLambdaBinariesLinkNoLocalCode checks that no Lambda binary links
// local-development or test-support code, nor the root package (which embeds
// template.yaml).
func TestLambdaBinariesLinkNoLocalCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./functions/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var n int
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "karbor/") {
			n++
		}
		if pkg == "karbor" || strings.HasPrefix(pkg, "karbor/internal/local/") || strings.HasPrefix(pkg, "karbor/internal/testsupport/") {
			t.Errorf("a Lambda function links %s", pkg)
		}
	}
	if n == 0 {
		t.Errorf("go list -deps ./functions/... lists no package of karbor:\n%s", out)
	}
}

// TestRouteFunctionsLinkNoWorkerCode checks that the route functions link
// neither the worker, nor the plugins, nor the SDK's full credential chain
// (package config: SSO, STS, sign-in; functions read the environment,
// package lambdaenv): each costs binary size and cold start. Only the
// routes that look up protectable resources (api.Route.UsesInventory) link
// package inventory and the EC2 SDK, and only those that list link the
// tagging API's client. (The regexp package stays linked: the SDK's
// endpoint resolvers and the schemas' "pattern" use it.)
func TestRouteFunctionsLinkNoWorkerCode(t *testing.T) {
	banned := []string{
		"karbor/internal/worker", "karbor/internal/provider/awsplugin", "karbor/internal/lambdafn/background",
		"github.com/aws/aws-sdk-go-v2/service/sso",
		"github.com/aws/aws-sdk-go-v2/service/ssooidc", "github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/signin", "github.com/aws/aws-sdk-go-v2/config",
		// The Keystone authorizer's credentials are its alone.
		"karbor/internal/lambdafn/keystonefn", "github.com/aws/aws-sdk-go-v2/service/secretsmanager", "github.com/aws/aws-sdk-go-v2/service/ssm",
	}
	const ec2, inventory, tagging = "github.com/aws/aws-sdk-go-v2/service/ec2", "karbor/internal/inventory", "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	for _, r := range api.Functions() {
		cmd := exec.Command("go", "list", "-deps", "./functions/"+r.Name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		deps := strings.Fields(string(out))
		for _, pkg := range deps {
			if slices.Contains(banned, pkg) {
				t.Errorf("%s links %s", r.Name, pkg)
			}
		}
		for pkg, want := range map[string]bool{ec2: r.UsesInventory(), inventory: r.UsesInventory(), tagging: r.UsesTagging()} {
			if got := slices.Contains(deps, pkg); got != want {
				t.Errorf("%s links %s: %v, want %v", r.Name, pkg, got, want)
			}
		}
	}
}

// TestKeystoneAuthorizerLinksNoServiceCode: the authorizer runs before every
// request of AuthMode keystone, so its cold start is the caller's: it links
// neither the API nor the worker nor the SDK's full credential chain. (It
// does link the DynamoDB client's package, through lambdaenv, which builds
// it; it makes none.)
func TestKeystoneAuthorizerLinksNoServiceCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./functions/"+background.KeystoneAuthorizer.Name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, pkg := range []string{"karbor/internal/api", "karbor/internal/store", "karbor/internal/worker", "karbor/internal/lambdafn",
		"karbor/internal/lambdafn/background", "karbor/internal/provider/awsplugin",
		"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sts"} {
		if slices.Contains(deps, pkg) {
			t.Errorf("keystone-authorizer links %s", pkg)
		}
	}
}
