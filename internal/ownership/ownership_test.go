package ownership

import "testing"

func TestOwns(t *testing.T) {
	tag := Config{Mode: ModeTag}
	acct := Config{Mode: ModeAccount}
	custom := Config{Mode: ModeTag, TagKey: "team"}
	cases := []struct {
		name string
		c    Config
		tags map[string]string
		want bool
	}{
		{"tagged for the project", tag, map[string]string{DefaultTagKey: "p1"}, true},
		{"tagged for another project", tag, map[string]string{DefaultTagKey: "p2"}, false},
		{"tag value differs in case", tag, map[string]string{DefaultTagKey: "P1"}, false},
		{"untagged", tag, nil, false},
		{"the service's own, tagged for the project", tag, map[string]string{DefaultTagKey: "p1", ServiceTag: "stack"}, false},
		{"account mode, untagged", acct, nil, true},
		{"account mode, another project's tag", acct, map[string]string{DefaultTagKey: "p2"}, true},
		{"account mode, the service's own", acct, map[string]string{ServiceTag: "stack"}, false},
		{"custom key", custom, map[string]string{"team": "p1"}, true},
		{"custom key: the default key does not count", custom, map[string]string{DefaultTagKey: "p1"}, false},
	}
	for _, tc := range cases {
		if got := tc.c.Owns("p1", tc.tags); got != tc.want {
			t.Errorf("%s: Owns = %v, want %v", tc.name, got, tc.want)
		}
	}
	if tag.Owns("", map[string]string{DefaultTagKey: ""}) {
		t.Error("an empty project owns a resource tagged with an empty value")
	}
}

func TestReservedTag(t *testing.T) {
	c := Config{TagKey: "team", ReservedPrefixes: []string{"corp:"}}
	for key, want := range map[string]bool{
		"aws:cloudformation:stack-name": true, "AWS:x": true, "karbor:project-id": true, "Karbor:Anything": true,
		"corp:cost-center": true, "CORP:x": true, "team": true, "TEAM": true,
		"Name": false, "backup": false, "corporate": false, "teams": false,
	} {
		if got := c.ReservedTag(key); got != want {
			t.Errorf("ReservedTag(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestServiceTable(t *testing.T) {
	c := Config{ServiceTables: []string{"stack-Plans-1", "stack-Checkpoints-2"}}
	for in, want := range map[string]bool{
		"stack-Plans-1": true, "arn:aws:dynamodb:eu-west-1:123456789012:table/stack-Checkpoints-2": true,
		"orders": false, "arn:aws:dynamodb:eu-west-1:123456789012:table/orders": false,
	} {
		if got := c.ServiceTable(in); got != want {
			t.Errorf("ServiceTable(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("OWNERSHIP_MODE", "")
	t.Setenv("OWNERSHIP_TAG_KEY", "")
	t.Setenv("PLANS_TABLE", "p")
	t.Setenv("CHECKPOINTS_TABLE", "c")
	t.Setenv("SERVICE_TABLES", " r , ,v")
	t.Setenv("RESERVED_TAG_PREFIXES", "corp:, ")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeTag || c.Key() != DefaultTagKey || len(c.ServiceTables) != 4 || len(c.ReservedPrefixes) != 1 {
		t.Fatalf("FromEnv = %+v", c)
	}
	t.Setenv("OWNERSHIP_MODE", "everyone")
	if _, err := FromEnv(); err == nil {
		t.Fatal("OWNERSHIP_MODE=everyone accepted")
	}
}
