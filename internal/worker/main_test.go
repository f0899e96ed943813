package worker_test

// The worker and the sweeper against moto_server, which serves DynamoDB,
// DynamoDB Streams and EC2 on one endpoint: the checkpoints table is a fresh
// one made from template.yaml, the records handed to the worker are read
// from that table's real stream, and the plugins back up real (moto) tables
// and snapshot real (moto) volumes.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
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
	"karbor/internal/local/atomicddb"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
	"karbor/internal/store"
	"karbor/internal/testsupport/streamread"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/worker"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// accountMode is the ownership rule of the tests that are not about
// ownership: every resource of the (moto) account is every project's, as
// before the rule; ownership_test.go runs tag mode.
var accountMode = ownership.Config{Mode: ownership.ModeAccount}

// env is one test's world: fresh tables, clients of the moto endpoint, and
// a worker over them.
type env struct {
	t           testing.TB
	ddb         *dynamodb.Client
	db          store.API // the store's: ddb with atomic conditional writes
	ec2         *ec2.Client
	store       *store.Store
	checkpoints string // table name
	plans       string
	oplogs      string // operation logs table
	clients     *worker.AWSClients
	worker      *worker.Worker
	log         *slog.Logger
	stream      *streamread.Reader // the checkpoints table's
}

func newEnv(t testing.TB) *env {
	t.Helper()
	endpoint := testenv.Endpoint(t)
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	plans, checkpoints := testenv.Tables(t)
	e := &env{
		t:           t,
		ddb:         testenv.DynamoDB(t),
		ec2:         ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		checkpoints: checkpoints,
		plans:       plans,
		oplogs:      testenv.OperationLogsTable(t),
		clients:     &worker.AWSClients{Config: cfg, DynamoDBEndpoint: endpoint, EC2Endpoint: endpoint, ImageSnapshotTagsAfter: true},
		log:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		stream:      streamread.New(t, checkpoints),
	}
	// moto checks a write's condition and writes without a lock; the
	// races under test are between the worker's and the sweeper's reads,
	// plugin calls and writes, and one write's atomicity is DynamoDB's to
	// give: writes reach moto one at a time.
	e.db = atomicddb.Wrap(e.ddb)
	e.store = store.New(e.db, plans, checkpoints).WithOperationLogs(e.oplogs)
	e.worker = &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: e.clients, Log: e.log, Ownership: accountMode}
	return e
}

// sourceTable creates a DynamoDB table for a plan to protect.
func (e *env) sourceTable() string {
	e.t.Helper()
	name := "source-" + domain.NewID()
	_, err := e.ddb.CreateTable(e.t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		e.t.Fatalf("create source table: %v", err)
	}
	return name
}

// volume creates an EBS volume for a plan to protect.
func (e *env) volume() string {
	e.t.Helper()
	out, err := e.ec2.CreateVolume(e.t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)})
	if err != nil {
		e.t.Fatalf("create volume: %v", err)
	}
	return aws.ToString(out.VolumeId)
}

func newProjectID() string { return strings.ReplaceAll(domain.NewID(), "-", "") }

// newCheckpoint writes a plan with these resources and parameters, and a
// checkpoint of it in protecting, as the API's create does.
func (e *env) newCheckpoint(providerID string, resources []domain.Resource, params map[string]json.RawMessage) *domain.Checkpoint {
	e.t.Helper()
	return e.newCheckpointAt(providerID, resources, params, time.Now())
}

func (e *env) newCheckpointAt(providerID string, resources []domain.Resource, params map[string]json.RawMessage, at time.Time) *domain.Checkpoint {
	e.t.Helper()
	ctx := e.t.Context()
	project := newProjectID()
	plan := &domain.Plan{
		ID: domain.NewID(), ProjectID: project, Name: "My application", ProviderID: providerID,
		Status: domain.PlanSuspended, Parameters: params, Resources: resources, CreatedAt: at,
	}
	if err := e.store.CreatePlan(ctx, plan); err != nil {
		e.t.Fatalf("CreatePlan: %v", err)
	}
	c := &domain.Checkpoint{
		ID:         domain.NewID(),
		ProjectID:  project,
		ProviderID: providerID,
		Status:     domain.StatusProtecting,
		Plan: domain.ProtectionPlan{
			ID: plan.ID, Name: plan.Name, ProviderID: providerID, Resources: resources, Parameters: params,
		},
		ExtraInfo: json.RawMessage(`{"created_by":"manual"}`),
		CreatedAt: at,
		UpdatedAt: at,
	}
	if err := e.store.CreateCheckpoint(ctx, c); err != nil {
		e.t.Fatalf("CreateCheckpoint: %v", err)
	}
	return c
}

