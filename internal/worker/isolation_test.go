package worker_test

import (
	"encoding/json"
	"testing"

	"karbor/internal/domain"
	"karbor/internal/provider"
)

// One project's checkpoint must never delete what another's produced, even
// when its plan names the other's backup and snapshot ids in extra_info and
// its protection fails (so nothing of its own overwrites them). This was a
// real hole: the graph once started from the resource's extra_info and
// deletion trusted the ids in it.
func TestDeleteNeverTouchesAnotherCheckpointsBackups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	table, volume := e.sourceTable(), e.volume()
	victim := e.protect(e.worker, e.newCheckpoint(provider.AWSID, awsResources(table, volume), nil))
	if victim.Status != domain.StatusAvailable {
		t.Fatalf("victim checkpoint is %s", victim.Status)
	}
	g := graph(t, victim)
	victimARN, victimSnap := infoString(g[table].Info, "backup_arn"), infoString(g[volume].Info, "snapshot_id")

	forged := func(key, value string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{key: value, "status": "available"})
		return b
	}
	attacker := e.newCheckpoint(provider.AWSID, []domain.Resource{
		// Fails at once: the volume does not exist.
		{ID: "vol-0000000000doesnotexist", Type: provider.TypeEC2Volume, Name: "x", ExtraInfo: forged("snapshot_id", victimSnap)},
		{ID: "table-that-does-not-exist", Type: provider.TypeDynamoDBTable, Name: "y", ExtraInfo: forged("backup_arn", victimARN)},
	}, nil)
	if attacker.ProjectID == victim.ProjectID {
		t.Fatal("the two checkpoints must belong to different projects")
	}
	attacker = e.protect(e.worker, attacker)
	if attacker.Status != domain.StatusError {
		t.Fatalf("attacker checkpoint is %s, want error", attacker.Status)
	}
	for id, n := range graph(t, attacker) {
		if n.Info["snapshot_id"] != nil || n.Info["backup_arn"] != nil {
			t.Errorf("node %s shows a forged id: %v", id, n.Info)
		}
	}
	e.remove(e.worker, attacker)

	if got := e.snapshots(victim, volume); len(got) != 1 {
		t.Errorf("the victim's snapshot is gone: %d left", len(got))
	}
	if got := e.backups(table, victim); len(got) != 1 {
		t.Errorf("the victim's backup is gone: %d left", len(got))
	}
}
