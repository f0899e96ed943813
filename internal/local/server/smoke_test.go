package server_test

// The smoke test of a deployed stack (make smoke, scripts/smoke.sh), run
// against the local server with the development token: it passes through
// every step on a working API, and fails naming the step when the API
// refuses it.

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// smoke runs `make smoke URL=base TOKEN=token` from the repository's root
// and returns its output and exit code.
func smoke(t *testing.T, base, token string) (string, int) {
	t.Helper()
	for _, tool := range []string{"make", "bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: make smoke needs it", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", "../../..", "smoke", "URL="+base, "TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("make smoke did not end within %v:\n%s", 2*wait.Timeout, out)
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("make smoke: %v", err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func TestSmoke(t *testing.T) {
	c := start(t, testenv.Endpoint(t))
	out, code := smoke(t, c.base+"/", c.token)
	if code != 0 {
		t.Fatalf("make smoke exited %d:\n%s", code, out)
	}
	for _, step := range []string{"list providers", "create plan", "create checkpoint", "checkpoint available",
		"create restore", "restore success", "delete checkpoint", "checkpoint deleted", "delete plan"} {
		if !strings.Contains(out, "ok: "+step) {
			t.Errorf("make smoke did not report step %q:\n%s", step, out)
		}
	}
	if !strings.HasSuffix(out, "smoke: passed\n") || strings.Contains(out, "FAILED") {
		t.Errorf("make smoke output does not end passed:\n%s", out)
	}

	// What it made it deleted: no plan left, its checkpoint deleted.
	plans := c.must("GET", "/plans", nil)["plans"].([]any)
	if len(plans) != 0 {
		t.Errorf("plans left after the smoke test: %v", plans)
	}
}

func TestSmokeFailsNamingTheStep(t *testing.T) {
	c := start(t, testenv.Endpoint(t))
	// A malformed development token (a user id with a space) is refused
	// (401) at the first step.
	out, code := smoke(t, c.base, "bad user:"+c.project+":member")
	if code == 0 || !strings.Contains(out, "FAILED: list providers: GET /providers") {
		t.Errorf("make smoke with a malformed token exited %d, want non-zero naming list providers:\n%s", code, out)
	}
	if strings.Contains(out, "ok: ") {
		t.Errorf("a step passed with a malformed token:\n%s", out)
	}

	out, code = smoke(t, c.base, "")
	if code != 2 || !strings.Contains(out, "usage: make smoke") {
		t.Errorf("make smoke without TOKEN exited %d, want 2 with the usage:\n%s", code, out)
	}
}

// TestSmokeCleansUpOnFailure: a run that fails after making its plan (no
// checkpoint allowed: quota 0) deletes the plan on its way out, so failed
// runs do not pile up against the project's quotas.
func TestSmokeCleansUpOnFailure(t *testing.T) {
	c := start(t, testenv.Endpoint(t))
	admin := &client{t: t, base: c.base, project: c.project, token: "root:" + c.project + ":admin"}
	admin.must("PUT", "/quotas/"+c.project, map[string]any{"quota": map[string]any{"checkpoints": 0}})
	out, code := smoke(t, c.base, c.token)
	if code == 0 || !strings.Contains(out, "FAILED: create checkpoint") || !strings.Contains(out, "ok: create plan") {
		t.Fatalf("make smoke at a checkpoint quota of 0 exited %d, want a failure at create checkpoint:\n%s", code, out)
	}
	if !strings.Contains(out, "smoke: cleaned up") {
		t.Errorf("no clean-up reported:\n%s", out)
	}
	if plans := c.must("GET", "/plans", nil)["plans"].([]any); len(plans) != 0 {
		t.Errorf("plans left after a failed run: %v", plans)
	}
}
