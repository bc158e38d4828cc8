package audittest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit/audittest"
)

// seal is a stand-in for audit.Seal (which this package must not import):
// it links events so ordering and checkpoints can be checked.
func seal(prev string, e *tollgate.AuditEvent) {
	e.PrevHash = prev
	e.Hash = "h(" + e.ID + ")"
}

func fill(t *testing.T, s tollgate.AuditStore) {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []tollgate.AuditEvent
	for i := range 9 {
		batch = append(batch, tollgate.AuditEvent{
			ID: fmt.Sprintf("e%d", i), Tenant: []string{"acme", "globex", ""}[i%3],
			Time: start.Add(time.Duration(i) * time.Hour), Action: []string{"a", "b"}[i%2],
			Outcome: []tollgate.Outcome{tollgate.OutcomeSuccess, tollgate.OutcomeBlocked}[i%2],
		})
	}
	if err := s.AppendAudit(context.Background(), batch, seal); err != nil {
		t.Fatal(err)
	}
}

func ids(events []tollgate.AuditEvent) string {
	out := ""
	for _, e := range events {
		out += e.ID + " "
	}
	return out
}

func TestListAudit(t *testing.T) {
	s := audittest.NewMemStore()
	fill(t, s)
	acme, platform := "acme", ""
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    tollgate.AuditQuery
		want []string // one entry per page
	}{
		{"all", tollgate.AuditQuery{}, []string{"e0 e1 e2 e3 e4 e5 e6 e7 e8 "}},
		{"one tenant", tollgate.AuditQuery{Tenant: &acme}, []string{"e0 e3 e6 "}},
		{"platform chain", tollgate.AuditQuery{Tenant: &platform}, []string{"e2 e5 e8 "}},
		{"action and outcome", tollgate.AuditQuery{Action: "b", Outcome: tollgate.OutcomeBlocked}, []string{"e1 e3 e5 e7 "}},
		{"time window", tollgate.AuditQuery{Since: start.Add(2 * time.Hour), Until: start.Add(5 * time.Hour)}, []string{"e2 e3 e4 "}},
		{"pages", tollgate.AuditQuery{Page: tollgate.Page{Limit: 4}}, []string{"e0 e1 e2 e3 ", "e4 e5 e6 e7 ", "e8 "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			for i, want := range tc.want {
				got, next, err := s.ListAudit(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if ids(got) != want {
					t.Fatalf("page %d = %q, want %q", i, ids(got), want)
				}
				if (next == "") != (i == len(tc.want)-1) {
					t.Fatalf("page %d next cursor %q", i, next)
				}
				q.Page.Cursor = next
			}
		})
	}
	if _, _, err := s.ListAudit(context.Background(), tollgate.AuditQuery{Page: tollgate.Page{Cursor: "x"}}); err == nil {
		t.Error("bad cursor accepted")
	}
}

func TestChainsPruneCheckpoint(t *testing.T) {
	s := audittest.NewMemStore()
	fill(t, s)
	ctx := context.Background()
	chains, err := s.AuditChains(ctx)
	if err != nil || fmt.Sprint(chains) != "[ acme globex]" {
		t.Fatalf("chains = %q, %v", chains, err)
	}
	n, err := s.PruneAudit(ctx, time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC))
	if err != nil || n != 4 { // e0 e1 e2 e3
		t.Fatalf("pruned %d, %v", n, err)
	}
	var rest []tollgate.AuditEvent
	_ = s.ScanAudit(ctx, "acme", func(e tollgate.AuditEvent) error { rest = append(rest, e); return nil })
	cp, err := s.AuditCheckpoint(ctx, "acme")
	if err != nil || cp != "h(e3)" || ids(rest) != "e6 " || rest[0].PrevHash != cp {
		t.Fatalf("after prune: checkpoint %q, rest %q", cp, ids(rest))
	}
	// The next append links to the head, not to anything pruned.
	e := []tollgate.AuditEvent{{ID: "e9", Tenant: "acme", Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}}
	if err := s.AppendAudit(ctx, e, seal); err != nil || e[0].PrevHash != "h(e6)" || e[0].Seq != 10 {
		t.Fatalf("append after prune: %+v, %v", e[0], err)
	}
}

func TestScanStopsOnError(t *testing.T) {
	s := audittest.NewMemStore()
	fill(t, s)
	stop := errors.New("stop")
	calls := 0
	err := s.ScanAudit(context.Background(), "acme", func(tollgate.AuditEvent) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestConcurrentAppendKeepsChainsLinked(t *testing.T) {
	s := audittest.NewMemStore()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				e := []tollgate.AuditEvent{{ID: fmt.Sprintf("g%d-%d", g, i), Tenant: "acme"}}
				if err := s.AppendAudit(context.Background(), e, seal); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	prev, n := "", 0
	_ = s.ScanAudit(context.Background(), "acme", func(e tollgate.AuditEvent) error {
		if e.PrevHash != prev {
			t.Fatalf("event %s links to %q, want %q", e.ID, e.PrevHash, prev)
		}
		prev = e.Hash
		n++
		return nil
	})
	if n != 400 {
		t.Fatalf("%d events", n)
	}
}

func TestRewriteNeedsMemStore(t *testing.T) {
	type other struct{ tollgate.AuditStore }
	if err := audittest.Rewrite(other{}, "acme", nil); !errors.Is(err, audittest.ErrNotMemStore) {
		t.Fatal(err)
	}
	if err := audittest.SetCheckpoint(other{}, "acme", ""); !errors.Is(err, audittest.ErrNotMemStore) {
		t.Fatal(err)
	}
}