func (e *env) get(c *domain.Checkpoint) *domain.Checkpoint {
	e.t.Helper()
	got, err := e.store.GetCheckpoint(context.Background(), c.ProjectID, c.ID)
	if err != nil {
		e.t.Fatalf("GetCheckpoint(%s): %v", c.ID, err)
	}
	return got
}

// setStatus makes a status change as the API's delete or reset does.
func (e *env) setStatus(c *domain.Checkpoint, from, to domain.Status) {
	e.t.Helper()
	_, err := e.store.SetStatus(e.t.Context(), domain.Transition{
		ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID, From: []domain.Status{from}, To: to,
	})
	if err != nil {
		e.t.Fatalf("SetStatus(%s → %s): %v", from, to, err)
	}
}

// record returns the stream record of the checkpoint's change with this
// event name and new status, waiting for it to show up on the stream.
func (e *env) record(c *domain.Checkpoint, eventName string, newStatus domain.Status) events.DynamoDBEventRecord {
	e.t.Helper()
	return e.stream.Wait(e.t, c.ID, eventName, newStatus)
}

func eventOf(records ...events.DynamoDBEventRecord) events.DynamoDBEvent {
	return events.DynamoDBEvent{Records: records}
}

// handle delivers records to the worker as one batch and fails the test
// unless every record succeeded.
func (e *env) handle(w *worker.Worker, records ...events.DynamoDBEventRecord) {
	e.t.Helper()
	resp, err := w.Handle(context.Background(), events.DynamoDBEvent{Records: records})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		e.t.Fatalf("Handle = %+v, %v; want every record done", resp, err)
	}
}

// backups lists the live backups of a table made for a checkpoint.
func (e *env) backups(table string, c *domain.Checkpoint) []ddbtypes.BackupSummary {
	e.t.Helper()
	out, err := e.ddb.ListBackups(context.Background(), &dynamodb.ListBackupsInput{TableName: aws.String(table)})
	if err != nil {
		e.t.Fatalf("ListBackups: %v", err)
	}
	var found []ddbtypes.BackupSummary
	for _, b := range out.BackupSummaries {
		if strings.HasSuffix(aws.ToString(b.BackupName), c.ID) && b.BackupStatus != ddbtypes.BackupStatusDeleted {
			found = append(found, b)
		}
	}
	return found
}

// snapshots lists the snapshots tagged with a checkpoint and a volume.
func (e *env) snapshots(c *domain.Checkpoint, volumeID string) []ec2types.Snapshot {
	e.t.Helper()
	out, err := e.ec2.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{c.ID}},
	}})
	if err != nil {
		e.t.Fatalf("DescribeSnapshots: %v", err)
	}
	var found []ec2types.Snapshot
	for _, s := range out.Snapshots {
		if aws.ToString(s.VolumeId) == volumeID {
			found = append(found, s)
		}
	}
	return found
}

// graphNode is one node of resource_graph: [type, id, name, info].
type graphNode struct {
	Type, ID, Name string
	Info           map[string]any
}

