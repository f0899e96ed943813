package cfn

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

const functionType = "AWS::Serverless::Function"

// Function is an AWS::Serverless::Function with the template's
// Globals.Function merged in as SAM merges it: the function's own scalars
// win, maps are merged, lists are Globals' entries followed by the
// function's.
type Function struct {
	LogicalID     string
	CodeURI       string // as text
	Handler       string
	Runtime       string
	Architectures []string
	BuildMethod   string            // Metadata.BuildMethod
	Env           map[string]string // environment variables with literal values
	EnvRefs       map[string]string // environment variables whose value is !Ref <id>: name → id
	Role          string            // as text; when set, SAM ignores Policies

	// From Policies: inline policy documents give Statements; managed
	// policies and SAM policy templates are listed by name in Policies.
	Policies   []string
	Statements []Statement
}

// Statement is one statement of an inline policy document.
type Statement struct {
	Effect    string
	Actions   []string
	Resources []string // as text, e.g. "!GetAtt PlansTable.Arn"
	Refs      []string // logical ids the resources refer to
}

// Functions returns every AWS::Serverless::Function of the template in
// template order. A statement's Effect or Action that is not a literal is an
// error, and so is a statement with NotAction or NotResource: a test of least privilege could
// not reason about them.
func (t *Template) Functions() ([]Function, error) {
	globals := at(t.root, "Globals", "Function")
	var out []Function
	for _, r := range t.resources {
		if r.typ != functionType {
			continue
		}
		f, err := function(r, globals)
		if err != nil {
			return nil, fmt.Errorf("cfn: function %s: %w", r.id, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func function(r resource, globals *yaml.Node) (Function, error) {
	props := get(r.node, "Properties")
	prop := func(key string) *yaml.Node {
		if n := get(props, key); n != nil {
			return n
		}
		return get(globals, key)
	}
	f := Function{
		LogicalID:   r.id,
		CodeURI:     text(prop("CodeUri")),
		Handler:     text(prop("Handler")),
		Runtime:     text(prop("Runtime")),
		Role:        text(get(props, "Role")),
		Env:         map[string]string{},
		EnvRefs:     map[string]string{},
		BuildMethod: text(at(r.node, "Metadata", "BuildMethod")),
	}
	for _, n := range slices.Concat(items(get(globals, "Architectures")), items(get(props, "Architectures"))) {
		f.Architectures = append(f.Architectures, text(n))
	}

	for _, vars := range []*yaml.Node{at(globals, "Environment", "Variables"), at(props, "Environment", "Variables")} {
		for _, kv := range pairs(vars) {
			name := kv[0].Value
			delete(f.Env, name)
			delete(f.EnvRefs, name)
			if v, ok := literal(kv[1]); ok {
				f.Env[name] = v
			} else if tag, arg := intrinsic(kv[1]); tag == "!Ref" {
				f.EnvRefs[name] = plainText(arg)
			}
		}
	}

	for _, p := range items(get(props, "Policies")) {
		if p.Kind != yaml.MappingNode || isIntrinsic(p) {
			f.Policies = append(f.Policies, text(p)) // a managed policy's name or ARN
			continue
		}
		if get(p, "Statement") == nil {
			for _, kv := range pairs(p) {
				f.Policies = append(f.Policies, kv[0].Value) // a SAM policy template
			}
			continue
		}
		for _, s := range items(get(p, "Statement")) {
			st, err := statement(s)
			if err != nil {
				return f, fmt.Errorf("policies: %w", err)
			}
			f.Statements = append(f.Statements, st)
		}
	}
	return f, nil
}

func statement(n *yaml.Node) (Statement, error) {
	var st Statement
	for _, key := range []string{"NotAction", "NotResource", "NotPrincipal"} {
		if get(n, key) != nil {
			return st, fmt.Errorf("statement uses %s", key)
		}
	}
	effect, err := need(n, "Effect")
	if err != nil {
		return st, fmt.Errorf("statement: %w", err)
	}
	st.Effect = effect
	for _, a := range items(get(n, "Action")) {
		s, ok := literal(a)
		if !ok {
			return st, fmt.Errorf("statement: Action %s, want a literal", text(a))
		}
		st.Actions = append(st.Actions, s)
	}
	if len(st.Actions) == 0 {
		return st, fmt.Errorf("statement has no Action")
	}
	for _, r := range items(get(n, "Resource")) {
		st.Resources = append(st.Resources, text(r))
		st.Refs = appendNew(st.Refs, refs(r)...)
	}
	if len(st.Resources) == 0 {
		return st, fmt.Errorf("statement has no Resource")
	}
	return st, nil
}

// appendNew appends the values of vs that s does not hold yet.
func appendNew(s []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}
