package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/audit/audittest"
)

func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i := range 1000 {
		id := audit.NewID(now)
		if !regexp.MustCompile(`^evt_[0-9A-HJKMNP-TV-Z]{26}$`).MatchString(id) {
			t.Fatalf("id %q has the wrong format", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q after %d ids", id, i)
		}
		seen[id] = true
		u, err := ulid.ParseStrict(strings.TrimPrefix(id, "evt_"))
		if err != nil {
			t.Fatal(err)
		}
		if !u.Timestamp().Equal(now) {
			t.Fatalf("id time %v, want %v", u.Timestamp(), now)
		}
	}
	if id := audit.NewID(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)); !strings.HasPrefix(id, "evt_000000") {
		t.Errorf("pre-epoch time gives %q, want the zero timestamp", id)
	}
}

func TestSealMatchesIndependentHash(t *testing.T) {
	// The golden canonical bytes plus the spec's formula, computed here
	// without the package, must give the hash Seal stores.
	e := baseEvent()
	want, err := os.ReadFile(goldenPath("basic"))
	if err != nil {
		t.Fatal(err)
	}
	for _, prev := range []string{"", strings.Repeat("0f", 32)} {
		t.Run(fmt.Sprintf("prev=%q", prev), func(t *testing.T) {
			sealed := e
			audit.Seal(prev, &sealed)
			canon := strings.Replace(string(want), `"prev_hash":""`, fmt.Sprintf(`"prev_hash":%q`, prev), 1)
			sum := sha256.Sum256([]byte(prev + canon))
			if got := hex.EncodeToString(sum[:]); sealed.Hash != got {
				t.Errorf("hash %s, want %s", sealed.Hash, got)
			}
			if sealed.PrevHash != prev {
				t.Errorf("prev_hash %q, want %q", sealed.PrevHash, prev)
			}
		})
	}
}

func TestSealNormalises(t *testing.T) {
	e := baseEvent()
	e.Time = time.Date(2026, 1, 1, 1, 2, 3, 456789999, time.FixedZone("X", 3600))
	e.Metadata = json.RawMessage(` {"b":1, "a":2} `)
	audit.Seal("", &e)
	if want := time.Date(2026, 1, 1, 0, 2, 3, 456789000, time.UTC); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", e.Time, want)
	}
	if string(e.Metadata) != `{"a":2,"b":1}` {
		t.Errorf("metadata %s, want canonical", e.Metadata)
	}
	// What the store keeps must verify as is.
	if !audit.NewVerifier("").Add(e) {
		t.Errorf("sealed event does not verify: %+v", audit.NewVerifier("").Result())
	}
}

// TestChainGolden pins the hashes of a small chain so that any change to
// hashing shows up as a diff, and documents the chain for other verifiers.
func TestChainGolden(t *testing.T) {
	var lines []string
	prev := ""
	for i, tc := range canonicalCases {
		e := baseEvent()
		tc.edit(&e)
		e.PrevHash = "ignored: Seal sets it"
		audit.Seal(prev, &e)
		lines = append(lines, fmt.Sprintf("%d %s %s", i, tc.name, e.Hash))
		prev = e.Hash
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "chain.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("chain hashes changed: this breaks every stored chain\n got:\n%s\nwant:\n%s", got, want)
	}
}

// seedChain appends n events to tenant's chain of a fresh store, one
// Append per event, with times one minute apart.
func seedChain(t testing.TB, store tollgate.AuditStore, tenant string, n int, start time.Time) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		e := tollgate.AuditEvent{
			ID: fmt.Sprintf("evt_%s_%02d", tenant, i), Time: start.Add(time.Duration(i) * time.Minute),
			Tenant: tenant, Actor: "admin", ActorType: tollgate.ActorAdmin, Action: "key.create",
			Target: fmt.Sprintf("key_%02d", i), Outcome: tollgate.OutcomeSuccess,
			Metadata: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
		}
		if err := audit.Append(context.Background(), store, e); err != nil {
			t.Fatal(err)
		}
		ids[i] = e.ID
	}
	return ids
}

