package awsplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
// the instance and the project, and so are its snapshots, in CreateImage's
// TagSpecifications (or, against an endpoint that cannot, with CreateTags
// after: Clients.TagImageSnapshotsAfter). A retry finds the image by its
// checkpoint tag (or, when AWS says the name is taken, by its name) instead
// of making a second one.
//
// An instance's node is recorded only once its image is available: a
// pending image (minutes on AWS, its snapshot ids possibly missing
// meanwhile) is waited for within the call, polling DescribeImages, at most
// opts.ImageWait and never past the context's deadline less
// DeadlineReserve; one still pending then is provider.ErrNotYet, which
// hands the record back to the stream (the redelivery finds the same image
// by tag). A failed image ends the node in error with AWS's reason, and is
// deregistered so that a retry makes a new one. A longer wait is the
// background-work mechanism restores need too (not built yet); until then
// an image pending longer than the stream's retries (MaximumRetryAttempts
// 5, each up to the 300 s timeout) leaves the checkpoint protecting, and
// the sweeper ends it.
type instancePlugin struct {
	c    Clients
	cfg  ownership.Config
	opts Options
}

func imageName(c provider.Checkpoint, instanceID string) string {
	return "karbor-" + c.ID + "-" + instanceID
}

// images lists this checkpoint's images by instance (their resource tag),
// with one paginated DescribeImages filtered by the checkpoint tag; failed
// ones too (a delete deregisters them; a protection passes over them).
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
			if tag(im.Tags, provider.TagCheckpointID) != c.ID || im.State == ec2types.ImageStateDeregistered {
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

// gone reports an image that is not, and will not become, usable.
func gone(s ec2types.ImageState) bool {
	switch s {
	case ec2types.ImageStateDeregistered, ec2types.ImageStateFailed, ec2types.ImageStateError, ec2types.ImageStateInvalid:
		return true
	}
	return false
}

// instances describes the instances by id, with their volumes: a paginated
// DescribeInstances and DescribeVolumes (sizes, types, names) per
// MaxFilterValues ids.
func (p instancePlugin) instances(ctx context.Context, ids []string) (map[string]ec2types.Instance, map[string]ec2types.Volume, error) {
	insts := map[string]ec2types.Instance{}
	var volIDs []string
	for _, chunk := range chunks(ids) {
		in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: chunk}}}
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
	}
	vols, err := describeVolumes(ctx, p.c, volIDs)
	return insts, vols, err
}

// describeVolumes describes volumes by id, with a paginated DescribeVolumes
// filtered by volume-id per MaxFilterValues ids (a missing id is left out,
// not an error).
func describeVolumes(ctx context.Context, c Clients, ids []string) (map[string]ec2types.Volume, error) {
	vols := map[string]ec2types.Volume{}
	for _, chunk := range chunks(ids) {
		in := &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: chunk}}}
		for {
			out, err := c.EC2().DescribeVolumes(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("describe volumes: %w", err)
			}
			for _, v := range out.Volumes {
				vols[aws.ToString(v.VolumeId)] = v
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return vols, nil
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
	images := make([]ec2types.Image, len(items))
	each(len(items), func(i int) {
		images[i], out[i].Err = p.image(ctx, c, items[i], existing[items[i].Resource.ID], insts)
	})
	if err := p.await(ctx, images, out); err != nil {
		return fail(err)
	}
	each(len(items), func(i int) {
		if out[i].Err == nil {
			out[i] = p.finish(ctx, c, items[i], images[i], insts[items[i].Resource.ID], vols)
		}
	})
	return out
}

// image makes the instance's image, or finds the one made by an earlier
// try.
func (p instancePlugin) image(ctx context.Context, c provider.Checkpoint, it provider.Item, existing []ec2types.Image,
	insts map[string]ec2types.Instance) (ec2types.Image, error) {
	id := it.Resource.ID
	if _, ok := insts[id]; !ok {
		return ec2types.Image{}, fmt.Errorf("instance %s not found", id)
	}
	for _, im := range existing {
		if !gone(im.State) {
			return im, nil
		}
	}
	var opts instanceOptions
	_ = json.Unmarshal(it.Params, &opts)
	if opts.Description == "" {
		opts.Description = "Karbor checkpoint " + c.ID
	}
	tags := serviceTags(c, id, p.cfg, opts.Tags)
	specs := []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: tags}}
	if !p.c.TagImageSnapshotsAfter() {
		specs = append(specs, ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags})
	}
	name := imageName(c, id)
	created, err := p.c.EC2().CreateImage(ctx, &ec2.CreateImageInput{
		InstanceId:        aws.String(id),
		Name:              aws.String(name),
		Description:       aws.String(opts.Description),
		NoReboot:          aws.Bool(!opts.Reboot),
		TagSpecifications: specs,
	})
	var imageID string
	switch {
	case err == nil:
		imageID = aws.ToString(created.ImageId)
	case errorCode(err) == "InvalidAMIName.Duplicate":
		// Made by an earlier try whose tags did not land: the name is
		// this checkpoint's and this instance's.
	default:
		return ec2types.Image{}, fmt.Errorf("create image of %s: %w", id, err)
	}
	return p.describeImage(ctx, imageID, name)
}

