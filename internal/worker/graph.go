package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"karbor/internal/model"
	"karbor/internal/provider"
)

// node is one resource's entry in resource_graph: Karbor's
// [type, id, name, extra_info], where extra_info records the outcome.
type node struct {
	Resource model.Resource
	Info     map[string]any
}

// graph is Karbor's serialized resource graph: nodes by hex id, then the
// adjacency list. Plans here list resources without dependencies, so the
// adjacency list is empty.
type graph []node

// encode returns the graph as the JSON string the API shows.
func (g graph) encode() (string, error) {
	nodes := make(map[string][4]any, len(g))
	for i, n := range g {
		nodes[fmt.Sprintf("0x%x", i)] = [4]any{n.Resource.Type, n.Resource.ID, n.Resource.Name, n.Info}
	}
	b, err := json.Marshal([]any{nodes, [][]any{}})
	return string(b), err
}

// decodeGraph reads a resource_graph back; each node's info by type and id.
func decodeGraph(s *string) map[[2]string]map[string]any {
	out := map[[2]string]map[string]any{}
	if s == nil {
		return out
	}
	var raw []json.RawMessage
	if json.Unmarshal([]byte(*s), &raw) != nil || len(raw) == 0 {
		return out
	}
	var nodes map[string][]json.RawMessage
	if json.Unmarshal(raw[0], &nodes) != nil {
		return out
	}
	for _, n := range nodes {
		if len(n) < 4 {
			continue
		}
		var typ, id string
		var info map[string]any
		_ = json.Unmarshal(n[0], &typ)
		_ = json.Unmarshal(n[1], &id)
		_ = json.Unmarshal(n[3], &info)
		if info == nil {
			info = map[string]any{}
		}
		out[[2]string{typ, id}] = info
	}
	return out
}

// baseInfo starts a node's info from the resource's own extra_info.
func baseInfo(r model.Resource) map[string]any {
	info := map[string]any{}
	if len(r.ExtraInfo) > 0 {
		_ = json.Unmarshal(r.ExtraInfo, &info)
	}
	return info
}

// Status values recorded per resource in the graph.
const (
	resourceProtected = "available"
	resourceFailed    = "error"
	resourceDeleted   = "deleted"
)

func protectedInfo(r model.Resource, saved provider.Saved) map[string]any {
	info := baseInfo(r)
	for k, v := range saved {
		info[k] = v
	}
	info["status"] = resourceProtected
	return info
}

func failedInfo(r model.Resource, err error) map[string]any {
	info := baseInfo(r)
	info["status"] = resourceFailed
	info["error"] = reason(err)
	return info
}

// reason is an error's text for the API: the plugin's own words and the AWS
// error code and message, without the SDK's request details.
func reason(err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	short := ae.ErrorCode() + ": " + ae.ErrorMessage()
	if i := strings.Index(err.Error(), ": operation error"); i >= 0 {
		return err.Error()[:i] + ": " + short
	}
	return short
}
