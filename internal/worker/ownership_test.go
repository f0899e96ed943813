package worker_test

// EC2 instances protected with an image, the graph's edges, and ownership
// checked by the worker right before protection, in tag mode (the
// deployment default) and account mode, against moto_server.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// tagMode is the deployment's default rule, with the env's tables as the
// service's own.
func (e *env) tagMode() ownership.Config {
	return ownership.Config{Mode: ownership.ModeTag, ServiceTables: []string{e.plans, e.checkpoints}}
}

// ownedWorker is a worker of this env with an ownership rule, over clients
// whose creates are counted.
func (e *env) ownedWorker(cfg ownership.Config) (*worker.Worker, *wrapClients) {
	clients := wrap(e.clients)
	return &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: cfg}, clients
}

// instance runs an EC2 instance (moto gives it an attached root volume)
// and returns its id and its volume's.
func (e *env) instance() (string, string) {
	e.t.Helper()
	ctx := e.t.Context()
	out, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Small})
	if err != nil {
		e.t.Fatalf("RunInstances: %v", err)
	}
	inst := out.Instances[0]
	if len(inst.BlockDeviceMappings) == 0 || inst.BlockDeviceMappings[0].Ebs == nil {
		e.t.Fatalf("instance %s has no attached volume", aws.ToString(inst.InstanceId))
	}
	return aws.ToString(inst.InstanceId), aws.ToString(inst.BlockDeviceMappings[0].Ebs.VolumeId)
}

// tagEC2 tags EC2 resources.
func (e *env) tagEC2(key, value string, ids ...string) {
	e.t.Helper()
	if _, err := e.ec2.CreateTags(e.t.Context(), &ec2.CreateTagsInput{Resources: ids,
		Tags: []ec2types.Tag{{Key: aws.String(key), Value: aws.String(value)}}}); err != nil {
		e.t.Fatalf("CreateTags: %v", err)
	}
}

func (e *env) tagTable(table, key, value string) {
	e.t.Helper()
	d, err := e.ddb.DescribeTable(e.t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.ddb.TagResource(e.t.Context(), &dynamodb.TagResourceInput{ResourceArn: d.Table.TableArn,
		Tags: []ddbtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}}); err != nil {
		e.t.Fatalf("TagResource: %v", err)
	}
}

// images lists the live images tagged with the checkpoint.
func (e *env) images(c *domain.Checkpoint) []ec2types.Image {
	e.t.Helper()
	out, err := e.ec2.DescribeImages(e.t.Context(), &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{c.ID}}}})
	if err != nil {
		e.t.Fatalf("DescribeImages: %v", err)
	}
	var live []ec2types.Image
	for _, im := range out.Images {
		if im.State != ec2types.ImageStateDeregistered {
			live = append(live, im)
		}
	}
	return live
}

