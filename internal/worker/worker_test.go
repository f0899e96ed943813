package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// awsResources is a plan's resources on the AWS provider: a table and a
// volume.
func awsResources(table, volume string) []domain.Resource {
	return []domain.Resource{
		{ID: table, Type: provider.TypeDynamoDBTable, Name: "Orders table", ExtraInfo: json.RawMessage(`{"region":"us-east-1"}`)},
		{ID: volume, Type: provider.TypeEC2Volume, Name: "Data volume"},
	}
}

func infoString(info map[string]any, key string) string {
	s, _ := info[key].(string)
	return s
}

// apiErrorCode is the AWS error code of err, or "".
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// protect delivers the checkpoint's INSERT record to the worker and
// returns the checkpoint as it is then.
func (e *env) protect(w *worker.Worker, c *domain.Checkpoint) *domain.Checkpoint {
	e.t.Helper()
	e.handle(w, e.record(c, "INSERT", domain.StatusProtecting))
	return e.get(c)
}

// remove moves an available or error checkpoint to deleting, as the API's
// delete does, delivers the MODIFY record, and returns the checkpoint.
func (e *env) remove(w *worker.Worker, c *domain.Checkpoint) *domain.Checkpoint {
	e.t.Helper()
	e.setStatus(c, e.get(c).Status, domain.StatusDeleting)
	e.handle(w, e.record(c, "MODIFY", domain.StatusDeleting))
	return e.get(c)
}

func TestWholeLifeOnAWSProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	table, volume := e.sourceTable(), e.volume()
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)

	insert := e.record(c, "INSERT", domain.StatusProtecting)
	if job := worker.JobOf(insert); job != domain.JobProtect {
		t.Fatalf("JobOf(the INSERT record) = %v, want protect", job)
	}
	e.handle(e.worker, insert)

	got := e.get(c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available; graph %v", got.Status, got.ResourceGraph)
	}
	g := graph(t, got)
	tableInfo, volumeInfo := g[table].Info, g[volume].Info
	if tableInfo["status"] != "available" || volumeInfo["status"] != "available" {
		t.Errorf("node statuses %v, %v; want available", tableInfo["status"], volumeInfo["status"])
	}
	// A node holds what the service wrote, never the caller's extra_info
	// (which stays in protection_plan): nothing a caller wrote passes for
	// a backup id or a status.
	if _, ok := tableInfo["region"]; ok {
		t.Errorf("table node carries the resource's extra_info: %v", tableInfo)
	}

	// What the graph names really exists.
	arn := infoString(tableInfo, "backup_arn")
	backup, err := e.ddb.DescribeBackup(ctx, &dynamodb.DescribeBackupInput{BackupArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeBackup(%q from the graph): %v", arn, err)
	}
	d := backup.BackupDescription
	if name := aws.ToString(d.BackupDetails.BackupName); name != "karbor-"+c.ID || infoString(tableInfo, "backup_name") != name {
		t.Errorf("backup name %q (graph %q), want karbor-%s", name, tableInfo["backup_name"], c.ID)
	}
	if src := aws.ToString(d.SourceTableDetails.TableName); src != table {
		t.Errorf("backup is of table %q, want %q", src, table)
	}
	snapID := infoString(volumeInfo, "snapshot_id")
	snaps, err := e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}})
	if err != nil || len(snaps.Snapshots) != 1 {
		t.Fatalf("DescribeSnapshots(%q from the graph) = %v, %v", snapID, snaps, err)
	}
	snap := snaps.Snapshots[0]
	if aws.ToString(snap.VolumeId) != volume || infoString(volumeInfo, "volume_id") != volume {
		t.Errorf("snapshot of volume %q (graph %q), want %q", aws.ToString(snap.VolumeId), volumeInfo["volume_id"], volume)
	}
	tags := map[string]string{}
	for _, tag := range snap.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if tags[provider.TagCheckpointID] != c.ID || tags[provider.TagResourceID] != volume || tags[provider.TagProjectID] != c.ProjectID {
		t.Errorf("snapshot tags %v, want the checkpoint, resource and project", tags)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 1 || m != 1 {
		t.Errorf("%d backups and %d snapshots, want one each", n, m)
	}

	// Delete.
	e.setStatus(got, domain.StatusAvailable, domain.StatusDeleting)
	modify := e.record(c, "MODIFY", domain.StatusDeleting)
	if job := worker.JobOf(modify); job != domain.JobDelete {
		t.Fatalf("JobOf(the MODIFY record) = %v, want delete", job)
	}
	before := time.Now()
	e.handle(e.worker, modify)
	done := e.get(c)
	if done.Status != domain.StatusDeleted {
		t.Fatalf("status %s, want deleted; graph %v", done.Status, done.ResourceGraph)
	}
	if lo, hi := before.Add(domain.DefaultRetention-time.Minute).Unix(), time.Now().Add(domain.DefaultRetention+time.Minute).Unix(); done.ExpiresAt < lo || done.ExpiresAt > hi {
		t.Errorf("expires_at %d, want about %s from now", done.ExpiresAt, domain.DefaultRetention)
	}
	for id, n := range graph(t, done) {
		if n.Info["status"] != "deleted" {
			t.Errorf("node %s status %v, want deleted", id, n.Info["status"])
		}
	}
	if _, err := e.ddb.DescribeBackup(ctx, &dynamodb.DescribeBackupInput{BackupArn: aws.String(arn)}); apiErrorCode(err) != "BackupNotFoundException" {
		t.Errorf("DescribeBackup after delete: %v, want BackupNotFoundException", err)
	}
	if _, err := e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}}); apiErrorCode(err) != "InvalidSnapshot.NotFound" {
		t.Errorf("DescribeSnapshots after delete: %v, want InvalidSnapshot.NotFound", err)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 0 {
		t.Errorf("%d backups and %d snapshots left, want none", n, m)
	}
}

func TestRetentionOfDeletedCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.worker.Domain.Retention = 48 * time.Hour
	c := e.newCheckpoint(provider.NoOpID, []domain.Resource{{ID: "x", Type: "OS::Nova::Server", Name: "x"}}, nil)
	e.protect(e.worker, c)
	before := time.Now()
	done := e.remove(e.worker, c)
	if lo, hi := before.Add(48*time.Hour-time.Minute).Unix(), time.Now().Add(48*time.Hour+time.Minute).Unix(); done.Status != domain.StatusDeleted || done.ExpiresAt < lo || done.ExpiresAt > hi {
		t.Errorf("status %s, expires_at %d; want deleted, about 48h from now", done.Status, done.ExpiresAt)
	}
}

func TestPluginFailureEndsInError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	const missing, missingTable = "vol-0123456789abcdef0", "no-such-table"
	resources := append(awsResources(table, volume),
		domain.Resource{ID: missing, Type: provider.TypeEC2Volume, Name: "Gone volume"},
		domain.Resource{ID: missingTable, Type: provider.TypeDynamoDBTable, Name: "Gone table"})
	c := e.newCheckpoint(provider.AWSID, resources, nil)

	got := e.protect(e.worker, c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want error; graph %v", got.Status, got.ResourceGraph)
	}
	g := graph(t, got)
	bad := g[missing].Info
	reason := infoString(bad, "error")
	// A missing resource is refused by the ownership check before any
	// plugin call, with the one answer for missing and not owned.
	if bad["status"] != "error" || reason != provider.TypeEC2Volume+" "+missing+" is not owned by the project" {
		t.Errorf("failed node info %v, want status error and the reason (not owned, the volume id)", bad)
	}
	// The reason is shown by the API: the AWS code and message, not the
	// SDK's request details.
	if strings.Contains(reason, "RequestID") || strings.Contains(reason, "operation error") || strings.Contains(reason, "http") {
		t.Errorf("reason %q carries the SDK's request details", reason)
	}
	if _, ok := bad["snapshot_id"]; ok {
		t.Errorf("failed node records a snapshot: %v", bad)
	}
	if info := g[missingTable].Info; info["status"] != "error" || !strings.Contains(infoString(info, "error"), "is not owned by the project") || info["backup_arn"] != nil {
		t.Errorf("failed table node %v, want status error and the reason (not owned)", info)
	}
	// The others were protected, and recorded.
	if info := g[table].Info; info["status"] != "available" || infoString(info, "backup_arn") == "" {
		t.Errorf("table node %v, want available with its backup", info)
	}
	if info := g[volume].Info; info["status"] != "available" || infoString(info, "snapshot_id") == "" {
		t.Errorf("volume node %v, want available with its snapshot", info)
	}

	// A checkpoint in error can be deleted: what was produced goes.
	done := e.remove(e.worker, c)
	if done.Status != domain.StatusDeleted {
		t.Fatalf("status %s after delete, want deleted; graph %v", done.Status, done.ResourceGraph)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 0 {
		t.Errorf("%d backups and %d snapshots left, want none", n, m)
	}
}

