package server_test

// The README's walk-through, run as written (its No-Op part) against the
// local server: it works, shows the statuses its text promises, and fails
// loudly when something is wrong.

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"karbor/internal/domain"
	"karbor/internal/provider"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// walkThrough returns the shell blocks of the README's walk-through up to
// the AWS Provider's section, pointed at base instead of port 3000.
func walkThrough(t *testing.T, base string) string {
	t.Helper()
	return strings.ReplaceAll(readmeBlocks(t, "## Walk-through", "### The same on the AWS Provider"), "http://127.0.0.1:3000", base)
}

// readmeBlocks returns the sh blocks of README.md between two headings.
func readmeBlocks(t *testing.T, fromHeading, toHeading string) string {
	t.Helper()
	raw, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	from, to := strings.Index(text, fromHeading), strings.Index(text, toHeading)
	if from < 0 || to < from {
		t.Fatalf("README.md has no section %q before %q", fromHeading, toHeading)
	}
	var script strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text[from:to], -1) {
		script.WriteString(m[1])
	}
	if script.Len() == 0 {
		t.Fatalf("no sh blocks in README.md's %q", fromHeading)
	}
	return script.String()
}

// bash runs a script as pasted into a terminal (no -e: each failing step
// says so and the rest goes on) and returns what it printed.
func bash(t *testing.T, script string) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the README's walk-through needs it", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait.Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", script).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the script did not end within %v:\n%s", 2*wait.Timeout, out)
	}
	if err != nil {
		t.Logf("bash: %v", err)
	}
	return string(out)
}

func TestReadmeWalkThrough(t *testing.T) {
	c := start(t, testenv.Endpoint(t))
	script := walkThrough(t, c.base)
	out := bash(t, script)

	// The one step meant to fail: resetting a deleted checkpoint (400).
	if n := strings.Count(out, "FAILED"); n != 1 || !strings.Contains(out, "it can be reset only when it is available, error or error-deleting") {
		t.Errorf("want exactly one FAILED step, the reset of the deleted checkpoint (400); output:\n%s", out)
	}
	id := regexp.MustCompile(`checkpoint ([0-9a-f-]{36})\n`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no checkpoint created; output:\n%s", out)
	}
	// In order: available, reset to error, deleted, deleted again (200 {}
	// and still deleted).
	for _, want := range []string{
		"checkpoint " + id[1] + " is available\n",
		"{}\nerror\n",
		"checkpoint " + id[1] + " is deleted\n{}\ndeleted\n",
	} {
		i := strings.Index(out, want)
		if i < 0 {
			t.Errorf("the walk-through does not show %q; output:\n%s", want, out)
			continue
		}
		out = out[i+len(want):]
	}

	// Loud failures: a checkpoint that ends in error is printed with its
	// reason at once; an unknown one fails at once with the fault.
	failed := c.checkpointOf(provider.AWSID, c.vanishedVolumePlan().plan)
	// The functions, as the test's caller (its project holds the checkpoint).
	prelude := walkThroughFunctions(script) + "\nexport TOKEN=" + c.token + " KARBOR=" + c.base + "/v1/" + c.project + "\n"
	out = bash(t, prelude+"\nwait_for "+provider.AWSID+" "+failed+" available || echo EXIT $?\n")
	if !strings.Contains(out, "FAILED: checkpoint "+failed+" is error, not available") || !strings.Contains(out, "is not owned by the project") || !strings.Contains(out, "EXIT 1") {
		t.Errorf("wait_for on a checkpoint ending in error; output:\n%s", out)
	}
	unknown := domain.NewID()
	out = bash(t, prelude+"\nwait_for "+provider.NoOpID+" "+unknown+" available || echo EXIT $?\n")
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "could not be found") || !strings.Contains(out, "EXIT 1") {
		t.Errorf("wait_for on an unknown checkpoint; output:\n%s", out)
	}
}

// walkThroughFunctions is the walk-through's first lines, up to its first
// request: the exports and the api and wait_for functions.
func walkThroughFunctions(script string) string {
	i := strings.Index(script, "# The providers:")
	if i < 0 {
		return script
	}
	return script[:i]
}

