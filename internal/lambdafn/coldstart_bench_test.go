package lambdafn_test

// BenchmarkColdStart measures cold starts of deployed functions: each
// iteration starts a fresh aws-lambda-rie with the function's bootstrap (as
// `make build-<LogicalId>` builds it for deployment, but for the host's
// architecture) and invokes it once, which runs the function's init and
// then the invoke. Metrics:
//
//	init-ms         the function's init as the emulator's INIT REPORT
//	                gives it: process start to the runtime's first
//	                /next call (Go runtime, package init, main's setup:
//	                SDK config and clients)
//	cold-invoke-ms  the first invoke as the caller sees it: the init, the
//	                handler (one GetItem on moto for show-checkpoint), and
//	                the emulator's overhead
//	bytes-binary    the bootstrap's size (-s -w, as deployed)
//	rss-MB          the function process's peak RSS (VmHWM) after the
//	                first invoke: what MemorySize is set from
//	init-x-minimal  init-ms over the minimal function's (testdata/minimal,
//	size-x-minimal  the smallest aws-lambda-go function, built the same way
//	                in the same run and measured first); the goal is 1.5
//	                or less for both
//
// ns/op is the wall time of starting the emulator (it is polled until it
// accepts, every 20 ms) plus the first invoke; stopping the emulator is not
// timed. An iteration takes about 50-150 ms, so the default -benchtime=1s
// runs some 10-20 iterations per function and the whole benchmark stays
// well under 30 s (building the three functions, once per test binary,
// is setup and not timed). For a quick figure, -benchtime=5x is enough:
//
//	go test -run '^$' -bench ColdStart -benchtime=5x ./internal/lambdafn/

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"karbor/internal/api"
	"karbor/internal/domain"
	bgfn "karbor/internal/lambdafn/background"
	"karbor/internal/store"
	"karbor/internal/testsupport/invenv"
	"karbor/internal/testsupport/rie"
	"karbor/internal/testsupport/testenv"
	"karbor/internal/testsupport/wait"
)

// iterationTB is the benchmark as rie.Start sees it, except that the
// cleanups Start registers (stopping the emulator) run at the end of the
// iteration instead of the end of the benchmark: a benchmark of cold starts
// would otherwise keep every emulator it started running until it ends.
type iterationTB struct {
	testing.TB
	cleanups []func()
}

