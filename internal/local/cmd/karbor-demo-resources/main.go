// Command karbor-demo-resources creates, on the endpoint `make run` started,
// what the README's AWS-provider walk-through protects: a DynamoDB table
// named "orders", an EBS volume and an EC2 instance (with its attached root
// volume), each tagged as owned by the walk-through's project
// (karbor:project-id = DEMO_PROJECT, e486a2f49695423ca9c47e589b948108 by
// default), with three orders in the table. It prints the volume's and the
// instance's ids on one line.
//
// With the argument "items TABLE" it prints the items of a table on that
// endpoint instead, one JSON object a line, sorted (the walk-through shows
// a restored table's items with it: make demo-items TABLE=...).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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
	project := os.Getenv("DEMO_PROJECT")
	if project == "" {
		project = "e486a2f49695423ca9c47e589b948108"
	}
	key := os.Getenv("OWNERSHIP_TAG_KEY")
	if key == "" {
		key = ownership.DefaultTagKey
	}
	db := awscfg.DynamoDB(cfg, endpoint)
	if len(os.Args) == 3 && os.Args[1] == "items" {
		return printItems(ctx, db, os.Args[2])
	}
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("orders"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("order_id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("order_id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		Tags:                 []ddbtypes.Tag{{Key: aws.String(key), Value: aws.String(project)}},
	})
	var inUse *ddbtypes.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		// Made by an earlier run: make sure it is the project's.
		d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
		if err != nil {
			return err
		}
		if _, err := db.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: d.Table.TableArn,
			Tags: []ddbtypes.Tag{{Key: aws.String(key), Value: aws.String(project)}}}); err != nil {
			return fmt.Errorf("tag table orders: %w", err)
		}
	case err != nil:
		return fmt.Errorf("create table orders: %w", err)
	}
	for i, item := range []string{"keyboard", "monitor", "lamp"} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: map[string]ddbtypes.AttributeValue{
			"order_id": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("order-%d", i+1)},
			"item":     &ddbtypes.AttributeValueMemberS{Value: item},
		}}); err != nil {
			return fmt.Errorf("put an order: %w", err)
		}
	}
	tags := func(t ec2types.ResourceType, name string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: t, Tags: []ec2types.Tag{
			{Key: aws.String(key), Value: aws.String(project)}, {Key: aws.String("Name"), Value: aws.String(name)}}}}
	}
	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	vol, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(cfg.Region + "a"), Size: aws.Int32(1),
		TagSpecifications: tags(ec2types.ResourceTypeVolume, "orders-data")})
	if err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	// moto gives the instance an attached root volume (untagged: it is
	// owned through the instance).
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Micro, TagSpecifications: tags(ec2types.ResourceTypeInstance, "orders-web")})
	if err != nil {
		return fmt.Errorf("run instance: %w", err)
	}
	fmt.Println(aws.ToString(vol.VolumeId), aws.ToString(run.Instances[0].InstanceId))
	return nil
}

// printItems prints every item of a table, one JSON object a line, sorted.
// A Scan: a development aid on the local endpoint, never a request path.
func printItems(ctx context.Context, db *dynamodb.Client, table string) error {
	var lines []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				return err
			}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			lines = append(lines, string(b))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}
