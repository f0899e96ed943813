// Package inventory looks up the AWS resources of the protectable types
// (DynamoDB tables, EBS volumes, EC2 instances) in the service's account
// and region, and applies the ownership rule of package ownership to them:
// what the protectables API shows, what plans may name, and what the worker
// checks again right before it protects a resource.
//
// One answer covers missing, not owned, the service's own (the
// ownership.ServiceTag tag, or one of Config.ServiceTables) and
// unprotectable states (tables DELETING, ARCHIVING, ARCHIVED,
// INACCESSIBLE_ENCRYPTION_CREDENTIALS; volumes deleting, deleted, error;
// instances shutting-down, terminated): no caller learns whether a resource
// it does not own exists.
//
// Errors of AWS that may pass (throttling, 5xx, connection failures, after
// the SDK's own retries) wrap domain.ErrUnavailable as well as the SDK's
// error: the API answers 503, the worker retries.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/ownership"
)

// DynamoDBAPI is what the inventory calls on DynamoDB to look tables up
// (Show, Check, Owned: also the worker's clients).
type DynamoDBAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	ListTagsOfResource(context.Context, *dynamodb.ListTagsOfResourceInput, ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error)
}

// TableLister is what listings of tables in account mode call besides: the
// DynamoDB client must implement it there (the SDK's does).
type TableLister interface {
	ListTables(context.Context, *dynamodb.ListTablesInput, ...func(*dynamodb.Options)) (*dynamodb.ListTablesOutput, error)
}