func TestVerifyChain(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		tamper   func(t *testing.T, s tollgate.AuditStore)
		ok       bool
		events   int // events examined
		firstBad string
		problem  string
	}{
		{name: "intact", tamper: func(*testing.T, tollgate.AuditStore) {}, ok: true, events: 6},
		{name: "tampered field", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[3].Outcome = tollgate.OutcomeFailure
			return ev
		}), events: 4, firstBad: "evt_acme_03", problem: "altered"},
		{name: "tampered metadata", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[2].Metadata = json.RawMessage(`{"n":99}`)
			return ev
		}), events: 3, firstBad: "evt_acme_02", problem: "altered"},
		{name: "tampered hash only", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[1].Hash = strings.Repeat("0", 64)
			return ev
		}), events: 2, firstBad: "evt_acme_01", problem: "altered"},
		{name: "rehashed after tampering", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[2].Reason = "covered up"
			audit.Seal(ev[2].PrevHash, &ev[2])
			return ev
		}), events: 4, firstBad: "evt_acme_03", problem: "deleted, inserted or reordered"},
		{name: "invalid stored metadata", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[4].Metadata = json.RawMessage(`{"n":4,"n":4}`)
			return ev
		}), events: 5, firstBad: "evt_acme_04", problem: "metadata"},
		{name: "deleted event", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			return append(ev[:2], ev[3:]...)
		}), events: 3, firstBad: "evt_acme_03", problem: "deleted, inserted or reordered"},
		{name: "deleted first event", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			return ev[1:]
		}), events: 1, firstBad: "evt_acme_01", problem: "checkpoint"},
		{name: "reordered events", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[3], ev[4] = ev[4], ev[3]
			return ev
		}), events: 4, firstBad: "evt_acme_04", problem: "deleted, inserted or reordered"},
		{name: "event from another chain", tamper: rewrite(func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
			ev[5].Tenant = "globex"
			return ev
		}), events: 6, firstBad: "evt_acme_05", problem: "chain"},
		{name: "wrong checkpoint", tamper: func(t *testing.T, s tollgate.AuditStore) {
			if err := audittest.SetCheckpoint(s, "acme", strings.Repeat("1", 64)); err != nil {
				t.Fatal(err)
			}
		}, events: 1, firstBad: "evt_acme_00", problem: "checkpoint"},
		{name: "pruned with checkpoint", tamper: func(t *testing.T, s tollgate.AuditStore) {
			n, err := audit.Prune(context.Background(), s, time.Hour, start.Add(time.Hour+2*time.Minute+time.Second))
			if err != nil || n != 3 {
				t.Fatalf("prune = %d, %v; want 3 events", n, err)
			}
		}, ok: true, events: 3},
		{name: "pruned with wrong checkpoint", tamper: func(t *testing.T, s tollgate.AuditStore) {
			if _, err := audit.Prune(context.Background(), s, time.Hour, start.Add(time.Hour+2*time.Minute+time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := audittest.SetCheckpoint(s, "acme", ""); err != nil {
				t.Fatal(err)
			}
		}, events: 1, firstBad: "evt_acme_03", problem: "checkpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := audittest.NewMemStore()
			seedChain(t, store, "acme", 6, start)
			seedChain(t, store, "globex", 2, start.Add(24*time.Hour))
			tc.tamper(t, store)
			got, err := audit.VerifyChain(context.Background(), store, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if got.OK != tc.ok || got.Events != tc.events || got.FirstBad != tc.firstBad {
				t.Fatalf("got %+v, want ok=%v events=%d first_bad=%q", got, tc.ok, tc.events, tc.firstBad)
			}
			if !strings.Contains(got.Problem, tc.problem) {
				t.Errorf("problem %q does not mention %q", got.Problem, tc.problem)
			}
			if tc.ok && got.Head == "" {
				t.Errorf("intact chain without a head: %+v", got)
			}
			// The other chain is untouched by any of this.
			other, err := audit.VerifyChain(context.Background(), store, "globex")
			if err != nil || !other.OK || other.Events != 2 {
				t.Errorf("globex chain: %+v, %v", other, err)
			}
		})
	}
}

