package provider_test

import (
	"encoding/json"
	"strings"
	"testing"

	"karbor/internal/domain"
	"karbor/internal/provider"
)

func TestRegistry(t *testing.T) {
	all := provider.All()
	ids := map[string]bool{}
	for i, p := range all {
		if id, ok := domain.ParseUUID(p.ID); !ok || id != p.ID {
			t.Errorf("provider %q: id is not a lower-case dashed UUID", p.Name)
		}
		if ids[p.ID] {
			t.Errorf("provider %s listed twice", p.ID)
		}
		ids[p.ID] = true
		if i > 0 && all[i-1].ID >= p.ID {
			t.Errorf("All() is not ordered by id at %d", i)
		}
		if got, ok := provider.Get(p.ID); !ok || got != p {
			t.Errorf("Get(%s) does not return the listed provider", p.ID)
		}
		// Every schema is valid JSON, for the providers view.
		for kind, m := range map[string]map[string]json.RawMessage{"options": p.Schema.Options, "restore": p.Schema.Restore, "saved_info": p.Schema.SavedInfo} {
			for typ, raw := range m {
				if !json.Valid(raw) {
					t.Errorf("provider %s: %s schema of %s is not JSON", p.Name, kind, typ)
				}
			}
		}
	}
	for _, id := range []string{provider.NoOpID, provider.AWSID, provider.OSInfraID} {
		if !ids[id] {
			t.Errorf("provider %s is not registered", id)
		}
	}
	if p, _ := provider.Get(provider.NoOpID); p.Name != "No-Op Provider" {
		t.Errorf("No-Op Provider is named %q", p.Name)
	}
	if _, ok := provider.Get("00000000-0000-4000-8000-000000000000"); ok {
		t.Error("Get found an unregistered id")
	}
}

func TestCheckParameters(t *testing.T) {
	for _, tc := range []struct {
		provider, typ, params string
		wantErr               string // empty: valid
	}{
		{provider.NoOpID, "Anything::At::All", `{"whatever": [1, 2]}`, ""},
		{provider.AWSID, provider.TypeDynamoDBTable, `{}`, ""},
		{provider.AWSID, provider.TypeDynamoDBTable, `{"backup_name_prefix": "nightly"}`, ""},
		{provider.AWSID, provider.TypeDynamoDBTable, `{"backup_name_prefix": "no spaces"}`, "backup_name_prefix"},
		{provider.AWSID, provider.TypeDynamoDBTable, `{"bogus": 1}`, "bogus"},
		{provider.AWSID, provider.TypeEC2Volume, `{"description": "d", "tags": {"team": "data"}}`, ""},
		{provider.AWSID, provider.TypeEC2Volume, `{"description": 5}`, "/description"},
		{provider.AWSID, provider.TypeEC2Volume, `{"tags": {"team": 1}}`, "/tags/team"},
		{provider.AWSID, "OS::Nova::Server", `{}`, "not supported"},
		{provider.OSInfraID, "OS::Nova::Server", `{"backup_name": "os"}`, ""},
		{provider.OSInfraID, "OS::Cinder::Volume", `{"backup_mode": "sometimes"}`, "backup_mode"},
		{provider.OSInfraID, "AWS::EC2::Volume", `{}`, "not supported"},
	} {
		p, _ := provider.Get(tc.provider)
		err := p.CheckParameters(tc.typ, json.RawMessage(tc.params))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %s %s: %v, want valid", p.Name, tc.typ, tc.params, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %s %s: %v, want an error naming %q", p.Name, tc.typ, tc.params, err, tc.wantErr)
		}
	}
}

func TestAccepts(t *testing.T) {
	noop, _ := provider.Get(provider.NoOpID)
	aws, _ := provider.Get(provider.AWSID)
	if !noop.Accepts("OS::Nova::Server") || !noop.Accepts("AWS::EC2::Volume") {
		t.Error("the No-Op Provider must accept every resource type")
	}
	if !aws.Accepts(provider.TypeDynamoDBTable) || !aws.Accepts(provider.TypeEC2Volume) || aws.Accepts("OS::Nova::Server") {
		t.Error("the AWS Provider accepts exactly its two types")
	}
}
