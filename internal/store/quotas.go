package store

import (
	"context"

	"karbor/internal/domain"
)

// Quotas, in the QuotasTable (WithQuotas).

// WithQuotas sets the table of quotas and returns s.
func (s *Store) WithQuotas(table string) *Store {
	s.quotasTable = table
	return s
}

func (s *Store) GetQuota(ctx context.Context, projectID string) (*domain.ProjectQuota, error) {
	return nil, errNotImplemented
}
func (s *Store) UpdateQuota(ctx context.Context, projectID string, u domain.QuotaUpdate) (*domain.ProjectQuota, error) {
	return nil, errNotImplemented
}
func (s *Store) DeleteQuota(ctx context.Context, projectID string) error { return errNotImplemented }
func (s *Store) GetQuotaClass(ctx context.Context, name string) (domain.Limits, error) {
	return nil, errNotImplemented
}
func (s *Store) UpdateQuotaClass(ctx context.Context, name string, u domain.QuotaUpdate) (domain.Limits, error) {
	return nil, errNotImplemented
}
