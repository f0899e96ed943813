package awsplugin

// The instance plugin against moto_server. moto makes an image available at
// once and does not enforce EC2's 200 values per filter, so the branches it
// cannot produce are reached with thin wrappers over the real client: one
// counts filter values, one rewrites DescribeImages' State for its first
// calls, one stands for AWS's snapshot tagging in CreateImage.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/testsupport/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// motoClients are the plugins' clients of the test's moto_server, the EC2
// one behind ec2Wrap.
type motoClients struct {
	ddb      *dynamodb.Client
	ec2      *ec2Wrap
	tagAfter bool
}

func (c *motoClients) DynamoDB() DynamoDBBackupAPI  { return c.ddb }
func (c *motoClients) EC2() EC2SnapshotAPI          { return c.ec2 }
func (c *motoClients) TagImageSnapshotsAfter() bool { return c.tagAfter }

func newClients(t *testing.T) *motoClients {
	t.Helper()
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testenv.Endpoint(t)
	real := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	return &motoClients{ddb: testenv.DynamoDB(t), ec2: &ec2Wrap{EC2SnapshotAPI: real, real: real, t: t}, tagAfter: true}
}

// ec2Wrap is the real client, checking every filter's size and counting
// calls; pendingFor and failWith rewrite the state DescribeImages answers;
// tagOnCreate, when set, answers CreateImage as AWS does with snapshot
// TagSpecifications (moto answers them with a 500).
type ec2Wrap struct {
	EC2SnapshotAPI
	real *ec2.Client
	t    *testing.T

	mu          sync.Mutex
	calls       map[string]int
	pendingFor  int    // DescribeImages calls answered pending
	failWith    string // a state reason: DescribeImages answers failed
	tagOnCreate bool
	specs       []ec2types.TagSpecification
}

func (w *ec2Wrap) count(op string, filters []ec2types.Filter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.calls == nil {
		w.calls = map[string]int{}
	}
	w.calls[op]++
	for _, f := range filters {
		if len(f.Values) > MaxFilterValues {
			w.t.Errorf("%s filter %s has %d values, more than %d", op, aws.ToString(f.Name), len(f.Values), MaxFilterValues)
		}
	}
}

func (w *ec2Wrap) n(op string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[op]
}

func (w *ec2Wrap) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	w.count("DescribeInstances", in.Filters)
	if len(in.InstanceIds) > MaxFilterValues {
		w.t.Errorf("DescribeInstances with %d ids", len(in.InstanceIds))
	}
	return w.real.DescribeInstances(ctx, in, o...)
}

func (w *ec2Wrap) DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, o ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	w.count("DescribeVolumes", in.Filters)
	return w.real.DescribeVolumes(ctx, in, o...)
}

func (w *ec2Wrap) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, o ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	w.count("DescribeSnapshots", in.Filters)
	return w.real.DescribeSnapshots(ctx, in, o...)
}

func (w *ec2Wrap) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	w.count("CreateTags", nil)
	return w.real.CreateTags(ctx, in, o...)
}

func (w *ec2Wrap) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, o ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	w.count("DeregisterImage", nil)
	return w.real.DeregisterImage(ctx, in, o...)
}

func (w *ec2Wrap) CreateImage(ctx context.Context, in *ec2.CreateImageInput, o ...func(*ec2.Options)) (*ec2.CreateImageOutput, error) {
	w.count("CreateImage", nil)
	w.mu.Lock()
	w.specs = in.TagSpecifications
	w.mu.Unlock()
	if !w.tagOnCreate {
		return w.real.CreateImage(ctx, in, o...)
	}
	// AWS tags the image's snapshots from the request; moto fails such a
	// request, so the snapshot specification is taken out and applied
	// here with the real client (not counted as the plugin's CreateTags).
	sent := *in
	sent.TagSpecifications = nil
	var snapTags []ec2types.Tag
	for _, s := range in.TagSpecifications {
		if s.ResourceType == ec2types.ResourceTypeSnapshot {
			snapTags = s.Tags
		} else {
			sent.TagSpecifications = append(sent.TagSpecifications, s)
		}
	}
	out, err := w.real.CreateImage(ctx, &sent, o...)
	if err != nil || snapTags == nil {
		return out, err
	}
	got, err := w.real.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(out.ImageId)}})
	if err != nil {
		return nil, err
	}
	if _, err := w.real.CreateTags(ctx, &ec2.CreateTagsInput{Resources: imageSnapshots(got.Images[0]), Tags: snapTags}); err != nil {
		return nil, err
	}
	return out, nil
}

