package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"karbor/internal/domain"
)

// MaxBodyBytes is the largest request body accepted (413 above).
const MaxBodyBytes = 64 << 10

// object is a decoded JSON object whose values are decoded on demand.
type object map[string]json.RawMessage

// readBody reads the request body as one JSON object. Content-Type is not
// required: the Karbor client and curl users send JSON with and without it.
func readBody(r *request) (object, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, badRequest("The request body could not be read.")
	}
	if len(data) > MaxBodyBytes {
		return nil, faultf(http.StatusRequestEntityTooLarge, "The request body is larger than %d bytes.", MaxBodyBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, badRequest("The request body is empty; a JSON object is required.")
	}
	// JSON is UTF-8; encoding/json would store each invalid byte as U+FFFD.
	if !utf8.Valid(data) {
		return nil, badRequest("Malformed request body: it is not valid UTF-8.")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, badRequest("Malformed request body: it is not valid JSON.")
	}
	return asObject(json.RawMessage(data), "request body")
}

// asObject decodes raw as a JSON object; name is used in the message.
func asObject(raw json.RawMessage, name string) (object, error) {
	var obj object
	if isNull(raw) || json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, badRequest("Invalid input for %s: it must be a JSON object.", name)
	}
	return obj, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// only rejects keys other than the allowed ones.
func (o object) only(where string, allowed ...string) error {
	var unknown []string
	for k := range o {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return badRequest("Unknown key(s) in %s: %s. Allowed: %s.", where, strings.Join(unknown, ", "), strings.Join(allowed, ", "))
}

// member returns the object under a required key.
func (o object) member(key string) (object, error) {
	raw, ok := o[key]
	if !ok {
		return nil, badRequest("'%s' is a required property.", key)
	}
	return asObject(raw, "'"+key+"'")
}

// str decodes an optional string; present reports whether the key was there.
// A null is treated as a wrong type.
func (o object) str(key string) (s string, present bool, err error) {
	raw, ok := o[key]
	if !ok {
		return "", false, nil
	}
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", true, badRequest("Invalid input for field '%s': it must be a string.", key)
	}
	return s, true, nil
}

// requiredUUID decodes a required UUID field.
func (o object) requiredUUID(key string) (string, error) {
	s, present, err := o.str(key)
	if err != nil {
		return "", err
	}
	if !present {
		return "", badRequest("'%s' is a required property.", key)
	}
	id, ok := domain.ParseUUID(s)
	if !ok {
		return "", badRequest("Invalid input for field '%s': %q is not a UUID.", key, domain.Clip(s))
	}
	return id, nil
}

// query parses the query string. Go's r.URL.Query() drops a pair it cannot
// decode, which would let "limit=%zz" pass unchecked: here it is a 400.
func query(r *request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("Malformed query string: %s", domain.Clip(err.Error()))
	}
	return q, nil
}

// pathUUID reads a UUID path parameter.
func pathUUID(r *request, name string) (string, error) {
	raw := r.PathValue(name)
	id, ok := domain.ParseUUID(raw)
	if !ok {
		return "", badRequest("Invalid %s provided: %q is not a UUID.", name, domain.Clip(raw))
	}
	return id, nil
}

const maxLimit = domain.MaxPageLimit

