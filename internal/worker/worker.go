// Package worker does the background work of checkpoints: it protects a
// checkpoint that enters protecting and deletes what protection produced when
// it enters deleting, driven by the checkpoints table's stream. A sweeper
// ends what stays in flight too long.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/aws/aws-lambda-go/events"

	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
)

// providerWork builds a provider's plugins by resource type and its
// ownership check (every resource a plugin is called for is checked right
// before); ok is false for a provider that produces nothing and succeeds
// at once. A function, not a package-level table, so that a binary that
// links package worker for its sweeper alone links no plugin.
func providerWork(providerID string, c awsplugin.Clients, cfg ownership.Config, o awsplugin.Options) (map[string]provider.Plugin, OwnershipCheck, bool) {
	switch providerID {
	case provider.AWSID:
		return awsplugin.Plugins(c, cfg, o), &inventory.Inventory{DynamoDB: c.DynamoDB(), EC2: c.EC2(), Ownership: cfg}, true
	}
	return nil, nil, false
}

// TaskPlugins builds a provider's restore and verification steps by
// resource type (the runner's Plugins); ok is false for a provider that
// touches nothing. o's zero value is the deployment's (the ARNs' region and
// account from TABLE_ARN_PREFIX).
func TaskPlugins(providerID string, c awsplugin.Clients, cfg ownership.Config, o awsplugin.Options) (map[string]provider.TaskPlugin, bool) {
	switch providerID {
	case provider.AWSID:
		return awsplugin.TaskPlugins(c, cfg, o), true
	}
	return nil, false
}

// OwnershipCheck tells whether a project owns resources, right before they
// are protected (a tag can be removed after the plan was made): one error
// per resource, nil when owned; an AWS error that may pass is returned as
// such, and retries the record.
type OwnershipCheck interface {
	Owned(ctx context.Context, projectID string, resources []domain.Resource) []error
}

// Worker handles stream records of the checkpoints table.
type Worker struct {
	Domain  *domain.Service
	Clients awsplugin.Clients
	Log     *slog.Logger
	// Ownership is the deployment's rule of which resources a project
	// owns (ownership.FromEnv); the zero value is tag mode with the
	// default key.
	Ownership ownership.Config
	// Plugins tunes the AWS plugins (the image wait); the zero value is
	// the deployment's.
	Plugins awsplugin.Options
}

// JobOf tells what a stream record asks for (domain.StreamTriggers), from
// the statuses in its images.
func JobOf(r events.DynamoDBEventRecord) domain.Job {
	return domain.JobOf(r.EventName, statusOf(r.Change.OldImage), statusOf(r.Change.NewImage))
}

func statusOf(image map[string]events.DynamoDBAttributeValue) domain.Status {
	return domain.Status(stringOf(image, "status"))
}

func stringOf(image map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := image[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// Handle processes a batch in order. It stops at the first record it cannot
// finish (the store unreachable, say) and reports it as the batch's failure:
// Lambda retries from that record on, so nothing after it is lost either.
// A plugin's failure is not a record failure: it ends the checkpoint in
// error or error-deleting with the reason in its graph.
func (w *Worker) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	// An empty list, not null, when every record is done.
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for _, r := range ev.Records {
		if err := w.handleRecord(ctx, r); err != nil {
			w.Log.Error("record failed", "event_id", r.EventID, "sequence_number", r.Change.SequenceNumber, "error", err.Error())
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}
			return resp, nil
		}
	}
	return resp, nil
}

