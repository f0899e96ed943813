package provider

import "encoding/json"

// NoOpID is Karbor's No-Op Provider.
const NoOpID = "b766f37c-d011-4026-8228-28730d734a3f"

// noop protects every resource type at once and produces nothing.
var noop = &Provider{
	ID:          NoOpID,
	Name:        "No-Op Provider",
	Description: "This provider does nothing for each protect and restore operation. Used for testing",
	Schema: Schema{
		Options:   map[string]json.RawMessage{},
		Restore:   map[string]json.RawMessage{},
		SavedInfo: map[string]json.RawMessage{},
	},
	AcceptsAnyType: true,
}