// EC2API is what the inventory calls on EC2.
type EC2API interface {
	DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// TaggingAPI finds resources by tag: the Resource Groups Tagging API's
// GetResources, which package inventory/tagging adapts (so that functions
// that never list link none of its code). Only listings of tables in tag
// mode call it: DynamoDB has no listing filtered by tag.
type TaggingAPI interface {
	// Tagged returns the resources of a type ("dynamodb:table") that
	// carry the tag key = value, with all their tags, every page.
	Tagged(ctx context.Context, resourceType, key, value string) ([]Tagged, error)
}

// Tagged is a resource the tagging API found, with its tags.
type Tagged struct {
	ARN  string
	Tags map[string]string
}

// Inventory looks up protectable resources over its clients. Show, Check
// and Owned need DynamoDB and EC2; List needs Tagging too (tag mode, tables).
type Inventory struct {
	DynamoDB  DynamoDBAPI
	EC2       EC2API
	Tagging   TaggingAPI
	Ownership ownership.Config
	// Region is the clients' region, shown in extra_info.
	Region string
	// TableARNPrefix is "arn:<partition>:dynamodb:<region>:<account>:table/"
	// (environment TABLE_ARN_PREFIX): with it, a table's DescribeTable and
	// ListTagsOfResource run at once, for every name, so that a missing
	// table, another project's and the service's own cost the same calls
	// and about the same time as an owned one (no existence oracle by
	// timing). Empty, they run one after the other, as far as needed.
	TableARNPrefix string
}

// ServiceRegion is the clients' region (domain.RegionOf).
func (inv *Inventory) ServiceRegion() string { return inv.Region }

// TableARNPrefixEnv is the environment variable of Inventory.TableARNPrefix.
const TableARNPrefixEnv = "TABLE_ARN_PREFIX"

// tableLookups is how many tables are looked up at once (each one or two
// control-plane calls). DynamoDB throttles control-plane calls per account
// (2,500 a second for the account as a whole, shared with every other
// client of the account, the worker's included): 10 in flight at ~10 ms a
// call is ~1,000 calls a second at most, well inside it, and brings 1,000
// tables (2,000 calls) from ~20 s serial to ~2 s, inside the routes' 10 s.
// More would gain little past the route's budget and crowd other clients.
const tableLookups = 10

var _ domain.Inventory = (*Inventory)(nil)

// maxFilterValues is how many values one EC2 filter takes at most.
const maxFilterValues = 200

// NotOwnedError is Owned's answer about a resource the project may not
// protect (missing, not owned, the service's own, unprotectable state).
type NotOwnedError struct{ Type, ID string }

func (e *NotOwnedError) Error() string { return e.Type + " " + e.ID + " is not owned by the project" }

// Owned checks, right before protection, that each resource is a
// protectable instance the project owns. The answer has one entry per
// resource: nil when it is, a *NotOwnedError when it is not (a resource of
// another type included), or the lookup's error, which wraps
// domain.ErrUnavailable when AWS throttled or failed (retry later). Cost:
// one DescribeVolumes for all the volumes, one DescribeInstances for all
// the instances, DescribeTable and ListTagsOfResource per table (tableLookups
// tables at a time). An
// instance's attached volumes are not checked here: they are owned through
// the instance.
func (inv *Inventory) Owned(ctx context.Context, projectID string, resources []domain.Resource) []error {
	out := make([]error, len(resources))
	byType := map[string][]int{}
	for i, r := range resources {
		if !domain.ValidInstanceID(r.Type, r.ID) {
			out[i] = &NotOwnedError{r.Type, r.ID}
			continue
		}
		byType[r.Type] = append(byType[r.Type], i)
	}
	for typ, idx := range byType {
		ids := make([]string, len(idx))
		for k, i := range idx {
			ids[k] = resources[i].ID
		}
		found, err := inv.lookup(ctx, projectID, typ, ids)
		for _, i := range idx {
			switch {
			case err != nil:
				out[i] = err
			case found[resources[i].ID] == nil:
				out[i] = &NotOwnedError{typ, resources[i].ID}
			}
		}
	}
	return out
}

// Check implements domain.Inventory: the indexes of the resources that are
// not protectable instances of the project, in order. Same calls as Owned.
func (inv *Inventory) Check(ctx context.Context, projectID string, resources []domain.Resource) ([]int, error) {
	var bad []int
	for i, err := range inv.Owned(ctx, projectID, resources) {
		var no *NotOwnedError
		switch {
		case errors.As(err, &no):
			bad = append(bad, i)
		case err != nil:
			return nil, err
		}
	}
	return bad, nil
}

// Show implements domain.Inventory. Cost: a table, DescribeTable and
// ListTagsOfResource (at once with TableARNPrefix); a volume, one DescribeVolumes; an instance, one
// DescribeInstances and one DescribeVolumes for its attached volumes.
func (inv *Inventory) Show(ctx context.Context, projectID, typ, id string) (*domain.ProtectableInstance, error) {
	if typ == domain.TypeDynamoDBTable {
		t, err := inv.table(ctx, projectID, id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, domain.ErrNotFound
		}
		return t.instance(inv.Region, true), nil
	}
	if typ == domain.TypeEC2Instance {
		insts, err := inv.instances(ctx, projectID, idFilters("instance-id", []string{id}))
		if err != nil {
			return nil, err
		}
		if len(insts) == 0 {
			return nil, domain.ErrNotFound
		}
		if err := inv.attach(ctx, insts[:1]); err != nil {
			return nil, err
		}
		return insts[0].ProtectableInstance, nil
	}
	found, err := inv.lookup(ctx, projectID, typ, []string{id})
	if err != nil {
		return nil, err
	}
	if found[id] == nil {
		return nil, domain.ErrNotFound
	}
	return found[id], nil
}

// lookup finds which of the ids (all of type typ) are protectable instances
// of the project.
func (inv *Inventory) lookup(ctx context.Context, projectID, typ string, ids []string) (map[string]*domain.ProtectableInstance, error) {
	out := map[string]*domain.ProtectableInstance{}
	switch typ {
	case domain.TypeDynamoDBTable:
		tables := make([]*table, len(ids))
		err := parallel(len(ids), func(k int) (err error) {
			tables[k], err = inv.table(ctx, projectID, ids[k])
			return err
		})
		if err != nil {
			return nil, err
		}
		for k, t := range tables {
			if t != nil {
				out[ids[k]] = t.instance(inv.Region, false)
			}
		}
	case domain.TypeEC2Volume:
		vols, err := inv.volumes(ctx, projectID, idFilters("volume-id", ids))
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			out[v.ID] = v
		}
	case domain.TypeEC2Instance:
		insts, err := inv.instances(ctx, projectID, idFilters("instance-id", ids))
		if err != nil {
			return nil, err
		}
		for _, i := range insts {
			out[i.ID] = i.ProtectableInstance
		}
	}
	return out, nil
}

