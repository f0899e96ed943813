package awsplugin

// A standalone volume's restore: CreateVolume from the checkpoint's
// snapshot, tagged in the request (ownership key = project,
// karbor:restore-id, karbor:resource-id = the source volume), with a
// ClientToken derived from the task and the resource. Every step first
// looks for the volume by its tags (DescribeVolumes), so a repeated step or
// a lost State finds it; the ClientToken covers a create whose answer was
// lost before the volume could be seen.
//
// Its zone: the availability_zone parameter; else the zone protection
// recorded (availability_zone in the node's info, when there); else the
// source volume's, if it still exists (protection records only snapshot_id
// and volume_id today); else the resource ends in error asking for the
// parameter. Its type, IOPS and throughput: the parameters; else as
// recorded or, when not recorded, as the source volume has them if it still
// exists (IOPS for io1, io2 and gp3, throughput for gp3, and only when the
// type is the source's); else EC2's defaults for a volume from a snapshot.
// Its ARN's account is the snapshot's owner (DescribeSnapshots' OwnerId),
// kept in State.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/provider"
)

type volumeTasks struct{ tasks }

type volumeParams struct {
	Zone       string `json:"availability_zone"`
	Type       string `json:"volume_type"`
	IOPS       int32  `json:"iops"`
	Throughput int32  `json:"throughput"`
}

// ec2State is a volume's or instance's restore State.
type ec2State struct {
	ID      string `json:"id,omitempty"`
	Account string `json:"account,omitempty"`
}

// restoreTags are the tags of what a restore makes on EC2.
func (p tasks) restoreTags(t provider.Task, resourceID string) []ec2types.Tag {
	return []ec2types.Tag{
		{Key: aws.String(p.cfg.Key()), Value: aws.String(t.ProjectID)},
		{Key: aws.String(TagRestoreID), Value: aws.String(t.ID)},
		{Key: aws.String(provider.TagResourceID), Value: aws.String(resourceID)},
	}
}

// restoreFilters select what this task made of the resource.
func restoreFilters(t provider.Task, resourceID string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagRestoreID), Values: []string{t.ID}},
		{Name: aws.String("tag:" + provider.TagResourceID), Values: []string{resourceID}},
	}
}

// snapshot describes one snapshot; errGone when it no longer exists.
func snapshot(ctx context.Context, ec EC2RestoreAPI, id, checkpointID string) (ec2types.Snapshot, error) {
	if id == "" {
		return ec2types.Snapshot{}, errors.New("the checkpoint recorded no snapshot")
	}
	out, err := ec.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if notFound(err) || (err == nil && len(out.Snapshots) == 0) {
		return ec2types.Snapshot{}, errGone("snapshot", id, checkpointID)
	}
	if err != nil {
		return ec2types.Snapshot{}, fmt.Errorf("describe snapshot %s: %w", id, err)
	}
	return out.Snapshots[0], nil
}

func (p volumeTasks) Restore(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	ec, err := p.ec2()
	if err != nil {
		return end(err)
	}
	var st ec2State
	_ = json.Unmarshal(it.State, &st)
	src := it.Resource.ID
	snapID := savedString(it.Saved, "snapshot_id")

	// The volume made by an earlier step, by its tags.
	var vol *ec2types.Volume
	in := &ec2.DescribeVolumesInput{Filters: restoreFilters(t, src)}
	for {
		out, err := ec.DescribeVolumes(ctx, in)
		if err != nil {
			return step(fmt.Errorf("describe volumes: %w", err), st, provider.Step{})
		}
		for i, v := range out.Volumes {
			if tag(v.Tags, TagRestoreID) == t.ID && v.State != ec2types.VolumeStateDeleting && v.State != ec2types.VolumeStateDeleted {
				vol = &out.Volumes[i]
			}
		}
		if vol != nil || aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}

	if vol == nil {
		snap, err := snapshot(ctx, ec, snapID, t.CheckpointID)
		if err != nil {
			return step(err, st, provider.Step{})
		}
		switch snap.State {
		case ec2types.SnapshotStateCompleted:
		case ec2types.SnapshotStatePending:
			return provider.Step{State: marshal(st)}
		default:
			return end(fmt.Errorf("snapshot %s of checkpoint %s is %s", snapID, t.CheckpointID, snap.State))
		}
		st.Account = aws.ToString(snap.OwnerId)
		create, err := p.volumeInput(ctx, ec, t, it)
		if err != nil {
			return step(err, st, provider.Step{})
		}
		create.SnapshotId = aws.String(snapID)
		out, err := ec.CreateVolume(ctx, create)
		if err != nil {
			if code := errorCode(err); code == "InvalidSnapshot.NotFound" {
				return end(errGone("snapshot", snapID, t.CheckpointID))
			}
			return step(fmt.Errorf("create volume from snapshot %s: %w", snapID, err), st, provider.Step{})
		}
		vol = &ec2types.Volume{VolumeId: out.VolumeId, State: out.State}
	}

	st.ID = aws.ToString(vol.VolumeId)
	if st.Account == "" {
		if snap, err := snapshot(ctx, ec, snapID, t.CheckpointID); err == nil {
			st.Account = aws.ToString(snap.OwnerId)
		}
	}
	s := provider.Step{Started: true, State: marshal(st), Restored: restored(st.ID, p.ec2ARN("volume", st.ID, st.Account))}
	switch vol.State {
	case ec2types.VolumeStateAvailable, ec2types.VolumeStateInUse:
		s.Done, s.State = true, nil
	case ec2types.VolumeStateCreating:
	default:
		s.Done, s.State, s.Err = true, nil, fmt.Errorf("restored volume %s is %s", st.ID, vol.State)
	}
	return s
}

