package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/testsupport/invenv"
)

func restoresPath(tenant string) string      { return "/v1/" + tenant + "/restores" }
func verificationsPath(tenant string) string { return "/v1/" + tenant + "/verifications" }

func restoreBody(providerID, checkpointID string, params any) map[string]any {
	return map[string]any{"restore": map[string]any{"provider_id": providerID, "checkpoint_id": checkpointID,
		"parameters": params, "restore_target": nil, "restore_auth": nil}}
}

func verificationBody(providerID, checkpointID string, params any) map[string]any {
	return map[string]any{"verification": map[string]any{"provider_id": providerID, "checkpoint_id": checkpointID, "parameters": params}}
}

// awsCheckpoint writes an available checkpoint of the AWS provider with
// two tables, a volume and an instance.
func (e *env) awsCheckpoint(t *testing.T, project string) *domain.Checkpoint {
	t.Helper()
	c := newCheckpoint(project, provider.AWSID, domain.NewID(), domain.StatusAvailable, time.Now())
	c.Plan.Resources = []domain.Resource{
		{ID: "orders", Type: provider.TypeDynamoDBTable, Name: "orders"},
		{ID: "users", Type: provider.TypeDynamoDBTable, Name: "users"},
		{ID: "vol-0123456789abcdef0", Type: provider.TypeEC2Volume, Name: "data"},
		{ID: "i-0123456789abcdef0", Type: provider.TypeEC2Instance, Name: "web"},
	}
	if err := e.store.CreateCheckpoint(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRestoreCreateShowList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	params := map[string]any{"OS::Cinder::Volume": map[string]any{"restore_name": "copy"}}
	r := e.do(t, http.MethodPost, restoresPath(projA), tokenA, restoreBody(noop, strings.ToUpper(strings.ReplaceAll(c.ID, "-", "")), params)).
		wantStatus(t, http.StatusOK).obj(t, "restore")
	wantKeys(t, "restore", r, "id", "project_id", "provider_id", "checkpoint_id", "restore_target", "parameters", "status",
		"resources_status", "resources_reason", "restored_resources", "created_at", "updated_at")
	if !uuidV4Pattern.MatchString(r["id"].(string)) || r["project_id"] != projA || r["provider_id"] != noop || r["checkpoint_id"] != c.ID ||
		r["restore_target"] != nil || r["status"] != "in_progress" || !timestampPattern.MatchString(r["created_at"].(string)) {
		t.Errorf("restore = %v", r)
	}
	for _, k := range []string{"resources_status", "resources_reason", "restored_resources"} {
		if m, ok := r[k].(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s = %v, want {}", k, r[k])
		}
	}
	if p, _ := json.Marshal(r["parameters"]); string(p) != `{"OS::Cinder::Volume":{"restore_name":"copy"}}` {
		t.Errorf("parameters = %s", p)
	}
	id := r["id"].(string)
	shown := e.do(t, http.MethodGet, restoresPath(projA)+"/"+id, tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "restore")
	if shown["id"] != id || shown["status"] != "in_progress" {
		t.Errorf("show = %v", shown)
	}
	// Another project's, or as a verification: not found; a bad id: 400.
	e.do(t, http.MethodGet, restoresPath(projB)+"/"+id, tokenB, nil).wantFault(t, http.StatusNotFound, "Restore "+id+" could not be found.")
	e.do(t, http.MethodGet, verificationsPath(projA)+"/"+id, tokenA, nil).wantFault(t, http.StatusNotFound, "Verification "+id+" could not be found.")
	e.do(t, http.MethodGet, restoresPath(projA)+"/nope", tokenA, nil).wantFault(t, http.StatusBadRequest, "restore_id")
	e.do(t, http.MethodGet, verificationsPath(projA)+"/nope", tokenA, nil).wantFault(t, http.StatusBadRequest, "verification_id")
	// Restores are never changed by the API.
	e.do(t, http.MethodPut, restoresPath(projA)+"/"+id, tokenA, map[string]any{}).wantFault(t, http.StatusMethodNotAllowed)
	e.do(t, http.MethodDelete, restoresPath(projA)+"/"+id, tokenA, nil).wantFault(t, http.StatusMethodNotAllowed)
	e.do(t, http.MethodPut, verificationsPath(projA), tokenA, verificationBody(noop, c.ID, map[string]any{})).wantFault(t, http.StatusMethodNotAllowed)

	// The checkpoint is marked: it cannot be deleted, nor restored while
	// another project looks at it.
	e.do(t, http.MethodDelete, checkpointPath(projA, noop, c.ID), tokenA, nil).
		wantFault(t, http.StatusConflict, "Checkpoint "+c.ID+" is being restored or verified")
	list := e.do(t, http.MethodGet, restoresPath(projA), tokenA, nil).wantStatus(t, http.StatusOK)
	if got := ids(list.list(t, "restores")); len(got) != 1 || got[0] != id {
		t.Errorf("list = %v", got)
	}
	if _, ok := list.body["restores_links"]; ok {
		t.Errorf("restores_links on the only page")
	}
	if got := e.do(t, http.MethodGet, restoresPath(projB), tokenB, nil).wantStatus(t, http.StatusOK).list(t, "restores"); len(got) != 0 {
		t.Errorf("project B lists %v", ids(got))
	}
	if got := e.do(t, http.MethodGet, verificationsPath(projA), tokenA, nil).wantStatus(t, http.StatusOK).list(t, "verifications"); len(got) != 0 {
		t.Errorf("verifications list restores: %v", ids(got))
	}

	// Once the runner ends it, the checkpoint can be deleted.
	task, err := e.store.GetTask(context.Background(), domain.KindRestore, projA, id)
	if err != nil {
		t.Fatal(err)
	}
	task.Status = domain.TaskSuccess
	if _, err := e.store.EndTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	e.do(t, http.MethodDelete, checkpointPath(projA, noop, c.ID), tokenA, nil).wantStatus(t, http.StatusOK)
}

func TestVerificationCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	v := e.do(t, http.MethodPost, verificationsPath(projA), tokenA, verificationBody(noop, c.ID, map[string]any{})).
		wantStatus(t, http.StatusOK).obj(t, "verification")
	wantKeys(t, "verification", v, "id", "project_id", "provider_id", "checkpoint_id", "parameters", "status",
		"resources_status", "resources_reason", "created_at", "updated_at")
	if v["status"] != "in_progress" || v["checkpoint_id"] != c.ID {
		t.Errorf("verification = %v", v)
	}
	shown := e.do(t, http.MethodGet, verificationsPath(projA)+"/"+v["id"].(string), tokenA, nil).wantStatus(t, http.StatusOK).obj(t, "verification")
	if shown["id"] != v["id"] {
		t.Errorf("show = %v", shown)
	}
	// A restore test is the AWS provider's alone.
	e.do(t, http.MethodPost, verificationsPath(projA), tokenA, verificationBody(noop, c.ID, map[string]any{"AWS::DynamoDB::Table": map[string]any{"restore_test": true}})).
		wantFault(t, http.StatusBadRequest, "AWS::DynamoDB::Table")

	a := e.awsCheckpoint(t, projA)
	for _, tc := range []struct {
		name   string
		params any
		status int
		want   string // stored parameters, or a part of the fault
	}{
		{"restore test of every table, string", map[string]any{"AWS::DynamoDB::Table": map[string]any{"restore_test": "TRUE"}}, 200, `{"AWS::DynamoDB::Table":{"restore_test":true}}`},
		{"restore test of one table", map[string]any{"AWS::DynamoDB::Table#orders": map[string]any{"restore_test": false}}, 200, `{"AWS::DynamoDB::Table#orders":{"restore_test":false}}`},
		{"a table not of the checkpoint", map[string]any{"AWS::DynamoDB::Table#other": map[string]any{"restore_test": true}}, 400, "AWS::DynamoDB::Table#other"},
		{"another type", map[string]any{"AWS::EC2::Volume": map[string]any{"restore_test": true}}, 400, "AWS::EC2::Volume"},
		{"unknown property", map[string]any{"AWS::DynamoDB::Table": map[string]any{"count": true}}, 400, "count"},
		{"not a boolean", map[string]any{"AWS::DynamoDB::Table": map[string]any{"restore_test": "yes"}}, 400, "restore_test"},
		{"null", map[string]any{"AWS::DynamoDB::Table": map[string]any{"restore_test": nil}}, 400, "restore_test"},
		{"no restore_test", map[string]any{"AWS::DynamoDB::Table": map[string]any{}}, 400, "restore_test is required"},
		{"not an object", map[string]any{"AWS::DynamoDB::Table": true}, 400, "AWS::DynamoDB::Table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(t, http.MethodPost, verificationsPath(projA), tokenA, verificationBody(provider.AWSID, a.ID, tc.params))
			if tc.status != 200 {
				res.wantFault(t, tc.status, tc.want)
				return
			}
			got, _ := json.Marshal(res.wantStatus(t, 200).obj(t, "verification")["parameters"])
			if string(got) != tc.want {
				t.Errorf("parameters = %s, want %s", got, tc.want)
			}
		})
	}
}

