package api

import (
	"encoding/json"
	"net/url"
	"strings"

	"karbor/internal/domain"
	"karbor/internal/provider"
)

type resourceView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	ExtraInfo json.RawMessage `json:"extra_info,omitempty"`
}

func resourceViews(rs []domain.Resource) []resourceView {
	out := make([]resourceView, 0, len(rs))
	for _, r := range rs {
		out = append(out, resourceView(r))
	}
	return out
}

type protectionPlanView struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	ProviderID string         `json:"provider_id"`
	Resources  []resourceView `json:"resources"`
}

type checkpointView struct {
	ID             string             `json:"id"`
	ProjectID      string             `json:"project_id"`
	Status         domain.Status      `json:"status"`
	ProtectionPlan protectionPlanView `json:"protection_plan"`
	ResourceGraph  *string            `json:"resource_graph"`
	CreatedAt      string             `json:"created_at"`
	ExtraInfo      json.RawMessage    `json:"extra_info"`
}

func viewCheckpoint(c *domain.Checkpoint) checkpointView {
	extra := c.ExtraInfo
	if len(extra) == 0 {
		extra = json.RawMessage(`{}`)
	}
	return checkpointView{
		ID:        c.ID,
		ProjectID: c.ProjectID,
		Status:    c.Status,
		ProtectionPlan: protectionPlanView{
			ID:         c.Plan.ID,
			Name:       c.Plan.Name,
			ProviderID: c.Plan.ProviderID,
			Resources:  resourceViews(c.Plan.Resources),
		},
		ResourceGraph: c.ResourceGraph,
		CreatedAt:     domain.Timestamp(c.CreatedAt),
		ExtraInfo:     extra,
	}
}

type planView struct {
	ID          string                     `json:"id"`
	Name        string                     `json:"name"`
	Description *string                    `json:"description"`
	Resources   []resourceView             `json:"resources"`
	ProviderID  string                     `json:"provider_id"`
	Status      string                     `json:"status"`
	Parameters  map[string]json.RawMessage `json:"parameters"`
	ProjectID   string                     `json:"project_id"`
}

func viewPlan(p *domain.Plan) planView {
	params := p.Parameters
	if params == nil {
		params = map[string]json.RawMessage{}
	}
	return planView{
		ID:          p.ID,
		Name:        p.Name,
		Description: p.Description,
		Resources:   resourceViews(p.Resources),
		ProviderID:  p.ProviderID,
		Status:      p.Status,
		Parameters:  params,
		ProjectID:   p.ProjectID,
	}
}

type providerView struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	Description        string          `json:"description"`
	ExtendedInfoSchema provider.Schema `json:"extended_info_schema"`
}

func viewProvider(p *provider.Provider) providerView {
	return providerView{ID: p.ID, Name: p.Name, Description: p.Description, ExtendedInfoSchema: p.Schema}
}

// listBody is a listing's answer: the page's items under key, and a next
// link when more items follow.
func listBody[T, V any](r *request, key, path string, page *domain.Page[T], view func(T) V) map[string]any {
	views := make([]V, 0, len(page.Items))
	for _, item := range page.Items {
		views = append(views, view(item))
	}
	out := map[string]any{key: views}
	if page.More {
		out[key+"_links"] = nextLink(r, path, page.NextMarker)
	}
	return out
}

type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// nextLink is the absolute URL of the same listing (at path, with ids
// spelled as returned), with every query parameter of the request kept in
// its order and marker set: the last id of this page, or the store's
// NextMarker of a filtered page cut short. Its scheme and host are the
// API's own (Service.BaseURL), never the request's Host or X-Forwarded-*
// headers, which the caller writes.
func nextLink(r *request, path, marker string) []link {
	var params []string
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if name, err := url.QueryUnescape(k); err == nil && name == "marker" {
			continue
		}
		params = append(params, kv)
	}
	params = append(params, "marker="+url.QueryEscape(marker))
	href := r.base + path + "?" + strings.Join(params, "&")
	return []link{{Rel: "next", Href: href}}
}