func rewrite(fn func([]tollgate.AuditEvent) []tollgate.AuditEvent) func(*testing.T, tollgate.AuditStore) {
	return func(t *testing.T, s tollgate.AuditStore) {
		if err := audittest.Rewrite(s, "acme", fn); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyChainEmptyAndHead(t *testing.T) {
	store := audittest.NewMemStore()
	got, err := audit.VerifyChain(context.Background(), store, "nobody")
	if err != nil || !got.OK || got.Events != 0 || got.Head != "" {
		t.Fatalf("empty chain: %+v, %v", got, err)
	}
	seedChain(t, store, "acme", 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var last string
	err = store.ScanAudit(context.Background(), "acme", func(e tollgate.AuditEvent) error { last = e.Hash; return nil })
	if err != nil {
		t.Fatal(err)
	}
	got, err = audit.VerifyChain(context.Background(), store, "acme")
	if err != nil || got.Head != last {
		t.Fatalf("head %q, want newest hash %q (%v)", got.Head, last, err)
	}
	b, _ := json.Marshal(got)
	if want := fmt.Sprintf(`{"ok":true,"events":3,"head":%q}`, last); string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}

func TestVerifyAll(t *testing.T) {
	store := audittest.NewMemStore()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seedChain(t, store, "", 2, start)
	seedChain(t, store, "acme", 3, start)
	if err := audittest.Rewrite(store, "acme", func(ev []tollgate.AuditEvent) []tollgate.AuditEvent {
		ev[1].Action = "key.revoke"
		return ev
	}); err != nil {
		t.Fatal(err)
	}
	got, err := audit.VerifyAll(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Tenant != "" || !got[0].OK || got[1].Tenant != "acme" || got[1].OK || got[1].FirstBad != "evt_acme_01" {
		t.Fatalf("VerifyAll = %+v", got)
	}
}

type failingStore struct{ tollgate.AuditStore }

var errStoreDown = errors.New("store down")

func (failingStore) AuditCheckpoint(context.Context, string) (string, error) { return "", errStoreDown }

func TestVerifyChainStoreError(t *testing.T) {
	_, err := audit.VerifyChain(context.Background(), failingStore{audittest.NewMemStore()}, "acme")
	if !errors.Is(err, errStoreDown) {
		t.Fatalf("err = %v, want the store's error", err)
	}
}

func TestAppend(t *testing.T) {
	store := audittest.NewMemStore()
	ctx := context.Background()
	events := []tollgate.AuditEvent{
		{Tenant: "acme", Action: "tenant.create", Time: time.Date(2026, 1, 1, 0, 0, 0, 1500, time.UTC)},
		{Tenant: "acme", Action: "key.create", Metadata: json.RawMessage(`{"b":1,"a":2}`)},
	}
	if err := audit.Append(ctx, store, events...); err != nil {
		t.Fatal(err)
	}
	if events[0].ID != "" || events[0].Hash != "" {
		t.Errorf("Append changed the caller's events: %+v", events[0])
	}
	var stored []tollgate.AuditEvent
	if err := store.ScanAudit(ctx, "acme", func(e tollgate.AuditEvent) error { stored = append(stored, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("stored %d events, want 2", len(stored))
	}
	if !strings.HasPrefix(stored[0].ID, "evt_") || stored[1].Time.IsZero() {
		t.Errorf("ID/Time not filled: %+v", stored)
	}
	if !stored[0].Time.Equal(time.Date(2026, 1, 1, 0, 0, 0, 1000, time.UTC)) {
		t.Errorf("time %v not truncated to microseconds", stored[0].Time)
	}
	if string(stored[1].Metadata) != `{"a":2,"b":1}` || string(stored[0].Metadata) != `{}` {
		t.Errorf("metadata not canonical: %s %s", stored[0].Metadata, stored[1].Metadata)
	}
	if stored[1].PrevHash != stored[0].Hash {
		t.Errorf("events not chained")
	}

	t.Run("invalid metadata refused before the store", func(t *testing.T) {
		err := audit.Append(ctx, store, tollgate.AuditEvent{Tenant: "acme", Metadata: json.RawMessage(`{"a":1,"a":1}`)})
		if !errors.Is(err, audit.ErrInvalidMetadata) {
			t.Fatalf("err = %v", err)
		}
		if r, _ := audit.VerifyChain(ctx, store, "acme"); r.Events != 2 {
			t.Errorf("refused event was stored: %+v", r)
		}
	})
	t.Run("store error returned", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := audit.Append(cctx, store, tollgate.AuditEvent{Tenant: "acme"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("nothing to append", func(t *testing.T) {
		if err := audit.Append(ctx, failingStore{}); err != nil {
			t.Fatal(err)
		}
	})
}
