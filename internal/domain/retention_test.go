package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"karbor/internal/domain"
)

func TestChooseRetention(t *testing.T) {
	scheduled := time.Date(2026, 12, 10, 2, 0, 0, 0, time.UTC)
	// One checkpoint per name: status and age in hours before scheduled;
	// "*" marks it busy. Names sort as ids.
	type cp struct {
		name   string
		status domain.Status
		hours  float64
		busy   bool
	}
	build := func(cps []cp) []*domain.Checkpoint {
		var out []*domain.Checkpoint
		for _, c := range cps {
			out = append(out, &domain.Checkpoint{
				ID: c.name, Status: c.status, Busy: c.busy,
				CreatedAt: scheduled.Add(-time.Duration(c.hours * float64(time.Hour))),
			})
		}
		return out
	}
	n := func(v int64) *int64 { return &v }
	// Every status, newest first; "own" is the fire's.
	every := []cp{
		{"own", domain.StatusAvailable, 0, false},
		{"prot", domain.StatusProtecting, 1, false},
		{"a1", domain.StatusAvailable, 24, false},
		{"e1", domain.StatusError, 30, false},
		{"a2", domain.StatusAvailable, 48, false},
		{"dg", domain.StatusDeleting, 50, false},
		{"e2", domain.StatusError, 60, false},
		{"ed", domain.StatusErrorDeleting, 70, false},
		{"a3", domain.StatusAvailable, 72, false},
		{"dd", domain.StatusDeleted, 80, false},
		{"e3", domain.StatusError, 90, false},
	}
	tests := []struct {
		name          string
		cps           []cp
		own           string
		rules         domain.RetentionRules
		deleted, skip []string
	}{
		{"count: keeps the N newest available, own counting; error ones older than the N-th", every, "own",
			domain.RetentionRules{MaxBackups: n(2)}, []string{"e1", "a2", "e2", "a3", "e3"}, nil},
		{"count 1: only own kept", every, "own",
			domain.RetentionRules{MaxBackups: n(1)}, []string{"a1", "e1", "a2", "e2", "a3", "e3"}, nil},
		{"count equal to the available ones: only error ones older than the last", every, "own",
			domain.RetentionRules{MaxBackups: n(4)}, []string{"e3"}, nil},
		{"fewer available than N: no error one either", every, "own",
			domain.RetentionRules{MaxBackups: n(7)}, nil, nil},
		{"age: older than D×24h, any candidate status", every, "own",
			domain.RetentionRules{RetentionDuration: n(2)}, []string{"e2", "a3", "e3"}, nil},
		{"age: exactly D×24h old is kept", []cp{{"a", domain.StatusAvailable, 48, false}, {"b", domain.StatusAvailable, 48.01, false}}, "",
			domain.RetentionRules{RetentionDuration: n(2)}, []string{"b"}, nil},
		{"both: either rule's choice", every, "own",
			domain.RetentionRules{MaxBackups: n(3), RetentionDuration: n(1)}, []string{"e1", "a2", "e2", "a3", "e3"}, nil},
		{"the fire's own is never chosen, even by age", []cp{{"own", domain.StatusAvailable, 100, false}, {"a", domain.StatusAvailable, 200, false}}, "own",
			domain.RetentionRules{RetentionDuration: n(1)}, []string{"a"}, nil},
		{"own in error does not count as available", []cp{{"own", domain.StatusError, 0, false}, {"a1", domain.StatusAvailable, 1, false}, {"a2", domain.StatusAvailable, 2, false}}, "own",
			domain.RetentionRules{MaxBackups: n(1)}, []string{"a2"}, nil},
		{"no checkpoint made (own empty)", []cp{{"a1", domain.StatusAvailable, 1, false}, {"a2", domain.StatusAvailable, 2, false}}, "",
			domain.RetentionRules{MaxBackups: n(1)}, []string{"a2"}, nil},
		{"error newer than the N-th available is kept", []cp{{"a1", domain.StatusAvailable, 1, false}, {"e1", domain.StatusError, 2, false}, {"a2", domain.StatusAvailable, 3, false}, {"e2", domain.StatusError, 4, false}}, "",
			domain.RetentionRules{MaxBackups: n(2)}, []string{"e2"}, nil},
		{"same created_at: the id orders", []cp{{"b", domain.StatusAvailable, 1, false}, {"a", domain.StatusAvailable, 1, false}, {"c", domain.StatusError, 1, false}}, "",
			domain.RetentionRules{MaxBackups: n(1)}, []string{"a"}, nil},
		{"busy ones chosen are skipped, and still count as available", []cp{{"a1", domain.StatusAvailable, 1, true}, {"a2", domain.StatusAvailable, 2, false}, {"a3", domain.StatusAvailable, 3, true}, {"e", domain.StatusError, 4, true}}, "",
			domain.RetentionRules{MaxBackups: n(1)}, []string{"a2"}, []string{"a3", "e"}},
		{"nothing listed", nil, "own", domain.RetentionRules{MaxBackups: n(1), RetentionDuration: n(1)}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := build(tc.cps)
			slices.Reverse(cs) // the input's order does not matter
			got := domain.ChooseRetention(cs, tc.own, tc.rules, scheduled)
			ids := func(cs []*domain.Checkpoint) string {
				var s []string
				for _, c := range cs {
					s = append(s, c.ID)
				}
				return strings.Join(s, " ")
			}
			if g, w := ids(got.Delete), strings.Join(tc.deleted, " "); g != w {
				t.Errorf("deleted [%s], want [%s]", g, w)
			}
			if g, w := ids(got.Skipped), strings.Join(tc.skip, " "); g != w {
				t.Errorf("skipped [%s], want [%s]", g, w)
			}
		})
	}
}
