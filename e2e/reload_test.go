package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

// TestReload: SIGHUP applies new defaults and declarative tenants, leaves
// API-created tenants alone, and a broken file keeps the running config.
func TestReload(t *testing.T) {
	d := dnstest.Start(t)
	cfg := baseConfig(t, d)
	section(cfg, "proxy")["require_auth"] = true
	in := start(t, cfg)
	in.createTenant(t, "api-made", map[string]any{"name": "from the API"})

	path := filepath.Join(in.dir, "tollgate.yaml")
	write := func(raw []byte) {
		t.Helper()
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg["defaults"] = map[string]any{"mode": "intercept"}
	cfg["tenants"] = []map[string]any{
		{"id": "declared", "name": "Declared Co", "quotas": map[string]any{"requests_per_second": 5}},
		{"id": "api-made", "name": "config must not override this"},
	}
	b, _ := yaml.Marshal(cfg)
	write(b)
	_ = in.cmd.Process.Signal(syscall.SIGHUP)

	type tenant struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Mode   string `json:"mode"`
		Quotas struct {
			RPS float64 `json:"requests_per_second"`
		} `json:"quotas"`
	}
	var got tenant
	waitUntil(t, "the declared tenant to appear", func() bool {
		return in.api(in.adminToken, "GET", "/v1/tenants/declared", nil, &got) == 200
	})
	if got.Mode != "intercept" || got.Quotas.RPS != 5 || got.Name != "Declared Co" {
		t.Fatalf("declared tenant: %+v", got)
	}
	var apiMade tenant
	in.api(in.adminToken, "GET", "/v1/tenants/api-made", nil, &apiMade)
	if apiMade.Name != "from the API" {
		t.Fatalf("SIGHUP overwrote an API-created tenant: %+v", apiMade)
	}
	in.createTenant(t, "after-reload", nil)
	var fresh tenant
	in.api(in.adminToken, "GET", "/v1/tenants/after-reload", nil, &fresh)
	if fresh.Mode != "intercept" {
		t.Fatalf("new tenants do not start from the reloaded defaults: mode %q", fresh.Mode)
	}

	// A broken file is refused; the process keeps serving.
	write([]byte("proxy:\n  listen: [not, a, string]\n"))
	_ = in.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the bad reload to be logged", func() bool {
		return strings.Contains(in.logs.String(), "reload rejected")
	})
	if st := in.api(in.adminToken, "GET", "/v1/tenants/declared", nil, nil); st != 200 {
		t.Fatalf("after a bad reload the control API answers %d", st)
	}
}
