package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
)

// Stuck lists up to max checkpoints that entered status (protecting or
// deleting) before cutoff, oldest first: one Query of each shard of the
// sparse by_pending index (which holds only checkpoints in flight), each
// reading at most max items, merged by when they entered the status.
func (s *Store) Stuck(ctx context.Context, status domain.Status, cutoff time.Time, max int) ([]domain.CheckpointKey, error) {
	type stuck struct {
		domain.CheckpointKey
		UpdatedAt string `dynamodbav:"updated_at"`
	}
	var all []stuck
	for _, shard := range allShards(string(status)) {
		keyCond := expression.Key(attrPending).Equal(expression.Value(shard)).
			And(expression.Key(attrUpdatedAt).LessThan(expression.Value(domain.Timestamp(cutoff))))
		expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
		if err != nil {
			return nil, err
		}
		c := &cursor{in: &dynamodb.QueryInput{
			TableName:                 aws.String(s.checkpointsTable),
			IndexName:                 aws.String(IndexByPending),
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ScanIndexForward:          aws.Bool(true),
		}}
		for !c.done {
			if err := s.fetch(ctx, c, max, false); err != nil {
				return nil, fmt.Errorf("stuck %s: %w", status, err)
			}
		}
		var items []stuck
		if err := attributevalue.UnmarshalListOfMaps(c.buf, &items); err != nil {
			return nil, err
		}
		all = append(all, items...)
	}
	slices.SortFunc(all, func(a, b stuck) int {
		return cmp.Or(cmp.Compare(a.UpdatedAt, b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	keys := make([]domain.CheckpointKey, 0, min(max, len(all)))
	for _, k := range all[:min(max, len(all))] {
		keys = append(keys, k.CheckpointKey)
	}
	return keys, nil
}
