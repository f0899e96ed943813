package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"karbor/internal/schedule"
)

// TriggerPropertyKeys are the keys a trigger's properties may have.
var TriggerPropertyKeys = []string{"format", "pattern", "start_time", "end_time", "window"}

// TriggerInput is a trigger create's body, decoded: the properties still
// raw JSON (their types are checked here).
type TriggerInput struct {
	Name       string
	Type       string
	Properties map[string]json.RawMessage
}

// TriggerChange is a trigger update's body: nil leaves a field; the
// properties given merge into the stored ones.
type TriggerChange struct {
	Name       *string
	Type       *string
	Properties map[string]json.RawMessage
}

// MaxFilterLength bounds a regular expression filter of a listing.
const MaxFilterLength = 255

func triggerNotFound(id string) *Error { return refuse(NotFound, "Trigger %s could not be found.", id) }

// CheckTriggerType checks a trigger's type: TriggerTypeTime only.
func CheckTriggerType(t string) error {
	if t != TriggerTypeTime {
		return invalid("Invalid trigger type: %s", Clip(t))
	}
	return nil
}

// triggerPropString decodes raw as a string; anything else (null included) is a
// refusal naming the property.
func triggerPropString(raw json.RawMessage, key string) (string, error) {
	var s string
	if isJSONNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", invalid("Invalid input for field 'properties': '%s' must be a string.", key)
	}
	return s, nil
}

func isJSONNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// ParseTriggerTime reads a trigger's start_time or end_time:
// "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS", with an optional
// fraction (dropped) and an optional "Z" or offset (converted); no zone is
// UTC. The result is UTC, to the second.
func ParseTriggerTime(key, s string) (time.Time, error) {
	for _, layout := range []string{
		"2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05Z07:00",
		"2006-01-02T15:04:05", "2006-01-02 15:04:05",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Second), nil
		}
	}
	return time.Time{}, invalid("The format of trigger %s %q is not correct: use YYYY-MM-DD HH:MM:SS or YYYY-MM-DDTHH:MM:SS, with an optional fraction and Z or an offset.", key, Clip(s))
}

// parseWindow reads a window: a JSON integer or a string of digits, in
// [MinWindow, MaxWindow].
func parseWindow(raw json.RawMessage) (int, error) {
	text := strings.TrimSpace(string(raw))
	var s string
	if strings.HasPrefix(text, `"`) && json.Unmarshal(raw, &s) == nil {
		text = s
	}
	n, err := strconv.Atoi(text)
	if err != nil || strings.Trim(text, "0123456789") != "" || n < MinWindow || n > MaxWindow {
		return 0, invalid("The trigger window %s must be between %d and %d.", Clip(text), MinWindow, MaxWindow)
	}
	return n, nil
}

// MergeTriggerProperties applies raw to base (nil on create, then
// start_time defaults to now and window to MinWindow) and validates the
// result, in the contract's order: format, pattern (as parsed), start_time
// and end_time, end after start, window, then the occurrences (one after
// now, adjacent ones MinInterval apart). A key given replaces its value;
// end_time null removes the end, window null restores the default. It
// returns the properties and the pattern's next occurrence after now (nil
// past the end). Keys outside TriggerPropertyKeys are the caller's to
// refuse.
func MergeTriggerProperties(base *TriggerProperties, raw map[string]json.RawMessage, now time.Time) (TriggerProperties, *time.Time, error) {
	var p TriggerProperties
	if base != nil {
		p = *base
	} else {
		p = TriggerProperties{StartTime: now.UTC().Truncate(time.Second), Window: MinWindow}
	}
	var err error
	for _, key := range []string{"format", "pattern"} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		dst := &p.Format
		if key == "pattern" {
			dst = &p.Pattern
		}
		if *dst, err = triggerPropString(v, key); err != nil {
			return p, nil, err
		}
	}
	for _, key := range []string{"format", "pattern"} {
		if (key == "format" && p.Format == "") || (key == "pattern" && p.Pattern == "") {
			if _, given := raw[key]; !given {
				return p, nil, invalid("Invalid input for field 'properties': '%s' is a required property.", key)
			}
		}
	}
	if p.Format != FormatCrontab && p.Format != FormatCalendar {
		return p, nil, invalid("Invalid trigger format %q: use crontab or calendar.", Clip(p.Format))
	}
	pattern, err := schedule.Parse(p.Format, p.Pattern)
	if err != nil {
		return p, nil, invalid("%s", err.Error())
	}
	if v, ok := raw["start_time"]; ok {
		s, err := triggerPropString(v, "start_time")
		if err != nil {
			return p, nil, err
		}
		if p.StartTime, err = ParseTriggerTime("start_time", s); err != nil {
			return p, nil, err
		}
	}
	if v, ok := raw["end_time"]; ok {
		if isJSONNull(v) {
			p.EndTime = nil
		} else {
			s, err := triggerPropString(v, "end_time")
			if err != nil {
				return p, nil, err
			}
			end, err := ParseTriggerTime("end_time", s)
			if err != nil {
				return p, nil, err
			}
			p.EndTime = &end
		}
	}
	if p.EndTime != nil && !p.EndTime.After(p.StartTime) {
		return p, nil, invalid("The trigger's end_time %s must be after its start_time %s.", Timestamp(*p.EndTime), Timestamp(p.StartTime))
	}
	if v, ok := raw["window"]; ok {
		if isJSONNull(v) {
			p.Window = MinWindow
		} else if p.Window, err = parseWindow(v); err != nil {
			return p, nil, err
		}
	}
	if err := schedule.Validate(pattern, p.StartTime, p.EndTime, now, MinInterval); err != nil {
		return p, nil, invalid("%s", err.Error())
	}
	var next *time.Time
	if t, ok := pattern.Next(p.StartTime, now); ok && (p.EndTime == nil || !t.After(*p.EndTime)) {
		next = &t
	}
	return p, next, nil
}

