package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"karbor/internal/domain"
)

// TestMarshalJSONStoresWithoutHTMLEscaping: "<", ">" and "&" take one
// byte of an item, not six.
func TestMarshalJSONStoresWithoutHTMLEscaping(t *testing.T) {
	b, err := domain.MarshalJSON(map[string]string{"a": "<&>"})
	if err != nil || string(b) != `{"a":"<&>"}` {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
}

// TestClipJSON: a clipped text takes at most max bytes as stored, whatever
// its characters (6-byte escapes, 4-byte UTF-8, invalid bytes), is cut on
// a character boundary, and is kept whole when it fits.
func TestClipJSON(t *testing.T) {
	for _, unit := range []string{"a", "\x01", "\u2028", "😀", "\"", "<", "é", "\xff", "a\x01😀\u2029\\"} {
		for _, n := range []int{0, 1, 100, 170, 171, 600} {
			s := strings.Repeat(unit, n)
			got := domain.ClipJSON(s, 512)
			enc, _ := domain.MarshalJSON(got)
			full, _ := domain.MarshalJSON(s)
			if len(enc)-2 > 512 {
				t.Errorf("ClipJSON(%d × %q) takes %d bytes as stored, over 512", n, unit, len(enc)-2)
			}
			if len(full)-2 <= 512 && got != s {
				t.Errorf("ClipJSON(%d × %q) cut a text that fits", n, unit)
			}
			if got != s && (!strings.HasSuffix(got, "...") || len(enc)-2 < 512-6-3 || !strings.HasPrefix(s, strings.TrimSuffix(got, "..."))) {
				t.Errorf("ClipJSON(%d × %q) = %q (%d bytes): not the longest prefix with \"...\"", n, unit, got, len(enc)-2)
			}
			if utf8.ValidString(s) && !utf8.ValidString(got) {
				t.Errorf("ClipJSON(%d × %q) cut inside a character", n, unit)
			}
		}
	}
}

// TestExtraInfoLimits: extra_info is stored without HTML escaping and at
// most MaxExtraInfoBytes as stored; nested values are refused.
func TestExtraInfoLimits(t *testing.T) {
	// A value of control characters: 6 bytes each as stored.
	fits := strings.Repeat("\x01", (domain.MaxExtraInfoBytes-len(`{"k":""}`))/6)
	for value, ok := range map[string]bool{fits: true, fits + "\x01": false, strings.Repeat("<", domain.MaxExtraInfoBytes-len(`{"k":""}`)): true} {
		raw, _ := json.Marshal(map[string]string{"k": value})
		out, err := domain.ExtraInfo(raw)
		if (err == nil) != ok {
			t.Errorf("extra_info of %d bytes as stored: %v, want accepted %v", len(out), err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "32768 bytes") {
			t.Errorf("refusal %q does not name the limit", err)
		}
		if ok && len(out) > domain.MaxExtraInfoBytes {
			t.Errorf("accepted extra_info takes %d bytes", len(out))
		}
	}
	if _, err := domain.ExtraInfo(json.RawMessage(`{"k":{"a":1}}`)); err == nil {
		t.Error("a nested extra_info value was accepted")
	}
}
