// Package background wires the background functions (Functions)
// to Lambda. It is apart from lambdafn, which every route function imports,
// because it links the worker and the plugins' AWS SDK clients.
package background

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"karbor/internal/awscfg/lambdaenv"
	"karbor/internal/domain"
	"karbor/internal/events"
	"karbor/internal/logging"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
	"karbor/internal/scheduler"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// setup builds what the background functions share, once per execution
// environment.
func setup() (Config, *store.Store, *worker.AWSClients, *slog.Logger) {
	log := logging.FromEnv()
	cfg, err := ConfigFromEnv()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := lambdaenv.Load()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	// Only the scheduler reads the plans table (a fire's plan).
	st := store.New(lambdaenv.DynamoDB(awsCfg, cfg.DynamoDBEndpoint), cfg.PlansTable, cfg.CheckpointsTable).
		WithTasks(cfg.TasksTable).WithOperationLogs(cfg.OperationLogsTable).
		WithSchedules(cfg.SchedulesTable).WithQuotas(cfg.QuotasTable)
	return cfg, st, &worker.AWSClients{Config: awsCfg, DynamoDBEndpoint: cfg.DynamoDBEndpoint, EC2Endpoint: cfg.EC2Endpoint,
		ImageSnapshotTagsAfter: cfg.TagImageSnapshotsAfter}, log
}

// StartWorker runs the stream worker (Worker) and never returns. Each
// background function has its own start, which its main calls: a binary
// links only its own function's code (the sweeper no plugin).
func StartWorker() {
	cfg, st, clients, log := setup()
	// A checkpoint's move into deleted frees its quota: without the table
	// counts would drift silently.
	need(log, map[string]string{"QUOTAS_TABLE": cfg.QuotasTable})
	owners, err := ownership.FromEnv()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	w := &worker.Worker{Domain: &domain.Service{Store: st, Providers: provider.Lookup, Retention: cfg.Retention, Ownership: owners},
		Clients: clients, Log: log, Ownership: owners}
	lambda.Start(w.Handle)
}

// StartSweeper runs the sweeper (Sweeper), on a schedule, and never
// returns.
func StartSweeper() {
	cfg, st, _, log := setup()
	s := &worker.Sweeper{Domain: &domain.Service{Store: st, Providers: provider.Lookup}, Log: log, StuckAfter: cfg.StuckAfter}
	// The scheduled event carries nothing the sweep needs.
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (worker.SweepResult, error) {
		return s.Sweep(ctx)
	})
}

// StartRunner runs the runner (Runner): stream records of the tasks table
// and the scheduled tick, on one handler. It never returns.
func StartRunner() {
	cfg, st, clients, log := setup()
	owners, err := ownership.FromEnv()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	r := &worker.Runner{Store: st, Log: log, Timeout: cfg.TaskTimeout, Poll: cfg.TaskPoll,
		Plugins: func(providerID string) (map[string]provider.TaskPlugin, bool) {
			return worker.TaskPlugins(providerID, clients, owners, awsplugin.Options{})
		}}
	lambda.Start(r.Handle)
}

// StartScheduler runs the scheduler (scheduler.Scheduler), ticked every
// minute, and never returns. Its fires make checkpoints (the worker
// protects them) and start retention steps; with no checkpoint made, the
// retention step runs here.
func StartScheduler() {
	cfg, st, _, log := setup()
	need(log, map[string]string{"QUOTAS_TABLE": cfg.QuotasTable, "SCHEDULES_TABLE": cfg.SchedulesTable, "PLANS_TABLE": cfg.PlansTable})
	s := &scheduler.Scheduler{Domain: &domain.Service{Store: st, Providers: provider.Lookup}, Log: log}
	// The scheduled event carries nothing the tick needs: the time is the
	// clock's (an event delivered late fires what is due then).
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (scheduler.TickResult, error) {
		return s.Tick(ctx)
	})
}

// StartEvents runs the status-change publisher (events.Publisher) on the
// checkpoints and tasks tables' streams and never returns. It reads no
// table: only EVENT_BUS_NAME (default "default") and, locally,
// EVENTS_ENDPOINT.
func StartEvents() {
	log := logging.FromEnv()
	awsCfg, err := lambdaenv.Load()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	client := eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) {
		if e := os.Getenv("EVENTS_ENDPOINT"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	p := &events.Publisher{Client: client, Bus: os.Getenv("EVENT_BUS_NAME"), Log: log}
	lambda.Start(p.Handle)
}

// need ends the init when a variable the function writes through is unset.
func need(log *slog.Logger, vars map[string]string) {
	for name, v := range vars {
		if v == "" {
			log.Error("init failed", "error", name+" must be set")
			os.Exit(1)
		}
	}
}
