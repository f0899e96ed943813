package awsplugin

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
)

// NotOwnedError is the outcome of a resource the project does not own (any
// more): missing, untagged, another project's, the service's own, or in a
// state that cannot be protected. One text for all, as the API answers.
type NotOwnedError struct{ Type, ID string }

func (e *NotOwnedError) Error() string {
	return e.Type + " " + e.ID + " is not owned by the project"
}

// Owners checks, right before protection, that the project owns each
// resource, with the describe calls of the AWS APIs: DescribeTable and
// ListTagsOfResource per table, one DescribeVolumes and one
// DescribeInstances (filtered by id) for all volumes and instances. It
// returns one error per resource: nil when owned, a *NotOwnedError, or
// the AWS error (a transient one retries the record). It will be unified
// with package inventory's check.
type Owners struct {
	C      Clients
	Config ownership.Config
}

// Owned implements the worker's OwnershipCheck.
func (o Owners) Owned(ctx context.Context, projectID string, resources []domain.Resource) []error {
	errs := make([]error, len(resources))
	byType := map[string][]int{}
	for i, r := range resources {
		byType[r.Type] = append(byType[r.Type], i)
	}
	for typ, idx := range byType {
		switch typ {
		case provider.TypeDynamoDBTable:
			each(len(idx), func(k int) { errs[idx[k]] = o.table(ctx, projectID, resources[idx[k]].ID) })
		case provider.TypeEC2Volume, provider.TypeEC2Instance:
			ids := make([]string, len(idx))
			for k, i := range idx {
				ids[k] = resources[i].ID
			}
			tags, err := o.ec2Tags(ctx, typ, ids)
			for k, i := range idx {
				switch t, ok := tags[ids[k]]; {
				case err != nil:
					errs[i] = err
				case !ok || !o.Config.Owns(projectID, t):
					errs[i] = &NotOwnedError{typ, ids[k]}
				}
			}
		default:
			for _, i := range idx {
				errs[i] = &NotOwnedError{typ, resources[i].ID}
			}
		}
	}
	return errs
}

func (o Owners) table(ctx context.Context, projectID, id string) error {
	notOwned := &NotOwnedError{provider.TypeDynamoDBTable, id}
	if o.Config.ServiceTable(id) {
		return notOwned
	}
	d, err := o.C.DynamoDB().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(id)})
	if notFound(err) {
		return notOwned
	}
	if err != nil {
		return fmt.Errorf("describe table %s: %w", id, err)
	}
	switch d.Table.TableStatus {
	case ddbtypes.TableStatusDeleting, ddbtypes.TableStatusArchiving, ddbtypes.TableStatusArchived,
		ddbtypes.TableStatusInaccessibleEncryptionCredentials:
		return notOwned
	}
	if o.Config.ServiceTable(aws.ToString(d.Table.TableName)) {
		return notOwned
	}
	tags := map[string]string{}
	in := &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn}
	for {
		out, err := o.C.DynamoDB().ListTagsOfResource(ctx, in)
		if err != nil {
			return fmt.Errorf("list tags of table %s: %w", id, err)
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if !o.Config.Owns(projectID, tags) {
		return notOwned
	}
	return nil
}

// ec2Tags returns the tags of the volumes or instances that exist in a
// protectable state, by id.
func (o Owners) ec2Tags(ctx context.Context, typ string, ids []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	asMap := func(tags []ec2types.Tag) map[string]string {
		m := map[string]string{}
		for _, t := range tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return m
	}
	if typ == provider.TypeEC2Volume {
		vols, err := describeVolumes(ctx, o.C, ids)
		if err != nil {
			return nil, err
		}
		for id, v := range vols {
			switch v.State {
			case ec2types.VolumeStateDeleting, ec2types.VolumeStateDeleted, ec2types.VolumeStateError:
				continue
			}
			out[id] = asMap(v.Tags)
		}
		return out, nil
	}
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}}}
	for {
		page, err := o.C.EC2().DescribeInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				if i.State != nil && (i.State.Name == ec2types.InstanceStateNameShuttingDown || i.State.Name == ec2types.InstanceStateNameTerminated) {
					continue
				}
				out[aws.ToString(i.InstanceId)] = asMap(i.Tags)
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}
