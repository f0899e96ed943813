package awsplugin

// The restore and verification steps against moto_server: resources are
// protected with the protect plugins first, then the steps are driven until
// Done, as the runner does. moto restores tables ACTIVE at once and makes
// images available at once; the volume and instance wrappers below only
// pass CreateVolume and RunInstances through to the real client.

import (
	"context"
	"encoding/json"
	"fmt"
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
	"karbor/internal/testsupport/invenv"
)

func (w *ec2Wrap) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, o ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	w.count("CreateVolume", nil)
	return w.real.CreateVolume(ctx, in, o...)
}

func (w *ec2Wrap) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, o ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	w.count("RunInstances", nil)
	return w.real.RunInstances(ctx, in, o...)
}

var own = ownership.Config{Mode: ownership.ModeTag}

func taskPlugin(c *motoClients, typ string, opts Options) provider.TaskPlugin {
	opts.TableARNPrefix = invenv.TableARNPrefix("us-east-1")
	return TaskPlugins(c, own, opts)[typ]
}

func newTask(kind domain.TaskKind, cp provider.Checkpoint) provider.Task {
	return provider.Task{Kind: kind, ID: domain.NewID(), ProjectID: cp.ProjectID, CheckpointID: cp.ID, CreatedAt: time.Now()}
}

// asRecorded is saved as the runner gives it back: through JSON, plus
// "status".
func asRecorded(t *testing.T, s provider.Saved) map[string]any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["status"] = "available"
	return m
}

// protected protects one resource with its protect plugin and gives it as
// a TaskItem, with its dependents.
func protected(t *testing.T, c *motoClients, cp provider.Checkpoint, typ, id, params string) provider.TaskItem {
	t.Helper()
	out := Plugins(c, own, fast)[typ].Protect(t.Context(), cp, []provider.Item{{Resource: domain.Resource{ID: id, Type: typ}, Params: []byte(`{}`)}})
	if out[0].Err != nil {
		t.Fatalf("protect %s: %v", id, out[0].Err)
	}
	it := provider.TaskItem{Resource: domain.Resource{ID: id, Type: typ}, Saved: asRecorded(t, out[0].Saved), Params: json.RawMessage(params)}
	for _, d := range out[0].Dependents {
		it.Dependents = append(it.Dependents, provider.TaskItem{Resource: d.Resource, Saved: asRecorded(t, d.Saved), Params: json.RawMessage(`{}`)})
	}
	return it
}

// drive steps until Done, at most 20 steps, passing State on.
func drive(t *testing.T, it provider.TaskItem, f func(provider.TaskItem) provider.Step) (provider.Step, int) {
	t.Helper()
	for n := 1; n <= 20; n++ {
		s := f(it)
		if s.Done {
			return s, n
		}
		it.State = s.State
	}
	t.Fatalf("not done after 20 steps")
	return provider.Step{}, 0
}

// table makes a table with n items.
func table(t *testing.T, c *motoClients, n int) string {
	t.Helper()
	e := invenv.New(t)
	name := e.Table(invenv.TableName("rs"), nil)
	for i := range n {
		_, err := c.ddb.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]ddbtypes.AttributeValue{
			"id": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("item-%d", i)}, "v": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func tableItems(t *testing.T, c *motoClients, table string) []map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := c.ddb.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	return out.Items
}

