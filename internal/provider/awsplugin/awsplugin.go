// Package awsplugin holds the AWS provider's plugins (package provider has
// its metadata and schemas): DynamoDB on-demand backups, EBS snapshots and
// EC2 images, and the ownership check the worker makes right before them.
// Only the worker links it.
package awsplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/ownership"
	"karbor/internal/provider"
)

// Clients are the AWS APIs the AWS provider's plugins call.
type Clients interface {
	DynamoDB() DynamoDBBackupAPI
	EC2() EC2SnapshotAPI
	// TagImageSnapshotsAfter reports an EC2 endpoint that cannot tag an
	// image's snapshots in CreateImage's TagSpecifications (moto answers
	// 500 NotImplementedError): the instance plugin then tags them with a
	// CreateTags after CreateImage, and again before a delete. Off against
	// AWS, whose worker role does not allow that CreateTags.
	TagImageSnapshotsAfter() bool
}

// DynamoDBBackupAPI is what the DynamoDB table plugin and the ownership
// check (inventory.Owned) call.
type DynamoDBBackupAPI interface {
	inventory.DynamoDBAPI
	CreateBackup(context.Context, *dynamodb.CreateBackupInput, ...func(*dynamodb.Options)) (*dynamodb.CreateBackupOutput, error)
	ListBackups(context.Context, *dynamodb.ListBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.ListBackupsOutput, error)
	DeleteBackup(context.Context, *dynamodb.DeleteBackupInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteBackupOutput, error)
}

