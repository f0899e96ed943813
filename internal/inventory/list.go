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
//     the ownership tag), then DescribeTable and ListTagsOfResource for
//     each item of the page and the next one (to tell More), and for any
//     that state or tags drop (the tagging API is eventually consistent:
//     DynamoDB's own tags decide).
//   - tag mode, volumes: ceil(P/500) DescribeVolumes filtered by the tag
//     (full descriptions, nothing more).
//   - tag mode, instances: ceil(P/1000) DescribeInstances filtered by the
//     tag, and one DescribeVolumes for the page's attached volumes.
//   - account mode, tables ascending: ListTables from the marker (one call
//     per 100 names), then DescribeTable and ListTagsOfResource per item
//     looked at: O(page).
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
		next = func() (*domain.ProtectableInstance, bool, error) {
			for {
				name, ok, err := names()
				if !ok || err != nil {
					return nil, ok, err
				}
				t, err := inv.table(ctx, q.ProjectID, name)
				if err != nil {
					return nil, false, err
				}
				if t != nil {
					return t.instance(inv.Region, false), true, nil
				}
			}
		}
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

// tableNames returns the names of the tables to look at, in the listing's
// order after its marker, one at a time: the project's tagged tables (tag
// mode) or the account's tables (account mode).
func (inv *Inventory) tableNames(ctx context.Context, q domain.InstanceQuery) (func() (string, bool, error), error) {
	if inv.Ownership.Mode == ownership.ModeAccount && q.Ascending {
		return inv.listTablesFrom(ctx, q.Marker), nil
	}
	var names []string
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
	names = order(names, func(s string) string { return s }, q.Listing)
	return func() (string, bool, error) {
		if len(names) == 0 {
			return "", false, nil
		}
		n := names[0]
		names = names[1:]
		return n, true, nil
	}, nil
}

// listTablesFrom walks ListTables (alphabetical) after start, one page of
// names at a time.
func (inv *Inventory) listTablesFrom(ctx context.Context, start string) func() (string, bool, error) {
	var buf []string
	done := false
	in := &dynamodb.ListTablesInput{Limit: aws.Int32(100)}
	if start != "" {
		in.ExclusiveStartTableName = aws.String(start)
	}
	return func() (string, bool, error) {
		for len(buf) == 0 {
			if done {
				return "", false, nil
			}
			lister, ok := inv.DynamoDB.(TableLister)
			if !ok {
				return "", false, fmt.Errorf("inventory: the DynamoDB client cannot list tables")
			}
			out, err := lister.ListTables(ctx, in)
			if err != nil {
				return "", false, wrap("ListTables", err)
			}
			buf = out.TableNames
			in.ExclusiveStartTableName = out.LastEvaluatedTableName
			done = aws.ToString(out.LastEvaluatedTableName) == ""
		}
		n := buf[0]
		buf = buf[1:]
		return n, true, nil
	}
}

// taggedTables lists the names of the tables that carry the project's
// ownership tag, with the tagging API.
func (inv *Inventory) taggedTables(ctx context.Context, projectID string) ([]string, error) {
	if inv.Tagging == nil {
		return nil, errors.New("inventory: listing tables in tag mode needs the tagging API's client")
	}
	arns, err := inv.Tagging.TaggedARNs(ctx, "dynamodb:table", inv.Ownership.Key(), projectID)
	if err != nil {
		return nil, wrap("GetResources", err)
	}
	var names []string
	for _, arn := range arns {
		if name := tableName(arn); name != "" {
			names = append(names, name)
		}
	}
	return names, nil
}