func tableTags(t *testing.T, c *motoClients, name string) map[string]string {
	t.Helper()
	d, err := c.ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe %s: %v", name, err)
	}
	lt, err := c.ddb.ListTagsOfResource(t.Context(), &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range lt.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func tableExists(t *testing.T, c *motoClients, name string) bool {
	t.Helper()
	_, err := c.ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil && !notFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestDefaultTargetTableName(t *testing.T) {
	id := "0123abcd-ef45-6789-0123-456789abcdef"
	if got := domain.DefaultTargetTableName("orders", id); got != "orders-0123abcd" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("x", 300)
	if got := domain.DefaultTargetTableName(long, id); len(got) != 255 || !strings.HasSuffix(got, strings.Repeat("x", 10)+"-0123abcd") {
		t.Errorf("got %d characters: %q", len(got), got)
	}
}

// A table is restored from its backup into the default name, with its
// items and the restore's tags; steps repeated, and with the State lost,
// find the same table.
func TestTableRestored(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 3)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{}`)
	task := newTask(domain.KindRestore, cp)
	p := taskPlugin(c, provider.TypeDynamoDBTable, Options{})
	restore := func(it provider.TaskItem) provider.Step { return p.Restore(t.Context(), task, it) }
	s, _ := drive(t, it, restore)
	if s.Err != nil {
		t.Fatalf("restore: %v", s.Err)
	}
	want := domain.DefaultTargetTableName(src, task.ID)
	if s.Restored == nil || s.Restored.ID != want || !strings.HasSuffix(s.Restored.ARN, ":table/"+want) || !s.Started {
		t.Fatalf("restored %+v (started %v), want table %s", s.Restored, s.Started, want)
	}
	if got := tableItems(t, c, want); len(got) != 3 {
		t.Errorf("%d items restored, want 3", len(got))
	}
	tags := tableTags(t, c, want)
	if tags[own.Key()] != cp.ProjectID || tags[TagRestoreID] != task.ID || tags[provider.TagResourceID] != src {
		t.Errorf("tags %v", tags)
	}
	// Repeated, and with no State: the same table, no error.
	for range 2 {
		again := p.Restore(t.Context(), task, it)
		if !again.Done || again.Err != nil || again.Restored == nil || again.Restored.ID != want {
			t.Errorf("repeated step: %+v", again)
		}
	}
}

// A crash between RestoreTableFromBackup and TagResource: the untagged
// table restored from our backup is taken as ours and tagged.
func TestUntaggedRestoreTakenOver(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 1)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"target_table_name": "`+src+`-copy"}`)
	task := newTask(domain.KindRestore, cp)
	if _, err := c.ddb.RestoreTableFromBackup(t.Context(), &dynamodb.RestoreTableFromBackupInput{
		TargetTableName: aws.String(src + "-copy"), BackupArn: aws.String(it.Saved["backup_arn"].(string))}); err != nil {
		t.Fatal(err)
	}
	s := taskPlugin(c, provider.TypeDynamoDBTable, Options{}).Restore(t.Context(), task, it)
	if !s.Done || s.Err != nil || s.Restored.ID != src+"-copy" {
		t.Fatalf("restore: %+v", s)
	}
	if tags := tableTags(t, c, src+"-copy"); tags[TagRestoreID] != task.ID {
		t.Errorf("tags %v", tags)
	}
}

// A target name taken by another table, or a backup deleted behind the
// service's back, end the table in error.
func TestTableRestoreErrors(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 1)
	other := table(t, c, 0)
	cp := checkpoint()
	p := taskPlugin(c, provider.TypeDynamoDBTable, Options{})
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"target_table_name": "`+other+`"}`)
	s := p.Restore(t.Context(), newTask(domain.KindRestore, cp), it)
	if !s.Done || s.Err == nil || s.Err.Error() != "target table "+other+" already exists" {
		t.Errorf("restore into a taken name: %+v", s)
	}
	if got := tableItems(t, c, other); len(got) != 0 {
		t.Errorf("the other table was written: %d items", len(got))
	}

	if _, err := c.ddb.DeleteBackup(t.Context(), &dynamodb.DeleteBackupInput{BackupArn: aws.String(it.Saved["backup_arn"].(string))}); err != nil {
		t.Fatal(err)
	}
	it.Params = json.RawMessage(`{}`)
	task := newTask(domain.KindRestore, cp)
	s = p.Restore(t.Context(), task, it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("restore of a deleted backup: %+v", s)
	}
	if tableExists(t, c, domain.DefaultTargetTableName(src, task.ID)) {
		t.Error("a table was made")
	}
}

// A table's verification: the intact backup is ok; a deleted one is an
// error saying so.
func TestTableVerified(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 1)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{}`)
	p := taskPlugin(c, provider.TypeDynamoDBTable, Options{})
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, cp), it); !s.Done || s.Err != nil {
		t.Fatalf("verify: %+v", s)
	}
	other := checkpoint()
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, other), it); !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "not the backup of checkpoint") {
		t.Errorf("verify against another checkpoint: %+v", s)
	}
	if _, err := c.ddb.DeleteBackup(t.Context(), &dynamodb.DeleteBackupInput{BackupArn: aws.String(it.Saved["backup_arn"].(string))}); err != nil {
		t.Fatal(err)
	}
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, cp), it); !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("verify of a deleted backup: %+v", s)
	}
}

