package lambdafn_test

import (
	"context"
	"maps"
	"net/http"
	"testing"

	"karbor/internal/api"
	"karbor/internal/domain"
)

// TestFunctionsIdempotencyKey runs the create routes' functions under the
// emulator with their sample event carrying an Idempotency-Key: the second
// invoke answers the first's body again with its own request id, and
// creates nothing; another body with the key is a 409.
func TestFunctionsIdempotencyKey(t *testing.T) {
	count := map[string]func(t *testing.T, f *fixture) int{
		api.CreatePlan.Name: func(t *testing.T, f *fixture) int {
			page, err := f.store.ListPlans(context.Background(), domain.PlanQuery{Listing: domain.Listing{ProjectID: projectID, Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Items)
		},
		api.CreateCheckpoint.Name: func(t *testing.T, f *fixture) int {
			page, err := f.store.ListCheckpoints(context.Background(), domain.CheckpointQuery{Listing: domain.Listing{ProjectID: projectID, Limit: 100}, ProviderID: providerID})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Items)
		},
	}
	for _, kind := range []domain.TaskKind{domain.KindRestore, domain.KindVerification} {
		name := api.CreateRestore.Name
		if kind == domain.KindVerification {
			name = api.CreateVerification.Name
		}
		count[name] = func(t *testing.T, f *fixture) int {
			page, err := f.store.ListTasks(context.Background(), domain.TaskQuery{Kind: kind, Listing: domain.Listing{ProjectID: projectID, Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Items)
		}
	}
	maps.Copy(count, scheduleCounts)
	for _, r := range api.Routes {
		if !r.IsIdempotent() {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			counter, ok := count[r.Name]
			if !ok {
				t.Fatalf("no count of what %s creates: add one", r.Name)
			}
			f := start(t, r)
			before := counter(t, f)
			withKey := withEvent(t, f.event, func(ev map[string]any) {
				ev["headers"].(map[string]any)["idempotency-key"] = "rie-key-1"
			})
			first := f.invoke(t, withKey, http.StatusOK)
			again := f.invoke(t, withKey, http.StatusOK)
			if again.Body != first.Body {
				t.Errorf("replay body\n%s\nwant\n%s", again.Body, first.Body)
			}
			if n := counter(t, f); n != before+1 {
				t.Errorf("%d items after two invokes with one key, want %d", n, before+1)
			}
			other := withEvent(t, withKey, func(ev map[string]any) {
				ev["body"] = ev["body"].(string) + " "
				delete(ev["headers"].(map[string]any), "content-length")
			})
			checkFault(t, f.invoke(t, other, http.StatusConflict).Body, "conflictingRequest", http.StatusConflict)
		})
	}
}
