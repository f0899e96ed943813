package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"karbor/internal/domain"
)

type instanceView struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	ExtraInfo  map[string]any  `json:"extra_info"`
	Dependents *[]instanceView `json:"dependent_resources,omitempty"`
}

// viewInstance shows an instance with its dependents, which are shown
// without theirs.
func viewInstance(i *domain.ProtectableInstance) instanceView {
	v := instanceView{ID: i.ID, Type: i.Type, Name: i.Name, ExtraInfo: i.ExtraInfo}
	deps := make([]instanceView, 0, len(i.Dependents))
	for _, d := range i.Dependents {
		deps = append(deps, instanceView{ID: d.ID, Type: d.Type, Name: d.Name, ExtraInfo: d.ExtraInfo})
	}
	v.Dependents = &deps
	if v.ExtraInfo == nil {
		v.ExtraInfo = map[string]any{}
	}
	return v
}

func (s *Service) listProtectableTypes(r *request) (any, error) {
	return map[string]any{"protectable_type": domain.ProtectableTypes()}, nil
}

// pathProtectableType reads the path's type, matched exactly (the path is
// percent-decoded: AWS%3A%3AEC2%3A%3AVolume is AWS::EC2::Volume); an
// unknown one is a 404.
func pathProtectableType(r *request) (string, []string, error) {
	typ := r.PathValue("protectable_type")
	deps, err := domain.DependentTypes(typ)
	return typ, deps, err
}

func (s *Service) showProtectableType(r *request) (any, error) {
	typ, deps, err := pathProtectableType(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"protectable_type": map[string]any{"name": typ, "dependent_types": deps}}, nil
}

func (s *Service) listProtectableInstances(r *request) (any, error) {
	typ, _, err := pathProtectableType(r)
	if err != nil {
		return nil, err
	}
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	iq := domain.InstanceQuery{Type: typ}
	iq.ProjectID = r.tenant
	if iq.Limit, err = parseLimit(q); err != nil {
		return nil, err
	}
	if iq.Ascending, err = parseIDSort(q); err != nil {
		return nil, err
	}
	if m, ok := q["marker"]; ok {
		if !domain.ValidInstanceID(typ, m[0]) {
			return nil, badRequest("Invalid marker %q: it must be the id of an instance of type %s.", domain.Clip(m[0]), typ)
		}
		iq.Marker = m[0]
	}
	if err := checkInstanceParameters(q); err != nil {
		return nil, err
	}
	fit := newPageFit(viewInstance)
	iq.Fits = fit.fits
	page, err := s.Domain.ListProtectables(r.ctx(), iq)
	if err != nil {
		return nil, err
	}
	return fit.body(r, "instances", r.URL.EscapedPath(), page)
}

func (s *Service) showProtectableInstance(r *request) (any, error) {
	typ, _, err := pathProtectableType(r)
	if err != nil {
		return nil, err
	}
	q, err := query(r)
	if err != nil {
		return nil, err
	}
	if err := checkInstanceParameters(q); err != nil {
		return nil, err
	}
	inst, err := s.Domain.ShowProtectable(r.ctx(), r.tenant, typ, r.PathValue("resource_id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"instance": viewInstance(inst)}, nil
}

// parseIDSort reads sort (id[:asc|:desc]) or sort_key/sort_dir: instances
// are ordered by id only, ascending by default.
func parseIDSort(q map[string][]string) (ascending bool, err error) {
	_, hasSort := q["sort"]
	_, hasKey := q["sort_key"]
	_, hasDir := q["sort_dir"]
	if hasSort && (hasKey || hasDir) {
		return false, badRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
	}
	key, dir := "id", "asc"
	if hasSort {
		k, d, found := strings.Cut(strings.TrimSpace(q["sort"][0]), ":")
		key = strings.TrimSpace(k)
		if found {
			dir = strings.TrimSpace(d)
		}
	}
	if hasKey {
		key = strings.TrimSpace(q["sort_key"][0])
	}
	if hasDir {
		dir = strings.TrimSpace(q["sort_dir"][0])
	}
	if key != "id" {
		return false, badRequest("Invalid sort key %q: instances sort by id only.", domain.Clip(key))
	}
	switch strings.ToLower(dir) {
	case "asc":
		return true, nil
	case "desc":
		return false, nil
	}
	return false, badRequest("Invalid sort direction %q: use asc or desc.", domain.Clip(dir))
}

// checkInstanceParameters checks the parameters query parameter: what the
// Karbor client sends, the Python literal of a dict of strings to strings
// or None, or a JSON object. No key has an effect on the AWS types.
func checkInstanceParameters(q map[string][]string) error {
	vals, ok := q["parameters"]
	if !ok {
		return nil
	}
	if _, ok := ParseParameters(vals[0]); !ok {
		return badRequest("The parameters must be a dict.")
	}
	return nil
}

// ParseParameters reads a dict of string keys to string or null values:
// a JSON object, or a Python dict literal ({'a': 'b', "c": None}; single or
// double quotes, Python's backslash escapes). A nil value is None / null.
func ParseParameters(s string) (map[string]*string, bool) {
	s = strings.TrimSpace(s)
	var raw map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &raw) == nil && raw != nil {
		out := map[string]*string{}
		for k, v := range raw {
			if isNull(v) {
				out[k] = nil
				continue
			}
			var str string
			if json.Unmarshal(v, &str) != nil {
				return nil, false
			}
			out[k] = &str
		}
		return out, true
	}
	p := &pyParser{s: s}
	return p.dict()
}

// pyParser reads the subset of Python literals the parameters use.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) dict() (map[string]*string, bool) {
	out := map[string]*string{}
	if !p.eat('{') {
		return nil, false
	}
	for {
		if p.eat('}') {
			break
		}
		k, ok := p.str()
		if !ok || !p.eat(':') {
			return nil, false
		}
		p.space()
		if strings.HasPrefix(p.s[p.i:], "None") {
			p.i += len("None")
			out[k] = nil
		} else {
			v, ok := p.str()
			if !ok {
				return nil, false
			}
			out[k] = &v
		}
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return nil, false
		}
		break
	}
	p.space()
	return out, p.i == len(p.s)
}

// str reads a quoted string with Python's escapes.
func (p *pyParser) str() (string, bool) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	quote := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == quote:
			p.i++
			return b.String(), true
		case c == '\n':
			return "", false
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++ // the backslash
		if p.i >= len(p.s) {
			return "", false
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if p.i+n > len(p.s) {
				return "", false
			}
			v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", false
			}
			b.WriteRune(rune(v))
			p.i += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := p.i - 1
			for p.i < len(p.s) && p.i-j < 3 && p.s[p.i] >= '0' && p.s[p.i] <= '7' {
				p.i++
			}
			v, _ := strconv.ParseUint(p.s[j:p.i], 8, 32)
			b.WriteRune(rune(v))
		default:
			// Python keeps an unknown escape as written.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return "", false
}
