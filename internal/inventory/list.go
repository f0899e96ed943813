package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/domain"
	"karbor/internal/ownership"
)

// List implements domain.Inventory: a page of the project's own instances
// of one type, ordered by id, after the marker (which need not exist). The
// page is exact: it holds Limit items (fewer only when Fits ends it, or
// when no more match) and More says whether another matches.
//
// What one page costs in AWS calls, P being the project's resources of the
// type and N the page's size:
//
//   - tag mode, tables: ceil(P/100) GetResources (tagging API, filtered by
//     the ownership tag, with every tag of each table), then DescribeTable
//     (for the state) for each item of the page and the next one (to tell
//     More), and for any that its state drops. The tags GetResources
//     returned decide: the tagging API is eventually consistent, so a tag
//     changed in the last minutes may not show yet; plans (Check) and
//     protection (Owned) read DynamoDB's own tags again.
//   - tag mode, volumes: ceil(P/500) DescribeVolumes filtered by the tag
//     (full descriptions, nothing more).
//   - tag mode, instances: ceil(P/1000) DescribeInstances filtered by the
//     tag, and one DescribeVolumes for the page's attached volumes.
//   - account mode, tables ascending: ListTables from the marker (one call
//     per 100 names), then DescribeTable and ListTagsOfResource per item
//     looked at: O(page).
//
// Tables are looked up tableLookups at a time, as many as the page still
// needs, then in order: the page stays exact and ordered.
//   - account mode, tables descending, volumes and instances: every table,
//     volume or instance of the account is listed (ListTables, DescribeVolumes,
//     DescribeInstances, paginated): O(account), then as above.
//
// AWS returns neither tagged resources nor EC2 descriptions in id order, so
// every mode but ascending tables in account mode reads all P before it can
// order them.
func (inv *Inventory) List(ctx context.Context, q domain.InstanceQuery) (*domain.Page[*domain.ProtectableInstance], error) {
	var next func() (*domain.ProtectableInstance, bool, error)
	switch q.Type {
	case domain.TypeDynamoDBTable:
		names, err := inv.tableNames(ctx, q)
		if err != nil {
			return nil, err
		}
		next = inv.tables(ctx, q, names)
	case domain.TypeEC2Volume:
		vols, err := inv.volumes(ctx, q.ProjectID, inv.tagFilter(q.ProjectID))
		if err != nil {
			return nil, err
		}
		next = fromSlice(order(vols, func(v *domain.ProtectableInstance) string { return v.ID }, q.Listing))
	case domain.TypeEC2Instance:
		insts, err := inv.instances(ctx, q.ProjectID, inv.tagFilter(q.ProjectID))
		if err != nil {
			return nil, err
		}
		insts = order(insts, func(i instance) string { return i.ID }, q.Listing)
		// The page and the one after it that tells More: their volumes
		// in one call, before the byte budget sees them.
		if len(insts) > q.Limit+1 {
			insts = insts[:q.Limit+1]
		}
		if err := inv.attach(ctx, insts); err != nil {
			return nil, err
		}
		out := make([]*domain.ProtectableInstance, len(insts))
		for k, i := range insts {
			out[k] = i.ProtectableInstance
		}
		next = fromSlice(out)
	default:
		return nil, domain.ErrNotFound
	}
	page := &domain.Page[*domain.ProtectableInstance]{Items: []*domain.ProtectableInstance{}}
	for {
		item, ok, err := next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return page, nil
		}
		if len(page.Items) == q.Limit || (q.Fits != nil && !q.Fits(item)) {
			page.More = len(page.Items) > 0
			if page.More {
				page.NextMarker = page.Items[len(page.Items)-1].ID
			}
			return page, nil
		}
		page.Items = append(page.Items, item)
	}
}

// order sorts items by id in the listing's direction and keeps those after
// its marker.
func order[T any](items []T, id func(T) string, l domain.Listing) []T {
	slices.SortFunc(items, func(a, b T) int {
		if l.Ascending {
			return strings.Compare(id(a), id(b))
		}
		return strings.Compare(id(b), id(a))
	})
	if l.Marker == "" {
		return items
	}
	i, _ := slices.BinarySearchFunc(items, l.Marker, func(item T, m string) int {
		if l.Ascending {
			return strings.Compare(id(item), m)
		}
		return strings.Compare(m, id(item))
	})
	for i < len(items) && id(items[i]) == l.Marker {
		i++
	}
	return items[i:]
}

func fromSlice(items []*domain.ProtectableInstance) func() (*domain.ProtectableInstance, bool, error) {
	return func() (*domain.ProtectableInstance, bool, error) {
		if len(items) == 0 {
			return nil, false, nil
		}
		item := items[0]
		items = items[1:]
		return item, true, nil
	}
}