// volumeInput is CreateVolume's input but the snapshot: zone, type, IOPS,
// throughput (see the file's comment), token and tags.
func (p volumeTasks) volumeInput(ctx context.Context, ec EC2RestoreAPI, t provider.Task, it provider.TaskItem) (*ec2.CreateVolumeInput, error) {
	var params volumeParams
	_ = json.Unmarshal(it.Params, &params)
	rec := volumeParams{
		Zone: savedString(it.Saved, "availability_zone"), Type: savedString(it.Saved, "volume_type"),
		IOPS: savedInt(it.Saved, "iops"), Throughput: savedInt(it.Saved, "throughput"),
	}
	if rec.Zone == "" || rec.Type == "" {
		vols, err := describeVolumes(ctx, p.c, []string{it.Resource.ID})
		if err != nil {
			return nil, err
		}
		if v, ok := vols[it.Resource.ID]; ok {
			if rec.Zone == "" {
				rec.Zone = aws.ToString(v.AvailabilityZone)
			}
			if rec.Type == "" {
				rec.Type, rec.IOPS, rec.Throughput = string(v.VolumeType), aws.ToInt32(v.Iops), aws.ToInt32(v.Throughput)
			}
		}
	}
	in := &ec2.CreateVolumeInput{
		AvailabilityZone:  aws.String(params.Zone),
		ClientToken:       aws.String(clientToken(t, it.Resource.ID)),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume, Tags: p.restoreTags(t, it.Resource.ID)}},
	}
	if params.Zone == "" {
		if rec.Zone == "" {
			return nil, fmt.Errorf("give availability_zone: the zone of volume %s was not recorded and the volume no longer exists", it.Resource.ID)
		}
		in.AvailabilityZone = aws.String(rec.Zone)
	}
	typ := params.Type
	if typ == "" {
		typ = rec.Type
	}
	if typ != "" {
		in.VolumeType = ec2types.VolumeType(typ)
	}
	if params.IOPS > 0 {
		in.Iops = aws.Int32(params.IOPS)
	} else if rec.IOPS > 0 && typ == rec.Type && (typ == "io1" || typ == "io2" || typ == "gp3") {
		in.Iops = aws.Int32(rec.IOPS)
	}
	if params.Throughput > 0 {
		in.Throughput = aws.Int32(params.Throughput)
	} else if rec.Throughput > 0 && typ == rec.Type && typ == "gp3" {
		in.Throughput = aws.Int32(rec.Throughput)
	}
	return in, nil
}

func (p volumeTasks) Verify(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	ec, err := p.ec2()
	if err != nil {
		return end(err)
	}
	if err := checkSnapshot(ctx, ec, t, savedString(it.Saved, "snapshot_id")); err != nil {
		return step(err, nil, provider.Step{})
	}
	return provider.Step{Done: true}
}

// checkSnapshot checks that a recorded snapshot exists, carries the
// checkpoint's tag and is completed.
func checkSnapshot(ctx context.Context, ec EC2RestoreAPI, t provider.Task, id string) error {
	snap, err := snapshot(ctx, ec, id, t.CheckpointID)
	if err != nil {
		return err
	}
	if got := tag(snap.Tags, provider.TagCheckpointID); got != t.CheckpointID {
		return fmt.Errorf("snapshot %s is not tagged with checkpoint %s (%s is %q)", id, t.CheckpointID, provider.TagCheckpointID, got)
	}
	if snap.State != ec2types.SnapshotStateCompleted {
		return fmt.Errorf("snapshot %s is %s, not completed", id, snap.State)
	}
	return nil
}
