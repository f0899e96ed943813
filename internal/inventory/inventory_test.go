package inventory_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/ownership"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// world is a project's resources and everyone else's, on moto.
type world struct {
	env                                  *invenv.Env
	project, other                       string
	table, volume, instance              string // owned by project
	attached                             []string
	otherTable, otherVolume, otherInst   string // owned by other
	untaggedTable, untaggedVol, untagged string
	serviceTagged, serviceNamed          string // the service's own tables
	terminated                           string // owned, terminated
}

func newWorld(t *testing.T) *world {
	e := invenv.New(t)
	w := &world{env: e, project: invenv.Project(), other: invenv.Project()}
	own, other := invenv.Owner(w.project), invenv.Owner(w.other)
	w.table = e.Table(invenv.TableName("mine"), own)
	w.volume = e.Volume(map[string]string{ownership.DefaultTagKey: w.project, "Name": "data"})
	w.instance, w.attached = e.Instance(own)
	w.otherTable = e.Table(invenv.TableName("theirs"), other)
	w.otherVolume = e.Volume(other)
	w.otherInst, _ = e.Instance(other)
	w.untaggedTable = e.Table(invenv.TableName("untagged"), nil)
	w.untaggedVol = e.Volume(nil)
	w.untagged, _ = e.Instance(nil)
	w.serviceTagged = e.Table(invenv.TableName("svc"), map[string]string{ownership.ServiceTag: "karbor", ownership.DefaultTagKey: w.project})
	w.serviceNamed = e.Table(invenv.TableName("plans"), own)
	w.terminated, _ = e.Instance(own)
	e.Terminate(w.terminated)
	return w
}

func (w *world) inventory(mode ownership.Mode) *inventory.Inventory {
	return w.env.Inventory(ownership.Config{Mode: mode, TagKey: ownership.DefaultTagKey, ServiceTables: []string{w.serviceNamed}})
}

func TestShowMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inv := w.inventory(ownership.ModeTag)
	ctx := t.Context()
	missingVol, missingInst := "vol-0123456789abcdef0", "i-0123456789abcdef0"
	for _, c := range []struct {
		name, typ, id string
		found         bool
	}{
		{"own table", domain.TypeDynamoDBTable, w.table, true},
		{"own volume", domain.TypeEC2Volume, w.volume, true},
		{"own instance", domain.TypeEC2Instance, w.instance, true},
		{"other's table", domain.TypeDynamoDBTable, w.otherTable, false},
		{"other's volume", domain.TypeEC2Volume, w.otherVolume, false},
		{"other's instance", domain.TypeEC2Instance, w.otherInst, false},
		{"untagged table", domain.TypeDynamoDBTable, w.untaggedTable, false},
		{"untagged volume", domain.TypeEC2Volume, w.untaggedVol, false},
		{"untagged instance", domain.TypeEC2Instance, w.untagged, false},
		{"service-tagged table", domain.TypeDynamoDBTable, w.serviceTagged, false},
		{"service table by name", domain.TypeDynamoDBTable, w.serviceNamed, false},
		{"missing table", domain.TypeDynamoDBTable, "no-such-table", false},
		{"missing volume", domain.TypeEC2Volume, missingVol, false},
		{"missing instance", domain.TypeEC2Instance, missingInst, false},
		{"terminated instance", domain.TypeEC2Instance, w.terminated, false},
		// Attached volumes are owned through their instance, not alone.
		{"untagged attached volume", domain.TypeEC2Volume, w.attached[0], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst, err := inv.Show(ctx, w.project, c.typ, c.id)
			if c.found {
				if err != nil {
					t.Fatalf("Show: %v", err)
				}
				if inst.ID != c.id || inst.Type != c.typ {
					t.Errorf("Show = %+v", inst)
				}
				return
			}
			if !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("Show = %+v, %v; want ErrNotFound", inst, err)
			}
		})
	}

	// What the contract shows of each type.
	tbl, _ := inv.Show(ctx, w.project, domain.TypeDynamoDBTable, w.table)
	for _, k := range []string{"region", "arn", "status", "item_count", "size_bytes"} {
		if _, ok := tbl.ExtraInfo[k]; !ok {
			t.Errorf("table extra_info lacks %s: %v", k, tbl.ExtraInfo)
		}
	}
	if tbl.Name != w.table || len(tbl.Dependents) != 0 {
		t.Errorf("table = %+v", tbl)
	}
	vol, _ := inv.Show(ctx, w.project, domain.TypeEC2Volume, w.volume)
	if vol.Name != "data" || vol.ExtraInfo["size_gib"] != int32(1) || vol.ExtraInfo["state"] != "available" {
		t.Errorf("volume = %+v", vol)
	}
	for _, k := range []string{"region", "availability_zone", "size_gib", "volume_type", "state", "encrypted"} {
		if _, ok := vol.ExtraInfo[k]; !ok {
			t.Errorf("volume extra_info lacks %s", k)
		}
	}
	ins, _ := inv.Show(ctx, w.project, domain.TypeEC2Instance, w.instance)
	if ins.Name != w.instance || ins.ExtraInfo["state"] != "running" || ins.ExtraInfo["instance_type"] != "t3.micro" {
		t.Errorf("instance = %+v", ins)
	}
	for _, k := range []string{"region", "availability_zone", "instance_type", "state", "subnet_id"} {
		if _, ok := ins.ExtraInfo[k]; !ok {
			t.Errorf("instance extra_info lacks %s", k)
		}
	}
	var deps []string
	for _, d := range ins.Dependents {
		deps = append(deps, d.ID)
		if d.Type != domain.TypeEC2Volume || d.Dependents != nil {
			t.Errorf("dependent %+v", d)
		}
	}
	if len(w.attached) == 0 || !slices.Equal(deps, w.attached) {
		t.Errorf("dependents %v, want the attached volumes %v", deps, w.attached)
	}

	// Account mode: everyone's resources but the service's own.
	acc := w.inventory(ownership.ModeAccount)
	for _, id := range []string{w.otherTable, w.untaggedTable} {
		if _, err := acc.Show(ctx, w.project, domain.TypeDynamoDBTable, id); err != nil {
			t.Errorf("account mode, table %s: %v", id, err)
		}
	}
	if _, err := acc.Show(ctx, w.project, domain.TypeEC2Volume, w.untaggedVol); err != nil {
		t.Errorf("account mode, untagged volume: %v", err)
	}
	for _, id := range []string{w.serviceTagged, w.serviceNamed} {
		if _, err := acc.Show(ctx, w.project, domain.TypeDynamoDBTable, id); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("account mode, service table %s: %v, want ErrNotFound", id, err)
		}
	}
	if _, err := acc.Show(ctx, w.project, domain.TypeEC2Instance, w.terminated); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("account mode, terminated instance: %v", err)
	}
}

