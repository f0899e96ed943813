package server_test

// The local server end to end, in process: the API over HTTP with the
// development token, and the background worker reading the table's stream
// from moto_server, so that a checkpoint reaches available and, once
// deleted, deleted by itself.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/local/server"
	"karbor/internal/local/tables"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/openapicheck"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// TestMain runs the tests; with -v it says how many answers were validated
// against the OpenAPI document.
func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if testing.Verbose() {
		fmt.Printf("openapicheck: %d responses validated\n", openapicheck.Validated())
	}
	os.Exit(code)
}

// client talks to a running local server as one caller.
type client struct {
	t       *testing.T
	base    string
	project string
	token   string
	// store is the server's own store, for states no request can reach
	// at a chosen moment.
	store *store.Store
}

// start runs the local server with the worker on fresh tables of the test
// endpoint until the test ends.
func start(t *testing.T, ec2Endpoint string) *client {
	t.Helper()
	endpoint := testenv.Endpoint(t)
	plans, checkpoints := testenv.Tables(t)
	oplogs := testenv.OperationLogsTable(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			Addr:               "127.0.0.1:0",
			Endpoint:           endpoint,
			EC2Endpoint:        ec2Endpoint,
			PlansTable:         plans,
			CheckpointsTable:   checkpoints,
			OperationLogsTable: oplogs,
			QuotasTable:        testenv.Table(t, tables.Quotas, "quotas"),
			SchedulesTable:     testenv.Table(t, tables.Schedules, "schedules"),
			TasksTable:         testenv.TasksTable(t),
			Log:                slog.New(slog.NewTextHandler(t.Output(), nil)),
			Ready:              func(url string) { ready <- url },
			// Every answer, to this client, curl or the karbor client,
			// must be one the OpenAPI document allows.
			WrapAPI: func(h http.Handler) http.Handler { return openapicheck.Handler(t, openapicheck.API(t), h) },
		})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before serving: %v", err)
	case <-time.After(wait.Timeout):
		cancel()
		t.Fatalf("the local server did not start within %v", wait.Timeout)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	project := strings.ReplaceAll(domain.NewID(), "-", "")
	return &client{t: t, base: base, project: project, token: "alice:" + project + ":member",
		store: store.New(testenv.DynamoDB(t), plans, checkpoints).WithOperationLogs(oplogs)}
}

// do sends a request and decodes the JSON answer.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/v1/"+c.project+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s answered %d with %q, not JSON", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

func (c *client) must(method, path string, body any) map[string]any {
	c.t.Helper()
	code, out := c.do(method, path, body)
	if code != http.StatusOK {
		c.t.Fatalf("%s %s = %d %v, want 200", method, path, code, out)
	}
	return out
}

// createCheckpoint creates a plan on the provider and a checkpoint of it.
func (c *client) createCheckpoint(providerID string, resources []map[string]any, params map[string]any) string {
	c.t.Helper()
	return c.checkpointOf(providerID, c.createPlan(providerID, resources, params))
}

// createPlan creates a plan on the provider and returns its id.
func (c *client) createPlan(providerID string, resources []map[string]any, params map[string]any) string {
	c.t.Helper()
	plan := c.must("POST", "/plans", map[string]any{"plan": map[string]any{
		"name": "My application", "provider_id": providerID, "resources": resources, "parameters": params,
	}})
	planID, _ := dig(plan, "plan", "id").(string)
	return planID
}

// checkpointOf creates a checkpoint of a plan, protecting at first.
func (c *client) checkpointOf(providerID, planID string) string {
	c.t.Helper()
	cp := c.must("POST", "/providers/"+providerID+"/checkpoints", map[string]any{"checkpoint": map[string]any{"plan_id": planID}})
	if status := dig(cp, "checkpoint", "status"); status != "protecting" || dig(cp, "checkpoint", "resource_graph") != nil {
		c.t.Fatalf("created checkpoint %v, want protecting with no graph", cp)
	}
	id, _ := dig(cp, "checkpoint", "id").(string)
	return id
}

