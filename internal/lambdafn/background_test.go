package lambdafn_test

// The background functions as deployed: the stream worker and the sweeper,
// each built by its Makefile target as `sam build` builds it, driven by the
// Runtime Interface Emulator with the unmodified sample events of events/
// (what `sam local invoke WorkerFunction -e events/worker-protect.json`
// sends), against fresh tables on the test endpoint. The worker is also fed a
// record read from the real stream of its table, on the AWS provider, which
// proves the built binary calls DynamoDB and EC2 where DYNAMODB_ENDPOINT and
// EC2_ENDPOINT say.
//
// The worker's sample events are records of the table's real stream
// (moto_server's), of a checkpoint written by the store and protected by the
// worker, with only what differs from run to run fixed (ids, sequence
// numbers, times): TestWorkerSampleEvents checks that they still are, and
// rewrites them with -update-events:
//
//	go test ./internal/lambdafn/ -run TestWorkerSampleEvents -update-events

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/local/tables"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/streamread"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
	"karbor/internal/worker"
)

var updateEvents = flag.Bool("update-events", false, "rewrite events/worker-*.json from records of the real stream")

// sampleCheckpoint is the checkpoint of the worker's sample events: the
// sample ids, the seeded plan's snapshot, created at created.
func sampleCheckpoint(status domain.Status) *domain.Checkpoint {
	return &domain.Checkpoint{
		ID:         checkpointID,
		ProjectID:  projectID,
		ProviderID: providerID,
		Status:     status,
		Plan: domain.ProtectionPlan{
			ID:         planID,
			Name:       "My 3 tier application",
			ProviderID: providerID,
			Resources:  seedResources(),
			Parameters: map[string]json.RawMessage{"OS::Nova::Server": json.RawMessage(`{"backup_name":"os"}`)},
		},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`),
		CreatedAt: created,
		UpdatedAt: created,
	}
}

// background is a fresh checkpoints table (and operation logs table) with
// a store over it. The background functions touch these two tables only.
type background struct {
	checkpoints string // table name
	oplogs      string // table name
	quotas      string // table name
	endpoint    string
	store       *store.Store
}

func newBackground(t *testing.T) *background {
	t.Helper()
	rie.SkipIfShort(t)
	plans, checkpoints := testenv.Tables(t)
	oplogs := testenv.OperationLogsTable(t)
	quotas := testenv.Table(t, tables.Quotas, "quotas")
	return &background{checkpoints: checkpoints, oplogs: oplogs, quotas: quotas, endpoint: testenv.Endpoint(t),
		store: store.New(testenv.DynamoDB(t), plans, checkpoints).WithOperationLogs(oplogs).WithQuotas(quotas)}
}

// start builds the background function and runs it under the emulator over
// this table and endpoint, with env on top.
func (b *background) start(t *testing.T, logicalID string, env map[string]string) *rie.Emulator {
	t.Helper()
	vars := map[string]string{
		"CHECKPOINTS_TABLE":    b.checkpoints,
		"OPERATION_LOGS_TABLE": b.oplogs,
		"QUOTAS_TABLE":         b.quotas,
		"DYNAMODB_ENDPOINT":    b.endpoint,
		"EC2_ENDPOINT":         b.endpoint,
		// moto cannot tag snapshots in CreateImage.
		"EC2_TAG_IMAGE_SNAPSHOTS_AFTER": "1",
	}
	for k, v := range env {
		vars[k] = v
	}
	return rie.Start(t, rie.Build(t, logicalID), vars)
}

func (b *background) create(t *testing.T, c *domain.Checkpoint) {
	t.Helper()
	if err := b.store.CreateCheckpoint(context.Background(), c); err != nil {
		t.Fatalf("seed checkpoint %s: %v", c.ID, err)
	}
}

func (b *background) get(t *testing.T, c *domain.Checkpoint) *domain.Checkpoint {
	t.Helper()
	got, err := b.store.GetCheckpoint(context.Background(), c.ProjectID, c.ID)
	if err != nil {
		t.Fatalf("read checkpoint %s back: %v", c.ID, err)
	}
	return got
}

// setStatus makes a status change as the API's delete does.
func (b *background) setStatus(t *testing.T, c *domain.Checkpoint, from, to domain.Status, at time.Time) {
	t.Helper()
	_, err := b.store.SetStatus(context.Background(), domain.Transition{
		ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID, From: []domain.Status{from}, To: to, At: at,
	})
	if err != nil {
		t.Fatalf("SetStatus(%s → %s): %v", from, to, err)
	}
}

func sampleEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rie.RepoRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invokeJSON invokes the function and decodes its answer strictly into v;
// a function error fails the test.
func invokeJSON(t *testing.T, emu *rie.Emulator, payload []byte, v any) {
	t.Helper()
	body := emu.Invoke(t, payload)
	if msg, typ, ok := functionError(body); ok {
		t.Fatalf("the function failed (%s): %s\naws-lambda-rie output:\n%s", typ, msg, emu.Output())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
}

// functionError reads a function error answer: {"errorMessage", "errorType"}.
func functionError(body []byte) (message, typ string, ok bool) {
	var fnErr struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	if json.Unmarshal(body, &fnErr) != nil || fnErr.ErrorMessage == nil {
		return "", "", false
	}
	return *fnErr.ErrorMessage, fnErr.ErrorType, true
}

// handle invokes the worker with a stream event and returns the sequence
// numbers it reports as failed.
func handle(t *testing.T, emu *rie.Emulator, event []byte) []string {
	t.Helper()
	var resp events.DynamoDBEventResponse
	invokeJSON(t, emu, event, &resp)
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

// graphInfo decodes a resource_graph, [{"0x0": [type, id, name, info]}, []],
// into each resource's info by id.
func graphInfo(t *testing.T, c *domain.Checkpoint) map[string]map[string]any {
	t.Helper()
	if c.ResourceGraph == nil {
		t.Fatalf("checkpoint %s (%s) has no resource_graph", c.ID, c.Status)
	}
	var top []json.RawMessage
	if err := json.Unmarshal([]byte(*c.ResourceGraph), &top); err != nil || len(top) != 2 {
		t.Fatalf("resource_graph %s is not [nodes, edges]: %v", *c.ResourceGraph, err)
	}
	var nodes map[string][4]json.RawMessage
	if err := json.Unmarshal(top[0], &nodes); err != nil {
		t.Fatalf("resource_graph nodes %s: %v", top[0], err)
	}
	out := map[string]map[string]any{}
	for key, n := range nodes {
		var id string
		var info map[string]any
		if json.Unmarshal(n[1], &id) != nil || json.Unmarshal(n[3], &info) != nil {
			t.Fatalf("resource_graph node %s = %s", key, n)
		}
		out[id] = info
	}
	if len(out) != len(c.Plan.Resources) {
		t.Errorf("resource_graph has %d nodes, the plan %d resources: %s", len(out), len(c.Plan.Resources), *c.ResourceGraph)
	}
	return out
}

// checkGraphStatus checks that every resource of the checkpoint's plan has
// this status in its graph.
func checkGraphStatus(t *testing.T, c *domain.Checkpoint, want string) map[string]map[string]any {
	t.Helper()
	info := graphInfo(t, c)
	for _, r := range c.Plan.Resources {
		if got := info[r.ID]["status"]; got != want {
			t.Errorf("resource %s (%s) is %v in the graph, want %s: %s", r.ID, r.Type, got, want, *c.ResourceGraph)
		}
	}
	return info
}

func TestWorkerFunction(t *testing.T) {
	b := newBackground(t)
	seeded := sampleCheckpoint(domain.StatusProtecting)
	b.create(t, seeded)
	emu := b.start(t, "WorkerFunction", nil)
	protect := sampleEvent(t, "worker-protect")

	if failed := handle(t, emu, protect); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none", failed)
	}
	protected := b.get(t, seeded)
	if protected.Status != domain.StatusAvailable {
		t.Fatalf("status %s after worker-protect, want available", protected.Status)
	}
	checkGraphStatus(t, protected, "available")

	// Redelivered: done already, nothing to do, nothing changes.
	if failed := handle(t, emu, protect); len(failed) != 0 {
		t.Fatalf("redelivery: batchItemFailures %q, want none", failed)
	}
	if again := b.get(t, seeded); !reflect.DeepEqual(again, protected) {
		t.Errorf("redelivery changed the checkpoint:\n%+v\nwas\n%+v", again, protected)
	}

	// The API's delete, then the record it makes.
	b.setStatus(t, seeded, domain.StatusAvailable, domain.StatusDeleting, time.Time{})
	if failed := handle(t, emu, sampleEvent(t, "worker-delete")); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none", failed)
	}
	deleted := b.get(t, seeded)
	if deleted.Status != domain.StatusDeleted || deleted.ExpiresAt <= time.Now().Unix() {
		t.Errorf("status %s, expires_at %d after worker-delete; want deleted, expiring later", deleted.Status, deleted.ExpiresAt)
	}
	checkGraphStatus(t, deleted, "deleted")
}

// A record the worker cannot finish (the table is not there) is reported as
// the batch's failure, by its sequence number, for Lambda to retry: not a
// function error, which would retry the whole batch.
func TestWorkerFunctionReportsRecordFailure(t *testing.T) {
	b := newBackground(t)
	emu := b.start(t, "WorkerFunction", map[string]string{"CHECKPOINTS_TABLE": "karbor-no-such-table"})
	protect := sampleEvent(t, "worker-protect")
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(protect, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("events/worker-protect.json: %d records, %v; want one", len(ev.Records), err)
	}
	want := []string{ev.Records[0].Change.SequenceNumber}
	if failed := handle(t, emu, protect); !reflect.DeepEqual(failed, want) {
		t.Errorf("batchItemFailures %q, want %q", failed, want)
	}
}

// The built worker on the AWS provider: a record of the real stream, a
// moto table and volume; the backup and the snapshot are made where
// DYNAMODB_ENDPOINT and EC2_ENDPOINT point, and deleted again.
func TestWorkerFunctionAWSProvider(t *testing.T) {
	b := newBackground(t)
	ctx := context.Background()
	cfg, err := awscfg.Load(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	ddb := testenv.DynamoDB(t)
	ec2c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(b.endpoint) })

	table := "orders-" + domain.NewID()
	// The worker protects only what the checkpoint's project owns (tag mode,
	// the template's default).
	project := strings.ReplaceAll(domain.NewID(), "-", "")
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		Tags:                 []ddbtypes.Tag{{Key: aws.String(ownership.DefaultTagKey), Value: aws.String(project)}},
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("create table: %v", err)
	}
	vol, err := ec2c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume,
			Tags: []ec2types.Tag{{Key: aws.String(ownership.DefaultTagKey), Value: aws.String(project)}}}}})
	if err != nil {
		t.Fatalf("create volume: %v", err)
	}
	volumeID := aws.ToString(vol.VolumeId)

	resources := []domain.Resource{
		{ID: table, Type: provider.TypeDynamoDBTable, Name: "Orders"},
		{ID: volumeID, Type: provider.TypeEC2Volume, Name: "Data volume"},
	}
	now := time.Now().UTC().Truncate(time.Second)
	c := &domain.Checkpoint{
		ID:         domain.NewID(),
		ProjectID:  project,
		ProviderID: provider.AWSID,
		Status:     domain.StatusProtecting,
		Plan:       domain.ProtectionPlan{ID: domain.NewID(), Name: "Orders", ProviderID: provider.AWSID, Resources: resources},
		ExtraInfo:  json.RawMessage(`{}`),
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	stream := streamread.New(t, b.checkpoints)
	b.create(t, c)
	emu := b.start(t, "WorkerFunction", nil)

	insert := stream.Wait(t, c.ID, "INSERT", domain.StatusProtecting)
	if failed := handle(t, emu, eventJSON(t, insert)); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none", failed)
	}
	got := b.get(t, c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available: %v", got.Status, aws.ToString(got.ResourceGraph))
	}
	info := checkGraphStatus(t, got, "available")

	backups, err := ddb.ListBackups(ctx, &dynamodb.ListBackupsInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var backupARNs []string
	for _, bk := range backups.BackupSummaries {
		if bk.BackupStatus != ddbtypes.BackupStatusDeleted {
			backupARNs = append(backupARNs, aws.ToString(bk.BackupArn))
		}
	}
	if len(backupARNs) != 1 || info[table]["backup_arn"] != backupARNs[0] {
		t.Errorf("backups of %s: %q; graph says %v; want exactly the one the graph names", table, backupARNs, info[table]["backup_arn"])
	}
	snapshots := func() []string {
		t.Helper()
		out, err := ec2c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{c.ID}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range out.Snapshots {
			if aws.ToString(s.VolumeId) == volumeID {
				ids = append(ids, aws.ToString(s.SnapshotId))
			}
		}
		return ids
	}
	if ids := snapshots(); len(ids) != 1 || info[volumeID]["snapshot_id"] != ids[0] {
		t.Errorf("snapshots of %s tagged with the checkpoint: %q; graph says %v; want exactly the one the graph names", volumeID, ids, info[volumeID]["snapshot_id"])
	}

	b.setStatus(t, c, domain.StatusAvailable, domain.StatusDeleting, time.Time{})
	modify := stream.Wait(t, c.ID, "MODIFY", domain.StatusDeleting)
	if failed := handle(t, emu, eventJSON(t, modify)); len(failed) != 0 {
		t.Fatalf("batchItemFailures %q, want none", failed)
	}
	if got := b.get(t, c); got.Status != domain.StatusDeleted {
		t.Errorf("status %s after the delete record, want deleted: %v", got.Status, aws.ToString(got.ResourceGraph))
	}
	backups, err = ddb.ListBackups(ctx, &dynamodb.ListBackupsInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, bk := range backups.BackupSummaries {
		if bk.BackupStatus != ddbtypes.BackupStatusDeleted {
			t.Errorf("backup %s is still there after the delete", aws.ToString(bk.BackupArn))
		}
	}
	if ids := snapshots(); len(ids) != 0 {
		t.Errorf("snapshots %q are still there after the delete", ids)
	}
}

func eventJSON(t *testing.T, records ...events.DynamoDBEventRecord) []byte {
	t.Helper()
	b, err := json.Marshal(events.DynamoDBEvent{Records: records})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSweeperFunction(t *testing.T) {
	b := newBackground(t)
	now := time.Now().UTC().Truncate(time.Second)
	stuck := sampleCheckpoint(domain.StatusProtecting)
	stuck.CreatedAt, stuck.UpdatedAt = now.Add(-3*time.Hour), now.Add(-3*time.Hour)
	fresh := sampleCheckpoint(domain.StatusProtecting)
	fresh.ID = domain.NewID()
	fresh.CreatedAt, fresh.UpdatedAt = now, now
	b.create(t, stuck)
	b.create(t, fresh)
	emu := b.start(t, "SweeperFunction", map[string]string{"STUCK_AFTER": "1h"})
	schedule := sampleEvent(t, "sweeper-schedule")

	var res worker.SweepResult
	invokeJSON(t, emu, schedule, &res)
	if res != (worker.SweepResult{Protecting: 1}) {
		t.Errorf("sweep ended %+v, want 1 protecting", res)
	}
	got := b.get(t, stuck)
	if got.Status != domain.StatusError {
		t.Errorf("the stuck checkpoint is %s, want error", got.Status)
	}
	for id, info := range checkGraphStatus(t, got, "error") {
		if reason, _ := info["error"].(string); !strings.Contains(reason, "did not finish within 1h") {
			t.Errorf("resource %s: error %q, want the sweeper's reason", id, reason)
		}
	}
	if got := b.get(t, fresh); got.Status != domain.StatusProtecting || got.ResourceGraph != nil {
		t.Errorf("the fresh checkpoint is %s with graph %q, want still protecting without one", got.Status, aws.ToString(got.ResourceGraph))
	}

	// The next run finds nothing more.
	res = worker.SweepResult{}
	invokeJSON(t, emu, schedule, &res)
	if res != (worker.SweepResult{}) {
		t.Errorf("second sweep ended %+v, want nothing", res)
	}
}

// A configuration the sweeper cannot read fails its init: the invoke is an
// error, never a sweep with a default limit. (The emulator answers a runtime
// that exited during init with 502 and no body, which Emulator.Invoke
// refuses, hence the plain request; Lambda answers a Runtime.ExitError
// function error.)
func TestSweeperFunctionBadConfig(t *testing.T) {
	b := newBackground(t)
	emu := b.start(t, "SweeperFunction", map[string]string{"STUCK_AFTER": "garbage"})
	resp, err := http.Post(emu.URL+"/2015-03-31/functions/function/invocations", "application/json", bytes.NewReader(sampleEvent(t, "sweeper-schedule")))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, fnErr := functionError(body); resp.StatusCode == http.StatusOK && !fnErr {
		t.Fatalf("the invoke succeeded (%s): %s; want an init failure", resp.Status, body)
	}
	t.Logf("the emulator answered %s: %q", resp.Status, body)
	// The emulator may answer before it has written its last lines: wait
	// for them.
	wants := []string{`STUCK_AFTER=\"garbage\" is not a positive duration`, "INIT RTDONE(status: error)"}
	hasAll := func(out string) bool {
		for _, w := range wants {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	}
	wait.Until(t, "the emulator's last lines", func() error {
		if out := emu.Output(); !hasAll(out) {
			return fmt.Errorf("its output lacks one of %q:\n%s", wants, out)
		}
		return nil
	})
}

// What the worker's sample events fix of a real record: what differs from
// run to run, the stream's ARN, which names the table as deployed, and the
// record format's version.
const sampleStreamARN = "arn:aws:dynamodb:us-east-1:123456789012:table/karbor-checkpoints/stream/2026-11-26T00:00:00.000"

var (
	protectedAt = created.Add(2 * time.Second)                // the worker's outcome
	deletingAt  = created.Add(12*time.Minute + 7*time.Second) // the API's delete
)

type sampleFix struct {
	eventID, sequenceNumber string
	at                      time.Time
	// changeIDs fix the images' change_id (SetStatus draws one per write):
	// old, new.
	oldChangeID, newChangeID string
}

func fixRecord(t *testing.T, r events.DynamoDBEventRecord, f sampleFix) events.DynamoDBEventRecord {
	t.Helper()
	r.EventID = f.eventID
	r.EventSourceArn = sampleStreamARN
	// DynamoDB Streams' records are version 1.1; moto_server says 1.0.
	r.EventVersion = "1.1"
	r.Change.SequenceNumber = f.sequenceNumber
	r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: f.at}
	for _, im := range []struct {
		image    map[string]events.DynamoDBAttributeValue
		changeID string
	}{{r.Change.OldImage, f.oldChangeID}, {r.Change.NewImage, f.newChangeID}} {
		if im.image == nil {
			continue
		}
		_, has := im.image["change_id"]
		if has != (im.changeID != "") {
			t.Fatalf("record %s: change_id present %t, expected %t", r.EventName, has, im.changeID != "")
		}
		if has {
			im.image["change_id"] = events.NewStringAttribute(im.changeID)
		}
	}
	// The worker's outcome is written at its own time.
	if r.Change.OldImage != nil {
		r.Change.OldImage["updated_at"] = events.NewStringAttribute(domain.Timestamp(protectedAt))
	}
	// moto_server's SizeBytes measures its own JSON of the record, time
	// stamp included, so it varies from run to run; DynamoDB counts the
	// keys' and images' attribute names and values.
	r.Change.SizeBytes = 0
	for _, image := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, r.Change.OldImage, r.Change.NewImage} {
		for name, v := range image {
			if v.DataType() != events.DataTypeString {
				t.Fatalf("record %s: attribute %s is not a string; size it too", r.EventName, name)
			}
			r.Change.SizeBytes += int64(len(name) + len(v.String()))
		}
	}
	return r
}