func (w *Worker) handleRecord(ctx context.Context, r events.DynamoDBEventRecord) error {
	job := JobOf(r)
	if job == domain.JobNone {
		return nil
	}
	// The record names the checkpoint; the work is done on the checkpoint
	// as it is now (the record may be a redelivery).
	key := domain.CheckpointKey{ID: stringOf(r.Change.Keys, "id"), ProjectID: stringOf(r.Change.Keys, "project_id")}
	if key.ID == "" || key.ProjectID == "" {
		return fmt.Errorf("record %s has no checkpoint key", r.EventID)
	}
	c, err := w.Domain.Work(ctx, key, job)
	if err != nil {
		return err
	}
	if c == nil {
		w.Log.Info("nothing to do", "checkpoint_id", key.ID, "project_id", key.ProjectID)
		// Its outcome is written; its log's end may not be.
		return w.settleLog(ctx, r, key, job)
	}
	log := w.Log.With("checkpoint_id", c.ID, "project_id", c.ProjectID)
	if job == domain.JobProtect {
		return w.protect(ctx, log, c)
	}
	return w.delete(ctx, log, c)
}

func (w *Worker) plugins(providerID string) (map[string]provider.Plugin, OwnershipCheck, error) {
	if _, ok := provider.Get(providerID); !ok {
		return nil, nil, fmt.Errorf("provider %s is not configured", providerID)
	}
	plugins, owners, ok := providerWork(providerID, w.Clients, w.Ownership, w.Plugins)
	if !ok {
		return nil, nil, nil
	}
	return plugins, owners, nil
}

// byType groups the plan's resources by type, as indexes into resources.
func byType(resources []domain.Resource) map[string][]int {
	m := map[string][]int{}
	for i, r := range resources {
		m[r.Type] = append(m[r.Type], i)
	}
	return m
}

func pluginCheckpoint(c *domain.Checkpoint) provider.Checkpoint {
	return provider.Checkpoint{ID: c.ID, ProjectID: c.ProjectID, CreatedAt: c.CreatedAt}
}

// protection is what protectAll gave. A plan resource protected as
// another's dependent (a volume captured by its instance's image) is not
// protected on its own, and its node is that resource's child.
type protection struct {
	outcomes []provider.Outcome
	// coveredBy[i] is the index of the plan resource whose dependent
	// resource i is, or -1.
	coveredBy []int
}

// protectAll protects the checkpoint's resources, one plugin call per type,
// instances first (their images capture their volumes, which the plan may
// name too); it returns each resource's outcome, in the plan's order. The
// project's ownership of every resource with a plugin is checked first: one
// not owned is not protected, and its outcome says why. A resource whose
// type has no plugin produces nothing and succeeds.
func (w *Worker) protectAll(ctx context.Context, c *domain.Checkpoint) protection {
	resources := c.Plan.Resources
	p := protection{outcomes: make([]provider.Outcome, len(resources)), coveredBy: make([]int, len(resources))}
	for i := range p.coveredBy {
		p.coveredBy[i] = -1
	}
	plugins, owners, err := w.plugins(c.ProviderID)
	if err != nil {
		for i := range p.outcomes {
			p.outcomes[i].Err = err
		}
		return p
	}
	var checked []int
	for i, r := range resources {
		if _, ok := plugins[r.Type]; ok {
			checked = append(checked, i)
		}
	}
	ownErr := make([]error, len(resources))
	if len(checked) > 0 {
		rs := make([]domain.Resource, len(checked))
		for k, i := range checked {
			rs[k] = resources[i]
		}
		for k, err := range owners.Owned(ctx, c.ProjectID, rs) {
			ownErr[checked[k]] = err
		}
	}
	groups := byType(resources)
	types := make([]string, 0, len(groups))
	for typ := range groups {
		if typ != provider.TypeEC2Instance {
			types = append(types, typ)
		}
	}
	sort.Strings(types)
	if _, ok := groups[provider.TypeEC2Instance]; ok {
		types = append([]string{provider.TypeEC2Instance}, types...)
	}
	dependentOf := map[[2]string]int{}
	for _, typ := range types {
		plugin, ok := plugins[typ]
		if !ok {
			continue
		}
		var idx []int
		for _, i := range groups[typ] {
			r := resources[i]
			if parent, ok := dependentOf[[2]string{r.Type, r.ID}]; ok {
				// Owned through its parent, protected by it.
				p.coveredBy[i] = parent
				continue
			}
			if ownErr[i] != nil {
				p.outcomes[i].Err = ownErr[i]
				continue
			}
			idx = append(idx, i)
		}
		if len(idx) == 0 {
			continue
		}
		items := make([]provider.Item, len(idx))
		for k, i := range idx {
			items[k] = provider.Item{Resource: resources[i], Params: domain.MergedParameters(c.Plan.Parameters, resources[i])}
		}
		for k, o := range plugin.Protect(ctx, pluginCheckpoint(c), items) {
			p.outcomes[idx[k]] = o
			for _, d := range o.Dependents {
				dependentOf[[2]string{d.Resource.Type, d.Resource.ID}] = idx[k]
			}
		}
	}
	return p
}

