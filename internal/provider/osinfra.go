package provider

import "encoding/json"

// OSInfraID is the id of Karbor's OS Infra Provider, which the api-ref
// samples and the contract's examples use.
const OSInfraID = "cf56bd3e-97a7-4078-b6d5-f36246333fd9"

// osTypes are the OpenStack resource types Karbor's OS Infra Provider knew.
var osTypes = []string{
	"OS::Keystone::Project", "OS::Nova::Server", "OS::Cinder::Volume", "OS::Glance::Image",
	"OS::Neutron::Network", "OS::Manila::Share", "OS::Trove::Instance", "OS::Kubernetes::Pod",
}

// osInfra keeps Karbor's OS Infra Provider id working for clients and
// samples written against it. No OpenStack cloud stands behind this service,
// so it has no plugins: a checkpoint records the plan's resources in its
// graph and backs nothing up, as its description says.
var osInfra = &Provider{
	ID:   OSInfraID,
	Name: "OS Infra Provider",
	Description: "Compatibility entry for Karbor's OS Infra Provider: plans and checkpoints written for it work, " +
		"but no OpenStack cloud stands behind this service, so its checkpoints record the resources and back nothing up.",
	Schema: func() Schema {
		s := Schema{Options: map[string]json.RawMessage{}, Restore: map[string]json.RawMessage{}, SavedInfo: map[string]json.RawMessage{}}
		for _, typ := range osTypes {
			s.Options[typ] = json.RawMessage(`{
				"title": "` + typ + ` Protection Options", "type": "object",
				"properties": {
					"backup_name": {"title": "Backup Name", "type": "string", "maxLength": 255},
					"backup_mode": {"title": "Backup Mode", "type": "string", "enum": ["full", "incremental", "auto"], "default": "auto"},
					"description": {"title": "Description", "type": "string", "maxLength": 255}
				},
				"additionalProperties": false}`)
			s.Restore[typ] = json.RawMessage(`{"title": "` + typ + ` Restore", "type": "object", "properties": {"restore_name": {"title": "Restore Name", "type": "string"}}}`)
			s.SavedInfo[typ] = json.RawMessage(`{"title": "` + typ + ` Saved Info", "type": "object", "properties": {}}`)
		}
		return s
	}(),
}
