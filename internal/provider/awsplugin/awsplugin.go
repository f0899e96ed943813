// Package awsplugin holds the AWS provider's plugins (package provider has
// its metadata and schemas): DynamoDB on-demand backups and EBS snapshots.
// Only the worker links it.
package awsplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"karbor/internal/provider"
)

// Clients are the AWS APIs the AWS provider's plugins call.
type Clients interface {
	DynamoDB() DynamoDBBackupAPI
	EC2() EC2SnapshotAPI
}

// DynamoDBBackupAPI is what the DynamoDB table plugin calls.
type DynamoDBBackupAPI interface {
	CreateBackup(context.Context, *dynamodb.CreateBackupInput, ...func(*dynamodb.Options)) (*dynamodb.CreateBackupOutput, error)
	ListBackups(context.Context, *dynamodb.ListBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.ListBackupsOutput, error)
	DeleteBackup(context.Context, *dynamodb.DeleteBackupInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteBackupOutput, error)
}

// EC2SnapshotAPI is what the EC2 volume plugin calls.
type EC2SnapshotAPI interface {
	CreateSnapshot(context.Context, *ec2.CreateSnapshotInput, ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error)
	DescribeSnapshots(context.Context, *ec2.DescribeSnapshotsInput, ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DeleteSnapshot(context.Context, *ec2.DeleteSnapshotInput, ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
}

// Plugins are the AWS provider's plugins by resource type, over these
// clients.
func Plugins(c Clients) map[string]provider.Plugin {
	return map[string]provider.Plugin{
		provider.TypeDynamoDBTable: tablePlugin{c},
		provider.TypeEC2Volume:     volumePlugin{c},
	}
}

// tablePlugin protects a DynamoDB table (resource id: its name or ARN) with
// an on-demand backup named after the checkpoint, which is how a retry finds
// the backup again instead of making a second one.
type tablePlugin struct{ c Clients }

func (p tablePlugin) backupName(t provider.Target, params json.RawMessage) string {
	prefix := "karbor"
	var opts struct {
		Prefix string `json:"backup_name_prefix"`
	}
	if json.Unmarshal(params, &opts) == nil && opts.Prefix != "" {
		prefix = opts.Prefix
	}
	return prefix + "-" + t.CheckpointID
}

// backups lists the table's user backups made for this checkpoint.
func (p tablePlugin) backups(ctx context.Context, t provider.Target) ([]ddbtypes.BackupSummary, error) {
	var found []ddbtypes.BackupSummary
	in := &dynamodb.ListBackupsInput{TableName: aws.String(t.Resource.ID), BackupType: ddbtypes.BackupTypeFilterUser}
	for {
		out, err := p.c.DynamoDB().ListBackups(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, b := range out.BackupSummaries {
			if strings.HasSuffix(aws.ToString(b.BackupName), "-"+t.CheckpointID) && b.BackupStatus != ddbtypes.BackupStatusDeleted {
				found = append(found, b)
			}
		}
		if out.LastEvaluatedBackupArn == nil {
			return found, nil
		}
		in.ExclusiveStartBackupArn = out.LastEvaluatedBackupArn
	}
}

func (p tablePlugin) Protect(ctx context.Context, t provider.Target, params json.RawMessage) (provider.Saved, error) {
	name := p.backupName(t, params)
	existing, err := p.backups(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("list backups of %s: %w", t.Resource.ID, err)
	}
	for _, b := range existing {
		if aws.ToString(b.BackupName) == name {
			return provider.Saved{"backup_arn": aws.ToString(b.BackupArn), "backup_name": name}, nil
		}
	}
	out, err := p.c.DynamoDB().CreateBackup(ctx, &dynamodb.CreateBackupInput{
		TableName:  aws.String(t.Resource.ID),
		BackupName: aws.String(name),
	})
	if err != nil {
		return nil, fmt.Errorf("create backup of %s: %w", t.Resource.ID, err)
	}
	return provider.Saved{"backup_arn": aws.ToString(out.BackupDetails.BackupArn), "backup_name": name}, nil
}

// Delete deletes the table's backups named for this checkpoint: also those
// of a protection that crashed before recording them.
func (p tablePlugin) Delete(ctx context.Context, t provider.Target) error {
	existing, err := p.backups(ctx, t)
	if err != nil && !notFound(err) {
		return fmt.Errorf("list backups of %s: %w", t.Resource.ID, err)
	}
	for _, b := range existing {
		arn := aws.ToString(b.BackupArn)
		_, err := p.c.DynamoDB().DeleteBackup(ctx, &dynamodb.DeleteBackupInput{BackupArn: aws.String(arn)})
		if err != nil && !notFound(err) {
			return fmt.Errorf("delete backup %s: %w", arn, err)
		}
	}
	return nil
}

// volumePlugin protects an EBS volume (resource id: vol-...) with a snapshot
// tagged with the checkpoint and resource, by which a retry finds it again.
type volumePlugin struct{ c Clients }

func (p volumePlugin) snapshots(ctx context.Context, t provider.Target) ([]ec2types.Snapshot, error) {
	var found []ec2types.Snapshot
	in := &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{t.CheckpointID}},
			{Name: aws.String("tag:" + provider.TagResourceID), Values: []string{t.Resource.ID}},
		},
	}
	for {
		out, err := p.c.EC2().DescribeSnapshots(ctx, in)
		if err != nil {
			return nil, err
		}
		found = append(found, out.Snapshots...)
		if aws.ToString(out.NextToken) == "" {
			return found, nil
		}
		in.NextToken = out.NextToken
	}
}

