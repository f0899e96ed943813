package cfn

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return deref(&doc)
}

func TestParseTextAndRefs(t *testing.T) {
	tests := []struct {
		src  string
		text string
		refs []string
	}{
		{`plain`, `plain`, nil},
		{`"quoted ${NotASub}"`, `quoted ${NotASub}`, nil},
		{`!Ref PlansTable`, `!Ref PlansTable`, []string{"PlansTable"}},
		{`{Ref: PlansTable}`, `!Ref PlansTable`, []string{"PlansTable"}},
		{`!Ref AWS::Region`, `!Ref AWS::Region`, nil},
		{`!GetAtt PlansTable.Arn`, `!GetAtt PlansTable.Arn`, []string{"PlansTable"}},
		{`!GetAtt [PlansTable, Arn]`, `!GetAtt PlansTable.Arn`, []string{"PlansTable"}},
		{`{"Fn::GetAtt": [PlansTable, StreamArn]}`, `!GetAtt PlansTable.StreamArn`, []string{"PlansTable"}},
		{`!Sub "${PlansTable.Arn}/index/*"`, `!Sub ${PlansTable.Arn}/index/*`, []string{"PlansTable"}},
		{`{"Fn::Sub": "arn:${AWS::Partition}:x:${A}:${!Literal}:${B.Arn}:${A}"}`, `!Sub arn:${AWS::Partition}:x:${A}:${!Literal}:${B.Arn}:${A}`, []string{"A", "B"}},
		{`!Sub ["${T}/index/${X}", {T: !GetAtt CheckpointsTable.Arn}]`, `!Sub [${T}/index/${X}, {T: !GetAtt CheckpointsTable.Arn}]`, []string{"CheckpointsTable", "X"}},
		{`!If [IsProd, !Ref A, !Ref B]`, `!If [IsProd, !Ref A, !Ref B]`, []string{"A", "B"}},
		{`!Join ["", [!GetAtt A.Arn, "/x"]]`, `!Join [, [!GetAtt A.Arn, /x]]`, []string{"A"}},
		{`[a, !Ref B]`, `[a, !Ref B]`, []string{"B"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			n := node(t, tt.src)
			if got := text(n); got != tt.text {
				t.Errorf("text = %q, want %q", got, tt.text)
			}
			if got := refs(n); !slices.Equal(got, tt.refs) {
				t.Errorf("refs = %q, want %q", got, tt.refs)
			}
		})
	}
}

func TestParseAnchorsAndAliases(t *testing.T) {
	tpl, err := Parse([]byte(`
Resources:
  A:
    Type: AWS::DynamoDB::Table
    Properties: &props
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  B:
    Type: AWS::DynamoDB::Table
    Properties: *props
`))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables["B"] == nil || len(tables["B"].KeySchema) != 1 {
		t.Errorf("tables = %v, want A and B alike", tables)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"not yaml", "Resources: [", "cfn: yaml"},
		{"empty", "", "not a mapping"},
		{"list", "- a\n- b\n", "not a mapping"},
		{"resources not a mapping", "Resources: [a]\n", "Resources is not a mapping"},
		{"resource not a mapping", "Resources:\n  A: x\n", "resource A is not a mapping"},
		{"no type", "Resources:\n  A:\n    Properties: {}\n", "resource A has no literal Type"},
		{"type intrinsic", "Resources:\n  A:\n    Type: !Ref T\n", "resource A has no literal Type"},
		{"duplicate resource", "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n", `duplicate key "A" in Resources`},
		{"duplicate nested", "Resources:\n  A:\n    Type: X\n    Properties:\n      P: 1\n      P: 2\n", `duplicate key "P" in Resources.A.Properties`},
		{"duplicate in list", "Resources:\n  A:\n    Type: X\n    Properties:\n      L:\n        - {K: 1, K: 2}\n", `duplicate key "K" in Resources.A.Properties.L.0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseValue(t *testing.T) {
	tpl, err := Parse([]byte(`
Resources:
  A:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Threshold: 1
      Dimensions:
        - Name: FunctionName
          Value: !Ref F
        - Name: Queue
          Value: {"Fn::GetAtt": [Q, QueueName]}
      Body: !Sub |
        {"a": "${F}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := tpl.Value("Resources", "A", "Properties")
	if !ok {
		t.Fatal("Value(Properties) not found")
	}
	want := map[string]any{
		"Threshold": "1",
		"Dimensions": []any{
			map[string]any{"Name": "FunctionName", "Value": "!Ref F"},
			map[string]any{"Name": "Queue", "Value": "!GetAtt Q.QueueName"},
		},
		"Body": "!Sub {\"a\": \"${F}\"}\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Value = %#v\nwant %#v", got, want)
	}
	if v, ok := tpl.Value("Resources", "B"); ok {
		t.Errorf("Value of a missing key = %v, true; want false", v)
	}
}