func (w *Worker) protect(ctx context.Context, log *slog.Logger, c *domain.Checkpoint) error {
	oplog := protectLog(c)
	if err := w.Domain.StartOperation(ctx, oplog); err != nil {
		return fmt.Errorf("start the protect log: %w", err)
	}
	p := w.protectAll(ctx, c)
	resources := c.Plan.Resources
	planned := map[[2]string]int{}
	for i, r := range resources {
		planned[[2]string{r.Type, r.ID}] = i
	}
	g := make(graph, 0, len(resources))
	failed := 0
	for i, r := range resources {
		if p.coveredBy[i] >= 0 {
			continue // its parent's child
		}
		o := p.outcomes[i]
		if o.Err != nil && transient(o.Err) {
			// Retried from this record on; what is done so far is found
			// again by the plugins.
			return fmt.Errorf("protect %s %s: %w", r.Type, r.ID, o.Err)
		}
		info := protectedInfo(r, o.Saved)
		if o.Err != nil {
			failed++
			log.Warn("resource not protected", "resource_type", r.Type, "resource_id", r.ID, "error", o.Err.Error())
			info = failedInfo(r, o.Err)
		}
		parent := len(g)
		g = append(g, node{Resource: r, Info: info})
		for _, d := range o.Dependents {
			child := d.Resource
			if j, ok := planned[[2]string{child.Type, child.ID}]; ok {
				child.Name = resources[j].Name
			}
			g[parent].Children = append(g[parent].Children, len(g))
			g = append(g, node{Resource: child, Info: protectedInfo(child, d.Saved)})
		}
	}
	to := domain.StatusAvailable
	if failed > 0 {
		to = domain.StatusError
	}
	return w.finish(ctx, log, domain.MoveProtected, c, to, g, oplog)
}

// deleteAll deletes what protection produced, one plugin call per type; it
// returns each resource's error (nil: nothing of it is left), in the
// plan's order.
func (w *Worker) deleteAll(ctx context.Context, c *domain.Checkpoint) []error {
	resources := c.Plan.Resources
	errs := make([]error, len(resources))
	plugins, _, err := w.plugins(c.ProviderID)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for typ, idx := range byType(resources) {
		plugin, ok := plugins[typ]
		if !ok {
			continue
		}
		rs := make([]domain.Resource, len(idx))
		for k, i := range idx {
			rs[k] = resources[i]
		}
		for k, err := range plugin.Delete(ctx, pluginCheckpoint(c), rs) {
			errs[idx[k]] = err
		}
	}
	return errs
}

