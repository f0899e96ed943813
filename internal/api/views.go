package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

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

// PageBytes is the byte budget of a listing page. Lambda refuses a
// response payload over 6 MB, and the payload carries the body as a JSON
// string, escaped: a quote becomes two bytes, '<', '>' and '&' six. So the
// budget counts each item's JSON as it will be in the payload
// (payloadSize), and stops below 6 MB with room for the next link, the
// headers and the rest of the envelope.
const PageBytes = 5_000_000

// pageFit builds every listing page's body within PageBytes: the store
// asks fits about each item in order (domain.Listing.Fits), and the page ends
// before the first that would take the page past the budget. Each item is
// encoded once, here, as the response encodes it.
type pageFit[T, V any] struct {
	view  func(T) V
	items []json.RawMessage
	size  int
	err   error
}

// newPageFit starts a page; an empty page is an empty list, not null.
func newPageFit[T, V any](view func(T) V) *pageFit[T, V] {
	return &pageFit[T, V]{view: view, items: []json.RawMessage{}}
}

// fits encodes item and reports whether it fits the page; the first item
// always does (no item is near the budget: a stored item is at most
// 400 KB).
func (f *pageFit[T, V]) fits(item any) bool {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as writeJSON
	if err := enc.Encode(f.view(item.(T))); err != nil {
		f.err = err
		return false
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	n := payloadSize(b) + 1 // and a comma
	if len(f.items) > 0 && f.size+n > PageBytes {
		return false
	}
	f.items, f.size = append(f.items, b), f.size+n
	return true
}

// body is the listing's answer: the page's items under key, and a next
// link when more items follow.
func (f *pageFit[T, V]) body(r *request, key, path string, page *domain.Page[T]) (map[string]any, error) {
	if f.err != nil {
		return nil, f.err
	}
	if len(f.items) != len(page.Items) {
		return nil, fmt.Errorf("list %s: %d items encoded for a page of %d", key, len(f.items), len(page.Items))
	}
	out := map[string]any{key: f.items}
	if page.More {
		out[key+"_links"] = nextLink(r, path, page.NextMarker)
	}
	return out, nil
}

// payloadSize is the length of b once written into a JSON string by
// encoding/json with HTML escaping, as aws-lambda-go writes the response
// body into the Lambda payload.
func payloadSize(b []byte) int {
	n := 0
	for _, c := range string(b) {
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			n += 2
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' || c == utf8.RuneError:
			n += 6
		default:
			n += utf8.RuneLen(c)
		}
	}
	return n
}

type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// nextLink is the absolute URL of the same listing (at path, with ids
// spelled as returned), with every query parameter of the request kept in
// its order and marker set: the last id of this page. Its scheme and host
// are the API's own (Service.BaseURL), never the request's Host or
// X-Forwarded-* headers, which the caller writes.
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
