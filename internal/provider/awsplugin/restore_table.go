package awsplugin

// A table's restore: RestoreTableFromBackup of the checkpoint's backup into
// the target name, then TagResource of the new table (RestoreTableFromBackup
// takes no tags) with the project's ownership tag, karbor:restore-id and
// karbor:resource-id.
//
// Which table is ours, at every step (a repeated step, or one whose State
// was lost): the table named as the target that carries karbor:restore-id =
// this restore; or, when it carries no karbor:restore-id at all (a crash
// came between RestoreTableFromBackup and TagResource), one whose
// RestoreSummary names our backup as its source and whose restore began no
// earlier than the restore's creation (less clockSkew): that one is tagged
// then and taken as ours. Any other table of that name is someone else's:
// the resource ends in error "target table <name> already exists". (Two
// restores of one checkpoint into one explicitly given name, both crashing
// in that window, could both claim the one table: the name is the user's
// choice, and only one table is made.)
//
// The verification's restore test restores the backup the same way into a
// scratch table (scratchTableName) tagged karbor:verification-id and
// karbor:service, counts its items with Scans of Select COUNT over as many
// steps as needed (the position kept in State), and deletes it whatever
// happens: a step that finds the scratch table with the test ended (in
// State) deletes it again before it reports.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
	"karbor/internal/ownership"
	"karbor/internal/provider"
)

type tableTasks struct{ tasks }

// tableName is the name of a table given by name or ARN.
func tableName(id string) string {
	if i := strings.LastIndex(id, ":table/"); i >= 0 {
		return id[i+len(":table/"):]
	}
	return id
}

// scratchTableName is the restore test's table: karbor-verify-<verification
// id>-<first 8 hex digits of sha256(resource id)> (59 characters).
func scratchTableName(verificationID, resourceID string) string {
	sum := sha256.Sum256([]byte(resourceID))
	return "karbor-verify-" + verificationID + "-" + hex.EncodeToString(sum[:])[:8]
}

func ddbTags(m map[string]string) []ddbtypes.Tag {
	var out []ddbtypes.Tag
	for k, v := range m {
		out = append(out, ddbtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

// errTaken: the target's name is someone else's table.
var errTaken = errors.New("already exists")

// ensureRestored finds the table name restored for this task (tagged
// idKey = id, or untagged and restored from backupARN since since; see the
// file's comment), or starts the restore of backupARN into it. It returns
// the table's description, or nil when the restore is to be looked at
// again (another's restore into the name is under way, say). A backup that
// no longer exists is errGone; a name taken, errTaken.
func (p tableTasks) ensureRestored(ctx context.Context, db DynamoDBRestoreAPI, t provider.Task, name, backupARN string,
	tags map[string]string, idKey string) (*ddbtypes.TableDescription, error) {
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	switch {
	case err == nil:
		td := d.Table
		lt, err := db.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: td.TableArn})
		if err != nil {
			return nil, fmt.Errorf("list tags of table %s: %w", name, err)
		}
		got := map[string]string{}
		for _, tg := range lt.Tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if got[idKey] == tags[idKey] && got[provider.TagResourceID] == tags[provider.TagResourceID] {
			return td, nil
		}
		if _, tagged := got[idKey]; !tagged && restoredFrom(td, backupARN, t.CreatedAt) {
			if _, err := db.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: td.TableArn, Tags: ddbTags(tags)}); err != nil {
				if code := errorCode(err); code == "ResourceNotFoundException" || code == "ResourceInUseException" {
					return nil, nil // not taggable yet: the next step tags it
				}
				return nil, fmt.Errorf("tag table %s: %w", name, err)
			}
			return td, nil
		}
		return nil, fmt.Errorf("target table %s %w", name, errTaken)
	case !notFound(err):
		return nil, fmt.Errorf("describe table %s: %w", name, err)
	}
	out, err := db.RestoreTableFromBackup(ctx, &dynamodb.RestoreTableFromBackupInput{TargetTableName: aws.String(name), BackupArn: aws.String(backupARN)})
	switch code := errorCode(err); {
	case err == nil:
	case code == "BackupNotFoundException":
		return nil, errGone("backup", backupARN, t.CheckpointID)
	case code == "TableAlreadyExistsException" || code == "TableInUseException":
		// Made meanwhile (by a step of ours running at the same time, or
		// by someone else): the next step looks at it.
		return nil, nil
	default:
		return nil, fmt.Errorf("restore backup %s into table %s: %w", backupARN, name, err)
	}
	td := out.TableDescription
	// A table just made may not take tags yet (AWS answers
	// ResourceNotFound or ResourceInUse for a moment): untagged, it is
	// still found ours by its RestoreSummary, and tagged by the next step.
	_, _ = db.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: td.TableArn, Tags: ddbTags(tags)})
	return td, nil
}