func (w *ec2Wrap) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	w.count("DescribeImages", in.Filters)
	out, err := w.real.DescribeImages(ctx, in, o...)
	if err != nil {
		return out, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	pending := w.pendingFor > 0
	if pending {
		w.pendingFor--
	}
	for i := range out.Images {
		switch {
		case pending:
			out.Images[i].State = ec2types.ImageStatePending
			// On AWS a pending image's snapshot ids may be missing.
			for j := range out.Images[i].BlockDeviceMappings {
				if ebs := out.Images[i].BlockDeviceMappings[j].Ebs; ebs != nil {
					ebs.SnapshotId = nil
				}
			}
		case w.failWith != "" && out.Images[i].State == ec2types.ImageStateAvailable:
			out.Images[i].State = ec2types.ImageStateFailed
			out.Images[i].StateReason = &ec2types.StateReason{Code: aws.String("Client.Error"), Message: aws.String(w.failWith)}
		}
	}
	return out, nil
}

// instance runs an instance (with its attached volume) in moto.
func instance(t *testing.T, c *motoClients) string {
	t.Helper()
	out, err := c.ec2.real.RunInstances(t.Context(), &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Small})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	return aws.ToString(out.Instances[0].InstanceId)
}

func checkpoint() provider.Checkpoint {
	return provider.Checkpoint{ID: domain.NewID(), ProjectID: "p" + strings.ReplaceAll(domain.NewID(), "-", ""), CreatedAt: time.Now()}
}

// fast waits at most 50 ms, polling every millisecond: no test waits long.
var fast = Options{ImagePoll: time.Millisecond, ImageWait: 50 * time.Millisecond}

func plugin(c *motoClients) provider.Plugin {
	return Plugins(c, ownership.Config{Mode: ownership.ModeAccount}, fast)[provider.TypeEC2Instance]
}

func items(ids ...string) []provider.Item {
	out := make([]provider.Item, len(ids))
	for i, id := range ids {
		out[i] = provider.Item{Resource: domain.Resource{ID: id, Type: provider.TypeEC2Instance}, Params: []byte(`{}`)}
	}
	return out
}

// More than 200 instance ids are described in chunks of at most 200, and
// so are more than 200 volume ids (moto does not enforce the limit; the
// wrapper checks every filter).
func TestFiltersChunked(t *testing.T) {
	c := newClients(t)
	real := instance(t, c)
	ids := make([]string, 0, 250)
	for i := range 249 {
		ids = append(ids, fmt.Sprintf("i-%017x", i+1))
	}
	ids = append(ids, real) // in the last chunk
	out := plugin(c).Protect(t.Context(), checkpoint(), items(ids...))
	if got := c.ec2.n("DescribeInstances"); got != 2 {
		t.Errorf("DescribeInstances called %d times for %d ids, want 2", got, len(ids))
	}
	if err := out[len(out)-1].Err; err != nil {
		t.Errorf("the real instance, in the last chunk: %v", err)
	}
	if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "not found") {
		t.Errorf("a missing instance: %v, want not found", out[0].Err)
	}

	vol, err := c.ec2.real.CreateVolume(t.Context(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	volIDs := make([]string, 0, 250)
	for i := range 249 {
		volIDs = append(volIDs, fmt.Sprintf("vol-%017x", i+1))
	}
	volIDs = append(volIDs, aws.ToString(vol.VolumeId))
	before := c.ec2.n("DescribeVolumes")
	vols, err := describeVolumes(t.Context(), c, volIDs)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ec2.n("DescribeVolumes") - before; got != 2 {
		t.Errorf("DescribeVolumes called %d times for %d ids, want 2", got, len(volIDs))
	}
	if _, ok := vols[aws.ToString(vol.VolumeId)]; !ok || len(vols) != 1 {
		t.Errorf("found %d volumes, want only %s", len(vols), aws.ToString(vol.VolumeId))
	}
}

func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, 200, 201, 400, 401} {
		ids := make([]string, n)
		got := chunks(ids)
		total := 0
		for _, c := range got {
			if len(c) == 0 || len(c) > MaxFilterValues {
				t.Errorf("%d ids: a chunk of %d", n, len(c))
			}
			total += len(c)
		}
		if want := (n + MaxFilterValues - 1) / MaxFilterValues; total != n || len(got) != want {
			t.Errorf("%d ids: %d chunks with %d ids, want %d chunks", n, len(got), total, want)
		}
	}
}

// A pending image is waited for (the wrapper answers pending twice), and
// recorded with its snapshots once available.
func TestPendingImageWaitedFor(t *testing.T) {
	c := newClients(t)
	id := instance(t, c)
	c.ec2.pendingFor = 3 // the one after CreateImage, then two polls
	out := plugin(c).Protect(t.Context(), checkpoint(), items(id))
	if out[0].Err != nil {
		t.Fatalf("protect: %v", out[0].Err)
	}
	if got := c.ec2.n("DescribeImages"); got < 4 {
		t.Errorf("DescribeImages called %d times, want the wait's polls too", got)
	}
	deps := out[0].Dependents
	if len(deps) == 0 || deps[0].Saved["snapshot_id"] == "" {
		t.Errorf("recorded without the image's snapshot: %+v", deps)
	}
}

