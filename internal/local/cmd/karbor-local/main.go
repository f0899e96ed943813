// Command karbor-local serves the whole API on one machine (make run).
package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"karbor/internal/api"
	"karbor/internal/local/server"
	"karbor/internal/ownership"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// Ctrl-C, kill, and closing the terminal (SIGHUP) all stop the server
	// and the moto_server it started, which sits in a process group of its
	// own and so gets no signal from the terminal.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	host := env("HOST", "127.0.0.1")
	// The development token lets anyone claim any project, admin included:
	// the local server listens on loopback only.
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Error("HOST must be a loopback address (127.0.0.1, ::1, localhost): the development token has no security", "host", host)
		os.Exit(2)
	}
	own, err := ownership.FromEnv()
	if err != nil {
		log.Error("ownership configuration", "error", err.Error())
		os.Exit(2)
	}
	policy, err := api.PolicyFromEnv()
	if err != nil {
		log.Error("policy configuration", "error", err.Error())
		os.Exit(2)
	}
	cfg := server.Config{
		Policy:             policy,
		Ownership:          own,
		Addr:               net.JoinHostPort(host, env("PORT", "3000")),
		Endpoint:           os.Getenv("DYNAMODB_ENDPOINT"),
		EC2Endpoint:        os.Getenv("EC2_ENDPOINT"),
		EndpointFile:       os.Getenv("ENDPOINT_FILE"),
		PlansTable:         env("PLANS_TABLE", "karbor-plans"),
		CheckpointsTable:   env("CHECKPOINTS_TABLE", "karbor-checkpoints"),
		IdempotencyTable:   env("IDEMPOTENCY_TABLE", "karbor-idempotency"),
		TasksTable:         env("TASKS_TABLE", "karbor-tasks"),
		OperationLogsTable: env("OPERATION_LOGS_TABLE", "karbor-operation-logs"),
		SchedulesTable:     env("SCHEDULES_TABLE", "karbor-schedules"),
		QuotasTable:        env("QUOTAS_TABLE", "karbor-quotas"),
		Log:                log,
	}
	if err := server.Run(ctx, cfg); err != nil {
		log.Error("local server failed", "error", err.Error())
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
