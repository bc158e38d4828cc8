package control

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/apikey"
	"github.com/tollgate-dev/tollgate/control/client"
)

func TestKeyCreateAuthRevoke(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	ctx := context.Background()
	w := e.client(e.mustKey("w", "acme", tollgate.ScopeControlWrite).Key)
	k, err := w.CreateKey(ctx, "acme", client.CreateKeyRequest{Scopes: []tollgate.Scope{tollgate.ScopeProxy, tollgate.ScopeProxy}, Description: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	if apikey.Parse(k.Key) != nil || !strings.HasPrefix(k.ID, "key_") || k.Tenant != "acme" || !slices.Equal(k.Scopes, []tollgate.Scope{tollgate.ScopeProxy}) {
		t.Fatalf("created %+v", k.APIKey)
	}
	// Effective at once: the server reloaded the registry before answering.
	p, d := e.reg.AuthenticateProxy(basic("acme", k.Key), loopback, true)
	if !d.Allow || p.KeyID() != k.ID {
		t.Fatalf("new key refused: %+v", d)
	}
	// The key is shown once: listings and the trail never carry it.
	status, _, body := e.do("GET", "/v1/tenants/acme/keys", adminToken, "", "")
	if status != 200 || strings.Contains(string(body), apikey.Prefix) || strings.Contains(string(body), `"hash"`) {
		t.Errorf("listing leaks keys: %s", body)
	}
	var l client.List[tollgate.APIKey]
	mustJSON(t, body, &l)
	found := false
	for _, item := range l.Items {
		if item.ID == k.ID {
			found = true
			if item.LastUsedAt == nil || !item.LastUsedAt.Equal(t0) {
				t.Errorf("last_used_at %v, want the in-memory use at %v", item.LastUsedAt, t0)
			}
		}
	}
	if !found {
		t.Error("new key not listed")
	}
	ev := lastEvent(t, e.events("acme"))
	raw, _ := json.Marshal(ev)
	if ev.Action != "key.create" || ev.Target != k.ID || ev.Actor != e.keys["w"].ID || ev.ActorType != tollgate.ActorKey ||
		ev.ClientIP != "127.0.0.1" || strings.Contains(string(raw), apikey.Prefix) {
		t.Errorf("event %s", raw)
	}
	if err := w.RevokeKey(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, d := e.reg.AuthenticateProxy(basic("acme", k.Key), loopback, true); d.Allow {
		t.Fatal("revoked key accepted")
	}
	if ev := lastEvent(t, e.events("acme")); ev.Action != "key.revoke" || ev.Target != k.ID {
		t.Errorf("event %+v", ev)
	}
	// Revoking again is a no-op, not a second event.
	n := len(e.events("acme"))
	if err := w.RevokeKey(ctx, "acme", k.ID); err != nil || len(e.events("acme")) != n {
		t.Errorf("second revoke: %v", err)
	}
}

func TestKeyValidation(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	past := t0.Add(-time.Hour)
	tests := []struct {
		name     string
		platform bool
		body     string
		fields   []string
	}{
		{"no scopes", false, `{"scopes":[]}`, []string{"scopes"}},
		{"platform scope on tenant key", false, `{"scopes":["proxy","control:admin"]}`, []string{"scopes[1]"}},
		{"tenant scope on platform key", true, `{"scopes":["proxy"]}`, []string{"scopes[0]"}},
		{"unknown scope", false, `{"scopes":["root"]}`, []string{"scopes[0]"}},
		{"both expiries", false, `{"scopes":["proxy"],"expires_in":"1h","expires_at":"2030-01-01T00:00:00Z"}`, []string{"expires_in"}},
		{"expiry in the past", false, `{"scopes":["proxy"],"expires_at":"` + past.Format(time.RFC3339) + `"}`, []string{"expires_at"}},
		{"zero lifetime", false, `{"scopes":["proxy"],"expires_in":"0s"}`, []string{"expires_in"}},
		{"bad duration", false, `{"scopes":["proxy"],"expires_in":"soon"}`, nil},
		{"host bits", false, `{"scopes":["proxy"],"allowed_ips":["127.0.0.1/8"]}`, []string{"allowed_ips[0]"}},
		{"unknown field", false, `{"scopes":["proxy"],"tenant":"globex"}`, []string{"tenant"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/tenants/acme/keys"
			if tc.platform {
				path = "/v1/keys"
			}
			status, _, body := e.do("POST", path, adminToken, "application/json", tc.body)
			var p client.Problem
			mustJSON(t, body, &p)
			if tc.fields == nil {
				if status != 400 {
					t.Errorf("status %d: %s", status, body)
				}
				return
			}
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			if status != 422 || !slices.Equal(got, tc.fields) {
				t.Errorf("status %d fields %v, want 422 %v: %s", status, got, tc.fields, body)
			}
		})
	}
}

func TestKeyExpiresIn(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	d := client.Duration(2 * time.Hour)
	k, err := e.admin.CreateKey(context.Background(), "acme", client.CreateKeyRequest{Scopes: []tollgate.Scope{tollgate.ScopeProxy}, ExpiresIn: &d})
	if err != nil {
		t.Fatal(err)
	}
	if k.ExpiresAt == nil || !k.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("expires_at %v", k.ExpiresAt)
	}
	e.clock.Add(2 * time.Hour)
	if _, dec := e.reg.AuthenticateProxy(basic("acme", k.Key), loopback, true); dec.Allow {
		t.Error("key valid at its expiry")
	}
	l, _ := e.admin.ListKeys(context.Background(), "acme", 0, "")
	if len(l.Items) != 1 || l.Items[0].Status != tollgate.KeyExpired {
		t.Errorf("listed status %+v", l.Items)
	}
}

func TestKeyRotationGrace(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	ctx := context.Background()
	old, err := e.admin.CreateKey(ctx, "acme", client.CreateKeyRequest{
		Scopes: []tollgate.Scope{tollgate.ScopeProxy}, Description: "worker", AllowedIPs: mustPrefixes("127.0.0.0/8"),
	})
	if err != nil {
		t.Fatal(err)
	}
	next, err := e.admin.RotateKey(ctx, "acme", old.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if next.ID == old.ID || next.Key == old.Key || next.Description != "worker" ||
		!slices.Equal(next.Scopes, old.Scopes) || !slices.Equal(next.AllowedIPs, old.AllowedIPs) || next.ExpiresAt != nil {
		t.Fatalf("replacement %+v", next.APIKey)
	}
	ev := lastEvent(t, e.events("acme"))
	var meta map[string]any
	_ = json.Unmarshal(ev.Metadata, &meta)
	if ev.Action != "key.rotate" || ev.Target != old.ID || meta["replacement_id"] != next.ID {
		t.Errorf("event %+v %s", ev, ev.Metadata)
	}
	auth := func(key string) bool {
		_, d := e.reg.AuthenticateProxy(basic("acme", key), loopback, true)
		return d.Allow
	}
	steps := []struct {
		advance      time.Duration
		oldOK, newOK bool
	}{
		{0, true, true},
		{59 * time.Minute, true, true},
		{time.Minute, false, true},
		{24 * time.Hour, false, true},
	}
	for _, s := range steps {
		e.clock.Add(s.advance)
		if auth(old.Key) != s.oldOK || auth(next.Key) != s.newOK {
			t.Errorf("at +%v: old %v new %v, want %v %v", e.clock.Now().Sub(t0), auth(old.Key), auth(next.Key), s.oldOK, s.newOK)
		}
	}
	// An expired key cannot be rotated again.
	if _, err := e.admin.RotateKey(ctx, "acme", old.ID, time.Hour); !isStatus(err, 409) {
		t.Errorf("rotate expired key: %v", err)
	}
	// Default grace is 168h when the body is empty.
	status, _, body := e.do("POST", "/v1/tenants/acme/keys/"+next.ID+"/rotate", adminToken, "", "")
	if status != 201 {
		t.Fatalf("rotate without body: %d %s", status, body)
	}
	stored, _ := e.store.Admin().GetKey(ctx, next.ID)
	if want := e.clock.Now().Add(168 * time.Hour); stored.ExpiresAt == nil || !stored.ExpiresAt.Equal(want) {
		t.Errorf("default grace ends %v, want %v", stored.ExpiresAt, want)
	}
}

func TestPlatformKeys(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	e.mustTenant("globex")
	ctx := context.Background()
	pk := e.mustKey("platform", "", tollgate.ScopeProxyAnyTenant)
	for _, tn := range []string{"acme", "globex"} {
		if p, d := e.reg.AuthenticateProxy(basic(tn, pk.Key), loopback, true); !d.Allow || p.Tenant.ID != tn {
			t.Errorf("platform key for %s: %+v", tn, d)
		}
	}
	l, err := e.admin.ListPlatformKeys(ctx, 0, "")
	if err != nil || len(l.Items) != 1 || l.Items[0].ID != pk.ID {
		t.Fatalf("platform keys %+v %v", l, err)
	}
	// A tenant key is not a platform key, whatever its id.
	tk := e.mustKey("t", "acme", tollgate.ScopeProxy)
	if err := e.admin.RevokePlatformKey(ctx, tk.ID); !isStatus(err, 404) {
		t.Errorf("revoking a tenant key on the platform route: %v", err)
	}
	if err := e.admin.RevokePlatformKey(ctx, pk.ID); err != nil {
		t.Fatal(err)
	}
	if _, d := e.reg.AuthenticateProxy(basic("acme", pk.Key), loopback, true); d.Allow {
		t.Error("revoked platform key accepted")
	}
	if ev := lastEvent(t, e.events(tollgate.PlatformChain)); ev.Action != "key.revoke" || ev.Target != pk.ID {
		t.Errorf("platform event %+v", ev)
	}
	// A platform admin key administers like the admin token.
	ak := e.client(e.mustKey("admin-key", "", tollgate.ScopeControlAdmin).Key)
	if _, err := ak.ListTenants(ctx, 10, ""); err != nil {
		t.Errorf("platform admin key: %v", err)
	}
	who, err := ak.WhoAmI(ctx)
	if err != nil || who.KeyID != e.keys["admin-key"].ID || who.ActorType != tollgate.ActorKey || who.Tenant != "" {
		t.Errorf("whoami %+v %v", who, err)
	}
}

func TestWhoAmI(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	ctx := context.Background()
	who, err := e.admin.WhoAmI(ctx)
	if err != nil || who.ActorType != tollgate.ActorAdmin || !slices.Equal(who.Scopes, []tollgate.Scope{tollgate.ScopeControlAdmin}) {
		t.Errorf("admin whoami %+v %v", who, err)
	}
	k := e.mustKey("r", "acme", tollgate.ScopeControlRead)
	who, err = e.client(k.Key).WhoAmI(ctx)
	if err != nil || who.KeyID != k.ID || who.Tenant != "acme" || !slices.Equal(who.Scopes, []tollgate.Scope{tollgate.ScopeControlRead}) {
		t.Errorf("key whoami %+v %v", who, err)
	}
}

func TestClientTypedCreateAndCA(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := tollgate.DefaultTenant()
	tn.ID, tn.Name, tn.Mode = "typed", "Typed", tollgate.ModeIntercept
	got, err := e.admin.CreateTenant(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "typed" || got.Mode != tollgate.ModeIntercept || !slices.Equal(got.Policy.AllowedPorts, []uint16{80, 443}) {
		t.Errorf("created %+v", got)
	}
	pem, err := client.New(e.http.URL, "", e.http.Client()).InterceptCA(ctx)
	if err != nil || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		t.Errorf("CA %q %v", pem, err)
	}
}
