package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/logging"
	"karbor/internal/provider"
	"karbor/internal/store"
)

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
		StuckAfter:       DefaultStuckAfter,
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

func setup() (Config, *store.Store, *AWSClients, *slog.Logger) {
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
	return cfg, st, &AWSClients{Config: awsCfg, DynamoDBEndpoint: cfg.DynamoDBEndpoint, EC2Endpoint: cfg.EC2Endpoint}, log
}

// StartWorker runs the stream worker as a Lambda function.
func StartWorker() {
	cfg, st, clients, log := setup()
	w := &Worker{Domain: &domain.Service{Store: st, Providers: provider.Lookup, Retention: cfg.Retention}, Clients: clients, Log: log}
	lambda.Start(w.Handle)
}

// StartSweeper runs the sweeper as a Lambda function on a schedule.
func StartSweeper() {
	cfg, st, _, log := setup()
	s := &Sweeper{Domain: &domain.Service{Store: st, Providers: provider.Lookup}, Log: log, StuckAfter: cfg.StuckAfter}
	// The scheduled event carries nothing the sweep needs.
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (SweepResult, error) {
		return s.Sweep(ctx)
	})
}

// Function is a background Lambda function: not an API route, so not in
// api.Routes. Its code is functions/<Name>, its sample events are
// events/<Name>-*.json, its logical id in template.yaml is LogicalID.
type Function struct {
	Name, LogicalID string
}

// Functions lists the background functions.
var Functions = []Function{
	{Name: "worker", LogicalID: "WorkerFunction"},
	{Name: "sweeper", LogicalID: "SweeperFunction"},
}
