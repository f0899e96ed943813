// Package karbor holds what belongs to the repository as a whole.
package karbor

import _ "embed"

// TemplateYAML is template.yaml, the SAM template of the service. It is the
// single source of the table definitions: the local server and the tests
// create their DynamoDB tables from it (see internal/local/tables), so they cannot
// drift from what is deployed.
//
//go:embed template.yaml
var TemplateYAML []byte
