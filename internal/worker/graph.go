package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/provider"
)

// node is one resource's entry in resource_graph: Karbor's
// [type, id, name, extra_info], where extra_info records the outcome.
type node struct {
	Resource domain.Resource
	Info     map[string]any
	// Children are the indexes in the graph of the resources protected as
	// part of this one (an instance's attached volumes).
	Children []int
}

// graph is Karbor's serialized resource graph: nodes by hex id ("0x" and
// the node's index), then the adjacency list: [parent, [children...]] for
// each node with children, in index order.
type graph []node

func hexID(i int) string { return fmt.Sprintf("0x%x", i) }

// edges is the graph's adjacency list, never null.
func (g graph) edges() [][]any {
	out := [][]any{}
	for i, n := range g {
		if len(n.Children) == 0 {
			continue
		}
		children := make([]string, len(n.Children))
		for k, c := range n.Children {
			children[k] = hexID(c)
		}
		out = append(out, []any{hexID(i), children})
	}
	return out
}

// encode returns the graph as the JSON string the API shows, and the
// store keeps: without HTML escaping, each node's info bounded (boundInfo).
func (g graph) encode() (string, error) {
	nodes := make(map[string][4]any, len(g))
	for i, n := range g {
		nodes[hexID(i)] = [4]any{n.Resource.Type, n.Resource.ID, n.Resource.Name, boundInfo(n.Info)}
	}
	b, err := domain.MarshalJSON([]any{nodes, g.edges()})
	return string(b), err
}

// boundInfo bounds what the service records for one resource, so that a
// checkpoint's graph fits its item whatever the plugins and AWS say: every
// text is cut to domain.MaxInfoText bytes as stored, and an info still over
// domain.MaxNodeInfoBytes keeps only its status, error texts and image id
// (the plugins find what they produced by its tags and names, not by the
// graph).
func boundInfo(info map[string]any) map[string]any {
	out := make(map[string]any, len(info))
	for k, v := range info {
		if s, ok := v.(string); ok {
			v = domain.ClipJSON(s, domain.MaxInfoText)
		}
		out[k] = v
	}
	if b, err := domain.MarshalJSON(out); err == nil && len(b) <= domain.MaxNodeInfoBytes {
		return out
	}
	// An instance's restore info grows with its volumes (past about five
	// of them): its image id stays; each volume's snapshot id is in the
	// volume's own node.
	small := map[string]any{}
	for _, k := range []string{"status", "error", "delete_error", "image_id"} {
		if s, ok := out[k].(string); ok {
			small[k] = s
		}
	}
	if b, err := domain.MarshalJSON(small); err != nil || len(b) > domain.MaxNodeInfoBytes {
		return map[string]any{"status": resourceFailed, "error": "the outcome of this resource is too large to record"}
	}
	return small
}

// tooLargeReason is what a node records when the checkpoint's outcome
// could not be stored whole.
const tooLargeReason = "the checkpoint's outcome is too large to store (DynamoDB's 400 KB item limit); it was not recorded"

// smaller returns ever smaller forms of a graph whose item DynamoDB
// refused for its size: every node failed with tooLargeReason; the same
// without resource names; no nodes at all. The edges stay while there are
// nodes. Each ends the checkpoint in its move's failure status.
func (g graph) smaller() []string {
	var out []string
	for _, keepNames := range []bool{true, false} {
		nodes := make(map[string][4]any, len(g))
		for i, n := range g {
			name := n.Resource.Name
			if !keepNames {
				name = ""
			}
			nodes[hexID(i)] = [4]any{n.Resource.Type, n.Resource.ID, name,
				map[string]any{"status": resourceFailed, "error": tooLargeReason}}
		}
		if b, err := domain.MarshalJSON([]any{nodes, g.edges()}); err == nil {
			out = append(out, string(b))
		}
	}
	return append(out, `[{},[]]`)
}