// parseLimit reads limit: a positive integer, capped at 1000.
func parseLimit(q map[string][]string) (int, error) {
	vals, ok := q["limit"]
	if !ok {
		return maxLimit, nil
	}
	s := strings.TrimSpace(vals[0])
	digits := strings.TrimPrefix(s, "+")
	if strings.HasPrefix(digits, "-") {
		if d := digits[1:]; d != "" && strings.Trim(d, "0123456789") == "" {
			return 0, badRequest("limit param must be positive")
		}
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, badRequest("limit param must be an integer")
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n > maxLimit {
		return maxLimit, nil // too large to parse is still a positive integer
	}
	if n <= 0 {
		return 0, badRequest("limit param must be positive")
	}
	return n, nil
}

// parseSort reads sort (created_at[:asc|:desc], optionally followed by id in
// the same direction, which is the tie-break anyway) or the older
// sort_key/sort_dir pair.
func parseSort(q map[string][]string) (ascending bool, err error) {
	_, hasSort := q["sort"]
	_, hasKey := q["sort_key"]
	_, hasDir := q["sort_dir"]
	if hasSort && (hasKey || hasDir) {
		return false, badRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
	}
	// hasDir tells a direction given empty ("created_at:", "sort_dir="),
	// which is invalid, from none given, which means desc.
	type term struct {
		key, dir string
		hasDir   bool
	}
	var terms []term
	if hasSort {
		for _, t := range strings.Split(q["sort"][0], ",") {
			k, d, found := strings.Cut(strings.TrimSpace(t), ":")
			terms = append(terms, term{strings.TrimSpace(k), strings.TrimSpace(d), found})
		}
	} else {
		t := term{key: "created_at"}
		if hasKey {
			t.key = strings.TrimSpace(q["sort_key"][0])
		}
		if hasDir {
			t.dir, t.hasDir = strings.TrimSpace(q["sort_dir"][0]), true
		}
		terms = append(terms, t)
	}
	dir := ""
	for i, t := range terms {
		if !t.hasDir {
			t.dir = "desc"
		}
		t.dir = strings.ToLower(t.dir)
		if t.dir != "asc" && t.dir != "desc" {
			return false, badRequest("Invalid sort direction %q: use asc or desc.", domain.Clip(t.dir))
		}
		switch {
		case i == 0 && t.key == "created_at":
			dir = t.dir
		case i == 1 && t.key == "id" && t.dir == dir:
		default:
			return false, badRequest("Invalid sort key %q: this listing sorts by created_at (then id), asc or desc.", domain.Clip(t.key))
		}
	}
	return dir == "asc", nil
}

// parseListing reads what every listing shares: limit, marker, sort, and
// the project(s) listed.
func parseListing(r *request, q map[string][]string) (domain.Listing, error) {
	var l domain.Listing
	var err error
	if l.Limit, err = parseLimit(q); err != nil {
		return l, err
	}
	if l.Marker, err = parseMarker(q); err != nil {
		return l, err
	}
	if l.Ascending, err = parseSort(q); err != nil {
		return l, err
	}
	if l.ProjectID, err = listedProject(r, q); err != nil {
		return l, err
	}
	return l, nil
}

// parseMarker reads marker: the UUID of the last item of the previous page.
func parseMarker(q map[string][]string) (string, error) {
	vals, ok := q["marker"]
	if !ok {
		return "", nil
	}
	id, ok := domain.ParseUUID(vals[0])
	if !ok {
		return "", badRequest("Invalid marker %q: it must be the UUID of the last item of the previous page.", domain.Clip(vals[0]))
	}
	return id, nil
}

// parseBool reads all_tenants-style booleans.
func parseBool(name, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, badRequest("Value %q for %s is not a boolean: use true, false, 1, 0, yes or no.", domain.Clip(s), name)
}

// listedProject returns the project a listing covers: the path's tenant, or
// for an admin with all_tenants every project ("") or the one named by
// project_id. Callers who are not admin have both parameters ignored.
func listedProject(r *request, q map[string][]string) (string, error) {
	if !r.caller.IsAdmin() {
		return r.tenant, nil
	}
	vals, ok := q["all_tenants"]
	if !ok {
		return r.tenant, nil
	}
	all, err := parseBool("all_tenants", vals[0])
	if err != nil || !all {
		return r.tenant, err
	}
	if p, ok := q["project_id"]; ok {
		if !domain.ValidProjectID(p[0]) {
			return "", badRequest("Invalid project_id %q.", domain.Clip(p[0]))
		}
		return p[0], nil
	}
	return "", nil
}

// parseDate reads a start_date/end_date: YYYY-MM-DD (the whole day) or
// RFC 3339. endOfDay selects the last second of a date-only day.
func parseDate(name, s string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Second)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		// An offset can move 9999-12-31 into year 10000, which no
		// four-digit timestamp reaches: clamp to the representable range.
		t = t.UTC()
		if last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC); t.After(last) {
			t = last
		}
		if first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(first) {
			t = first
		}
		return t, nil
	}
	return time.Time{}, badRequest("Invalid %s %q: use YYYY-MM-DD or an RFC 3339 timestamp.", name, domain.Clip(s))
}