// The restore test counts every item of the scratch table, over several
// steps (2 items a page, one page a step), reports them, and deletes the
// scratch table; a repeated step after the end makes no second table.
func TestRestoreTest(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 5)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"restore_test": true}`)
	task := newTask(domain.KindVerification, cp)
	p := taskPlugin(c, provider.TypeDynamoDBTable, Options{scanLimit: 2, scanPages: 1})
	scratch := scratchTableName(task.ID, src)
	var sawScratch bool
	s, n := drive(t, it, func(it provider.TaskItem) provider.Step {
		s := p.Verify(t.Context(), task, it)
		if !s.Done && tableExists(t, c, scratch) {
			sawScratch = true
			if tags := tableTags(t, c, scratch); tags[TagVerificationID] != task.ID || tags[ownership.ServiceTag] == "" {
				t.Errorf("scratch tags %v", tags)
			}
		}
		return s
	})
	if s.Err != nil {
		t.Fatalf("restore test: %v", s.Err)
	}
	if !strings.HasPrefix(s.Reason, "restore test: 5 items restored (") || !strings.HasSuffix(s.Reason, " recorded with the backup)") {
		t.Errorf("reason %q", s.Reason)
	}
	if n < 3 || !sawScratch {
		t.Errorf("done in %d steps (scratch table seen: %v), want the count over several", n, sawScratch)
	}
	if tableExists(t, c, scratch) {
		t.Errorf("scratch table %s left", scratch)
	}
}

// A restore test whose backup is gone fails saying so and leaves no table;
// one that finds its scratch table after a lost State deletes it.
func TestRestoreTestErrors(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 2)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"restore_test": true}`)
	p := taskPlugin(c, provider.TypeDynamoDBTable, Options{scanLimit: 1, scanPages: 1})

	task := newTask(domain.KindVerification, cp)
	first := p.Verify(t.Context(), task, it) // restored, one page counted
	if first.Done {
		t.Fatalf("first step done: %+v", first)
	}
	// The State is lost: the next steps find the scratch table and still
	// end with it deleted.
	s, _ := drive(t, it, func(it provider.TaskItem) provider.Step { return p.Verify(t.Context(), task, it) })
	if s.Err != nil || !strings.HasPrefix(s.Reason, "restore test: 2 items restored") {
		t.Errorf("after a lost state: %+v", s)
	}
	if tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Error("scratch table left")
	}

	// The backup deleted after the scratch table was made, and the State
	// lost: the test fails and the scratch table is deleted.
	task = newTask(domain.KindVerification, cp)
	if first := p.Verify(t.Context(), task, it); first.Done || !tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Fatalf("first step: %+v", first)
	}
	if _, err := c.ddb.DeleteBackup(t.Context(), &dynamodb.DeleteBackupInput{BackupArn: aws.String(it.Saved["backup_arn"].(string))}); err != nil {
		t.Fatal(err)
	}
	s = p.Verify(t.Context(), task, it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("restore test whose backup went: %+v", s)
	}
	if tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Error("scratch table left")
	}

	task = newTask(domain.KindVerification, cp)
	s = p.Verify(t.Context(), task, it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("restore test of a deleted backup: %+v", s)
	}
	if tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Error("scratch table left")
	}
}

func restoredVolumes(t *testing.T, c *motoClients, task provider.Task) []ec2types.Volume {
	t.Helper()
	out, err := c.ec2.real.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagRestoreID), Values: []string{task.ID}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Volumes
}

