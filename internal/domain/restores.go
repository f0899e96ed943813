package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// TaskInput is a restore or verification to create, as the API decoded its
// body (restore_auth never gets here: the API refuses any but null).
type TaskInput struct {
	ProviderID   string // lower-case dashed
	CheckpointID string // lower-case dashed
	// Parameters as sent; nil is {}.
	Parameters map[string]json.RawMessage
	// RestoreTarget as sent (restores only); nil is null.
	RestoreTarget *string
}

// AWSProvider is implemented by a provider whose resources are AWS's: its
// restores take the AWS types' properties and its verifications a restore
// test (internal/provider's AWS provider).
type AWSProvider interface {
	AWSResources() bool
}

// NetworkInventory is implemented by an Inventory that can tell whether a
// project may use a subnet and security groups for a restored instance.
type NetworkInventory interface {
	// CheckNetwork returns the first of the ids (subnet first) that does
	// not exist or, in tag mode, does not carry the project's tag, "" when
	// all may be used; an error wrapping ErrUnavailable when AWS failed.
	CheckNetwork(ctx context.Context, projectID, subnetID string, securityGroupIDs []string) (string, error)
}

// RegionOf is implemented by an Inventory that knows its region.
type RegionOf interface {
	ServiceRegion() string
}

// region is the service's region: Service.Region, else the inventory's,
// else AWS_REGION.
func (s *Service) region() string {
	if s.Region != "" {
		return s.Region
	}
	if r, ok := s.Inventory.(RegionOf); ok && r.ServiceRegion() != "" {
		return r.ServiceRegion()
	}
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return os.Getenv("AWS_DEFAULT_REGION")
}

func restoreNotFound(id string) *Error {
	return refuse(NotFound, "Restore %s could not be found.", id)
}

func verificationNotFound(id string) *Error {
	return refuse(NotFound, "Verification %s could not be found.", id)
}

// TaskNotFound is the 404 of a task of this kind.
func TaskNotFound(kind TaskKind, id string) *Error {
	if kind == KindVerification {
		return verificationNotFound(id)
	}
	return restoreNotFound(id)
}

// CreateRestore checks a restore against its provider and checkpoint and
// writes it in_progress, with the mark on its checkpoint.
func (s *Service) CreateRestore(ctx context.Context, projectID string, in TaskInput) (*Task, error) {
	if in.RestoreTarget != nil && *in.RestoreTarget != s.region() {
		return nil, invalid("restore_target must be null or %s: restores are made in this region.", s.region())
	}
	return s.createTask(ctx, KindRestore, projectID, in)
}

// CreateVerification checks a verification against its provider and
// checkpoint and writes it in_progress, with the mark on its checkpoint.
func (s *Service) CreateVerification(ctx context.Context, projectID string, in TaskInput) (*Task, error) {
	in.RestoreTarget = nil
	return s.createTask(ctx, KindVerification, projectID, in)
}