func TestCheckAndOwned(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inv := w.inventory(ownership.ModeTag)
	res := []domain.Resource{
		{ID: w.table, Type: domain.TypeDynamoDBTable},             // 0 ok
		{ID: w.otherVolume, Type: domain.TypeEC2Volume},           // 1
		{ID: w.volume, Type: domain.TypeEC2Volume},                // 2 ok
		{ID: "vol-0123456789abcdef0", Type: domain.TypeEC2Volume}, // 3 missing
		{ID: w.instance, Type: domain.TypeEC2Instance},            // 4 ok
		{ID: w.terminated, Type: domain.TypeEC2Instance},          // 5
		{ID: w.untagged, Type: domain.TypeEC2Instance},            // 6
		{ID: w.serviceTagged, Type: domain.TypeDynamoDBTable},     // 7
		{ID: "no-such-table", Type: domain.TypeDynamoDBTable},     // 8
	}
	bad, err := inv.Check(t.Context(), w.project, res)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 3, 5, 6, 7, 8}; !slices.Equal(bad, want) {
		t.Errorf("Check = %v, want %v", bad, want)
	}
	errs := inv.Owned(t.Context(), w.project, res)
	for i, err := range errs {
		ok := i == 0 || i == 2 || i == 4
		if ok != (err == nil) {
			t.Errorf("Owned[%d] (%s %s) = %v", i, res[i].Type, res[i].ID, err)
		}
		var no *inventory.NotOwnedError
		if err != nil && (!errors.As(err, &no) || err.Error() != res[i].Type+" "+res[i].ID+" is not owned by the project") {
			t.Errorf("Owned[%d] = %v", i, err)
		}
	}
	// A tag removed after the plan was made.
	w.env.Untag(w.volume, ownership.DefaultTagKey)
	if errs := inv.Owned(t.Context(), w.project, res[2:3]); errs[0] == nil {
		t.Error("a volume whose tag was removed is still owned")
	}
}

func ids(items []*domain.ProtectableInstance) []string {
	var out []string
	for _, i := range items {
		out = append(out, i.ID)
	}
	return out
}

// walk lists every page with the given limit and checks that pages are
// full but the last, that next markers are the pages' last ids, and
// returns every id in order.
func walk(t *testing.T, inv *inventory.Inventory, q domain.InstanceQuery) []string {
	t.Helper()
	var all []string
	for n := 0; n < 100; n++ {
		page, err := inv.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		all = append(all, ids(page.Items)...)
		if !page.More {
			return all
		}
		if len(page.Items) != q.Limit {
			t.Fatalf("a page of %d before the end, limit %d", len(page.Items), q.Limit)
		}
		if page.NextMarker != page.Items[len(page.Items)-1].ID {
			t.Fatalf("next marker %s, last id %s", page.NextMarker, page.Items[len(page.Items)-1].ID)
		}
		q.Marker = page.NextMarker
	}
	t.Fatal("no end")
	return nil
}

func TestListTagMode(t *testing.T) {
	t.Parallel()
	e := invenv.New(t)
	p, other := invenv.Project(), invenv.Project()
	own := invenv.Owner(p)
	var tables, vols, insts []string
	for range 5 {
		tables = append(tables, e.Table(invenv.TableName("list"), own))
		vols = append(vols, e.Volume(own))
		id, _ := e.Instance(own)
		insts = append(insts, id)
	}
	e.Table(invenv.TableName("list"), invenv.Owner(other))
	e.Volume(invenv.Owner(other))
	e.Table(invenv.TableName("list"), map[string]string{ownership.DefaultTagKey: p, ownership.ServiceTag: "x"})
	dead, _ := e.Instance(own)
	e.Terminate(dead)
	inv := e.Inventory(ownership.Config{Mode: ownership.ModeTag})
	for typ, want := range map[string][]string{domain.TypeDynamoDBTable: tables, domain.TypeEC2Volume: vols, domain.TypeEC2Instance: insts} {
		t.Run(typ, func(t *testing.T) {
			slices.Sort(want)
			for _, limit := range []int{1, 2, 5, 1000} {
				q := domain.InstanceQuery{Type: typ, Listing: domain.Listing{ProjectID: p, Limit: limit, Ascending: true}}
				if got := walk(t, inv, q); !slices.Equal(got, want) {
					t.Errorf("limit %d: %v, want %v", limit, got, want)
				}
				q.Ascending = false
				rev := slices.Clone(want)
				slices.Reverse(rev)
				if got := walk(t, inv, q); !slices.Equal(got, rev) {
					t.Errorf("limit %d desc: %v, want %v", limit, got, rev)
				}
			}
			// A marker that is no instance: the page starts after its place.
			q := domain.InstanceQuery{Type: typ, Listing: domain.Listing{ProjectID: p, Limit: 1000, Ascending: true, Marker: want[1] + "0"}}
			if got := walk(t, inv, q); !slices.Equal(got, want[2:]) {
				t.Errorf("after a missing marker: %v, want %v", got, want[2:])
			}
			// The byte budget ends a page early, with More.
			calls := 0
			q = domain.InstanceQuery{Type: typ, Listing: domain.Listing{ProjectID: p, Limit: 1000, Ascending: true,
				Fits: func(any) bool { calls++; return calls <= 2 }}}
			page, err := inv.List(t.Context(), q)
			if err != nil || len(page.Items) != 2 || !page.More || page.NextMarker != want[1] {
				t.Errorf("budget of two items: %v, %+v", err, page)
			}
		})
	}
	// Instances come with their attached volumes.
	page, _ := inv.List(t.Context(), domain.InstanceQuery{Type: domain.TypeEC2Instance, Listing: domain.Listing{ProjectID: p, Limit: 2, Ascending: true}})
	for _, i := range page.Items {
		if len(i.Dependents) == 0 {
			t.Errorf("instance %s listed without its volumes", i.ID)
		}
	}
}