// A standalone volume is restored from its snapshot in the requested zone,
// once however often the step runs; a deleted snapshot is an error.
func TestVolumeRestored(t *testing.T) {
	c := newClients(t)
	e := invenv.New(t)
	vol := e.Volume(nil)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeEC2Volume, vol, `{"availability_zone": "us-east-1b"}`)
	task := newTask(domain.KindRestore, cp)
	p := taskPlugin(c, provider.TypeEC2Volume, Options{})
	s, _ := drive(t, it, func(it provider.TaskItem) provider.Step { return p.Restore(t.Context(), task, it) })
	if s.Err != nil || s.Restored == nil || !s.Started {
		t.Fatalf("restore: %+v", s)
	}
	if want := "arn:aws:ec2:us-east-1:" + invenv.MotoAccount + ":volume/" + s.Restored.ID; s.Restored.ARN != want {
		t.Errorf("ARN %s, want %s", s.Restored.ARN, want)
	}
	for range 2 { // repeated, State lost
		if again := p.Restore(t.Context(), task, it); !again.Done || again.Err != nil || again.Restored.ID != s.Restored.ID {
			t.Errorf("repeated: %+v", again)
		}
	}
	vols := restoredVolumes(t, c, task)
	if len(vols) != 1 {
		t.Fatalf("%d volumes restored, want 1", len(vols))
	}
	v := vols[0]
	if aws.ToString(v.AvailabilityZone) != "us-east-1b" || aws.ToString(v.SnapshotId) != it.Saved["snapshot_id"] ||
		tag(v.Tags, own.Key()) != cp.ProjectID || tag(v.Tags, provider.TagResourceID) != vol {
		t.Errorf("restored volume %+v", v)
	}
	// Without the parameter: the source volume's zone.
	it.Params = json.RawMessage(`{}`)
	task2 := newTask(domain.KindRestore, cp)
	if s, _ := drive(t, it, func(it provider.TaskItem) provider.Step { return p.Restore(t.Context(), task2, it) }); s.Err != nil {
		t.Fatalf("restore: %v", s.Err)
	}
	if vols := restoredVolumes(t, c, task2); len(vols) != 1 || aws.ToString(vols[0].AvailabilityZone) != "us-east-1a" {
		t.Errorf("restored %+v, want one volume in the source's zone", vols)
	}

	if _, err := c.ec2.real.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(it.Saved["snapshot_id"].(string))}); err != nil {
		t.Fatal(err)
	}
	s = p.Restore(t.Context(), newTask(domain.KindRestore, cp), it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("restore of a deleted snapshot: %+v", s)
	}
}

func TestVolumeVerified(t *testing.T) {
	c := newClients(t)
	vol := invenv.New(t).Volume(nil)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeEC2Volume, vol, `{}`)
	p := taskPlugin(c, provider.TypeEC2Volume, Options{})
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, cp), it); !s.Done || s.Err != nil {
		t.Fatalf("verify: %+v", s)
	}
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, checkpoint()), it); !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "not tagged with checkpoint") {
		t.Errorf("verify against another checkpoint: %+v", s)
	}
	if _, err := c.ec2.real.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(it.Saved["snapshot_id"].(string))}); err != nil {
		t.Fatal(err)
	}
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, cp), it); !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("verify of a deleted snapshot: %+v", s)
	}
}

func restoredInstances(t *testing.T, c *motoClients, task provider.Task) []ec2types.Instance {
	t.Helper()
	out, err := c.ec2.real.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + TagRestoreID), Values: []string{task.ID}}}})
	if err != nil {
		t.Fatal(err)
	}
	var insts []ec2types.Instance
	for _, r := range out.Reservations {
		insts = append(insts, r.Instances...)
	}
	return insts
}