// TestWorkerSampleEvents checks that events/worker-*.json are records of the
// real stream of a checkpoint as the store writes it: one inserted in
// protecting (what the API's create writes), then deleted (the API's delete)
// once the worker had protected it.
func TestWorkerSampleEvents(t *testing.T) {
	b := newBackground(t)
	stream := streamread.New(t, b.checkpoints)
	c := sampleCheckpoint(domain.StatusProtecting)
	b.create(t, c)
	insert := stream.Wait(t, c.ID, "INSERT", domain.StatusProtecting)

	w := &worker.Worker{Domain: &domain.Service{Store: b.store, Providers: provider.Lookup}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, err := w.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{insert}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if got := b.get(t, c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s after the worker, want available", got.Status)
	}
	b.setStatus(t, c, domain.StatusAvailable, domain.StatusDeleting, deletingAt)
	modify := stream.Wait(t, c.ID, "MODIFY", domain.StatusDeleting)

	samples := map[string]events.DynamoDBEventRecord{
		"worker-protect": fixRecord(t, insert, sampleFix{
			eventID: "1f3b2c0a9d8e47f6a5b4c3d2e1f0a9b8", sequenceNumber: "300000000004735720347", at: created,
		}),
		"worker-delete": fixRecord(t, modify, sampleFix{
			eventID: "7c6d5e4f3a2b41c0d9e8f7a6b5c4d3e2", sequenceNumber: "300000000004735721055", at: deletingAt,
			oldChangeID: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", newChangeID: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
		}),
	}
	for name, r := range samples {
		t.Run(name, func(t *testing.T) {
			want, err := json.MarshalIndent(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{r}}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			path := filepath.Join(rie.RepoRoot(t), "events", name+".json")
			if *updateEvents {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			have, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (write it with -update-events)", err)
			}
			var haveDoc, wantDoc any
			if err := json.Unmarshal(have, &haveDoc); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := json.Unmarshal(want, &wantDoc); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(haveDoc, wantDoc) {
				t.Errorf("%s is no longer the stream's record of the sample checkpoint; the stream now gives\n%s\n(rewrite it with -update-events)", path, want)
			}
		})
	}
}
