package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
)

// Stuck lists up to max checkpoints that entered status (protecting or
// deleting) before cutoff, oldest first: Queries of the sparse by_pending
// index, which holds only checkpoints in flight.
func (s *Store) Stuck(ctx context.Context, status domain.Status, cutoff time.Time, max int) ([]domain.CheckpointKey, error) {
	keyCond := expression.Key(attrPending).Equal(expression.Value(string(status))).
		And(expression.Key(attrUpdatedAt).LessThan(expression.Value(domain.Timestamp(cutoff))))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.checkpointsTable),
		IndexName:                 aws.String(IndexByPending),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(true),
	}
	items, _, err := s.query(ctx, in, max, false) // unfiltered: no read budget
	if err != nil {
		return nil, fmt.Errorf("stuck %s: %w", status, err)
	}
	var keys []domain.CheckpointKey
	if err := attributevalue.UnmarshalListOfMaps(items, &keys); err != nil {
		return nil, err
	}
	return keys, nil
}
