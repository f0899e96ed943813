// Package invenv gives tests AWS resources of the protectable types on the
// test endpoint (moto_server, which serves DynamoDB, EC2 and the tagging
// API on one port) and an inventory over the same endpoint.
package invenv

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/inventory/tagging"
	"karbor/internal/ownership"
	"karbor/internal/testsupport/testenv"
)

// Env creates resources on the test endpoint.
type Env struct {
	T        testing.TB
	Endpoint string
	Config   aws.Config
	DynamoDB *dynamodb.Client
	EC2      *ec2.Client
	Tagging  tagging.Client
}

// New is an Env on the test endpoint.
func New(t testing.TB) *Env {
	t.Helper()
	ep := testenv.Endpoint(t)
	cfg, err := awscfg.Load(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{
		T: t, Endpoint: ep, Config: cfg,
		DynamoDB: testenv.DynamoDB(t),
		EC2:      ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(ep) }),
		Tagging:  tagging.New(cfg, ep),
	}
}

// Inventory is an inventory over the env's clients.
func (e *Env) Inventory(own ownership.Config) *inventory.Inventory {
	return &inventory.Inventory{DynamoDB: e.DynamoDB, EC2: e.EC2, Tagging: e.Tagging, Ownership: own, Region: e.Config.Region,
		TableARNPrefix: TableARNPrefix(e.Config.Region)}
}

// MotoAccount is the account moto_server answers for.
const MotoAccount = "123456789012"

// TableARNPrefix is inventory.Inventory's TableARNPrefix on moto in region.
func TableARNPrefix(region string) string {
	return "arn:aws:dynamodb:" + region + ":" + MotoAccount + ":table/"
}

// Project is a fresh project id.
func Project() string { return strings.ReplaceAll(domain.NewID(), "-", "") }

// Owner is the tags of a resource owned by project in tag mode.
func Owner(project string) map[string]string {
	return map[string]string{ownership.DefaultTagKey: project}
}

// TableName is a fresh table name with the prefix.
func TableName(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(domain.NewID(), "-", "")[:12]
}

// Table creates a table with the tags and returns its name.
func (e *Env) Table(name string, tags map[string]string) string {
	e.T.Helper()
	var ts []ddbtypes.Tag
	for k, v := range tags {
		ts = append(ts, ddbtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := e.DynamoDB.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		Tags:                 ts,
	})
	if err != nil {
		e.T.Fatalf("create table %s: %v", name, err)
	}
	return name
}

func ec2Tags(resource ec2types.ResourceType, tags map[string]string) []ec2types.TagSpecification {
	if len(tags) == 0 {
		return nil
	}
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return []ec2types.TagSpecification{{ResourceType: resource, Tags: ts}}
}

// Volume creates a 1 GiB volume with the tags and returns its id.
func (e *Env) Volume(tags map[string]string) string {
	e.T.Helper()
	out, err := e.EC2.CreateVolume(context.Background(), &ec2.CreateVolumeInput{
		AvailabilityZone: aws.String(e.Config.Region + "a"), Size: aws.Int32(1),
		TagSpecifications: ec2Tags(ec2types.ResourceTypeVolume, tags),
	})
	if err != nil {
		e.T.Fatalf("create volume: %v", err)
	}
	return aws.ToString(out.VolumeId)
}

// Instance runs an instance with the tags (moto attaches a root volume,
// untagged) and returns its id and its attached volumes' ids.
func (e *Env) Instance(tags map[string]string) (string, []string) {
	e.T.Helper()
	out, err := e.EC2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType:      ec2types.InstanceTypeT3Micro,
		TagSpecifications: ec2Tags(ec2types.ResourceTypeInstance, tags),
	})
	if err != nil {
		e.T.Fatalf("run instance: %v", err)
	}
	i := out.Instances[0]
	var vols []string
	for _, m := range i.BlockDeviceMappings {
		if m.Ebs != nil {
			vols = append(vols, aws.ToString(m.Ebs.VolumeId))
		}
	}
	if len(vols) == 0 {
		// RunInstances may answer before the mapping is filled.
		d, err := e.EC2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(i.InstanceId)}})
		if err != nil {
			e.T.Fatal(err)
		}
		for _, m := range d.Reservations[0].Instances[0].BlockDeviceMappings {
			if m.Ebs != nil {
				vols = append(vols, aws.ToString(m.Ebs.VolumeId))
			}
		}
	}
	return aws.ToString(i.InstanceId), vols
}

// Terminate terminates an instance.
func (e *Env) Terminate(id string) {
	e.T.Helper()
	if _, err := e.EC2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		e.T.Fatal(err)
	}
}

// Untag removes a tag from an EC2 resource.
func (e *Env) Untag(id, key string) {
	e.T.Helper()
	if _, err := e.EC2.DeleteTags(context.Background(), &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String(key)}}}); err != nil {
		e.T.Fatal(err)
	}
}
