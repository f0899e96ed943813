// Package ownership says which AWS resources belong to which project: the
// rule the API (plans, protectables) and the worker (right before it backs
// up or snapshots) both apply. It holds the rule and its configuration
// only; the lookups that read a resource's tags and state are in package
// inventory.
package ownership

import (
	"fmt"
	"os"
	"strings"
)

// Mode is how resources are owned.
type Mode string

const (
	// ModeTag: a resource belongs to project P when it carries the tag
	// TagKey = P exactly. The default, and the only mode safe for more
	// than one tenant.
	ModeTag Mode = "tag"
	// ModeAccount: every resource of the account belongs to every project.
	// For single-team deployments only.
	ModeAccount Mode = "account"
)

// Tags the service reads or writes on AWS resources.
const (
	// DefaultTagKey is the ownership tag's key unless configured.
	DefaultTagKey = "karbor:project-id"
	// ServiceTag marks the service's own resources (its tables, queues,
	// functions, scratch tables): whatever carries it is never
	// protectable, in either mode. The template sets it to the stack's
	// name.
	ServiceTag = "karbor:service"
)

// alwaysReserved are tag key prefixes no plan parameter may set: AWS's own
// and the service's.
var alwaysReserved = []string{"aws:", "karbor:"}

// Config is the deployment's ownership configuration.
type Config struct {
	Mode   Mode
	TagKey string
	// ServiceTables are the service's own tables by name: never
	// protectable, even before their ServiceTag is seen.
	ServiceTables []string
	// ReservedPrefixes are tag key prefixes, besides aws: and karbor:, that
	// plan parameters may not set (case-insensitive).
	ReservedPrefixes []string
}

// FromEnv reads the configuration: OWNERSHIP_MODE (tag|account, default
// tag), OWNERSHIP_TAG_KEY (default karbor:project-id),
// RESERVED_TAG_PREFIXES (comma-separated) and the service's tables
// (PLANS_TABLE, CHECKPOINTS_TABLE, IDEMPOTENCY_TABLE, OPERATION_LOGS_TABLE, SCHEDULES_TABLE, QUOTAS_TABLE and the
// comma-separated SERVICE_TABLES).
func FromEnv() (Config, error) {
	c := Config{Mode: Mode(os.Getenv("OWNERSHIP_MODE")), TagKey: os.Getenv("OWNERSHIP_TAG_KEY")}
	if c.Mode == "" {
		c.Mode = ModeTag
	}
	if c.Mode != ModeTag && c.Mode != ModeAccount {
		return Config{}, fmt.Errorf("OWNERSHIP_MODE is %q: use tag or account", c.Mode)
	}
	if c.TagKey == "" {
		c.TagKey = DefaultTagKey
	}
	if len(c.TagKey) > 128 {
		return Config{}, fmt.Errorf("OWNERSHIP_TAG_KEY is longer than AWS's 128 characters")
	}
	for _, name := range []string{os.Getenv("PLANS_TABLE"), os.Getenv("CHECKPOINTS_TABLE"), os.Getenv("IDEMPOTENCY_TABLE"), os.Getenv("TASKS_TABLE"), os.Getenv("OPERATION_LOGS_TABLE"), os.Getenv("SCHEDULES_TABLE"), os.Getenv("QUOTAS_TABLE")} {
		if name != "" {
			c.ServiceTables = append(c.ServiceTables, name)
		}
	}
	c.ServiceTables = append(c.ServiceTables, split(os.Getenv("SERVICE_TABLES"))...)
	c.ReservedPrefixes = split(os.Getenv("RESERVED_TAG_PREFIXES"))
	return c, nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Owns reports whether a resource with these tags belongs to the project.
// The service's own resources (ServiceTag) belong to no project, in
// either mode.
func (c Config) Owns(projectID string, tags map[string]string) bool {
	if _, own := tags[ServiceTag]; own {
		return false
	}
	if c.Mode == ModeAccount {
		return true
	}
	return projectID != "" && tags[c.key()] == projectID
}

func (c Config) key() string {
	if c.TagKey == "" {
		return DefaultTagKey
	}
	return c.TagKey
}

// Key is the ownership tag's key.
func (c Config) Key() string { return c.key() }

// ServiceTable reports whether a table (by name or ARN) is one of the
// service's own.
func (c Config) ServiceTable(nameOrARN string) bool {
	name := nameOrARN
	if i := strings.LastIndex(nameOrARN, ":table/"); i >= 0 {
		name = nameOrARN[i+len(":table/"):]
	}
	for _, t := range c.ServiceTables {
		if t == name {
			return true
		}
	}
	return false
}

// ReservedTag reports whether a tag key is one a tenant may not set:
// beginning with aws:, karbor:, or a configured prefix (case-insensitive,
// as AWS compares its own aws: prefix), or the ownership tag's key itself.
func (c Config) ReservedTag(key string) bool {
	k := strings.ToLower(key)
	if k == strings.ToLower(c.key()) {
		return true
	}
	for _, p := range append(append([]string(nil), alwaysReserved...), c.ReservedPrefixes...) {
		if strings.HasPrefix(k, strings.ToLower(p)) {
			return true
		}
	}
	return false
}