// restoredFrom reports a table restored from backupARN by a restore that
// began no earlier than since (less clockSkew).
func restoredFrom(td *ddbtypes.TableDescription, backupARN string, since time.Time) bool {
	rs := td.RestoreSummary
	if rs == nil || aws.ToString(rs.SourceBackupArn) != backupARN {
		return false
	}
	return since.IsZero() || rs.RestoreDateTime == nil || !rs.RestoreDateTime.Before(since.Add(-clockSkew))
}

type tableRestoreParams struct {
	Target string `json:"target_table_name"`
}

func (p tableTasks) Restore(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	db, err := p.ddb()
	if err != nil {
		return end(err)
	}
	backupARN := savedString(it.Saved, "backup_arn")
	if backupARN == "" {
		return end(errors.New("the checkpoint recorded no backup of the table"))
	}
	var params tableRestoreParams
	_ = json.Unmarshal(it.Params, &params)
	source := tableName(it.Resource.ID)
	target := params.Target
	if target == "" {
		target = domain.DefaultTargetTableName(source, t.ID)
	}
	tags := map[string]string{p.cfg.Key(): t.ProjectID, TagRestoreID: t.ID, provider.TagResourceID: source}
	td, err := p.ensureRestored(ctx, db, t, target, backupARN, tags, TagRestoreID)
	// Nothing is needed from one step to the next (the target's name and
	// tags find the table): the State only names it.
	state := map[string]string{"table": target}
	s := provider.Step{State: marshal(state)}
	if td != nil {
		s.Started, s.Restored = true, restored(target, aws.ToString(td.TableArn))
	}
	if err != nil {
		return step(err, state, s)
	}
	if td == nil {
		return s
	}
	switch td.TableStatus {
	case ddbtypes.TableStatusActive, ddbtypes.TableStatusUpdating:
		s.Done, s.State = true, nil
	case ddbtypes.TableStatusCreating:
	default:
		s.Done, s.State, s.Err = true, nil, fmt.Errorf("restored table %s is %s", target, td.TableStatus)
	}
	return s
}

type tableVerifyParams struct {
	RestoreTest bool `json:"restore_test"`
}

func (p tableTasks) Verify(ctx context.Context, t provider.Task, it provider.TaskItem) provider.Step {
	db, err := p.ddb()
	if err != nil {
		return end(err)
	}
	var params tableVerifyParams
	_ = json.Unmarshal(it.Params, &params)
	if params.RestoreTest {
		return p.restoreTest(ctx, db, t, it)
	}
	if _, err := p.checkBackup(ctx, db, t, it); err != nil {
		return step(err, nil, provider.Step{})
	}
	return provider.Step{Done: true}
}

// checkBackup describes the recorded backup and checks it is this
// checkpoint's (its name, as protection gave it: <prefix>-<checkpoint id>),
// of the table, and AVAILABLE.
func (p tableTasks) checkBackup(ctx context.Context, db DynamoDBRestoreAPI, t provider.Task, it provider.TaskItem) (*ddbtypes.BackupDescription, error) {
	arn := savedString(it.Saved, "backup_arn")
	if arn == "" {
		return nil, errors.New("the checkpoint recorded no backup of the table")
	}
	out, err := db.DescribeBackup(ctx, &dynamodb.DescribeBackupInput{BackupArn: aws.String(arn)})
	if notFound(err) {
		return nil, errGone("backup", arn, t.CheckpointID)
	}
	if err != nil {
		return nil, fmt.Errorf("describe backup %s: %w", arn, err)
	}
	bd := out.BackupDescription
	if bd == nil || bd.BackupDetails == nil {
		return nil, errGone("backup", arn, t.CheckpointID)
	}
	name := aws.ToString(bd.BackupDetails.BackupName)
	if recorded := savedString(it.Saved, "backup_name"); (recorded != "" && name != recorded) || !strings.HasSuffix(name, "-"+t.CheckpointID) {
		return nil, fmt.Errorf("backup %s is named %q: not the backup of checkpoint %s", arn, name, t.CheckpointID)
	}
	if src := bd.SourceTableDetails; src != nil && aws.ToString(src.TableName) != "" && aws.ToString(src.TableName) != tableName(it.Resource.ID) {
		return nil, fmt.Errorf("backup %s is of table %s, not %s", arn, aws.ToString(src.TableName), tableName(it.Resource.ID))
	}
	if st := bd.BackupDetails.BackupStatus; st != ddbtypes.BackupStatusAvailable {
		return nil, fmt.Errorf("backup %s is %s, not AVAILABLE", arn, st)
	}
	return bd, nil
}