// waitStatus polls the checkpoint until the worker has left it in the
// status, and returns it. The worker writes the status and the
// resource_graph in one UpdateItem, atomic at DynamoDB; moto_server applies
// its SET actions one by one, so a read racing the write may see the new
// status without the graph yet: both are waited for.
func (c *client) waitStatus(providerID, id, want string) map[string]any {
	c.t.Helper()
	var cp map[string]any
	wait.Until(c.t, fmt.Sprintf("checkpoint %s to be %s, with its resource graph", id, want), func() error {
		out := c.must("GET", "/providers/"+providerID+"/checkpoints/"+id, nil)
		cp, _ = out["checkpoint"].(map[string]any)
		if cp["status"] != want || cp["resource_graph"] == nil {
			return fmt.Errorf("it is %v (graph %v)", cp["status"], cp["resource_graph"])
		}
		return nil
	})
	return cp
}

// vanished is a plan of the AWS provider whose volume, owned by the
// project when the plan was made, has since been deleted.
type vanished struct{ plan, volume string }

func (c *client) vanishedVolumePlan() vanished {
	c.t.Helper()
	e := invenv.New(c.t)
	volume := e.Volume(invenv.Owner(c.project))
	plan := c.createPlan(provider.AWSID, []map[string]any{{"id": volume, "type": provider.TypeEC2Volume, "name": "Gone"}}, map[string]any{})
	if _, err := e.EC2.DeleteVolume(c.t.Context(), &ec2.DeleteVolumeInput{VolumeId: aws.String(volume)}); err != nil {
		c.t.Fatal(err)
	}
	return vanished{plan, volume}
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// nodes decodes the API's resource_graph string: resource id → the node's
// fourth element.
func nodes(t *testing.T, cp map[string]any) map[string]map[string]any {
	t.Helper()
	text, ok := cp["resource_graph"].(string)
	if !ok {
		t.Fatalf("resource_graph is %v, want a JSON string", cp["resource_graph"])
	}
	var g []json.RawMessage
	if err := json.Unmarshal([]byte(text), &g); err != nil || len(g) != 2 {
		t.Fatalf("resource_graph %q is not [nodes, edges]", text)
	}
	var ns map[string][4]json.RawMessage
	if err := json.Unmarshal(g[0], &ns); err != nil {
		t.Fatalf("resource_graph nodes: %v", err)
	}
	out := map[string]map[string]any{}
	for _, n := range ns {
		var id string
		var info map[string]any
		if json.Unmarshal(n[1], &id) != nil || json.Unmarshal(n[3], &info) != nil {
			t.Fatalf("resource_graph node %s", n)
		}
		out[id] = info
	}
	return out
}

func TestCheckpointLifeOnNoOpProvider(t *testing.T) {
	c := start(t, "")
	resources := []map[string]any{
		{"id": domain.NewID(), "type": "OS::Cinder::Volume", "name": "Data volume", "extra_info": map[string]any{"availability_zone": "az1"}},
		{"id": domain.NewID(), "type": "OS::Nova::Server", "name": "Web server"},
	}
	id := c.createCheckpoint(provider.NoOpID, resources, map[string]any{})

	cp := c.waitStatus(provider.NoOpID, id, "available")
	g := nodes(t, cp)
	for _, r := range resources {
		if info := g[r["id"].(string)]; info["status"] != "available" {
			t.Errorf("node %s = %v, want available", r["id"], info)
		}
	}

	// A reset is no work for the worker; the status stays as set.
	c.must("PUT", "/providers/"+provider.NoOpID+"/checkpoints/"+id, map[string]any{"os-resetState": map[string]any{"state": "error"}})
	c.must("PUT", "/providers/"+provider.NoOpID+"/checkpoints/"+id, map[string]any{"os-resetState": map[string]any{"state": "available"}})

	if out := c.must("DELETE", "/providers/"+provider.NoOpID+"/checkpoints/"+id, nil); len(out) != 0 {
		t.Errorf("DELETE answered %v, want {}", out)
	}
	done := c.waitStatus(provider.NoOpID, id, "deleted")
	for rid, info := range nodes(t, done) {
		if info["status"] != "deleted" {
			t.Errorf("node %s = %v, want deleted", rid, info)
		}
	}
	// A second delete is answered as done, and changes nothing.
	if code, out := c.do("DELETE", "/providers/"+provider.NoOpID+"/checkpoints/"+id, nil); code != http.StatusOK || len(out) != 0 {
		t.Errorf("DELETE of a deleted checkpoint = %d %v, want 200 {}", code, out)
	}
	if st := dig(c.must("GET", "/providers/"+provider.NoOpID+"/checkpoints/"+id, nil), "checkpoint", "status"); st != "deleted" {
		t.Errorf("status after a second delete = %v, want deleted", st)
	}
	list := c.must("GET", "/providers/"+provider.NoOpID+"/checkpoints", nil)
	if cps, _ := list["checkpoints"].([]any); len(cps) != 0 {
		t.Errorf("the listing shows %v, want no deleted checkpoint", cps)
	}
}

func TestCheckpointLifeOnAWSProvider(t *testing.T) {
	endpoint := testenv.Endpoint(t)
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DynamoDB(t)
	ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	c := start(t, endpoint)
	// The project's own: plans refuse anything else.
	e := invenv.New(t)
	table := e.Table("orders-"+domain.NewID(), invenv.Owner(c.project))
	volume := e.Volume(invenv.Owner(c.project))

	id := c.createCheckpoint(provider.AWSID, []map[string]any{
		{"id": table, "type": provider.TypeDynamoDBTable, "name": "Orders"},
		{"id": volume, "type": provider.TypeEC2Volume, "name": "Data volume"},
	}, map[string]any{provider.TypeEC2Volume: map[string]any{"description": "end to end"}})

	cp := c.waitStatus(provider.AWSID, id, "available")
	g := nodes(t, cp)
	arn, _ := g[table]["backup_arn"].(string)
	if _, err := db.DescribeBackup(t.Context(), &dynamodb.DescribeBackupInput{BackupArn: aws.String(arn)}); err != nil {
		t.Errorf("the graph's backup %q: %v", arn, err)
	}
	snapID, _ := g[volume]["snapshot_id"].(string)
	snaps, err := ec.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}})
	if err != nil || len(snaps.Snapshots) != 1 || aws.ToString(snaps.Snapshots[0].Description) != "end to end" {
		t.Errorf("the graph's snapshot %q: %v, %v", snapID, snaps, err)
	}

	c.must("DELETE", "/providers/"+provider.AWSID+"/checkpoints/"+id, nil)
	c.waitStatus(provider.AWSID, id, "deleted")
	var ae smithy.APIError
	if _, err := db.DescribeBackup(t.Context(), &dynamodb.DescribeBackupInput{BackupArn: aws.String(arn)}); !errors.As(err, &ae) || ae.ErrorCode() != "BackupNotFoundException" {
		t.Errorf("the backup after delete: %v, want BackupNotFoundException", err)
	}
	if _, err := ec.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSnapshot.NotFound" {
		t.Errorf("the snapshot after delete: %v, want InvalidSnapshot.NotFound", err)
	}
}

