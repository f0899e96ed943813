package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// worst is the character that takes the most bytes as stored: a control
// character is escaped to 6 bytes (\u0001) in JSON text, as are U+2028 and
// U+2029; 4-byte UTF-8 and "<" (not HTML-escaped) take less.
const worst = "\x01"

// largest returns the largest n in [0, hi] for which ok(n) holds, ok
// being monotone (true up to some n, false after).
func largest(hi int, ok func(n int) bool) int {
	lo := 0
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// itemSize reads the checkpoint's item as DynamoDB holds it and returns
// its size as DynamoDB counts it.
func (e *env) itemSize(c *domain.Checkpoint) int {
	e.t.Helper()
	out, err := e.ddb.GetItem(e.t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(e.checkpoints), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{
			"id": &ddbtypes.AttributeValueMemberS{Value: c.ID}, "project_id": &ddbtypes.AttributeValueMemberS{Value: c.ProjectID},
		},
	})
	if err != nil || out.Item == nil {
		e.t.Fatalf("GetItem %s: %v", c.ID, err)
	}
	return store.ItemSize(out.Item)
}

// TestLargestCheckpointFits: the largest plan the domain accepts (200
// resources with names as long as the plan limit allows, or names of 255
// characters and as many resources as it allows; of the character that
// takes the most bytes stored; the longest plan name) and the largest
// extra_info, protected on the AWS provider with every resource failing
// with the longest error text, then failing to delete with the longest
// text again, stays under DynamoDB's 400 KB at every write, and ends in
// error / error-deleting. Bytes are put in resource names rather than
// parameters or a resource's extra_info, because the graph repeats ids and
// names and nothing else: that is the worst case. The ids are real volumes
// (on moto), as plans name only existing resources the project owns, and
// of the AWS form, which bounds them to 21 characters. What the API accepts
// is a subset (its 64 KiB body limit also applies).
func TestLargestCheckpointFits(t *testing.T) {
	t.Parallel()
	// 200 resources, names as long as the plan limit allows.
	t.Run("200 resources", func(t *testing.T) { largestCheckpoint(t, domain.MaxResources, -1) })
	// Names of 255 characters, as many resources as the limit allows.
	t.Run("255-character names", func(t *testing.T) { largestCheckpoint(t, -1, domain.MaxNameLength-3) })
}

