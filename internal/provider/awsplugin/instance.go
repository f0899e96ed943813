package awsplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
)

// instancePlugin protects an EC2 instance (resource id: i-...) as one unit
// with an AMI (CreateImage), which captures every attached EBS volume in a
// snapshot and keeps what a restore needs to launch it again. The image is
// named karbor-<checkpoint id>-<instance id> and tagged with the checkpoint,
// the instance and the project; its snapshots get the same tags with an
// explicit CreateTags (moto answers CreateImage with snapshot
// TagSpecifications with a 500, and a CreateTags after the fact also
// covers an image made by a worker that crashed before tagging). A retry
// finds the image by its checkpoint tag (or, when AWS says the name is
// taken, by its name) instead of making a second one.
type instancePlugin struct {
	c   Clients
	cfg ownership.Config
}

func imageName(c provider.Checkpoint, instanceID string) string {
	return "karbor-" + c.ID + "-" + instanceID
}

// images lists this checkpoint's images by instance (their resource tag),
// with one paginated DescribeImages filtered by the checkpoint tag.
func (p instancePlugin) images(ctx context.Context, c provider.Checkpoint) (map[string][]ec2types.Image, error) {
	found := map[string][]ec2types.Image{}
	in := &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + provider.TagCheckpointID), Values: []string{c.ID}}},
	}
	for {
		out, err := p.c.EC2().DescribeImages(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe images: %w", err)
		}
		for _, im := range out.Images {
			if tag(im.Tags, provider.TagCheckpointID) != c.ID || gone(im.State) {
				continue
			}
			id := tag(im.Tags, provider.TagResourceID)
			found[id] = append(found[id], im)
		}
		if aws.ToString(out.NextToken) == "" {
			return found, nil
		}
		in.NextToken = out.NextToken
	}
}

func gone(s ec2types.ImageState) bool {
	return s == ec2types.ImageStateDeregistered || s == ec2types.ImageStateFailed || s == ec2types.ImageStateError
}

// instances describes the instances by id, with their volumes: one
// DescribeInstances and one DescribeVolumes (sizes, types, names) for all.
func (p instancePlugin) instances(ctx context.Context, ids []string) (map[string]ec2types.Instance, map[string]ec2types.Volume, error) {
	insts := map[string]ec2types.Instance{}
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}}}
	var volIDs []string
	for {
		out, err := p.c.EC2().DescribeInstances(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				insts[aws.ToString(i.InstanceId)] = i
				for _, m := range i.BlockDeviceMappings {
					if m.Ebs != nil {
						volIDs = append(volIDs, aws.ToString(m.Ebs.VolumeId))
					}
				}
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	vols, err := describeVolumes(ctx, p.c, volIDs)
	return insts, vols, err
}

// describeVolumes describes volumes by id, with one paginated
// DescribeVolumes filtered by volume-id (a missing id is left out, not an
// error).
func describeVolumes(ctx context.Context, c Clients, ids []string) (map[string]ec2types.Volume, error) {
	vols := map[string]ec2types.Volume{}
	if len(ids) == 0 {
		return vols, nil
	}
	in := &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: ids}}}
	for {
		out, err := c.EC2().DescribeVolumes(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe volumes: %w", err)
		}
		for _, v := range out.Volumes {
			vols[aws.ToString(v.VolumeId)] = v
		}
		if aws.ToString(out.NextToken) == "" {
			return vols, nil
		}
		in.NextToken = out.NextToken
	}
}

type instanceOptions struct {
	Reboot      bool              `json:"reboot"`
	Description string            `json:"description"`
	Tags        map[string]string `json:"tags"`
}

