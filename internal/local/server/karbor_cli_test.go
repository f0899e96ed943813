package server_test

// The real Karbor client (python3-karborclient 2.1.0, the `karbor` command)
// against the local server: every provider, plan and checkpoint subcommand
// the service serves, as an operator would type them, with the worker
// protecting and deleting in the background.
//
// plan-create first checks each resource with GET
// /protectables/{type}/instances/{id}: TestKarborClientProtectables drives
// it with AWS resources the project owns; TestKarborClient's No-Op plans,
// of OS:: types, are created through the API (the client would find no
// such instance and refuse).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// karborCLI finds the karbor command. It is required by `make test` (CI
// installs it: .ci/run); the fast tier (-short) skips this test.
func karborCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("a Python process per subcommand: slow by nature, not in the fast tier")
	}
	path, err := exec.LookPath("karbor")
	if err != nil {
		t.Fatal("karbor is not on PATH: apt-get install -y python3-karborclient (what .ci/run does)")
	}
	return path
}

// cli runs karbor subcommands as the client's caller.
type cli struct {
	c    *client
	path string
}

// run runs one subcommand and returns its output (stdout and stderr
// together) and whether it exited 0.
func (k cli) run(args ...string) (string, bool) {
	k.c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.path, args...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") && !strings.HasPrefix(kv, "KARBOR_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"KARBOR_URL="+k.c.base+"/v1/"+k.c.project,
		"OS_AUTH_TOKEN="+k.c.token,
		"OS_NO_CLIENT_AUTH=1",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		k.c.t.Fatalf("karbor %s did not end within %v:\n%s", strings.Join(args, " "), wait.Timeout, out.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		k.c.t.Fatalf("karbor %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), err == nil
}

// must runs a subcommand that must succeed.
func (k cli) must(args ...string) string {
	k.c.t.Helper()
	out, ok := k.run(args...)
	if !ok {
		k.c.t.Fatalf("karbor %s failed:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// field reads a property of the client's print_dict table: the row
// "| key | value |" (the first line of a value spanning rows).
func field(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) >= 4 && strings.TrimSpace(cells[1]) == key {
			return strings.TrimSpace(cells[2])
		}
	}
	return ""
}

var uuidIn = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// rowIDs lists the ids in the first column of a print_list table.
func rowIDs(out string) []string {
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) >= 3 {
			if id := strings.TrimSpace(cells[1]); uuidIn.MatchString(id) && len(id) == 36 {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w]--; seen[w] < 0 {
			return false
		}
	}
	return true
}

func TestKarborClient(t *testing.T) {
	k := cli{path: karborCLI(t)}
	c := start(t, "")
	k.c = c
	noop := provider.NoOpID

	// Providers.
	out := k.must("provider-list")
	for _, id := range []string{provider.NoOpID, provider.AWSID, provider.OSInfraID} {
		if !strings.Contains(out, id) {
			t.Errorf("provider-list lacks %s:\n%s", id, out)
		}
	}
	p, _ := provider.Get(noop)
	if out := k.must("provider-show", noop); field(out, "id") != noop || field(out, "name") != p.Name {
		t.Errorf("provider-show:\n%s", out)
	}

	// Plans of OS:: types, created through the API (see the top of this
	// file).
	newPlan := func(name string) string {
		out := c.must("POST", "/plans", map[string]any{"plan": map[string]any{
			"name": name, "provider_id": noop, "parameters": map[string]any{},
			"resources": []map[string]any{{"id": domain.NewID(), "type": "OS::Cinder::Volume", "name": "Data volume"}},
		}})
		return dig(out, "plan", "id").(string)
	}
	plan1, plan2 := newPlan("Web tier"), newPlan("Data tier")
	if ids := rowIDs(k.must("plan-list")); !sameSet(ids, []string{plan1, plan2}) {
		t.Errorf("plan-list shows %v, want %s and %s", ids, plan1, plan2)
	}
	if out := k.must("plan-show", plan1); field(out, "name") != "Web tier" || field(out, "status") != "suspended" {
		t.Errorf("plan-show:\n%s", out)
	}
	out = k.must("plan-update", plan1, "--name", "Front tier", "--description", "the web servers", "--status", "started")
	if field(out, "name") != "Front tier" || field(out, "status") != "started" || field(out, "description") != "the web servers" {
		t.Errorf("plan-update:\n%s", out)
	}
	if got := dig(c.must("GET", "/plans/"+plan1, nil), "plan", "name"); got != "Front tier" {
		t.Errorf("after plan-update the plan's name is %v", got)
	}

	// Checkpoints: six of plan1, one of plan2, each available.
	create := func(plan string, extra ...string) string {
		out := k.must(append([]string{"checkpoint-create", noop, plan}, extra...)...)
		id := field(out, "id")
		if !uuidIn.MatchString(id) || field(out, "status") != "protecting" {
			t.Fatalf("checkpoint-create:\n%s", out)
		}
		return id
	}
	var ids []string
	for range 6 {
		ids = append(ids, create(plan1))
	}
	other := create(plan2, "--extra_info", "ticket=OPS-42")
	for _, id := range append(ids, other) {
		c.waitStatus(noop, id, "available")
	}
	out = k.must("checkpoint-show", noop, other)
	if field(out, "status") != "available" || !strings.Contains(out, "OPS-42") || !strings.Contains(out, plan2) {
		t.Errorf("checkpoint-show:\n%s", out)
	}
	if got := rowIDs(k.must("checkpoint-list", noop)); !sameSet(got, append(ids[:len(ids):len(ids)], other)) {
		t.Errorf("checkpoint-list shows %v, want %v and %s", got, ids, other)
	}
	if got := rowIDs(k.must("checkpoint-list", noop, "--plan_id", plan2)); !sameSet(got, []string{other}) {
		t.Errorf("checkpoint-list --plan_id shows %v, want %s", got, other)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if got := rowIDs(k.must("checkpoint-list", noop, "--start_date", today, "--end_date", today)); len(got) != 7 {
		t.Errorf("checkpoint-list of today shows %d, want 7", len(got))
	}
	if got := rowIDs(k.must("checkpoint-list", noop, "--limit", "2", "--sort", "created_at:desc")); len(got) != 2 {
		t.Errorf("checkpoint-list --limit 2 shows %v", got)
	}

	// States the client must live with. ids[1] is made error by the
	// client; ids[2] and ids[3] are put in error-deleting (no request
	// leads there at will); ids[4] is deleted.
	k.must("checkpoint-reset-state", noop, ids[1])
	set := func(id string, from, to domain.Status) {
		t.Helper()
		if _, err := c.store.SetStatus(t.Context(), domain.Transition{
			ProjectID: c.project, ProviderID: noop, ID: id, From: []domain.Status{from}, To: to,
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(ids[2], domain.StatusAvailable, domain.StatusErrorDeleting)
	set(ids[3], domain.StatusAvailable, domain.StatusErrorDeleting)
	k.must("checkpoint-delete", noop, ids[4])
	c.waitStatus(noop, ids[4], "deleted")
	status := func(id string) any {
		return dig(c.must("GET", "/providers/"+noop+"/checkpoints/"+id, nil), "checkpoint", "status")
	}
	if st := status(ids[1]); st != "error" {
		t.Errorf("after checkpoint-reset-state, %s is %v, want error", ids[1], st)
	}

	// Reset several ids in mixed states: every id is tried, refusals are
	// reported and the rest done.
	unknown := domain.NewID()
	out = k.must("checkpoint-reset-state", noop, "--available", ids[1], ids[4], unknown, ids[2])
	for _, want := range []string{
		"Failed to reset state of '" + ids[4] + "'; invalid input or current checkpoint state",
		"Failed to reset state of '" + unknown + "'; checkpoint not found",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("checkpoint-reset-state does not say %q:\n%s", want, out)
		}
	}
	for id, want := range map[string]string{ids[1]: "available", ids[4]: "deleted", ids[2]: "available"} {
		if st := status(id); st != want {
			t.Errorf("after checkpoint-reset-state, %s is %v, want %s", id, st, want)
		}
	}

	// Delete several ids in mixed states: available, error, error-deleting
	// (a retry), deleted, unknown, and one id twice (deleting or deleted by
	// its second turn).
	k.must("checkpoint-reset-state", noop, ids[5]) // error
	out = k.must("checkpoint-delete", noop, ids[0], ids[5], ids[3], ids[4], unknown, ids[2], ids[2])
	if want := "Failed to delete '" + unknown + "'; checkpoint not found"; !strings.Contains(out, want) || strings.Count(out, "Failed") != 1 {
		t.Errorf("checkpoint-delete output, want only %q:\n%s", want, out)
	}
	for _, id := range []string{ids[0], ids[5], ids[3], ids[2]} {
		c.waitStatus(noop, id, "deleted")
	}
	if got := rowIDs(k.must("checkpoint-list", noop)); !sameSet(got, []string{ids[1], other}) {
		t.Errorf("checkpoint-list after the deletes shows %v, want %s and %s", got, ids[1], other)
	}
	// A checkpoint deleted already is deleted again, quietly.
	k.must("checkpoint-delete", noop, ids[4])
	if st := status(ids[4]); st != "deleted" {
		t.Errorf("%s is %v, want deleted", ids[4], st)
	}
	// Nothing the client can find: it says so and fails.
	if out, ok := k.run("checkpoint-delete", noop, unknown); ok || !strings.Contains(out, "Unable to find and delete any") {
		t.Errorf("checkpoint-delete of an unknown id succeeded or said:\n%s", out)
	}

	// Plans go.
	k.must("plan-delete", plan1, plan2)
	if out, ok := k.run("plan-show", plan1); ok {
		t.Errorf("plan-show of a deleted plan succeeded:\n%s", out)
	}
	if ids := rowIDs(k.must("plan-list")); len(ids) != 0 {
		t.Errorf("plan-list after plan-delete shows %v", ids)
	}
}

// TestKarborClientProtectables: the protectables subcommands, and
// plan-create of AWS resources the project owns (the client checks each
// with protectable-show-instance's request first).
func TestKarborClientProtectables(t *testing.T) {
	k := cli{path: karborCLI(t)}
	c := start(t, testenv.Endpoint(t))
	k.c = c
	e := invenv.New(t)
	table := e.Table(invenv.TableName("cli"), invenv.Owner(c.project))
	volume := e.Volume(map[string]string{ownership.DefaultTagKey: c.project, "Name": "cli-data"})
	instance, attached := e.Instance(invenv.Owner(c.project))
	theirs := e.Volume(invenv.Owner(invenv.Project()))

	out := k.must("protectable-list")
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::EC2::Instance", "AWS::EC2::Volume"} {
		if !strings.Contains(out, typ) {
			t.Errorf("protectable-list lacks %s:\n%s", typ, out)
		}
	}
	if out := k.must("protectable-show", "AWS::EC2::Instance"); field(out, "name") != "AWS::EC2::Instance" || !strings.Contains(field(out, "dependent_types"), "AWS::EC2::Volume") {
		t.Errorf("protectable-show:\n%s", out)
	}
	if out, ok := k.run("protectable-show", "OS::Nova::Server"); ok || !strings.Contains(out, "could not be found") {
		t.Errorf("protectable-show of an OS type:\n%s", out)
	}
	out = k.must("protectable-list-instances", "AWS::EC2::Volume")
	if !strings.Contains(out, volume) || !strings.Contains(out, "cli-data") || strings.Contains(out, theirs) || strings.Contains(out, attached[0]) {
		t.Errorf("protectable-list-instances shows other than the project's volume %s:\n%s", volume, out)
	}
	out = k.must("protectable-list-instances", "AWS::EC2::Volume", "--limit", "1", "--sort", "id:desc", "--parameters", "name=x", "flag")
	if !strings.Contains(out, volume) {
		t.Errorf("protectable-list-instances --limit 1 --sort id:desc --parameters:\n%s", out)
	}
	out = k.must("protectable-show-instance", "AWS::EC2::Instance", instance)
	if field(out, "id") != instance || !strings.Contains(out, attached[0]) {
		t.Errorf("protectable-show-instance shows no attached volume %s:\n%s", attached[0], out)
	}
	if out, ok := k.run("protectable-show-instance", "AWS::EC2::Volume", theirs); ok || !strings.Contains(out, "could not be found") {
		t.Errorf("protectable-show-instance of another project's volume:\n%s", out)
	}

	// plan-create with the project's own resources; the No-Op provider
	// takes the instance too (the AWS provider's own types are its own).
	out = k.must("plan-create", "Mine", provider.NoOpID,
		table+"=AWS::DynamoDB::Table=Orders,"+volume+"=AWS::EC2::Volume=Data,"+instance+"=AWS::EC2::Instance=Web")
	planID := field(out, "id")
	if !uuidIn.MatchString(planID) {
		t.Fatalf("plan-create:\n%s", out)
	}
	if rs, _ := dig(c.must("GET", "/plans/"+planID, nil), "plan", "resources").([]any); len(rs) != 3 {
		t.Errorf("the plan has resources %v", rs)
	}
	out = k.must("plan-create", "Orders", provider.AWSID, table+"=AWS::DynamoDB::Table=Orders,"+volume+"=AWS::EC2::Volume=Data")
	if !uuidIn.MatchString(field(out, "id")) {
		t.Errorf("plan-create on the AWS provider:\n%s", out)
	}
	// Another project's volume: the client finds no such instance.
	if out, ok := k.run("plan-create", "Theirs", provider.AWSID, theirs+"=AWS::EC2::Volume=Data"); ok || !strings.Contains(out, "can not be found") {
		t.Errorf("plan-create of another project's volume:\n%s", out)
	}

	// A caller whose only role is reader (docs/api.md, Policy): it lists,
	// and plan-create, which checks the resources (reads) first, is refused
	// by the policy.
	reader := cli{path: k.path, c: &client{t: t, base: c.base, project: c.project, token: "rita:" + c.project + ":reader"}}
	if ids := rowIDs(reader.must("plan-list")); len(ids) != 2 {
		t.Errorf("plan-list as a reader shows %v, want the 2 plans", ids)
	}
	reader.must("checkpoint-list", provider.NoOpID)
	if out, ok := reader.run("plan-create", "Reader's", provider.NoOpID, table+"=AWS::DynamoDB::Table=Orders"); ok || !strings.Contains(out, "Policy doesn't allow create-plan to be performed.") {
		t.Errorf("plan-create as a reader:\n%s", out)
	}
}

// TestKarborClientQuotas: the client's quota commands that need no Keystone
// session (each names the tenant or the class); quota-show and
// quota-defaults without --tenant ask a Keystone session for the project
// id, so those routes are driven with plain HTTP here (GET
// /quotas/{project_id} as the project's own member). Then ten parallel
// plan creates against the server at a limit with three left: exactly
// three pass, the server's writes being atomic as DynamoDB's are.
func TestKarborClientQuotas(t *testing.T) {
	k := cli{path: karborCLI(t)}
	c := start(t, "")
	k.c = c
	admin := cli{path: k.path, c: &client{t: t, base: c.base, project: "ad000000000000000000000000000001", token: "root:ad000000000000000000000000000001:admin"}}
	want := func(what, out string, fields map[string]string) {
		t.Helper()
		for key, v := range fields {
			if got := field(out, key); got != v {
				t.Errorf("%s: %s = %q, want %q:\n%s", what, key, got, v, out)
			}
		}
	}

	want("quota-show --tenant", k.must("quota-show", "--tenant", c.project), map[string]string{"id": c.project, "plans": "50", "checkpoints": "-1"})
	want("quota-defaults --tenant", k.must("quota-defaults", "--tenant", c.project), map[string]string{"id": c.project, "plans": "50", "checkpoints": "-1"})
	// update-quota's rule is admin: the policy refuses a member.
	if out, ok := k.run("quota-update", c.project, "--plans", "5"); ok || !strings.Contains(out, "Policy doesn't allow update-quota to be performed.") {
		t.Errorf("quota-update as a member:\n%s", out)
	}
	want("quota-update", admin.must("quota-update", c.project, "--plans", "5"), map[string]string{"id": c.project, "plans": "5", "checkpoints": "-1"})
	want("quota-show after the update", k.must("quota-show", "--tenant", c.project), map[string]string{"plans": "5"})
	out := k.must("quota-show", "--tenant", c.project, "--detail")
	if p := field(out, "plans"); !strings.Contains(p, "in_use = 0") {
		t.Errorf("quota-show --detail:\n%s", out)
	}
	want("quota-class-show", k.must("quota-class-show", "default"), map[string]string{"id": "default", "plans": "50", "checkpoints": "-1"})
	want("quota-class-update", admin.must("quota-class-update", "default", "--plans", "7"), map[string]string{"id": "default", "plans": "7", "checkpoints": "-1"})
	want("quota-defaults after the class update", k.must("quota-defaults", "--tenant", c.project), map[string]string{"plans": "7"})
	if out, ok := k.run("quota-class-show", "gold"); ok || !strings.Contains(out, "Quota class gold could not be found.") {
		t.Errorf("quota-class-show gold:\n%s", out)
	}
	// Without --tenant the client needs Keystone: the same route by HTTP.
	q := c.must("GET", "/quotas/"+c.project, nil)
	if dig(q, "quota", "plans") != 5.0 || dig(q, "quota", "checkpoints") != -1.0 || dig(q, "quota", "id") != c.project {
		t.Errorf("GET /quotas/<own project> = %v", q)
	}

	// Ten parallel creates with three places left.
	volume := func() []map[string]any {
		return []map[string]any{{"id": domain.NewID(), "type": "OS::Cinder::Volume", "name": "Data volume"}}
	}
	for range 2 {
		c.createPlan(provider.NoOpID, volume(), map[string]any{})
	}
	codes := make(chan int, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			code, _ := c.do("POST", "/plans", map[string]any{"plan": map[string]any{"name": "parallel", "provider_id": provider.NoOpID, "resources": volume(), "parameters": map[string]any{}}})
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for code := range codes {
		count[code]++
	}
	if count[200] != 3 || count[413] != 7 {
		t.Errorf("10 parallel plan creates with 3 places left: %v, want 3 × 200 and 7 × 413", count)
	}
	detail := c.must("GET", "/quotas/"+c.project+"/detail", nil)
	if dig(detail, "quota", "plans", "in_use") != 5.0 {
		t.Errorf("plans in use after the parallel creates: %v, want 5", detail)
	}
}

// TestKarborClientSchedules: the trigger and scheduled operation
// subcommands. The client splits properties and definitions on commas
// (CONTRACT.md "Triggers"), so the pattern has none.
func TestKarborClientSchedules(t *testing.T) {
	k := cli{path: karborCLI(t)}
	c := start(t, "")
	k.c = c
	noop := provider.NoOpID

	out := k.must("trigger-create", "nightly", "time", "pattern=0 2 * * *,format=crontab")
	trig := field(out, "id")
	if !uuidIn.MatchString(trig) || field(out, "name") != "nightly" || !strings.Contains(out, `"window": 900`) || !strings.Contains(out, `"pattern": "0 2 * * *"`) {
		t.Fatalf("trigger-create:\n%s", out)
	}
	if out, ok := k.run("trigger-create", "often", "time", "pattern=*/5 * * * *,format=crontab"); ok || !strings.Contains(out, "The interval of two adjacent time points is less than 3600.") {
		t.Errorf("trigger-create of a pattern too frequent succeeded or said:\n%s", out)
	}
	if ids := rowIDs(k.must("trigger-list")); !sameSet(ids, []string{trig}) {
		t.Errorf("trigger-list shows %v, want %s", ids, trig)
	}
	if out := k.must("trigger-show", trig); field(out, "name") != "nightly" || field(out, "type") != "time" {
		t.Errorf("trigger-show:\n%s", out)
	}
	out = k.must("trigger-update", trig, "--name", "nightly at three", "--properties", "pattern=0 3 * * *,window=1200")
	if field(out, "name") != "nightly at three" || !strings.Contains(out, `"window": 1200`) || !strings.Contains(out, `"format": "crontab"`) {
		t.Errorf("trigger-update:\n%s", out)
	}
	// Without --properties the client sends {}: only the name changes.
	if out := k.must("trigger-update", trig, "--name", "nightly"); field(out, "name") != "nightly" || !strings.Contains(out, `"pattern": "0 3 * * *"`) {
		t.Errorf("trigger-update --name:\n%s", out)
	}

	plan := dig(c.must("POST", "/plans", map[string]any{"plan": map[string]any{
		"name": "Orders", "provider_id": noop, "parameters": map[string]any{},
		"resources": []map[string]any{{"id": domain.NewID(), "type": "OS::Cinder::Volume", "name": "Data volume"}},
	}}), "plan", "id").(string)
	out = k.must("scheduledoperation-create", "nightly orders", "retention_protect", trig, "provider_id="+noop+",plan_id="+plan+",max_backups=3")
	op := field(out, "id")
	if !uuidIn.MatchString(op) || field(out, "trigger_id") != trig || field(out, "operation_type") != "retention_protect" {
		t.Fatalf("scheduledoperation-create:\n%s", out)
	}
	if got := dig(c.must("GET", "/scheduled_operations/"+op, nil), "scheduled_operation", "operation_definition", "max_backups"); got != 3.0 {
		t.Errorf("max_backups sent as \"3\" reads back as %#v, want the integer 3", got)
	}
	if ids := rowIDs(k.must("scheduledoperation-list")); !sameSet(ids, []string{op}) {
		t.Errorf("scheduledoperation-list shows %v, want %s", ids, op)
	}
	if out := k.must("scheduledoperation-show", op); field(out, "name") != "nightly orders" || field(out, "enabled") != "True" {
		t.Errorf("scheduledoperation-show:\n%s", out)
	}

	// In use: the client prints the 409 and fails.
	if out, ok := k.run("trigger-delete", trig); ok || !strings.Contains(out, "Trigger "+trig+" is used by scheduled operation(s) "+op+".") {
		t.Errorf("trigger-delete of a trigger in use succeeded or said:\n%s", out)
	}
	if out, ok := k.run("plan-delete", plan); ok || !strings.Contains(out, "Plan "+plan+" is used by scheduled operation(s) "+op+".") {
		t.Errorf("plan-delete of a plan in use succeeded or said:\n%s", out)
	}
	k.must("scheduledoperation-delete", op)
	if ids := rowIDs(k.must("scheduledoperation-list")); len(ids) != 0 {
		t.Errorf("scheduledoperation-list after the delete shows %v", ids)
	}
	k.must("trigger-delete", trig)
	if ids := rowIDs(k.must("trigger-list")); len(ids) != 0 {
		t.Errorf("trigger-list after the delete shows %v", ids)
	}
	k.must("plan-delete", plan)
}