// await waits for the pending images among images (those of items without
// an error yet), updating them in place; an image still pending at the
// wait's end makes its outcome provider.ErrNotYet. It returns an error only
// when DescribeImages fails.
func (p instancePlugin) await(ctx context.Context, images []ec2types.Image, out []provider.Outcome) error {
	deadline := time.Now().Add(p.opts.ImageWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-DeadlineReserve).Before(deadline) {
		deadline = d.Add(-DeadlineReserve)
	}
	for {
		pending := map[string][]int{}
		var ids []string
		for i, im := range images {
			if out[i].Err == nil && im.State == ec2types.ImageStatePending {
				id := aws.ToString(im.ImageId)
				if len(pending[id]) == 0 {
					ids = append(ids, id)
				}
				pending[id] = append(pending[id], i)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if !time.Now().Add(p.opts.ImagePoll).Before(deadline) {
			for _, idx := range pending {
				for _, i := range idx {
					out[i].Err = fmt.Errorf("image %s is still pending: %w", aws.ToString(images[i].ImageId), provider.ErrNotYet)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.opts.ImagePoll):
		}
		for _, chunk := range chunks(ids) {
			got, err := p.c.EC2().DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: chunk})
			if err != nil && !notFound(err) {
				return fmt.Errorf("describe images: %w", err)
			}
			seen := map[string]bool{}
			if got != nil {
				for _, im := range got.Images {
					id := aws.ToString(im.ImageId)
					seen[id] = true
					for _, i := range pending[id] {
						images[i] = im
					}
				}
			}
			for _, id := range chunk {
				if !seen[id] {
					// Deregistered meanwhile (by another's delete, say).
					for _, i := range pending[id] {
						images[i].State = ec2types.ImageStateDeregistered
					}
				}
			}
		}
	}
}

// finish records an available image; a failed one ends the node in error,
// and is deregistered so that a retry makes another.
func (p instancePlugin) finish(ctx context.Context, c provider.Checkpoint, it provider.Item, image ec2types.Image,
	inst ec2types.Instance, vols map[string]ec2types.Volume) provider.Outcome {
	imageID := aws.ToString(image.ImageId)
	if image.State != ec2types.ImageStateAvailable {
		reason := "no reason given"
		if image.StateReason != nil && aws.ToString(image.StateReason.Message) != "" {
			reason = aws.ToString(image.StateReason.Message)
		}
		err := fmt.Errorf("image %s of %s is %s: %s", imageID, it.Resource.ID, image.State, reason)
		if image.State != ec2types.ImageStateDeregistered {
			if _, derr := p.c.EC2().DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: image.ImageId}); derr != nil && !notFound(derr) {
				err = fmt.Errorf("%w (and deregistering it: %w)", err, derr)
			}
		}
		return provider.Outcome{Err: err}
	}
	if p.c.TagImageSnapshotsAfter() {
		// The image's snapshots carry the same tags, so that a delete
		// finds them even after the image is gone.
		var opts instanceOptions
		_ = json.Unmarshal(it.Params, &opts)
		if snapIDs := imageSnapshots(image); len(snapIDs) > 0 {
			tags := serviceTags(c, it.Resource.ID, p.cfg, opts.Tags)
			if _, err := p.c.EC2().CreateTags(ctx, &ec2.CreateTagsInput{Resources: snapIDs, Tags: tags}); err != nil {
				return provider.Outcome{Err: fmt.Errorf("tag the snapshots of image %s: %w", imageID, err)}
			}
		}
	}
	return restoreInfo(inst, image, vols)
}

// describeImage reads the image just made (by id) or found taken (by name,
// one not gone first).
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
	if len(out.Images) > 0 {
		return out.Images[0], nil
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
// their snapshots: those named by the images and those found by the
// checkpoint tag (an image deregistered by an earlier try, then a crash).
// The snapshots were tagged by CreateImage; where the endpoint cannot do
// that (TagImageSnapshotsAfter), they are tagged again here first, in case
// a crash came between CreateImage and the CreateTags after it.
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
		if len(ids) > 0 && p.c.TagImageSnapshotsAfter() {
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
