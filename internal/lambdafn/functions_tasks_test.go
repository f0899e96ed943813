package lambdafn_test

import (
	"context"
	"net/http"
	"testing"

	"karbor/internal/domain"
)

// taskJSON is a restore or verification as answered
// (a verification has neither restore_target nor restored_resources).
type taskJSON struct {
	ID                string            `json:"id"`
	ProjectID         string            `json:"project_id"`
	ProviderID        string            `json:"provider_id"`
	CheckpointID      string            `json:"checkpoint_id"`
	RestoreTarget     *string           `json:"restore_target"`
	Parameters        map[string]any    `json:"parameters"`
	Status            string            `json:"status"`
	ResourcesStatus   map[string]string `json:"resources_status"`
	ResourcesReason   map[string]string `json:"resources_reason"`
	RestoredResources map[string]any    `json:"restored_resources"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
}

// What the restore and verification routes' sample events produce (see
// seedTasks: one ended restore and verification of the seeded checkpoint).
func init() {
	create := func(kind domain.TaskKind, key string) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			resp := f.invoke(t, f.event, http.StatusOK)
			var got taskJSON
			decode(t, resp.Body, key, &got)
			if !uuidPattern.MatchString(got.ID) || got.Status != "in_progress" || got.CheckpointID != checkpointID || got.ProjectID != projectID {
				t.Errorf("%s %+v", key, got)
			}
			stored, err := f.store.GetTask(context.Background(), kind, projectID, got.ID)
			if err != nil || stored.Status != domain.TaskInProgress {
				t.Errorf("stored %s: %+v, %v", key, stored, err)
			}
		}
	}
	list := func(key, id string) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			resp := f.invoke(t, f.event, http.StatusOK)
			var got []taskJSON
			decode(t, resp.Body, key, &got)
			if len(got) != 1 || got[0].ID != id || got[0].Status != "success" {
				t.Errorf("%s %+v, want the seeded one", key, got)
			}
		}
	}
	show := func(key, id string) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			resp := f.invoke(t, f.event, http.StatusOK)
			var got taskJSON
			decode(t, resp.Body, key, &got)
			if got.ID != id || got.Status != "success" {
				t.Errorf("%s %+v, want the seeded one", key, got)
			}
		}
	}
	routeChecks["create-restore"] = create(domain.KindRestore, "restore")
	routeChecks["list-restores"] = list("restores", restoreID)
	routeChecks["show-restore"] = show("restore", restoreID)
	routeChecks["create-verification"] = create(domain.KindVerification, "verification")
	routeChecks["list-verifications"] = list("verifications", verificationID)
	routeChecks["show-verification"] = show("verification", verificationID)
}
