package store_test

// Benchmarks of the store against the test DynamoDB endpoint (moto_server,
// see testenv). What they time is dominated by moto: about 1.5 ms a
// request, and Queries whose cost grows with the table (moto sorts the
// index in Python), so the figures compare the store's operations with each
// other and over time on one machine; they are not DynamoDB latencies. The
// custom metrics are exact whatever the endpoint:
//
//	ddb-calls/op    DynamoDB requests the operation sent
//	items-read/op   items those requests returned (GetItem counts as one)
//
// Each benchmark uses b.Loop, so that its setup (fresh tables, seeded
// items) runs once, not once per b.N ramp-up step; b.Loop resets the timer
// at its first call, which is the b.ResetTimer after the setup.

import (
	"context"
	"testing"
	"time"

	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/counting"
	seeding "karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// benchListSize is how many checkpoints the listing benchmarks seed: big
// enough that a page of 1000 is a real page, small enough that moto's
// Python sort of the index keeps a run of `make bench` short.
const benchListSize = 2000

// benchStores returns, over the same fresh tables, seed, which writes
// checkpoints uncounted (for the setup; see package seed), and counted, a
// store whose calls api tallies (for the operation measured).
func benchStores(b *testing.B) (seed func([]*domain.Checkpoint), counted *store.Store, api *counting.API) {
	b.Helper()
	plans, checkpoints := testenv.Tables(b)
	db := testenv.DynamoDB(b)
	api = counting.New(db)
	seed = func(cs []*domain.Checkpoint) {
		b.Helper()
		seeding.Checkpoints(b, db, plans, checkpoints, cs)
	}
	return seed, store.New(api, plans, checkpoints), api
}

// report adds the per-operation DynamoDB calls (and, with items, the items
// read) to the benchmark's results. Call it after the b.Loop loop, when b.N
// is the number of operations run.
func report(b *testing.B, api *counting.API, items bool) {
	b.Helper()
	c := api.Counts()
	n := float64(b.N)
	b.ReportMetric(float64(c.Calls())/n, "ddb-calls/op")
	if items {
		read := c.GetItems
		for _, k := range c.QueryItems {
			read += k
		}
		b.ReportMetric(float64(read)/n, "items-read/op")
	}
}

func BenchmarkGetCheckpoint(b *testing.B) {
	seed, s, api := benchStores(b)
	c := newCheckpoint(newProjectID(), domain.NewID(), base, domain.StatusAvailable)
	seed([]*domain.Checkpoint{c})
	ctx := context.Background()

	b.ReportAllocs()
	api.Reset()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.GetCheckpoint(ctx, c.ProjectID, c.ID)
		if err != nil || got.ID != c.ID {
			b.Fatalf("GetCheckpoint = %v, %v", got, err)
		}
	}
	report(b, api, true)
}

// BenchmarkListCheckpointsPage reads one page of one project's listing, as
// the API's default (newest first), from a table of benchListSize
// checkpoints: the first page, and a page that starts after a marker (which
// costs a GetItem to resolve).
func BenchmarkListCheckpointsPage(b *testing.B) {
	seed, s, api := benchStores(b)
	project, provider := newProjectID(), domain.NewID()
	cs := make([]*domain.Checkpoint, benchListSize)
	for i := range cs {
		cs[i] = newCheckpoint(project, provider, base.Add(time.Duration(i)*time.Second), domain.StatusAvailable)
	}
	seed(cs)
	// Newest first: a quarter of the listing is before the marker, three
	// quarters (more than a page of 1000) after it.
	marker := cs[benchListSize*3/4].ID

	for _, bc := range []struct {
		name   string
		limit  int
		marker string
	}{
		{"limit=10", 10, ""},
		{"limit=1000", 1000, ""},
		{"limit=10/marker", 10, marker},
		{"limit=1000/marker", 1000, marker},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := domain.CheckpointQuery{ProviderID: provider, Listing: domain.Listing{ProjectID: project, Limit: bc.limit, Marker: bc.marker}}
			ctx := context.Background()
			b.ReportAllocs()
			api.Reset()
			b.ResetTimer()
			for b.Loop() {
				page, err := s.ListCheckpoints(ctx, q)
				if err != nil {
					b.Fatalf("ListCheckpoints: %v", err)
				}
				if len(page.Items) != bc.limit || !page.More {
					b.Fatalf("page of %d (more: %t), want a full page of %d with more", len(page.Items), page.More, bc.limit)
				}
			}
			report(b, api, true)
		})
	}
}

// BenchmarkSetStatus moves one checkpoint available → error → available …:
// one conditional UpdateItem each.
func BenchmarkSetStatus(b *testing.B) {
	seed, s, api := benchStores(b)
	c := newCheckpoint(newProjectID(), domain.NewID(), base, domain.StatusAvailable)
	seed([]*domain.Checkpoint{c})
	ctx := context.Background()
	from, to := domain.StatusAvailable, domain.StatusError

	b.ReportAllocs()
	api.Reset()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.SetStatus(ctx, domain.Transition{
			ProjectID: c.ProjectID, ProviderID: c.ProviderID, ID: c.ID,
			From: []domain.Status{from}, To: to,
		})
		if err != nil || got.Status != to {
			b.Fatalf("SetStatus(%s → %s) = %v, %v", from, to, got, err)
		}
		from, to = to, from
	}
	report(b, api, false)
}

// BenchmarkCreateCheckpoint writes a new checkpoint (a plan snapshot of two
// resources) per operation, with one conditional PutItem. Building the
// checkpoint is inside the timed loop: microseconds against the write.
func BenchmarkCreateCheckpoint(b *testing.B) {
	_, s, api := benchStores(b)
	project, provider := newProjectID(), domain.NewID()
	ctx := context.Background()
	i := 0

	b.ReportAllocs()
	api.Reset()
	b.ResetTimer()
	for b.Loop() {
		c := newCheckpoint(project, provider, base.Add(time.Duration(i)*time.Second), domain.StatusProtecting)
		i++
		if err := s.CreateCheckpoint(ctx, c); err != nil {
			b.Fatalf("CreateCheckpoint: %v", err)
		}
	}
	report(b, api, false)
}
