// Package idempotency remembers the answers of create requests that carry
// an Idempotency-Key header, in DynamoDB, so that a retried request gets the
// first answer again instead of creating a second resource.
//
// A key goes through three steps, each one conditional write on one item:
//
//  1. Reserve: PutItem of the key with the request's fingerprint, a fresh
//     token and a lease, on condition that no live item holds the key (none,
//     or one past expires_at that TTL has not deleted yet, or a reservation
//     whose lease ran out: its request died before it answered).
//  2. The request is processed.
//  3. Complete: UpdateItem storing the answer, on condition that the item
//     still holds this reservation's token; or Release: DeleteItem on the
//     same condition, when the answer is an error (only a 200 is
//     remembered) or cannot be stored.
//
// A reservation that loses step 1 gets the item as it is (ALL_OLD on the
// failed condition, no second read): a stored answer to replay, or a
// reservation in progress, or another request's fingerprint.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/domain"
)

// Attribute names of the table's items; attrKey and attrExpiresAt must match
// template.yaml's IdempotencyTable (a test checks).
const (
	attrKey         = "key"
	attrFingerprint = "fingerprint"
	attrToken       = "token"
	attrLeaseUntil  = "lease_until"
	attrExpiresAt   = "expires_at"
	attrStatus      = "status"
	attrBody        = "body"

	// TTLAttribute is the attribute DynamoDB's TTL expires items by.
	TTLAttribute = attrExpiresAt
	// KeyAttribute is the table's hash key.
	KeyAttribute = attrKey
)

const (
	// Retention is how long an answer is remembered, from the first
	// request.
	Retention = 24 * time.Hour
	// DefaultLease is how long a reservation blocks its key while its
	// request runs. Well above a route function's timeout (10 s), so that
	// a live request is never taken over; a request that died holding it
	// frees the key after at most this long.
	DefaultLease = 60 * time.Second
	// MaxItemBytes is DynamoDB's item size limit, names and values
	// counted: 400 KB, read as 400,000 bytes to stay below what every
	// DynamoDB takes (AWS about 409,600; moto 405,000). An answer whose
	// item would exceed it is not remembered.
	MaxItemBytes = 400_000
)

// Errors of Reserve and Complete; match them with errors.Is.
var (
	// ErrInProgress: another request with the key and the same
	// fingerprint holds a live reservation.
	ErrInProgress = errors.New("a request with this key is in progress")
	// ErrOtherRequest: the key was used, or is being used, for a request
	// with another fingerprint.
	ErrOtherRequest = errors.New("the key was used for another request")
	// ErrTooLarge: the answer does not fit in an item.
	ErrTooLarge = errors.New("the answer is too large to remember")
	// ErrLost: the reservation is no longer this request's (its lease ran
	// out and another request took the key over).
	ErrLost = errors.New("the reservation was taken over")
)

// API is the subset of the DynamoDB client the store uses.
type API interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Store keeps idempotency keys in one DynamoDB table.
type Store struct {
	db    API
	table string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Lease is how long a reservation holds its key; zero means
	// DefaultLease.
	Lease time.Duration
}

// New returns a store over the table.
func New(db API, table string) *Store { return &Store{db: db, table: table} }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

// Key names an idempotency key in its scope.
type Key struct {
	Project string // the project addressed (the path's tenant)
	Caller  string // the caller's own project
	Route   string // the route's name
	Key     string // the header's value, as sent
}

// ItemKey is the item's hash key: the scope, then a hash of the header's
// value, so no user text is ever part of a key. Projects are checked ids
// (A-Za-z0-9_-) and routes are names of the code.
func (k Key) ItemKey() (string, error) {
	if !domain.ValidProjectID(k.Project) || !domain.ValidProjectID(k.Caller) || k.Route == "" {
		return "", fmt.Errorf("idempotency: invalid scope %q/%q/%q", k.Project, k.Caller, k.Route)
	}
	sum := sha256.Sum256([]byte(k.Key))
	return k.Project + "#" + k.Caller + "#" + k.Route + "#" + hex.EncodeToString(sum[:]), nil
}

// Fingerprint identifies a request among those with the same key: a
// sha256 of its path and its body bytes. "The same request" is the same
// bytes: the same JSON with other spacing or key order is another request.
func Fingerprint(path string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(strconv.Itoa(len(path))))
	h.Write([]byte{':'})
	h.Write([]byte(path))
	h.Write(body)
	return h.Sum(nil)
}

// Response is a remembered answer.
type Response struct {
	Status int
	Body   []byte
}

// Reservation is a key held by one request while it runs.
type Reservation struct {
	s       *Store
	itemKey string
	token   string
}

