package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/store"
	"karbor/internal/testsupport/seed"
	"karbor/internal/testsupport/testenv"
)

// lambdaLimit is Lambda's limit on a synchronous invocation's response
// payload: 6 MB.
const lambdaLimit = 6 * 1024 * 1024

// payload is the size of body in the Lambda response payload the function
// returns (aws-lambda-go encodes the API Gateway response with
// encoding/json: the body is a JSON string, escaped).
func payload(t *testing.T, body []byte) int {
	t.Helper()
	b, err := json.Marshal(events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Openstack-Request-Id": "req-" + domain.NewID()},
		Body:       string(body),
	})
	if err != nil {
		t.Fatalf("encode payload: %v", err)
	}
	return len(b)
}

// TestListPageByteBudget lists checkpoints of the largest plan a request
// can create (200 resources with long ids and names, the body just under
// 64 KiB, of characters that the Lambda payload escapes the most) at
// limit=1000: each page ends when its JSON reaches the byte budget, so no
// response passes Lambda's 6 MB, and it carries a next link whose marker is
// its last item; following the links lists every checkpoint once.
func TestListPageByteBudget(t *testing.T) {
	t.Parallel()
	plans, checkpoints := testenv.Tables(t)
	db := testenv.DynamoDB(t)
	e := newEnvWith(t, store.New(db, plans, checkpoints))

	// '<', '>' and '&' take 1 byte in the body and 6 in the payload.
	long := func(i, n int) string {
		s := fmt.Sprintf("%03d", i) + strings.Repeat("<>&", n)
		return s[:min(len(s), n)]
	}
	var resources []any
	for i := range 200 {
		resources = append(resources, map[string]any{"id": long(i, 118), "type": "OS::Nova::Server", "name": long(i, 118), "extra_info": map[string]any{"k": long(i, 18)}})
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"plan": map[string]any{"name": long(0, 255), "provider_id": noop, "resources": resources, "parameters": map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	if body.Len() > 64*1024 || body.Len() < 60*1024 {
		t.Fatalf("fixture: plan body of %d bytes, want just under 64 KiB", body.Len())
	}
	plan := e.do(t, http.MethodPost, "/v1/"+projA+"/plans", tokenA, body.Bytes()).wantStatus(t, http.StatusOK).obj(t, "plan")
	stored, err := e.store.GetPlan(t.Context(), projA, plan["id"].(string))
	if err != nil {
		t.Fatalf("GetPlan: %v", err)
	}

	// 40 checkpoints of it, protected: a graph of 200 nodes, extra_info.
	graph, err := json.Marshal([]any{map[string]any{"node": strings.Repeat("<\"&", 3000)}, []any{}})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*domain.Checkpoint
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		c := newCheckpoint(projA, noop, stored.ID, domain.StatusAvailable, start.Add(time.Duration(i)*time.Second))
		c.Plan.Name, c.Plan.Resources = stored.Name, stored.Resources
		g := string(graph)
		c.ResourceGraph = &g
		c.ExtraInfo = json.RawMessage(fmt.Sprintf(`{"note": %q}`, strings.Repeat("<>", 1000)))
		cs = append(cs, c)
	}
	seed.Checkpoints(t, db, plans, checkpoints, cs)

	next := checkpointsPath(projA, noop) + "?limit=1000"
	var got []string
	pages := 0
	for next != "" {
		pages++
		r := e.do(t, http.MethodGet, next, tokenA, nil).wantStatus(t, http.StatusOK)
		items := r.list(t, "checkpoints")
		size := payload(t, r.raw)
		t.Logf("page %d: %d checkpoints, body %d bytes, Lambda payload %d bytes", pages, len(items), len(r.raw), size)
		if size > lambdaLimit || len(r.raw) > api.PageBytes+4096 {
			t.Fatalf("page %d: body %d bytes, payload %d: over the budget", pages, len(r.raw), size)
		}
		got = append(got, ids(items)...)
		next = r.next(t, "checkpoints_links")
		if next == "" {
			break
		}
		if !strings.HasSuffix(next, "marker="+items[len(items)-1]["id"].(string)) {
			t.Fatalf("page %d: next link %s, want the marker of its last item", pages, next)
		}
		// The page is full: one more checkpoint would have passed the
		// budget (each takes about a tenth of it).
		if size < api.PageBytes*8/10 {
			t.Errorf("page %d: payload %d bytes and a next link: cut short", pages, size)
		}
	}
	if pages < 3 {
		t.Errorf("%d pages: the fixture does not reach the budget", pages)
	}
	want := make([]listed, 0, len(cs))
	for _, c := range cs {
		want = append(want, listedOf(c))
	}
	wantIDs(t, "every checkpoint, once", got, order(want, false))
}
