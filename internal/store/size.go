package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"karbor/internal/domain"
)

// ItemSize is an item's size as DynamoDB counts it against its 400 KB
// limit: each attribute's name and value in UTF-8 bytes (numbers at their
// largest: one byte per two digits plus one, rounded up; maps and lists
// with their 3 bytes of overhead and 1 per element).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += (len(s)+1)/2 + 1
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += valueSize(e) + 1
		}
		return n
	}
	return 0
}

// tooLarge marks DynamoDB's refusal of an item over its size limit
// (ValidationException "Item size has exceeded the maximum allowed size",
// or "Item size to update has exceeded ..." of an UpdateItem) as
// domain.ErrTooLarge; other errors pass unchanged.
func tooLarge(err error) error {
	var ae smithy.APIError
	if err != nil && errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" &&
		strings.Contains(ae.ErrorMessage(), "Item size") && strings.Contains(ae.ErrorMessage(), "exceeded the maximum allowed size") {
		return fmt.Errorf("%w: %w", domain.ErrTooLarge, err)
	}
	return err
}