// item is the table's item as stored.
type item struct {
	Key         string `dynamodbav:"key"`
	Fingerprint string `dynamodbav:"fingerprint"`
	Token       string `dynamodbav:"token"`
	LeaseUntil  int64  `dynamodbav:"lease_until"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
	Status      int    `dynamodbav:"status,omitempty"`
	// Body is a string, not binary: a JSON body is UTF-8 text, and a
	// string's size is its bytes on every DynamoDB (moto counts a binary
	// value's base64).
	Body string `dynamodbav:"body,omitempty"`
}

// Reserve takes the key for a request with this fingerprint. It returns
// the reservation to Complete or Release; or the remembered answer of an
// earlier request with the same key and fingerprint; or ErrInProgress or
// ErrOtherRequest.
func (s *Store) Reserve(ctx context.Context, k Key, fingerprint []byte) (*Reservation, *Response, error) {
	itemKey, err := k.ItemKey()
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	it := item{
		Key: itemKey, Fingerprint: hex.EncodeToString(fingerprint), Token: domain.NewID(),
		LeaseUntil: now.Add(s.lease()).Unix(), ExpiresAt: now.Add(Retention).Unix(),
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, nil, err
	}
	nowValue := expression.Value(now.Unix())
	// Free: no item; or one that expired (TTL deletes within days, not at
	// once); or a reservation, never completed, whose lease ran out.
	cond := expression.AttributeNotExists(expression.Name(attrKey)).
		Or(expression.Name(attrExpiresAt).LessThanEqual(nowValue)).
		Or(expression.And(
			expression.AttributeNotExists(expression.Name(attrStatus)),
			expression.Name(attrLeaseUntil).LessThanEqual(nowValue)))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, nil, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                av,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return &Reservation{s: s, itemKey: itemKey, token: it.Token}, nil, nil
	}
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		return nil, nil, fmt.Errorf("idempotency: reserve: %w", err)
	}
	if len(failed.Item) == 0 {
		// The item that failed the condition is gone already (released
		// in between): the caller may retry, as after any conflict.
		return nil, nil, ErrInProgress
	}
	var old item
	if err := attributevalue.UnmarshalMap(failed.Item, &old); err != nil {
		return nil, nil, fmt.Errorf("idempotency: read stored item: %w", err)
	}
	switch {
	case old.Fingerprint != hex.EncodeToString(fingerprint):
		return nil, nil, ErrOtherRequest
	case old.Status == 0:
		return nil, nil, ErrInProgress
	default:
		return nil, &Response{Status: old.Status, Body: []byte(old.Body)}, nil
	}
}

// ItemSize is the size DynamoDB counts for the item that would remember
// this answer (attribute names and values), with room to spare for the
// numbers' encoding.
func (r *Reservation) ItemSize(resp Response) int {
	const numbers = 4 * 21 // four numbers, at most 21 bytes each
	names := len(attrKey) + len(attrFingerprint) + len(attrToken) + len(attrLeaseUntil) + len(attrExpiresAt) + len(attrStatus) + len(attrBody)
	return names + numbers + len(r.itemKey) + 2*sha256.Size + len(r.token) + len(resp.Body)
}

// Complete remembers the answer under the key. The answer is not
// remembered, and the reservation stays to be released, when it is too
// large (ErrTooLarge) or the reservation is no longer this request's
// (ErrLost).
func (r *Reservation) Complete(ctx context.Context, resp Response) error {
	if r.ItemSize(resp) > MaxItemBytes {
		return ErrTooLarge
	}
	upd := expression.Set(expression.Name(attrStatus), expression.Value(resp.Status)).
		Set(expression.Name(attrBody), expression.Value(string(resp.Body)))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(r.mine()).Build()
	if err != nil {
		return err
	}
	_, err = r.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(r.s.table),
		Key:                       r.key(),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	return r.conditional("complete", err)
}

// Release frees the key, unless the reservation is no longer this
// request's (ErrLost).
func (r *Reservation) Release(ctx context.Context) error {
	expr, err := expression.NewBuilder().WithCondition(r.mine()).Build()
	if err != nil {
		return err
	}
	_, err = r.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(r.s.table),
		Key:                       r.key(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	return r.conditional("release", err)
}

func (r *Reservation) key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: r.itemKey}}
}

// mine holds while the item is this reservation's.
func (r *Reservation) mine() expression.ConditionBuilder {
	return expression.Name(attrToken).Equal(expression.Value(r.token))
}

func (r *Reservation) conditional(op string, err error) error {
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("idempotency: %s: %w", op, err)
	}
	return nil
}