// edgesOf decodes the graph's adjacency list as ids: parent id → child ids.
func edgesOf(t *testing.T, c *domain.Checkpoint) map[string][]string {
	t.Helper()
	var top []json.RawMessage
	if err := json.Unmarshal([]byte(*c.ResourceGraph), &top); err != nil || len(top) != 2 {
		t.Fatalf("resource_graph %s: %v", *c.ResourceGraph, err)
	}
	var nodes map[string][]json.RawMessage
	var edges [][]json.RawMessage
	if json.Unmarshal(top[0], &nodes) != nil || json.Unmarshal(top[1], &edges) != nil {
		t.Fatalf("resource_graph %s", *c.ResourceGraph)
	}
	idOf := func(hex string) string {
		var id string
		if n, ok := nodes[hex]; !ok || json.Unmarshal(n[1], &id) != nil {
			t.Fatalf("edge names node %q, not in the graph", hex)
		}
		return id
	}
	out := map[string][]string{}
	for _, e := range edges {
		var parent string
		var children []string
		if len(e) != 2 || json.Unmarshal(e[0], &parent) != nil || json.Unmarshal(e[1], &children) != nil {
			t.Fatalf("edge %s is not [parent, [children]]", e)
		}
		for _, ch := range children {
			out[idOf(parent)] = append(out[idOf(parent)], idOf(ch))
		}
	}
	return out
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// TestInstanceProtectedWithImage: an instance and one of its volumes in one
// plan give one image (no separate snapshot), a graph with the volume once,
// as the instance's child, the restore info recorded, and the image and its
// snapshots tagged; a redelivery after a crash makes no second image; the
// delete deregisters the image and deletes its snapshots.
func TestInstanceProtectedWithImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst, vol := e.instance()
	w, clients := e.ownedWorker(e.tagMode())
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{
		{ID: inst, Type: provider.TypeEC2Instance, Name: "web-1"},
		{ID: vol, Type: provider.TypeEC2Volume, Name: "root volume"},
	}, map[string]json.RawMessage{provider.TypeEC2Instance: json.RawMessage(`{"tags": {"team": "blue", "karbor:x": "dropped"}}`)})
	// Only the instance is tagged: its volume is owned through it.
	e.tagEC2(ownership.DefaultTagKey, c.ProjectID, inst)

	// A crash after the plugins ran: the outcome write fails, the record
	// is retried.
	db := &failingUpdates{API: e.db}
	db.failures.Store(1)
	crashing := &worker.Worker{Domain: &domain.Service{Store: store.New(db, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup},
		Clients: clients, Log: e.log, Ownership: e.tagMode()}
	insert := e.record(c, "INSERT", domain.StatusProtecting)
	if resp, err := crashing.Handle(t.Context(), eventOf(insert)); err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record failed", resp, err)
	}
	e.handle(w, insert)
	got := e.get(c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available; graph %v", got.Status, aws.ToString(got.ResourceGraph))
	}
	if n, s := clients.ec2.images.Load(), clients.ec2.created.Load(); n != 1 || s != 0 {
		t.Errorf("%d CreateImage and %d CreateSnapshot calls over two deliveries, want 1 and 0", n, s)
	}
	images := e.images(c)
	if len(images) != 1 {
		t.Fatalf("%d images tagged with the checkpoint, want 1", len(images))
	}
	im := images[0]
	for k, v := range map[string]string{provider.TagResourceID: inst, ownership.DefaultTagKey: c.ProjectID, "team": "blue", "karbor:x": ""} {
		if got := tagValue(im.Tags, k); got != v {
			t.Errorf("image tag %s = %q, want %q", k, got, v)
		}
	}
	snaps := e.snapshotsTagged(c)
	if len(snaps) != len(im.BlockDeviceMappings) || len(snaps) == 0 {
		t.Fatalf("%d snapshots tagged with the checkpoint, want the image's %d", len(snaps), len(im.BlockDeviceMappings))
	}
	for _, s := range snaps {
		if tagValue(s.Tags, provider.TagResourceID) != inst || tagValue(s.Tags, ownership.DefaultTagKey) != c.ProjectID {
			t.Errorf("snapshot %s tags %v, want the instance and the project", aws.ToString(s.SnapshotId), s.Tags)
		}
	}

	// The graph: two nodes, the volume as the instance's child, once.
	g := graph(t, got)
	if len(g) != 2 {
		t.Fatalf("graph has %d nodes, want 2 (the volume once)", len(g))
	}
	if edges := edgesOf(t, got); !slices.Equal(edges[inst], []string{vol}) || len(edges) != 1 {
		t.Errorf("edges %v, want %s → [%s]", edges, inst, vol)
	}
	info := g[inst].Info
	if infoString(info, "image_id") != aws.ToString(im.ImageId) || infoString(info, "instance_type") != "t3.small" ||
		infoString(info, "subnet_id") == "" || infoString(info, "availability_zone") == "" || info["security_group_ids"] == nil {
		t.Errorf("instance node info %v, want the image, instance type, subnet, zone and security groups", info)
	}
	bdm, _ := info["block_device_mappings"].([]any)
	if len(bdm) != 1 {
		t.Fatalf("block_device_mappings %v, want the root volume", info["block_device_mappings"])
	}
	m, _ := bdm[0].(map[string]any)
	snapID := aws.ToString(im.BlockDeviceMappings[0].Ebs.SnapshotId)
	if m["volume_id"] != vol || m["snapshot_id"] != snapID || m["device_name"] == nil || m["size_gib"] == nil || m["volume_type"] == nil {
		t.Errorf("block device mapping %v, want volume %s with snapshot %s, device, size, type", m, vol, snapID)
	}
	if v := g[vol]; v.Name != "root volume" || infoString(v.Info, "snapshot_id") != snapID || v.Info["status"] != "available" {
		t.Errorf("volume node %+v, want the plan's name, the image's snapshot %s, available", v, snapID)
	}

	done := e.remove(w, got)
	if done.Status != domain.StatusDeleted {
		t.Fatalf("status %s after delete, want deleted; graph %s", done.Status, aws.ToString(done.ResourceGraph))
	}
	if n := len(e.images(c)); n != 0 {
		t.Errorf("%d images left after delete", n)
	}
	if n := len(e.snapshotsTagged(c)); n != 0 {
		t.Errorf("%d snapshots left after delete", n)
	}
	dg := graph(t, done)
	if dg[inst].Info["status"] != "deleted" || dg[vol].Info["status"] != "deleted" {
		t.Errorf("deleted graph %v, want both nodes deleted", dg)
	}
	if edges := edgesOf(t, done); !slices.Equal(edges[inst], []string{vol}) {
		t.Errorf("deleted graph's edges %v, want %s → [%s] kept", edges, inst, vol)
	}
}