func (t *iterationTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

// cleanup runs the cleanups registered so far, last first, and forgets
// them.
func (t *iterationTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

// coldStart is one function kind to start cold.
type coldStart struct {
	name      string // sub-benchmark
	logicalID string
	pkg       string // instead of logicalID: a package to build (a fixture)
	tables    bool   // the function reads the tables: create and seed them
	// inventory: the function looks up protectable resources (its event
	// names the table "orders", owned by the sample tenant).
	inventory bool
	event     []byte // nil: events/<name>.json
	// check checks the answer of the first invoke.
	check func(b *testing.B, emu *rie.Emulator, event []byte)
}

// checkHTTP invokes an HTTP API function and wants a 200.
func checkHTTP(b *testing.B, emu *rie.Emulator, event []byte) {
	resp, _ := emu.InvokeHTTP(b, event)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d, want 200: %s", resp.StatusCode, resp.Body)
	}
}

// checkWorker invokes the stream worker with a batch and wants no failure:
// neither a function error nor a batch item failure.
func checkWorker(b *testing.B, emu *rie.Emulator, event []byte) {
	body := emu.Invoke(b, event)
	var resp struct {
		ErrorMessage      *string           `json:"errorMessage"`
		BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.ErrorMessage != nil || len(resp.BatchItemFailures) != 0 {
		b.Fatalf("worker answered %s, want no failure", body)
	}
}

func BenchmarkColdStart(b *testing.B) {
	show, providers := api.ShowCheckpoint, api.ListProviders
	for _, cs := range []coldStart{
		// The yardstick, first: the others report ratios to it.
		{name: "minimal", pkg: "./internal/lambdafn/testdata/minimal", event: []byte(`{}`), check: checkMinimal},
		{name: show.Name, logicalID: show.LogicalID(), tables: true, check: checkHTTP},
		{name: providers.Name, logicalID: providers.LogicalID(), check: checkHTTP},
		// The functions that link the inventory and the EC2 SDK; the
		// listing also links the tagging API's client.
		{name: api.ShowProtectableInstance.Name, logicalID: api.ShowProtectableInstance.LogicalID(), inventory: true, check: checkHTTP},
		{name: api.ListProtectableInstances.Name, logicalID: api.ListProtectableInstances.LogicalID(), inventory: true, check: checkHTTP},
		// An empty batch: the init is what is measured, and the worker's
		// answer to no records is no failure.
		{name: "worker", logicalID: api.LogicalID(bgfn.Worker.Name), event: []byte(`{"Records":[]}`), check: checkWorker},
		// The runner, on an empty batch of the tasks table's stream.
		{name: "runner", logicalID: api.LogicalID(bgfn.Runner.Name), event: []byte(`{"Records":[]}`), check: checkWorker},
		// One sweep of an empty table; it links no plugin.
		{name: "sweeper", logicalID: api.LogicalID(bgfn.Sweeper.Name), tables: true, event: []byte(`{}`), check: checkSweeper},
	} {
		b.Run(cs.name, func(b *testing.B) { benchColdStart(b, cs) })
	}
}

// checkSweeper sweeps an empty table: nothing ended, nothing failed.
func checkSweeper(b *testing.B, emu *rie.Emulator, event []byte) {
	body := emu.Invoke(b, event)
	var resp struct {
		ErrorMessage *string `json:"errorMessage"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.ErrorMessage != nil {
		b.Fatalf("sweeper answered %s, want a sweep's result", body)
	}
}

// checkMinimal invokes the minimal function, which answers "ok".
func checkMinimal(b *testing.B, emu *rie.Emulator, event []byte) {
	if body := emu.Invoke(b, event); string(body) != `"ok"` {
		b.Fatalf("minimal function answered %s", body)
	}
}

// minimal is the minimal function's figures, once measured.
var minimal struct{ initMS, size float64 }

func benchColdStart(b *testing.B, cs coldStart) {
	var bootstrap string
	if cs.pkg != "" {
		bootstrap = rie.BuildPackage(b, cs.pkg)
	} else {
		bootstrap = rie.Build(b, cs.logicalID)
	}
	info, err := os.Stat(bootstrap)
	if err != nil {
		b.Fatal(err)
	}
	event := cs.event
	if event == nil {
		if event, err = os.ReadFile(filepath.Join(rie.RepoRoot(b), "events", cs.name+".json")); err != nil {
			b.Fatal(err)
		}
	}
	// Every function is given table names (the background functions' init
	// requires them); only show-checkpoint reads them, from the test
	// endpoint, seeded with the checkpoint its event names.
	plans, checkpoints := "plans-unused", "checkpoints-unused"
	env := map[string]string{}
	if cs.tables {
		plans, checkpoints = testenv.Tables(b)
		seedEventCheckpoint(b, store.New(testenv.DynamoDB(b), plans, checkpoints))
		env["DYNAMODB_ENDPOINT"] = testenv.Endpoint(b)
	}
	env["PLANS_TABLE"], env["CHECKPOINTS_TABLE"] = plans, checkpoints
	// The background functions' init requires these too; nothing here
	// reads them.
	env["OPERATION_LOGS_TABLE"], env["TASKS_TABLE"] = "operation-logs-unused", "tasks-unused"
	env["QUOTAS_TABLE"], env["SCHEDULES_TABLE"] = "quotas-unused", "schedules-unused"
	if cs.inventory {
		e := invenv.New(b)
		ensureOrders(b, e)
		// moto loads its tagging API's backends on the first GetResources
		// (about 2 s): not the function's cost.
		if _, err := e.Tagging.Tagged(b.Context(), "dynamodb:table", "k", "v"); err != nil {
			b.Fatal(err)
		}
		for _, k := range []string{"DYNAMODB_ENDPOINT", "EC2_ENDPOINT", "TAGGING_ENDPOINT"} {
			env[k] = testenv.Endpoint(b)
		}
	}

	var initTotal, invokeTotal time.Duration
	var peakRSS int64
	it := &iterationTB{TB: b}
	// An iteration that fails ends the benchmark before its own cleanup:
	// its emulator is stopped then.
	b.Cleanup(it.cleanup)
	for b.Loop() {
		emu := rie.Start(it, bootstrap, env)
		start := time.Now()
		cs.check(b, emu, event)
		invokeTotal += time.Since(start)

		b.StopTimer()
		initTotal += initDuration(b, emu)
		if rss, ok := emu.PeakRSS(); ok {
			peakRSS = max(peakRSS, rss)
		}
		it.cleanup()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(initTotal.Microseconds())/1000/n, "init-ms")
	b.ReportMetric(float64(invokeTotal.Microseconds())/1000/n, "cold-invoke-ms")
	b.ReportMetric(float64(info.Size()), "bytes-binary")
	b.ReportMetric(float64(peakRSS)/(1<<20), "rss-MB")
	initMS, size := float64(initTotal.Microseconds())/1000/n, float64(info.Size())
	if cs.pkg != "" {
		minimal.initMS, minimal.size = initMS, size
	} else if minimal.initMS > 0 {
		b.ReportMetric(initMS/minimal.initMS, "init-x-minimal")
		b.ReportMetric(size/minimal.size, "size-x-minimal")
	}
}

// initDuration waits for the emulator's INIT REPORT (it has come
// by the time the first invoke answers, but its output is read
// asynchronously) and returns its duration.
func initDuration(b *testing.B, emu *rie.Emulator) time.Duration {
	var d time.Duration
	wait.Until(b, "the emulator's INIT REPORT after the first invoke", func() error {
		var ok bool
		if d, ok = emu.InitDuration(); !ok {
			return fmt.Errorf("emulator output:\n%s", emu.Output())
		}
		return nil
	})
	return d
}

// seedEventCheckpoint writes the available checkpoint that
// events/show-checkpoint.json names.
func seedEventCheckpoint(b *testing.B, s *store.Store) {
	b.Helper()
	c := &domain.Checkpoint{
		ID:         checkpointID,
		ProjectID:  projectID,
		ProviderID: providerID,
		Status:     domain.StatusAvailable,
		Plan: domain.ProtectionPlan{
			ID:         planID,
			Name:       "My 3 tier application",
			ProviderID: providerID,
			Resources:  seedResources(),
		},
		ExtraInfo: []byte(`{"created_by":"manual"}`),
		CreatedAt: created,
		UpdatedAt: created,
	}
	if err := s.CreateCheckpoint(b.Context(), c); err != nil {
		b.Fatalf("seed checkpoint: %v", err)
	}
}
