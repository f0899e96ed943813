package domain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The protectable types: the AWS resource types a project may protect
// (CloudFormation's names, as package provider spells them).
const (
	TypeDynamoDBTable = "AWS::DynamoDB::Table"
	TypeEC2Volume     = "AWS::EC2::Volume"
	TypeEC2Instance   = "AWS::EC2::Instance"
)

// protectableTypes maps each protectable type to its dependent types.
var protectableTypes = map[string][]string{
	TypeDynamoDBTable: {},
	TypeEC2Instance:   {TypeEC2Volume},
	TypeEC2Volume:     {},
}

// ProtectableTypes lists the protectable types in order.
func ProtectableTypes() []string {
	out := make([]string, 0, len(protectableTypes))
	for t := range protectableTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// DependentTypes returns a protectable type's dependent types, or a 404
// refusal for a type that is not protectable (OS::* types included).
func DependentTypes(typ string) ([]string, error) {
	deps, ok := protectableTypes[typ]
	if !ok {
		return nil, refuse(NotFound, "Protectable type %s could not be found.", Clip(typ))
	}
	return append([]string{}, deps...), nil
}

// ValidInstanceID reports whether id has the form of an instance id of a
// protectable type: a table name ([A-Za-z0-9_.-]{3,255}), vol- or i-
// followed by 8 or 17 hex digits.
func ValidInstanceID(typ, id string) bool {
	switch typ {
	case TypeDynamoDBTable:
		if len(id) < 3 || len(id) > 255 {
			return false
		}
		for _, c := range []byte(id) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
				return false
			}
		}
		return true
	case TypeEC2Volume:
		return hexID(id, "vol-")
	case TypeEC2Instance:
		return hexID(id, "i-")
	}
	return false
}

func hexID(id, prefix string) bool {
	h, ok := strings.CutPrefix(id, prefix)
	if !ok || len(h) != 8 && len(h) != 17 {
		return false
	}
	for _, c := range []byte(h) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ProtectableInstance is an AWS resource a project may protect, as the
// protectables API shows it.
type ProtectableInstance struct {
	ID        string
	Type      string
	Name      string
	ExtraInfo map[string]any
	// Dependents are the resources it depends on (an EC2 instance's
	// attached volumes), without their own dependents.
	Dependents []ProtectableInstance
}

// InstanceQuery selects a page of a project's instances of one type,
// ordered by id (Listing.Ascending; ProjectID is always set).
type InstanceQuery struct {
	Listing
	Type string
}

// Inventory looks up the AWS resources of the protectable types and
// applies the ownership rule (package inventory implements it). Errors it
// returns that wrap ErrUnavailable are AWS throttling or unavailability:
// the caller may retry.
type Inventory interface {
	// Show returns an instance the project owns and may protect, or
	// ErrNotFound (missing, not owned, the service's own, unprotectable
	// state: one answer).
	Show(ctx context.Context, projectID, typ, id string) (*ProtectableInstance, error)
	// List returns a page of the project's own instances of a type.
	List(ctx context.Context, q InstanceQuery) (*Page[*ProtectableInstance], error)
	// Check returns the indexes of the resources (all of protectable
	// types) that are not protectable instances of the project.
	Check(ctx context.Context, projectID string, resources []Resource) ([]int, error)
}

// ErrUnavailable marks an error of an AWS service that is throttling the
// service or unavailable: retrying later may succeed.
var ErrUnavailable = errors.New("AWS service unavailable")

// unavailable is the 503 refusal of an AWS error that may pass.
func unavailable(err error) *Error {
	return &Error{Kind: Unavailable, Message: "An AWS service the request needs is busy or unavailable; retry shortly.", Cause: err}
}

// inventoryError maps an inventory error that is not a refusal.
func inventoryError(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return unavailable(err)
	}
	return err
}

func (s *Service) inventory() (Inventory, error) {
	if s.Inventory == nil {
		return nil, errors.New("domain: the service has no Inventory: AWS resources cannot be checked")
	}
	return s.Inventory, nil
}

// ShowProtectable returns one instance the project may protect.
func (s *Service) ShowProtectable(ctx context.Context, projectID, typ, id string) (*ProtectableInstance, error) {
	if _, err := DependentTypes(typ); err != nil {
		return nil, err
	}
	if !ValidInstanceID(typ, id) {
		return nil, invalid("Invalid instance id %q: not an id of type %s.", Clip(id), typ)
	}
	inv, err := s.inventory()
	if err != nil {
		return nil, err
	}
	inst, err := inv.Show(ctx, projectID, typ, id)
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(NotFound, "Protectable instance %s of type %s could not be found.", id, typ)
	}
	if err != nil {
		return nil, inventoryError(err)
	}
	return inst, nil
}

// ListProtectables returns a page of the project's instances of a type.
func (s *Service) ListProtectables(ctx context.Context, q InstanceQuery) (*Page[*ProtectableInstance], error) {
	if _, err := DependentTypes(q.Type); err != nil {
		return nil, err
	}
	if q.Marker != "" && !ValidInstanceID(q.Type, q.Marker) {
		return nil, invalid("Invalid marker %q: it must be an id of type %s.", Clip(q.Marker), q.Type)
	}
	if q.ProjectID == "" {
		return nil, fmt.Errorf("domain: a listing of protectables needs a project")
	}
	inv, err := s.inventory()
	if err != nil {
		return nil, err
	}
	page, err := inv.List(ctx, q)
	if err != nil {
		return nil, inventoryError(err)
	}
	return page, nil
}

// checkOwned refuses a plan whose AWS:: resources are not all protectable
// instances of the project, whatever the plan's provider: one answer for
// missing, not owned, the service's own and unprotectable, so that no
// caller learns whether a resource exists.
func (s *Service) checkOwned(ctx context.Context, projectID string, resources []Resource) error {
	var aws []Resource
	for _, r := range resources {
		if !strings.HasPrefix(r.Type, "AWS::") {
			continue
		}
		if _, ok := protectableTypes[r.Type]; !ok || !ValidInstanceID(r.Type, r.ID) {
			return notProtectable(r)
		}
		aws = append(aws, r)
	}
	if len(aws) == 0 {
		return nil
	}
	inv, err := s.inventory()
	if err != nil {
		return err
	}
	bad, err := inv.Check(ctx, projectID, aws)
	if err != nil {
		return inventoryError(err)
	}
	if len(bad) > 0 {
		return notProtectable(aws[bad[0]])
	}
	return nil
}

func notProtectable(r Resource) *Error {
	return invalid("Resource %s %s is not a protectable instance of this project.", Clip(r.Type), Clip(r.ID))
}
