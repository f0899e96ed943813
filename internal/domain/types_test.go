package domain_test

import (
	"testing"

	"karbor/internal/domain"
)

func TestParseUUID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"dcb20606-ad71-40a3-80e4-ef0fafdad0c3", "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", true},
		{"DCB20606-AD71-40A3-80E4-EF0FAFDAD0C3", "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", true},
		{"dcb20606ad7140a380e4ef0fafdad0c3", "dcb20606-ad71-40a3-80e4-ef0fafdad0c3", true},
		{"{dcb20606-ad71-40a3-80e4-ef0fafdad0c3}", "", false},
		{"urn:uuid:dcb20606-ad71-40a3-80e4-ef0fafdad0c3", "", false},
		{"dcb20606-ad71-40a3-80e4-ef0fafdad0c", "", false},
		{"zcb20606-ad71-40a3-80e4-ef0fafdad0c3", "", false},
		{"", "", false},
	} {
		got, ok := domain.ParseUUID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseUUID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if id := domain.NewID(); !func() bool { got, ok := domain.ParseUUID(id); return ok && got == id && id[14] == '4' }() {
		t.Errorf("NewID() = %q, want a lower-case dashed v4 UUID", id)
	}
}

func TestValidProjectID(t *testing.T) {
	long := ""
	for range 65 {
		long += "a"
	}
	for in, want := range map[string]bool{
		"e486a2f49695423ca9c47e589b948108": true, "my_project-1": true, long[:64]: true,
		"": false, long: false, "a b": false, "a:b": false, "a/b": false, "é": false,
	} {
		if got := domain.ValidProjectID(in); got != want {
			t.Errorf("ValidProjectID(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestStatusesAndAdmin(t *testing.T) {
	for _, s := range domain.Statuses {
		if got, ok := domain.ParseStatus(string(s)); !ok || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, ok)
		}
	}
	if _, ok := domain.ParseStatus("Available"); ok {
		t.Error("statuses are case-sensitive")
	}
	if !domain.HasRole([]string{"member", "Admin"}, "admin") || domain.HasRole([]string{"member", "org admin"}, "admin") {
		t.Error("HasRole compares whole names in any case")
	}
	if !(domain.Caller{Admin: true}).IsAdmin() || (domain.Caller{Roles: []string{"admin"}}).IsAdmin() {
		t.Error("IsAdmin is Admin, set where the caller is authenticated")
	}
}