func TestUnknownProviderEndsInError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newCheckpoint("00000000-0000-4000-8000-000000000000", []domain.Resource{{ID: "r", Type: "OS::Nova::Server", Name: "r"}}, nil)
	got := e.protect(e.worker, c)
	if info := graph(t, got)["r"].Info; got.Status != domain.StatusError || !strings.Contains(infoString(info, "error"), "not configured") {
		t.Errorf("status %s, node %v; want error with the reason", got.Status, info)
	}
}

func TestDeleteFailureEndsInErrorDeleting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	if got := e.protect(e.worker, c); got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available", got.Status)
	}
	snapID := infoString(graph(t, e.get(c))[volume].Info, "snapshot_id")

	// moto deletes any snapshot it holds; real EC2 refuses one that an AMI
	// uses (InvalidSnapshot.InUse), which moto cannot be made to produce
	// for a snapshot taken of a volume. So EC2's answer is faked here, in
	// the shape the SDK returns it; every other call goes to moto.
	clients := wrap(e.clients)
	clients.ec2.deleteErr = &smithy.OperationError{ServiceID: "EC2", OperationName: "DeleteSnapshot", Err: &smithy.GenericAPIError{
		Code: "InvalidSnapshot.InUse", Message: fmt.Sprintf("The snapshot %s is currently in use by ami-0abcdef1234567890", snapID),
	}}
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}

	done := e.remove(w, c)
	if done.Status != domain.StatusErrorDeleting {
		t.Fatalf("status %s, want error-deleting; graph %v", done.Status, done.ResourceGraph)
	}
	g := graph(t, done)
	info := g[volume].Info
	why := infoString(info, "delete_error")
	if info["status"] != "error" || !strings.Contains(why, "InvalidSnapshot.InUse") || !strings.Contains(why, snapID) || strings.Contains(why, "operation error") {
		t.Errorf("volume node %v, want status error and delete_error with the code and the snapshot id", info)
	}
	if infoString(info, "snapshot_id") != snapID {
		t.Errorf("volume node %v lost the snapshot id it could not delete", info)
	}
	if info := g[table].Info; info["status"] != "deleted" {
		t.Errorf("table node %v, want deleted", info)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 1 {
		t.Errorf("%d backups and %d snapshots left, want the snapshot only", n, m)
	}
}

func TestRedeliveredBatchProtectsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	clients := wrap(e.clients)
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)

	e.handle(w, insert, insert) // one batch holding the record twice
	first := e.get(c)
	if first.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available", first.Status)
	}
	e.handle(w, insert) // and the batch again
	e.handle(w, insert, insert)
	again := e.get(c)
	if again.Status != domain.StatusAvailable || *again.ResourceGraph != *first.ResourceGraph || !again.UpdatedAt.Equal(first.UpdatedAt) {
		t.Errorf("a redelivery changed the checkpoint: %s %v → %s %v", first.Status, *first.ResourceGraph, again.Status, *again.ResourceGraph)
	}
	backups, snaps := e.backups(table, c), e.snapshots(c, volume)
	if len(backups) != 1 || len(snaps) != 1 || clients.ddb.created.Load() != 1 || clients.ec2.created.Load() != 1 {
		t.Fatalf("%d backups and %d snapshots (created %d, %d), want exactly one each", len(backups), len(snaps), clients.ddb.created.Load(), clients.ec2.created.Load())
	}
	g := graph(t, again)
	if infoString(g[table].Info, "backup_arn") != aws.ToString(backups[0].BackupArn) || infoString(g[volume].Info, "snapshot_id") != aws.ToString(snaps[0].SnapshotId) {
		t.Errorf("graph %v does not name the backup %s and snapshot %s that exist", *again.ResourceGraph, aws.ToString(backups[0].BackupArn), aws.ToString(snaps[0].SnapshotId))
	}
}

