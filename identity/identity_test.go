package identity

import (
	"context"
	"encoding/base64"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/apikey"
	"github.com/tollgate-dev/tollgate/identity/identitytest"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	store *identitytest.MemStore
	reg   *Registry
	clock *clock
	keys  map[string]string // name → key string
	ids   map[string]string // name → key id
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: identitytest.NewMemStore(), clock: newClock(t0), keys: map[string]string{}, ids: map[string]string{}}
	admin := f.store.Admin()
	for _, tn := range []struct {
		id     string
		status tollgate.TenantStatus
	}{{"acme", tollgate.TenantActive}, {"globex", tollgate.TenantActive}, {"frozen", tollgate.TenantSuspended}, {"default", tollgate.TenantActive}} {
		ten := tollgate.DefaultTenant()
		ten.ID, ten.Status = tn.id, tn.status
		if err := admin.CreateTenant(ctx, ten); err != nil {
			t.Fatal(err)
		}
	}
	expired := t0.Add(-time.Minute)
	later := t0.Add(time.Hour)
	revokedAt := t0.Add(-time.Hour)
	for _, k := range []struct {
		name, tenant string
		scopes       []tollgate.Scope
		ips          []netip.Prefix
		expires      *time.Time
		status       tollgate.KeyStatus
	}{
		{"acme", "acme", []tollgate.Scope{tollgate.ScopeProxy}, nil, nil, tollgate.KeyActive},
		{"acme-later", "acme", []tollgate.Scope{tollgate.ScopeProxy}, nil, &later, tollgate.KeyActive},
		{"acme-control", "acme", []tollgate.Scope{tollgate.ScopeControlWrite}, nil, nil, tollgate.KeyActive},
		{"acme-revoked", "acme", []tollgate.Scope{tollgate.ScopeProxy}, nil, nil, tollgate.KeyRevoked},
		{"acme-expired", "acme", []tollgate.Scope{tollgate.ScopeProxy}, nil, &expired, tollgate.KeyActive},
		{"acme-ip", "acme", []tollgate.Scope{tollgate.ScopeProxy}, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/24")}, nil, tollgate.KeyActive},
		{"frozen", "frozen", []tollgate.Scope{tollgate.ScopeProxy}, nil, nil, tollgate.KeyActive},
		{"platform", "", []tollgate.Scope{tollgate.ScopeProxyAnyTenant}, nil, nil, tollgate.KeyActive},
		{"platform-admin", "", []tollgate.Scope{tollgate.ScopeControlAdmin}, nil, nil, tollgate.KeyActive},
		{"tenant-anytenant", "acme", []tollgate.Scope{tollgate.ScopeProxyAnyTenant}, nil, nil, tollgate.KeyActive},
	} {
		key, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		h := apikey.Hash(key)
		rec := tollgate.APIKey{ID: apikey.NewID(t0), Tenant: k.tenant, Scopes: k.scopes, AllowedIPs: k.ips,
			ExpiresAt: k.expires, CreatedAt: t0, Status: k.status, Hash: h[:]}
		if k.status == tollgate.KeyRevoked {
			rec.RevokedAt = &revokedAt
		}
		if err := admin.CreateKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
		f.keys[k.name], f.ids[k.name] = key, rec.ID
	}
	f.reg = NewRegistry(f.store, f.clock.Now, nil)
	if err := f.reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

var (
	loop  = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

func TestAuthenticateProxy(t *testing.T) {
	f := newFixture(t)
	wrongChecksum := f.keys["acme"][:56] + "0"
	if wrongChecksum == f.keys["acme"] {
		wrongChecksum = f.keys["acme"][:56] + "1"
	}
	unknown, _ := apikey.Generate()
	tests := []struct {
		name        string
		header      string
		client      netip.Addr
		requireAuth bool
		wantReason  tollgate.Reason
		wantTenant  string
		wantKey     string
	}{
		{"good key", basic("acme", f.keys["acme"]), loop, true, "", "acme", "acme"},
		{"good key, auth optional", basic("acme", f.keys["acme"]), loop, false, "", "acme", "acme"},
		{"not yet expired", basic("acme", f.keys["acme-later"]), loop, true, "", "acme", "acme-later"},
		{"wrong tenant name", basic("globex", f.keys["acme"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"empty username", basic("", f.keys["acme"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"revoked", basic("acme", f.keys["acme-revoked"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"expired", basic("acme", f.keys["acme-expired"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"ip bound, inside", basic("acme", f.keys["acme-ip"]), loop, true, "", "acme", "acme-ip"},
		{"ip bound, mapped inside", basic("acme", f.keys["acme-ip"]), netip.MustParseAddr("::ffff:127.0.0.9"), true, "", "acme", "acme-ip"},
		{"ip bound, outside", basic("acme", f.keys["acme-ip"]), loop6, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"ip bound, other loopback net", basic("acme", f.keys["acme-ip"]), netip.MustParseAddr("127.0.1.1"), true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"suspended tenant", basic("frozen", f.keys["frozen"]), loop, true, tollgate.ReasonTenantSuspended, "", ""},
		{"control-only key", basic("acme", f.keys["acme-control"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"tenant key with any-tenant scope", basic("globex", f.keys["tenant-anytenant"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"platform key for acme", basic("acme", f.keys["platform"]), loop, true, "", "acme", "platform"},
		{"platform key for globex", basic("globex", f.keys["platform"]), loop, true, "", "globex", "platform"},
		{"platform key for unknown tenant", basic("nobody", f.keys["platform"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"platform key for suspended tenant", basic("frozen", f.keys["platform"]), loop, true, tollgate.ReasonTenantSuspended, "", ""},
		{"platform admin key lacks proxy scope", basic("acme", f.keys["platform-admin"]), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"unknown key", basic("acme", unknown), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"bad checksum", basic("acme", wrongChecksum), loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"not basic", "Bearer " + f.keys["acme"], loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"missing, auth required", "", loop, true, tollgate.ReasonProxyAuthRequired, "", ""},
		{"missing, auth optional", "", loop, false, "", "default", ""},
		{"bad header, auth optional", "Basic !!", loop, false, tollgate.ReasonProxyAuthRequired, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, d := f.reg.AuthenticateProxy(tc.header, tc.client, tc.requireAuth)
			if d.Allow != (tc.wantReason == "") || d.Reason != tc.wantReason {
				t.Fatalf("decision %+v, want reason %q", d, tc.wantReason)
			}
			if !d.Allow {
				if d.Detail == "" || p != (Principal{}) {
					t.Errorf("refusal without detail or with a principal: %+v %+v", d, p)
				}
				return
			}
			if p.Tenant == nil || p.Tenant.ID != tc.wantTenant {
				t.Errorf("tenant %+v, want %q", p.Tenant, tc.wantTenant)
			}
			if p.KeyID() != f.ids[tc.wantKey] {
				t.Errorf("key %q, want %q", p.KeyID(), f.ids[tc.wantKey])
			}
		})
	}
}

func TestAuthenticateProxyNoDefaultTenant(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Admin().DeleteTenant(context.Background(), "default", t0); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, d := f.reg.AuthenticateProxy("", loop, false); d.Reason != tollgate.ReasonProxyAuthRequired {
		t.Errorf("decision %+v", d)
	}
}

func TestAuthenticateBearer(t *testing.T) {
	f := newFixture(t)
	f.reg.SetAdminToken("s3cret-admin-token")
	tests := []struct {
		name       string
		header     string
		ok         bool
		admin      bool
		wantTenant string
	}{
		{"admin token", "Bearer s3cret-admin-token", true, true, ""},
		{"admin token, wrong", "Bearer s3cret-admin-tokeX", false, false, ""},
		{"admin token prefix", "Bearer s3cret", false, false, ""},
		{"tenant key", "Bearer " + f.keys["acme-control"], true, false, "acme"},
		{"proxy-only key still authenticates", "Bearer " + f.keys["acme"], true, false, "acme"},
		{"platform key", "Bearer " + f.keys["platform-admin"], true, false, ""},
		{"revoked", "Bearer " + f.keys["acme-revoked"], false, false, ""},
		{"expired", "Bearer " + f.keys["acme-expired"], false, false, ""},
		{"basic", basic("acme", f.keys["acme"]), false, false, ""},
		{"empty", "", false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := f.reg.AuthenticateBearer(tc.header, loop)
			if ok != tc.ok || p.Admin != tc.admin {
				t.Fatalf("got %+v %v", p, ok)
			}
			if ok && !tc.admin {
				if got := ""; p.Tenant != nil {
					got = p.Tenant.ID
					if got != tc.wantTenant {
						t.Errorf("tenant %q, want %q", got, tc.wantTenant)
					}
				} else if tc.wantTenant != "" {
					t.Errorf("no tenant, want %q", tc.wantTenant)
				}
			}
		})
	}
	f.reg.SetAdminToken("")
	if _, ok := f.reg.AuthenticateBearer("Bearer s3cret-admin-token", loop); ok {
		t.Error("disabled admin token still authenticates")
	}
}

// Expiry is judged at the injected clock, not at load time.
func TestExpiryFollowsClock(t *testing.T) {
	f := newFixture(t)
	h := basic("acme", f.keys["acme-later"])
	if _, d := f.reg.AuthenticateProxy(h, loop, true); !d.Allow {
		t.Fatalf("before expiry: %+v", d)
	}
	f.clock.Add(time.Hour)
	if _, d := f.reg.AuthenticateProxy(h, loop, true); d.Allow {
		t.Fatal("key still valid at its expiry time")
	}
}

func TestNoStoreRoundTripsAndFlush(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.store.Calls.Load()
	for i := 0; i < 1000; i++ {
		if _, d := f.reg.AuthenticateProxy(basic("acme", f.keys["acme"]), loop, true); !d.Allow {
			t.Fatal(d)
		}
		if _, ok := f.reg.AuthenticateBearer("Bearer "+f.keys["acme-control"], loop); !ok {
			t.Fatal("bearer refused")
		}
	}
	if n := f.store.Calls.Load() - before; n != 0 {
		t.Fatalf("%d store calls during authentication", n)
	}
	if at, ok := f.reg.LastUsed(f.ids["acme"]); !ok || !at.Equal(t0) {
		t.Errorf("last used %v %v", at, ok)
	}
	if err := f.reg.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.store.Calls.Load() - before; n != 1 {
		t.Errorf("flush made %d store calls, want one batch", n)
	}
	k, err := f.store.Admin().GetKey(ctx, f.ids["acme"])
	if err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(t0) {
		t.Fatalf("stored last_used_at %v (%v)", k.LastUsedAt, err)
	}
	// Nothing new: no write. A reload keeps unflushed state.
	before = f.store.Calls.Load()
	if err := f.reg.Flush(ctx); err != nil || f.store.Calls.Load() != before {
		t.Errorf("idle flush wrote (%v)", err)
	}
	f.clock.Add(time.Minute)
	f.reg.AuthenticateProxy(basic("acme", f.keys["acme"]), loop, true)
	if err := f.reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ = f.store.Admin().GetKey(ctx, f.ids["acme"])
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("last_used_at after reload+flush %v", k.LastUsedAt)
	}
}

func TestReloadSwapsAndNotifies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var calls atomic.Int32
	f.reg.OnSwap(func() { calls.Add(1) })
	v := f.reg.Version()
	// Revoke in the store: the old snapshot still authenticates until reload.
	k, _ := f.store.Admin().GetKey(ctx, f.ids["acme"])
	k.Status = tollgate.KeyRevoked
	if err := f.store.Admin().UpdateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	h := basic("acme", f.keys["acme"])
	if _, d := f.reg.AuthenticateProxy(h, loop, true); !d.Allow {
		t.Fatal("snapshot changed without reload")
	}
	if err := f.reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, d := f.reg.AuthenticateProxy(h, loop, true); d.Allow {
		t.Fatal("revoked key accepted after reload")
	}
	if f.reg.Version() != v+1 || calls.Load() != 1 {
		t.Errorf("version %d→%d, callbacks %d", v, f.reg.Version(), calls.Load())
	}
	ids := []string{}
	for _, tn := range f.reg.Tenants() {
		ids = append(ids, tn.ID)
	}
	if want := "[acme default frozen globex]"; ("[" + join(ids) + "]") != want {
		t.Errorf("tenants %v, want %s", ids, want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// Run reloads when the store reports a change, without waiting for the safety tick.
func TestRunReloadsOnWatch(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	swapped := make(chan struct{}, 16)
	f.reg.OnSwap(func() { swapped <- struct{}{} })
	done := make(chan error, 1)
	go func() { done <- f.reg.Run(ctx) }()
	ten := tollgate.DefaultTenant()
	ten.ID = "initech"
	// The watcher may register after the first change; keep changing until a swap shows it.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		if i == 0 {
			if err := f.store.Admin().CreateTenant(ctx, ten); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := f.store.Admin().UpdateTenant(ctx, ten); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-swapped:
		case <-time.After(50 * time.Millisecond):
			continue
		case <-deadline:
			t.Fatal("no reload after a store change")
		}
		if _, ok := f.reg.Tenant("initech"); ok {
			break
		}
	}
	f.reg.AuthenticateProxy(basic("acme", f.keys["acme"]), loop, true)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	k, _ := f.store.Admin().GetKey(context.Background(), f.ids["acme"])
	if k.LastUsedAt == nil {
		t.Error("Run did not flush last-used times on exit")
	}
}

func BenchmarkAuthenticateProxy(b *testing.B) {
	f := newFixture(b)
	h := basic("acme", f.keys["acme"])
	before := f.store.Calls.Load()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, d := f.reg.AuthenticateProxy(h, loop, true); !d.Allow {
				b.Fatal(d)
			}
		}
	})
	b.StopTimer()
	if n := f.store.Calls.Load() - before; n != 0 {
		b.Fatalf("%d store round trips", n)
	}
	b.ReportMetric(0, "store-calls/op")
}

func BenchmarkAuthenticateProxySerial(b *testing.B) {
	f := newFixture(b)
	h := basic("acme", f.keys["acme"])
	before := f.store.Calls.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, d := f.reg.AuthenticateProxy(h, loop, true); !d.Allow {
			b.Fatal(d)
		}
	}
	if n := f.store.Calls.Load() - before; n != 0 {
		b.Fatalf("%d store round trips", n)
	}
}