// An image still pending when the wait ends is provider.ErrNotYet (the
// worker hands the record back); the retry finds the same image.
func TestImageStillPendingIsRetried(t *testing.T) {
	c := newClients(t)
	id := instance(t, c)
	cp := checkpoint()
	c.ec2.pendingFor = 1 << 20
	out := plugin(c).Protect(t.Context(), cp, items(id))
	if !errors.Is(out[0].Err, provider.ErrNotYet) {
		t.Fatalf("protect: %v, want ErrNotYet", out[0].Err)
	}
	c.ec2.pendingFor = 0
	out = plugin(c).Protect(t.Context(), cp, items(id))
	if out[0].Err != nil {
		t.Fatalf("retry: %v", out[0].Err)
	}
	if got := c.ec2.n("CreateImage"); got != 1 {
		t.Errorf("CreateImage called %d times, want 1", got)
	}
}

// The wait also ends before the context's deadline, less DeadlineReserve.
func TestImageWaitBoundedByDeadline(t *testing.T) {
	c := newClients(t)
	id := instance(t, c)
	c.ec2.pendingFor = 1 << 20
	ctx, cancel := context.WithTimeout(t.Context(), DeadlineReserve+200*time.Millisecond)
	defer cancel()
	slow := Options{ImagePoll: time.Millisecond, ImageWait: time.Hour}
	start := time.Now()
	out := Plugins(c, ownership.Config{Mode: ownership.ModeAccount}, slow)[provider.TypeEC2Instance].Protect(ctx, checkpoint(), items(id))
	if !errors.Is(out[0].Err, provider.ErrNotYet) {
		t.Fatalf("protect: %v, want ErrNotYet", out[0].Err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %v", d)
	}
}

// A failed image ends the node in error with AWS's reason, and is
// deregistered: a retry makes a new one.
func TestFailedImageDeregistered(t *testing.T) {
	c := newClients(t)
	id := instance(t, c)
	cp := checkpoint()
	c.ec2.failWith = "insufficient capacity to snapshot"
	out := plugin(c).Protect(t.Context(), cp, items(id))
	if out[0].Err == nil || errors.Is(out[0].Err, provider.ErrNotYet) || !strings.Contains(out[0].Err.Error(), "insufficient capacity to snapshot") {
		t.Fatalf("protect: %v, want the state reason", out[0].Err)
	}
	if got := c.ec2.n("DeregisterImage"); got != 1 {
		t.Errorf("DeregisterImage called %d times, want 1", got)
	}
	c.ec2.failWith = ""
	out = plugin(c).Protect(t.Context(), cp, items(id))
	if out[0].Err != nil {
		t.Fatalf("retry: %v", out[0].Err)
	}
	if got := c.ec2.n("CreateImage"); got != 2 {
		t.Errorf("CreateImage called %d times, want a new image on the retry", got)
	}
}

// Against AWS (TagImageSnapshotsAfter off) the snapshots are tagged by
// CreateImage itself, and no CreateTags is made, neither on protect nor on
// delete; the delete still finds and deletes them.
func TestSnapshotsTaggedByCreateImage(t *testing.T) {
	c := newClients(t)
	c.tagAfter = false
	c.ec2.tagOnCreate = true
	id := instance(t, c)
	cp := checkpoint()
	p := plugin(c)
	out := p.Protect(t.Context(), cp, items(id))
	if out[0].Err != nil {
		t.Fatalf("protect: %v", out[0].Err)
	}
	var snapSpec bool
	for _, s := range c.ec2.specs {
		if s.ResourceType == ec2types.ResourceTypeSnapshot && tag(s.Tags, provider.TagCheckpointID) == cp.ID {
			snapSpec = true
		}
	}
	if !snapSpec {
		t.Errorf("CreateImage's TagSpecifications %+v tag no snapshot with the checkpoint", c.ec2.specs)
	}
	if errs := p.Delete(t.Context(), cp, []domain.Resource{{ID: id, Type: provider.TypeEC2Instance}}); errs[0] != nil {
		t.Fatalf("delete: %v", errs[0])
	}
	if got := c.ec2.n("CreateTags"); got != 0 {
		t.Errorf("CreateTags called %d times, want none", got)
	}
	left, err := c.ec2.real.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{cp.ID}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Snapshots) != 0 {
		t.Errorf("%d snapshots left after the delete", len(left.Snapshots))
	}
}

// Against moto (TagImageSnapshotsAfter on) CreateImage carries no snapshot
// specification, and the snapshots are tagged after.
func TestSnapshotsTaggedAfter(t *testing.T) {
	c := newClients(t)
	id := instance(t, c)
	cp := checkpoint()
	out := plugin(c).Protect(t.Context(), cp, items(id))
	if out[0].Err != nil {
		t.Fatalf("protect: %v", out[0].Err)
	}
	for _, s := range c.ec2.specs {
		if s.ResourceType == ec2types.ResourceTypeSnapshot {
			t.Errorf("CreateImage tags snapshots: %+v", s)
		}
	}
	if got := c.ec2.n("CreateTags"); got != 1 {
		t.Errorf("CreateTags called %d times, want 1", got)
	}
}
