// Package proc starts and stops the local helper servers the project runs
// (moto_server, aws-lambda-rie): each in its own process group on a free
// loopback port, stopped by its PID.
package proc

import (
	"net"
	"os/exec"
	"syscall"
	"time"
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// OwnGroup makes cmd start in a process group of its own, so that stopping
// it stops anything it forks.
func OwnGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// StopGroup ends the process group of a command started with OwnGroup:
// SIGTERM, then SIGKILL after 5 s; done is closed once cmd.Wait returned.
func StopGroup(cmd *exec.Cmd, done <-chan struct{}) {
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}
