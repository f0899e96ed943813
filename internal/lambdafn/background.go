package lambdafn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"karbor/internal/api"
	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/logging"
	"karbor/internal/provider"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// Background is a Lambda function that is not behind the HTTP API. Its
// template block is hand-written (its event source and policy are its own);
// `make generate` derives its build target and functions/<Name>/main.go,
// which calls StartBackground with it. Its sample events are
// events/<Name>-<case>.json.
type Background struct {
	Name  string // folder under functions/
	Doc   string // what it does, for its main.go's doc comment
	start func()
}

// LogicalID is the function's logical id in template.yaml: worker ↔
// WorkerFunction.
func (b Background) LogicalID() string { return api.LogicalID(b.Name) }

// The background functions.
var (
	Worker = Background{Name: "worker", start: startWorker,
		Doc: "is the Lambda function subscribed to the checkpoints\n// table's stream: it protects and deletes checkpoints in the background."}
	Sweeper = Background{Name: "sweeper", start: startSweeper,
		Doc: "is the scheduled Lambda function that ends checkpoints\n// stuck in protecting or deleting."}
)

// Backgrounds lists the background functions.
var Backgrounds = []Background{Worker, Sweeper}

// StartBackground runs a background function and never returns.
func StartBackground(b Background) { b.start() }

// Config is the background functions' configuration, from the environment.
type Config struct {
	CheckpointsTable string        // CHECKPOINTS_TABLE
	Retention        time.Duration // DELETED_RETENTION, default 720h
	StuckAfter       time.Duration // STUCK_AFTER, default 2h
	DynamoDBEndpoint string        // DYNAMODB_ENDPOINT, local only
	EC2Endpoint      string        // EC2_ENDPOINT, local only
}

// ConfigFromEnv reads Config.
func ConfigFromEnv() (Config, error) {
	c := Config{
		CheckpointsTable: os.Getenv("CHECKPOINTS_TABLE"),
		DynamoDBEndpoint: os.Getenv("DYNAMODB_ENDPOINT"),
		EC2Endpoint:      os.Getenv("EC2_ENDPOINT"),
		Retention:        domain.DefaultRetention,
		StuckAfter:       worker.DefaultStuckAfter,
	}
	if c.CheckpointsTable == "" {
		return c, fmt.Errorf("CHECKPOINTS_TABLE must be set")
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"DELETED_RETENTION", &c.Retention}, {"STUCK_AFTER", &c.StuckAfter}} {
		if v := os.Getenv(d.name); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed <= 0 {
				return c, fmt.Errorf("%s=%q is not a positive duration (e.g. 720h)", d.name, v)
			}
			*d.dst = parsed
		}
	}
	return c, nil
}

// setup builds what the background functions share, once per execution
// environment.
func setup() (Config, *store.Store, *worker.AWSClients, *slog.Logger) {
	log := logging.FromEnv()
	cfg, err := ConfigFromEnv()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := awscfg.Load(context.Background(), false)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	// The store touches the checkpoints table only.
	st := store.New(awscfg.DynamoDB(awsCfg, cfg.DynamoDBEndpoint), "", cfg.CheckpointsTable)
	return cfg, st, &worker.AWSClients{Config: awsCfg, DynamoDBEndpoint: cfg.DynamoDBEndpoint, EC2Endpoint: cfg.EC2Endpoint}, log
}

// startWorker runs the stream worker.
func startWorker() {
	cfg, st, clients, log := setup()
	w := &worker.Worker{Domain: &domain.Service{Store: st, Providers: provider.Lookup, Retention: cfg.Retention}, Clients: clients, Log: log}
	lambda.Start(w.Handle)
}

// startSweeper runs the sweeper, on a schedule.
func startSweeper() {
	cfg, st, _, log := setup()
	s := &worker.Sweeper{Domain: &domain.Service{Store: st, Providers: provider.Lookup}, Log: log, StuckAfter: cfg.StuckAfter}
	// The scheduled event carries nothing the sweep needs.
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (worker.SweepResult, error) {
		return s.Sweep(ctx)
	})
}