// testState is the restore test's State between steps.
type testState struct {
	// Recorded is the backup's item count (-1: unknown).
	Recorded int64 `json:"recorded"`
	// Restored: the scratch table was made.
	Restored bool `json:"restored,omitempty"`
	// Count so far, and where the next Scan starts (nil: the beginning).
	Count int64               `json:"count"`
	Key   map[string]keyValue `json:"key,omitempty"`
	// Counted: every item read; Failed: the test failed with this. Either
	// way the scratch table is to be deleted, then the test reported.
	Counted bool   `json:"counted,omitempty"`
	Failed  string `json:"failed,omitempty"`
}

// keyValue is one attribute of a Scan's LastEvaluatedKey (key attributes
// are strings, numbers or binaries).
type keyValue struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
	B []byte  `json:"B,omitempty"`
}

func encodeKey(k map[string]ddbtypes.AttributeValue) (map[string]keyValue, error) {
	if len(k) == 0 {
		return nil, nil
	}
	out := map[string]keyValue{}
	for name, v := range k {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			out[name] = keyValue{S: aws.String(v.Value)}
		case *ddbtypes.AttributeValueMemberN:
			out[name] = keyValue{N: aws.String(v.Value)}
		case *ddbtypes.AttributeValueMemberB:
			out[name] = keyValue{B: v.Value}
		default:
			return nil, fmt.Errorf("key attribute %s of type %T", name, v)
		}
	}
	return out, nil
}

func decodeKey(k map[string]keyValue) map[string]ddbtypes.AttributeValue {
	if len(k) == 0 {
		return nil
	}
	out := map[string]ddbtypes.AttributeValue{}
	for name, v := range k {
		switch {
		case v.S != nil:
			out[name] = &ddbtypes.AttributeValueMemberS{Value: *v.S}
		case v.N != nil:
			out[name] = &ddbtypes.AttributeValueMemberN{Value: *v.N}
		default:
			out[name] = &ddbtypes.AttributeValueMemberB{Value: v.B}
		}
	}
	return out
}

