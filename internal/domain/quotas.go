package domain

import (
	"context"
	"fmt"
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