// snapshotsTagged lists the snapshots tagged with the checkpoint.
func (e *env) snapshotsTagged(c *domain.Checkpoint) []ec2types.Snapshot {
	e.t.Helper()
	out, err := e.ec2.DescribeSnapshots(e.t.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{c.ID}}}})
	if err != nil {
		e.t.Fatalf("DescribeSnapshots: %v", err)
	}
	return out.Snapshots
}

// TestWorkerRefusesWhatTheProjectDoesNotOwn: in tag mode, the worker
// protects only resources tagged for the checkpoint's project; one whose
// tag was removed after the plan was made, another project's, an untagged
// one and the service's own table end their nodes in error with the
// reason, and the checkpoint in error, while the owned ones are protected.
func TestWorkerRefusesWhatTheProjectDoesNotOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w, clients := e.ownedWorker(e.tagMode())
	owned, untagged, others, removed := e.sourceTable(), e.sourceTable(), e.volume(), e.volume()
	ownedVol := e.volume()
	inst, _ := e.instance()
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{
		{ID: owned, Type: provider.TypeDynamoDBTable, Name: "owned"},
		{ID: untagged, Type: provider.TypeDynamoDBTable, Name: "untagged"},
		{ID: e.checkpoints, Type: provider.TypeDynamoDBTable, Name: "the service's own"},
		{ID: others, Type: provider.TypeEC2Volume, Name: "another project's"},
		{ID: removed, Type: provider.TypeEC2Volume, Name: "tag removed"},
		{ID: ownedVol, Type: provider.TypeEC2Volume, Name: "owned volume"},
		{ID: inst, Type: provider.TypeEC2Instance, Name: "untagged instance"},
	}, nil)
	e.tagTable(owned, ownership.DefaultTagKey, c.ProjectID)
	e.tagTable(e.checkpoints, ownership.DefaultTagKey, c.ProjectID) // still the service's
	e.tagEC2(ownership.DefaultTagKey, "another-project", others)
	e.tagEC2(ownership.DefaultTagKey, c.ProjectID, ownedVol, removed)
	if _, err := e.ec2.DeleteTags(t.Context(), &ec2.DeleteTagsInput{Resources: []string{removed},
		Tags: []ec2types.Tag{{Key: aws.String(ownership.DefaultTagKey)}}}); err != nil {
		t.Fatal(err)
	}

	got := e.protect(w, c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want error", got.Status)
	}
	g := graph(t, got)
	for _, r := range got.Plan.Resources {
		info := g[r.ID].Info
		if r.ID == owned || r.ID == ownedVol {
			if info["status"] != "available" {
				t.Errorf("%s (%s): %v, want protected", r.Name, r.ID, info)
			}
			continue
		}
		want := r.Type + " " + r.ID + " is not owned by the project"
		if info["status"] != "error" || info["error"] != want {
			t.Errorf("%s (%s): %v, want error %q", r.Name, r.ID, info, want)
		}
	}
	if n, s := clients.ec2.images.Load(), clients.ec2.created.Load(); n != 0 || s != 1 {
		t.Errorf("%d images and %d snapshots made, want 0 and 1 (the owned volume)", n, s)
	}
	if n := len(e.backups(untagged, c)) + len(e.backups(e.checkpoints, c)); n != 0 {
		t.Errorf("%d backups of tables the project does not own", n)
	}
}

