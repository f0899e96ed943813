package awsplugin

// An instance's restore: RunInstances of the checkpoint's image (one
// instance), with instance_type, subnet_id, security_group_ids and key_name
// from the parameters, else as recorded (without a recorded subnet, in the
// recorded zone), tagged in the request, instance and volumes alike
// (ownership key = project, karbor:restore-id, karbor:resource-id = the
// source instance), with a ClientToken derived from the task and the
// resource. Every step first looks for the instance by its tags
// (DescribeInstances, not shutting-down or terminated). The image's block
// device mappings make the instance's volumes: each dependent (a volume
// protected with the instance) is reported restored as the new instance's
// volume at the dependent's recorded device_name, once the instance runs.
// The ARN's account is the reservation's owner.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/provider"
)

type instanceTasks struct{ tasks }

type instanceParams struct {
	InstanceType     string   `json:"instance_type"`
	SubnetID         string   `json:"subnet_id"`
	SecurityGroupIDs []string `json:"security_group_ids"`
	KeyName          string   `json:"key_name"`
}

// findInstance is the instance this task launched for the resource, with
// its reservation's owner, or nil.
func findInstance(ctx context.Context, ec EC2RestoreAPI, t provider.Task, resourceID string) (*ec2types.Instance, string, error) {
	in := &ec2.DescribeInstancesInput{Filters: append(restoreFilters(t, resourceID), ec2types.Filter{
		Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}})}
	for {
		out, err := ec.DescribeInstances(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range out.Reservations {
			for i, inst := range r.Instances {
				if tag(inst.Tags, TagRestoreID) == t.ID && tag(inst.Tags, provider.TagResourceID) == resourceID {
					return &r.Instances[i], aws.ToString(r.OwnerId), nil
				}
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil, "", nil
		}
		in.NextToken = out.NextToken
	}
}

// image describes one image: errGone when it no longer exists or was
// deregistered.
func image(ctx context.Context, ec EC2RestoreAPI, id, checkpointID string) (ec2types.Image, error) {
	if id == "" {
		return ec2types.Image{}, errors.New("the checkpoint recorded no image")
	}
	out, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if notFound(err) || (err == nil && (len(out.Images) == 0 || out.Images[0].State == ec2types.ImageStateDeregistered)) {
		return ec2types.Image{}, errGone("image", id, checkpointID)
	}
	if err != nil {
		return ec2types.Image{}, fmt.Errorf("describe image %s: %w", id, err)
	}
	return out.Images[0], nil
}

func (p instanceTasks) Restore(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	s := p.restore(ctx, t, it)
	if s.Done && s.Err != nil && len(it.Dependents) > 0 {
		// Its volumes are made with it, or not at all.
		s.Dependents = map[string]provider.Step{}
		for _, d := range it.Dependents {
			s.Dependents[d.Resource.ID] = provider.Step{Done: true, Err: fmt.Errorf("restored with instance %s, which failed: %w", it.Resource.ID, s.Err)}
		}
	}
	return s
}

func (p instanceTasks) restore(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	ec, err := p.ec2()
	if err != nil {
		return end(err)
	}
	var st ec2State
	_ = json.Unmarshal(it.State, &st)
	src := it.Resource.ID
	imageID := savedString(it.Saved, "image_id")

	inst, owner, err := findInstance(ctx, ec, t, src)
	if err != nil {
		return step(err, st, provider.Step{})
	}
	if inst == nil {
		im, err := image(ctx, ec, imageID, t.CheckpointID)
		if err != nil {
			return step(err, st, provider.Step{})
		}
		switch im.State {
		case ec2types.ImageStateAvailable:
		case ec2types.ImageStatePending:
			return provider.Step{State: marshal(st)}
		default:
			return end(fmt.Errorf("image %s of checkpoint %s is %s", imageID, t.CheckpointID, im.State))
		}
		out, err := ec.RunInstances(ctx, p.runInput(t, it))
		if err != nil {
			if code := errorCode(err); code == "InvalidAMIID.NotFound" || code == "InvalidAMIID.Unavailable" {
				return end(errGone("image", imageID, t.CheckpointID))
			}
			return step(fmt.Errorf("run instance from image %s: %w", imageID, err), st, provider.Step{})
		}
		if len(out.Instances) == 0 {
			return step(fmt.Errorf("run instance from image %s: no instance in the answer", imageID), st, provider.Step{})
		}
		inst, owner = &out.Instances[0], aws.ToString(out.OwnerId)
	}
	st.ID = aws.ToString(inst.InstanceId)
	if owner != "" {
		st.Account = owner
	}
	s := provider.Step{Started: true, State: marshal(st), Restored: restored(st.ID, p.ec2ARN("instance", st.ID, st.Account))}
	var state ec2types.InstanceStateName
	if inst.State != nil {
		state = inst.State.Name
	}
	switch state {
	case ec2types.InstanceStateNameRunning:
		s.Done, s.State = true, nil
	case ec2types.InstanceStateNamePending, "":
	default:
		s.Done, s.State, s.Err = true, nil, fmt.Errorf("restored instance %s is %s", st.ID, state)
	}
	s.Dependents = p.dependents(it, inst, st.Account, s.Done && s.Err == nil)
	return s
}

// dependents reports the instance's volumes: started while it starts; once
// it runs, each the volume at the dependent's recorded device.
func (p instanceTasks) dependents(it provider.TaskItem, inst *ec2types.Instance, account string, running bool) map[string]provider.Step {
	if len(it.Dependents) == 0 {
		return nil
	}
	at := map[string]string{}
	for _, m := range inst.BlockDeviceMappings {
		if m.Ebs != nil {
			at[aws.ToString(m.DeviceName)] = aws.ToString(m.Ebs.VolumeId)
		}
	}
	out := map[string]provider.Step{}
	for _, d := range it.Dependents {
		if !running {
			out[d.Resource.ID] = provider.Step{Started: true}
			continue
		}
		dev := savedString(d.Saved, "device_name")
		vol := at[dev]
		if vol == "" {
			out[d.Resource.ID] = provider.Step{Done: true, Started: true,
				Err: fmt.Errorf("restored instance %s has no volume at %s", aws.ToString(inst.InstanceId), dev)}
			continue
		}
		out[d.Resource.ID] = provider.Step{Done: true, Started: true, Restored: restored(vol, p.ec2ARN("volume", vol, account))}
	}
	return out
}

// runInput is RunInstances' input: the parameters, else as recorded.
func (p instanceTasks) runInput(t provider.Task, it provider.TaskItem) *ec2.RunInstancesInput {
	var params instanceParams
	_ = json.Unmarshal(it.Params, &params)
	pick := func(param, key string) string {
		if param != "" {
			return param
		}
		return savedString(it.Saved, key)
	}
	tags := p.restoreTags(t, it.Resource.ID)
	in := &ec2.RunInstancesInput{
		ImageId:     aws.String(savedString(it.Saved, "image_id")),
		MinCount:    aws.Int32(1),
		MaxCount:    aws.Int32(1),
		ClientToken: aws.String(clientToken(t, it.Resource.ID)),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
		},
	}
	if v := pick(params.InstanceType, "instance_type"); v != "" {
		in.InstanceType = ec2types.InstanceType(v)
	}
	if v := pick(params.KeyName, "key_name"); v != "" {
		in.KeyName = aws.String(v)
	}
	if v := pick(params.SubnetID, "subnet_id"); v != "" {
		in.SubnetId = aws.String(v)
	} else if z := savedString(it.Saved, "availability_zone"); z != "" {
		in.Placement = &ec2types.Placement{AvailabilityZone: aws.String(z)}
	}
	groups := params.SecurityGroupIDs
	if len(groups) == 0 {
		groups = savedStrings(it.Saved, "security_group_ids")
	}
	if len(groups) > 0 {
		in.SecurityGroupIds = groups
	}
	// The image's volumes take the type, IOPS and throughput their own
	// parameters give (their zone is the instance's): the mapping of the
	// device overrides the image's.
	for _, d := range it.Dependents {
		var vp volumeParams
		_ = json.Unmarshal(d.Params, &vp)
		dev := savedString(d.Saved, "device_name")
		if dev == "" || (vp.Type == "" && vp.IOPS == 0 && vp.Throughput == 0) {
			continue
		}
		ebs := &ec2types.EbsBlockDevice{}
		if vp.Type != "" {
			ebs.VolumeType = ec2types.VolumeType(vp.Type)
		}
		if vp.IOPS > 0 {
			ebs.Iops = aws.Int32(vp.IOPS)
		}
		if vp.Throughput > 0 {
			ebs.Throughput = aws.Int32(vp.Throughput)
		}
		if snap := savedString(d.Saved, "snapshot_id"); snap != "" {
			ebs.SnapshotId = aws.String(snap)
		}
		in.BlockDeviceMappings = append(in.BlockDeviceMappings, ec2types.BlockDeviceMapping{DeviceName: aws.String(dev), Ebs: ebs})
	}
	return in
}