// CreateTrigger checks in and writes a new trigger: name, type,
// properties, in that order.
func (s *Service) CreateTrigger(ctx context.Context, projectID string, in TriggerInput) (*Trigger, error) {
	if err := CheckPlanName(in.Name); err != nil {
		return nil, err
	}
	if err := CheckTriggerType(in.Type); err != nil {
		return nil, err
	}
	now := s.now()
	props, next, err := MergeTriggerProperties(nil, in.Properties, now)
	if err != nil {
		return nil, err
	}
	t := &Trigger{
		ID: NewID(), ProjectID: projectID, Name: in.Name, Type: in.Type,
		Properties: props, CreatedAt: now.UTC().Truncate(time.Second), NextAt: next,
	}
	if err := s.Store.CreateTrigger(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Trigger reads one trigger of the project.
func (s *Service) Trigger(ctx context.Context, projectID, id string) (*Trigger, error) {
	t, err := s.Store.GetTrigger(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, triggerNotFound(id)
	}
	return t, err
}

// triggerUpdateTries bounds the read-merge-write rounds of an update that
// races the scheduler's advances.
const triggerUpdateTries = 5

// UpdateTrigger merges c into the trigger, validates the result as a
// create does, and writes it with its next occurrence after now,
// conditional on the version read (read again when the scheduler advanced
// it meanwhile).
func (s *Service) UpdateTrigger(ctx context.Context, projectID, id string, c TriggerChange) (*Trigger, error) {
	if c.Name == nil && len(c.Properties) == 0 {
		if c.Type != nil {
			if err := CheckTriggerType(*c.Type); err != nil {
				return nil, err
			}
		}
		return nil, invalid("Missing updated parameters in request body.")
	}
	if c.Name != nil {
		if err := CheckPlanName(*c.Name); err != nil {
			return nil, err
		}
	}
	if c.Type != nil {
		if err := CheckTriggerType(*c.Type); err != nil {
			return nil, err
		}
	}
	for range triggerUpdateTries {
		t, err := s.Trigger(ctx, projectID, id)
		if err != nil {
			return nil, err
		}
		if c.Name != nil {
			t.Name = *c.Name
		}
		if len(c.Properties) > 0 {
			now, due := s.now(), t.NextAt
			if t.Properties, t.NextAt, err = MergeTriggerProperties(&t.Properties, c.Properties, now); err != nil {
				return nil, err
			}
			if due != nil && !due.After(now) {
				// An occurrence due and not yet fired (the scheduler
				// ticks every minute) stays due: the update applies to
				// occurrences after it, and the scheduler fires or skips
				// this one by its rules.
				t.NextAt = due
			}
		}
		out, err := s.Store.UpdateTrigger(ctx, t)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, triggerNotFound(id)
		case errors.Is(err, ErrConflict):
			continue
		}
		return out, err
	}
	return nil, refuse(Conflict, "Trigger %s changed during the update; try again.", id)
}

// DeleteTrigger deletes a trigger no scheduled operation names.
func (s *Service) DeleteTrigger(ctx context.Context, projectID, id string) error {
	err := s.Store.DeleteTrigger(ctx, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return triggerNotFound(id)
	}
	if used := inUseRefusal("Trigger", id, err); used != nil {
		return used
	}
	return err
}

// inUseRefusal is the 409 of deleting a trigger or plan (what) that
// scheduled operations name, or nil when err is not an *InUseError.
func inUseRefusal(what, id string, err error) error {
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		return nil
	}
	return refuse(Conflict, "%s %s is used by scheduled operation(s) %s.", what, id, strings.Join(inUse.IDs, ", "))
}

// CheckRegexpFilter checks a listing's regular expression filter: RE2, at
// most MaxFilterLength characters.
func CheckRegexpFilter(name, pattern string) error {
	if len([]rune(pattern)) > MaxFilterLength {
		return invalid("Invalid %s filter: it is longer than %d characters.", name, MaxFilterLength)
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return invalid("Invalid %s filter %q: %s", name, Clip(pattern), Clip(err.Error()))
	}
	return nil
}

// ListTriggers returns one page of triggers.
func (s *Service) ListTriggers(ctx context.Context, q TriggerQuery) (*Page[*Trigger], error) {
	for _, f := range [][2]string{{"name", q.Name}, {"properties", q.Properties}} {
		if err := CheckRegexpFilter(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	page, err := s.Store.ListTriggers(ctx, q)
	if errors.Is(err, ErrBadMarker) {
		return nil, invalid("Invalid marker %s: it is not a trigger of this listing.", q.Marker)
	}
	return page, err
}

// sortedKeys is m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
