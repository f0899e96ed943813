package provider

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Every options schema of every provider compiles: it uses only the
// supported keywords.
func TestRegisteredSchemasCompile(t *testing.T) {
	for _, p := range registry {
		for typ, raw := range p.Schema.Options {
			if _, err := compileSchema(raw); err != nil {
				t.Errorf("%s: options schema of %s: %v", p.Name, typ, err)
			}
		}
	}
}

func TestSchemaRejectsUnsupportedKeywords(t *testing.T) {
	for _, s := range []string{
		`{"type": "object", "minProperties": 1}`,
		`{"type": "object", "properties": {"a": {"type": "string", "format": "email"}}}`,
		`{"type": "array"}`,
		`{"type": "object", "additionalProperties": {"oneOf": []}}`,
		`{"type": "string", "pattern": "("}`,
	} {
		if _, err := compileSchema(json.RawMessage(s)); err == nil {
			t.Errorf("%s compiled; an unsupported keyword must not be ignored", s)
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	sch, err := compileSchema(json.RawMessage(`{
		"type": "object", "required": ["mode"], "maxProperties": 3,
		"properties": {
			"mode": {"type": "string", "enum": ["full", "auto"]},
			"count": {"type": "integer"},
			"ratio": {"type": "number"},
			"name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
			"on": {"type": "boolean"}
		},
		"additionalProperties": false}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc  string
		want []string // substrings of the messages; none: valid
	}{
		{`{"mode": "full"}`, nil},
		{`{"mode": "auto", "count": 3, "ratio": 2}`, nil},
		{`{"mode": "auto", "ratio": 0.5, "on": true}`, nil},
		{`{"mode": "auto", "name": "äöü"}`, []string{`"äöü" does not match`}},
		{`{}`, []string{"missing property 'mode'"}},
		{`{"mode": "sometimes"}`, []string{"at /mode: value must be one of"}},
		{`{"mode": "full", "count": 1.5}`, []string{"at /count: got number, want integer"}},
		{`{"mode": "full", "name": "abcd"}`, []string{"at /name: length must be <= 3"}},
		{`{"mode": "full", "name": "AB"}`, []string{"does not match pattern"}},
		{`{"mode": "full", "x": 1, "y": 2}`, []string{"additional properties 'x', 'y' not allowed"}},
		{`{"mode": "full", "count": 1, "ratio": 1, "on": true}`, []string{"at most 3 properties"}},
		{`[]`, []string{"at /: got array, want object"}},
		{`{"mode": null}`, []string{"at /mode: got null, want string"}},
	} {
		errs := sch.validate(decode(t, tc.doc), "")
		if len(errs) != len(tc.want) {
			t.Errorf("%s: %q, want %d errors", tc.doc, errs, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(errs[i], w) {
				t.Errorf("%s: %q, want it to contain %q", tc.doc, errs[i], w)
			}
		}
	}
	tags, err := compileSchema(json.RawMessage(`{"type": "object", "additionalProperties": {"type": "string"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if errs := tags.validate(decode(t, `{"a": "x", "b": 2}`), ""); len(errs) != 1 || !strings.Contains(errs[0], "at /b: got integer, want string") {
		t.Errorf("additionalProperties schema: %q", errs)
	}
}