func (w *Worker) delete(ctx context.Context, log *slog.Logger, c *domain.Checkpoint) error {
	oplog := deleteLog(c, deleteAttempt(c))
	if err := w.Domain.StartOperation(ctx, oplog); err != nil {
		return fmt.Errorf("start the delete log: %w", err)
	}
	errs := w.deleteAll(ctx, c)
	errOf := map[[2]string]error{}
	for i, r := range c.Plan.Resources {
		if errs[i] != nil && transient(errs[i]) {
			return fmt.Errorf("delete %s %s: %w", r.Type, r.ID, errs[i])
		}
		errOf[[2]string{r.Type, r.ID}] = errs[i]
	}
	// The graph as protection left it, children included; then any plan
	// resource it lacks (a graph written smaller, or none).
	g := decodeGraph(c.ResourceGraph).withPlan(c.Plan.Resources)
	parentOf := map[int]int{}
	for i, n := range g {
		for _, ch := range n.Children {
			parentOf[ch] = i
		}
	}
	failed := 0
	for i := range g {
		k := [2]string{g[i].Resource.Type, g[i].Resource.ID}
		err, planned := errOf[k]
		if p, child := parentOf[i]; child {
			// Deleted with its parent (its snapshot is the parent's
			// image's).
			err = errOf[[2]string{g[p].Resource.Type, g[p].Resource.ID}]
		} else if !planned {
			continue
		}
		info := g[i].Info
		if err != nil {
			failed++
			log.Warn("resource not deleted", "resource_type", k[0], "resource_id", k[1], "error", err.Error())
			info["status"] = resourceFailed
			info["delete_error"] = reason(err)
		} else {
			info["status"] = resourceDeleted
			delete(info, "delete_error")
		}
	}
	to := domain.StatusDeleted
	if failed > 0 {
		to = domain.StatusErrorDeleting
	}
	return w.finish(ctx, log, domain.MoveDeleted, c, to, g, oplog)
}

// finish writes the outcome, only if the checkpoint is still in the
// move's status: a sweeper that ended it meanwhile has won, and stays won
// (and ends the operation's log). An outcome DynamoDB refuses for its size
// (not reached within the API's limits; a checkpoint stored before them
// may be) is written smaller, in the move's failure status: a checkpoint
// never stays unable to finish. Then it ends oplog with the outcome
// written; if that fails, the record is retried and settleLog ends it.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, m domain.Move, c *domain.Checkpoint, to domain.Status, g graph, oplog *domain.OperationLog) error {
	written, to, err := finishBounded(ctx, w.Domain, log, m, c, to, g)
	if err != nil {
		return err
	}
	if !written {
		log.Warn("checkpoint changed meanwhile; outcome not written", "wanted", to)
		return nil
	}
	log.Info("checkpoint finished", "status", to)
	if err := w.Domain.EndOperation(ctx, ended(oplog, to, endReason(g, to))); err != nil {
		return fmt.Errorf("end the %s log: %w", oplog.Type, err)
	}
	if oplog.Type == domain.OpProtect {
		return fireRetention(ctx, w.Domain, c)
	}
	return nil
}

// fireRetention runs the retention step of the fire that made c, whose
// protection has ended (a fire's checkpoint only: another is not read
// further). An error retries the record (the sweeper's run logs it); the
// step is safe to run again.
func fireRetention(ctx context.Context, dom *domain.Service, c *domain.Checkpoint) error {
	if !c.Fired() {
		return nil
	}
	if err := dom.RunRetention(ctx, c.ProjectID, c.ID); err != nil {
		return fmt.Errorf("retention of fire %s: %w", c.ID, err)
	}
	return nil
}

// finishBounded writes status to and the graph with move m; when DynamoDB
// refuses the item for its size, it writes ever smaller graphs (graph.smaller)
// in the move's failure status instead. It returns the status it wrote.
func finishBounded(ctx context.Context, dom *domain.Service, log *slog.Logger, m domain.Move, c *domain.Checkpoint, to domain.Status, g graph) (bool, domain.Status, error) {
	text, err := g.encode()
	if err != nil {
		return false, to, err
	}
	written, err := dom.Finish(ctx, m, c, to, text)
	if errors.Is(err, domain.ErrTooLarge) {
		failed := domain.StatusError
		if m.From[0] == domain.StatusDeleting {
			failed = domain.StatusErrorDeleting
		}
		for _, smaller := range g.smaller() {
			log.Warn("outcome too large to store; writing a smaller one", "wanted", to, "status", failed, "bytes", len(text), "error", err.Error())
			to, text = failed, smaller
			if written, err = dom.Finish(ctx, m, c, to, text); !errors.Is(err, domain.ErrTooLarge) {
				break
			}
		}
	}
	return written, to, err
}