// An instance is restored from its image, once, with its volume reported
// as the new instance's volume at the recorded device; a deregistered image
// is an error.
func TestInstanceRestored(t *testing.T) {
	c := newClients(t)
	src := instance(t, c)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeEC2Instance, src, `{"instance_type": "t3.micro"}`)
	if len(it.Dependents) == 0 {
		t.Fatal("protection recorded no volume")
	}
	task := newTask(domain.KindRestore, cp)
	p := taskPlugin(c, provider.TypeEC2Instance, Options{})
	first := p.Restore(t.Context(), task, it)
	if !first.Started || first.Restored == nil {
		t.Fatalf("first step: %+v", first)
	}
	s, _ := drive(t, it, func(it provider.TaskItem) provider.Step { return p.Restore(t.Context(), task, it) })
	if s.Err != nil || s.Restored == nil || s.Restored.ID != first.Restored.ID {
		t.Fatalf("restore: %+v (first %+v)", s, first.Restored)
	}
	if want := "arn:aws:ec2:us-east-1:" + invenv.MotoAccount + ":instance/" + s.Restored.ID; s.Restored.ARN != want {
		t.Errorf("ARN %s, want %s", s.Restored.ARN, want)
	}
	insts := restoredInstances(t, c, task)
	if len(insts) != 1 {
		t.Fatalf("%d instances, want 1", len(insts))
	}
	inst := insts[0]
	if inst.InstanceType != "t3.micro" || tag(inst.Tags, own.Key()) != cp.ProjectID || tag(inst.Tags, provider.TagResourceID) != src {
		t.Errorf("instance %s type %s tags %v", aws.ToString(inst.InstanceId), inst.InstanceType, inst.Tags)
	}
	at := map[string]string{}
	for _, m := range inst.BlockDeviceMappings {
		at[aws.ToString(m.DeviceName)] = aws.ToString(m.Ebs.VolumeId)
	}
	for _, d := range it.Dependents {
		ds, ok := s.Dependents[d.Resource.ID]
		dev := d.Saved["device_name"].(string)
		if !ok || !ds.Done || ds.Err != nil || ds.Restored == nil || ds.Restored.ID != at[dev] {
			t.Errorf("dependent %s at %s: %+v (volumes %v)", d.Resource.ID, dev, ds, at)
		}
	}

	if _, err := c.ec2.real.DeregisterImage(t.Context(), &ec2.DeregisterImageInput{ImageId: aws.String(it.Saved["image_id"].(string))}); err != nil {
		t.Fatal(err)
	}
	// The restore already made finds its instance still.
	if again := p.Restore(t.Context(), task, it); !again.Done || again.Err != nil {
		t.Errorf("repeated after the image went: %+v", again)
	}
	s = p.Restore(t.Context(), newTask(domain.KindRestore, cp), it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "no longer exists") {
		t.Errorf("restore of a deregistered image: %+v", s)
	}
	for _, d := range it.Dependents {
		if ds := s.Dependents[d.Resource.ID]; !ds.Done || ds.Err == nil {
			t.Errorf("dependent %s of the failed restore: %+v", d.Resource.ID, ds)
		}
	}
	if got := c.ec2.n("RunInstances"); got != 1 {
		t.Errorf("RunInstances called %d times, want 1", got)
	}
}

func TestInstanceVerified(t *testing.T) {
	c := newClients(t)
	src := instance(t, c)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeEC2Instance, src, `{}`)
	p := taskPlugin(c, provider.TypeEC2Instance, Options{})
	s := p.Verify(t.Context(), newTask(domain.KindVerification, cp), it)
	if !s.Done || s.Err != nil || len(s.Dependents) != len(it.Dependents) {
		t.Fatalf("verify: %+v", s)
	}
	// The image deregistered: an error saying so.
	if _, err := c.ec2.real.DeregisterImage(t.Context(), &ec2.DeregisterImageInput{ImageId: aws.String(it.Saved["image_id"].(string))}); err != nil {
		t.Fatal(err)
	}
	s = p.Verify(t.Context(), newTask(domain.KindVerification, cp), it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "image "+it.Saved["image_id"].(string)) {
		t.Errorf("verify of a deregistered image: %+v", s)
	}
	// And a volume's snapshot deleted: that dependent fails too.
	snap := it.Dependents[0].Saved["snapshot_id"].(string)
	if _, err := c.ec2.real.DeleteSnapshot(t.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	s = p.Verify(t.Context(), newTask(domain.KindVerification, cp), it)
	if ds := s.Dependents[it.Dependents[0].Resource.ID]; !s.Done || s.Err == nil || ds.Err == nil || !strings.Contains(ds.Err.Error(), snap) {
		t.Errorf("verify with a snapshot gone: %+v", s)
	}
}

