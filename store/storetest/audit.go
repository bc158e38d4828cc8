package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

func testAuditAppend(t *testing.T, s tollgate.Store) {
	ctx, a := t.Context(), s.Audit()
	chains, err := a.AuditChains(ctx)
	mustNil(t, "chains of empty store", err)
	mustEqual(t, "no chains", len(chains), 0)

	local := time.FixedZone("UTC+5", 5*3600)
	batch := []tollgate.AuditEvent{
		Event("e1", "a", Base.In(local).Add(123)), // nanoseconds and zone: must come back identical in UTC
		Event("e2", "", Base),
		Event("e3", "a", Base),
		Event("e4", "b", Base),
	}
	batch[1].Metadata = nil
	mustNil(t, "append", a.AppendAudit(ctx, batch, Seal))
	wantSeq := []int64{1, 1, 2, 1}
	for i, e := range batch {
		if e.Seq != wantSeq[i] || e.Hash == "" {
			t.Fatalf("event %s: seq %d hash %q, want seq %d", e.ID, e.Seq, e.Hash, wantSeq[i])
		}
	}
	if batch[2].PrevHash != batch[0].Hash || batch[0].PrevHash != "" {
		t.Fatalf("chain a not linked: %q -> %q", batch[0].Hash, batch[2].PrevHash)
	}

	more := []tollgate.AuditEvent{Event("e5", "a", Base.Add(time.Second)), Event("e6", "b", Base.Add(time.Second))}
	mustNil(t, "append more", a.AppendAudit(ctx, more, Seal))
	mustNil(t, "append nothing", a.AppendAudit(ctx, nil, Seal))

	chainA := VerifyStored(t, a, "a")
	mustEqual(t, "chain a ids", eventIDs(chainA), []string{"e1", "e3", "e5"})
	mustEqual(t, "chain a stored exactly", chainA[0], batch[0])
	mustEqual(t, "metadata bytes", string(chainA[0].Metadata), `{"z": 1, "a": [true]}`)
	if chainA[0].Time.Location() != time.UTC {
		t.Fatalf("time location %v, want UTC", chainA[0].Time.Location())
	}
	platform := VerifyStored(t, a, tollgate.PlatformChain)
	mustEqual(t, "platform chain", platform, []tollgate.AuditEvent{batch[1]})
	mustEqual(t, "chain b ids", eventIDs(VerifyStored(t, a, "b")), []string{"e4", "e6"})
	mustEqual(t, "unknown chain", len(Chain(t, a, "nope")), 0)

	chains, err = a.AuditChains(ctx)
	mustNil(t, "chains", err)
	mustEqual(t, "chains", chains, []string{"", "a", "b"})

	tests := []struct {
		name  string
		batch []tollgate.AuditEvent
	}{
		{"missing id", []tollgate.AuditEvent{Event("", "a", Base)}},
		{"duplicate id", []tollgate.AuditEvent{Event("e7", "a", Base), Event("e1", "a", Base)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.AppendAudit(ctx, tt.batch, Seal); err == nil {
				t.Fatal("AppendAudit accepted the batch")
			}
			mustEqual(t, "chain a unchanged", eventIDs(VerifyStored(t, a, "a")), []string{"e1", "e3", "e5"})
		})
	}
	t.Run("broken sealer", func(t *testing.T) {
		err := a.AppendAudit(ctx, []tollgate.AuditEvent{Event("e8", "a", Base)}, func(string, *tollgate.AuditEvent) {})
		if err == nil {
			t.Fatal("AppendAudit accepted an event the sealer left without a hash")
		}
	})
}