func (p volumePlugin) Protect(ctx context.Context, t provider.Target, params json.RawMessage) (provider.Saved, error) {
	existing, err := p.snapshots(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("describe snapshots of %s: %w", t.Resource.ID, err)
	}
	for _, s := range existing {
		if s.State != ec2types.SnapshotStateError {
			return provider.Saved{"snapshot_id": aws.ToString(s.SnapshotId), "volume_id": t.Resource.ID}, nil
		}
	}
	var opts struct {
		Description string            `json:"description"`
		Tags        map[string]string `json:"tags"`
	}
	_ = json.Unmarshal(params, &opts)
	if opts.Description == "" {
		opts.Description = "Karbor checkpoint " + t.CheckpointID
	}
	tags := []ec2types.Tag{
		{Key: aws.String(provider.TagCheckpointID), Value: aws.String(t.CheckpointID)},
		{Key: aws.String(provider.TagResourceID), Value: aws.String(t.Resource.ID)},
		{Key: aws.String(provider.TagProjectID), Value: aws.String(t.ProjectID)},
	}
	for k, v := range opts.Tags {
		if !strings.HasPrefix(k, "karbor:") {
			tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
	}
	out, err := p.c.EC2().CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
		VolumeId:          aws.String(t.Resource.ID),
		Description:       aws.String(opts.Description),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags}},
	})
	if err != nil {
		return nil, fmt.Errorf("create snapshot of %s: %w", t.Resource.ID, err)
	}
	return provider.Saved{"snapshot_id": aws.ToString(out.SnapshotId), "volume_id": t.Resource.ID}, nil
}

// Delete deletes the snapshots tagged with this checkpoint and resource:
// also those of a protection that crashed before recording them.
func (p volumePlugin) Delete(ctx context.Context, t provider.Target) error {
	existing, err := p.snapshots(ctx, t)
	if err != nil {
		return fmt.Errorf("describe snapshots of %s: %w", t.Resource.ID, err)
	}
	for _, s := range existing {
		id := aws.ToString(s.SnapshotId)
		_, err := p.c.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
		if err != nil && !notFound(err) {
			return fmt.Errorf("delete snapshot %s: %w", id, err)
		}
	}
	return nil
}

// notFound reports an AWS error that means there is nothing to delete.
func notFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "BackupNotFoundException", "TableNotFoundException", "ResourceNotFoundException",
		"InvalidSnapshot.NotFound", "InvalidVolume.NotFound":
		return true
	}
	return false
}