// largestCheckpoint runs TestLargestCheckpointFits with count volumes
// whose names are 3 digits and n worst characters; a -1 is made as large
// as the plan limit allows.
func largestCheckpoint(t *testing.T, count, n int) {
	e := newEnv(t)
	ctx := t.Context()
	// The plan's volumes, real and owned (account mode): the domain checks
	// plans against the inventory, the worker right before protection.
	volumes := make([]string, domain.MaxResources+1)
	for i := range volumes {
		v, err := e.clients.EC2().(*ec2.Client).CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		volumes[i] = aws.ToString(v.VolumeId)
	}
	inv := &inventory.Inventory{DynamoDB: e.clients.DynamoDB(), EC2: e.clients.EC2(), Ownership: accountMode}
	dom := &domain.Service{Store: store.New(&dynamoSizeRule{API: e.db, table: e.checkpoints}, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup, Inventory: inv}
	project := newProjectID()
	input := func(count, n int) domain.PlanInput {
		rs := make([]domain.Resource, count)
		for i := range rs {
			// Unique names: 3 digits, then n worst characters.
			rs[i] = domain.Resource{ID: volumes[i], Type: provider.TypeEC2Volume, Name: fmt.Sprintf("%03d", i) + strings.Repeat(worst, n)}
		}
		return domain.PlanInput{Name: strings.Repeat(worst, domain.MaxNameLength), ProviderID: provider.AWSID,
			Parameters: map[string]json.RawMessage{}, Resources: rs}
	}
	var plan *domain.Plan
	accepts := func(count, n int) bool {
		p, err := dom.CreatePlan(ctx, project, input(count, n))
		if err == nil {
			plan = p
		}
		return err == nil
	}
	over := func() (int, int) { return count, n + 1 }
	if n < 0 {
		n = largest(domain.MaxNameLength-3, func(n int) bool { return accepts(count, n) })
	} else {
		count = largest(domain.MaxResources, func(c int) bool { return c > 0 && accepts(c, n) })
		over = func() (int, int) { return count + 1, n }
	}
	if plan == nil || len(plan.Resources) != count || count == 0 {
		t.Fatalf("no plan accepted (count %d, n %d)", count, n)
	}
	// plan is then one of exactly (count, n): made again to be sure.
	if !accepts(count, n) {
		t.Fatalf("plan of %d resources, n %d refused", count, n)
	}
	if _, err := dom.CreatePlan(ctx, project, input(over())); err == nil || !strings.Contains(err.Error(), "65536 bytes") {
		t.Errorf("a plan one step over the limit: %v, want a 400 naming 65536 bytes", err)
	}
	info := func(n int) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"k": strings.Repeat(worst, n)})
		return b
	}
	m := largest(64<<10, func(m int) bool { _, err := domain.ExtraInfo(info(m)); return err == nil })
	c, err := dom.CreateCheckpoint(ctx, project, provider.AWSID, plan.ID, info(m))
	if err != nil {
		t.Fatalf("CreateCheckpoint with the largest extra_info: %v", err)
	}
	t.Logf("plan: %d resources, names of 3+%d characters; extra_info %d bytes; checkpoint item at create: %d bytes", count, n, len(c.ExtraInfo), e.itemSize(c))

	// Every plugin call fails with a long text of the worst character.
	clients := wrap(e.clients)
	clients.ec2.describeErr = &smithy.OperationError{ServiceID: "EC2", OperationName: "DescribeSnapshots", Err: &smithy.GenericAPIError{
		Code: "InvalidParameterValue", Message: strings.Repeat(worst, 4096),
	}}
	w := &worker.Worker{Domain: dom, Clients: clients, Log: e.log, Ownership: accountMode}

	got := e.protect(w, c)
	protected := e.itemSize(c)
	if got.Status != domain.StatusError || protected > domain.MaxItemBytes {
		t.Fatalf("after protection: status %s, item %d bytes; want error within %d", got.Status, protected, domain.MaxItemBytes)
	}
	for id, node := range graph(t, got) {
		if infoString(node.Info, "error") == "" || infoString(node.Info, "error") == "the checkpoint's outcome is too large to store (DynamoDB's 400 KB item limit); it was not recorded" {
			t.Fatalf("node %q: %v, want the plugin's error recorded", id, node.Info)
		}
	}
	done := e.remove(w, c)
	deleted := e.itemSize(c)
	if done.Status != domain.StatusErrorDeleting || deleted > domain.MaxItemBytes {
		t.Fatalf("after deletion: status %s, item %d bytes; want error-deleting within %d", done.Status, deleted, domain.MaxItemBytes)
	}
	for id, node := range graph(t, done) {
		b, _ := domain.MarshalJSON(node.Info)
		if infoString(node.Info, "delete_error") == "" || len(b) > domain.MaxNodeInfoBytes {
			t.Fatalf("node %q: info of %d bytes %v, want delete_error recorded within %d bytes", id, len(b), node.Info, domain.MaxNodeInfoBytes)
		}
	}
	t.Logf("checkpoint item: %d bytes after protection, %d after deletion (DynamoDB's limit %d)", protected, deleted, domain.MaxItemBytes)
}

// TestOversizedOutcomeEndsInError: a checkpoint stored before the limits,
// whose graph cannot fit its item, still finishes: DynamoDB's refusal
// (ValidationException "Item size ... exceeded") makes the worker write a
// smaller graph, and the checkpoint ends in error with a reason that fits.
func TestOversizedOutcomeEndsInError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// One resource whose name takes 300,000 bytes: the item (about 300 KB)
	// is stored, but a graph repeating the name would pass 400 KB.
	name := strings.Repeat("n", 300_000)
	c := e.newCheckpoint(provider.NoOpID, []domain.Resource{{ID: "r1", Type: "OS::Nova::Server", Name: name}}, nil)
	w := &worker.Worker{Domain: &domain.Service{Store: store.New(&dynamoSizeRule{API: e.db, table: e.checkpoints}, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup}, Clients: noClients{t}, Log: e.log, Ownership: accountMode}
	got := e.protect(w, c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want error", got.Status)
	}
	var top []json.RawMessage
	var nodes map[string][]json.RawMessage
	if err := json.Unmarshal([]byte(*got.ResourceGraph), &top); err != nil || len(top) != 2 || json.Unmarshal(top[0], &nodes) != nil {
		t.Fatalf("resource_graph %.200s: %v", *got.ResourceGraph, err)
	}
	node := nodes["0x0"]
	var info map[string]string
	if len(node) != 4 || json.Unmarshal(node[3], &info) != nil || info["status"] != "error" || !strings.Contains(info["error"], "too large to store") {
		t.Errorf("node %.300s, want status error with the reason", node)
	}
	if size := e.itemSize(c); size > domain.MaxItemBytes {
		t.Errorf("item of %d bytes", size)
	}
}

