package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"karbor/internal/domain"
)

func TestDefaultTargetTableName(t *testing.T) {
	id := "22b82aa7-9179-4c71-bba2-caf5c0e68db7"
	if got := domain.DefaultTargetTableName("orders", id); got != "orders-22b82aa7" {
		t.Errorf("DefaultTargetTableName(orders) = %q", got)
	}
	long := strings.Repeat("t", 255)
	got := domain.DefaultTargetTableName(long, id)
	if len(got) != 255 || got != strings.Repeat("t", 246)+"-22b82aa7" {
		t.Errorf("DefaultTargetTableName(255 characters) = %q (%d)", got, len(got))
	}
}

func TestMergedParameters(t *testing.T) {
	task := &domain.Task{Parameters: map[string]json.RawMessage{
		"AWS::EC2::Volume":                       json.RawMessage(`{"volume_type":"gp3","iops":3000}`),
		"AWS::EC2::Volume#vol-0123456789abcdef0": json.RawMessage(`{"iops":4000,"throughput":200}`),
		"AWS::DynamoDB::Table#orders":            json.RawMessage(`{"target_table_name":"o2"}`),
		"AWS::EC2::Volume#vol-00000000000000000": json.RawMessage(`{"iops":1}`),
	}}
	for _, tc := range []struct {
		r    domain.Resource
		want string
	}{
		{domain.Resource{Type: "AWS::EC2::Volume", ID: "vol-0123456789abcdef0"}, `{"iops":4000,"throughput":200,"volume_type":"gp3"}`},
		{domain.Resource{Type: "AWS::EC2::Volume", ID: "vol-11111111111111111"}, `{"iops":3000,"volume_type":"gp3"}`},
		{domain.Resource{Type: "AWS::DynamoDB::Table", ID: "orders"}, `{"target_table_name":"o2"}`},
		{domain.Resource{Type: "AWS::DynamoDB::Table", ID: "users"}, `{}`},
	} {
		if got := string(domain.MergedParameters(task.Parameters, tc.r)); got != tc.want {
			t.Errorf("MergedParameters(%s#%s) = %s, want %s", tc.r.Type, tc.r.ID, got, tc.want)
		}
	}
}

func TestCheckpointResources(t *testing.T) {
	graph := `[{"0x0": ["AWS::EC2::Instance", "i-0123456789abcdef0", "web", {}], "0x1": ["AWS::EC2::Volume", "vol-0123456789abcdef0", "root", {}]}, [["0x0", ["0x1"]]]]`
	c := &domain.Checkpoint{Plan: domain.ProtectionPlan{Resources: []domain.Resource{{ID: "i-0123456789abcdef0", Type: "AWS::EC2::Instance", Name: "web"}}}, ResourceGraph: &graph}
	got := domain.CheckpointResources(c)
	if len(got) != 2 || got[1].ID != "vol-0123456789abcdef0" || got[1].Type != "AWS::EC2::Volume" {
		t.Errorf("CheckpointResources = %+v, want the plan's instance and the graph's volume", got)
	}
}