func (p tableTasks) restoreTest(ctx context.Context, db DynamoDBRestoreAPI, t provider.Task, it provider.TaskItem) provider.Step {
	st := testState{Recorded: -1}
	if len(it.State) > 0 {
		_ = json.Unmarshal(it.State, &st)
	}
	scratch := scratchTableName(t.ID, it.Resource.ID)
	wait := func() provider.Step { return provider.Step{State: marshal(st)} }

	// finish deletes the scratch table, then reports the test's end; a
	// transient failure of the delete leaves it to the next step.
	finish := func() provider.Step {
		_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(scratch)})
		if err != nil && !notFound(err) && errorCode(err) != "ResourceInUseException" {
			if isTransient(err) {
				return wait()
			}
			msg := fmt.Sprintf("delete scratch table %s: %v", scratch, err)
			if st.Failed != "" {
				msg = st.Failed + " (and " + msg + ")"
			}
			return end(errors.New("restore test: " + msg))
		}
		if errorCode(err) == "ResourceInUseException" {
			// Still CREATING (or already DELETING): deleted at the next
			// step.
			return wait()
		}
		if st.Failed != "" {
			return end(errors.New("restore test: " + st.Failed))
		}
		recorded := "?"
		if st.Recorded >= 0 {
			recorded = fmt.Sprint(st.Recorded)
		}
		return provider.Step{Done: true, Reason: fmt.Sprintf("restore test: %d items restored (%s recorded with the backup)", st.Count, recorded)}
	}
	fail := func(err error) provider.Step {
		if isTransient(err) {
			return wait()
		}
		st.Failed = err.Error()
		return finish()
	}
	if t.Abort {
		// Past the verification's deadline: only the scratch table's
		// deletion remains.
		if st.Failed == "" {
			st.Failed = "timed out"
		}
		return finish()
	}
	if st.Counted || st.Failed != "" {
		return finish()
	}

	if !st.Restored || st.Recorded < 0 {
		bd, err := p.checkBackup(ctx, db, t, it)
		if err != nil {
			if st.Restored || isTransient(err) {
				return fail(err)
			}
			// A State lost after the scratch table was made: it is
			// deleted too, if it is this verification's.
			if ours, ferr := p.scratchOurs(ctx, db, t, scratch); ferr != nil || !ours {
				return step(err, st, provider.Step{})
			}
			return fail(err)
		}
		st.Recorded = -1
		if n := bd.SourceTableDetails; n != nil && n.ItemCount != nil {
			st.Recorded = *n.ItemCount
		}
	}
	source := tableName(it.Resource.ID)
	tags := map[string]string{
		p.cfg.Key(): t.ProjectID, TagVerificationID: t.ID, provider.TagResourceID: source,
		ownership.ServiceTag: "verification-scratch",
	}
	td, err := p.ensureRestored(ctx, db, t, scratch, savedString(it.Saved, "backup_arn"), tags, TagVerificationID)
	if td != nil {
		st.Restored = true
	}
	switch {
	case errors.Is(err, errTaken):
		// Not ours: never deleted.
		return end(fmt.Errorf("restore test: scratch table %s exists and is not this verification's", scratch))
	case err != nil && td == nil:
		if st.Restored {
			return fail(err)
		}
		return step(err, st, provider.Step{})
	case err != nil:
		return fail(err)
	case td == nil:
		return wait()
	}
	switch td.TableStatus {
	case ddbtypes.TableStatusActive, ddbtypes.TableStatusUpdating:
	case ddbtypes.TableStatusCreating:
		return wait()
	case ddbtypes.TableStatusDeleting:
		// A test whose State was lost after its delete: the table is
		// restored anew once gone.
		st.Restored = false
		return wait()
	default:
		return fail(fmt.Errorf("scratch table %s is %s", scratch, td.TableStatus))
	}

	deadline := time.Now().Add(p.opts.CountWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-DeadlineReserve).Before(deadline) {
		deadline = d.Add(-DeadlineReserve)
	}
	for pages := 0; ; pages++ {
		if pages > 0 && (!time.Now().Before(deadline) || (p.opts.scanPages > 0 && pages >= p.opts.scanPages)) {
			return wait()
		}
		in := &dynamodb.ScanInput{TableName: aws.String(scratch), Select: ddbtypes.SelectCount, ConsistentRead: aws.Bool(true),
			ExclusiveStartKey: decodeKey(st.Key)}
		if p.opts.scanLimit > 0 {
			in.Limit = aws.Int32(p.opts.scanLimit)
		}
		out, err := db.Scan(ctx, in)
		if err != nil {
			return fail(fmt.Errorf("read scratch table %s: %w", scratch, err))
		}
		key, err := encodeKey(out.LastEvaluatedKey)
		if err != nil {
			return fail(fmt.Errorf("read scratch table %s: %w", scratch, err))
		}
		st.Count += int64(out.Count)
		st.Key = key
		if key == nil {
			st.Counted = true
			return finish()
		}
	}
}

// scratchOurs reports whether the scratch table exists and carries this
// verification's tag.
func (p tableTasks) scratchOurs(ctx context.Context, db DynamoDBRestoreAPI, t provider.Task, scratch string) (bool, error) {
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(scratch)})
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	lt, err := db.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn})
	if err != nil {
		return false, err
	}
	for _, tg := range lt.Tags {
		if aws.ToString(tg.Key) == TagVerificationID {
			return aws.ToString(tg.Value) == t.ID, nil
		}
	}
	return false, nil
}
