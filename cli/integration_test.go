package cli

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control"
	"github.com/tollgate-dev/tollgate/identity"
	"github.com/tollgate-dev/tollgate/keyseal"
	"github.com/tollgate-dev/tollgate/store/sqlite"
	"time"
)

// TestAgainstControlServer drives the commands against the real control API
// over a SQLite store, so that the requests the table tests assert are the
// ones the server understands.
func TestAgainstControlServer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, keyseal.KeySize)
	_, _ = rand.Read(master)
	sealer, err := keyseal.New(master)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return fixedNow }
	reg := identity.NewRegistry(st, now, nil)
	reg.SetAdminToken("tok-admin")
	if err := reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	srv := control.NewServer(control.Options{Store: st, Registry: reg, Sealer: sealer, Defaults: tollgate.DefaultTenant(), Now: now})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	env := map[string]string{"TOLLGATE_URL": hs.URL}

	run := func(t *testing.T, wantCode int, stdin string, args ...string) result {
		t.Helper()
		res := runWith(t, nil, env, stdin, args...)
		if res.code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, res.code, wantCode, res.stdout, res.stderr)
		}
		return res
	}
	contains := func(t *testing.T, s string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("output does not contain %q:\n%s", w, s)
			}
		}
	}

	res := run(t, ExitOK, "", "tenant", "create", "acme", "--name", "Acme Corp", "--mode", "intercept", "--allowed-hosts", "*.acme.com,hooks.example.com", "--rps", "50", "--burst", "100")
	contains(t, res.stdout, "mode:                         intercept", "allowed_hosts:                *.acme.com, hooks.example.com", "burst:                        100", "allowed_ports:                80, 443")
	run(t, ExitFailure, "", "tenant", "create", "acme")
	res = run(t, ExitOK, "", "tenant", "update", "acme", "--status", "suspended", "--max-concurrent", "8")
	contains(t, res.stdout, "status:                       suspended", "max_concurrent:               8", "requests_per_second:          50")
	res = run(t, ExitOK, "", "tenant", "list")
	contains(t, res.stdout, "acme  Acme Corp  suspended  intercept")
	run(t, ExitFailure, "", "tenant", "get", "nope")

	res = run(t, ExitOK, "", "key", "create", "--tenant", "acme", "--scopes", "proxy,control:read", "--description", "workers", "--allowed-ips", "203.0.113.0/24", "--expires-in", "720h")
	key := regexp.MustCompile(`tg_live_[0-9A-Za-z]{49}`).FindString(res.stdout)
	keyID := regexp.MustCompile(`key_[0-9A-Za-z]{26}`).FindString(res.stdout)
	if key == "" || keyID == "" {
		t.Fatalf("no key or id in %q", res.stdout)
	}
	contains(t, res.stderr, "not shown again")
	contains(t, res.stdout, "expires_at:  2026-12-26T00:00:00Z")
	res = run(t, ExitOK, "", "key", "list", "--tenant", "acme")
	contains(t, res.stdout, keyID, "active", "proxy,control:read", "203.0.113.0/24")
	if strings.Contains(res.stdout, key) {
		t.Error("key list printed the key")
	}

	// A tenant key reads its own tenant and nothing else.
	tenantEnv := map[string]string{"TOLLGATE_URL": hs.URL, "TOLLGATE_TOKEN": key}
	if r := runWith(t, nil, tenantEnv, "", "tenant", "list"); r.code != ExitFailure {
		t.Errorf("tenant key listed tenants: %+v", r)
	}

	res = run(t, ExitOK, "", "signing-key", "list", "--tenant", "acme")
	contains(t, res.stdout, "primary")
	res = run(t, ExitOK, "", "signing-key", "secret", "--tenant", "acme", "--host", "hooks.example.com")
	secret := strings.TrimSpace(res.stdout)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	body := `{"event":"invoice.paid"}`
	run(t, ExitOK, delivery(t, secret, fixedNow, body, body), "verify", "--secret", secret)
	other := run(t, ExitOK, "", "signing-key", "secret", "--tenant", "acme", "--host", "other.example.com")
	run(t, ExitFailure, delivery(t, secret, fixedNow, body, body), "verify", "--secret", strings.TrimSpace(other.stdout))

	run(t, ExitOK, "", "signing-key", "rotate", "--tenant", "acme")
	res = run(t, ExitOK, "", "signing-key", "list", "--tenant", "acme")
	contains(t, res.stdout, "primary", "grace")

	res = run(t, ExitOK, "", "key", "rotate", keyID, "--tenant", "acme", "--grace", "1h")
	if newKey := regexp.MustCompile(`tg_live_[0-9A-Za-z]{49}`).FindString(res.stdout); newKey == "" || newKey == key {
		t.Errorf("rotate printed no new key: %q", res.stdout)
	}
	run(t, ExitOK, "", "key", "revoke", keyID, "--tenant", "acme")
	res = run(t, ExitOK, "", "key", "create", "--platform", "--scopes", "proxy:any-tenant")
	contains(t, res.stdout, "(platform)")
	res = run(t, ExitOK, "", "key", "list", "--platform")
	contains(t, res.stdout, "proxy:any-tenant")

	res = run(t, ExitOK, "", "audit", "list", "--tenant", "acme")
	contains(t, res.stdout, "ACTION")
	res = run(t, ExitOK, "", "audit", "verify", "--tenant", "acme")
	contains(t, res.stdout, "ok: ")
	res = run(t, ExitOK, "", "audit", "export", "--tenant", "acme")
	if lines := strings.Count(res.stdout, "\n"); lines == 0 {
		t.Error("audit export wrote nothing")
	}

	run(t, ExitOK, "", "tenant", "delete", "acme")
	run(t, ExitFailure, "", "tenant", "get", "acme")
}