func (p instancePlugin) Protect(ctx context.Context, c provider.Checkpoint, items []provider.Item) []provider.Outcome {
	out := make([]provider.Outcome, len(items))
	fail := func(err error) []provider.Outcome {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	existing, err := p.images(ctx, c)
	if err != nil {
		return fail(err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.Resource.ID
	}
	insts, vols, err := p.instances(ctx, ids)
	if err != nil {
		return fail(err)
	}
	each(len(items), func(i int) {
		out[i] = p.protect(ctx, c, items[i], existing[items[i].Resource.ID], insts, vols)
	})
	return out
}

func (p instancePlugin) protect(ctx context.Context, c provider.Checkpoint, it provider.Item, existing []ec2types.Image,
	insts map[string]ec2types.Instance, vols map[string]ec2types.Volume) provider.Outcome {
	id := it.Resource.ID
	inst, ok := insts[id]
	if !ok {
		return provider.Outcome{Err: fmt.Errorf("instance %s not found", id)}
	}
	var opts instanceOptions
	_ = json.Unmarshal(it.Params, &opts)
	if opts.Description == "" {
		opts.Description = "Karbor checkpoint " + c.ID
	}
	tags := serviceTags(c, id, p.cfg, opts.Tags)
	var image ec2types.Image
	if len(existing) > 0 {
		image = existing[0]
	} else {
		name := imageName(c, id)
		created, err := p.c.EC2().CreateImage(ctx, &ec2.CreateImageInput{
			InstanceId:        aws.String(id),
			Name:              aws.String(name),
			Description:       aws.String(opts.Description),
			NoReboot:          aws.Bool(!opts.Reboot),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: tags}},
		})
		var imageID string
		switch {
		case err == nil:
			imageID = aws.ToString(created.ImageId)
		case errorCode(err) == "InvalidAMIName.Duplicate":
			// Made by an earlier try whose tags did not land: the
			// name is this checkpoint's and this instance's.
		default:
			return provider.Outcome{Err: fmt.Errorf("create image of %s: %w", id, err)}
		}
		if image, err = p.describeImage(ctx, imageID, name); err != nil {
			return provider.Outcome{Err: err}
		}
	}
	// The image's snapshots carry the same tags, so that a delete finds
	// them even after the image is gone.
	snapIDs := imageSnapshots(image)
	if len(snapIDs) > 0 {
		if _, err := p.c.EC2().CreateTags(ctx, &ec2.CreateTagsInput{Resources: snapIDs, Tags: tags}); err != nil {
			return provider.Outcome{Err: fmt.Errorf("tag the snapshots of image %s: %w", aws.ToString(image.ImageId), err)}
		}
	}
	return restoreInfo(inst, image, vols)
}

// describeImage reads the image just made (by id) or found taken (by name).
func (p instancePlugin) describeImage(ctx context.Context, imageID, name string) (ec2types.Image, error) {
	in := &ec2.DescribeImagesInput{Owners: []string{"self"}}
	if imageID != "" {
		in.ImageIds = []string{imageID}
	} else {
		in.Filters = []ec2types.Filter{{Name: aws.String("name"), Values: []string{name}}}
	}
	out, err := p.c.EC2().DescribeImages(ctx, in)
	if err != nil {
		return ec2types.Image{}, fmt.Errorf("describe image %s: %w", imageID+name, err)
	}
	for _, im := range out.Images {
		if !gone(im.State) {
			return im, nil
		}
	}
	return ec2types.Image{}, fmt.Errorf("image %s not found after it was made", imageID+name)
}

func imageSnapshots(im ec2types.Image) []string {
	var ids []string
	for _, m := range im.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.Ebs.SnapshotId) != "" {
			ids = append(ids, aws.ToString(m.Ebs.SnapshotId))
		}
	}
	return ids
}

