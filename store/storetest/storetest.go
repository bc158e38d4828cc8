package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// Run runs the conformance suite. open must return a new, empty store
// (closing it is open's business, typically via t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) tollgate.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tollgate.Store)
	}{
		{"TenantRoundTrip", testTenantRoundTrip},
		{"TenantPagination", testTenantPagination},
		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeyListsAndPagination", testKeyLists},
		{"TouchKeys", testTouchKeys},
		{"SigningKeys", testSigningKeys},
		{"DeleteTenant", testDeleteTenant},
		{"Scoping", testScoping},
		{"ScopedEmptyTenant", testScopedEmpty},
		{"AuditAppendAndScan", testAuditAppend},
		{"AuditLargeBatch", testAuditLargeBatch},
		{"AuditList", testAuditList},
		{"AuditPrune", testAuditPrune},
		{"Watch", testWatch},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// Base is the fixed instant the suite's fixtures are built around. It has
// microsecond precision: every backend must round-trip at least that.
var Base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Tenant returns a fully populated tenant with id.
func Tenant(id string) tollgate.Tenant {
	t := tollgate.DefaultTenant()
	t.ID = id
	t.Name = "Tenant " + id
	t.Mode = tollgate.ModeIntercept
	t.Policy.AllowedHosts = []string{"*." + id + ".example.com"}
	t.Policy.DeniedHosts = []string{"bad." + id + ".example.com"}
	t.Policy.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00:1::/64")}
	t.Policy.AllowedPorts = []uint16{443, 8443}
	t.Policy.MaxBodyBytes = 4096
	t.Quotas = tollgate.Quotas{RequestsPerSecond: 12.5, Burst: 20, MaxConcurrent: 4, BytesPerSecond: 1 << 20,
		PerKeyRequestsPerSecond: 2.25, PerHostRequestsPerSecond: 1}
	t.CreatedAt = Base
	t.UpdatedAt = Base.Add(time.Second)
	return t
}

// Key returns an active key of tenant ("" for a platform key) whose hash is
// the SHA-256 of plaintext.
func Key(id, tenant, plaintext string) tollgate.APIKey {
	h := sha256.Sum256([]byte(plaintext))
	exp := Base.Add(30 * 24 * time.Hour)
	return tollgate.APIKey{
		ID:          id,
		Tenant:      tenant,
		Scopes:      []tollgate.Scope{tollgate.ScopeProxy, tollgate.ScopeControlRead},
		Description: "key " + id,
		AllowedIPs:  []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		ExpiresAt:   &exp,
		CreatedAt:   Base,
		Status:      tollgate.KeyActive,
		Hash:        h[:],
	}
}

// SigningKey returns a sealed signing key of tenant with status st.
func SigningKey(id, tenant string, st tollgate.SigningKeyStatus, created time.Time) tollgate.SigningKey {
	return tollgate.SigningKey{ID: id, Tenant: tenant, Status: st, CreatedAt: created,
		Sealed: []byte("sealed\x00\xff" + id)}
}

// Seal is a reference sealer: hash = hex(SHA-256(prevHash || JSON of the
// event without its hash)). The audit package owns the real one; the store
// only has to call whatever it is given at the right moment.
func Seal(prevHash string, e *tollgate.AuditEvent) {
	e.PrevHash = prevHash
	e.Hash = hashOf(*e)
}

func hashOf(e tollgate.AuditEvent) string {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("marshal audit event: %v", err))
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks that events (one chain, oldest first) link to checkpoint
// and to each other, hash correctly and have consecutive Seq.
func Verify(checkpoint string, events []tollgate.AuditEvent) error {
	prev := checkpoint
	for i, e := range events {
		if e.PrevHash != prev {
			return fmt.Errorf("event %d (%s, seq %d): prev_hash %q, want %q", i, e.ID, e.Seq, e.PrevHash, prev)
		}
		if got := hashOf(e); got != e.Hash {
			return fmt.Errorf("event %d (%s): hash %q, recomputed %q", i, e.ID, e.Hash, got)
		}
		if i > 0 && e.Seq != events[i-1].Seq+1 {
			return fmt.Errorf("event %d (%s): seq %d after %d", i, e.ID, e.Seq, events[i-1].Seq)
		}
		prev = e.Hash
	}
	return nil
}

// Chain returns every event of tenant's chain via ScanAudit.
func Chain(t testing.TB, a tollgate.AuditStore, tenant string) []tollgate.AuditEvent {
	t.Helper()
	var out []tollgate.AuditEvent
	if err := a.ScanAudit(t.Context(), tenant, func(e tollgate.AuditEvent) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("ScanAudit(%q): %v", tenant, err)
	}
	return out
}

// VerifyStored checks tenant's whole stored chain against its checkpoint.
func VerifyStored(t testing.TB, a tollgate.AuditStore, tenant string) []tollgate.AuditEvent {
	t.Helper()
	cp, err := a.AuditCheckpoint(t.Context(), tenant)
	if err != nil {
		t.Fatalf("AuditCheckpoint(%q): %v", tenant, err)
	}
	events := Chain(t, a, tenant)
	if err := Verify(cp, events); err != nil {
		t.Fatalf("chain %q: %v", tenant, err)
	}
	return events
}

// Event returns an unsealed event on tenant's chain.
func Event(id, tenant string, at time.Time) tollgate.AuditEvent {
	return tollgate.AuditEvent{ID: id, Time: at, Tenant: tenant, Actor: "key_x", ActorType: tollgate.ActorKey,
		Action: "tenant.update", Target: "tenant/" + tenant, Outcome: tollgate.OutcomeSuccess,
		ClientIP: "192.0.2.7", Metadata: json.RawMessage(`{"z": 1, "a": [true]}`)}
}

func mustNil(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustIs(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func mustEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Plaintext returns a fresh key string in the SPEC §3 shape (tg_live_ and
// 49 base62 characters), recognisable when scanning storage for leaks.
func Plaintext(t testing.TB) string {
	t.Helper()
	b := make([]byte, 49)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return "tg_live_" + string(b)
}
