package api

import (
	"karbor/internal/domain"
	"karbor/internal/provider"
)

func (s *Service) listProviders(r *request) (any, error) {
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	// Providers are few and ordered by id; sort parameters are ignored, as
	// upstream did.
	limit, err := parseLimit(q)
	if err != nil {
		return nil, err
	}
	marker, err := parseMarker(q)
	if err != nil {
		return nil, err
	}
	all := provider.All()
	name, desc := q.Get("name"), q.Get("description")
	start := 0
	if marker != "" {
		start = -1
		for i, p := range all {
			if p.ID == marker {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, badRequest("Invalid marker %s: it is not a provider.", marker)
		}
	}
	// The registry is a listing like the stored ones: the same page
	// building, budget included.
	page := &domain.Page[*provider.Provider]{}
	fit := newPageFit(viewProvider)
	for _, p := range all[start:] {
		if (name != "" && p.Name != name) || (desc != "" && p.Description != desc) {
			continue
		}
		if len(page.Items) == limit || !fit.fits(p) {
			page.More, page.NextMarker = true, page.Items[len(page.Items)-1].ID
			break
		}
		page.Items = append(page.Items, p)
	}
	return fit.body(r, "providers", r.URL.EscapedPath(), page)
}

func (s *Service) showProvider(r *request) (any, error) {
	p, err := pathProvider(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"provider": viewProvider(p)}, nil
}
