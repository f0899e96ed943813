// Package tables creates the service's DynamoDB tables from template.yaml,
// for the local server and the tests: the definitions exist once, in the
// template that deploys them.
package tables

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor"
	"karbor/internal/local/cfn"
)

// Logical ids of the tables in template.yaml.
const (
	Plans       = "PlansTable"
	Checkpoints = "CheckpointsTable"
	Idempotency = "IdempotencyTable"
	Tasks       = "TasksTable"
	// OperationLogs holds the operation logs.
	OperationLogs = "OperationLogsTable"
	// Schedules holds triggers and scheduled operations.
	Schedules = "SchedulesTable"
	// Quotas holds quota overrides, classes and usage counts.
	Quotas = "QuotasTable"
)

// Names are the physical table names, by logical id.
type Names map[string]string

// Definitions returns the template's CreateTable inputs with the given names.
func Definitions(names Names) ([]*dynamodb.CreateTableInput, map[string]string, error) {
	tpl, err := cfn.Parse(karbor.TemplateYAML)
	if err != nil {
		return nil, nil, err
	}
	defs, err := tpl.Tables()
	if err != nil {
		return nil, nil, err
	}
	var out []*dynamodb.CreateTableInput
	ttl := map[string]string{}
	for logical, name := range names {
		def, ok := defs[logical]
		if !ok {
			return nil, nil, fmt.Errorf("template.yaml has no table %s", logical)
		}
		def.TableName = aws.String(name)
		out = append(out, def)
		if attr := tpl.TTLAttribute(logical); attr != "" {
			ttl[name] = attr
		}
	}
	return out, ttl, nil
}

// Ensure creates each table that does not exist yet, waits until it is
// active, and turns on its TTL.
func Ensure(ctx context.Context, db *dynamodb.Client, names Names) error {
	defs, ttl, err := Definitions(names)
	if err != nil {
		return err
	}
	for _, def := range defs {
		_, err := db.CreateTable(ctx, def)
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			continue
		}
		if err != nil {
			return fmt.Errorf("create table %s: %w", aws.ToString(def.TableName), err)
		}
		w := dynamodb.NewTableExistsWaiter(db)
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: def.TableName}, 2*time.Minute); err != nil {
			return fmt.Errorf("wait for table %s: %w", aws.ToString(def.TableName), err)
		}
		if attr, ok := ttl[aws.ToString(def.TableName)]; ok {
			_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               def.TableName,
				TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
			})
			if err != nil {
				return fmt.Errorf("enable TTL on %s: %w", aws.ToString(def.TableName), err)
			}
		}
	}
	return nil
}