// restoreInfo is what the instance's node records (what a restore needs to
// launch it again), and its attached volumes as dependents, each with the
// snapshot the image made of it.
func restoreInfo(inst ec2types.Instance, im ec2types.Image, vols map[string]ec2types.Volume) provider.Outcome {
	snapOf := map[string]ec2types.EbsBlockDevice{}
	for _, m := range im.BlockDeviceMappings {
		if m.Ebs != nil {
			snapOf[aws.ToString(m.DeviceName)] = *m.Ebs
		}
	}
	groups := []string{}
	for _, g := range inst.SecurityGroups {
		groups = append(groups, aws.ToString(g.GroupId))
	}
	saved := provider.Saved{
		"image_id":           aws.ToString(im.ImageId),
		"image_name":         aws.ToString(im.Name),
		"instance_type":      string(inst.InstanceType),
		"subnet_id":          aws.ToString(inst.SubnetId),
		"security_group_ids": groups,
	}
	if inst.Placement != nil {
		saved["availability_zone"] = aws.ToString(inst.Placement.AvailabilityZone)
	}
	if k := aws.ToString(inst.KeyName); k != "" {
		saved["key_name"] = k
	}
	var o provider.Outcome
	mappings := []map[string]any{}
	for _, m := range inst.BlockDeviceMappings {
		if m.Ebs == nil {
			continue
		}
		dev, volID := aws.ToString(m.DeviceName), aws.ToString(m.Ebs.VolumeId)
		snap := snapOf[dev]
		bdm := map[string]any{
			"device_name": dev, "volume_id": volID, "snapshot_id": aws.ToString(snap.SnapshotId),
			"delete_on_termination": aws.ToBool(m.Ebs.DeleteOnTermination),
		}
		name := volID
		if v, ok := vols[volID]; ok {
			bdm["size_gib"] = aws.ToInt32(v.Size)
			bdm["volume_type"] = string(v.VolumeType)
			if n := tag(v.Tags, "Name"); n != "" {
				name = n
			}
		}
		mappings = append(mappings, bdm)
		o.Dependents = append(o.Dependents, provider.Dependent{
			Resource: domain.Resource{ID: volID, Type: provider.TypeEC2Volume, Name: name},
			Saved:    provider.Saved{"snapshot_id": aws.ToString(snap.SnapshotId), "device_name": dev, "image_id": aws.ToString(im.ImageId)},
		})
	}
	saved["block_device_mappings"] = mappings
	o.Saved = saved
	return o
}

// Delete deregisters this checkpoint's images of the instances and deletes
// their snapshots: those named by the images (tagged first, so that a crash
// after the deregistration leaves them findable) and those found by the
// checkpoint tag (an image deregistered by an earlier try).
func (p instancePlugin) Delete(ctx context.Context, c provider.Checkpoint, resources []domain.Resource) []error {
	errs := make([]error, len(resources))
	images, err := p.images(ctx, c)
	if err == nil {
		var snaps map[string][]ec2types.Snapshot
		snaps, err = volumePlugin{c: p.c}.snapshots(ctx, c)
		if err == nil {
			each(len(resources), func(i int) {
				errs[i] = p.delete(ctx, c, resources[i].ID, images[resources[i].ID], snaps[resources[i].ID])
			})
			return errs
		}
	}
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (p instancePlugin) delete(ctx context.Context, c provider.Checkpoint, id string, images []ec2types.Image, tagged []ec2types.Snapshot) error {
	var snapIDs []string
	for _, s := range tagged {
		snapIDs = append(snapIDs, aws.ToString(s.SnapshotId))
	}
	for _, im := range images {
		ids := imageSnapshots(im)
		if len(ids) > 0 {
			_, err := p.c.EC2().CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: serviceTags(c, id, p.cfg, nil)})
			if err != nil && !notFound(err) {
				return fmt.Errorf("tag the snapshots of image %s: %w", aws.ToString(im.ImageId), err)
			}
		}
		snapIDs = append(snapIDs, ids...)
		_, err := p.c.EC2().DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: im.ImageId})
		if err != nil && !notFound(err) {
			return fmt.Errorf("deregister image %s: %w", aws.ToString(im.ImageId), err)
		}
	}
	seen := map[string]bool{}
	for _, s := range snapIDs {
		if seen[s] {
			continue
		}
		seen[s] = true
		_, err := p.c.EC2().DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(s)})
		if err != nil && !notFound(err) {
			return fmt.Errorf("delete snapshot %s: %w", s, err)
		}
	}
	return nil
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