// A worker that produced the backups but failed to write the status (the
// write's connection dropped): the record is reported failed, the
// checkpoint stays protecting, and the retry finds the backups again.
func TestFailedStatusWriteIsRetriedWithoutSecondBackup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	clients := wrap(e.clients)
	db := &failingUpdates{API: e.db}
	db.failures.Store(1)
	w := &worker.Worker{Domain: &domain.Service{Store: store.New(db, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}

	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	other := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	batch := []*domain.Checkpoint{c, other}
	insertC, insertOther := e.record(c, "INSERT", domain.StatusProtecting), e.record(other, "INSERT", domain.StatusProtecting)

	resp, err := w.Handle(t.Context(), eventOf(insertC, insertOther))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != insertC.Change.SequenceNumber {
		t.Fatalf("Handle = %+v, %v; want the first record (%s) reported failed", resp, err, insertC.Change.SequenceNumber)
	}
	if got := e.get(c); got.Status != domain.StatusProtecting || got.ResourceGraph != nil {
		t.Fatalf("after the failed write: status %s, graph %v; want protecting, none", got.Status, got.ResourceGraph)
	}
	// Lambda retries from the failed record on: the rest of the batch is
	// not done yet.
	if got := e.get(other); got.Status != domain.StatusProtecting {
		t.Fatalf("the record after the failure was handled (status %s); Lambda retries from the failure, so it would be handled twice", got.Status)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 1 || m != 1 {
		t.Fatalf("before the retry: %d backups and %d snapshots, want one each", n, m)
	}

	e.handle(w, insertC, insertOther) // the retry
	for _, cp := range batch {
		got := e.get(cp)
		if got.Status != domain.StatusAvailable {
			t.Fatalf("after the retry: status %s, want available", got.Status)
		}
		backups, snaps := e.backups(table, cp), e.snapshots(cp, volume)
		if len(backups) != 1 || len(snaps) != 1 {
			t.Fatalf("%d backups and %d snapshots, want exactly one each", len(backups), len(snaps))
		}
		g := graph(t, got)
		if infoString(g[table].Info, "backup_arn") != aws.ToString(backups[0].BackupArn) || infoString(g[volume].Info, "snapshot_id") != aws.ToString(snaps[0].SnapshotId) {
			t.Errorf("graph %v does not name the backup and snapshot that exist", *got.ResourceGraph)
		}
	}
	if b, s := clients.ddb.created.Load(), clients.ec2.created.Load(); b != 2 || s != 2 {
		t.Errorf("CreateBackup succeeded %d times and CreateSnapshot %d times for two checkpoints, want 2 each", b, s)
	}
}

// A deletion whose status write failed after the plugins deleted
// everything: the retry finds nothing left, which is success.
func TestFailedStatusWriteOfDeletionIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	e.protect(e.worker, c)
	e.setStatus(c, domain.StatusAvailable, domain.StatusDeleting)
	modify := e.record(c, "MODIFY", domain.StatusDeleting)

	db := &failingUpdates{API: e.db}
	db.failures.Store(1)
	w := &worker.Worker{Domain: &domain.Service{Store: store.New(db, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup}, Clients: e.clients, Log: e.log, Ownership: accountMode}
	resp, err := w.Handle(t.Context(), eventOf(modify))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle = %+v, %v; want the record reported failed", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusDeleting {
		t.Fatalf("status %s after the failed write, want deleting", got.Status)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 0 {
		t.Fatalf("%d backups and %d snapshots before the retry, want none (the plugins ran)", n, m)
	}

	e.handle(w, modify)
	got := e.get(c)
	if got.Status != domain.StatusDeleted {
		t.Fatalf("status %s after the retry, want deleted; graph %v", got.Status, *got.ResourceGraph)
	}
	for id, n := range graph(t, got) {
		if n.Info["status"] != "deleted" || n.Info["delete_error"] != nil {
			t.Errorf("node %s = %v, want deleted", id, n.Info)
		}
	}
}

// A worker cut off right after CreateBackup (its context ends: the Lambda
// timeout, a shutdown): the record fails, and the retry reuses the backup.
func TestCrashAfterBackupIsRetriedWithoutSecondBackup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	clients := wrap(e.clients)
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)

	ctx, cancel := context.WithCancel(context.Background())
	clients.ddb.afterCreate = func(context.Context) { cancel() }
	resp, err := w.Handle(ctx, eventOf(insert))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != insert.Change.SequenceNumber {
		t.Fatalf("Handle = %+v, %v; want the record reported failed", resp, err)
	}
	if got := e.get(c); got.Status != domain.StatusProtecting {
		t.Fatalf("status %s after the crash, want protecting", got.Status)
	}
	backups := e.backups(table, c)
	if len(backups) != 1 {
		t.Fatalf("%d backups after the crash, want the one made before it", len(backups))
	}

	clients.ddb.afterCreate = nil
	e.handle(w, insert)
	got := e.get(c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s after the retry, want available", got.Status)
	}
	after, snaps := e.backups(table, c), e.snapshots(c, volume)
	if len(after) != 1 || len(snaps) != 1 || clients.ddb.created.Load() != 1 {
		t.Fatalf("%d backups (CreateBackup succeeded %d times) and %d snapshots, want one each", len(after), clients.ddb.created.Load(), len(snaps))
	}
	if arn := infoString(graph(t, got)[table].Info, "backup_arn"); arn != aws.ToString(backups[0].BackupArn) {
		t.Errorf("graph names backup %s, the one that exists is %s", arn, aws.ToString(backups[0].BackupArn))
	}
}