// decodeGraph reads a resource_graph back: its nodes in index order, with
// their children. A graph it cannot read gives none.
func decodeGraph(s *string) graph {
	if s == nil {
		return nil
	}
	var raw []json.RawMessage
	if json.Unmarshal([]byte(*s), &raw) != nil || len(raw) == 0 {
		return nil
	}
	var nodes map[string][]json.RawMessage
	if json.Unmarshal(raw[0], &nodes) != nil {
		return nil
	}
	keys := make([]string, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	index := func(k string) int64 {
		n, err := strconv.ParseInt(strings.TrimPrefix(k, "0x"), 16, 64)
		if err != nil {
			return -1
		}
		return n
	}
	sort.Slice(keys, func(i, j int) bool { return index(keys[i]) < index(keys[j]) })
	var g graph
	at := map[string]int{}
	for _, k := range keys {
		n := nodes[k]
		if len(n) < 4 {
			continue
		}
		var r domain.Resource
		var info map[string]any
		_ = json.Unmarshal(n[0], &r.Type)
		_ = json.Unmarshal(n[1], &r.ID)
		_ = json.Unmarshal(n[2], &r.Name)
		_ = json.Unmarshal(n[3], &info)
		if info == nil {
			info = map[string]any{}
		}
		at[k] = len(g)
		g = append(g, node{Resource: r, Info: info})
	}
	var edges [][]json.RawMessage
	if len(raw) > 1 && json.Unmarshal(raw[1], &edges) == nil {
		for _, e := range edges {
			var parent string
			var children []string
			if len(e) != 2 || json.Unmarshal(e[0], &parent) != nil || json.Unmarshal(e[1], &children) != nil {
				continue
			}
			p, ok := at[parent]
			if !ok {
				continue
			}
			for _, c := range children {
				if ci, ok := at[c]; ok {
					g[p].Children = append(g[p].Children, ci)
				}
			}
		}
	}
	return g
}

// withPlan adds a node for each plan resource the graph lacks (a graph
// written smaller, or none yet).
func (g graph) withPlan(resources []domain.Resource) graph {
	seen := map[[2]string]bool{}
	for _, n := range g {
		seen[[2]string{n.Resource.Type, n.Resource.ID}] = true
	}
	for _, r := range resources {
		if !seen[[2]string{r.Type, r.ID}] {
			g = append(g, node{Resource: r, Info: baseInfo(r)})
		}
	}
	return g
}

// baseInfo starts a node's info. It holds only what the service writes:
// the resource's own extra_info stays in protection_plan, so that nothing a
// caller wrote can pass for a backup id or a status.
func baseInfo(domain.Resource) map[string]any { return map[string]any{} }

// Status values recorded per resource in the graph.
const (
	resourceProtected = "available"
	resourceFailed    = "error"
	resourceDeleted   = "deleted"
)

func protectedInfo(r domain.Resource, saved provider.Saved) map[string]any {
	info := baseInfo(r)
	for k, v := range saved {
		info[k] = v
	}
	info["status"] = resourceProtected
	return info
}

func failedInfo(r domain.Resource, err error) map[string]any {
	info := baseInfo(r)
	info["status"] = resourceFailed
	info["error"] = reason(err)
	return info
}

// reason is an error's text for the API: the plugin's own words and the AWS
// error code and message, without the SDK's request details. A refusal's
// message names the worker's role and account, which no tenant should read:
// it is replaced, and the full error stays in the log.
func reason(err error) string {
	const max = 512
	text := err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if denied(ae.ErrorCode()) {
			msg = "the service is not allowed to do this; its operators can see why in its logs"
		}
		short := ae.ErrorCode() + ": " + msg
		text = short
		if i := strings.Index(err.Error(), ": operation error"); i >= 0 {
			text = err.Error()[:i] + ": " + short
		}
	}
	// Cut as stored: a text of control characters takes 6 bytes each.
	return domain.ClipJSON(text, max)
}

func denied(code string) bool {
	switch code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException", "InvalidClientTokenId":
		return true
	}
	return false
}

// transient reports an error that may pass if the record is retried later:
// throttling, limits on concurrent work, AWS's own failures, a deadline.
// The worker hands such a record back to the stream instead of ending the
// checkpoint in error; if it never passes, the sweeper ends it.
func transient(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, provider.ErrNotYet) || inventory.Transient(err)
}
