package cfn

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"
)

const tableType = "AWS::DynamoDB::Table"

// Tables returns a CreateTable request for each AWS::DynamoDB::Table of the
// template, keyed by logical id, built from its AttributeDefinitions,
// KeySchema, GlobalSecondaryIndexes, LocalSecondaryIndexes, BillingMode,
// ProvisionedThroughput and StreamSpecification. TableName is left nil for
// the caller to set. Settings that CreateTable does not take (time to live,
// point-in-time recovery) or that a local endpoint has no use for
// (encryption, tags; deletion protection, as the tests delete what they
// make) are not carried over; see TTLAttribute.
func (t *Template) Tables() (map[string]*dynamodb.CreateTableInput, error) {
	out := map[string]*dynamodb.CreateTableInput{}
	for _, r := range t.resources {
		if r.typ != tableType {
			continue
		}
		in, err := createTableInput(get(r.node, "Properties"))
		if err != nil {
			return nil, fmt.Errorf("cfn: table %s: %w", r.id, err)
		}
		out[r.id] = in
	}
	return out, nil
}

// TTLAttribute returns the name of the time-to-live attribute of the table
// with the given logical id, or "" when the table has none enabled (or there
// is no such table).
func (t *Template) TTLAttribute(logicalID string) string {
	r, ok := t.resource(logicalID)
	if !ok || r.typ != tableType {
		return ""
	}
	spec := at(r.node, "Properties", "TimeToLiveSpecification")
	if enabled, _ := literal(get(spec, "Enabled")); enabled != "true" {
		return ""
	}
	name, _ := literal(get(spec, "AttributeName"))
	return name
}

// LocalStackName stands for AWS::StackName in what is created locally.
const LocalStackName = "karbor-local"

func createTableInput(props *yaml.Node) (*dynamodb.CreateTableInput, error) {
	if props == nil {
		return nil, fmt.Errorf("no Properties")
	}
	in := &dynamodb.CreateTableInput{}
	for _, n := range items(get(props, "AttributeDefinitions")) {
		name, err := need(n, "AttributeName")
		if err != nil {
			return nil, fmt.Errorf("AttributeDefinitions: %w", err)
		}
		typ, err := need(n, "AttributeType")
		if err != nil {
			return nil, fmt.Errorf("AttributeDefinitions: %w", err)
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name),
			AttributeType: types.ScalarAttributeType(typ),
		})
	}
	var err error
	if in.KeySchema, err = keySchema(get(props, "KeySchema")); err != nil {
		return nil, fmt.Errorf("KeySchema: %w", err)
	}
	if len(in.KeySchema) == 0 {
		return nil, fmt.Errorf("no KeySchema")
	}
	if n := get(props, "BillingMode"); n != nil {
		v, ok := literal(n)
		if !ok {
			return nil, fmt.Errorf("BillingMode is %s, want a literal", text(n))
		}
		in.BillingMode = types.BillingMode(v)
	}
	if in.ProvisionedThroughput, err = throughput(get(props, "ProvisionedThroughput")); err != nil {
		return nil, fmt.Errorf("ProvisionedThroughput: %w", err)
	}
	for _, n := range items(get(props, "GlobalSecondaryIndexes")) {
		name, ks, proj, err := index(n)
		if err != nil {
			return nil, fmt.Errorf("GlobalSecondaryIndexes: %w", err)
		}
		pt, err := throughput(get(n, "ProvisionedThroughput"))
		if err != nil {
			return nil, fmt.Errorf("GlobalSecondaryIndexes: %s: ProvisionedThroughput: %w", name, err)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(name), KeySchema: ks, Projection: proj, ProvisionedThroughput: pt,
		})
	}
	for _, n := range items(get(props, "LocalSecondaryIndexes")) {
		name, ks, proj, err := index(n)
		if err != nil {
			return nil, fmt.Errorf("LocalSecondaryIndexes: %w", err)
		}
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName: aws.String(name), KeySchema: ks, Projection: proj,
		})
	}
	for _, n := range items(get(props, "Tags")) {
		key, err := need(n, "Key")
		if err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		v := get(n, "Value")
		value, ok := literal(v)
		if !ok && text(v) == "!Ref AWS::StackName" {
			value, ok = LocalStackName, true
		}
		if !ok {
			return nil, fmt.Errorf("tag %s is %s, want a literal or !Ref AWS::StackName", key, text(v))
		}
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(key), Value: aws.String(value)})
	}
	if spec := get(props, "StreamSpecification"); spec != nil {
		view, err := need(spec, "StreamViewType")
		if err != nil {
			return nil, fmt.Errorf("StreamSpecification: %w", err)
		}
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(view),
		}
	}
	return in, nil
}

func keySchema(n *yaml.Node) ([]types.KeySchemaElement, error) {
	var out []types.KeySchemaElement
	for _, e := range items(n) {
		name, err := need(e, "AttributeName")
		if err != nil {
			return nil, err
		}
		typ, err := need(e, "KeyType")
		if err != nil {
			return nil, err
		}
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyType(typ)})
	}
	return out, nil
}

func index(n *yaml.Node) (string, []types.KeySchemaElement, *types.Projection, error) {
	name, err := need(n, "IndexName")
	if err != nil {
		return "", nil, nil, err
	}
	ks, err := keySchema(get(n, "KeySchema"))
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s: KeySchema: %w", name, err)
	}
	if len(ks) == 0 {
		return "", nil, nil, fmt.Errorf("%s: no KeySchema", name)
	}
	p := get(n, "Projection")
	if p == nil {
		return "", nil, nil, fmt.Errorf("%s: no Projection", name)
	}
	proj := &types.Projection{}
	if v := get(p, "ProjectionType"); v != nil {
		s, ok := literal(v)
		if !ok {
			return "", nil, nil, fmt.Errorf("%s: Projection.ProjectionType is %s, want a literal", name, text(v))
		}
		proj.ProjectionType = types.ProjectionType(s)
	}
	for _, a := range items(get(p, "NonKeyAttributes")) {
		s, ok := literal(a)
		if !ok {
			return "", nil, nil, fmt.Errorf("%s: Projection.NonKeyAttributes has %s, want a literal", name, text(a))
		}
		proj.NonKeyAttributes = append(proj.NonKeyAttributes, s)
	}
	return name, ks, proj, nil
}

func throughput(n *yaml.Node) (*types.ProvisionedThroughput, error) {
	if n == nil {
		return nil, nil
	}
	var units [2]int64
	for i, key := range []string{"ReadCapacityUnits", "WriteCapacityUnits"} {
		s, err := need(n, key)
		if err != nil {
			return nil, err
		}
		if units[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("%s is %q, want an integer", key, s)
		}
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(units[0]), WriteCapacityUnits: aws.Int64(units[1])}, nil
}

// need returns the literal value of key in mapping n, or an error when it is
// missing or an intrinsic function.
func need(n *yaml.Node, key string) (string, error) {
	v := get(n, key)
	if v == nil {
		return "", fmt.Errorf("no %s", key)
	}
	s, ok := literal(v)
	if !ok {
		return "", fmt.Errorf("%s is %s, want a literal", key, text(v))
	}
	return s, nil
}
