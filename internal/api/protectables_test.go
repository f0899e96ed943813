package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/local/devtoken"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/testenv"
)

func TestProtectableTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(t, http.MethodGet, "/v1/"+projA+"/protectables?limit=1&sort=x", tokenA, nil).wantStatus(t, http.StatusOK)
	types, _ := r.body["protectable_type"].([]any)
	if len(types) != 3 || types[0] != "AWS::DynamoDB::Table" || types[1] != "AWS::EC2::Instance" || types[2] != "AWS::EC2::Volume" {
		t.Errorf("types %v", r.body)
	}
	for path, deps := range map[string]string{
		"AWS::EC2::Instance":             "AWS::EC2::Volume",
		"AWS%3A%3AEC2%3A%3AInstance":     "AWS::EC2::Volume", // matched after percent-decoding
		"AWS::EC2::Volume":               "",
		"AWS::DynamoDB::Table":           "",
		"aws%3a%3adynamodb%3a%3atable/x": "404",
		"OS::Nova::Server":               "404",
		"AWS::EC2::instance":             "404",
		"AWS::S3::Bucket":                "404",
	} {
		r := e.do(t, http.MethodGet, "/v1/"+projA+"/protectables/"+path, tokenA, nil)
		if deps == "404" {
			r.wantFault(t, http.StatusNotFound)
			continue
		}
		typ := r.wantStatus(t, http.StatusOK).obj(t, "protectable_type")
		name, _ := url.PathUnescape(path)
		got, _ := typ["dependent_types"].([]any)
		if typ["name"] != name || got == nil || (deps == "") != (len(got) == 0) || (deps != "" && got[0] != deps) {
			t.Errorf("%s: %v", path, typ)
		}
	}
	e.do(t, http.MethodGet, "/v1/"+projA+"/protectables/OS::Nova::Server", tokenA, nil).
		wantFault(t, http.StatusNotFound, "Protectable type OS::Nova::Server could not be found.")
	e.do(t, http.MethodGet, "/v1/"+projA+"/protectables/OS::Nova::Server/instances", tokenA, nil).wantFault(t, http.StatusNotFound)
	e.do(t, http.MethodGet, "/v1/"+projA+"/protectables/OS::Nova::Server/instances/x", tokenA, nil).wantFault(t, http.StatusNotFound)
	e.do(t, http.MethodGet, "/v1/"+projB+"/protectables", tokenA, nil).wantFault(t, http.StatusForbidden)
}

// owner is a fresh project, its member's token and resources.
type owner struct {
	project, token          string
	table, volume, instance string
	attached                []string
}

func newOwner(t *testing.T, e *invenv.Env) owner {
	o := owner{project: invenv.Project()}
	o.token = "u:" + o.project + ":member"
	o.table = e.Table(invenv.TableName("t"), invenv.Owner(o.project))
	o.volume = e.Volume(invenv.Owner(o.project))
	o.instance, o.attached = e.Instance(invenv.Owner(o.project))
	return o
}

func instancePath(project, typ, id string) string {
	return "/v1/" + project + "/protectables/" + typ + "/instances/" + id
}