func (p instanceTasks) Verify(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	ec, err := p.ec2()
	if err != nil {
		return end(err)
	}
	imageID := savedString(it.Saved, "image_id")
	s := provider.Step{Done: true}
	if len(it.Dependents) > 0 {
		s.Dependents = map[string]provider.Step{}
	}
	var bad []error
	for _, d := range it.Dependents {
		ds := provider.Step{Done: true}
		if err := checkSnapshot(ctx, ec, t, savedString(d.Saved, "snapshot_id")); err != nil {
			if isTransient(err) {
				return provider.Step{}
			}
			ds.Err = err
			bad = append(bad, fmt.Errorf("volume %s: %w", d.Resource.ID, err))
		}
		s.Dependents[d.Resource.ID] = ds
	}
	im, err := image(ctx, ec, imageID, t.CheckpointID)
	switch {
	case err != nil:
		if isTransient(err) {
			return provider.Step{}
		}
		bad = append([]error{err}, bad...)
	case tag(im.Tags, provider.TagCheckpointID) != t.CheckpointID:
		bad = append([]error{fmt.Errorf("image %s is not tagged with checkpoint %s", imageID, t.CheckpointID)}, bad...)
	case im.State != ec2types.ImageStateAvailable:
		bad = append([]error{fmt.Errorf("image %s is %s, not available", imageID, im.State)}, bad...)
	}
	if len(bad) > 0 {
		msgs := make([]string, len(bad))
		for i, e := range bad {
			msgs[i] = e.Error()
		}
		s.Err = errors.New(strings.Join(msgs, "; "))
	}
	return s
}
