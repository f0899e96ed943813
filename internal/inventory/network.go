package inventory

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/domain"
)

var _ domain.NetworkInventory = (*Inventory)(nil)

// NetworkAPI is what CheckNetwork needs of the EC2 client besides EC2API
// (the SDK's client has both; Inventory.EC2 must, for CheckNetwork).
type NetworkAPI interface {
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
}

var _ NetworkAPI = (*ec2.Client)(nil)

// CheckNetwork implements domain.NetworkInventory: the first of a
// restore's subnet and security groups that the project may not use
// (missing, or in tag mode without the project's tag, or the service's
// own), "" when it may use them all. Cost: one DescribeSubnets when a
// subnet is given, one DescribeSecurityGroups for all the groups. Both
// select by filter, so that a missing id is an empty answer, not an error
// (and a missing one and another project's answer alike).
func (inv *Inventory) CheckNetwork(ctx context.Context, projectID, subnetID string, groupIDs []string) (string, error) {
	api, ok := inv.EC2.(NetworkAPI)
	if !ok {
		return "", errors.New("inventory: the EC2 client cannot describe subnets and security groups")
	}
	if subnetID != "" {
		out, err := api.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
			Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: []string{subnetID}}},
		})
		if err != nil {
			return "", wrap("DescribeSubnets", err)
		}
		owned := false
		for _, s := range out.Subnets {
			if aws.ToString(s.SubnetId) == subnetID && inv.Ownership.Owns(projectID, ec2Tags(s.Tags)) {
				owned = true
			}
		}
		if !owned {
			return subnetID, nil
		}
	}
	if len(groupIDs) == 0 {
		return "", nil
	}
	in := &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: groupIDs}},
	}
	owned := map[string]bool{}
	for {
		out, err := api.DescribeSecurityGroups(ctx, in)
		if err != nil {
			return "", wrap("DescribeSecurityGroups", err)
		}
		for _, g := range out.SecurityGroups {
			if inv.Ownership.Owns(projectID, ec2Tags(g.Tags)) {
				owned[aws.ToString(g.GroupId)] = true
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, id := range groupIDs {
		if !owned[id] {
			return id, nil
		}
	}
	return "", nil
}
