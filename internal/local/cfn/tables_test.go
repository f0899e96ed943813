package cfn_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor"
	"karbor/internal/local/cfn"
	"karbor/internal/ownership"
)

func parseTemplate(t *testing.T) *cfn.Template {
	t.Helper()
	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		t.Fatalf("Parse(template.yaml): %v", err)
	}
	return tpl
}

func attrs(nameTypes ...string) []types.AttributeDefinition {
	var out []types.AttributeDefinition
	for i := 0; i < len(nameTypes); i += 2 {
		out = append(out, types.AttributeDefinition{
			AttributeName: aws.String(nameTypes[i]),
			AttributeType: types.ScalarAttributeType(nameTypes[i+1]),
		})
	}
	return out
}

func keys(hash, rangeKey string) []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(rangeKey), KeyType: types.KeyTypeRange},
	}
}

func gsi(name, hash, rangeKey string) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName:  aws.String(name),
		KeySchema:  keys(hash, rangeKey),
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	}
}

func jsonText(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestTablesFromTemplate(t *testing.T) {
	tables, err := parseTemplate(t).Tables()
	if err != nil {
		t.Fatal(err)
	}
	// The service's own tables: never protectable (internal/ownership).
	serviceTag := []types.Tag{{Key: aws.String(ownership.ServiceTag), Value: aws.String(cfn.LocalStackName)}}
	want := map[string]*dynamodb.CreateTableInput{
		"PlansTable": {
			Tags:                 serviceTag,
			AttributeDefinitions: attrs("id", "S", "project_id", "S", "list_order", "S", "list_all", "S"),
			KeySchema:            keys("id", "project_id"),
			BillingMode:          types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				gsi("by_project", "project_id", "list_order"),
				gsi("by_all", "list_all", "list_order"),
			},
		},
		"CheckpointsTable": {
			Tags: serviceTag,
			AttributeDefinitions: attrs("id", "S", "project_id", "S", "list_project", "S", "list_provider", "S",
				"list_plan", "S", "list_status", "S", "list_all_plan", "S", "list_all_status", "S", "list_order", "S",
				"pending", "S", "updated_at", "S"),
			KeySchema:   keys("id", "project_id"),
			BillingMode: types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				// The sweeper's sparse index: what it reads besides the
				// keys is provider_id (domain.CheckpointKey).
				{
					IndexName:  aws.String("by_pending"),
					KeySchema:  keys("pending", "updated_at"),
					Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"provider_id"}},
				},
				gsi("by_project", "list_project", "list_order"),
				gsi("by_provider", "list_provider", "list_order"),
				gsi("by_plan", "list_plan", "list_order"),
				gsi("by_status", "list_status", "list_order"),
				gsi("by_plan_all", "list_all_plan", "list_order"),
				gsi("by_status_all", "list_all_status", "list_order"),
			},
			StreamSpecification: &types.StreamSpecification{
				StreamEnabled:  aws.Bool(true),
				StreamViewType: types.StreamViewTypeNewAndOldImages,
			},
		},
		"OperationLogsTable": {
			Tags:                 serviceTag,
			AttributeDefinitions: attrs("id", "S", "project_id", "S", "list_order", "S", "list_all", "S", "list_checkpoint", "S", "list_status", "S"),
			KeySchema:            keys("id", "project_id"),
			BillingMode:          types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				gsi("by_project", "project_id", "list_order"),
				gsi("by_all", "list_all", "list_order"),
				gsi("by_checkpoint", "list_checkpoint", "list_order"),
				gsi("by_status", "list_status", "list_order"),
			},
		},
		"IdempotencyTable": {
			Tags:                 serviceTag,
			AttributeDefinitions: attrs("key", "S"),
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("key"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		},
		"SchedulesTable": {
			Tags: serviceTag,
			AttributeDefinitions: attrs("id", "S", "project_id", "S", "list_project", "S", "list_all", "S",
				"list_order", "S", "due", "S", "due_at", "N"),
			KeySchema:   keys("id", "project_id"),
			BillingMode: types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				gsi("by_project", "list_project", "list_order"),
				gsi("by_all", "list_all", "list_order"),
				// The scheduler's sparse index: keys only (domain.TriggerKey).
				{
					IndexName:  aws.String("by_due"),
					KeySchema:  keys("due", "due_at"),
					Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
				},
			},
		},
		"QuotasTable": {
			Tags:                 serviceTag,
			AttributeDefinitions: attrs("id", "S"),
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		},
		"TasksTable": {
			Tags: serviceTag,
			AttributeDefinitions: attrs("id", "S", "project_id", "S", "list_project", "S", "list_all", "S",
				"list_checkpoint", "S", "list_all_checkpoint", "S", "list_status", "S", "list_all_status", "S",
				"list_order", "S", "due", "S", "due_at", "N"),
			KeySchema:   keys("id", "project_id"),
			BillingMode: types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				gsi("by_project", "list_project", "list_order"),
				gsi("by_all", "list_all", "list_order"),
				gsi("by_checkpoint", "list_checkpoint", "list_order"),
				gsi("by_checkpoint_all", "list_all_checkpoint", "list_order"),
				gsi("by_status", "list_status", "list_order"),
				gsi("by_status_all", "list_all_status", "list_order"),
				// The runner's sparse index: keys only (domain.TaskKey).
				{
					IndexName:  aws.String("by_due"),
					KeySchema:  keys("due", "due_at"),
					Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
				},
			},
			StreamSpecification: &types.StreamSpecification{
				StreamEnabled:  aws.Bool(true),
				StreamViewType: types.StreamViewTypeNewAndOldImages,
			},
		},
	}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("Tables() =\n%s\nwant\n%s", jsonText(tables), jsonText(want))
	}
}