// EC2SnapshotAPI is what the EC2 volume and instance plugins and the
// ownership check (inventory.Owned: DescribeVolumes, DescribeInstances)
// call.
type EC2SnapshotAPI interface {
	inventory.EC2API
	CreateSnapshot(context.Context, *ec2.CreateSnapshotInput, ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error)
	DescribeSnapshots(context.Context, *ec2.DescribeSnapshotsInput, ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DeleteSnapshot(context.Context, *ec2.DeleteSnapshotInput, ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
	CreateImage(context.Context, *ec2.CreateImageInput, ...func(*ec2.Options)) (*ec2.CreateImageOutput, error)
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DeregisterImage(context.Context, *ec2.DeregisterImageInput, ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// Options tune how long the instance plugin waits for its images; the zero
// value is the worker's (DefaultImagePoll, DefaultImageWait).
type Options struct {
	// ImagePoll is the time between two DescribeImages of pending images.
	ImagePoll time.Duration
	// ImageWait bounds the wait for pending images in one call (also
	// bounded by the context's deadline less DeadlineReserve).
	ImageWait time.Duration

	// TableARNPrefix is "arn:<partition>:dynamodb:<region>:<account>:table/"
	// (TABLE_ARN_PREFIX): the restore steps (TaskPlugins) take the EC2
	// ARNs' partition, region and account from it; empty, the
	// environment's.
	TableARNPrefix string
	// CountWait bounds the restore test's count in one step (default
	// CountWait).
	CountWait time.Duration

	// Tests only: the restore test's Scan page size (0: DynamoDB's 1 MB)
	// and most pages per step (0: no limit but CountWait).
	scanLimit int32
	scanPages int
}

// The worker's image wait: its Lambda timeout is 300 s, and what it does
// after the wait (the outcome's write) needs a few seconds.
const (
	DefaultImagePoll = 15 * time.Second
	DefaultImageWait = 4 * time.Minute
	DeadlineReserve  = 30 * time.Second
)

// Plugins are the AWS provider's plugins by resource type, over these
// clients; cfg gives the ownership tag they put on what they make, and
// the tag keys they never copy from a plan's parameters.
func Plugins(c Clients, cfg ownership.Config, opts Options) map[string]provider.Plugin {
	if opts.ImagePoll <= 0 {
		opts.ImagePoll = DefaultImagePoll
	}
	if opts.ImageWait <= 0 {
		opts.ImageWait = DefaultImageWait
	}
	return map[string]provider.Plugin{
		provider.TypeDynamoDBTable: tablePlugin{c},
		provider.TypeEC2Volume:     volumePlugin{c, cfg},
		provider.TypeEC2Instance:   instancePlugin{c, cfg, opts},
	}
}

// MaxFilterValues is how many values EC2 takes in one filter (and in one
// id list); every filter the plugins build is split into calls of at most
// this many.
const MaxFilterValues = 200

// chunks splits ids into slices of at most MaxFilterValues.
func chunks(ids []string) [][]string {
	var out [][]string
	for len(ids) > MaxFilterValues {
		out = append(out, ids[:MaxFilterValues])
		ids = ids[MaxFilterValues:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// serviceTags are the tags on everything the plugins make for a
// checkpoint: how they find it again, and whose it is.
func serviceTags(c provider.Checkpoint, resourceID string, cfg ownership.Config, extra map[string]string) []ec2types.Tag {
	tags := []ec2types.Tag{
		{Key: aws.String(provider.TagCheckpointID), Value: aws.String(c.ID)},
		{Key: aws.String(provider.TagResourceID), Value: aws.String(resourceID)},
		{Key: aws.String(cfg.Key()), Value: aws.String(c.ProjectID)},
	}
	for k, v := range extra {
		// The API refuses such keys; a plan stored before the rule may
		// still carry them.
		if !cfg.ReservedTag(k) {
			tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
	}
	return tags
}

// Parallelism is how many creates or deletes a plugin has in flight at
// once. AWS's documented rates: CreateBackup 50 calls/s, DeleteBackup 10/s,
// ListBackups 5/s (DynamoDB API reference); CreateSnapshot and
// DeleteSnapshot draw on EC2's account-wide token bucket for mutating
// actions. Four in flight stays well inside them with calls of tens of
// milliseconds; a throttled call is retried alone by the clients' retryer
// (the worker's clients use adaptive mode and more attempts), not by
// redoing the record.
const Parallelism = 4

// each runs f(i) for i in [0, n), at most Parallelism at a time.
func each(n int, f func(i int)) {
	sem := make(chan struct{}, Parallelism)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// clockSkew widens a listing's window below the checkpoint's creation: the
// checkpoint's time is the API function's clock, a backup's AWS's.
const clockSkew = 5 * time.Minute

// tablePlugin protects a DynamoDB table (resource id: its name or ARN) with
// an on-demand backup named after the checkpoint, which is how a retry finds
// the backup again instead of making a second one. The backup carries no
// project tag: DynamoDB's TagResource and ABAC are for tables (and their
// indexes), not on-demand backups, so the backup's name
// (<prefix>-<checkpoint id>) is its link to the checkpoint and, through it,
// to the project.
type tablePlugin struct{ c Clients }

func backupName(c provider.Checkpoint, params json.RawMessage) string {
	prefix := "karbor"
	var opts struct {
		Prefix string `json:"backup_name_prefix"`
	}
	if json.Unmarshal(params, &opts) == nil && opts.Prefix != "" {
		prefix = opts.Prefix
	}
	return prefix + "-" + c.ID
}

// backups lists the user backups made for this checkpoint, of any table,
// with one paginated ListBackups from the checkpoint's creation on (the
// backups of every table in the account made since, filtered here by the
// checkpoint id their names end with).
func (p tablePlugin) backups(ctx context.Context, c provider.Checkpoint) ([]ddbtypes.BackupSummary, error) {
	var found []ddbtypes.BackupSummary
	in := &dynamodb.ListBackupsInput{BackupType: ddbtypes.BackupTypeFilterUser}
	if !c.CreatedAt.IsZero() {
		in.TimeRangeLowerBound = aws.Time(c.CreatedAt.Add(-clockSkew))
	}
	for {
		out, err := p.c.DynamoDB().ListBackups(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list backups: %w", err)
		}
		for _, b := range out.BackupSummaries {
			if strings.HasSuffix(aws.ToString(b.BackupName), "-"+c.ID) && b.BackupStatus != ddbtypes.BackupStatusDeleted {
				found = append(found, b)
			}
		}
		if out.LastEvaluatedBackupArn == nil {
			return found, nil
		}
		in.ExclusiveStartBackupArn = out.LastEvaluatedBackupArn
	}
}

// ofTable reports whether the backup is of the table a resource id names
// (by name or by ARN).
func ofTable(b ddbtypes.BackupSummary, id string) bool {
	return aws.ToString(b.TableName) == id || aws.ToString(b.TableArn) == id
}

func (p tablePlugin) Protect(ctx context.Context, c provider.Checkpoint, items []provider.Item) []provider.Outcome {
	out := make([]provider.Outcome, len(items))
	existing, err := p.backups(ctx, c)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	each(len(items), func(i int) {
		id, name := items[i].Resource.ID, backupName(c, items[i].Params)
		for _, b := range existing {
			if aws.ToString(b.BackupName) == name && ofTable(b, id) {
				out[i].Saved = provider.Saved{"backup_arn": aws.ToString(b.BackupArn), "backup_name": name}
				return
			}
		}
		created, err := p.c.DynamoDB().CreateBackup(ctx, &dynamodb.CreateBackupInput{TableName: aws.String(id), BackupName: aws.String(name)})
		if err != nil {
			out[i].Err = fmt.Errorf("create backup of %s: %w", id, err)
			return
		}
		out[i].Saved = provider.Saved{"backup_arn": aws.ToString(created.BackupDetails.BackupArn), "backup_name": name}
	})
	return out
}

// Delete deletes the tables' backups named for this checkpoint: also those
// of a protection that crashed before recording them.
func (p tablePlugin) Delete(ctx context.Context, c provider.Checkpoint, resources []domain.Resource) []error {
	errs := make([]error, len(resources))
	existing, err := p.backups(ctx, c)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	each(len(resources), func(i int) {
		for _, b := range existing {
			if !ofTable(b, resources[i].ID) {
				continue
			}
			arn := aws.ToString(b.BackupArn)
			_, err := p.c.DynamoDB().DeleteBackup(ctx, &dynamodb.DeleteBackupInput{BackupArn: aws.String(arn)})
			if err != nil && !notFound(err) {
				errs[i] = fmt.Errorf("delete backup %s: %w", arn, err)
				return
			}
		}
	})
	return errs
}

// volumePlugin protects an EBS volume (resource id: vol-...) with a snapshot
// tagged with the checkpoint and resource, by which a retry finds it again.
type volumePlugin struct {
	c   Clients
	cfg ownership.Config
}

// snapshots lists this checkpoint's snapshots by volume (their resource
// tag), with one paginated DescribeSnapshots filtered by the checkpoint tag.
func (p volumePlugin) snapshots(ctx context.Context, c provider.Checkpoint) (map[string][]ec2types.Snapshot, error) {
	found := map[string][]ec2types.Snapshot{}
	in := &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters:  []ec2types.Filter{{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{c.ID}}},
	}
	for {
		out, err := p.c.EC2().DescribeSnapshots(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe snapshots: %w", err)
		}
		for _, s := range out.Snapshots {
			if tag(s.Tags, provider.TagCheckpointID) != c.ID { // the filter's, checked again
				continue
			}
			vol := tag(s.Tags, provider.TagResourceID)
			found[vol] = append(found[vol], s)
		}
		if aws.ToString(out.NextToken) == "" {
			return found, nil
		}
		in.NextToken = out.NextToken
	}
}

func tag(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func (p volumePlugin) Protect(ctx context.Context, c provider.Checkpoint, items []provider.Item) []provider.Outcome {
	out := make([]provider.Outcome, len(items))
	existing, err := p.snapshots(ctx, c)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	each(len(items), func(i int) {
		out[i].Saved, out[i].Err = p.protect(ctx, c, items[i], existing[items[i].Resource.ID])
	})
	return out
}

func (p volumePlugin) protect(ctx context.Context, c provider.Checkpoint, it provider.Item, existing []ec2types.Snapshot) (provider.Saved, error) {
	id := it.Resource.ID
	for _, s := range existing {
		if s.State != ec2types.SnapshotStateError {
			return provider.Saved{"snapshot_id": aws.ToString(s.SnapshotId), "volume_id": id}, nil
		}
	}
	var opts struct {
		Description string            `json:"description"`
		Tags        map[string]string `json:"tags"`
	}
	_ = json.Unmarshal(it.Params, &opts)
	if opts.Description == "" {
		opts.Description = "Karbor checkpoint " + c.ID
	}
	tags := serviceTags(c, id, p.cfg, opts.Tags)
	out, err := p.c.EC2().CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
		VolumeId:          aws.String(id),
		Description:       aws.String(opts.Description),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags}},
	})
	if err != nil {
		return nil, fmt.Errorf("create snapshot of %s: %w", id, err)
	}
	return provider.Saved{"snapshot_id": aws.ToString(out.SnapshotId), "volume_id": id}, nil
}

// Delete deletes the snapshots tagged with this checkpoint and one of the
// resources: also those of a protection that crashed before recording them.
func (p volumePlugin) Delete(ctx context.Context, c provider.Checkpoint, resources []domain.Resource) []error {
	errs := make([]error, len(resources))
	existing, err := p.snapshots(ctx, c)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	each(len(resources), func(i int) {
		for _, s := range existing[resources[i].ID] {
			id := aws.ToString(s.SnapshotId)
			_, err := p.c.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
			if err != nil && !notFound(err) {
				errs[i] = fmt.Errorf("delete snapshot %s: %w", id, err)
				return
			}
		}
	})
	return errs
}

// notFound reports an AWS error that means there is nothing to delete.
func notFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "BackupNotFoundException", "TableNotFoundException", "ResourceNotFoundException",
		"InvalidSnapshot.NotFound", "InvalidVolume.NotFound", "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable":
		return true
	}
	return false
}
