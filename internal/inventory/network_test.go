package inventory_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/ownership"
	"karbor/internal/testsupport/invenv"
)

// CheckNetwork against moto: a restore's subnet and security groups must
// exist and, in tag mode, carry the project's tag; missing and another
// project's answer alike.
func TestCheckNetwork(t *testing.T) {
	t.Parallel()
	env := invenv.New(t)
	ctx := context.Background()
	project, other := invenv.Project(), invenv.Project()
	vpc, err := env.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	spec := func(typ ec2types.ResourceType, tags map[string]string) []ec2types.TagSpecification {
		var ts []ec2types.Tag
		for k, v := range tags {
			ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		return []ec2types.TagSpecification{{ResourceType: typ, Tags: ts}}
	}
	subnet := func(cidr string, tags map[string]string) string {
		out, err := env.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr), TagSpecifications: spec(ec2types.ResourceTypeSubnet, tags)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Subnet.SubnetId)
	}
	group := func(name string, tags map[string]string) string {
		out, err := env.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name + "-" + project), Description: aws.String("test"),
			VpcId: vpc.Vpc.VpcId, TagSpecifications: spec(ec2types.ResourceTypeSecurityGroup, tags)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	owned, others := subnet("10.1.1.0/24", invenv.Owner(project)), subnet("10.1.2.0/24", invenv.Owner(other))
	service := subnet("10.1.3.0/24", map[string]string{ownership.ServiceTag: "karbor", ownership.DefaultTagKey: project})
	g1, g2, gOther := group("a", invenv.Owner(project)), group("b", invenv.Owner(project)), group("c", invenv.Owner(other))
	const missingSubnet, missingGroup = "subnet-0123456789abcdef0", "sg-0123456789abcdef0"

	tag := env.Inventory(ownership.Config{Mode: ownership.ModeTag, TagKey: ownership.DefaultTagKey})
	account := env.Inventory(ownership.Config{Mode: ownership.ModeAccount})
	for _, tc := range []struct {
		name string
		inv  interface {
			CheckNetwork(context.Context, string, string, []string) (string, error)
		}
		subnet string
		groups []string
		want   string
	}{
		{"owned", tag, owned, []string{g1, g2}, ""},
		{"subnet only", tag, owned, nil, ""},
		{"groups only", tag, "", []string{g2}, ""},
		{"another project's subnet", tag, others, []string{g1}, others},
		{"the service's own subnet", tag, service, nil, service},
		{"missing subnet", tag, missingSubnet, nil, missingSubnet},
		{"another project's group", tag, owned, []string{g1, gOther}, gOther},
		{"missing group", tag, "", []string{missingGroup, g1}, missingGroup},
		{"account mode: any existing", account, others, []string{gOther}, ""},
		{"account mode: missing", account, missingSubnet, nil, missingSubnet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.inv.CheckNetwork(ctx, project, tc.subnet, tc.groups)
			if err != nil || got != tc.want {
				t.Errorf("CheckNetwork = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