// DynamoDB rejects a table whose attribute definitions are not exactly the
// attributes used in its keys and its indexes' keys; check it here rather
// than at the first CreateTable.
func TestTablesDefineExactlyTheirKeyAttributes(t *testing.T) {
	tables, err := parseTemplate(t).Tables()
	if err != nil {
		t.Fatal(err)
	}
	for id, in := range tables {
		var defined, used []string
		for _, a := range in.AttributeDefinitions {
			defined = append(defined, aws.ToString(a.AttributeName))
		}
		addKeys := func(ks []types.KeySchemaElement) {
			for _, k := range ks {
				if !slices.Contains(used, aws.ToString(k.AttributeName)) {
					used = append(used, aws.ToString(k.AttributeName))
				}
			}
		}
		addKeys(in.KeySchema)
		for _, g := range in.GlobalSecondaryIndexes {
			addKeys(g.KeySchema)
		}
		for _, l := range in.LocalSecondaryIndexes {
			addKeys(l.KeySchema)
		}
		slices.Sort(defined)
		slices.Sort(used)
		if !slices.Equal(defined, used) {
			t.Errorf("%s: attribute definitions %q, key attributes %q", id, defined, used)
		}
	}
}

func TestTableTTLAttribute(t *testing.T) {
	tpl := parseTemplate(t)
	for id, want := range map[string]string{
		"CheckpointsTable":   "expires_at",
		"PlansTable":         "",
		"IdempotencyTable":   "expires_at",
		"TasksTable":         "",
		"OperationLogsTable": "",
		"HttpApi":            "", // not a table
		"NoSuchResource":     "",
	} {
		if got := tpl.TTLAttribute(id); got != want {
			t.Errorf("TTLAttribute(%s) = %q, want %q", id, got, want)
		}
	}
}

func TestTablesFromOtherForms(t *testing.T) {
	tpl, err := cfn.Parse([]byte(`
Resources:
  Provisioned:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: n, AttributeType: N}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 2}
      GlobalSecondaryIndexes:
        - IndexName: by_n
          KeySchema: [{AttributeName: n, KeyType: HASH}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [a, b]}
          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      LocalSecondaryIndexes:
        - IndexName: local
          KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: n, KeyType: RANGE}]
          Projection: {ProjectionType: KEYS_ONLY}
      StreamSpecification: {StreamViewType: KEYS_ONLY}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: false}
      TableName: ignored
  NotATable:
    Type: AWS::SNS::Topic
`))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	one := func(n int64) *int64 { return aws.Int64(n) }
	want := map[string]*dynamodb.CreateTableInput{
		"Provisioned": {
			AttributeDefinitions:  attrs("pk", "S", "n", "N"),
			KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: one(5), WriteCapacityUnits: one(2)},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName:             aws.String("by_n"),
				KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("n"), KeyType: types.KeyTypeHash}},
				Projection:            &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"a", "b"}},
				ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: one(1), WriteCapacityUnits: one(1)},
			}},
			LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
				IndexName:  aws.String("local"),
				KeySchema:  keys("pk", "n"),
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			}},
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly},
		},
	}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("Tables() =\n%s\nwant\n%s", jsonText(tables), jsonText(want))
	}
	if got := tpl.TTLAttribute("Provisioned"); got != "" {
		t.Errorf("TTLAttribute of a disabled TTL = %q, want empty", got)
	}
}

func TestTablesErrors(t *testing.T) {
	const head = "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
	const keySchema = "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
	tests := []struct {
		name, props, want string
	}{
		{"no properties", "      {}\n", "no KeySchema"},
		{"intrinsic billing mode", keySchema + "      BillingMode: !If [C, PAY_PER_REQUEST, PROVISIONED]\n", "BillingMode is !If [C, PAY_PER_REQUEST, PROVISIONED], want a literal"},
		{"intrinsic key name", "      KeySchema: [{AttributeName: !Ref K, KeyType: HASH}]\n", "KeySchema: AttributeName is !Ref K, want a literal"},
		{"attribute without type", keySchema + "      AttributeDefinitions: [{AttributeName: id}]\n", "AttributeDefinitions: no AttributeType"},
		{"index without projection", keySchema + "      GlobalSecondaryIndexes: [{IndexName: i, KeySchema: [{AttributeName: id, KeyType: HASH}]}]\n", "i: no Projection"},
		{"index without keys", keySchema + "      GlobalSecondaryIndexes: [{IndexName: i, Projection: {ProjectionType: ALL}}]\n", "i: no KeySchema"},
		{"bad capacity", keySchema + "      ProvisionedThroughput: {ReadCapacityUnits: five, WriteCapacityUnits: 1}\n", `ReadCapacityUnits is "five"`},
		{"stream without view", keySchema + "      StreamSpecification: {}\n", "StreamSpecification: no StreamViewType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := cfn.Parse([]byte(head + tt.props))
			if err != nil {
				t.Fatal(err)
			}
			_, err = tpl.Tables()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "table T") {
				t.Errorf("Tables() error = %v, want one about table T containing %q", err, tt.want)
			}
		})
	}
}

// TestTablesCarryTheServiceTag checks that the service's own tables, as
// created locally, carry the tag that makes them unprotectable.
func TestTablesCarryTheServiceTag(t *testing.T) {
	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range defs {
		found := false
		for _, tag := range def.Tags {
			found = found || aws.ToString(tag.Key) == ownership.ServiceTag && aws.ToString(tag.Value) == cfn.LocalStackName
		}
		if !found {
			t.Errorf("table %s: tags %v, want %s = %s", name, def.Tags, ownership.ServiceTag, cfn.LocalStackName)
		}
	}
}
