package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// Size limits. DynamoDB refuses an item over 400 KB (409,600 bytes:
// attribute names and values, as UTF-8). Plans and checkpoints are stored
// as JSON text attributes, so every byte is counted as stored: after JSON
// escaping (a control character takes 6 bytes, "<" takes 1: stored JSON is
// written without HTML escaping).
//
// A checkpoint item holds its plan's snapshot (resources and parameters),
// its extra_info and, once protection ends, the resource graph, which names
// every resource again (type, id, name) and adds at most MaxNodeInfoBytes
// per resource. With a plan of at most MaxPlanBytes and an extra_info of at
// most MaxExtraInfoBytes it stays under MaxItemBytes:
//
//	fixed attributes (ids, statuses, times)     ~     1,000
//	plan name (255 characters, escaped)         ≤     1,530
//	extra_info                                  ≤    32,768
//	resources + parameters                      ≤    65,536
//	graph: resources again (type, id, name)     ≤    65,536
//	graph: 200 nodes × (key, brackets + info)   ≤   232,800
//	total                                       ≤   399,170 < 409,600
const (
	MaxItemBytes = 400 * 1024
	// MaxPlanBytes bounds a plan's resources and parameters, as stored.
	MaxPlanBytes = 64 * 1024
	// MaxExtraInfoBytes bounds a checkpoint's extra_info, as stored.
	MaxExtraInfoBytes = 32 * 1024
	// MaxNodeInfoBytes bounds what the worker records per resource in the
	// graph (the node's fourth element), as stored.
	MaxNodeInfoBytes = 1152
	// MaxInfoText bounds each text the worker records in a node (an error,
	// an id), as stored, "..." included when it is cut.
	MaxInfoText = 512
	// MaxNesting bounds the JSON nesting of extra_info objects.
	MaxNesting = 10
)

// ErrTooLarge: DynamoDB refused an item, or the store would not send it,
// because it would exceed MaxItemBytes.
var ErrTooLarge = errors.New("the item exceeds DynamoDB's 400 KB item size")

// MarshalJSON is json.Marshal without HTML escaping ("<" stays "<", not
// "\u003c", which would take 6 bytes of an item): how stored JSON is
// written.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonRuneSize is the bytes one rune of a string takes in stored JSON;
// invalid is a byte that is not UTF-8 (written as \ufffd).
func jsonRuneSize(r rune, invalid bool) int {
	switch {
	case invalid:
		return 6
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t' || r == '\b' || r == '\f':
		return 2
	case r < 0x20 || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}

// ClipJSON returns s, or its longest prefix followed by "..." whose JSON
// text (quotes excluded) takes at most max bytes as stored.
func ClipJSON(s string, max int) string {
	size, cut := 0, -1
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		rs := jsonRuneSize(r, r == utf8.RuneError && n == 1)
		if cut < 0 && size+rs > max-3 {
			cut = i // "..." still fits after s[:i]
		}
		size += rs
		if size > max {
			return s[:cut] + "..."
		}
		i += n
	}
	return s
}

// checkNesting reports whether the JSON value raw nests objects and
// arrays at most max levels deep (the value itself is level 1).
func checkNesting(raw json.RawMessage, max int) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > max {
				return false
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