// TestOwnershipMatrix: resources owned by the project, by another, untagged,
// the service's own, missing and terminated, through show, list, plan create
// and plan update: one answer for everything the project may not protect.
func TestOwnershipMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ie := invenv.New(t)
	me, other := newOwner(t, ie), newOwner(t, ie)
	untaggedVol := ie.Volume(nil)
	untaggedInst, _ := ie.Instance(nil)
	serviceTable := ie.Table(invenv.TableName("svc"), map[string]string{ownership.ServiceTag: "karbor", ownership.DefaultTagKey: me.project})
	dead, _ := ie.Instance(invenv.Owner(me.project))
	ie.Terminate(dead)

	mine := []domain.Resource{
		{ID: me.table, Type: domain.TypeDynamoDBTable}, {ID: me.volume, Type: domain.TypeEC2Volume}, {ID: me.instance, Type: domain.TypeEC2Instance},
	}
	refused := []domain.Resource{
		{ID: other.table, Type: domain.TypeDynamoDBTable}, {ID: other.volume, Type: domain.TypeEC2Volume}, {ID: other.instance, Type: domain.TypeEC2Instance},
		{ID: untaggedVol, Type: domain.TypeEC2Volume}, {ID: untaggedInst, Type: domain.TypeEC2Instance},
		{ID: serviceTable, Type: domain.TypeDynamoDBTable},
		{ID: "missing-table", Type: domain.TypeDynamoDBTable}, {ID: "vol-0123456789abcdef0", Type: domain.TypeEC2Volume},
		{ID: "i-0123456789abcdef0", Type: domain.TypeEC2Instance}, {ID: dead, Type: domain.TypeEC2Instance},
		{ID: me.attached[0], Type: domain.TypeEC2Volume}, // owned through its instance only
	}
	for _, r := range mine {
		inst := e.do(t, http.MethodGet, instancePath(me.project, r.Type, r.ID), me.token, nil).wantStatus(t, http.StatusOK).obj(t, "instance")
		if inst["id"] != r.ID || inst["type"] != r.Type {
			t.Errorf("show %s: %v", r.ID, inst)
		}
		if deps, ok := inst["dependent_resources"].([]any); !ok || (r.Type == domain.TypeEC2Instance) != (len(deps) > 0) {
			t.Errorf("show %s: dependent_resources %v", r.ID, inst["dependent_resources"])
		}
	}
	for _, r := range refused {
		e.do(t, http.MethodGet, instancePath(me.project, r.Type, r.ID), me.token, nil).
			wantFault(t, http.StatusNotFound, "Protectable instance "+r.ID+" of type "+r.Type+" could not be found.")
	}
	// An admin addresses the other project's resources.
	admin := "root:" + projAdmin + ":admin"
	e.do(t, http.MethodGet, instancePath(other.project, domain.TypeEC2Volume, other.volume), admin, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodGet, instancePath(other.project, domain.TypeEC2Volume, me.volume), admin, nil).wantFault(t, http.StatusNotFound)
	e.do(t, http.MethodGet, instancePath(other.project, domain.TypeEC2Volume, other.volume), me.token, nil).wantFault(t, http.StatusForbidden)
	// Ids not of their type's form: 400 before any lookup.
	for typ, id := range map[string]string{domain.TypeEC2Volume: "vol-xyz", domain.TypeEC2Instance: "i-0123", domain.TypeDynamoDBTable: "a%2Fb"} {
		e.do(t, http.MethodGet, instancePath(me.project, typ, id), me.token, nil).wantFault(t, http.StatusBadRequest)
	}

	plan := func(rs ...domain.Resource) map[string]any {
		var res []any
		for _, r := range rs {
			res = append(res, map[string]any{"id": r.ID, "type": r.Type, "name": "n"})
		}
		return map[string]any{"name": "p", "provider_id": noop, "parameters": map[string]any{}, "resources": res}
	}
	created := e.createPlan(t, me.token, me.project, plan(mine...))
	planPath := "/v1/" + me.project + "/plans/" + created["id"].(string)
	for _, r := range refused {
		msg := "Resource " + r.Type + " " + r.ID + " is not a protectable instance of this project."
		e.do(t, http.MethodPost, "/v1/"+me.project+"/plans", me.token, map[string]any{"plan": plan(mine[0], r)}).wantFault(t, http.StatusBadRequest, msg)
		e.do(t, http.MethodPut, planPath, me.token, map[string]any{"plan": map[string]any{"resources": plan(r, mine[1])["resources"]}}).
			wantFault(t, http.StatusBadRequest, msg)
	}
	// Whatever the provider; an AWS:: type that is not protectable too.
	e.do(t, http.MethodPost, "/v1/"+me.project+"/plans", me.token, map[string]any{"plan": plan(domain.Resource{ID: "b", Type: "AWS::S3::Bucket"})}).
		wantFault(t, http.StatusBadRequest, "Resource AWS::S3::Bucket b is not a protectable instance of this project.")
	awsPlan := plan(mine[0], mine[1])
	awsPlan["provider_id"] = provider.AWSID
	e.createPlan(t, me.token, me.project, awsPlan)
	e.do(t, http.MethodPut, planPath, me.token, map[string]any{"plan": map[string]any{"resources": plan(mine[2])["resources"]}}).wantStatus(t, http.StatusOK)
	// OS:: types are not instance-checked.
	e.createPlan(t, me.token, me.project, samplePlan())
}

func TestListInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ie := invenv.New(t)
	p := invenv.Project()
	token := "u:" + p + ":member"
	var vols []string
	for range 5 {
		vols = append(vols, ie.Volume(invenv.Owner(p)))
	}
	ie.Volume(invenv.Owner(invenv.Project()))
	slices.Sort(vols)
	base := "/v1/" + p + "/protectables/AWS::EC2::Volume/instances"

	walk := func(query string) []string {
		var got []string
		next := base + query
		for n := 0; next != ""; n++ {
			if n > 10 {
				t.Fatal("no end")
			}
			r := e.do(t, http.MethodGet, next, token, nil).wantStatus(t, http.StatusOK)
			items := r.list(t, "instances")
			got = append(got, ids(items)...)
			next = r.next(t, "instances_links")
			if next != "" {
				u, err := url.Parse(next)
				if err != nil || u.Path != base || u.Query().Get("marker") != ids(items)[len(items)-1] {
					t.Fatalf("next link %s", next)
				}
				if strings.Contains(query, "sort") && u.Query().Get("sort") == "" && u.Query().Get("sort_dir") == "" {
					t.Fatalf("next link %s drops the sort", next)
				}
			}
		}
		return got
	}
	if got := walk("?limit=2"); !slices.Equal(got, vols) {
		t.Errorf("limit 2: %v, want %v", got, vols)
	}
	rev := slices.Clone(vols)
	slices.Reverse(rev)
	if got := walk("?limit=2&sort=id:desc"); !slices.Equal(got, rev) {
		t.Errorf("desc: %v, want %v", got, rev)
	}
	if got := walk("?sort_key=id&sort_dir=desc&limit=3"); !slices.Equal(got, rev) {
		t.Errorf("sort_key/sort_dir desc: %v, want %v", got, rev)
	}
	if got := walk("?limit=1000&marker=" + vols[2]); !slices.Equal(got, vols[3:]) {
		t.Errorf("after marker: %v, want %v", got, vols[3:])
	}
	// A marker that exists nowhere: the walk resumes after its place.
	if got := walk("?marker=vol-00000000"); !slices.Equal(got, vols) {
		t.Errorf("after an early missing marker: %v", got)
	}
	// What the client sends as parameters, and the JSON form.
	for _, q := range []string{
		"{'name': 'web', 'all': None}", `{"a": "b\\'c"}`, `{"a": null}`, "{}", `{'x\x41': 'caf\u00e9'}`,
	} {
		r := e.do(t, http.MethodGet, base+"?type=x&all_tenants=1&parameters="+url.QueryEscape(q), token, nil)
		if r.status != http.StatusOK {
			t.Errorf("parameters %s: %d %s", q, r.status, r.raw)
		}
	}
	for _, q := range []string{"[1]", "x", "{'a': 1}", "{'a' 'b'}", `{"a": 1}`, "{'a': 'b'"} {
		e.do(t, http.MethodGet, base+"?parameters="+url.QueryEscape(q), token, nil).wantFault(t, http.StatusBadRequest, "The parameters must be a dict.")
		e.do(t, http.MethodGet, instancePath(p, domain.TypeEC2Volume, vols[0])+"?parameters="+url.QueryEscape(q), token, nil).
			wantFault(t, http.StatusBadRequest, "The parameters must be a dict.")
	}
	for _, q := range []string{"marker=i-01234567", "marker=x", "sort=created_at", "sort=id:up", "sort_key=name", "limit=0", "limit=x", "sort=id&sort_dir=asc"} {
		e.do(t, http.MethodGet, base+"?"+q, token, nil).wantFault(t, http.StatusBadRequest)
	}
	// Tables in tag mode come through the tagging API.
	table := ie.Table(invenv.TableName("list"), invenv.Owner(p))
	r := e.do(t, http.MethodGet, "/v1/"+p+"/protectables/AWS::DynamoDB::Table/instances", token, nil).wantStatus(t, http.StatusOK)
	if got := ids(r.list(t, "instances")); !slices.Equal(got, []string{table}) {
		t.Errorf("tables %v, want [%s]", got, table)
	}
}

func TestParseParameters(t *testing.T) {
	for in, want := range map[string]map[string]any{
		`{'name': 'web', 'all': None}`:  {"name": "web", "all": nil},
		`{"a\"b": 'c\'d', }`:            {`a"b`: "c'd"},
		`{'t': 'a\tb\x41\u00e9\101\q'}`: {"t": "a\tbAé" + "A" + `\q`},
		`{"k": null, "v": "w"}`:         {"k": nil, "v": "w"},
		` { } `:                         {},
	} {
		got, ok := api.ParseParameters(in)
		if !ok || len(got) != len(want) {
			t.Errorf("%s: %v, %v", in, got, ok)
			continue
		}
		for k, v := range want {
			g, present := got[k]
			if !present || (v == nil) != (g == nil) || (g != nil && *g != v) {
				t.Errorf("%s: %s = %v, want %v", in, k, g, v)
			}
		}
	}
}