// dynamoSizeRule gives the store DynamoDB's item size rule for UpdateItem,
// which moto_server does not keep: moto sums the item with the replaced
// attribute's old value still in it (so a graph replacing a graph counts
// twice), refuses at 405,000 bytes, and applies SET actions one by one, so
// an update it refuses is half applied. DynamoDB counts the item as the
// update leaves it and changes nothing when it refuses. Here an update that
// would leave the item over 400 KB (counted high: every value it carries
// is added) gets DynamoDB's ValidationException and reaches nothing; any
// other first clears resource_graph under the same condition, so that
// moto counts what DynamoDB counts.
var placeholder = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

type dynamoSizeRule struct {
	store.API
	table string
}

func (d *dynamoSizeRule) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	old, err := d.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: in.TableName, Key: in.Key, ConsistentRead: aws.Bool(true)})
	if err != nil || old.Item == nil || aws.ToString(in.TableName) != d.table {
		return d.API.UpdateItem(ctx, in, o...)
	}
	rest := maps.Clone(old.Item)
	delete(rest, "resource_graph")
	size := store.ItemSize(rest) + len("resource_graph")
	for _, v := range in.ExpressionAttributeValues {
		size += store.ItemSize(map[string]ddbtypes.AttributeValue{"": v})
	}
	if size > domain.MaxItemBytes {
		return nil, &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: &smithy.GenericAPIError{
			Code: "ValidationException", Message: "Item size to update has exceeded the maximum allowed size",
		}}
	}
	if _, ok := old.Item["resource_graph"]; ok {
		// Only the placeholders the condition uses: DynamoDB refuses
		// unused ones.
		names := map[string]string{"#clearGraph": "resource_graph"}
		values := map[string]ddbtypes.AttributeValue{}
		for _, p := range placeholder.FindAllString(aws.ToString(in.ConditionExpression), -1) {
			if p[0] == '#' {
				names[p] = in.ExpressionAttributeNames[p]
			} else {
				values[p] = in.ExpressionAttributeValues[p]
			}
		}
		if len(values) == 0 {
			values = nil
		}
		_, err := d.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: in.TableName, Key: in.Key, ConditionExpression: in.ConditionExpression,
			UpdateExpression: aws.String("REMOVE #clearGraph"), ExpressionAttributeNames: names,
			ExpressionAttributeValues: values, ReturnValuesOnConditionCheckFailure: in.ReturnValuesOnConditionCheckFailure,
		}, o...)
		if err != nil {
			return nil, err
		}
	}
	return d.API.UpdateItem(ctx, in, o...)
}

// TestOversizedStuckCheckpointEnds: the sweeper, too, ends a stuck
// checkpoint whose graph DynamoDB refuses for its size, with a smaller one.
func TestOversizedStuckCheckpointEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := strings.Repeat("n", 300_000)
	c := e.newCheckpoint(provider.NoOpID, []domain.Resource{{ID: "r1", Type: "OS::Nova::Server", Name: name}}, nil)
	dom := &domain.Service{Store: store.New(&dynamoSizeRule{API: e.db, table: e.checkpoints}, e.plans, e.checkpoints).WithOperationLogs(e.oplogs),
		Providers: provider.Lookup, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	sweeper := &worker.Sweeper{Domain: dom, Log: e.log, StuckAfter: time.Hour}
	if _, err := sweeper.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := e.get(c)
	if got.Status != domain.StatusError || got.ResourceGraph == nil || !strings.Contains(*got.ResourceGraph, "too large to store") {
		t.Errorf("status %s, graph %s; want error with the reason", got.Status, aws.ToString(got.ResourceGraph)[:min(300, len(aws.ToString(got.ResourceGraph)))])
	}
}
