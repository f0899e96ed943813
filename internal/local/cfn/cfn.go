// Package cfn reads the parts of the SAM template (template.yaml) that the
// code and the tests depend on: the DynamoDB tables, and the functions with
// their build settings, environment and IAM statements.
//
// It reads the template as written, before the SAM transform, and resolves no
// intrinsic function. Short-form tags (!Ref, !GetAtt, !Sub, ...) and their
// long forms ({"Ref": ...}, {"Fn::GetAtt": ...}) are rendered as text in
// short form, e.g. "!GetAtt CheckpointsTable.Arn", and the logical ids they
// refer to can be listed. Where a literal is needed (a table's key schema,
// an event's method) and an intrinsic is found, the methods return an error
// rather than guess.
package cfn

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed CloudFormation or SAM template.
type Template struct {
	root      *yaml.Node // the top-level mapping
	resources []resource // in template order
}

type resource struct {
	id   string
	typ  string
	node *yaml.Node // the resource's mapping: Type, Properties, Metadata, ...
}

// Parse parses a template written in YAML. It checks only the structure it
// relies on: a top-level mapping whose Resources, if present, map logical ids
// to mappings with a literal Type. Duplicate mapping keys, which
// CloudFormation rejects, are errors here too.
func Parse(b []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("cfn: %w", err)
	}
	root := deref(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, errors.New("cfn: template is not a mapping")
	}
	if err := checkDuplicateKeys(root, nil); err != nil {
		return nil, err
	}
	t := &Template{root: root}
	res := get(root, "Resources")
	if res == nil {
		return t, nil
	}
	if res.Kind != yaml.MappingNode {
		return nil, errors.New("cfn: Resources is not a mapping")
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id := res.Content[i].Value
		node := deref(res.Content[i+1])
		if node == nil || node.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("cfn: resource %s is not a mapping", id)
		}
		typ, ok := literal(get(node, "Type"))
		if !ok || typ == "" {
			return nil, fmt.Errorf("cfn: resource %s has no literal Type", id)
		}
		t.resources = append(t.resources, resource{id: id, typ: typ, node: node})
	}
	return t, nil
}

// ResourceIDs lists the logical ids of the resources of the given type (for
// example "AWS::DynamoDB::Table"), in template order; all of them when typ is
// empty.
func (t *Template) ResourceIDs(typ string) []string {
	var ids []string
	for _, r := range t.resources {
		if typ == "" || r.typ == typ {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// Lookup returns the text of the value at a path of mapping keys, e.g.
// Lookup("Resources", "HttpApi", "Properties", "Auth", "DefaultAuthorizer")
// or Lookup("Parameters", "LogLevel", "Default"). Intrinsic functions are
// rendered in short form; sequences and mappings in flow style.
func (t *Template) Lookup(path ...string) (string, bool) {
	n := at(t.root, path...)
	if n == nil {
		return "", false
	}
	return text(n), true
}

// Value returns the value at a path of mapping keys (as Lookup's) as plain
// Go values: a mapping as map[string]any, a sequence as []any, a literal
// scalar as its string, and an intrinsic function, wherever it stands, as
// its text in short form ("!Ref HttpApi").
func (t *Template) Value(path ...string) (any, bool) {
	n := at(t.root, path...)
	if n == nil {
		return nil, false
	}
	return value(n), true
}

func value(n *yaml.Node) any {
	n = deref(n)
	if n == nil {
		return nil
	}
	if isIntrinsic(n) {
		return text(n)
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, value(c))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for _, kv := range pairs(n) {
			out[kv[0].Value] = value(kv[1])
		}
		return out
	}
	return n.Value
}

func (t *Template) resource(id string) (resource, bool) {
	for _, r := range t.resources {
		if r.id == id {
			return r, true
		}
	}
	return resource{}, false
}

// deref follows document and alias nodes to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// at follows a path of mapping keys from n.
func at(n *yaml.Node, path ...string) *yaml.Node {
	n = deref(n)
	for _, key := range path {
		if n = get(n, key); n == nil {
			return nil
		}
	}
	return n
}

// pairs returns the key/value pairs of mapping n, values dereferenced.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], deref(n.Content[i+1])})
	}
	return out
}

// items returns the elements of sequence n, or n itself when it is a single
// value (CloudFormation accepts a lone string where a list is expected, as in
// Action and Resource).
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode && !isIntrinsic(n):
		out := make([]*yaml.Node, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, deref(c))
		}
		return out
	default:
		return []*yaml.Node{n}
	}
}