// throttledEC2 is an EC2 client that AWS throttles. moto cannot be made to
// throttle: this branch alone uses a fake client.
type throttledEC2 struct{ inventory.EC2API }

func (throttledEC2) DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded. (secret detail)"}
}

func TestThrottledAWSIsServiceUnavailable(t *testing.T) {
	st := testenv.Store(t)
	svc := &api.Service{
		Domain: &domain.Service{Store: st, Providers: provider.Lookup, Inventory: &inventory.Inventory{EC2: throttledEC2{}}},
		Auth:   devtoken.Auth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	srv := httptest.NewServer(openapicheck.Handler(t, openapicheck.API(t), svc.Handler()))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, store: st}
	vol := "vol-0123456789abcdef0"
	for _, r := range []*response{
		e.do(t, http.MethodGet, instancePath(projA, domain.TypeEC2Volume, vol), tokenA, nil),
		e.do(t, http.MethodGet, "/v1/"+projA+"/protectables/AWS::EC2::Volume/instances", tokenA, nil),
		e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, map[string]any{"plan": map[string]any{
			"name": "p", "provider_id": noop, "parameters": map[string]any{},
			"resources": []any{map[string]any{"id": vol, "type": domain.TypeEC2Volume, "name": "v"}}}}),
	} {
		r.wantFault(t, http.StatusServiceUnavailable)
		if strings.Contains(string(r.raw), "secret") || strings.Contains(string(r.raw), "RequestLimitExceeded") || r.header.Get("Retry-After") == "" {
			t.Errorf("%s: %s, Retry-After %q: want no AWS text and a Retry-After", r.what, r.raw, r.header.Get("Retry-After"))
		}
	}
}

// In account mode every resource of the account is every project's, but
// the service's own: through show, list and plan create.
func TestAccountMode(t *testing.T) {
	t.Parallel()
	ie := invenv.New(t)
	st := testenv.Store(t)
	own := ownership.Config{Mode: ownership.ModeAccount, ServiceTables: []string{"karbor-plans-of-this-test"}}
	svc := &api.Service{
		Domain: &domain.Service{Store: st, Providers: provider.Lookup, Inventory: ie.Inventory(own)},
		Auth:   devtoken.Auth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	srv := httptest.NewServer(openapicheck.Handler(t, openapicheck.API(t), svc.Handler()))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, store: st}
	p := invenv.Project()
	token := "u:" + p + ":member"
	untagged := ie.Volume(nil)
	theirs := ie.Volume(invenv.Owner(invenv.Project()))
	serviceTable := ie.Table(invenv.TableName("svc"), map[string]string{ownership.ServiceTag: "karbor"})
	e.do(t, http.MethodGet, instancePath(p, domain.TypeEC2Volume, untagged), token, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodGet, instancePath(p, domain.TypeEC2Volume, theirs), token, nil).wantStatus(t, http.StatusOK)
	e.do(t, http.MethodGet, instancePath(p, domain.TypeDynamoDBTable, serviceTable), token, nil).wantFault(t, http.StatusNotFound)
	r := e.do(t, http.MethodGet, "/v1/"+p+"/protectables/AWS::EC2::Volume/instances", token, nil).wantStatus(t, http.StatusOK)
	if got := ids(r.list(t, "instances")); !slices.Contains(got, untagged) || !slices.Contains(got, theirs) || !slices.IsSorted(got) {
		t.Errorf("account mode lists %v, want %s and %s among them, in order", got, untagged, theirs)
	}
	r = e.do(t, http.MethodGet, "/v1/"+p+"/protectables/AWS::DynamoDB::Table/instances", token, nil).wantStatus(t, http.StatusOK)
	if got := ids(r.list(t, "instances")); slices.Contains(got, serviceTable) {
		t.Errorf("account mode lists the service's table %s", serviceTable)
	}
	plan := map[string]any{"name": "p", "provider_id": provider.AWSID, "parameters": map[string]any{},
		"resources": []any{map[string]any{"id": untagged, "type": domain.TypeEC2Volume, "name": "v"}}}
	e.createPlan(t, token, p, plan)
	plan["resources"] = []any{map[string]any{"id": serviceTable, "type": domain.TypeDynamoDBTable, "name": "t"}}
	e.do(t, http.MethodPost, "/v1/"+p+"/plans", token, map[string]any{"plan": plan}).
		wantFault(t, http.StatusBadRequest, "is not a protectable instance of this project")
}