// ddbFaults is the real client but for a Scan that fails as told, and
// DeleteTables that are throttled as often as told: failures moto cannot
// be made to give on demand.
type ddbFaults struct {
	*dynamodb.Client
	scanErr     error
	deleteFails int
	deletes     int
}

func (d *ddbFaults) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if d.scanErr != nil {
		return nil, d.scanErr
	}
	return d.Client.Scan(ctx, in, o...)
}

func (d *ddbFaults) DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	d.deletes++
	if d.deleteFails > 0 {
		d.deleteFails--
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return d.Client.DeleteTable(ctx, in, o...)
}

type faultClients struct {
	*motoClients
	ddb *ddbFaults
}

func (f faultClients) DynamoDB() DynamoDBBackupAPI { return f.ddb }

// A restore test whose count fails ends in error saying so, and its scratch
// table is deleted all the same: a throttled delete is done at the next
// step, before the error is reported.
func TestRestoreTestFailureDeletesScratch(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 2)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"restore_test": true}`)
	faults := &ddbFaults{Client: c.ddb, scanErr: &smithy.GenericAPIError{Code: "ValidationException", Message: "broken"}, deleteFails: 1}
	p := TaskPlugins(faultClients{c, faults}, own, Options{})[provider.TypeDynamoDBTable]
	task := newTask(domain.KindVerification, cp)
	first := p.Verify(t.Context(), task, it)
	if first.Done {
		t.Fatalf("first step done though the delete was throttled: %+v", first)
	}
	if !tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Fatal("no scratch table after the first step")
	}
	it.State = first.State
	s := p.Verify(t.Context(), task, it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "restore test: read scratch table") || !strings.Contains(s.Err.Error(), "broken") {
		t.Errorf("second step: %+v", s)
	}
	if tableExists(t, c, scratchTableName(task.ID, src)) || faults.deletes != 2 {
		t.Errorf("scratch table left (%d deletes)", faults.deletes)
	}
}

// A scratch table of the name that is not this verification's is never
// deleted.
func TestRestoreTestLeavesOthersTable(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 1)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"restore_test": true}`)
	task := newTask(domain.KindVerification, cp)
	name := invenv.New(t).Table(scratchTableName(task.ID, src), nil)
	s := taskPlugin(c, provider.TypeDynamoDBTable, Options{}).Verify(t.Context(), task, it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "is not this verification's") {
		t.Errorf("verify: %+v", s)
	}
	if !tableExists(t, c, name) {
		t.Error("the other table was deleted")
	}
}