// graph decodes a resource_graph string as the Karbor client does, and
// checks its shape: [{"0x0": [type, id, name, {...}], ...}, []].
func graph(t *testing.T, c *domain.Checkpoint) map[string]graphNode {
	t.Helper()
	if c.ResourceGraph == nil {
		t.Fatalf("checkpoint %s (%s) has no resource_graph", c.ID, c.Status)
	}
	var top []json.RawMessage
	if err := json.Unmarshal([]byte(*c.ResourceGraph), &top); err != nil || len(top) != 2 {
		t.Fatalf("resource_graph %s is not [nodes, edges]: %v", *c.ResourceGraph, err)
	}
	// Edges only from an instance to its volumes.
	var edges [][]json.RawMessage
	if err := json.Unmarshal(top[1], &edges); err != nil || edges == nil {
		t.Errorf("resource_graph edges are %s, want a list", top[1])
	}
	var nodes map[string][]json.RawMessage
	if err := json.Unmarshal(top[0], &nodes); err != nil {
		t.Fatalf("resource_graph nodes %s: %v", top[0], err)
	}
	out := map[string]graphNode{}
	for key, n := range nodes {
		if !strings.HasPrefix(key, "0x") || len(n) != 4 {
			t.Fatalf("resource_graph node %q = %s, want \"0x<hex>\": [type, id, name, info]", key, n)
		}
		var g graphNode
		for i, dst := range []any{&g.Type, &g.ID, &g.Name, &g.Info} {
			if err := json.Unmarshal(n[i], dst); err != nil {
				t.Fatalf("resource_graph node %q element %d: %v", key, i, err)
			}
		}
		out[g.ID] = g
	}
	if len(edges) == 0 && len(out) != len(c.Plan.Resources) {
		t.Errorf("resource_graph has %d nodes, the plan %d resources", len(out), len(c.Plan.Resources))
	}
	for _, r := range c.Plan.Resources {
		if g, ok := out[r.ID]; !ok || g.Type != r.Type || g.Name != r.Name {
			t.Errorf("resource_graph node of %s is %+v, want type %s, name %s", r.ID, g, r.Type, r.Name)
		}
	}
	return out
}

// wrapClients lets a test change what the plugins' AWS calls do.
type wrapClients struct {
	inner awsplugin.Clients
	ddb   *wrapDDB
	ec2   *wrapEC2
}

func wrap(inner awsplugin.Clients) *wrapClients {
	return &wrapClients{inner: inner, ddb: &wrapDDB{inner: inner.DynamoDB()}, ec2: &wrapEC2{inner: inner.EC2()}}
}

func (w *wrapClients) DynamoDB() awsplugin.DynamoDBBackupAPI { return w.ddb }
func (w *wrapClients) EC2() awsplugin.EC2SnapshotAPI         { return w.ec2 }
func (w *wrapClients) TagImageSnapshotsAfter() bool          { return w.inner.TagImageSnapshotsAfter() }

type wrapDDB struct {
	inner awsplugin.DynamoDBBackupAPI
	// afterCreate, when set, runs after each CreateBackup that succeeded.
	afterCreate func(ctx context.Context)
	created     atomic.Int32
	deleted     atomic.Int32
}

func (w *wrapDDB) CreateBackup(ctx context.Context, in *dynamodb.CreateBackupInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateBackupOutput, error) {
	out, err := w.inner.CreateBackup(ctx, in, o...)
	if err == nil {
		w.created.Add(1)
		if w.afterCreate != nil {
			w.afterCreate(ctx)
		}
	}
	return out, err
}

func (w *wrapDDB) ListBackups(ctx context.Context, in *dynamodb.ListBackupsInput, o ...func(*dynamodb.Options)) (*dynamodb.ListBackupsOutput, error) {
	return w.inner.ListBackups(ctx, in, o...)
}

func (w *wrapDDB) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return w.inner.DescribeTable(ctx, in, o...)
}

func (w *wrapDDB) ListTagsOfResource(ctx context.Context, in *dynamodb.ListTagsOfResourceInput, o ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error) {
	return w.inner.ListTagsOfResource(ctx, in, o...)
}

func (w *wrapDDB) DeleteBackup(ctx context.Context, in *dynamodb.DeleteBackupInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteBackupOutput, error) {
	out, err := w.inner.DeleteBackup(ctx, in, o...)
	if err == nil {
		w.deleted.Add(1)
	}
	return out, err
}

type wrapEC2 struct {
	inner awsplugin.EC2SnapshotAPI
	// afterCreate, when set, runs after each CreateSnapshot that succeeded.
	afterCreate func(ctx context.Context)
	// deleteErr, when set, is what DeleteSnapshot answers instead of
	// deleting; createErr likewise for CreateSnapshot.
	deleteErr, createErr error
	// describeErr, when set, is what DescribeSnapshots answers: the
	// plugin's Protect and Delete both begin with it.
	describeErr error
	created     atomic.Int32
	deleted     atomic.Int32
	images      atomic.Int32 // CreateImage calls that succeeded
	// describeVolumesErr, when set, is what DescribeVolumes answers (the
	// ownership check of volumes).
	describeVolumesErr error
	// createImage, when set, answers CreateImage instead.
	createImage func(context.Context, *ec2.CreateImageInput, ...func(*ec2.Options)) (*ec2.CreateImageOutput, error)
	// imageState, when set, is the state DescribeImages answers for every
	// image (moto's are available at once), with imageReason.
	imageState  ec2types.ImageState
	imageReason string
}

