// Package rie runs the service's Lambda functions for tests as
// Lambda runs them: each function is built by its Makefile target, exactly as
// `sam build` builds it (but for the host's architecture), and its bootstrap
// binary is driven by the Runtime Interface Emulator (aws-lambda-rie, what
// `sam local invoke` runs in its container), installed into .bin/ by
// `make tools`.
//
// Built binaries live in one temporary directory per test binary; a package
// whose tests use Build removes it from TestMain with RemoveBuilds:
//
//	func TestMain(m *testing.M) {
//		code := testenv.Main(m)
//		rie.RemoveBuilds()
//		os.Exit(code)
//	}
//
// (A directory left behind by a test binary that crashed is removed by the
// next one's first Build.)
package rie

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"karbor/internal/local/proc"
	"karbor/internal/testsupport/syncbuf"
	"karbor/internal/testsupport/wait"
)

// RepoRoot returns the module root: the nearest directory at or above the
// working directory (a package's directory, under go test) holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("rie: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// buildDirPrefix names the per-process build directories; the PID follows,
// so that a directory whose process is gone can be recognised as stale.
const buildDirPrefix = "karbor-lambdatest-"

var (
	buildMu  sync.Mutex
	buildDir string // created by the first Build
	builds   = map[string]*build{}
)

type build struct {
	once      sync.Once
	bootstrap string
	err       error
}

// Build builds the function with the given logical id (template.yaml, and
// api.Route.LogicalID()) by running `make build-<LogicalID>` from the
// repository root, as `sam build` does, with GOARCH set to the host's so the
// emulator can run it, and returns the path of its bootstrap binary. Each
// function is built once per test binary; later calls return the same path.
// Under -short (make test-short) Build skips the test (see SkipIfShort).
func Build(t testing.TB, logicalID string) (bootstrapPath string) {
	t.Helper()
	SkipIfShort(t)
	if runtime.GOOS != "linux" {
		t.Fatalf("rie: Lambda functions are linux binaries and aws-lambda-rie runs on Linux only, not on %s", runtime.GOOS)
	}
	root := RepoRoot(t)
	buildMu.Lock()
	if buildDir == "" {
		removeStaleBuildDirs()
		dir, err := os.MkdirTemp("", buildDirPrefix+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			buildMu.Unlock()
			t.Fatalf("rie: %v", err)
		}
		buildDir = dir
	}
	b := builds[logicalID]
	if b == nil {
		b = &build{}
		builds[logicalID] = b
	}
	dir := filepath.Join(buildDir, logicalID)
	buildMu.Unlock()

	b.once.Do(func() {
		start := time.Now()
		cmd := exec.Command("make", "--no-print-directory", "build-"+logicalID, "ARTIFACTS_DIR="+dir, "GOARCH="+runtime.GOARCH)
		cmd.Dir = root
		// Under `make test`, the outer make's flags (and jobserver, which
		// go test does not pass on) are not this make's business.
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			name, _, _ := strings.Cut(kv, "=")
			return name == "MAKEFLAGS" || name == "MFLAGS" || name == "MAKELEVEL"
		})
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("make build-%s (in %s): %v\n%s", logicalID, root, err, out)
			return
		}
		b.bootstrap = filepath.Join(dir, "bootstrap")
		if _, err := os.Stat(b.bootstrap); err != nil {
			b.err = fmt.Errorf("make build-%s left no bootstrap: %v\n%s", logicalID, err, out)
			return
		}
		t.Logf("built %s in %v", logicalID, time.Since(start).Round(time.Millisecond))
	})
	if b.err != nil {
		t.Fatalf("rie: %v", b.err)
	}
	return b.bootstrap
}

// SkipIfShort skips the test under -short (make test-short): building
// function binaries and running them under the emulator is the slow tier's.
// Build calls it; a test that prepares much before its Build calls it first.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds function binaries and runs them under aws-lambda-rie: skipped by -short")
	}
}

// RemoveBuilds removes the binaries that Build made. Call it from TestMain
// after the tests have run.
func RemoveBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
		buildDir = ""
		builds = map[string]*build{}
	}
}

// removeStaleBuildDirs removes the build directories of test binaries that
// are no longer running.
func removeStaleBuildDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	for _, m := range matches {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(m), buildDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(m)
		}
	}
}

// Emulator is a running aws-lambda-rie with one function.
type Emulator struct {
	// URL is the emulator's base URL, http://127.0.0.1:<port>.
	URL string

	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{} // closed when the process has exited

	// The emulator crashes when two invokes overlap: one at a time.
	invokeMu sync.Mutex
	client   *http.Client
}

// Start runs bootstrap under aws-lambda-rie (from .bin/, see `make tools`)
// on free loopback ports. The function sees a minimal environment: PATH,
// HOME (an empty directory, so no ~/.aws of the developer leaks in),
// AWS_REGION=us-east-1, static fake credentials, AWS_LAMBDA_FUNCTION_NAME
// (the name of the bootstrap's directory, which Build names after the
// logical id), and env, which wins over all of these. The emulator runs in
// its own process group and is stopped, with the function, when the test
// ends; its output is logged then if the test failed.
func Start(t testing.TB, bootstrap string, env map[string]string) *Emulator {
	t.Helper()
	rie := filepath.Join(RepoRoot(t), ".bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("rie: %s is missing: run `make tools` (it installs the pinned aws-lambda-rie into .bin/)", rie)
	}
	if _, err := os.Stat(bootstrap); err != nil {
		t.Fatalf("rie: bootstrap: %v", err)
	}
	vars := map[string]string{
		"PATH":                     os.Getenv("PATH"),
		"HOME":                     t.TempDir(),
		"AWS_REGION":               "us-east-1",
		"AWS_ACCESS_KEY_ID":        "local",
		"AWS_SECRET_ACCESS_KEY":    "local",
		"AWS_LAMBDA_FUNCTION_NAME": filepath.Base(filepath.Dir(bootstrap)),
	}
	maps.Copy(vars, env)
	environ := make([]string, 0, len(vars))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		e, err := startOnce(rie, bootstrap, environ)
		if err == nil {
			t.Cleanup(func() {
				e.stop()
				if t.Failed() {
					t.Logf("aws-lambda-rie output (%s):\n%s", filepath.Base(filepath.Dir(bootstrap)), e.Output())
				}
			})
			return e
		}
		// Another process may have taken a port between the probe and the
		// emulator's bind: try other ports.
		lastErr = err
	}
	t.Fatalf("rie: %v", lastErr)
	return nil
}