// The sweeper ends the checkpoint while its protection is between the
// plugin calls and the status write: the sweeper's outcome stays, the
// worker writes nothing, and a later delete removes what the losing
// protection produced (the plugins find it by name and tag).
func TestSweeperWinsOverRunningProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	clients := wrap(e.clients)
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup, Now: func() time.Time { return time.Now().Add(3 * time.Hour) }}, Log: e.log, StuckAfter: 2 * time.Hour}
	var swept worker.SweepResult
	clients.ddb.afterCreate = func(ctx context.Context) {
		var err error
		if swept, err = sweeper.Sweep(ctx); err != nil {
			t.Errorf("Sweep: %v", err)
		}
	}
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)

	e.handle(w, insert)
	if swept.Protecting != 1 {
		t.Fatalf("the sweeper ended %+v, want the checkpoint", swept)
	}
	got := e.get(c)
	if got.Status != domain.StatusError {
		t.Fatalf("status %s, want the sweeper's error", got.Status)
	}
	for id, n := range graph(t, got) {
		if n.Info["status"] != "error" || !strings.Contains(infoString(n.Info, "error"), "protection did not finish within 2h0m0s") {
			t.Errorf("node %s = %v, want the sweeper's reason", id, n.Info)
		}
		if _, ok := n.Info["backup_arn"]; ok {
			t.Errorf("node %s = %v: the losing protection wrote its outcome", id, n.Info)
		}
		if _, ok := n.Info["snapshot_id"]; ok {
			t.Errorf("node %s = %v: the losing protection wrote its outcome", id, n.Info)
		}
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 1 || m != 1 {
		t.Fatalf("the losing protection produced %d backups and %d snapshots, want one each", n, m)
	}

	// A redelivery of the record does nothing now.
	clients.ddb.afterCreate = nil
	e.handle(w, insert)
	if again := e.get(c); again.Status != domain.StatusError || *again.ResourceGraph != *got.ResourceGraph || clients.ddb.created.Load() != 1 {
		t.Errorf("a redelivered record acted on a checkpoint in error: %s %v", again.Status, *again.ResourceGraph)
	}

	done := e.remove(w, c)
	if done.Status != domain.StatusDeleted {
		t.Fatalf("status %s after delete, want deleted; graph %v", done.Status, *done.ResourceGraph)
	}
	if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 0 {
		t.Errorf("%d backups and %d snapshots left after delete, want none", n, m)
	}
}