// idFilters selects resources by id with a filter rather than VolumeIds or
// InstanceIds: a missing or malformed id then matches nothing instead of
// failing the whole call (InvalidVolume.NotFound, InvalidInstanceID.*).
// Ids beyond maxFilterValues go into further calls.
func idFilters(name string, ids []string) [][]ec2types.Filter {
	var out [][]ec2types.Filter
	for ids := range slices.Chunk(ids, maxFilterValues) {
		out = append(out, []ec2types.Filter{{Name: aws.String(name), Values: ids}})
	}
	return out
}

// tagFilter selects the project's resources in tag mode (one call's
// filters), nothing (nil) in account mode.
func (inv *Inventory) tagFilter(projectID string) [][]ec2types.Filter {
	if inv.Ownership.Mode == ownership.ModeAccount {
		return [][]ec2types.Filter{nil}
	}
	return [][]ec2types.Filter{{{Name: aws.String("tag:" + inv.Ownership.Key()), Values: []string{projectID}}}}
}

// --- tables ---

type table struct {
	desc *ddbtypes.TableDescription
}

// table returns a table the project may protect, or nil. With
// TableARNPrefix it always issues DescribeTable and ListTagsOfResource, at
// once, and only then refuses a table: missing, another project's, the
// service's own and an owned table cost the same two calls (more only for
// a table with more tags than ListTagsOfResource's page).
func (inv *Inventory) table(ctx context.Context, projectID, name string) (*table, error) {
	if inv.TableARNPrefix == "" {
		return inv.tableInTurn(ctx, projectID, name)
	}
	arn := inv.TableARNPrefix + name
	var (
		tags    map[string]string
		tagsErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tags, tagsErr = inv.tableTags(ctx, arn)
	}()
	d, err := inv.describeTable(ctx, name)
	wg.Wait()
	var missing *ddbtypes.ResourceNotFoundException
	switch {
	case err != nil:
		return nil, err
	case d == nil:
		return nil, nil
	case aws.ToString(d.TableArn) != arn:
		return nil, fmt.Errorf("inventory: table %s has ARN %s, not under %s=%s", name, aws.ToString(d.TableArn), TableARNPrefixEnv, inv.TableARNPrefix)
	case errors.As(tagsErr, &missing):
		// Deleted between the two calls.
		return nil, nil
	case tagsErr != nil:
		return nil, tagsErr
	}
	return inv.ownedTable(projectID, d, tags), nil
}

// tableInTurn is table without TableARNPrefix: ListTagsOfResource takes the
// ARN that DescribeTable returns, and the service's tables named in the
// configuration are refused before any call.
func (inv *Inventory) tableInTurn(ctx context.Context, projectID, name string) (*table, error) {
	if inv.Ownership.ServiceTable(name) {
		return nil, nil
	}
	d, err := inv.describeTable(ctx, name)
	if d == nil || err != nil {
		return nil, err
	}
	tags, err := inv.tableTags(ctx, aws.ToString(d.TableArn))
	var missing *ddbtypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return inv.ownedTable(projectID, d, tags), nil
}

// describeTable is the table's description, nil when it is missing.
func (inv *Inventory) describeTable(ctx context.Context, name string) (*ddbtypes.TableDescription, error) {
	out, err := inv.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var missing *ddbtypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("DescribeTable", err)
	}
	if out.Table == nil || out.Table.TableArn == nil {
		return nil, nil
	}
	return out.Table, nil
}

// ownedTable applies the rule to a described table and its tags: the table
// when the project may protect it, else nil.
func (inv *Inventory) ownedTable(projectID string, d *ddbtypes.TableDescription, tags map[string]string) *table {
	if !tableProtectable(d.TableStatus) || inv.Ownership.ServiceTable(aws.ToString(d.TableName)) || !inv.Ownership.Owns(projectID, tags) {
		return nil
	}
	return &table{d}
}

