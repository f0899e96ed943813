package main

// The built karbor-local, as `make run` runs it: closing the terminal
// (SIGHUP) stops it and its moto_server; a port in use fails at once with
// that error alone.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"karbor/internal/local/proc"
	"karbor/internal/testsupport/wait"
)

// build compiles karbor-local into the test's directory.
func build(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary: not in the fast tier")
	}
	bin := filepath.Join(t.TempDir(), "karbor-local")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// command runs bin on port, starting its own moto_server: the endpoint
// settings of the caller's environment are left out.
func command(ctx context.Context, bin string, port int) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DYNAMODB_ENDPOINT", "EC2_ENDPOINT", "ENDPOINT_FILE", "PORT", "HOST", "MOTO_LOG":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOST=127.0.0.1", "PORT="+strconv.Itoa(port))
	return cmd
}

func TestHangupStopsServerAndMoto(t *testing.T) {
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Fatal("moto_server is not on PATH: pip install 'moto[server]'")
	}
	bin := build(t)
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait.Timeout)
	defer cancel()
	cmd := command(ctx, bin, port)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)

	// Read the JSON log until the server serves: the moto_server it
	// started, then its own URL.
	lines := bufio.NewScanner(stderr)
	var moto, url string
	for url == "" && lines.Scan() {
		var rec struct{ Msg, Endpoint, URL string }
		if json.Unmarshal(lines.Bytes(), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "started moto_server":
			moto = rec.Endpoint
		case "serving":
			url = rec.URL
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr); exited <- cmd.Wait() }()
	if moto == "" || url == "" {
		t.Fatalf("karbor-local did not log its moto_server and URL (moto %q, url %q)", moto, url)
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatalf("the server does not answer: %v", err)
	}
	_ = resp.Body.Close()

	// What the terminal sends its foreground processes when it closes.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("karbor-local after SIGHUP: %v, want exit 0", err)
		}
	case <-time.After(wait.Timeout):
		_ = cmd.Process.Kill()
		t.Fatalf("karbor-local still runs %v after SIGHUP", wait.Timeout)
	}
	// It waited for its moto_server to end before it exited.
	if resp, err := http.Get(moto + "/moto-api/"); err == nil {
		_ = resp.Body.Close()
		t.Errorf("moto_server at %s still answers after karbor-local exited", moto)
	}
	if resp, err := http.Get(url + "/"); err == nil {
		_ = resp.Body.Close()
		t.Errorf("the server at %s still answers after it exited", url)
	}
}

func TestPortInUse(t *testing.T) {
	bin := build(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	cmd := command(ctx, bin, port)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("karbor-local on a port in use: %v, want exit status 1; output:\n%s", err, out.String())
	}
	// One line: the error, naming the address; moto_server never started.
	text := strings.TrimSpace(out.String())
	if strings.Count(text, "\n") != 0 || !strings.Contains(text, "address already in use") ||
		!strings.Contains(text, "127.0.0.1:"+strconv.Itoa(port)) || strings.Contains(text, "moto") {
		t.Errorf("output %q, want the one error line of the port in use", text)
	}
	t.Logf("failed in %v", took)
}

// TestPolicyRefusedAtStart: a bad POLICY_OVERRIDES stops karbor-local
// before it listens or starts moto_server, as a bad setting fails a
// function's init.
func TestPolicyRefusedAtStart(t *testing.T) {
	bin := build(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	// Port 0: it would listen anywhere, were the policy accepted.
	cmd := command(ctx, bin, 0)
	cmd.Env = append(cmd.Env, `POLICY_OVERRIDES={"no-such-route": "admin"}`)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("karbor-local with a bad POLICY_OVERRIDES: %v, want exit status 2; output:\n%s", err, out)
	}
	if text := string(out); !strings.Contains(text, "no-such-route") || strings.Contains(text, "moto") || strings.Contains(text, "serving") {
		t.Errorf("output %q, want the policy error alone", text)
	}
}
