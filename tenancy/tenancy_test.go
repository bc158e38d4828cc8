package tenancy

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/identity/identitytest"
	"github.com/tollgate-dev/tollgate/keyseal"
)

type fixedSource []*tollgate.Tenant

func (f *fixedSource) Tenants() []*tollgate.Tenant { return *f }

func TestRebuild(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	sealer, err := keyseal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := identitytest.NewMemStore()
	repo := st.Admin()
	acme := tollgate.DefaultTenant()
	acme.ID = "acme"
	if err := repo.CreateTenant(ctx, acme); err != nil {
		t.Fatal(err)
	}
	secret := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	add := func(id string, status tollgate.SigningKeyStatus, created time.Time, grace *time.Time, key []byte) {
		sealed, err := sealer.Seal(key, []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.CreateSigningKey(ctx, tollgate.SigningKey{ID: id, Tenant: "acme", Status: status, CreatedAt: created, GraceUntil: grace, Sealed: sealed}); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(time.Hour)
	past := now.Add(-time.Minute)
	add("sk_old", tollgate.SigningRetired, now.Add(-72*time.Hour), nil, secret(1))
	add("sk_expired_grace", tollgate.SigningGrace, now.Add(-48*time.Hour), &past, secret(2))
	add("sk_grace", tollgate.SigningGrace, now.Add(-24*time.Hour), &later, secret(3))
	add("sk_primary", tollgate.SigningPrimary, now.Add(-time.Hour), nil, secret(4))

	src := &fixedSource{&acme}
	tn := New(src, repo, sealer, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	if err := tn.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	s, ok := tn.TenantState("acme")
	if !ok {
		t.Fatal("acme missing")
	}
	if len(s.SigningKeys) != 2 || !bytes.Equal(s.SigningKeys[0].Key, secret(4)) || !bytes.Equal(s.SigningKeys[1].Key, secret(3)) {
		t.Fatalf("want primary then grace key, got %d keys", len(s.SigningKeys))
	}
	if !s.SigningKeys[0].Until.IsZero() || !s.SigningKeys[1].Until.Equal(later) {
		t.Fatalf("grace bounds: %v %v", s.SigningKeys[0].Until, s.SigningKeys[1].Until)
	}

	// A policy that does not compile keeps the tenant's previous state.
	broken := acme
	broken.Policy.AllowCIDRs = []netip.Prefix{{}}
	*src = fixedSource{&broken}
	if err := tn.Rebuild(ctx); err == nil {
		t.Fatal("a broken policy rebuilt without error")
	}
	if s2, ok := tn.TenantState("acme"); !ok || s2 != s {
		t.Fatal("the previous state was not kept")
	}

	// A tenant gone from the snapshot is gone from the proxy.
	*src = fixedSource{}
	_ = tn.Rebuild(ctx)
	if _, ok := tn.TenantState("acme"); ok {
		t.Fatal("a deleted tenant still has state")
	}
}