func (w *wrapEC2) CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, o ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error) {
	if w.createErr != nil {
		return nil, w.createErr
	}
	out, err := w.inner.CreateSnapshot(ctx, in, o...)
	if err == nil {
		w.created.Add(1)
		if w.afterCreate != nil {
			w.afterCreate(ctx)
		}
	}
	return out, err
}

func (w *wrapEC2) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, o ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	if w.describeErr != nil {
		return nil, w.describeErr
	}
	return w.inner.DescribeSnapshots(ctx, in, o...)
}

func (w *wrapEC2) CreateImage(ctx context.Context, in *ec2.CreateImageInput, o ...func(*ec2.Options)) (*ec2.CreateImageOutput, error) {
	if w.createImage != nil {
		return w.createImage(ctx, in, o...)
	}
	out, err := w.inner.CreateImage(ctx, in, o...)
	if err == nil {
		w.images.Add(1)
	}
	return out, err
}

func (w *wrapEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	out, err := w.inner.DescribeImages(ctx, in, o...)
	if err == nil && w.imageState != "" {
		for i := range out.Images {
			out.Images[i].State = w.imageState
			out.Images[i].StateReason = &ec2types.StateReason{Message: aws.String(w.imageReason)}
		}
	}
	return out, err
}

func (w *wrapEC2) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, o ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	return w.inner.DeregisterImage(ctx, in, o...)
}

func (w *wrapEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return w.inner.CreateTags(ctx, in, o...)
}

func (w *wrapEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return w.inner.DescribeInstances(ctx, in, o...)
}

func (w *wrapEC2) DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, o ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	if w.describeVolumesErr != nil {
		return nil, w.describeVolumesErr
	}
	return w.inner.DescribeVolumes(ctx, in, o...)
}

func (w *wrapEC2) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, o ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	if w.deleteErr != nil {
		return nil, w.deleteErr
	}
	out, err := w.inner.DeleteSnapshot(ctx, in, o...)
	if err == nil {
		w.deleted.Add(1)
	}
	return out, err
}

// failingUpdates is the store's DynamoDB API with its next UpdateItem
// calls failing, as when the connection drops or the worker is killed just
// before the status write.
type failingUpdates struct {
	store.API
	failures atomic.Int32
}

var errInjected = errors.New("injected: connection reset before the write")

func (f *failingUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, errInjected
	}
	return f.API.UpdateItem(ctx, in, o...)
}

// noClients fails the test on any AWS call: the No-Op provider makes none.
type noClients struct{ t *testing.T }

func (n noClients) DynamoDB() awsplugin.DynamoDBBackupAPI {
	n.t.Error("the No-Op provider asked for DynamoDB")
	return nil
}

func (n noClients) TagImageSnapshotsAfter() bool { return false }

func (n noClients) EC2() awsplugin.EC2SnapshotAPI {
	n.t.Error("the No-Op provider asked for EC2")
	return nil
}

// storeOver is the env's store over another DynamoDB API.
func (e *env) storeOver(db store.API) *store.Store {
	return store.New(db, e.plans, e.checkpoints).WithOperationLogs(e.oplogs)
}

// failingLogEnds fails the next UpdateItem calls on the operation logs
// table (a dropped connection); every other call goes through.
type failingLogEnds struct {
	store.API
	table    string
	failures atomic.Int32
}

func (f *failingLogEnds) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if aws.ToString(in.TableName) == f.table && f.failures.Add(-1) >= 0 {
		return nil, errInjected
	}
	return f.API.UpdateItem(ctx, in, o...)
}

// failingLogStarts fails the next PutItem calls (the worker's only
// PutItem is a log's start).
type failingLogStarts struct {
	store.API
	failures atomic.Int32
}

func (f *failingLogStarts) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, errInjected
	}
	return f.API.PutItem(ctx, in, o...)
}