func TestListAccountMode(t *testing.T) {
	t.Parallel()
	e := invenv.New(t)
	p := invenv.Project()
	prefix := "acct-" + strings.ToLower(invenv.Project()[:8])
	var tables []string
	for i := range 4 {
		tables = append(tables, e.Table(prefix+"-"+string(rune('a'+i)), nil))
	}
	svc := e.Table(prefix+"-e", map[string]string{ownership.ServiceTag: "x"})
	named := e.Table(prefix+"-f", nil)
	vol := e.Volume(nil)
	inst, _ := e.Instance(nil)
	inv := e.Inventory(ownership.Config{Mode: ownership.ModeAccount, ServiceTables: []string{named}})
	// Other tests' tables share the account: look at this test's only.
	for _, asc := range []bool{true, false} {
		q := domain.InstanceQuery{Type: domain.TypeDynamoDBTable, Listing: domain.Listing{ProjectID: p, Limit: 2, Ascending: asc}}
		var mine []string
		for _, id := range walk(t, inv, q) {
			if strings.HasPrefix(id, prefix) {
				mine = append(mine, id)
			}
		}
		want := slices.Clone(tables)
		if !asc {
			slices.Reverse(want)
		}
		if !slices.Equal(mine, want) {
			t.Errorf("ascending %v: %v, want %v (not %s, %s)", asc, mine, want, svc, named)
		}
	}
	for typ, id := range map[string]string{domain.TypeEC2Volume: vol, domain.TypeEC2Instance: inst} {
		got := walk(t, inv, domain.InstanceQuery{Type: typ, Listing: domain.Listing{ProjectID: p, Limit: 3, Ascending: true}})
		if !slices.Contains(got, id) || !slices.IsSorted(got) {
			t.Errorf("%s: %s not listed, or not in order: %v", typ, id, got)
		}
	}
}

// throttling is an EC2 client that AWS throttles: moto cannot be made to
// throttle, so this branch alone uses a fake client.
type throttling struct{ inventory.EC2API }

func (throttling) DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
}

func TestThrottledIsUnavailable(t *testing.T) {
	inv := &inventory.Inventory{EC2: throttling{}}
	_, err := inv.Show(t.Context(), "p", domain.TypeEC2Volume, "vol-0123456789abcdef0")
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Show: %v, want ErrUnavailable", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "RequestLimitExceeded" {
		t.Errorf("the SDK's error is not kept for the worker: %v", err)
	}
	errs := inv.Owned(t.Context(), "p", []domain.Resource{{ID: "vol-0123456789abcdef0", Type: domain.TypeEC2Volume}})
	if !inventory.Transient(errs[0]) {
		t.Errorf("Owned: %v, want a transient error", errs[0])
	}
}