// parallel calls f(0) to f(n-1), tableLookups at a time, and returns the
// first error (of the lowest index) once all have returned.
func parallel(n int, f func(int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, tableLookups)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func tableProtectable(s ddbtypes.TableStatus) bool {
	switch s {
	case ddbtypes.TableStatusDeleting, ddbtypes.TableStatusArchiving, ddbtypes.TableStatusArchived,
		ddbtypes.TableStatusInaccessibleEncryptionCredentials:
		return false
	}
	return true
}

func (inv *Inventory) tableTags(ctx context.Context, arn string) (map[string]string, error) {
	tags := map[string]string{}
	in := &dynamodb.ListTagsOfResourceInput{ResourceArn: aws.String(arn)}
	for {
		out, err := inv.DynamoDB.ListTagsOfResource(ctx, in)
		if err != nil {
			return nil, wrap("ListTagsOfResource", err)
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if aws.ToString(out.NextToken) == "" {
			return tags, nil
		}
		in.NextToken = out.NextToken
	}
}

func (t *table) instance(region string, full bool) *domain.ProtectableInstance {
	d := t.desc
	info := map[string]any{"region": region, "arn": aws.ToString(d.TableArn)}
	if full {
		info["status"] = string(d.TableStatus)
		info["item_count"] = aws.ToInt64(d.ItemCount)
		info["size_bytes"] = aws.ToInt64(d.TableSizeBytes)
	}
	name := aws.ToString(d.TableName)
	return &domain.ProtectableInstance{ID: name, Type: domain.TypeDynamoDBTable, Name: name, ExtraInfo: info, Dependents: []domain.ProtectableInstance{}}
}

// --- volumes ---

// volumes describes the volumes the filters select (one paginated call
// per filter set) and keeps those the project may protect.
func (inv *Inventory) volumes(ctx context.Context, projectID string, filters [][]ec2types.Filter) ([]*domain.ProtectableInstance, error) {
	var out []*domain.ProtectableInstance
	err := inv.eachVolume(ctx, filters, func(v ec2types.Volume) {
		if volumeProtectable(v.State) && inv.Ownership.Owns(projectID, ec2Tags(v.Tags)) {
			out = append(out, inv.volume(v))
		}
	})
	return out, err
}

func (inv *Inventory) eachVolume(ctx context.Context, filters [][]ec2types.Filter, f func(ec2types.Volume)) error {
	for _, fs := range filters {
		in := &ec2.DescribeVolumesInput{Filters: fs, MaxResults: aws.Int32(500)}
		for {
			out, err := inv.EC2.DescribeVolumes(ctx, in)
			if err != nil {
				return wrap("DescribeVolumes", err)
			}
			for _, v := range out.Volumes {
				f(v)
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return nil
}

func volumeProtectable(s ec2types.VolumeState) bool {
	switch s {
	case ec2types.VolumeStateDeleting, ec2types.VolumeStateDeleted, ec2types.VolumeStateError:
		return false
	}
	return true
}

func (inv *Inventory) volume(v ec2types.Volume) *domain.ProtectableInstance {
	id := aws.ToString(v.VolumeId)
	return &domain.ProtectableInstance{
		ID: id, Type: domain.TypeEC2Volume, Name: nameTag(v.Tags, id),
		ExtraInfo: map[string]any{
			"region":            inv.Region,
			"availability_zone": aws.ToString(v.AvailabilityZone),
			"size_gib":          aws.ToInt32(v.Size),
			"volume_type":       string(v.VolumeType),
			"state":             string(v.State),
			"encrypted":         aws.ToBool(v.Encrypted),
		},
		Dependents: []domain.ProtectableInstance{},
	}
}

// --- instances ---

type instance struct {
	*domain.ProtectableInstance
	volumeIDs []string // attached EBS volumes, in device order
}

func (inv *Inventory) instances(ctx context.Context, projectID string, filters [][]ec2types.Filter) ([]instance, error) {
	var out []instance
	for _, fs := range filters {
		in := &ec2.DescribeInstancesInput{Filters: fs, MaxResults: aws.Int32(1000)}
		for {
			res, err := inv.EC2.DescribeInstances(ctx, in)
			if err != nil {
				return nil, wrap("DescribeInstances", err)
			}
			for _, r := range res.Reservations {
				for _, i := range r.Instances {
					if instanceProtectable(i.State) && inv.Ownership.Owns(projectID, ec2Tags(i.Tags)) {
						out = append(out, inv.instance(i))
					}
				}
			}
			if aws.ToString(res.NextToken) == "" {
				break
			}
			in.NextToken = res.NextToken
		}
	}
	return out, nil
}

func instanceProtectable(s *ec2types.InstanceState) bool {
	if s == nil {
		return false
	}
	switch s.Name {
	case ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameTerminated:
		return false
	}
	return true
}

func (inv *Inventory) instance(i ec2types.Instance) instance {
	id := aws.ToString(i.InstanceId)
	az := ""
	if i.Placement != nil {
		az = aws.ToString(i.Placement.AvailabilityZone)
	}
	state := ""
	if i.State != nil {
		state = string(i.State.Name)
	}
	var vols []string
	for _, m := range i.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.Ebs.VolumeId) != "" {
			vols = append(vols, aws.ToString(m.Ebs.VolumeId))
		}
	}
	return instance{
		ProtectableInstance: &domain.ProtectableInstance{
			ID: id, Type: domain.TypeEC2Instance, Name: nameTag(i.Tags, id),
			ExtraInfo: map[string]any{
				"region":            inv.Region,
				"availability_zone": az,
				"instance_type":     string(i.InstanceType),
				"state":             state,
				"subnet_id":         aws.ToString(i.SubnetId),
			},
			Dependents: []domain.ProtectableInstance{},
		},
		volumeIDs: vols,
	}
}

// attach fills the instances' dependents, their attached volumes, with one
// DescribeVolumes for all of them (more only past maxFilterValues). The
// volumes are owned through their instance: no tag of their own is needed.
func (inv *Inventory) attach(ctx context.Context, insts []instance) error {
	var ids []string
	for _, i := range insts {
		ids = append(ids, i.volumeIDs...)
	}
	if len(ids) == 0 {
		return nil
	}
	vols := map[string]*domain.ProtectableInstance{}
	err := inv.eachVolume(ctx, idFilters("volume-id", ids), func(v ec2types.Volume) {
		vols[aws.ToString(v.VolumeId)] = inv.volume(v)
	})
	if err != nil {
		return err
	}
	for _, i := range insts {
		for _, id := range i.volumeIDs {
			if v := vols[id]; v != nil {
				v.Dependents = nil
				i.Dependents = append(i.Dependents, *v)
			}
		}
	}
	return nil
}

// --- shared ---

func ec2Tags(tags []ec2types.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// nameTag is the Name tag when not empty, else id.
func nameTag(tags []ec2types.Tag, id string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == "Name" && aws.ToString(t.Value) != "" {
			return aws.ToString(t.Value)
		}
	}
	return id
}

// transientCodes are AWS error codes of a load or an outage, beyond the
// SDK's own retryable classification.
var transientCodes = map[string]bool{
	"ServiceUnavailable": true, "Unavailable": true, "InternalError": true, "InternalFailure": true,
	"InternalServerError": true, "InternalServiceError": true, "RequestLimitExceeded": true,
	"ThrottlingException": true, "Throttling": true, "ProvisionedThroughputExceededException": true,
	"RequestThrottled": true, "LimitExceededException": true, "RequestTimeout": true, "RequestTimeoutException": true,
}

// wrap names the operation and marks an error that may pass as
// domain.ErrUnavailable (throttling, 5xx, connection failures: what the
// SDK's standard retryer retries, once its attempts are spent).
func wrap(op string, err error) error {
	if Transient(err) {
		return fmt.Errorf("%s: %w: %w", op, domain.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Transient reports whether an AWS error may pass on a later attempt:
// throttling, limits on concurrent work, AWS's own failures (5xx),
// connection failures. The one classification of the service: the API
// answers such an error 503, the worker hands its record back.
func Transient(err error) bool {
	if errors.Is(err, domain.ErrUnavailable) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && transientCodes[ae.ErrorCode()] {
		return true
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// tableName is the name in a table's ARN.
func tableName(arn string) string {
	if i := strings.LastIndex(arn, ":table/"); i >= 0 {
		return arn[i+len(":table/"):]
	}
	return ""
}