func eventIDs(es []tollgate.AuditEvent) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testAuditList(t *testing.T, s tollgate.Store) {
	ctx, a := t.Context(), s.Audit()
	var batch []tollgate.AuditEvent
	for i := range 9 {
		tenant := []string{"a", "b", ""}[i%3]
		e := Event(fmt.Sprintf("e%d", i), tenant, Base.Add(time.Duration(i)*time.Minute))
		if i%2 == 1 {
			e.Action, e.Outcome, e.Reason = "proxy.connect", tollgate.OutcomeBlocked, "forbidden_address"
		}
		batch = append(batch, e)
	}
	// Two appends, so that append order is not a single statement's order.
	mustNil(t, "append", a.AppendAudit(ctx, batch[:4], Seal))
	mustNil(t, "append", a.AppendAudit(ctx, batch[4:], Seal))

	tests := []struct {
		name string
		q    tollgate.AuditQuery
		want []string
	}{
		{"all newest first", tollgate.AuditQuery{}, []string{"e8", "e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"}},
		{"tenant a", tollgate.AuditQuery{Tenant: ptr("a")}, []string{"e6", "e3", "e0"}},
		{"platform chain", tollgate.AuditQuery{Tenant: ptr("")}, []string{"e8", "e5", "e2"}},
		{"unknown tenant", tollgate.AuditQuery{Tenant: ptr("zz")}, []string{}},
		{"action", tollgate.AuditQuery{Action: "proxy.connect"}, []string{"e7", "e5", "e3", "e1"}},
		{"outcome", tollgate.AuditQuery{Outcome: tollgate.OutcomeSuccess}, []string{"e8", "e6", "e4", "e2", "e0"}},
		{"since inclusive", tollgate.AuditQuery{Since: Base.Add(6 * time.Minute)}, []string{"e8", "e7", "e6"}},
		{"until exclusive", tollgate.AuditQuery{Until: Base.Add(2 * time.Minute)}, []string{"e1", "e0"}},
		{"window and tenant and outcome", tollgate.AuditQuery{Tenant: ptr("b"), Outcome: tollgate.OutcomeBlocked,
			Since: Base.Add(time.Minute), Until: Base.Add(8 * time.Minute)}, []string{"e7", "e1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := a.ListAudit(ctx, tt.q)
			mustNil(t, "list", err)
			mustEqual(t, "ids", eventIDs(got), tt.want)
			mustEqual(t, "next", next, "")
			for limit := 1; limit <= 4; limit++ {
				q, paged := tt.q, []string{}
				q.Page.Limit = limit
				for i := 0; ; i++ {
					if i > 20 {
						t.Fatal("pagination does not end")
					}
					page, next, err := a.ListAudit(ctx, q)
					mustNil(t, "list page", err)
					if len(page) > limit {
						t.Fatalf("page of %d with limit %d", len(page), limit)
					}
					paged = append(paged, eventIDs(page)...)
					if next == "" {
						break
					}
					q.Page.Cursor = next
				}
				mustEqual(t, fmt.Sprintf("paged by %d", limit), paged, tt.want)
			}
		})
	}
	got, _, err := a.ListAudit(ctx, tollgate.AuditQuery{Tenant: ptr("a"), Page: tollgate.Page{Limit: 1}})
	mustNil(t, "list one", err)
	mustEqual(t, "listed event stored exactly", got[0], batch[6])
	if _, _, err := a.ListAudit(ctx, tollgate.AuditQuery{Page: tollgate.Page{Limit: 1, Cursor: "bad!"}}); err == nil {
		t.Error("ListAudit accepted a garbage cursor")
	}
}

