package awsplugin

// The AWS provider's restore and verification steps (provider.TaskPlugin):
// restore_table.go (DynamoDB tables, and the verification's restore test),
// restore_volume.go (standalone EBS volumes), restore_instance.go (EC2
// instances with their volumes).
//
// IAM: the runner's role (RunnerFunction in template.yaml) grants what
// these steps call, statement by statement, with the reasons.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/ownership"
	"karbor/internal/provider"
)

// Tags the AWS provider puts on what restores and verifications make.
const (
	// TagRestoreID: the restore that made a table, volume or instance;
	// how a later step finds it again.
	TagRestoreID = "karbor:restore-id"
	// TagVerificationID: the verification whose restore test made a
	// scratch table.
	TagVerificationID = "karbor:verification-id"
)

// DynamoDBRestoreAPI is what the table's restore and verification steps call
// besides DynamoDBBackupAPI. The worker's client (*dynamodb.Client) has it;
// it is a separate interface so that the worker's test doubles of
// DynamoDBBackupAPI need not change: TaskPlugins' steps assert it.
type DynamoDBRestoreAPI interface {
	DynamoDBBackupAPI
	DescribeBackup(context.Context, *dynamodb.DescribeBackupInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeBackupOutput, error)
	RestoreTableFromBackup(context.Context, *dynamodb.RestoreTableFromBackupInput, ...func(*dynamodb.Options)) (*dynamodb.RestoreTableFromBackupOutput, error)
	TagResource(context.Context, *dynamodb.TagResourceInput, ...func(*dynamodb.Options)) (*dynamodb.TagResourceOutput, error)
	DeleteTable(context.Context, *dynamodb.DeleteTableInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// EC2RestoreAPI is what the volume's and instance's restore steps call
// besides EC2SnapshotAPI (the worker's *ec2.Client has it; asserted as
// DynamoDBRestoreAPI is).
type EC2RestoreAPI interface {
	EC2SnapshotAPI
	CreateVolume(context.Context, *ec2.CreateVolumeInput, ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error)
	RunInstances(context.Context, *ec2.RunInstancesInput, ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
}

// CountWait bounds the restore test's counting of a scratch table in one
// step (also bounded by the context's deadline less DeadlineReserve); the
// count goes on at the next step from where it stopped.
const CountWait = 2 * time.Minute

// TaskPlugins are the AWS provider's restore and verification steps by
// resource type, over these clients; cfg gives the ownership tag they put
// on what they make. opts.TableARNPrefix (default: the environment's
// TABLE_ARN_PREFIX) gives the partition, region and account of the EC2 ARNs
// they report.
func TaskPlugins(c Clients, cfg ownership.Config, opts Options) map[string]provider.TaskPlugin {
	if opts.TableARNPrefix == "" {
		opts.TableARNPrefix = os.Getenv(inventory.TableARNPrefixEnv)
	}
	if opts.CountWait <= 0 {
		opts.CountWait = CountWait
	}
	t := tasks{c: c, cfg: cfg, opts: opts}
	return map[string]provider.TaskPlugin{
		provider.TypeDynamoDBTable: tableTasks{t},
		provider.TypeEC2Volume:     volumeTasks{t},
		provider.TypeEC2Instance:   instanceTasks{t},
	}
}

type tasks struct {
	c    Clients
	cfg  ownership.Config
	opts Options
}

func (p tasks) ddb() (DynamoDBRestoreAPI, error) {
	if d, ok := p.c.DynamoDB().(DynamoDBRestoreAPI); ok {
		return d, nil
	}
	return nil, errors.New("the DynamoDB client cannot restore (it lacks DynamoDBRestoreAPI)")
}

func (p tasks) ec2() (EC2RestoreAPI, error) {
	if e, ok := p.c.EC2().(EC2RestoreAPI); ok {
		return e, nil
	}
	return nil, errors.New("the EC2 client cannot restore (it lacks EC2RestoreAPI)")
}

// ec2ARN is the ARN of an EC2 volume or instance: partition, region and
// account from opts.TableARNPrefix ("arn:<partition>:dynamodb:<region>:
// <account>:table/"); account, when AWS named the resource's owner (the
// snapshot's OwnerId, the reservation's), that one; region, without the
// prefix, the environment's AWS_REGION.
func (p tasks) ec2ARN(kind, id, owner string) string {
	partition, region, account := "aws", os.Getenv("AWS_REGION"), ""
	if parts := strings.Split(p.opts.TableARNPrefix, ":"); len(parts) >= 6 && parts[0] == "arn" {
		partition, region, account = parts[1], parts[3], parts[4]
	}
	if owner != "" {
		account = owner
	}
	return "arn:" + partition + ":ec2:" + region + ":" + account + ":" + kind + "/" + id
}

// clientToken is the EC2 idempotency token of a task's create for one
// resource: the same at every step, so that EC2 answers a repeated create
// with what the first made (at most 64 ASCII characters).
func clientToken(t provider.Task, resourceID string) string {
	sum := sha256.Sum256([]byte(string(t.Kind) + "\x00" + t.ID + "\x00" + resourceID))
	return "karbor-" + hex.EncodeToString(sum[:])[:48]
}

// end is a Step that ends the resource in error.
func end(err error) provider.Step { return provider.Step{Done: true, Err: err} }

// step is the Step of an error: a transient one (throttling, AWS's 5xx,
// inventory.Transient) leaves the work to the next step, keeping state and
// what is known; any other ends the resource in error.
func step(err error, state any, s provider.Step) provider.Step {
	if isTransient(err) {
		s.State = marshal(state)
		return s
	}
	s.Done, s.Err, s.State = true, err, nil
	return s
}

// isTransient: an error the next step may not meet (inventory.Transient),
// or a step cut short by its context (the invocation's end): the work is
// looked at again, never failed for it.
func isTransient(err error) bool {
	return inventory.Transient(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func savedString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func savedStrings(m map[string]any, key string) []string {
	switch v := m[key].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if v != "" {
			return []string{v}
		}
	}
	return nil
}

func savedInt(m map[string]any, key string) int32 {
	switch v := m[key].(type) {
	case float64:
		return int32(v)
	case int:
		return int32(v)
	case int32:
		return v
	case int64:
		return int32(v)
	case json.Number:
		n, _ := v.Int64()
		return int32(n)
	}
	return 0
}

// errGone is a recorded backup, snapshot or image that no longer exists.
func errGone(what, id, checkpointID string) error {
	return fmt.Errorf("the %s %s of checkpoint %s no longer exists", what, id, checkpointID)
}

// restored is a Restored, or nil without an id.
func restored(id, arn string) *domain.Restored {
	if id == "" {
		return nil
	}
	return &domain.Restored{ID: id, ARN: arn}
}
