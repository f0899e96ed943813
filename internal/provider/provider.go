// Package provider is the registry of protection providers. Providers are
// configuration compiled into the service, not data: adding one is a new file
// that defines it and one line in the registry below.
package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"karbor/internal/domain"
)

// registry lists every provider, one line each.
var registry = []*Provider{
	noop,
	awsProvider,
	osInfra,
}

// Schema is a provider's extended_info_schema: JSON schemas per resource type.
type Schema struct {
	Options   map[string]json.RawMessage `json:"options_schema"`
	Restore   map[string]json.RawMessage `json:"restore_schema"`
	SavedInfo map[string]json.RawMessage `json:"saved_info_schema"`
}

// Provider is a protection provider.
type Provider struct {
	ID          string
	Name        string
	Description string
	Schema      Schema
	// AcceptsAnyType: the provider protects every resource type (No-Op).
	AcceptsAnyType bool

	compileOnce sync.Once
	compiled    map[string]*schema
	compileErr  error
}

// Checkpoint is the checkpoint a plugin call works for.
type Checkpoint struct {
	ID        string
	ProjectID string
	// CreatedAt bounds what protection produced: nothing of this
	// checkpoint's is older (a listing may start there).
	CreatedAt time.Time
}

// Item is one resource to protect, with its parameters (its type's,
// overridden by its own).
type Item struct {
	Resource domain.Resource
	Params   json.RawMessage
}

// Outcome is what protecting one resource gave.
type Outcome struct {
	Saved Saved
	// Dependents are resources protected as part of this one (an
	// instance's attached volumes, captured by its image): the graph shows
	// them as its children, and a plan that names one of them too has it
	// protected once, here.
	Dependents []Dependent
	Err        error
}

// Dependent is a resource protected as part of another, and what its
// protection produced.
type Dependent struct {
	Resource domain.Resource
	Saved    Saved
}

// Saved is what protection produced for one resource (a backup's ARN, a
// snapshot's id). It is recorded in that resource's node of resource_graph.
type Saved map[string]any

// ErrNotYet is a plugin's outcome for work AWS has not finished within the
// invocation (an image still pending): the worker hands the record back to
// the stream, and the plugin finds the same work again on the redelivery.
var ErrNotYet = errors.New("not finished yet")

// Plugin protects resources of one type: all of a checkpoint's resources of
// that type in one call, so that it can find what exists already with a
// few listings per checkpoint, not one per resource. Both calls must be
// idempotent: the stream delivers a checkpoint at least once, and a worker
// may crash between a plugin call and the status write. Called again for
// the same checkpoint, Protect returns what the first call produced instead
// of producing another, and Delete succeeds when there is nothing left.
//
// Delete finds what to delete itself, by what marks it as this checkpoint's
// (a name, a tag), never by an id it is handed: a graph can carry ids that
// did not come from this checkpoint, and deleting by them would let one
// project delete another's backups.
type Plugin interface {
	// Protect returns one outcome per item, in order.
	Protect(ctx context.Context, c Checkpoint, items []Item) []Outcome
	// Delete returns one error (or nil) per resource, in order.
	Delete(ctx context.Context, c Checkpoint, resources []domain.Resource) []error
}

// Accepts reports whether the provider can protect resources of this type.
func (p *Provider) Accepts(resourceType string) bool {
	if p.AcceptsAnyType {
		return true
	}
	_, ok := p.Schema.Options[resourceType]
	return ok
}

// CheckParameters validates the parameters of one resource type.
func (p *Provider) CheckParameters(resourceType string, params json.RawMessage) error {
	if !p.Accepts(resourceType) {
		return fmt.Errorf("resource type %s is not supported by provider %s", resourceType, p.Name)
	}
	p.compileOnce.Do(p.compileSchemas)
	if p.compileErr != nil {
		return p.compileErr
	}
	sch, ok := p.compiled[resourceType]
	if !ok {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("parameters are not JSON: %w", err)
	}
	if errs := sch.validate(v, ""); len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// compileSchemas compiles the options schemas on first use, not at start:
// most functions never validate parameters.
func (p *Provider) compileSchemas() {
	p.compiled = map[string]*schema{}
	for typ, raw := range p.Schema.Options {
		sch, err := compileSchema(raw)
		if err != nil {
			p.compileErr = fmt.Errorf("options schema of %s: %w", typ, err)
			return
		}
		p.compiled[typ] = sch
	}
}

var byID = func() map[string]*Provider {
	m := make(map[string]*Provider, len(registry))
	for _, p := range registry {
		if _, dup := m[p.ID]; dup {
			panic("provider registered twice: " + p.ID)
		}
		m[p.ID] = p
	}
	return m
}()

// Get returns the provider with this (lower-case, dashed) id.
func Get(id string) (*Provider, bool) {
	p, ok := byID[id]
	return p, ok
}

// All returns every provider ordered by id.
func All() []*Provider {
	all := append([]*Provider(nil), registry...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// String is the provider's name.
func (p *Provider) String() string { return p.Name }

// Lookup is Get for the domain (domain.Service.Providers).
func Lookup(id string) (domain.Provider, bool) {
	p, ok := byID[id]
	if !ok {
		return nil, false
	}
	return p, true
}
