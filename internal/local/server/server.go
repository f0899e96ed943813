// Package localserver runs every route of the API on one machine: the same
// handlers as the Lambda functions, over a local DynamoDB endpoint, with the
// development token for identity.
package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"karbor/internal/domain"
	statusevents "karbor/internal/events"
	"karbor/internal/local/devtoken"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"karbor/internal/api"
	"karbor/internal/awscfg"
	"karbor/internal/idempotency"
	"karbor/internal/inventory"
	"karbor/internal/inventory/tagging"
	"karbor/internal/local/atomicddb"
	"karbor/internal/local/moto"
	"karbor/internal/local/streams"
	"karbor/internal/local/tables"
	"karbor/internal/provider/awsplugin"
	"karbor/internal/scheduler"
	"karbor/internal/store"
	"karbor/internal/worker"
)

// Config is the local server's configuration.
type Config struct {
	Addr     string // listen address, 127.0.0.1:3000 by default
	Endpoint string // DynamoDB endpoint; empty starts moto_server
	// EC2Endpoint is where the AWS provider's EC2 calls go; empty means
	// the moto_server started here, or AWS's own when Endpoint is set.
	EC2Endpoint string
	// EndpointFile, when set, receives the DynamoDB endpoint while the
	// server runs, for tools that create local resources (make
	// demo-resources).
	EndpointFile string
	// NoWorker turns the background worker off (tests of the API alone).
	NoWorker bool
	// Ownership is which AWS resources a project owns (karbor-local reads
	// it from the environment as the functions do: OWNERSHIP_MODE,
	// OWNERSHIP_TAG_KEY, RESERVED_TAG_PREFIXES); the tables below are
	// added to its ServiceTables.
	Ownership        ownership.Config
	PlansTable       string
	CheckpointsTable string
	// IdempotencyTable holds Idempotency-Key answers; empty means
	// "karbor-idempotency".
	IdempotencyTable string
	// TasksTable holds restores and verifications; empty means
	// "karbor-tasks".
	TasksTable string
	// OperationLogsTable holds the operation logs; empty means
	// karbor-operation-logs.
	OperationLogsTable string
	// SchedulesTable holds triggers and scheduled operations; empty means
	// karbor-schedules.
	SchedulesTable string
	// QuotasTable holds quotas; empty means karbor-quotas.
	QuotasTable string
	// Policy is the admin role's name and the routes' rules (karbor-local
	// reads it from ADMIN_ROLE and POLICY_OVERRIDES, as the functions do);
	// nil is the default policy.
	Policy *api.Policy
	Log    *slog.Logger
	// Ready, when set, receives the server's base URL once it listens.
	Ready func(baseURL string)
	// WrapAPI, when set, wraps the API's handler (not the scheduler's tick
	// route): the tests validate every answer against the OpenAPI document.
	WrapAPI func(http.Handler) http.Handler
}

// LocalTaskPoll is the runner's tick and the time between two steps of a
// task under make run.
const LocalTaskPoll = 2 * time.Second

// LocalSchedulerTick is the scheduler's tick under make run (every
// minute in AWS).
const LocalSchedulerTick = 5 * time.Second

// SchedulerTickPath is the local server's own route that runs one tick of
// the scheduler at a given time (POST, ?at=<RFC 3339>; now when absent):
// fires are at least an hour apart, so the README's walk-through moves
// time instead of waiting (make tick AT=...). Never served by a Lambda.
const SchedulerTickPath = "/_local/scheduler/tick"

// localEndpoint is endpoint when it is a local one (moto serves every
// service on it), "" when it is AWS's own DynamoDB endpoint: the other
// services are then at their own.
func localEndpoint(endpoint string) string {
	if strings.Contains(endpoint, ".amazonaws.com") {
		return ""
	}
	return endpoint
}