// TestAccountModeOwnsAllButTheServices: in account mode untagged resources
// and another project's are protected; the service's own table (by name,
// and by its karbor:service tag) still is not.
func TestAccountModeOwnsAllButTheServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.tagMode()
	cfg.Mode = ownership.ModeAccount
	w, _ := e.ownedWorker(cfg)
	untagged, marked, others := e.sourceTable(), e.sourceTable(), e.volume()
	e.tagTable(marked, ownership.ServiceTag, "stack")
	e.tagEC2(ownership.DefaultTagKey, "another-project", others)
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{
		{ID: untagged, Type: provider.TypeDynamoDBTable, Name: "untagged"},
		{ID: others, Type: provider.TypeEC2Volume, Name: "another project's"},
		{ID: e.plans, Type: provider.TypeDynamoDBTable, Name: "the service's plans"},
		{ID: marked, Type: provider.TypeDynamoDBTable, Name: "tagged karbor:service"},
	}, nil)
	got := e.protect(w, c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want error (the service's tables)", got.Status)
	}
	g := graph(t, got)
	for id, want := range map[string]string{untagged: "available", others: "available", e.plans: "error", marked: "error"} {
		if g[id].Info["status"] != want {
			t.Errorf("%s: %v, want %s", id, g[id].Info, want)
		}
	}
}

// TestInstanceDeleteSurvivesACrash: a delete that deregisters the image
// and then fails on its snapshots ends error-deleting; the retry finds the
// snapshots by their tags (the image is gone) and deletes them.
func TestInstanceDeleteSurvivesACrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst, _ := e.instance()
	w, _ := e.ownedWorker(e.tagMode())
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{{ID: inst, Type: provider.TypeEC2Instance, Name: "web-1"}}, nil)
	e.tagEC2(ownership.DefaultTagKey, c.ProjectID, inst)
	if got := e.protect(w, c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available", got.Status)
	}
	if len(e.snapshotsTagged(c)) == 0 {
		t.Fatal("no snapshots tagged with the checkpoint")
	}
	failing, clients := e.ownedWorker(e.tagMode())
	clients.ec2.deleteErr = &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "injected after the deregistration"}
	if got := e.remove(failing, c); got.Status != domain.StatusErrorDeleting {
		t.Fatalf("status %s after the failed delete, want error-deleting", got.Status)
	}
	if n := len(e.images(c)); n != 0 {
		t.Fatalf("%d images left, want the image deregistered before the failure", n)
	}
	if got := e.remove(w, c); got.Status != domain.StatusDeleted {
		t.Fatalf("status %s after the retry, want deleted", got.Status)
	}
	if n := len(e.snapshotsTagged(c)); n != 0 {
		t.Errorf("%d snapshots left after the retry", n)
	}
}

// TestInstanceImageNameTaken: when CreateImage answers that the image's
// name is taken (an earlier try made it, its tags did not land), the plugin
// takes that image instead of making another. moto never answers
// InvalidAMIName.Duplicate (it accepts a second image of the same name), so
// a fake CreateImage makes the untagged image on moto and then answers the
// error AWS would.
func TestInstanceImageNameTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst, _ := e.instance()
	w, clients := e.ownedWorker(e.tagMode())
	var earlier string
	clients.ec2.createImage = func(ctx context.Context, in *ec2.CreateImageInput, o ...func(*ec2.Options)) (*ec2.CreateImageOutput, error) {
		untagged := *in
		untagged.TagSpecifications = nil
		out, err := clients.ec2.inner.CreateImage(ctx, &untagged, o...)
		if err != nil {
			return nil, err
		}
		earlier = aws.ToString(out.ImageId)
		return nil, &smithy.GenericAPIError{Code: "InvalidAMIName.Duplicate", Message: "AMI name " + aws.ToString(in.Name) + " is already in use"}
	}
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{{ID: inst, Type: provider.TypeEC2Instance, Name: "web-1"}}, nil)
	e.tagEC2(ownership.DefaultTagKey, c.ProjectID, inst)
	got := e.protect(w, c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available; graph %s", got.Status, aws.ToString(got.ResourceGraph))
	}
	if id := infoString(graph(t, got)[inst].Info, "image_id"); id != earlier || id == "" {
		t.Errorf("image_id %q, want the earlier image %q", id, earlier)
	}
}