// The checks of a create, in the contract's order: each case breaks one
// rule and every rule after it, and must be answered about the first.
func TestTaskCreateFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	avail := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	protecting := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusProtecting, time.Now())
	ofB := e.storeCheckpoint(t, projB, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	aws := e.awsCheckpoint(t, projA)
	unknownProvider := domain.NewID()
	badParams := map[string]any{"OS::Cinder::Volume": map[string]any{"nope": 1}}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"not JSON", rawBody("{"), 400, ""},
		{"no wrapper", map[string]any{}, 400, "'restore' is a required property."},
		{"other top key", map[string]any{"restore": map[string]any{}, "x": 1}, 400, "x"},
		{"unknown key", map[string]any{"restore": map[string]any{"provider_id": noop, "checkpoint_id": avail.ID, "plan_id": "x"}}, 400, "plan_id"},
		{"no provider_id", map[string]any{"restore": map[string]any{"checkpoint_id": avail.ID}}, 400, "provider_id"},
		{"provider_id not a UUID", restoreBody("noop", avail.ID, badParams), 400, "provider_id"},
		{"checkpoint_id not a UUID", restoreBody(unknownProvider, "cp", badParams), 400, "checkpoint_id"},
		{"parameters not an object", restoreBody(unknownProvider, avail.ID, []any{}), 400, "parameters"},
		{"restore_auth given", map[string]any{"restore": map[string]any{"provider_id": unknownProvider, "checkpoint_id": avail.ID, "restore_auth": map[string]any{"type": "password", "username": "u", "password": "secret-pw"}}},
			400, "credentials are not accepted: restores run with the service's own role; send restore_auth null."},
		{"restore_target another region", map[string]any{"restore": map[string]any{"provider_id": unknownProvider, "checkpoint_id": avail.ID, "restore_target": "mars-north-1"}},
			400, "restore_target must be null or "},
		{"restore_target not a string", map[string]any{"restore": map[string]any{"provider_id": noop, "checkpoint_id": avail.ID, "restore_target": 5}}, 400, "restore_target"},
		{"unknown provider", restoreBody(unknownProvider, ofB.ID, badParams), 404, "Provider " + unknownProvider + " could not be found."},
		{"checkpoint of another project", restoreBody(provider.AWSID, ofB.ID, badParams), 404, "Checkpoint " + ofB.ID + " could not be found."},
		{"no such checkpoint", restoreBody(noop, domain.NewID(), badParams), 404, "could not be found."},
		{"checkpoint of another provider", restoreBody(provider.AWSID, protecting.ID, badParams), 400, "Checkpoint " + protecting.ID + " belongs to provider " + noop + "."},
		{"bad parameters", restoreBody(noop, protecting.ID, badParams), 400, "nope"},
		{"not available", restoreBody(noop, protecting.ID, map[string]any{}), 409, "Checkpoint " + protecting.ID + " is protecting: only an available checkpoint can be restored."},
		{"verification not available", verificationBody(noop, protecting.ID, map[string]any{}), 409, "only an available checkpoint can be verified."},
		{"verification unknown key", map[string]any{"verification": map[string]any{"provider_id": noop, "checkpoint_id": avail.ID, "restore_target": nil}}, 400, "restore_target"},
		{"verification of another project", verificationBody(noop, ofB.ID, map[string]any{}), 404, "Checkpoint " + ofB.ID + " could not be found."},
		{"verification of another provider", verificationBody(noop, aws.ID, map[string]any{}), 400, "belongs to provider " + provider.AWSID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := restoresPath(projA)
			if strings.HasPrefix(tc.name, "verification") {
				path = verificationsPath(projA)
			}
			res := e.do(t, http.MethodPost, path, tokenA, tc.body)
			res.wantFault(t, tc.status, tc.want)
			if strings.Contains(string(res.raw), "secret-pw") {
				t.Errorf("the answer shows restore_auth's password")
			}
		})
	}
	// Nothing was created.
	if got := e.do(t, http.MethodGet, restoresPath(projA), tokenA, nil).wantStatus(t, 200).list(t, "restores"); len(got) != 0 {
		t.Errorf("refused creates left restores %v", ids(got))
	}
	// restore_target: the service's region as sent.
	region := invenv.New(t).Config.Region
	body := restoreBody(noop, avail.ID, map[string]any{})
	body["restore"].(map[string]any)["restore_target"] = region
	r := e.do(t, http.MethodPost, restoresPath(projA), tokenA, body).wantStatus(t, 200).obj(t, "restore")
	if r["restore_target"] != region {
		t.Errorf("restore_target = %v, want %s", r["restore_target"], region)
	}
	// An admin acts in the project it addresses; what it names must be
	// that project's.
	e.do(t, http.MethodPost, restoresPath(projB), tokenAdmin, restoreBody(noop, avail.ID, map[string]any{})).
		wantFault(t, http.StatusNotFound, "Checkpoint "+avail.ID+" could not be found.")
	rb := e.do(t, http.MethodPost, restoresPath(projB), tokenAdmin, restoreBody(noop, ofB.ID, map[string]any{})).wantStatus(t, 200).obj(t, "restore")
	if rb["project_id"] != projB {
		t.Errorf("admin's restore in project B: project_id %v", rb["project_id"])
	}
}

func TestRestoreParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	region := invenv.New(t).Config.Region
	a := e.awsCheckpoint(t, projA)
	noopCp := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	for _, tc := range []struct {
		name     string
		provider string
		params   any
		status   int
		want     string
	}{
		{"none", provider.AWSID, map[string]any{}, 200, `{}`},
		{"table target", provider.AWSID, map[string]any{"AWS::DynamoDB::Table#orders": map[string]any{"target_table_name": "orders-copy"}}, 200,
			`{"AWS::DynamoDB::Table#orders":{"target_table_name":"orders-copy"}}`},
		{"a target too short", provider.AWSID, map[string]any{"AWS::DynamoDB::Table#orders": map[string]any{"target_table_name": "a.b_c-d"}, "AWS::DynamoDB::Table#users": map[string]any{"target_table_name": "u2"}}, 400, "target_table_name"},
		{"two tables, one target", provider.AWSID, map[string]any{"AWS::DynamoDB::Table": map[string]any{"target_table_name": "same"}}, 400, "would both be restored into same"},
		{"bad table name", provider.AWSID, map[string]any{"AWS::DynamoDB::Table#orders": map[string]any{"target_table_name": "a b"}}, 400, "target_table_name"},
		{"volume, integers as strings", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"availability_zone": region + "b", "volume_type": "gp3", "iops": "3000", "throughput": 125}}, 200,
			`{"AWS::EC2::Volume":{"availability_zone":"` + region + `b","iops":3000,"throughput":125,"volume_type":"gp3"}}`},
		{"zone of another region", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"availability_zone": "mars-north-1a"}}, 400, "availability_zone"},
		{"volume type", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"volume_type": "ssd"}}, 400, "volume_type"},
		{"iops zero", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"iops": 0}}, 400, "iops"},
		{"iops on gp2", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"volume_type": "gp2", "iops": 3000}}, 400, "iops applies to io1, io2 and gp3 volumes, not gp2"},
		{"throughput on io1", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"volume_type": "io1", "iops": 3000, "throughput": 125}}, 400, "throughput applies to gp3 volumes"},
		{"iops past 32 bits", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"iops": 2147483648}}, 400, "iops"},
		{"throughput past 32 bits, string", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"throughput": "4294967396"}}, 400, "throughput"},
		{"iops fraction", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"iops": 1.5}}, 400, "iops"},
		{"iops null", provider.AWSID, map[string]any{"AWS::EC2::Volume": map[string]any{"iops": nil}}, 400, "iops"},
		{"instance without network", provider.AWSID, map[string]any{"AWS::EC2::Instance#i-0123456789abcdef0": map[string]any{"instance_type": "t3.micro", "key_name": "ops"}}, 200,
			`{"AWS::EC2::Instance#i-0123456789abcdef0":{"instance_type":"t3.micro","key_name":"ops"}}`},
		{"security groups: six", provider.AWSID, map[string]any{"AWS::EC2::Instance": map[string]any{"security_group_ids": []string{"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005", "sg-00000006"}}}, 400, "security_group_ids"},
		{"security groups: not ids", provider.AWSID, map[string]any{"AWS::EC2::Instance": map[string]any{"security_group_ids": "default"}}, 400, "security_group_ids"},
		{"subnet not an id", provider.AWSID, map[string]any{"AWS::EC2::Instance": map[string]any{"subnet_id": "net"}}, 400, "subnet_id"},
		{"subnet not the project's", provider.AWSID, map[string]any{"AWS::EC2::Instance": map[string]any{"subnet_id": "subnet-0123456789abcdef0"}}, 400, "subnet-0123456789abcdef0"},
		{"unknown property", provider.AWSID, map[string]any{"AWS::EC2::Instance": map[string]any{"ami": "x"}}, 400, "ami"},
		{"type the provider does not take", provider.AWSID, map[string]any{"OS::Nova::Server": map[string]any{}}, 400, "OS::Nova::Server"},
		{"resource not of the checkpoint", provider.AWSID, map[string]any{"AWS::DynamoDB::Table#other": map[string]any{}}, 400, "AWS::DynamoDB::Table#other"},
		{"value not an object", provider.AWSID, map[string]any{"AWS::DynamoDB::Table": "x"}, 400, "AWS::DynamoDB::Table"},
		{"OS restore_name", noop, map[string]any{"OS::Cinder::Volume#33b6bb0b-1157-4e66-8553-1c9e14b1c7ba": map[string]any{"restore_name": "v"}}, 200,
			`{"OS::Cinder::Volume#33b6bb0b-1157-4e66-8553-1c9e14b1c7ba":{"restore_name":"v"}}`},
		{"OS restore_name not a string", noop, map[string]any{"OS::Cinder::Volume": map[string]any{"restore_name": 3}}, 400, "restore_name"},
		{"No-Op: no properties of other types", noop, map[string]any{"AWS::DynamoDB::Table": map[string]any{"target_table_name": "x-y-z"}}, 400, "take no restore parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := a.ID
			if tc.provider == noop {
				cp = noopCp.ID
			}
			res := e.do(t, http.MethodPost, restoresPath(projA), tokenA, restoreBody(tc.provider, cp, tc.params))
			if tc.status != 200 {
				res.wantFault(t, tc.status, tc.want)
				return
			}
			got, _ := json.Marshal(res.wantStatus(t, 200).obj(t, "restore")["parameters"])
			if string(got) != tc.want {
				t.Errorf("parameters = %s, want %s", got, tc.want)
			}
		})
	}
}