// Run serves until ctx is done, then stops everything it started. It takes
// its address first: a port in use fails at once, with that error alone,
// before moto_server or anything else is started.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	endpoint, ec2Endpoint := cfg.Endpoint, cfg.EC2Endpoint
	if endpoint == "" {
		srv, err := moto.Start(ctx)
		if err != nil {
			return err
		}
		defer srv.Stop()
		endpoint = srv.Endpoint
		if ec2Endpoint == "" {
			ec2Endpoint = endpoint // moto serves EC2 too
		}
		log.Info("started moto_server", "endpoint", endpoint)
	}
	if cfg.EndpointFile != "" {
		if err := os.WriteFile(cfg.EndpointFile, []byte(endpoint+"\n"), 0o644); err != nil {
			return err
		}
		defer os.Remove(cfg.EndpointFile)
	}
	awsCfg, err := awscfg.Load(ctx, true)
	if err != nil {
		return err
	}
	db := awscfg.DynamoDB(awsCfg, endpoint)
	if cfg.IdempotencyTable == "" {
		cfg.IdempotencyTable = "karbor-idempotency"
	}
	if cfg.TasksTable == "" {
		cfg.TasksTable = "karbor-tasks"
	}
	if cfg.OperationLogsTable == "" {
		cfg.OperationLogsTable = "karbor-operation-logs"
	}
	cfg.SchedulesTable = cmp.Or(cfg.SchedulesTable, "karbor-schedules")
	cfg.QuotasTable = cmp.Or(cfg.QuotasTable, "karbor-quotas")
	if err := tables.Ensure(ctx, db, tables.Names{tables.Plans: cfg.PlansTable, tables.Checkpoints: cfg.CheckpointsTable, tables.Idempotency: cfg.IdempotencyTable, tables.Tasks: cfg.TasksTable,
		tables.OperationLogs: cfg.OperationLogsTable, tables.Schedules: cfg.SchedulesTable, tables.Quotas: cfg.QuotasTable}); err != nil {
		return fmt.Errorf("tables at %s: %w", endpoint, err)
	}
	own := cfg.Ownership
	if own.Mode == "" {
		own.Mode = ownership.ModeTag
	}
	own.ServiceTables = append(append([]string(nil), own.ServiceTables...), cfg.PlansTable, cfg.CheckpointsTable, cfg.TasksTable, cfg.OperationLogsTable, cfg.SchedulesTable, cfg.QuotasTable)
	// The same inventory as the functions', over the local endpoints
	// (moto serves DynamoDB, EC2 and the tagging API on one port).
	inv := &inventory.Inventory{
		DynamoDB: db,
		EC2: ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
			if ec2Endpoint != "" {
				o.BaseEndpoint = aws.String(ec2Endpoint)
			}
		}),
		Tagging:   tagging.New(awsCfg, localEndpoint(endpoint)),
		Ownership: own,
		Region:    awsCfg.Region,
		// moto's account; TABLE_ARN_PREFIX overrides it (another local
		// endpoint's ARNs).
		TableARNPrefix: cmp.Or(os.Getenv(inventory.TableARNPrefixEnv), "arn:aws:dynamodb:"+awsCfg.Region+":123456789012:table/"),
	}
	// moto applies a conditional write or transaction without a lock:
	// the store's writes reach it one at a time, as DynamoDB's atomicity
	// would have it (N parallel creates at a quota let exactly the
	// remaining number through).
	st := store.New(atomicddb.Wrap(db), cfg.PlansTable, cfg.CheckpointsTable).WithTasks(cfg.TasksTable).WithOperationLogs(cfg.OperationLogsTable).
		WithSchedules(cfg.SchedulesTable).WithQuotas(cfg.QuotasTable)
	dom := &domain.Service{Store: st, Providers: provider.Lookup, Inventory: inv, Ownership: own}
	sched := &scheduler.Scheduler{Domain: dom, Log: log.With("component", "scheduler")}
	if !cfg.NoWorker {
		// A local EC2 endpoint (moto) cannot tag an image's snapshots in
		// CreateImage; AWS's own (no endpoint) can.
		clients := &worker.AWSClients{Config: awsCfg, DynamoDBEndpoint: endpoint, EC2Endpoint: ec2Endpoint, ImageSnapshotTagsAfter: ec2Endpoint != ""}
		w := &worker.Worker{Domain: dom, Clients: clients, Log: log.With("component", "worker"), Ownership: own}
		runner := &worker.Runner{Store: st, Log: log.With("component", "runner"), Poll: LocalTaskPoll,
			Plugins: func(providerID string) (map[string]provider.TaskPlugin, bool) {
				return worker.TaskPlugins(providerID, clients, own, awsplugin.Options{TableARNPrefix: inv.TableARNPrefix})
			}}
		streamsAPI := dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) {
			// A local endpoint (moto, DynamoDB Local) serves streams too;
			// AWS serves them at their own endpoint.
			if e := localEndpoint(endpoint); e != "" {
				o.BaseEndpoint = aws.String(e)
			}
		})
		publisher := &statusevents.Publisher{Log: log.With("component", "events"),
			Client: eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) {
				if e := localEndpoint(endpoint); e != "" {
					o.BaseEndpoint = aws.String(e)
				}
			})}
		bgCtx, stopBackground := context.WithCancel(ctx)
		var background sync.WaitGroup
		defer func() { stopBackground(); background.Wait() }()
		pollers := []*streams.Poller{
			{DB: db, Streams: streamsAPI, Table: cfg.CheckpointsTable, Handler: w.Handle,
				Filter: func(r events.DynamoDBEventRecord) bool { return worker.JobOf(r) != domain.JobNone },
				Log:    log.With("component", "stream", "table", cfg.CheckpointsTable)},
			{DB: db, Streams: streamsAPI, Table: cfg.TasksTable, Handler: runner.HandleStream,
				Filter: worker.TaskJob,
				Log:    log.With("component", "stream", "table", cfg.TasksTable)},
		}
		if localEndpoint(endpoint) != "" {
			// EventsFunction's two event sources: each status change is
			// put on the local endpoint's default event bus (moto's).
			// Never on a real account's bus: with real tables (an
			// amazonaws.com endpoint) nothing is published.
			pollers = append(pollers,
				&streams.Poller{DB: db, Streams: streamsAPI, Table: cfg.CheckpointsTable, Handler: publisher.Handle, Filter: statusevents.Changed,
					Log: log.With("component", "events-stream", "table", cfg.CheckpointsTable)},
				&streams.Poller{DB: db, Streams: streamsAPI, Table: cfg.TasksTable, Handler: publisher.Handle, Filter: statusevents.Changed,
					Log: log.With("component", "events-stream", "table", cfg.TasksTable)})
		} else {
			log.Info("status events not published: the tables are AWS's, and make run never writes to a real event bus")
		}
		for _, p := range pollers {
			background.Go(func() {
				if err := p.Run(bgCtx); err != nil {
					log.Error("stream poller stopped", "table", p.Table, "error", err.Error())
				}
			})
		}
		// The runner's tick, as the template's schedule (every minute in
		// AWS) runs it, more often: moto makes tables and volumes ready
		// at once.
		background.Go(func() {
			every(bgCtx, LocalTaskPoll, func() {
				if _, err := runner.Tick(bgCtx); err != nil && bgCtx.Err() == nil {
					log.Error("runner tick failed", "error", err.Error())
				}
			})
		})
		// The scheduler's tick, with the real clock.
		background.Go(func() {
			every(bgCtx, LocalSchedulerTick, func() {
				if _, err := sched.Tick(bgCtx); err != nil && bgCtx.Err() == nil {
					log.Error("scheduler tick failed", "error", err.Error())
				}
			})
		})
	}
	svc := &api.Service{
		Domain: dom,
		Auth:   devtoken.Auth{},
		Policy: cfg.Policy,
		Log:    log,

		Idempotency: idempotency.New(db, cfg.IdempotencyTable),
	}
	var apiHandler http.Handler = svc.Handler()
	if cfg.WrapAPI != nil {
		apiHandler = cfg.WrapAPI(apiHandler)
	}
	tick := TickHandler(sched)
	// Not a ServeMux: it would redirect an unclean path ("//v1/...") with
	// an HTML answer before the API's handler could answer it.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == SchedulerTickPath {
			tick.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("serving", "url", base, "dynamodb", endpoint, "plans_table", cfg.PlansTable, "checkpoints_table", cfg.CheckpointsTable, "operation_logs_table", cfg.OperationLogsTable, "tasks_table", cfg.TasksTable)
	if cfg.Ready != nil {
		cfg.Ready(base)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.Shutdown(shutdown)
}

// TickHandler serves SchedulerTickPath: one tick of s at the time ?at=
// (RFC 3339; now when absent), the checkpoints made then created at that
// time; it answers the tick's counts (scheduler.TickResult) as JSON.
func TickHandler(s *scheduler.Scheduler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		at := time.Now().UTC()
		if v := r.URL.Query().Get("at"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				http.Error(w, fmt.Sprintf("at=%q is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)", v), http.StatusBadRequest)
				return
			}
			at = t.UTC()
		}
		clock := func() time.Time { return at }
		dom := *s.Domain
		dom.Now = clock
		tick := *s
		tick.Domain, tick.Now = &dom, clock
		res, err := tick.Tick(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			At string `json:"at"`
			scheduler.TickResult
		}{domain.Timestamp(at), res})
	})
}

// every calls f every d until ctx is done.
func every(ctx context.Context, d time.Duration, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}
