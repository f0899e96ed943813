// Command karbor-demo-resources creates, on the endpoint `make run` started,
// what the README's AWS-provider walk-through protects: a DynamoDB table
// named "orders" and an EBS volume. It prints the volume's id.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/awscfg"
	"karbor/internal/ownership"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "demo-resources:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	file := os.Getenv("ENDPOINT_FILE")
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s (is `make run` running?): %w", file, err)
	}
	endpoint := strings.TrimSpace(string(raw))
	cfg, err := awscfg.Load(ctx, true)
	if err != nil {
		return err
	}
	// The worker protects only what the project owns: the resources carry
	// the ownership tag for the walk-through's project (DEMO_PROJECT).
	project := os.Getenv("DEMO_PROJECT")
	if project == "" {
		project = "e486a2f49695423ca9c47e589b948108"
	}
	db := awscfg.DynamoDB(cfg, endpoint)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		Tags:                 []ddbtypes.Tag{{Key: aws.String(ownership.DefaultTagKey), Value: aws.String(project)}},
		TableName:            aws.String("orders"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("order_id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("order_id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table orders: %w", err)
	}
	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	vol, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(cfg.Region + "a"), Size: aws.Int32(1),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume,
			Tags: []ec2types.Tag{{Key: aws.String(ownership.DefaultTagKey), Value: aws.String(project)}}}}})
	if err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	fmt.Println(aws.ToString(vol.VolumeId))
	return nil
}
