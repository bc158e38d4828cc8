package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/signer"
)

func TestSigningKeyRotation(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	ctx := context.Background()
	statuses := func() map[string]tollgate.SigningKeyStatus {
		t.Helper()
		l, err := e.admin.ListSigningKeys(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]tollgate.SigningKeyStatus{}
		for _, k := range l.Items {
			out[k.ID] = k.Status
		}
		return out
	}
	first := func() string {
		for id := range statuses() {
			return id
		}
		return ""
	}()
	second, err := e.admin.RotateSigningKey(ctx, "acme", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if ev := lastEvent(t, e.events("acme")); ev.Action != "signing_key.rotate" || ev.Target != second.ID {
		t.Errorf("event %+v", ev)
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    map[string]tollgate.SigningKeyStatus
	}{
		{"after rotate", 0, map[string]tollgate.SigningKeyStatus{first: tollgate.SigningGrace, second.ID: tollgate.SigningPrimary}},
		{"inside grace", 23 * time.Hour, map[string]tollgate.SigningKeyStatus{first: tollgate.SigningGrace, second.ID: tollgate.SigningPrimary}},
		{"grace over", time.Hour, map[string]tollgate.SigningKeyStatus{first: tollgate.SigningRetired, second.ID: tollgate.SigningPrimary}},
	}
	for _, s := range steps {
		e.clock.Add(s.advance)
		got := statuses()
		if len(got) != len(s.want) {
			t.Errorf("%s: %v", s.name, got)
		}
		for id, st := range s.want {
			if got[id] != st {
				t.Errorf("%s: %s is %s, want %s", s.name, id, got[id], st)
			}
		}
	}
	// "0s" retires the previous primary at once (a leaked secret).
	third, err := e.admin.RotateSigningKey(ctx, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := statuses()
	if got[second.ID] != tollgate.SigningRetired || got[third.ID] != tollgate.SigningPrimary {
		t.Errorf("after 0s rotation: %v", got)
	}
	if _, err := e.admin.SigningSecret(ctx, "acme", second.ID, "hooks.example.com"); !isStatus(err, 409) {
		t.Errorf("secret of a retired key: %v", err)
	}
	if _, err := e.admin.SigningSecret(ctx, "acme", "sk_nosuch", "hooks.example.com"); !isStatus(err, 404) {
		t.Errorf("secret of a missing key: %v", err)
	}
}

// plainKey opens a stored signing key the way the proxy does.
func (e *env) plainKey(tenant, id string) []byte {
	e.t.Helper()
	keys, err := e.store.Admin().ListSigningKeys(context.Background(), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == id {
			b, err := e.sealer.Open(k.Sealed, []byte(k.ID))
			if err != nil {
				e.t.Fatal(err)
			}
			return b
		}
	}
	e.t.Fatalf("no signing key %s", id)
	return nil
}

func TestSigningSecrets(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	ctx := context.Background()
	l, _ := e.admin.ListSigningKeys(ctx, "acme")
	skID := l.Items[0].ID
	key := e.plainKey("acme", skID)
	if len(key) != 32 {
		t.Fatalf("signing key of %d bytes", len(key))
	}
	tests := []struct {
		name, host, wantHost string
		scope                tollgate.SigningScope
		want                 string
		status               int
	}{
		{"host scope", "hooks.example.com", "hooks.example.com", tollgate.SigningScopeHost, signer.FormatSecret(signer.DeriveHostKey(key, "hooks.example.com")), 200},
		{"host normalised", "HOOKS.Example.com.", "hooks.example.com", tollgate.SigningScopeHost, signer.FormatSecret(signer.DeriveHostKey(key, "hooks.example.com")), 200},
		{"other host differs", "api.example.net", "api.example.net", tollgate.SigningScopeHost, signer.FormatSecret(signer.DeriveHostKey(key, "api.example.net")), 200},
		{"ipv6 host", "[2001:DB8::1]", "2001:db8::1", tollgate.SigningScopeHost, signer.FormatSecret(signer.DeriveHostKey(key, "2001:db8::1")), 200},
		{"host required", "", "", tollgate.SigningScopeHost, "", 422},
		{"bad host", "a b", "", tollgate.SigningScopeHost, "", 422},
		{"tenant scope", "", "", tollgate.SigningScopeTenant, signer.FormatSecret(key), 200},
		{"tenant scope ignores host", "hooks.example.com", "hooks.example.com", tollgate.SigningScopeTenant, signer.FormatSecret(key), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.admin.PatchTenant(ctx, "acme", json.RawMessage(`{"signing_scope":"`+string(tc.scope)+`"}`)); err != nil {
				t.Fatal(err)
			}
			n := len(e.events("acme"))
			got, err := e.admin.SigningSecret(ctx, "acme", skID, tc.host)
			if tc.status != 200 {
				if !isStatus(err, tc.status) {
					t.Fatalf("error %v, want %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Secret != tc.want || got.Host != tc.wantHost || got.SigningKeyID != skID {
				t.Errorf("got %+v, want secret %s host %s", got, tc.want, tc.wantHost)
			}
			if _, err := signer.ParseSecret(got.Secret); err != nil {
				t.Errorf("secret does not parse: %v", err)
			}
			ev := lastEvent(t, e.events("acme"))
			raw, _ := json.Marshal(ev)
			if len(e.events("acme")) != n+1 || ev.Action != "signing_key.secret_read" || containsAny(string(raw), got.Secret, got.Secret[len("whsec_"):]) {
				t.Errorf("secret read event %s", raw)
			}
		})
	}
	// Read keys see metadata but never secrets.
	r := e.client(e.mustKey("r", "acme", tollgate.ScopeControlRead).Key)
	if _, err := r.SigningSecret(ctx, "acme", skID, "hooks.example.com"); !isStatus(err, 403) {
		t.Errorf("read key got a secret: %v", err)
	}
	status, _, body := e.do("GET", "/v1/tenants/acme/signing-keys", e.keys["r"].Key, "", "")
	if status != 200 || containsAny(string(body), "sealed", signer.FormatSecret(key)) {
		t.Errorf("metadata listing: %d %s", status, body)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