// A step cut short by its context (the invocation ending) or throttled is
// looked at again, not failed.
func TestInterruptedStepNotFailed(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 1)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{}`)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tp := taskPlugin(c, provider.TypeDynamoDBTable, Options{})
	if s := tp.Restore(ctx, newTask(domain.KindRestore, cp), it); s.Done {
		t.Errorf("restore with its context canceled: %+v", s)
	}
	if s := tp.Verify(ctx, newTask(domain.KindVerification, cp), it); s.Done {
		t.Errorf("verify with its context canceled: %+v", s)
	}
	faults := &ddbFaults{Client: c.ddb, scanErr: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}}
	it.Params = json.RawMessage(`{"restore_test": true}`)
	p := TaskPlugins(faultClients{c, faults}, own, Options{})[provider.TypeDynamoDBTable]
	if s := p.Verify(t.Context(), newTask(domain.KindVerification, cp), it); s.Done {
		t.Errorf("restore test with its count throttled: %+v", s)
	}
}

// A volume whose zone was not recorded and whose source is gone needs the
// availability_zone parameter: the error says so, and nothing is made.
func TestVolumeZoneNeeded(t *testing.T) {
	c := newClients(t)
	vol := invenv.New(t).Volume(nil)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeEC2Volume, vol, `{}`)
	if _, err := c.ec2.real.DeleteVolume(t.Context(), &ec2.DeleteVolumeInput{VolumeId: aws.String(vol)}); err != nil {
		t.Fatal(err)
	}
	task := newTask(domain.KindRestore, cp)
	p := taskPlugin(c, provider.TypeEC2Volume, Options{})
	s := p.Restore(t.Context(), task, it)
	if !s.Done || s.Err == nil || !strings.Contains(s.Err.Error(), "give availability_zone") {
		t.Errorf("restore: %+v", s)
	}
	if n := len(restoredVolumes(t, c, task)); n != 0 {
		t.Errorf("%d volumes made", n)
	}
	it.Params = json.RawMessage(`{"availability_zone": "us-east-1c", "volume_type": "gp3", "iops": 3000}`)
	s, _ = drive(t, it, func(it provider.TaskItem) provider.Step { return p.Restore(t.Context(), task, it) })
	if s.Err != nil {
		t.Fatalf("restore with the zone: %v", s.Err)
	}
	vols := restoredVolumes(t, c, task)
	if len(vols) != 1 || aws.ToString(vols[0].AvailabilityZone) != "us-east-1c" || vols[0].VolumeType != "gp3" {
		t.Errorf("restored %+v", vols)
	}
}

// TestRestoreTestAbort: a restore test cut short by its verification's
// deadline (Task.Abort) deletes its scratch table and ends in error.
func TestRestoreTestAbort(t *testing.T) {
	c := newClients(t)
	src := table(t, c, 2)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeDynamoDBTable, src, `{"restore_test": true}`)
	p := taskPlugin(c, provider.TypeDynamoDBTable, Options{scanLimit: 1, scanPages: 1})
	task := newTask(domain.KindVerification, cp)
	first := p.Verify(t.Context(), task, it)
	if first.Done || !tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Fatalf("first step: %+v; want the scratch table made and the count under way", first)
	}
	task.Abort = true
	it.State = first.State
	s, _ := drive(t, it, func(it provider.TaskItem) provider.Step { return p.Verify(t.Context(), task, it) })
	if s.Err == nil || !strings.Contains(s.Err.Error(), "timed out") {
		t.Errorf("aborted: %+v, want an error saying it timed out", s)
	}
	if tableExists(t, c, scratchTableName(task.ID, src)) {
		t.Error("scratch table left after the abort")
	}
}

// TestInstanceRestoredWithVolumeParameters: the volumes an instance's image
// makes take their own parameters' type (and IOPS, throughput: moto 5.2.1
// answers an io1 mapping with its Iops set "InvalidParameterDependency:
// VolumeType requires the parameter Iops", so the type alone is shown).
func TestInstanceRestoredWithVolumeParameters(t *testing.T) {
	c := newClients(t)
	src := instance(t, c)
	cp := checkpoint()
	it := protected(t, c, cp, provider.TypeEC2Instance, src, `{}`)
	if len(it.Dependents) == 0 {
		t.Fatal("protection recorded no volume")
	}
	it.Dependents[0].Params = json.RawMessage(`{"volume_type": "gp3"}`)
	task := newTask(domain.KindRestore, cp)
	p := taskPlugin(c, provider.TypeEC2Instance, Options{})
	s, _ := drive(t, it, func(it provider.TaskItem) provider.Step { return p.Restore(t.Context(), task, it) })
	ds := s.Dependents[it.Dependents[0].Resource.ID]
	if s.Err != nil || ds.Restored == nil {
		t.Fatalf("restore: %+v, dependent %+v", s, ds)
	}
	out, err := c.ec2.real.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{ds.Restored.ID}})
	if err != nil || len(out.Volumes) != 1 {
		t.Fatalf("DescribeVolumes(%s): %v", ds.Restored.ID, err)
	}
	if v := out.Volumes[0]; v.VolumeType != "gp3" {
		t.Errorf("the instance's volume is %s, want gp3", v.VolumeType)
	}
}
