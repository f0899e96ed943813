// Package events publishes every status change of a checkpoint, a restore
// or a verification to EventBridge, from the DynamoDB streams of the
// checkpoints and tasks tables (EventsFunction in template.yaml; the local
// server's stream pollers run the same handler).
//
// Delivery is at least once: a stream record handed over again (a retried
// batch, a bisected batch, a partial failure reported) publishes its event
// again, with the same event_id, derived from the item and the change
// (EventID). Consumers dedupe on detail.event_id; docs/architecture.md says
// why there is no dedupe table.
package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"karbor/internal/domain"
)

// Source is every event's source.
const Source = "karbor"

// The events' detail-types.
const (
	CheckpointStatusChange   = "Checkpoint Status Change"
	RestoreStatusChange      = "Restore Status Change"
	VerificationStatusChange = "Verification Status Change"
)

// MaxEntries is the most entries one PutEvents takes.
const MaxEntries = 10

// FilterPattern is the event source mappings' filter (both tables): new
// and changed items (every item of both tables has a status; a removal is
// no status change). A filter cannot compare the old image with the new
// one: Changed drops the MODIFY records whose status stayed.
const FilterPattern = `{"eventName": ["INSERT", "MODIFY"]}`

// Detail is an event's detail.
type Detail struct {
	ID           string  `json:"id"`
	ProjectID    string  `json:"project_id"`
	ProviderID   string  `json:"provider_id"`
	PlanID       *string `json:"plan_id"`
	CheckpointID *string `json:"checkpoint_id,omitempty"` // restores and verifications only
	OldStatus    *string `json:"old_status"`              // null on creation
	NewStatus    string  `json:"new_status"`
	// Reason is a failed restore's or verification's resources_reason
	// (resource → reason); null otherwise (a checkpoint's error is told in
	// its operation log).
	Reason map[string]string `json:"reason"`
	// ReasonTruncated: Reason holds only the first resources (by key)
	// within MaxReasonBytes; the task's own record has them all.
	ReasonTruncated bool   `json:"reason_truncated,omitempty"`
	Time            string `json:"time"` // RFC 3339
	EventID         string `json:"event_id"`
}

// MaxReasonBytes bounds a detail's reason (keys and values), far below
// PutEvents' 256 KB entry: an entry that can never be put would hold its
// stream shard for hours of retries.
const MaxReasonBytes = 64 * 1024

// capReason keeps the first resources of reason, by key, within
// MaxReasonBytes; truncated reports any left out.
func capReason(reason map[string]string) (kept map[string]string, truncated bool) {
	keys := make([]string, 0, len(reason))
	for k := range reason {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kept = map[string]string{}
	size := 0
	for _, k := range keys {
		size += len(k) + len(reason[k])
		if size > MaxReasonBytes {
			return kept, true
		}
		kept[k] = reason[k]
	}
	return kept, false
}

// Event is one status change.
type Event struct {
	DetailType string
	Detail     Detail
}

// PutEventsAPI is the part of the EventBridge client the publisher uses.
type PutEventsAPI interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ PutEventsAPI = (*eventbridge.Client)(nil)

// Changed reports whether rec is a status change: an item created with a
// status, or changed from one status to another.
func Changed(rec lambdaevents.DynamoDBEventRecord) bool {
	newStatus := str(rec.Change.NewImage, "status")
	switch rec.EventName {
	case "INSERT":
		return newStatus != ""
	case "MODIFY":
		return newStatus != "" && str(rec.Change.OldImage, "status") != newStatus
	}
	return false
}

// Of is the event of a status change (false: rec is none).
func Of(rec lambdaevents.DynamoDBEventRecord) (Event, bool) {
	if !Changed(rec) {
		return Event{}, false
	}
	img := rec.Change.NewImage
	d := Detail{
		ID: str(img, "id"), ProjectID: str(img, "project_id"), ProviderID: str(img, "provider_id"),
		NewStatus: str(img, "status"),
	}
	if v := str(img, "plan_id"); v != "" {
		d.PlanID = &v
	}
	if rec.EventName == "MODIFY" {
		old := str(rec.Change.OldImage, "status")
		d.OldStatus = &old
	}
	var ev Event
	kind := str(img, "kind")
	switch domain.TaskKind(kind) {
	case domain.KindRestore, domain.KindVerification:
		ev.DetailType = RestoreStatusChange
		if kind == string(domain.KindVerification) {
			ev.DetailType = VerificationStatusChange
		}
		cp := str(img, "checkpoint_id")
		d.CheckpointID = &cp
		if d.NewStatus == string(domain.TaskFail) {
			var reason map[string]string
			if json.Unmarshal([]byte(str(img, "resources_reason")), &reason) == nil && len(reason) > 0 {
				d.Reason, d.ReasonTruncated = capReason(reason)
			}
		}
	default:
		kind = "checkpoint"
		ev.DetailType = CheckpointStatusChange
	}
	// The change's time: the item's updated_at (created_at on an item
	// never updated), else the stream's.
	at := str(img, "updated_at")
	if at == "" {
		at = str(img, "created_at")
	}
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		d.Time = t.UTC().Format(time.RFC3339Nano)
	} else {
		d.Time = rec.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339)
	}
	old := ""
	if d.OldStatus != nil {
		old = *d.OldStatus
	}
	// The stream record's sequence number tells two changes apart even
	// within one second (a checkpoint has no version); it is the same for
	// every delivery of the record.
	d.EventID = EventID(kind, d.ProjectID, d.ID, old, d.NewStatus, d.Time+"#"+num(img, "version")+"#"+rec.Change.SequenceNumber)
	ev.Detail = d
	return ev, true
}

