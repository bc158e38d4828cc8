package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

type createdKey struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Tenant string `json:"tenant"`
}

func (in *instance) createTenant(t *testing.T, id string, extra map[string]any) {
	t.Helper()
	body := map[string]any{"id": id, "name": id}
	for k, v := range extra {
		body[k] = v
	}
	if st := in.api(in.adminToken, "POST", "/v1/tenants", body, nil); st != http.StatusCreated {
		t.Fatalf("create tenant %s: status %d", id, st)
	}
}

func (in *instance) createKey(t *testing.T, tenant string, body map[string]any) createdKey {
	t.Helper()
	var k createdKey
	path := "/v1/tenants/" + tenant + "/keys"
	if tenant == "" {
		path = "/v1/keys"
	}
	if st := in.api(in.adminToken, "POST", path, body, &k); st != http.StatusCreated || !strings.HasPrefix(k.Key, "tg_live_") {
		t.Fatalf("create key for %q: status %d key %q", tenant, st, k.Key)
	}
	return k
}

// TestProxyAuth covers SPEC §3 proxy authentication end to end.
func TestProxyAuth(t *testing.T) {
	d := dnstest.Start(t)
	pub := upstreamIP()
	startEcho(t, pub, 443, nil)
	d.Set("hook.test", "hook.test. 60 IN A "+pub)
	cfg := baseConfig(t, d)
	section(cfg, "proxy")["require_auth"] = true
	in := start(t, cfg)

	in.createTenant(t, "acme", nil)
	in.createTenant(t, "beta", nil)
	good := in.createKey(t, "acme", map[string]any{"scopes": []string{"proxy"}})
	betaKey := in.createKey(t, "beta", map[string]any{"scopes": []string{"proxy"}})
	ipBound := in.createKey(t, "acme", map[string]any{"scopes": []string{"proxy"}, "allowed_ips": []string{"10.0.0.0/8"}})
	short := in.createKey(t, "acme", map[string]any{"scopes": []string{"proxy"}, "expires_in": "1s"})
	readOnly := in.createKey(t, "acme", map[string]any{"scopes": []string{"control:read"}})
	platform := in.createKey(t, "", map[string]any{"scopes": []string{"proxy:any-tenant"}})

	ok := func(user, key string) {
		t.Helper()
		res := in.connect(t, "hook.test:443", user, key)
		if res.status != 200 {
			t.Fatalf("CONNECT as %s: %d %s %s", user, res.status, res.phrase, res.body)
		}
		res.conn.Close()
	}
	refused := func(what, user, key string, status int, reason string) {
		t.Helper()
		res := in.connect(t, "hook.test:443", user, key)
		checkRefusal(t, what, res.status, res.phrase, res.header, res.body, status, reason)
		if status == 407 && res.header.Get("Proxy-Authenticate") != `Basic realm="tollgate"` {
			t.Fatalf("%s: Proxy-Authenticate %q", what, res.header.Get("Proxy-Authenticate"))
		}
	}

	ok("acme", good.Key)
	ok("beta", betaKey.Key)
	refused("no credentials", "", "", 407, "proxy_auth_required")
	refused("wrong tenant name", "beta", good.Key, 407, "proxy_auth_required")
	refused("unknown key", "acme", "tg_live_"+strings.Repeat("A", 49), 407, "proxy_auth_required")
	refused("IP-bound key from another address", "acme", ipBound.Key, 407, "proxy_auth_required")
	refused("key without proxy scope", "acme", readOnly.Key, 407, "proxy_auth_required")

	t.Run("platform key acts for two tenants", func(t *testing.T) {
		ok("acme", platform.Key)
		ok("beta", platform.Key)
		refused("platform key for a missing tenant", "nosuch", platform.Key, 407, "proxy_auth_required")
	})

	t.Run("expired", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond) // the key was created with a 1s lifetime
		refused("expired key", "acme", short.Key, 407, "proxy_auth_required")
	})

	t.Run("revoked within 1s", func(t *testing.T) {
		k := in.createKey(t, "acme", map[string]any{"scopes": []string{"proxy"}})
		ok("acme", k.Key)
		if st := in.api(in.adminToken, "DELETE", "/v1/tenants/acme/keys/"+k.ID, nil, nil); st/100 != 2 {
			t.Fatalf("revoke: %d", st)
		}
		deadline := time.Now().Add(time.Second)
		for {
			res := in.connect(t, "hook.test:443", "acme", k.Key)
			if res.status == 407 {
				break
			}
			if res.conn != nil {
				res.conn.Close()
			}
			if time.Now().After(deadline) {
				t.Fatal("revoked key still accepted after 1s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("suspended tenant", func(t *testing.T) {
		if st := in.api(in.adminToken, "PATCH", "/v1/tenants/beta", map[string]any{"status": "suspended"}, nil); st != 200 {
			t.Fatalf("suspend: %d", st)
		}
		deadline := time.Now().Add(time.Second)
		for {
			res := in.connect(t, "hook.test:443", "beta", betaKey.Key)
			if res.status == 403 {
				checkRefusal(t, "suspended", res.status, res.phrase, res.header, res.body, 403, "tenant_suspended")
				break
			}
			if res.conn != nil {
				res.conn.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("suspended tenant still served after 1s (last %d)", res.status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	if strings.Contains(in.logs.String(), good.Key) || strings.Contains(in.logs.String(), platform.Key) {
		t.Fatal("a key appears in the proxy's log output")
	}
}