func startOnce(rie, bootstrap string, environ []string) (*Emulator, error) {
	invokePort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(invokePort))
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = environ
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: stopping the group stops the function too.
	proc.OwnGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	e := &Emulator{
		URL:    "http://" + addr,
		cmd:    cmd,
		out:    out,
		done:   make(chan struct{}),
		client: &http.Client{Timeout: time.Minute},
	}
	go func() { _ = cmd.Wait(); close(e.done) }()

	err = wait.Poll(func() error {
		select {
		case <-e.done:
			return wait.Stop(fmt.Errorf("aws-lambda-rie exited during start:\n%s", out.String()))
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err
	})
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("aws-lambda-rie did not accept on %s: %w\n%s", addr, err, out.String())
	}
	return e, nil
}

// stop ends the emulator's process group by its PID, and waits for it.
func (e *Emulator) stop() {
	proc.StopGroup(e.cmd, e.done)
	e.client.CloseIdleConnections()
}

// Output returns what the emulator and the function have printed so far.
func (e *Emulator) Output() string { return e.out.String() }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration returns the function's init duration as the emulator measured
// it (its INIT REPORT line), once the first invoke has run the init; false
// before. The "Init Duration" of the REPORT lines is not meaningful under
// the emulator.
func (e *Emulator) InitDuration() (time.Duration, bool) {
	m := initReport.FindStringSubmatch(e.Output())
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// Invoke sends one invocation with payload and returns the function's
// answer as the emulator gives it (a function error is a 200 too, with
// {"errorMessage", "errorType"}). The emulator draws the Lambda request id.
func (e *Emulator) Invoke(t testing.TB, payload []byte) []byte {
	t.Helper()
	return e.InvokeWithRequestID(t, "", payload)
}

// InvokeWithRequestID is Invoke with the given Lambda request id (the
// emulator's X-Amzn-RequestId header), so that a test can tell what the
// function should derive from it; empty lets the emulator draw one.
func (e *Emulator) InvokeWithRequestID(t testing.TB, requestID string, payload []byte) []byte {
	t.Helper()
	e.invokeMu.Lock()
	defer e.invokeMu.Unlock()
	req, err := http.NewRequest(http.MethodPost, e.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if requestID != "" {
		req.Header.Set("X-Amzn-RequestId", requestID)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("rie: invoke: %v\naws-lambda-rie output:\n%s", err, e.Output())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("rie: invoke: reading the answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rie: invoke: emulator answered %s: %s\naws-lambda-rie output:\n%s", resp.Status, body, e.Output())
	}
	return body
}

// InvokeHTTP invokes an API Gateway HTTP API (payload 2.0) function with
// event and returns its response, and the Lambda request id it ran under (a
// new UUID). A function error, or an answer that is not an HTTP API
// response, fails the test.
func (e *Emulator) InvokeHTTP(t testing.TB, event []byte) (resp events.APIGatewayV2HTTPResponse, requestID string) {
	t.Helper()
	requestID = uuid.NewString()
	body := e.InvokeWithRequestID(t, requestID, event)
	var fnErr struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	if json.Unmarshal(body, &fnErr) == nil && fnErr.ErrorMessage != nil {
		t.Fatalf("rie: the function failed (%s): %s\naws-lambda-rie output:\n%s", fnErr.ErrorType, *fnErr.ErrorMessage, e.Output())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("rie: the answer is not an HTTP API response (%v): %s", err, body)
	}
	return resp, requestID
}

// BuildPackage builds a Go package that is not a deployed function (a
// test fixture) as the Makefile builds functions (static, -trimpath, -tags
// lambda.norpc, -ldflags '-s -w'), for the host's architecture, once per
// test binary, and returns the binary's path.
func BuildPackage(t testing.TB, pkg string) string {
	t.Helper()
	SkipIfShort(t)
	buildMu.Lock()
	b := builds["pkg:"+pkg]
	if b == nil {
		b = &build{}
		builds["pkg:"+pkg] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", buildDirPrefix+"pkg-")
		if err != nil {
			b.err = err
			return
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		out := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = RepoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOARCH="+runtime.GOARCH)
		if text, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, text)
			return
		}
		b.bootstrap = out
	})
	if b.err != nil {
		t.Fatalf("rie: %v", b.err)
	}
	return b.bootstrap
}

// PeakRSS returns the peak resident set size (VmHWM) of the function's
// process, the emulator's child, in bytes; false when it is not running.
func (e *Emulator) PeakRSS() (int64, bool) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", e.cmd.Process.Pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(b)) {
			status, err := os.ReadFile("/proc/" + pid + "/status")
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(status), "\n") {
				if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
					if err == nil {
						return kb * 1024, true
					}
				}
			}
		}
	}
	return 0, false
}