// Protection and the sweeper racing for real, many times: exactly one of
// them decides the outcome, and the other writes nothing.
func TestSweeperRacesProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}, Log: e.log, StuckAfter: time.Hour}
	outcomes := map[domain.Status]int{}
	for i := range 6 {
		c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
		insert := e.record(c, "INSERT", domain.StatusProtecting)
		var wg sync.WaitGroup
		var swept worker.SweepResult
		var sweepErr error
		// A protection takes a few round trips; starting the sweeper at
		// different points of it varies who gets there first (which one
		// does is not asserted, only that there is one).
		delay := time.Duration(i%4) * 100 * time.Millisecond
		wg.Go(func() {
			time.Sleep(delay)
			swept, sweepErr = sweeper.Sweep(context.Background())
		})
		wg.Go(func() { e.handle(e.worker, insert) })
		wg.Wait()
		if sweepErr != nil {
			t.Fatalf("Sweep: %v", sweepErr)
		}
		got := e.get(c)
		outcomes[got.Status]++
		g := graph(t, got)
		switch got.Status {
		case domain.StatusAvailable:
			if swept.Protecting != 0 {
				t.Errorf("checkpoint available, but the sweeper reports it ended %d", swept.Protecting)
			}
			for id, n := range g {
				if n.Info["status"] != "available" || n.Info["error"] != nil {
					t.Errorf("available checkpoint, node %s = %v", id, n.Info)
				}
			}
		case domain.StatusError:
			if swept.Protecting != 1 {
				t.Errorf("checkpoint in error, but the sweeper reports it ended %d", swept.Protecting)
			}
			for id, n := range g {
				if !strings.Contains(infoString(n.Info, "error"), "did not finish") || n.Info["backup_arn"] != nil || n.Info["snapshot_id"] != nil {
					t.Errorf("swept checkpoint, node %s = %v: want the sweeper's graph only", id, n.Info)
				}
			}
		default:
			t.Fatalf("status %s, want available or error", got.Status)
		}
		if done := e.remove(e.worker, c); done.Status != domain.StatusDeleted {
			t.Fatalf("status %s after delete, want deleted", done.Status)
		}
		if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 0 {
			t.Fatalf("%d backups and %d snapshots left after delete, want none", n, m)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// afterGet is a store API that runs a function after each GetItem.
type afterGet struct {
	store.API
	then func()
}

func (a afterGet) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := a.API.GetItem(ctx, in, o...)
	a.then()
	return out, err
}

// The protection finishes after the sweeper has read the checkpoint as
// protecting and before it writes: the protection's outcome stays, the
// sweeper writes nothing.
func TestProtectionWinsOverRunningSweeper(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)
	var once sync.Once
	db := afterGet{API: e.db, then: func() { once.Do(func() { e.handle(e.worker, insert) }) }}
	sweeper := &worker.Sweeper{Domain: &domain.Service{Store: store.New(db, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}, Log: e.log, StuckAfter: time.Hour}

	swept, err := sweeper.Sweep(t.Context())
	if err != nil || swept != (worker.SweepResult{}) {
		t.Fatalf("Sweep = %+v, %v; want nothing ended", swept, err)
	}
	got := e.get(c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want the protection's available", got.Status)
	}
	g := graph(t, got)
	if infoString(g[table].Info, "backup_arn") == "" || infoString(g[volume].Info, "snapshot_id") == "" || g[table].Info["error"] != nil {
		t.Errorf("graph %v, want the protection's", *got.ResourceGraph)
	}
}

func TestRedeliveredProtectRecordOfSettledCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	clients := wrap(e.clients)
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}
	c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
	insert := e.record(c, "INSERT", domain.StatusProtecting)
	e.handle(w, insert)
	available := e.get(c)

	e.handle(w, insert)
	if got := e.get(c); got.Status != domain.StatusAvailable || !got.UpdatedAt.Equal(available.UpdatedAt) || *got.ResourceGraph != *available.ResourceGraph {
		t.Errorf("a redelivered record changed an available checkpoint: %s %v", got.Status, *got.ResourceGraph)
	}

	e.setStatus(c, domain.StatusAvailable, domain.StatusDeleting)
	e.handle(w, insert)
	if got := e.get(c); got.Status != domain.StatusDeleting {
		t.Errorf("a redelivered protect record moved a deleting checkpoint to %s", got.Status)
	}
	if b, s := clients.ddb.created.Load(), clients.ec2.created.Load(); b != 1 || s != 1 {
		t.Errorf("CreateBackup %d and CreateSnapshot %d times, want once each", b, s)
	}
	e.handle(w, e.record(c, "MODIFY", domain.StatusDeleting))
	if got := e.get(c); got.Status != domain.StatusDeleted {
		t.Errorf("status %s, want deleted", got.Status)
	}
}