// In tag mode, a restore's subnet and security groups must carry the
// project's tag.
func TestRestoreNetworkOwnership(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inv := invenv.New(t)
	ctx := context.Background()
	vpc, err := inv.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	tags := func(typ ec2types.ResourceType, project string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: typ, Tags: []ec2types.Tag{{Key: aws.String("karbor:project-id"), Value: aws.String(project)}}}}
	}
	subnet := func(cidr, project string) string {
		out, err := inv.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr), TagSpecifications: tags(ec2types.ResourceTypeSubnet, project)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Subnet.SubnetId)
	}
	group := func(project string) string {
		out, err := inv.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("g-" + domain.NewID()), Description: aws.String("test"),
			VpcId: vpc.Vpc.VpcId, TagSpecifications: tags(ec2types.ResourceTypeSecurityGroup, project)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	subnetA, subnetB := subnet("10.0.1.0/24", projA), subnet("10.0.2.0/24", projB)
	groupA, groupB := group(projA), group(projB)
	a := e.awsCheckpoint(t, projA)
	post := func(params map[string]any) *response {
		return e.do(t, http.MethodPost, restoresPath(projA), tokenA, restoreBody(provider.AWSID, a.ID, map[string]any{"AWS::EC2::Instance": params}))
	}
	r := post(map[string]any{"subnet_id": subnetA, "security_group_ids": groupA}).wantStatus(t, 200).obj(t, "restore")
	if got, _ := json.Marshal(r["parameters"]); !strings.Contains(string(got), `"security_group_ids":["`+groupA+`"]`) {
		t.Errorf("one security group is not normalized to a list: %s", got)
	}
	// The restore above marks the checkpoint; a second restore may follow.
	post(map[string]any{"subnet_id": subnetB}).wantFault(t, 400, subnetB)
	post(map[string]any{"security_group_ids": []string{groupA, groupB}}).wantFault(t, 400, groupB)
}

func TestTaskListFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c1 := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	c2 := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	var made []string
	for i := range 5 {
		c := []*domain.Checkpoint{c1, c2}[i%2]
		r := e.do(t, http.MethodPost, restoresPath(projA), tokenA, restoreBody(noop, c.ID, map[string]any{})).wantStatus(t, 200).obj(t, "restore")
		made = append(made, r["id"].(string))
	}
	// The first ends success.
	task, err := e.store.GetTask(context.Background(), domain.KindRestore, projA, made[0])
	if err != nil {
		t.Fatal(err)
	}
	task.Status = domain.TaskSuccess
	if _, err := e.store.EndTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	walk := func(query string) []string {
		var got []string
		path := restoresPath(projA) + "?" + query
		for pages := 0; path != ""; pages++ {
			if pages > 10 {
				t.Fatal("markers do not advance")
			}
			res := e.do(t, http.MethodGet, path, tokenA, nil).wantStatus(t, 200)
			got = append(got, ids(res.list(t, "restores"))...)
			path = res.next(t, "restores_links")
			if path != "" {
				u, _ := url.Parse(path)
				if !strings.HasPrefix(path, "http") || u.Query().Get("limit") != "2" {
					t.Errorf("next link %s", path)
				}
			}
		}
		return got
	}
	if got := walk("limit=2"); len(got) != 5 {
		t.Errorf("pages of 2 list %v, want 5 restores", got)
	}
	if got := walk("limit=2&status=success"); len(got) != 1 || got[0] != made[0] {
		t.Errorf("status=success lists %v", got)
	}
	if got := walk("limit=2&status=in_progress&checkpoint_id=" + c2.ID); len(got) != 2 {
		t.Errorf("in progress of c2 lists %v, want 2", got)
	}
	if got := walk("limit=2&checkpoint_id=" + c1.ID); len(got) != 3 {
		t.Errorf("c1 lists %v, want 3", got)
	}
	if got := walk("limit=2&provider_id=" + provider.AWSID); len(got) != 0 {
		t.Errorf("provider filter lists %v", got)
	}
	if got := walk("limit=2&sort=created_at:asc"); len(got) != 5 {
		t.Errorf("ascending lists %v", got)
	}
	for _, q := range []string{"status=started", "status=failed", "checkpoint_id=x", "provider_id=x", "marker=x", "marker=" + domain.NewID(), "sort=status:asc", "limit=0"} {
		e.do(t, http.MethodGet, restoresPath(projA)+"?"+q, tokenA, nil).wantFault(t, 400)
	}
	// all_tenants: admin only, ignored for others.
	if got := e.do(t, http.MethodGet, restoresPath(projB)+"?all_tenants=True", tokenB, nil).wantStatus(t, 200).list(t, "restores"); len(got) != 0 {
		t.Errorf("all_tenants as member lists %v", ids(got))
	}
	if got := e.do(t, http.MethodGet, restoresPath(projAdmin)+"?all_tenants=True&checkpoint_id="+c1.ID, tokenAdmin, nil).wantStatus(t, 200).list(t, "restores"); len(got) != 3 {
		t.Errorf("admin all_tenants of c1 lists %v", ids(got))
	}
	// A verification's id is no restore marker.
	v := e.do(t, http.MethodPost, verificationsPath(projA), tokenA, verificationBody(noop, c1.ID, map[string]any{})).wantStatus(t, 200).obj(t, "verification")
	e.do(t, http.MethodGet, restoresPath(projA)+"?marker="+v["id"].(string), tokenA, nil).wantFault(t, 400, "marker")
	if got := e.do(t, http.MethodGet, verificationsPath(projA)+"?marker="+made[1], tokenA, nil); got.status != 400 {
		t.Errorf("a restore as a verification marker: %d", got.status)
	}
}

