// Package moto starts and stops a moto_server: a real DynamoDB (and
// DynamoDB Streams, EC2) endpoint on a free loopback port, for the local
// server and the tests.
package moto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"karbor/internal/local/proc"
)

// Server is a running moto_server.
type Server struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// Start launches moto_server on 127.0.0.1 and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errors.New("moto_server is not on PATH: install moto with its server extras (pip install 'moto[server]'), or set DYNAMODB_ENDPOINT to a DynamoDB endpoint")
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = nil, nil
	if os.Getenv("MOTO_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	proc.OwnGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, errors.New("moto_server exited during start")
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("moto_server did not answer within 30s")
		}
	}
}

// Stop ends the server by its PID (its process group), and waits for it.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	proc.StopGroup(s.cmd, s.done)
}