// EventID is the id of the change of an item (kind: checkpoint, restore
// or verification; the table) from a status (old, "" on creation) into
// another at a version (its time, and a task's version): the same for
// every delivery of one stream record, different for two changes.
func EventID(kind, projectID, id, oldStatus, newStatus, version string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{kind, projectID, id, oldStatus, newStatus, version}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// Publisher publishes the status changes of stream batches.
type Publisher struct {
	Client PutEventsAPI
	Bus    string // the event bus's name or ARN; "" is "default"
	Log    *slog.Logger
	// Attempts bounds the PutEvents calls for one chunk of entries
	// (failed entries are sent again); default 3.
	Attempts int
}

// Handle publishes the status changes of a batch; the records whose event
// could not be published are reported as batch item failures (Lambda hands
// them over again, with the records after them).
func (p *Publisher) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	resp := lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{}}
	type pending struct {
		seq   string
		entry ebtypes.PutEventsRequestEntry
	}
	var all []pending
	for _, rec := range ev.Records {
		e, ok := Of(rec)
		if !ok {
			continue
		}
		detail, err := json.Marshal(e.Detail)
		if err != nil {
			return resp, err
		}
		all = append(all, pending{seq: rec.Change.SequenceNumber, entry: ebtypes.PutEventsRequestEntry{
			Source: aws.String(Source), DetailType: aws.String(e.DetailType), Detail: aws.String(string(detail)),
			EventBusName: aws.String(p.bus()), Resources: []string{},
		}})
	}
	failed := map[string]bool{}
	for start := 0; start < len(all); start += MaxEntries {
		chunk := all[start:min(start+MaxEntries, len(all))]
		entries := make([]ebtypes.PutEventsRequestEntry, len(chunk))
		seqs := make([]string, len(chunk))
		for i, c := range chunk {
			entries[i], seqs[i] = c.entry, c.seq
		}
		for _, seq := range p.put(ctx, entries, seqs) {
			failed[seq] = true
		}
	}
	for _, c := range all {
		if !failed[c.seq] {
			p.log().Debug("event published", "detail_type", aws.ToString(c.entry.DetailType), "detail", aws.ToString(c.entry.Detail))
		}
	}
	for _, rec := range ev.Records {
		if failed[rec.Change.SequenceNumber] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		}
	}
	return resp, nil
}

// put sends entries (seqs: their records), sending the failed ones again,
// and returns the records whose entry is still not published.
func (p *Publisher) put(ctx context.Context, entries []ebtypes.PutEventsRequestEntry, seqs []string) []string {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	for attempt := 1; ; attempt++ {
		out, err := p.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		var retryEntries []ebtypes.PutEventsRequestEntry
		var retrySeqs []string
		switch {
		case err != nil:
			p.log().Error("PutEvents failed", "entries", len(entries), "attempt", attempt, "error", err.Error())
			retryEntries, retrySeqs = entries, seqs
		case out.FailedEntryCount > 0 || len(out.Entries) != len(entries):
			for i := range entries {
				if i < len(out.Entries) && out.Entries[i].ErrorCode == nil {
					continue
				}
				code, msg := "", ""
				if i < len(out.Entries) {
					code, msg = aws.ToString(out.Entries[i].ErrorCode), aws.ToString(out.Entries[i].ErrorMessage)
				}
				p.log().Warn("event not published", "sequence_number", seqs[i], "attempt", attempt, "error_code", code, "error", msg)
				retryEntries, retrySeqs = append(retryEntries, entries[i]), append(retrySeqs, seqs[i])
			}
		}
		if len(retryEntries) == 0 {
			return nil
		}
		if attempt >= attempts || ctx.Err() != nil {
			return retrySeqs
		}
		entries, seqs = retryEntries, retrySeqs
		select {
		case <-ctx.Done():
			return retrySeqs
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

func (p *Publisher) bus() string {
	if p.Bus == "" {
		return "default"
	}
	return p.Bus
}

func (p *Publisher) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

// str is an image's string attribute ("" if absent or not a string).
func str(img map[string]lambdaevents.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != lambdaevents.DataTypeString {
		return ""
	}
	return v.String()
}

// num is an image's number attribute as written ("" if absent).
func num(img map[string]lambdaevents.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != lambdaevents.DataTypeNumber {
		return ""
	}
	return v.Number()
}