func testAuditPrune(t *testing.T, s tollgate.Store) {
	ctx, a := t.Context(), s.Audit()
	day := func(d int, h int) time.Time {
		return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC)
	}
	var batch []tollgate.AuditEvent
	add := func(id, tenant string, at time.Time) {
		batch = append(batch, Event(id, tenant, at))
	}
	add("a1", "a", day(1, 1))
	add("a2", "a", day(1, 23))
	add("a3", "a", day(2, 5))
	add("a4", "a", day(3, 0))
	add("b1", "b", day(2, 12))
	add("p1", "", day(5, 0))
	// Out of order times (a batched writer): the late day-1 event after a
	// day-3 one must not be pruned, or the chain would have a hole.
	add("c1", "c", day(1, 2))
	add("c2", "c", day(3, 2))
	add("c3", "c", day(1, 3))
	add("c4", "c", day(1, 4))
	mustNil(t, "append", a.AppendAudit(ctx, batch, Seal))
	hash := map[string]string{}
	for _, e := range batch {
		hash[e.ID] = e.Hash
	}

	steps := []struct {
		name     string
		before   time.Time
		removed  int
		remain   map[string][]string
		checkpts map[string]string
	}{
		{"nothing older", day(1, 12), 0,
			map[string][]string{"a": {"a1", "a2", "a3", "a4"}, "b": {"b1"}, "c": {"c1", "c2", "c3", "c4"}, "": {"p1"}},
			map[string]string{"a": "", "b": "", "c": "", "": ""}},
		{"day 1", day(2, 12), 3,
			map[string][]string{"a": {"a3", "a4"}, "b": {"b1"}, "c": {"c2", "c3", "c4"}, "": {"p1"}},
			map[string]string{"a": hash["a2"], "b": "", "c": hash["c1"], "": ""}},
		{"same cutoff again", day(2, 23), 0,
			map[string][]string{"a": {"a3", "a4"}, "b": {"b1"}, "c": {"c2", "c3", "c4"}, "": {"p1"}},
			map[string]string{"a": hash["a2"], "b": "", "c": hash["c1"], "": ""}},
		{"day 2 exactly at midnight", day(3, 0), 2,
			map[string][]string{"a": {"a4"}, "b": {}, "c": {"c2", "c3", "c4"}, "": {"p1"}},
			map[string]string{"a": hash["a3"], "b": hash["b1"], "c": hash["c1"], "": ""}},
		{"everything", day(9, 0), 5,
			map[string][]string{"a": {}, "b": {}, "c": {}, "": {}},
			map[string]string{"a": hash["a4"], "b": hash["b1"], "c": hash["c4"], "": hash["p1"]}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			n, err := a.PruneAudit(ctx, st.before)
			mustNil(t, "prune", err)
			mustEqual(t, "removed", n, st.removed)
			for chain, want := range st.remain {
				mustEqual(t, "chain "+chain, eventIDs(VerifyStored(t, a, chain)), want)
				cp, err := a.AuditCheckpoint(ctx, chain)
				mustNil(t, "checkpoint", err)
				mustEqual(t, "checkpoint of "+chain, cp, st.checkpts[chain])
			}
		})
	}
	// A pruned chain keeps growing from its head, and still verifies.
	next := []tollgate.AuditEvent{Event("a5", "a", day(10, 0))}
	mustNil(t, "append after prune", a.AppendAudit(ctx, next, Seal))
	mustEqual(t, "continues head", next[0].PrevHash, hash["a4"])
	mustEqual(t, "seq continues", next[0].Seq, int64(5))
	mustEqual(t, "chain a", eventIDs(VerifyStored(t, a, "a")), []string{"a5"})
	chains, err := a.AuditChains(ctx)
	mustNil(t, "chains", err)
	mustEqual(t, "fully pruned chains are still listed", chains, []string{"", "a", "b", "c"})
}

// testAuditLargeBatch appends batches larger than any backend's statement
// chunk, of sizes around chunk boundaries, over several chains.
func testAuditLargeBatch(t *testing.T, s tollgate.Store) {
	ctx, a := t.Context(), s.Audit()
	want := map[string][]string{}
	n := 0
	for _, size := range []int{1, 49, 50, 51, 63, 64, 65, 100, 101, 127, 250} {
		batch := make([]tollgate.AuditEvent, size)
		for i := range batch {
			chain := []string{"a", "", "b"}[n%3]
			batch[i] = Event(fmt.Sprintf("e%05d", n), chain, Base.Add(time.Duration(n)*time.Millisecond))
			want[chain] = append(want[chain], batch[i].ID)
			n++
		}
		mustNil(t, fmt.Sprintf("append %d", size), a.AppendAudit(ctx, batch, Seal))
	}
	for chain, ids := range want {
		mustEqual(t, "chain "+chain, eventIDs(VerifyStored(t, a, chain)), ids)
	}
	// One chain longer than a ScanAudit page (1000 in both backends).
	big := make([]tollgate.AuditEvent, 2345)
	for i := range big {
		big[i] = Event(fmt.Sprintf("big%05d", i), "big", Base)
	}
	mustNil(t, "append big", a.AppendAudit(ctx, big, Seal))
	mustEqual(t, "big chain", eventIDs(VerifyStored(t, a, "big")), eventIDs(big))
	all, _, err := a.ListAudit(ctx, tollgate.AuditQuery{})
	mustNil(t, "list", err)
	mustEqual(t, "listed", len(all), n+len(big))
}
