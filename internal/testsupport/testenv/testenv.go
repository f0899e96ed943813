// Package testenv gives tests a real DynamoDB endpoint: a moto_server
// started once per test binary on a free loopback port and stopped by its
// PID when the tests end (TEST_DYNAMODB_ENDPOINT points the tests at another
// endpoint instead). Each test gets fresh tables created from template.yaml.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/awscfg"
	"karbor/internal/local/moto"
	"karbor/internal/local/tables"
	"karbor/internal/store"
)

var (
	once     sync.Once
	server   *moto.Server
	endpoint string
	startErr error
	clientMu sync.Mutex
	client   *dynamodb.Client
	counter  atomic.Int64
)

// Main runs a package's tests and then stops the moto_server they started.
// Use it from TestMain: os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	server.Stop()
	return code
}

// Endpoint returns the DynamoDB endpoint, starting moto_server on first use.
// A test that needs it fails (never skips) when it cannot be had.
func Endpoint(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if endpoint = os.Getenv("TEST_DYNAMODB_ENDPOINT"); endpoint != "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		server, startErr = moto.Start(ctx)
		if startErr == nil {
			endpoint = server.Endpoint
		}
	})
	if startErr != nil {
		t.Fatalf("DynamoDB endpoint: %v", startErr)
	}
	return endpoint
}

// DynamoDB returns a client of the test endpoint.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	ep := Endpoint(t)
	clientMu.Lock()
	defer clientMu.Unlock()
	if client == nil {
		cfg, err := awscfg.Load(context.Background(), true)
		if err != nil {
			t.Fatalf("aws config: %v", err)
		}
		client = awscfg.DynamoDB(cfg, ep)
	}
	return client
}

// Tables creates a fresh pair of tables for one test and returns their names.
func Tables(t testing.TB) (plans, checkpoints string) {
	t.Helper()
	db := DynamoDB(t)
	n := counter.Add(1)
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(base) > 80 {
		base = base[:80]
	}
	plans = fmt.Sprintf("plans-%s-%d-%d", base, os.Getpid(), n)
	checkpoints = fmt.Sprintf("checkpoints-%s-%d-%d", base, os.Getpid(), n)
	plans, checkpoints = sanitize(plans), sanitize(checkpoints)
	err := tables.Ensure(context.Background(), db, tables.Names{tables.Plans: plans, tables.Checkpoints: checkpoints})
	if err != nil {
		t.Fatalf("create tables: %v", err)
	}
	return plans, checkpoints
}

// TasksTable creates a fresh table of restores and verifications for one
// test and returns its name.
func TasksTable(t testing.TB) string {
	t.Helper()
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(base) > 80 {
		base = base[:80]
	}
	name := sanitize(fmt.Sprintf("tasks-%s-%d-%d", base, os.Getpid(), counter.Add(1)))
	if err := tables.Ensure(context.Background(), DynamoDB(t), tables.Names{tables.Tasks: name}); err != nil {
		t.Fatalf("create tasks table: %v", err)
	}
	return name
}

// Store returns a store over fresh tables (tasks and operation logs included).
func Store(t testing.TB) *store.Store {
	t.Helper()
	plans, checkpoints := Tables(t)
	return store.New(DynamoDB(t), plans, checkpoints).WithTasks(TasksTable(t)).WithOperationLogs(OperationLogsTable(t)).
		WithSchedules(Table(t, tables.Schedules, "schedules")).WithQuotas(Table(t, tables.Quotas, "quotas"))
}

// Table creates a fresh table of the template's logical id for one test
// and returns its name (prefix-<test>-<pid>-<n>).
func Table(t testing.TB, logical, prefix string) string {
	t.Helper()
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(base) > 80 {
		base = base[:80]
	}
	name := sanitize(fmt.Sprintf("%s-%s-%d-%d", prefix, base, os.Getpid(), counter.Add(1)))
	if err := tables.Ensure(context.Background(), DynamoDB(t), tables.Names{logical: name}); err != nil {
		t.Fatalf("create %s table: %v", logical, err)
	}
	return name
}

// OperationLogsTable creates a fresh table of operation logs for one test,
// from template.yaml, and returns its name.
func OperationLogsTable(t testing.TB) string {
	t.Helper()
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(base) > 80 {
		base = base[:80]
	}
	name := sanitize(fmt.Sprintf("oplogs-%s-%d-%d", base, os.Getpid(), counter.Add(1)))
	if err := tables.Ensure(context.Background(), DynamoDB(t), tables.Names{tables.OperationLogs: name}); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return name
}

// sanitize keeps to DynamoDB's table name characters.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}