// countingUpdates counts the store's UpdateItem calls on the checkpoints
// table that succeeded: the status changes.
type countingUpdates struct {
	store.API
	table     string
	mu        sync.Mutex
	succeeded int
}

func (c *countingUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := c.API.UpdateItem(ctx, in, o...)
	if err == nil && aws.ToString(in.TableName) == c.table {
		c.mu.Lock()
		c.succeeded++
		c.mu.Unlock()
	}
	return out, err
}

// A delete, delivered twice, racing with a redelivered protect record:
// one deletion, nothing protected again.
func TestDeleteRacesRedeliveredProtect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	for range 3 {
		c := e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil)
		insert := e.record(c, "INSERT", domain.StatusProtecting)
		e.handle(e.worker, insert)
		e.setStatus(c, domain.StatusAvailable, domain.StatusDeleting)
		modify := e.record(c, "MODIFY", domain.StatusDeleting)

		db := &countingUpdates{API: e.db, table: e.checkpoints}
		clients := wrap(e.clients)
		w := &worker.Worker{Domain: &domain.Service{Store: store.New(db, e.plans, e.checkpoints).WithOperationLogs(e.oplogs), Providers: provider.Lookup}, Clients: clients, Log: e.log, Ownership: accountMode}
		var wg sync.WaitGroup
		for _, r := range []events.DynamoDBEventRecord{modify, insert, modify, insert} {
			wg.Go(func() {
				resp, err := w.Handle(context.Background(), eventOf(r))
				if err != nil || len(resp.BatchItemFailures) != 0 {
					t.Errorf("Handle = %+v, %v", resp, err)
				}
			})
		}
		wg.Wait()
		got := e.get(c)
		if got.Status != domain.StatusDeleted {
			t.Fatalf("status %s, want deleted", got.Status)
		}
		if db.succeeded != 1 {
			t.Errorf("%d status writes succeeded, want exactly one (the deletion)", db.succeeded)
		}
		if b, s := clients.ddb.created.Load(), clients.ec2.created.Load(); b != 0 || s != 0 {
			t.Errorf("the protect records made %d backups and %d snapshots, want none", b, s)
		}
		if n, m := len(e.backups(table, c)), len(e.snapshots(c, volume)); n != 0 || m != 0 {
			t.Errorf("%d backups and %d snapshots left, want none", n, m)
		}
		for id, n := range graph(t, got) {
			if n.Info["status"] != "deleted" {
				t.Errorf("node %s = %v, want deleted", id, n.Info)
			}
		}
		e.wantLogs(c, wantLog{domain.OpProtect, "available", ""}, wantLog{domain.OpDelete, "deleted", ""})
	}
}

func TestNoOpProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := &worker.Worker{Domain: &domain.Service{Store: e.store, Providers: provider.Lookup}, Clients: noClients{t}, Log: e.log, Ownership: accountMode}
	resources := []domain.Resource{
		{ID: domain.NewID(), Type: "OS::Cinder::Volume", Name: "Data volume", ExtraInfo: json.RawMessage(`{"availability_zone":"az1"}`)},
		{ID: domain.NewID(), Type: "OS::Nova::Server", Name: "Web server"},
	}
	c := e.newCheckpoint(provider.NoOpID, resources, map[string]json.RawMessage{"OS::Nova::Server": json.RawMessage(`{"x":1}`)})
	got := e.protect(w, c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available", got.Status)
	}
	g := graph(t, got)
	want := map[string]map[string]any{
		resources[0].ID: {"status": "available"},
		resources[1].ID: {"status": "available"},
	}
	for id, info := range want {
		if fmt.Sprint(g[id].Info) != fmt.Sprint(info) {
			t.Errorf("node %s = %v, want %v (nothing produced)", id, g[id].Info, info)
		}
	}
	done := e.remove(w, c)
	if done.Status != domain.StatusDeleted {
		t.Fatalf("status %s, want deleted", done.Status)
	}
	for id, n := range graph(t, done) {
		if n.Info["status"] != "deleted" {
			t.Errorf("node %s = %v, want deleted", id, n.Info)
		}
	}
}

func TestParametersReachPlugins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, plain, db := e.sourceTable(), e.volume(), e.volume()
	params := map[string]json.RawMessage{
		provider.TypeDynamoDBTable:        json.RawMessage(`{"backup_name_prefix":"nightly"}`),
		provider.TypeEC2Volume:            json.RawMessage(`{"description":"Nightly volume snapshot","tags":{"team":"storage"}}`),
		provider.TypeEC2Volume + "#" + db: json.RawMessage(`{"description":"Database volume","tags":{"tier":"db","karbor:checkpoint-id":"spoofed"}}`),
	}
	// Parameters a plan would have been allowed to carry.
	p, _ := provider.Get(provider.AWSID)
	for key, raw := range params {
		typ, _, _ := strings.Cut(key, "#")
		if err := p.CheckParameters(typ, raw); err != nil {
			t.Fatalf("parameters %s = %s are not valid for the provider: %v", key, raw, err)
		}
	}
	resources := []domain.Resource{
		{ID: table, Type: provider.TypeDynamoDBTable, Name: "Orders"},
		{ID: plain, Type: provider.TypeEC2Volume, Name: "Logs volume"},
		{ID: db, Type: provider.TypeEC2Volume, Name: "Database volume"},
	}
	c := e.newCheckpoint(provider.AWSID, resources, params)
	got := e.protect(e.worker, c)
	if got.Status != domain.StatusAvailable {
		t.Fatalf("status %s, want available; graph %v", got.Status, got.ResourceGraph)
	}
	backups := e.backups(table, c)
	if len(backups) != 1 || aws.ToString(backups[0].BackupName) != "nightly-"+c.ID || infoString(graph(t, got)[table].Info, "backup_name") != "nightly-"+c.ID {
		t.Errorf("backups %v, want one named nightly-%s", backups, c.ID)
	}
	for _, tt := range []struct {
		volume, description string
		tags                map[string]string
	}{
		{plain, "Nightly volume snapshot", map[string]string{"team": "storage", provider.TagCheckpointID: c.ID}},
		{db, "Database volume", map[string]string{"tier": "db", "team": "", provider.TagCheckpointID: c.ID}},
	} {
		snaps := e.snapshots(c, tt.volume)
		if len(snaps) != 1 {
			t.Fatalf("%d snapshots of %s, want one", len(snaps), tt.volume)
		}
		if d := aws.ToString(snaps[0].Description); d != tt.description {
			t.Errorf("snapshot of %s has description %q, want %q", tt.volume, d, tt.description)
		}
		tags := map[string]string{}
		for _, tag := range snaps[0].Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		for k, v := range tt.tags {
			if tags[k] != v {
				t.Errorf("snapshot of %s has tag %s=%q, want %q (tags %v)", tt.volume, k, tags[k], v, tags)
			}
		}
	}
	if done := e.remove(e.worker, c); done.Status != domain.StatusDeleted || len(e.backups(table, c)) != 0 {
		t.Errorf("status %s and %d backups after delete, want deleted and none", done.Status, len(e.backups(table, c)))
	}
}