// createTask applies the checks in the contract's order: provider (404),
// checkpoint of the project (404), of the provider (400), parameters (400),
// available (409); then the conditional create (409 if it lost a race).
func (s *Service) createTask(ctx context.Context, kind TaskKind, projectID string, in TaskInput) (*Task, error) {
	prov, ok := s.Providers(in.ProviderID)
	if !ok {
		return nil, refuse(NotFound, "Provider %s could not be found.", in.ProviderID)
	}
	c, err := s.Store.GetCheckpoint(ctx, projectID, in.CheckpointID)
	if errors.Is(err, ErrNotFound) || (err == nil && s.expired(c)) {
		return nil, checkpointNotFound(in.CheckpointID)
	}
	if err != nil {
		return nil, err
	}
	if c.ProviderID != in.ProviderID {
		return nil, invalid("Checkpoint %s belongs to provider %s.", c.ID, c.ProviderID)
	}
	var params map[string]json.RawMessage
	if kind == KindRestore {
		params, err = s.checkRestoreParameters(ctx, projectID, prov, c, in.Parameters)
	} else {
		params, err = checkVerificationParameters(prov, c, in.Parameters)
	}
	if err != nil {
		return nil, err
	}
	verb := map[TaskKind]string{KindRestore: "restored", KindVerification: "verified"}[kind]
	notAvailable := func(c *Checkpoint) *Error {
		return refuse(Conflict, "Checkpoint %s is %s: only an available checkpoint can be %s.", c.ID, c.Status, verb)
	}
	if c.Status != StatusAvailable {
		return nil, notAvailable(c)
	}
	now := s.now().UTC().Truncate(time.Second)
	t := &Task{
		Kind: kind, ID: NewID(), ProjectID: projectID, ProviderID: in.ProviderID,
		CheckpointID: c.ID, PlanID: c.Plan.ID,
		Parameters: params, RestoreTarget: in.RestoreTarget,
		Status:          TaskInProgress,
		ResourcesStatus: map[string]string{}, ResourcesReason: map[string]string{},
		RestoredResources: map[string]Restored{}, Work: map[string]json.RawMessage{},
		// The stream's record has the runner step it at once; the tick
		// steps it a minute later if that record were lost.
		CreatedAt: now, UpdatedAt: now, DueAt: now.Add(FirstStepGrace),
	}
	if kind == KindVerification {
		t.RestoredResources = nil
	}
	cur, err := s.Store.CreateTask(ctx, t)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, checkpointNotFound(in.CheckpointID)
	case errors.Is(err, ErrConflict) && cur != nil && cur.Status != StatusAvailable:
		return nil, notAvailable(cur)
	case errors.Is(err, ErrConflict):
		return nil, refuse(Conflict, "Checkpoint %s changed while the %s was created; retry.", c.ID, kind)
	case errors.Is(err, ErrTooLarge):
		return nil, invalid("Invalid input for parameters: they make the %s larger than DynamoDB's 400 KB item size.", kind)
	case err != nil:
		return nil, err
	}
	return t, nil
}

// GetTask returns a restore or verification of the project (404 with the
// kind's message).
func (s *Service) GetTask(ctx context.Context, kind TaskKind, projectID, id string) (*Task, error) {
	t, err := s.Store.GetTask(ctx, kind, projectID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, TaskNotFound(kind, id)
	}
	return t, err
}

// ListTasks returns one page of restores or verifications.
func (s *Service) ListTasks(ctx context.Context, q TaskQuery) (*Page[*Task], error) {
	if q.Status != "" && !slices.Contains(TaskStatuses, q.Status) {
		return nil, invalid("Invalid status %s: it is one of in_progress, success or fail.", Clip(string(q.Status)))
	}
	page, err := s.Store.ListTasks(ctx, q)
	if errors.Is(err, ErrBadMarker) {
		return nil, invalid("Invalid marker %s: it is not a %s of this listing.", q.Marker, q.Kind)
	}
	return page, err
}

// DefaultTargetTableName is the table a restore makes of a table when its
// parameters name none: the source's name cut to 246 characters, a dash
// and the first 8 hex digits of the restore id (at most 255 characters,
// DynamoDB's limit).
func DefaultTargetTableName(source, restoreID string) string {
	if len(source) > 246 {
		source = source[:246]
	}
	hex := strings.ReplaceAll(restoreID, "-", "")
	if len(hex) > 8 {
		hex = hex[:8]
	}
	return source + "-" + hex
}

// MergedParameters are a resource's parameters, of a plan (what the worker
// protects with) or of a restore or verification: its type's object
// overlaid key by key by its own "<type>#<id>" object; {} when neither
// exists.
func MergedParameters(params map[string]json.RawMessage, r Resource) json.RawMessage {
	merged := map[string]json.RawMessage{}
	for _, k := range []string{r.Type, r.Type + "#" + r.ID} {
		var m map[string]json.RawMessage
		if raw, ok := params[k]; ok && json.Unmarshal(raw, &m) == nil {
			for p, v := range m {
				merged[p] = v
			}
		}
	}
	out, err := MarshalJSON(merged)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return out
}

