package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Quotas (CONTRACT.md "Quotas"): per project, a limit on its plans and on
// its checkpoints not deleted. The store keeps each project's usage counts
// in one item of the QuotasTable, changed in the same transaction as the
// plan or checkpoint (create, plan delete, a checkpoint's move into
// deleted), conditional on the count being below the limit when the limit
// is not -1: N parallel creates at the limit let exactly the remaining
// number through. The same item holds the project's overrides; the class
// "default" is another item.

// QuotaResource is a resource a quota limits.
type QuotaResource string

// Quota resources.
const (
	QuotaPlans       QuotaResource = "plans"
	QuotaCheckpoints QuotaResource = "checkpoints"
)

// QuotaResources lists every quota resource, in the order they are shown.
var QuotaResources = []QuotaResource{QuotaPlans, QuotaCheckpoints}

// Deployment defaults of the limits (-1: unlimited).
var DefaultQuotas = map[QuotaResource]int64{QuotaPlans: 50, QuotaCheckpoints: -1}

// DefaultQuotaClass is the only quota class.
const DefaultQuotaClass = "default"

// Limits are limits by resource; a resource absent has none set here.
type Limits map[QuotaResource]int64

// ProjectQuota is a project's quota item: its overrides and its counts.
type ProjectQuota struct {
	ProjectID string
	Overrides Limits
	InUse     map[QuotaResource]int64
}

// QuotaUpdate sets (value) or removes (nil) limits; resources absent stay.
type QuotaUpdate map[QuotaResource]*int64

// QuotaStore is what quotas need of storage.
type QuotaStore interface {
	// GetQuota returns a project's overrides and counts (empty when the
	// project has no item).
	GetQuota(ctx context.Context, projectID string) (*ProjectQuota, error)
	// UpdateQuota applies u to the project's overrides in one write.
	UpdateQuota(ctx context.Context, projectID string, u QuotaUpdate) (*ProjectQuota, error)
	// DeleteQuota removes the project's overrides, keeping its counts.
	DeleteQuota(ctx context.Context, projectID string) error
	// GetQuotaClass returns the class's values (empty when none is set).
	GetQuotaClass(ctx context.Context, name string) (Limits, error)
	UpdateQuotaClass(ctx context.Context, name string, u QuotaUpdate) (Limits, error)
}

// OverLimitError is a create refused by a quota; it becomes 413 overLimit.
type OverLimitError struct {
	Resource QuotaResource
	Limit    int64
}

func (e *OverLimitError) Error() string {
	return fmt.Sprintf("Maximum number of %s allowed (%d) exceeded", e.Resource, e.Limit)
}

// Refusal is the caller's answer: 413 with upstream's text.
func (e *OverLimitError) Refusal() *Error {
	return &Error{Kind: OverLimit, Message: e.Error(), Cause: e}
}

// MaxQuotaLimit is the largest limit a body may set.
const MaxQuotaLimit = 2147483647

// overLimit turns a store's *OverLimitError into its refusal (413); other
// errors pass unchanged.
func overLimit(err error) error {
	var over *OverLimitError
	if errors.As(err, &over) {
		return over.Refusal()
	}
	return err
}

// ParseQuotaLimit reads one limit of a quota or quota class body: a JSON
// integer or a string holding one, -1 to MaxQuotaLimit; null (nil) removes
// the value.
func ParseQuotaLimit(r QuotaResource, raw json.RawMessage) (*int64, error) {
	text := strings.TrimSpace(string(raw))
	if text == "null" {
		return nil, nil
	}
	shown := text
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text, shown = s, s
	}
	n, err := strconv.ParseInt(text, 10, 64)
	var numErr *strconv.NumError
	switch {
	case errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) && strings.HasPrefix(text, "-"):
		n = -2 // below -1, however far
	case errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange):
		n = MaxQuotaLimit + 1
	case err != nil:
		return nil, invalid("Quota '%s' for %s should be integer.", Clip(shown), r)
	}
	if n < -1 {
		return nil, invalid("Quota limit must be -1 or greater.")
	}
	if n > MaxQuotaLimit {
		return nil, invalid("Quota limit must be %d or less.", MaxQuotaLimit)
	}
	return &n, nil
}

// QuotaClassNotFound refuses a class other than DefaultQuotaClass.
func QuotaClassNotFound(name string) error {
	if name == DefaultQuotaClass {
		return nil
	}
	return refuse(NotFound, "Quota class %s could not be found.", Clip(name))
}

// Effective is each resource's limit: the override, else the class's
// value, else the deployment default.
func Effective(overrides, class Limits) Limits {
	out := Limits{}
	for _, r := range QuotaResources {
		if n, ok := overrides[r]; ok {
			out[r] = n
		} else if n, ok := class[r]; ok {
			out[r] = n
		} else {
			out[r] = DefaultQuotas[r]
		}
	}
	return out
}

// QuotaDefaults are the limits of a project without overrides: the
// default class's values, else the deployment defaults.
func (s *Service) QuotaDefaults(ctx context.Context) (Limits, error) {
	class, err := s.Store.GetQuotaClass(ctx, DefaultQuotaClass)
	if err != nil {
		return nil, err
	}
	return Effective(nil, class), nil
}

// Quota returns a project's effective limits and its counts.
func (s *Service) Quota(ctx context.Context, projectID string) (Limits, *ProjectQuota, error) {
	q, err := s.Store.GetQuota(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	defaults, err := s.QuotaDefaults(ctx)
	if err != nil {
		return nil, nil, err
	}
	return Effective(q.Overrides, defaults), q, nil
}

// UpdateQuota applies u to a project's overrides and returns its effective
// limits.
func (s *Service) UpdateQuota(ctx context.Context, projectID string, u QuotaUpdate) (Limits, error) {
	q, err := s.Store.UpdateQuota(ctx, projectID, u)
	if err != nil {
		return nil, err
	}
	defaults, err := s.QuotaDefaults(ctx)
	if err != nil {
		return nil, err
	}
	return Effective(q.Overrides, defaults), nil
}

// QuotaClass returns a class's effective values (404 for a class other
// than default).
func (s *Service) QuotaClass(ctx context.Context, name string) (Limits, error) {
	if err := QuotaClassNotFound(name); err != nil {
		return nil, err
	}
	return s.QuotaDefaults(ctx)
}

// UpdateQuotaClass applies u to a class and returns its effective values.
func (s *Service) UpdateQuotaClass(ctx context.Context, name string, u QuotaUpdate) (Limits, error) {
	if err := QuotaClassNotFound(name); err != nil {
		return nil, err
	}
	class, err := s.Store.UpdateQuotaClass(ctx, name, u)
	if err != nil {
		return nil, err
	}
	return Effective(nil, class), nil
}
