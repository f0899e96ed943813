package background

import (
	"fmt"
	"os"
	"time"

	"karbor/internal/domain"
)

// Function is a Lambda function that is not behind the HTTP API. Its
// template block is hand-written (its event source and policy are its own);
// `make generate` derives its build target and functions/<Name>/main.go,
// which calls Start<GoName> (StartWorker, StartSweeper: a start per
// function, checked by the compiler, so that each binary links only its
// own); its logical id is api.LogicalID(Name). Its
// sample events are events/<Name>-<case>.json.
type Function struct {
	Name string // folder under functions/
	Doc  string // what it does, for its main.go's doc comment
	// Package, when set, is the import path of the package whose Start
	// the main.go calls instead (a function that must not link this
	// package's worker and plugins).
	Package string
}

// The background functions.
var (
	Worker = Function{Name: "worker",
		Doc: "is the Lambda function subscribed to the checkpoints\n// table's stream: it protects and deletes checkpoints in the background."}
	Sweeper = Function{Name: "sweeper",
		Doc: "is the scheduled Lambda function that ends checkpoints\n// stuck in protecting or deleting."}
	Runner = Function{Name: "runner",
		Doc: "is the Lambda function that restores and verifies\n// checkpoints in steps: subscribed to the tasks table's stream, and\n// ticked every minute to step what is due."}
	Scheduler = Function{Name: "scheduler",
		Doc: "is the Lambda function, ticked every minute, that fires\n// the scheduled operations whose trigger is due."}
	Events = Function{Name: "events",
		Doc: "is the Lambda function subscribed to the checkpoints and\n// tasks tables' streams: it publishes every status change to EventBridge."}
	KeystoneAuthorizer = Function{Name: "keystone-authorizer", Package: "karbor/internal/lambdafn/keystonefn",
		Doc: "is the Lambda REQUEST authorizer of AuthMode keystone: it\n// validates X-Auth-Token against Keystone and hands the verdict to the route."}
)

// Functions lists the background functions.
var Functions = []Function{Worker, Sweeper, Runner, Scheduler, Events, KeystoneAuthorizer}

// Config is the background functions' configuration, from the environment.
type Config struct {
	// PlansTable: PLANS_TABLE (the scheduler's fires read the plan).
	PlansTable       string
	CheckpointsTable string        // CHECKPOINTS_TABLE
	Retention        time.Duration // DELETED_RETENTION, default 720h
	StuckAfter       time.Duration // STUCK_AFTER, default 2h
	DynamoDBEndpoint string        // DYNAMODB_ENDPOINT, local only
	EC2Endpoint      string        // EC2_ENDPOINT, local only
	// TasksTable and OperationLogsTable: TASKS_TABLE,
	// OPERATION_LOGS_TABLE (the runner needs both; the worker and the
	// sweeper write operation logs).
	TasksTable, OperationLogsTable string
	// SchedulesTable and QuotasTable: SCHEDULES_TABLE, QUOTAS_TABLE (the
	// scheduler reads triggers and operations; a checkpoint's move into
	// deleted frees its quota).
	SchedulesTable, QuotasTable string
	// TaskTimeout: TASK_TIMEOUT, default 24h; TaskPoll: TASK_POLL, the
	// time between two steps of a task, default 30s (the tick's period
	// bounds it from below in AWS).
	TaskTimeout, TaskPoll time.Duration
	// TagImageSnapshotsAfter: EC2_TAG_IMAGE_SNAPSHOTS_AFTER=1, local only
	// (an EC2 endpoint that cannot tag snapshots in CreateImage, as moto;
	// the template's worker role does not allow the CreateTags it makes).
	TagImageSnapshotsAfter bool
}

// ConfigFromEnv reads Config.
func ConfigFromEnv() (Config, error) {
	c := Config{
		PlansTable:             os.Getenv("PLANS_TABLE"),
		CheckpointsTable:       os.Getenv("CHECKPOINTS_TABLE"),
		TasksTable:             os.Getenv("TASKS_TABLE"),
		OperationLogsTable:     os.Getenv("OPERATION_LOGS_TABLE"),
		SchedulesTable:         os.Getenv("SCHEDULES_TABLE"),
		QuotasTable:            os.Getenv("QUOTAS_TABLE"),
		TaskTimeout:            domain.DefaultTaskTimeout,
		DynamoDBEndpoint:       os.Getenv("DYNAMODB_ENDPOINT"),
		EC2Endpoint:            os.Getenv("EC2_ENDPOINT"),
		TagImageSnapshotsAfter: os.Getenv("EC2_TAG_IMAGE_SNAPSHOTS_AFTER") == "1",
		Retention:              domain.DefaultRetention,
		StuckAfter:             domain.DefaultStuckAfter,
	}
	if c.CheckpointsTable == "" || c.OperationLogsTable == "" {
		return c, fmt.Errorf("CHECKPOINTS_TABLE and OPERATION_LOGS_TABLE must be set")
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"DELETED_RETENTION", &c.Retention}, {"STUCK_AFTER", &c.StuckAfter}, {"TASK_TIMEOUT", &c.TaskTimeout}, {"TASK_POLL", &c.TaskPoll}} {
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