// A resource the worker refuses shows through the API: status error, the
// reason in the resource's node (a missing volume is not the project's).
func TestPluginFailureVisibleThroughAPI(t *testing.T) {
	c := start(t, testenv.Endpoint(t))
	gone := c.vanishedVolumePlan()
	id := c.checkpointOf(provider.AWSID, gone.plan)
	cp := c.waitStatus(provider.AWSID, id, "error")
	info := nodes(t, cp)[gone.volume]
	if why, _ := info["error"].(string); info["status"] != "error" || !strings.Contains(why, "is not owned by the project") {
		t.Errorf("node %v, want status error with the reason", info)
	}
	c.must("DELETE", "/providers/"+provider.AWSID+"/checkpoints/"+id, nil)
	c.waitStatus(provider.AWSID, id, "deleted")
}

// TestUncleanPathIsAFault: the local server answers a path with "//" as
// the API does (404 in the fault shape, with a request id), not with a
// redirect to the clean path.
func TestUncleanPathIsAFault(t *testing.T) {
	c := start(t, "")
	status, body := c.do(http.MethodGet, "//plans", nil)
	if f, _ := body["itemNotFound"].(map[string]any); status != http.StatusNotFound || f == nil {
		t.Errorf("GET /v1/<project>//plans: %d %v, want the 404 fault", status, body)
	}
}