// TestReadmeWalkThroughAWS runs the walk-through's AWS Provider part as
// written, with its exports and functions, `make -s demo-resources` being
// the same command built here: the protectables, the Karbor client's
// plan-create of the project's own resources, a checkpoint and its
// deletion, and the one refusal meant to fail.
func TestReadmeWalkThroughAWS(t *testing.T) {
	karborCLI(t)
	endpoint := testenv.Endpoint(t)
	c := start(t, endpoint)
	script := readmeBlocks(t, "### The same on the AWS Provider", "### Schedules under make run")
	dir := t.TempDir()
	demo := filepath.Join(dir, "karbor-demo-resources")
	if out, err := exec.Command("go", "build", "-o", demo, "karbor/internal/local/cmd/karbor-demo-resources").CombinedOutput(); err != nil {
		t.Fatalf("build the demo command: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "endpoint")
	if err := os.WriteFile(file, []byte(endpoint+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	aws := strings.NewReplacer("make -s demo-resources", "ENDPOINT_FILE="+file+" "+demo,
		"make -s demo-items TABLE=", "ENDPOINT_FILE="+file+" "+demo+" items ").Replace(script)
	out := bash(t, walkThroughFunctions(walkThrough(t, c.base))+aws)

	if n := strings.Count(out, "FAILED"); n != 1 || !strings.Contains(out, "Resource AWS::EC2::Volume vol-0123456789abcdef0 is not a protectable instance of this project.") {
		t.Errorf("want exactly one FAILED step, the plan of a volume not the project's (400); output:\n%s", out)
	}
	for _, want := range []string{
		`{"protectable_type":["AWS::DynamoDB::Table","AWS::EC2::Instance","AWS::EC2::Volume"]}`,
		`"name":"orders-data"`, `"dependents":["vol-`, "AWS::DynamoDB::Table", "plan ", " is available\n", " is deleted\n",
		// The restore, its table's items, the verification and the logs.
		" ended success\n", `"status":"success","resources_status":{"AWS::DynamoDB::Table#orders":"available"`,
		`"item":"keyboard","order_id":"order-1"`, `"restore test: 3 items restored`,
		`{"operation_type":"restore","status":"success"`, `{"operation_type":"verify","status":"success"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the walk-through does not show %q; output:\n%s", want, out)
		}
	}
}

// TestReadmeSchedules runs the README's "Schedules under make run" as
// written, after the No-Op walk-through it continues, `make -s tick`
// included (PORT pointing it at this server): three fires at the
// trigger's first three occurrences, each logged with its scheduled
// time, retention keeping two available checkpoints with the deletion
// logged, and a late tick logged skipped with the window's reason.
func TestReadmeSchedules(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not on PATH: the README's schedules walk-through runs make tick")
	}
	c := start(t, testenv.Endpoint(t))
	u, err := url.Parse(c.base)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	script := walkThrough(t, c.base) + "\nexport PORT=" + u.Port() + "\ncd " + root + "\n" +
		strings.ReplaceAll(readmeBlocks(t, "### Schedules under make run", "## Deploying"), "http://127.0.0.1:3000", c.base)
	out := bash(t, script)
	if n := strings.Count(out, "FAILED"); n != 1 {
		t.Errorf("want exactly one FAILED step (the walk-through's reset of a deleted checkpoint); output:\n%s", out)
	}
	if !regexp.MustCompile(`trigger [0-9a-f-]{36}\n`).MatchString(out) || !regexp.MustCompile(`scheduled operation [0-9a-f-]{36}\n`).MatchString(out) {
		t.Fatalf("no trigger or scheduled operation created; output:\n%s", out)
	}
	for _, want := range []string{
		`{"at":"2030-01-01T10:00:30Z","triggers":1,"fired":1,"skipped":0,"refused":0,"failed":0}`,
		`{"at":"2030-01-02T10:00:30Z","triggers":1,"fired":1,"skipped":0,"refused":0,"failed":0}`,
		`{"at":"2030-01-03T10:00:30Z","triggers":1,"fired":1,"skipped":0,"refused":0,"failed":0}`,
		`"scheduled_time": "2030-01-01T10:00:00Z"`, `"scheduled_time": "2030-01-03T10:00:00Z"`,
		`"created_by": "operation-engine"`,
		`{"at":"2030-01-04T10:20:00Z","triggers":1,"fired":0,"skipped":1,"refused":0,"failed":0}`,
		`"error_info": "not started within the window of 900 s"`,
		// Retention kept two: Jan 1's fire was deleted by Jan 3's.
		`{"available":["2030-01-03T10:00:30Z","2030-01-02T10:00:30Z"]}`,
		// Three fires, each with its retention step, and one deletion.
		`{"logs":["delete deleted","protect available","protect available","protect available","retention success","retention success","retention success"]}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the schedules walk-through does not show %s; output:\n%s", want, out)
		}
	}
}