// tables returns the listing's tables one at a time, in the names' order:
// it looks up, tableLookups at a time, as many names as the page still
// needs (Limit items and one more to tell More), and again for those that
// state, tags or the service's own drop.
func (inv *Inventory) tables(ctx context.Context, q domain.InstanceQuery, names func() (tableRef, bool, error)) func() (*domain.ProtectableInstance, bool, error) {
	var found []*table
	given := 0
	return func() (*domain.ProtectableInstance, bool, error) {
		for len(found) == 0 {
			var batch []tableRef
			for len(batch) < max(q.Limit+1-given, 1) {
				ref, ok, err := names()
				if err != nil {
					return nil, false, err
				}
				if !ok {
					break
				}
				batch = append(batch, ref)
			}
			if len(batch) == 0 {
				return nil, false, nil
			}
			looked := make([]*table, len(batch))
			err := parallel(len(batch), func(k int) (err error) {
				looked[k], err = inv.listedTable(ctx, q.ProjectID, batch[k])
				return err
			})
			if err != nil {
				return nil, false, err
			}
			for _, t := range looked {
				if t != nil {
					found = append(found, t)
				}
			}
		}
		t := found[0]
		found = found[1:]
		given++
		return t.instance(inv.Region, false), true, nil
	}
}

// tableRef is a table to look at in a listing: its name, and its tags when
// the tagging API gave them (tag mode).
type tableRef struct {
	name string
	tags map[string]string
}

// listedTable is a listed table the project may protect, or nil: with the
// tagging API's tags, DescribeTable alone (for the state); without,
// inv.table. The service's own tables drop before any call: the listing
// shows only what the project owns, so no cost tells anything.
func (inv *Inventory) listedTable(ctx context.Context, projectID string, ref tableRef) (*table, error) {
	if inv.Ownership.ServiceTable(ref.name) {
		return nil, nil
	}
	if ref.tags == nil {
		return inv.table(ctx, projectID, ref.name)
	}
	d, err := inv.describeTable(ctx, ref.name)
	if d == nil || err != nil {
		return nil, err
	}
	return inv.ownedTable(projectID, d, ref.tags), nil
}

// tableNames returns the tables to look at, in the listing's order after
// its marker, one at a time: the project's tagged tables with their tags
// (tag mode) or the account's tables (account mode).
func (inv *Inventory) tableNames(ctx context.Context, q domain.InstanceQuery) (func() (tableRef, bool, error), error) {
	if inv.Ownership.Mode == ownership.ModeAccount && q.Ascending {
		return inv.listTablesFrom(ctx, q.Marker), nil
	}
	var names []tableRef
	if inv.Ownership.Mode == ownership.ModeAccount {
		all := inv.listTablesFrom(ctx, "")
		for {
			name, ok, err := all()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			names = append(names, name)
		}
	} else {
		var err error
		if names, err = inv.taggedTables(ctx, q.ProjectID); err != nil {
			return nil, err
		}
	}
	names = order(names, func(r tableRef) string { return r.name }, q.Listing)
	return func() (tableRef, bool, error) {
		if len(names) == 0 {
			return tableRef{}, false, nil
		}
		n := names[0]
		names = names[1:]
		return n, true, nil
	}, nil
}

// listTablesFrom walks ListTables (alphabetical) after start, one page of
// names at a time.
func (inv *Inventory) listTablesFrom(ctx context.Context, start string) func() (tableRef, bool, error) {
	var buf []string
	done := false
	in := &dynamodb.ListTablesInput{Limit: aws.Int32(100)}
	if start != "" {
		in.ExclusiveStartTableName = aws.String(start)
	}
	return func() (tableRef, bool, error) {
		for len(buf) == 0 {
			if done {
				return tableRef{}, false, nil
			}
			lister, ok := inv.DynamoDB.(TableLister)
			if !ok {
				return tableRef{}, false, fmt.Errorf("inventory: the DynamoDB client cannot list tables")
			}
			out, err := lister.ListTables(ctx, in)
			if err != nil {
				return tableRef{}, false, wrap("ListTables", err)
			}
			buf = out.TableNames
			in.ExclusiveStartTableName = out.LastEvaluatedTableName
			done = aws.ToString(out.LastEvaluatedTableName) == ""
		}
		n := buf[0]
		buf = buf[1:]
		return tableRef{name: n}, true, nil
	}
}

// taggedTables lists the tables that carry the project's ownership tag,
// with their tags, with the tagging API.
func (inv *Inventory) taggedTables(ctx context.Context, projectID string) ([]tableRef, error) {
	if inv.Tagging == nil {
		return nil, errors.New("inventory: listing tables in tag mode needs the tagging API's client")
	}
	found, err := inv.Tagging.Tagged(ctx, "dynamodb:table", inv.Ownership.Key(), projectID)
	if err != nil {
		return nil, wrap("GetResources", err)
	}
	var tables []tableRef
	for _, r := range found {
		if name := tableName(r.ARN); name != "" {
			tags := r.Tags
			if tags == nil {
				tags = map[string]string{}
			}
			tables = append(tables, tableRef{name: name, tags: tags})
		}
	}
	return tables, nil
}