// CheckpointResources are the resources of a checkpoint: its plan's and
// every node of its resource graph (an instance's volumes included), each
// once.
func CheckpointResources(c *Checkpoint) []Resource {
	out := slices.Clone(c.Plan.Resources)
	seen := map[string]bool{}
	for _, r := range out {
		seen[r.Type+"#"+r.ID] = true
	}
	if c.ResourceGraph == nil {
		return out
	}
	var raw []json.RawMessage
	if json.Unmarshal([]byte(*c.ResourceGraph), &raw) != nil || len(raw) == 0 {
		return out
	}
	var nodes map[string][]json.RawMessage
	if json.Unmarshal(raw[0], &nodes) != nil {
		return out
	}
	keys := make([]string, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := nodes[k]
		if len(n) < 3 {
			continue
		}
		var r Resource
		if json.Unmarshal(n[0], &r.Type) != nil || json.Unmarshal(n[1], &r.ID) != nil {
			continue
		}
		_ = json.Unmarshal(n[2], &r.Name)
		if !seen[r.Type+"#"+r.ID] {
			seen[r.Type+"#"+r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// Patterns of restore properties, compiled on first use: every route
// function links this package, and compiling them at init made its init
// take 4-6 ms of each cold start (GODEBUG=inittrace; `{3,255}` alone
// unrolls into hundreds of states).
var (
	tableNamePattern = &lazyPattern{expr: `^[a-zA-Z0-9_.-]{3,255}$`}
	subnetPattern    = &lazyPattern{expr: `^subnet-[0-9a-f]{8,17}$`}
	groupPattern     = &lazyPattern{expr: `^sg-[0-9a-f]{8,17}$`}
	instanceType     = &lazyPattern{expr: `^[a-z0-9][a-z0-9-]*\.[a-z0-9]+$`}
	volumeTypes      = []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}
)

// lazyPattern is a regexp compiled the first time it matches.
type lazyPattern struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// MatchString reports whether s matches the pattern.
func (p *lazyPattern) MatchString(s string) bool {
	p.once.Do(func() { p.re = regexp.MustCompile(p.expr) })
	return p.re.MatchString(s)
}

// Restore property types.
const (
	propString = iota
	propInt
	propBool
	propGroups
)

// restoreProperties are the properties of a type's restore parameters:
// the AWS provider's for its types, restore_name for OS:: types, none
// otherwise.
func restoreProperties(prov Provider, typ string) map[string]int {
	aws, _ := prov.(AWSProvider)
	switch {
	case aws != nil && aws.AWSResources() && typ == "AWS::DynamoDB::Table":
		return map[string]int{"target_table_name": propString}
	case aws != nil && aws.AWSResources() && typ == "AWS::EC2::Volume":
		return map[string]int{"availability_zone": propString, "volume_type": propString, "iops": propInt, "throughput": propInt}
	case aws != nil && aws.AWSResources() && typ == "AWS::EC2::Instance":
		return map[string]int{"subnet_id": propString, "instance_type": propString, "security_group_ids": propGroups, "key_name": propString}
	case strings.HasPrefix(typ, "OS::"):
		return map[string]int{"restore_name": propString}
	}
	return map[string]int{}
}

// paramKeys are the keys of a task's parameters, sorted (so that the first
// fault found is always the same).
func paramKeys(params map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// splitParamKey checks a parameters key: "<type>" the provider takes, or
// "<type>#<id>" of a resource of the checkpoint.
func splitParamKey(prov Provider, resources []Resource, k string) (typ string, err error) {
	typ, id, hasID := strings.Cut(k, "#")
	if !prov.Accepts(typ) {
		return "", invalid("Invalid parameters key %s: provider %s does not take resources of type %s.", Clip(k), prov, Clip(typ))
	}
	if hasID && !slices.ContainsFunc(resources, func(r Resource) bool { return r.Type == typ && r.ID == id }) {
		return "", invalid("Invalid parameters key %s: the checkpoint has no %s %s.", Clip(k), typ, Clip(id))
	}
	return typ, nil
}

// decodeObject reads a parameters value: a JSON object.
func decodeObject(k string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, invalid("Invalid parameters for %s: it must be a JSON object.", Clip(k))
	}
	return m, nil
}

// checkRestoreParameters checks a restore's parameters against its
// provider and checkpoint, and returns them normalized (integers as
// numbers, one security group as a list).
func (s *Service) checkRestoreParameters(ctx context.Context, projectID string, prov Provider, c *Checkpoint, params map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	resources := CheckpointResources(c)
	out := map[string]json.RawMessage{}
	type network struct {
		key    string
		subnet string
		groups []string
	}
	var networks []network
	for _, k := range paramKeys(params) {
		typ, err := splitParamKey(prov, resources, k)
		if err != nil {
			return nil, err
		}
		obj, err := decodeObject(k, params[k])
		if err != nil {
			return nil, err
		}
		props := restoreProperties(prov, typ)
		norm := map[string]any{}
		for _, p := range paramKeys(obj) {
			kind, ok := props[p]
			if !ok {
				if len(props) == 0 {
					return nil, invalid("Invalid parameters for %s: resources of type %s take no restore parameters, not %s.", Clip(k), Clip(typ), Clip(p))
				}
				return nil, invalid("Invalid parameters for %s: unknown property %s.", Clip(k), Clip(p))
			}
			v, err := restoreValue(s.region(), k, p, kind, obj[p])
			if err != nil {
				return nil, err
			}
			norm[p] = v
		}
		if typ == "AWS::EC2::Instance" && (norm["subnet_id"] != nil || norm["security_group_ids"] != nil) {
			n := network{key: k}
			if sn, ok := norm["subnet_id"].(string); ok {
				n.subnet = sn
			}
			if gs, ok := norm["security_group_ids"].([]string); ok {
				n.groups = gs
			}
			networks = append(networks, n)
		}
		b, err := MarshalJSON(norm)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	if err := checkTargets(out, resources); err != nil {
		return nil, err
	}
	if err := checkVolumeSettings(out, resources); err != nil {
		return nil, err
	}
	if len(networks) > 0 {
		nets, ok := s.Inventory.(NetworkInventory)
		if !ok {
			// Fail closed: a subnet or group nobody checked is never used.
			return nil, errors.New("restore: the inventory cannot check subnets and security groups")
		}
		for _, n := range networks {
			bad, err := nets.CheckNetwork(ctx, projectID, n.subnet, n.groups)
			if err != nil {
				return nil, inventoryError(err)
			}
			if bad != "" {
				return nil, invalid("Invalid parameters for %s: %s could not be found among the project's subnets and security groups.", Clip(n.key), bad)
			}
		}
	}
	return out, nil
}

// checkTargets refuses two tables of one restore restored into one target
// table.
func checkTargets(params map[string]json.RawMessage, resources []Resource) error {
	byTarget := map[string]string{}
	for _, r := range resources {
		if r.Type != "AWS::DynamoDB::Table" {
			continue
		}
		var p struct {
			Target string `json:"target_table_name"`
		}
		if json.Unmarshal(MergedParameters(params, r), &p) != nil || p.Target == "" {
			continue
		}
		if other, ok := byTarget[p.Target]; ok {
			return invalid("Invalid parameters: tables %s and %s would both be restored into %s; give each its own target_table_name.", other, r.ID, p.Target)
		}
		byTarget[p.Target] = r.ID
	}
	return nil
}

// checkVolumeSettings refuses settings a volume's type does not take, when
// the parameters name the type (EC2 would refuse the restore after the
// 200): iops only on io1, io2 and gp3 volumes, throughput only on gp3.
func checkVolumeSettings(params map[string]json.RawMessage, resources []Resource) error {
	for _, r := range resources {
		if r.Type != "AWS::EC2::Volume" {
			continue
		}
		var p struct {
			Type       string `json:"volume_type"`
			IOPS       int64  `json:"iops"`
			Throughput int64  `json:"throughput"`
		}
		if json.Unmarshal(MergedParameters(params, r), &p) != nil || p.Type == "" {
			continue
		}
		if p.IOPS > 0 && !slices.Contains([]string{"io1", "io2", "gp3"}, p.Type) {
			return invalid("Invalid parameters for AWS::EC2::Volume#%s: iops applies to io1, io2 and gp3 volumes, not %s.", Clip(r.ID), p.Type)
		}
		if p.Throughput > 0 && p.Type != "gp3" {
			return invalid("Invalid parameters for AWS::EC2::Volume#%s: throughput applies to gp3 volumes, not %s.", Clip(r.ID), p.Type)
		}
	}
	return nil
}

// restoreValue checks one restore property and returns it normalized.
func restoreValue(region, k, p string, kind int, raw json.RawMessage) (any, error) {
	bad := func(what string) error { return invalid("Invalid parameters for %s: %s must be %s.", Clip(k), p, what) }
	switch kind {
	case propInt:
		n, ok := parseInt(raw)
		if !ok || n < 1 || n > math.MaxInt32 {
			return nil, bad("an integer from 1 to 2147483647")
		}
		return n, nil
	case propBool:
		b, ok := parseBool(raw)
		if !ok {
			return nil, bad("true or false")
		}
		return b, nil
	case propGroups:
		var one string
		var ids []string
		if json.Unmarshal(raw, &one) == nil && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			ids = []string{one}
		} else if json.Unmarshal(raw, &ids) != nil || ids == nil {
			return nil, bad("a security group id or a list of 1 to 5 of them")
		}
		if len(ids) < 1 || len(ids) > 5 {
			return nil, bad("a list of 1 to 5 security group ids")
		}
		for _, id := range ids {
			if !groupPattern.MatchString(id) {
				return nil, bad(fmt.Sprintf("security group ids (sg-...), not %q", Clip(id)))
			}
		}
		return ids, nil
	}
	var v string
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &v) != nil {
		return nil, bad("a string")
	}
	switch p {
	case "target_table_name":
		if !tableNamePattern.MatchString(v) {
			return nil, bad("a table name of 3 to 255 characters a-z, A-Z, 0-9, _, - and .")
		}
	case "availability_zone":
		if len(v) != len(region)+1 || !strings.HasPrefix(v, region) || v[len(v)-1] < 'a' || v[len(v)-1] > 'z' {
			return nil, bad(fmt.Sprintf("an availability zone of %s (%sa, %sb, ...)", region, region, region))
		}
	case "volume_type":
		if !slices.Contains(volumeTypes, v) {
			return nil, bad("one of " + strings.Join(volumeTypes, ", "))
		}
	case "subnet_id":
		if !subnetPattern.MatchString(v) {
			return nil, bad("a subnet id (subnet-...)")
		}
	case "instance_type":
		if len(v) > 64 || !instanceType.MatchString(v) {
			return nil, bad("an instance type (such as t3.micro)")
		}
	case "key_name", "restore_name":
		if v == "" || utf8.RuneCountInString(v) > MaxNameLength {
			return nil, bad(fmt.Sprintf("1 to %d characters", MaxNameLength))
		}
	}
	return v, nil
}

// parseInt reads a JSON integer or a string of digits.
func parseInt(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&n) != nil {
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return i, err == nil
}

// parseBool reads a JSON boolean or "true"/"false" in any case.
func parseBool(raw json.RawMessage) (bool, bool) {
	var b bool
	if json.Unmarshal(raw, &b) == nil && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return b, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// checkVerificationParameters checks a verification's parameters: {}, or a
// restore test of the AWS provider's tables.
func checkVerificationParameters(prov Provider, c *Checkpoint, params map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	aws, _ := prov.(AWSProvider)
	resources := CheckpointResources(c)
	for _, k := range paramKeys(params) {
		typ, id, hasID := strings.Cut(k, "#")
		if aws == nil || !aws.AWSResources() || typ != "AWS::DynamoDB::Table" {
			return nil, invalid("Invalid parameters key %s: a verification takes only a restore test of the AWS provider's tables (AWS::DynamoDB::Table or AWS::DynamoDB::Table#<table of the checkpoint>).", Clip(k))
		}
		if hasID && !slices.ContainsFunc(resources, func(r Resource) bool { return r.Type == typ && r.ID == id }) {
			return nil, invalid("Invalid parameters key %s: the checkpoint has no %s %s.", Clip(k), typ, Clip(id))
		}
		obj, err := decodeObject(k, params[k])
		if err != nil {
			return nil, err
		}
		norm := map[string]any{}
		for _, p := range paramKeys(obj) {
			if p != "restore_test" {
				return nil, invalid("Invalid parameters for %s: unknown property %s (a verification takes restore_test).", Clip(k), Clip(p))
			}
			v, err := restoreValue("", k, p, propBool, obj[p])
			if err != nil {
				return nil, err
			}
			norm[p] = v
		}
		if _, ok := norm["restore_test"]; !ok {
			return nil, invalid("Invalid parameters for %s: restore_test is required (true or false).", Clip(k))
		}
		b, err := MarshalJSON(norm)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}