// TestOwnershipCheckThrottledRetriesTheRecord: a throttled describe in the
// ownership check is not a refusal: the record fails (Lambda retries it),
// nothing is made, the checkpoint stays protecting; the retry protects.
func TestOwnershipCheckThrottledRetriesTheRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vol := e.volume()
	w, clients := e.ownedWorker(e.tagMode())
	clients.ec2.describeVolumesErr = &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "injected"}
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{{ID: vol, Type: provider.TypeEC2Volume, Name: "data"}}, nil)
	e.tagEC2(ownership.DefaultTagKey, c.ProjectID, vol)
	insert := e.record(c, "INSERT", domain.StatusProtecting)
	if resp, err := w.Handle(t.Context(), eventOf(insert)); err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record failed", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusProtecting || clients.ec2.created.Load() != 0 {
		t.Fatalf("status %s, %d snapshots; want protecting and none", got.Status, clients.ec2.created.Load())
	}
	clients.ec2.describeVolumesErr = nil
	e.handle(w, insert)
	if got := e.get(c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s after the retry, want available", got.Status)
	}
}

// TestPendingImageHandsTheRecordBack: an image still pending when the
// plugin's wait ends fails the record (the stream redelivers it) and leaves
// the checkpoint protecting; the redelivery finds the same image, now
// available. moto's images are available at once: the wrapper answers
// pending, and the wait is shortened to milliseconds.
func TestPendingImageHandsTheRecordBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst, _ := e.instance()
	w, clients := e.ownedWorker(accountMode)
	w.Plugins = awsplugin.Options{ImagePoll: time.Millisecond, ImageWait: 20 * time.Millisecond}
	clients.ec2.imageState = ec2types.ImageStatePending
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{{ID: inst, Type: provider.TypeEC2Instance, Name: "web-1"}}, nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)
	if resp, err := w.Handle(t.Context(), eventOf(insert)); err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record handed back", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusProtecting {
		t.Fatalf("status %s while the image is pending, want protecting", got.Status)
	}
	clients.ec2.imageState = ""
	e.handle(w, insert)
	if got := e.get(c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s after the redelivery, want available", got.Status)
	}
	if n := clients.ec2.images.Load(); n != 1 || len(e.images(c)) != 1 {
		t.Errorf("%d CreateImage calls, %d images; want one", n, len(e.images(c)))
	}
}

// TestFailedImageEndsInError: an image AWS failed ends the instance's node
// in error with AWS's reason, and is deregistered. moto's images never
// fail: the wrapper answers failed.
func TestFailedImageEndsInError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inst, _ := e.instance()
	w, clients := e.ownedWorker(accountMode)
	clients.ec2.imageState, clients.ec2.imageReason = ec2types.ImageStateFailed, "injected: snapshot of the root volume failed"
	c := e.newCheckpoint(provider.AWSID, []domain.Resource{{ID: inst, Type: provider.TypeEC2Instance, Name: "web-1"}}, nil)
	got := e.protect(w, c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want error", got.Status)
	}
	if reason := aws.ToString(got.ResourceGraph); !strings.Contains(reason, "snapshot of the root volume failed") {
		t.Errorf("graph %s lacks the image's state reason", reason)
	}
	clients.ec2.imageState = ""
	if n := len(e.images(c)); n != 0 {
		t.Errorf("%d images left, want the failed one deregistered", n)
	}
}