// A create repeated with its Idempotency-Key answers the first response
// and creates one restore; credentials in restore_auth are refused before
// the key is reserved, so nothing of that body is written anywhere.
func TestTaskCreateIdempotency(t *testing.T) {
	t.Parallel()
	e := newIdemEnv(t)
	c := e.storeCheckpoint(t, projA, noop, domain.NewID(), domain.StatusAvailable, time.Now())
	body, _ := json.Marshal(restoreBody(noop, c.ID, map[string]any{}))
	first := e.post(t, restoresPath(projA), tokenA, string(body), "restore-key").wantStatus(t, http.StatusOK)
	wantReplay(t, first, e.post(t, restoresPath(projA), tokenA, string(body), "restore-key"))
	if got := e.do(t, http.MethodGet, restoresPath(projA), tokenA, nil).wantStatus(t, 200).list(t, "restores"); len(got) != 1 {
		t.Errorf("a replayed create made %d restores, want 1", len(got))
	}
	vbody, _ := json.Marshal(verificationBody(noop, c.ID, map[string]any{}))
	vfirst := e.post(t, verificationsPath(projA), tokenA, string(vbody), "restore-key").wantStatus(t, http.StatusOK)
	wantReplay(t, vfirst, e.post(t, verificationsPath(projA), tokenA, string(vbody), "restore-key"))
	if got := e.do(t, http.MethodGet, verificationsPath(projA), tokenA, nil).wantStatus(t, 200).list(t, "verifications"); len(got) != 1 {
		t.Errorf("a replayed create made %d verifications, want 1", len(got))
	}

	before := e.calls.n.Load()
	auth := `{"restore": {"provider_id": "` + noop + `", "checkpoint_id": "` + c.ID + `", "parameters": {}, "restore_auth": {"type": "password", "username": "u", "password": "secret-pw"}}}`
	e.post(t, restoresPath(projA), tokenA, auth, "auth-key").wantFault(t, http.StatusBadRequest, "credentials are not accepted")
	if n := e.calls.n.Load() - before; n != 0 {
		t.Errorf("a body with credentials made %d calls on the idempotency table", n)
	}
}
