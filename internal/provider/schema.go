package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// schema is the subset of JSON Schema that options schemas use: type,
// properties, additionalProperties (a boolean or a schema), required, enum,
// pattern, maxLength and maxProperties; title, description and default are
// annotations. A schema using any other keyword fails to compile, so nothing
// is silently left unchecked. Hand-written rather than a JSON Schema library:
// such a library compiles its meta-schemas at process start, which every
// Lambda function would pay on each cold start (about 4.5 ms measured),
// while only the plan routes validate anything.
type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Required             []string           `json:"required"`
	Enum                 []any              `json:"enum"`
	Pattern              string             `json:"pattern"`
	MaxLength            *int               `json:"maxLength"`
	MaxProperties        *int               `json:"maxProperties"`
	Title                string             `json:"title"`
	Description          string             `json:"description"`
	Default              any                `json:"default"`

	pattern      *regexp.Regexp
	additional   *schema // schema of properties not in Properties
	noAdditional bool    // additionalProperties: false
}

// compileSchema parses and checks a schema.
func compileSchema(raw json.RawMessage) (*schema, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s schema
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("unsupported schema: %w", err)
	}
	return &s, s.prepare()
}

func (s *schema) prepare() error {
	switch s.Type {
	case "", "object", "string", "integer", "number", "boolean":
	default:
		return fmt.Errorf("unsupported schema type %q", s.Type)
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return fmt.Errorf("pattern %q: %w", s.Pattern, err)
		}
		s.pattern = re
	}
	for name, p := range s.Properties {
		if p == nil {
			return fmt.Errorf("property %s: null schema", name)
		}
		if err := p.prepare(); err != nil {
			return fmt.Errorf("property %s: %w", name, err)
		}
	}
	switch a := bytes.TrimSpace(s.AdditionalProperties); {
	case len(a) == 0 || string(a) == "true":
	case string(a) == "false":
		s.noAdditional = true
	default:
		sub, err := compileSchema(a)
		if err != nil {
			return fmt.Errorf("additionalProperties: %w", err)
		}
		s.additional = sub
	}
	return nil
}

// validate checks a document decoded with UseNumber and returns one message
// per violation, each with the JSON pointer of the value.
func (s *schema) validate(v any, at string) []string {
	where := at
	if where == "" {
		where = "/"
	}
	fail := func(format string, args ...any) []string {
		return []string{fmt.Sprintf("at %s: ", where) + fmt.Sprintf(format, args...)}
	}
	if got := jsonType(v); s.Type != "" && got != s.Type && !(s.Type == "number" && got == "integer") {
		return fail("got %s, want %s", got, s.Type)
	}
	var errs []string
	if len(s.Enum) > 0 && !inEnum(v, s.Enum) {
		errs = append(errs, fail("value must be one of %s", enumText(s.Enum))...)
	}
	switch v := v.(type) {
	case string:
		if s.MaxLength != nil && utf8.RuneCountInString(v) > *s.MaxLength {
			errs = append(errs, fail("length must be <= %d", *s.MaxLength)...)
		}
		if s.pattern != nil && !s.pattern.MatchString(v) {
			errs = append(errs, fail("%q does not match pattern %q", v, s.Pattern)...)
		}
	case map[string]any:
		if s.MaxProperties != nil && len(v) > *s.MaxProperties {
			errs = append(errs, fail("at most %d properties", *s.MaxProperties)...)
		}
		for _, name := range s.Required {
			if _, ok := v[name]; !ok {
				errs = append(errs, fail("missing property '%s'", name)...)
			}
		}
		names := make([]string, 0, len(v))
		for name := range v {
			names = append(names, name)
		}
		sort.Strings(names)
		var extra []string
		for _, name := range names {
			sub, ok := s.Properties[name]
			switch {
			case ok:
			case s.additional != nil:
				sub = s.additional
			case s.noAdditional:
				extra = append(extra, "'"+name+"'")
				continue
			default:
				continue
			}
			errs = append(errs, sub.validate(v[name], at+"/"+name)...)
		}
		if len(extra) > 0 {
			errs = append(errs, fail("additional properties %s not allowed", strings.Join(extra, ", "))...)
		}
	}
	return errs
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func inEnum(v any, enum []any) bool {
	vb, _ := json.Marshal(v)
	for _, e := range enum {
		if eb, _ := json.Marshal(e); bytes.Equal(vb, eb) {
			return true
		}
	}
	return false
}

func enumText(enum []any) string {
	b, _ := json.Marshal(enum)
	return string(b)
}