func checkDuplicateKeys(n *yaml.Node, path []string) error {
	switch n.Kind {
	case yaml.MappingNode:
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if seen[k] {
				return fmt.Errorf("cfn: line %d: duplicate key %q in %s", n.Content[i].Line, k, pathText(path))
			}
			seen[k] = true
			if err := checkDuplicateKeys(n.Content[i+1], append(path, k)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkDuplicateKeys(c, append(path, fmt.Sprint(i))); err != nil {
				return err
			}
		}
	}
	return nil
}

func pathText(path []string) string {
	if len(path) == 0 {
		return "the template"
	}
	return strings.Join(path, ".")
}

// customTag reports the tag of a short-form intrinsic ("!Ref"), or "".
func customTag(n *yaml.Node) string {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return n.Tag
	}
	return ""
}

// longForm reports the short-form tag of a long-form intrinsic, a mapping
// with the single key "Ref" or "Fn::<Name>", and its argument.
func longForm(n *yaml.Node) (string, *yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return "", nil
	}
	switch k := n.Content[0].Value; {
	case k == "Ref":
		return "!Ref", deref(n.Content[1])
	case k == "Condition":
		return "!Condition", deref(n.Content[1])
	case strings.HasPrefix(k, "Fn::"):
		return "!" + strings.TrimPrefix(k, "Fn::"), deref(n.Content[1])
	}
	return "", nil
}

func isIntrinsic(n *yaml.Node) bool {
	if customTag(n) != "" {
		return true
	}
	tag, _ := longForm(n)
	return tag != ""
}

// intrinsic returns the short-form tag and the argument of an intrinsic
// function in either form. For the short form the argument is the node
// itself (carrying the tag).
func intrinsic(n *yaml.Node) (string, *yaml.Node) {
	if tag := customTag(n); tag != "" {
		return tag, n
	}
	return longForm(n)
}

// literal returns the value of a scalar that is not an intrinsic function.
func literal(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || customTag(n) != "" {
		return "", false
	}
	return n.Value, true
}

// text renders a value: a literal as itself, an intrinsic in short form
// ("!Ref PlansTable", "!GetAtt PlansTable.Arn", "!Sub ${PlansTable.Arn}/x"),
// sequences and mappings in flow style.
func text(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return ""
	}
	if tag, arg := intrinsic(n); tag != "" {
		if tag == "!GetAtt" && arg.Kind == yaml.SequenceNode {
			parts := make([]string, 0, len(arg.Content))
			for _, c := range arg.Content {
				parts = append(parts, text(c))
			}
			return tag + " " + strings.Join(parts, ".")
		}
		return tag + " " + plainText(arg)
	}
	return plainText(n)
}

// plainText renders n ignoring a short-form tag on n itself.
func plainText(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			parts = append(parts, text(c))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for _, kv := range pairs(n) {
			parts = append(parts, kv[0].Value+": "+text(kv[1]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return ""
}

// subVar matches ${Name} and ${Name.Attr} in an Fn::Sub string; ${!Literal}
// is an escape, not a reference.
var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// refs lists, in order and without repeats, the logical ids (resources or
// parameters) that n refers to through Ref, GetAtt and Sub. Pseudo
// parameters (AWS::Region, ...) and Sub's own variables are left out.
func refs(n *yaml.Node) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !strings.HasPrefix(id, "AWS::") && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n = deref(n)
		if n == nil {
			return
		}
		tag, arg := intrinsic(n)
		switch tag {
		case "!Ref":
			if v, ok := scalarValue(arg); ok {
				add(v)
				return
			}
		case "!GetAtt":
			if v, ok := scalarValue(arg); ok {
				add(strings.SplitN(v, ".", 2)[0])
				return
			}
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				if v, ok := scalarValue(arg.Content[0]); ok {
					add(v)
				}
				for _, c := range arg.Content[1:] {
					walk(c)
				}
				return
			}
		case "!Sub":
			format, vars := arg, (*yaml.Node)(nil)
			if arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 {
				format, vars = deref(arg.Content[0]), deref(arg.Content[1])
			}
			if s, ok := scalarValue(format); ok {
				own := map[string]bool{}
				for _, kv := range pairs(vars) {
					own[kv[0].Value] = true
					walk(kv[1])
				}
				for _, m := range subVar.FindAllStringSubmatch(s, -1) {
					if id := strings.SplitN(m[1], ".", 2)[0]; !own[id] {
						add(id)
					}
				}
				return
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

// scalarValue returns the value of a scalar node, tagged or not.
func scalarValue(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}
