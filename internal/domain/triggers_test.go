package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var triggerNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func rawProps(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func TestMergeTriggerPropertiesRefusals(t *testing.T) {
	for _, c := range []struct{ props, want string }{
		{`{"pattern":"0 2 * * *"}`, "Invalid input for field 'properties': 'format' is a required property."},
		{`{"format":"crontab"}`, "Invalid input for field 'properties': 'pattern' is a required property."},
		{`{"format":7,"pattern":"0 2 * * *"}`, "Invalid input for field 'properties': 'format' must be a string."},
		{`{"format":"cron","pattern":"0 2 * * *"}`, `Invalid trigger format "cron": use crontab or calendar.`},
		{`{"format":"crontab","pattern":null}`, "Invalid input for field 'properties': 'pattern' must be a string."},
		{`{"format":"crontab","pattern":"0 2 * *"}`, ""}, // schedule.Parse's own message
		{`{"format":"crontab","pattern":"0 2 * * *","start_time":"2026/12/01 10:00"}`, `The format of trigger start_time "2026/12/01 10:00" is not correct`},
		{`{"format":"crontab","pattern":"0 2 * * *","start_time":5}`, "Invalid input for field 'properties': 'start_time' must be a string."},
		{`{"format":"crontab","pattern":"0 2 * * *","end_time":"tomorrow"}`, `The format of trigger end_time "tomorrow" is not correct`},
		{`{"format":"crontab","pattern":"0 2 * * *","start_time":"2027-01-02 00:00:00","end_time":"2027-01-02T00:00:00Z"}`, "The trigger's end_time 2027-01-02T00:00:00Z must be after its start_time 2027-01-02T00:00:00Z."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":899}`, "The trigger window 899 must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":1801}`, "The trigger window 1801 must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":"3600"}`, "The trigger window 3600 must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":"9x0"}`, "The trigger window 9x0 must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":1000.5}`, "The trigger window 1000.5 must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":"-900"}`, "The trigger window -900 must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","window":true}`, "The trigger window true must be between 900 and 1800."},
		{`{"format":"crontab","pattern":"0 2 * * *","end_time":"2026-11-30 00:00:00","start_time":"2026-11-01 00:00:00"}`, "The trigger has no future occurrence."},
		{`{"format":"crontab","pattern":"*/30 * * * *"}`, "The interval of two adjacent time points is less than 3600."},
		{`{"format":"calendar","pattern":"BEGIN:VEVENT\nRRULE:FREQ=MINUTELY;INTERVAL=10\nEND:VEVENT"}`, "The interval of two adjacent time points is less than 3600."},
	} {
		_, _, err := MergeTriggerProperties(nil, rawProps(t, c.props), triggerNow)
		var refusal *Error
		if err == nil || !errors.As(err, &refusal) || refusal.Kind != Invalid {
			t.Errorf("%s: %v, want a 400", c.props, err)
			continue
		}
		if !strings.HasPrefix(refusal.Message, c.want) {
			t.Errorf("%s: %q, want %q", c.props, refusal.Message, c.want)
		}
	}
}

func TestMergeTriggerProperties(t *testing.T) {
	p, next, err := MergeTriggerProperties(nil, rawProps(t, `{"format":"crontab","pattern":"0 2 * * *"}`), triggerNow.Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !p.StartTime.Equal(triggerNow) || p.Window != 900 || p.EndTime != nil {
		t.Errorf("defaults: %+v", p)
	}
	if want := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC); next == nil || !next.Equal(want) {
		t.Errorf("next = %v, want %v", next, want)
	}
	// Times: both separators, fraction dropped, offset converted, no zone UTC.
	p, next, err = MergeTriggerProperties(nil, rawProps(t, `{"format":"crontab","pattern":"0 2 * * *","start_time":"2026-12-05T10:00:00.123+02:00","end_time":"2026-12-09 02:00:00","window":"1800"}`), triggerNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC); !p.StartTime.Equal(want) || p.Window != 1800 {
		t.Errorf("start %v window %d", p.StartTime, p.Window)
	}
	if want := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC); next == nil || !next.Equal(want) {
		t.Errorf("next = %v, want %v (at or after start_time)", next, want)
	}
	// Merge: a key given replaces, end_time null removes, window null
	// restores the default, the rest stays.
	base := p
	p, _, err = MergeTriggerProperties(&base, rawProps(t, `{"pattern":"0 3 * * *","end_time":null,"window":null}`), triggerNow)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pattern != "0 3 * * *" || p.EndTime != nil || p.Window != 900 || !p.StartTime.Equal(base.StartTime) || p.Format != "crontab" {
		t.Errorf("merged: %+v", p)
	}
	// The last occurrence is the end: no next after it.
	_, next, err = MergeTriggerProperties(nil, rawProps(t, `{"format":"crontab","pattern":"0 2 * * *","end_time":"2026-12-02 02:00:00"}`), triggerNow)
	if err != nil || next == nil {
		t.Fatalf("end at the only occurrence: %v, %v", next, err)
	}
}

func TestParseOperationDefinition(t *testing.T) {
	prov, plan := "f346b852-0000-4000-8000-000000000001", "d58ffd3e-0000-4000-8000-000000000002"
	ids := `"provider_id":"` + prov + `","plan_id":"` + plan + `"`
	for _, c := range []struct {
		typ  ScheduledOperationType
		def  string
		want string
	}{
		{OpTypeProtect, `{"plan_id":"` + plan + `"}`, "Invalid operation definition: 'provider_id' is a required property."},
		{OpTypeProtect, `{"provider_id":"` + prov + `"}`, "Invalid operation definition: 'plan_id' is a required property."},
		{OpTypeProtect, `{"provider_id":"x","plan_id":"` + plan + `"}`, `Invalid operation definition: 'provider_id' "x" is not a UUID.`},
		{OpTypeProtect, `{"provider_id":1,"plan_id":"` + plan + `"}`, "Invalid operation definition: 'provider_id' must be a string."},
		{OpTypeProtect, `{` + ids + `,"max_backups":3}`, "Invalid operation definition: unknown key(s) max_backups for operation type protect."},
		{OpTypeRetentionProtect, `{` + ids + `,"max_backup":3}`, "Invalid operation definition: unknown key(s) max_backup for operation type retention_protect."},
		{OpTypeRetentionProtect, `{` + ids + `}`, "Invalid operation definition: retention_protect needs max_backups, retention_duration or both."},
		{OpTypeRetentionProtect, `{` + ids + `,"max_backups":0}`, "Invalid operation definition: 'max_backups' must be an integer from 1 to 2147483647, not 0."},
		{OpTypeRetentionProtect, `{` + ids + `,"max_backups":2147483648}`, "Invalid operation definition: 'max_backups' must be an integer from 1 to 2147483647, not 2147483648."},
		{OpTypeRetentionProtect, `{` + ids + `,"retention_duration":"7d"}`, "Invalid operation definition: 'retention_duration' must be an integer from 1 to 2147483647, not 7d."},
		{OpTypeRetentionProtect, `{` + ids + `,"retention_duration":null}`, "Invalid operation definition: 'retention_duration' must be an integer from 1 to 2147483647, not null."},
		{OpTypeRetentionProtect, `{` + ids + `,"max_backups":{"n":1}}`, `Invalid operation definition: 'max_backups' must be an integer from 1 to 2147483647, not {"n":1}.`},
	} {
		_, err := ParseOperationDefinition(c.typ, rawProps(t, c.def))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.typ, c.def, err, c.want)
		}
	}
	d, err := ParseOperationDefinition(OpTypeRetentionProtect, rawProps(t, `{`+ids+`,"max_backups":"3","retention_duration":2147483647}`))
	if err != nil || *d.MaxBackups != 3 || *d.RetentionDuration != 2147483647 || d.PlanID != plan || d.ProviderID != prov {
		t.Errorf("valid: %+v, %v", d, err)
	}
	if got := d.View(); got["max_backups"] != int64(3) {
		t.Errorf("view max_backups = %#v, want int64 3", got["max_backups"])
	}
}

func TestScheduleTypeChecks(t *testing.T) {
	if err := CheckTriggerType("event"); err == nil || err.Error() != "Invalid trigger type: event" {
		t.Errorf("CheckTriggerType: %v", err)
	}
	if err := CheckScheduledOperationType("backup"); err == nil || err.Error() != "Invalid operation type: backup" {
		t.Errorf("CheckScheduledOperationType: %v", err)
	}
	if err := CheckRegexpFilter("name", "a("); err == nil || !strings.HasPrefix(err.Error(), `Invalid name filter "a(":`) {
		t.Errorf("CheckRegexpFilter: %v", err)
	}
	if err := CheckRegexpFilter("name", strings.Repeat("a", 256)); err == nil {
		t.Error("CheckRegexpFilter accepts 256 characters")
	}
}
