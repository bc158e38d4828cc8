package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

func TestEmptyFileIsDefault(t *testing.T) {
	want := dump(Default())
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "{}\n", "proxy:\n", "proxy: {}\ntenants: []\ndefaults: {}\n"} {
		t.Run(in, func(t *testing.T) {
			c, err := Parse([]byte(in), "empty.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := dump(c); got != want {
				t.Errorf("differs from Default():\n%s", got)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"proxy.listen", c.Proxy.Listen, "127.0.0.1:3128"},
		{"control.listen", c.Control.Listen, "127.0.0.1:9090"},
		{"admin token", c.Control.AdminTokenFile, filepath.Join("tollgate-data", "admin.token")},
		{"ca cert", c.Intercept.CACertFile, filepath.Join("tollgate-data", "ca.pem")},
		{"ca key", c.Intercept.CAKeyFile, filepath.Join("tollgate-data", "ca-key.pem")},
		{"dsn", c.Store.DSN, filepath.Join("tollgate-data", "tollgate.db")},
		{"require_auth", c.Proxy.RequireAuth, true},
		{"retention", c.Audit.Retention, 8760 * time.Hour},
		{"defaults id", c.Defaults.ID, tollgate.DefaultTenantID},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	// Default must hand out fresh values: changing one must not change the next.
	c.Resolver.Servers = append(c.Resolver.Servers, "127.0.0.1:53")
	c.Defaults.Policy.AllowedPorts[0] = 8080
	if d := Default(); len(d.Resolver.Servers) != 0 || d.Defaults.Policy.AllowedPorts[0] != 80 {
		t.Error("Default() shares state between calls")
	}
}

// The example documents every key with its default, so it must decode to
// exactly Default().
func TestExampleConfigIsDefault(t *testing.T) {
	c, err := Load("../deploy/tollgate.example.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := dump(c), dump(Default()); got != want {
		t.Errorf("example config is not the default:\n%s", got)
	}
	golden(t, "example.golden", dump(c))
}

func TestFullConfigGolden(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("re-Validate: %v", err)
	}
	golden(t, "full.golden", dump(c))
}

type wantErr struct {
	line int
	key  string
	msg  string // substring
}

// errorsOf flattens what Parse returned into its *Error values.
func errorsOf(t *testing.T, err error) []*Error {
	t.Helper()
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	t.Fatalf("error %v (%T) is neither *Error nor Errors", err, err)
	return nil
}

func assertErrors(t *testing.T, file string, err error, want []wantErr) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	got := errorsOf(t, err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i, w := range want {
		g := got[i]
		if g.File != file || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("error %d = %q (file %q line %d key %q), want line %d key %q containing %q",
				i, g.Error(), g.File, g.Line, g.Key, w.line, w.key, w.msg)
		}
	}
}

func TestErrorGolden(t *testing.T) {
	cases := []struct {
		file string
		want []wantErr
	}{
		{"err_unknown_key", []wantErr{{7, "tenants[0].policy.alowed_ports", "unknown key"}}},
		{"err_wrong_type", []wantErr{
			{2, "proxy.require_auth", `expected true or false, got string "yes"`},
			{4, "resolver.cache_size", `expected an integer, got string "lots"`},
		}},
		{"err_bad_duration", []wantErr{
			{2, "proxy.connect_timeout", `invalid duration "10"`},
			{3, "proxy.idle_timeout", "must be positive, got 0s"},
			{5, "audit.retention", `invalid duration "1 year"`},
		}},
		{"err_bad_cidr", []wantErr{
			{4, "egress.allow_cidrs[1]", `invalid CIDR "10.0.0.0/33"`},
			{5, "egress.allow_cidrs[2]", `did you mean "192.168.1.0/24"`},
			{6, "egress.deny_cidrs[0]", "IPv4-mapped"},
		}},
		{"err_bad_enum", []wantErr{
			{2, "store.driver", `invalid driver "mysql": use sqlite or postgres`},
			{4, "quota.redis_url", "required when quota.backend is redis"},
			{6, "log.level", `invalid log level "verbose"`},
			{7, "log.format", `invalid format "xml"`},
			{9, "defaults.mode", `invalid mode "mitm"`},
		}},
		{"err_duplicate_tenant", []wantErr{
			{5, "tenants[2].id", `duplicate tenant id "acme" (first defined at tenants[0])`},
			{7, "tenants[3].id", "required"},
			{8, "tenants[4].id", `invalid tenant id "Bad_ID"`},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			path := "testdata/" + tc.file + ".yaml"
			_, err := Load(path)
			assertErrors(t, path, err, tc.want)
			golden(t, tc.file+".golden", err.Error()+"\n")
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []wantErr
	}{
		{"syntax", "proxy:\n  listen: [\n", []wantErr{{2, "", "invalid YAML"}}},
		{"tab indentation", "proxy:\n\tlisten: x\n", []wantErr{{2, "", "invalid YAML"}}},
		{"top level list", "- a\n", []wantErr{{1, "", "expected a mapping at the top level"}}},
		{"top level scalar", "hello\n", []wantErr{{1, "", "expected a mapping"}}},
		{"two documents", "proxy: {}\n---\nlog: {}\n", []wantErr{{2, "", "more than one YAML document"}}},
		{"unknown top key", "proxi: {}\n", []wantErr{{1, "proxi", "unknown key"}}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []wantErr{{3, "log.level", "duplicate key"}}},
		{"alias", "a: &x 1s\nproxy:\n  idle_timeout: *x\n", []wantErr{{1, "a", "unknown key"}, {3, "proxy.idle_timeout", "aliases are not supported"}}},
		{"merge key", "proxy:\n  <<: {listen: 1.2.3.4:1}\n", []wantErr{{2, "proxy", "merge keys"}}},
		{"mapping for scalar", "data_dir: {a: b}\n", []wantErr{{1, "data_dir", "expected a single value, got a mapping"}}},
		{"scalar for list", "resolver:\n  servers: 127.0.0.1:53\n", []wantErr{{2, "resolver.servers", "expected a list"}}},
		{"scalar for mapping", "proxy: on\n", []wantErr{{1, "proxy", "expected a mapping at proxy"}}},
		{"bool for string", "data_dir: true\n", []wantErr{{1, "data_dir", "expected a string"}}},
		{"empty list entry", "egress:\n  own_domains: [a.com, ~]\n", []wantErr{{2, "egress.own_domains[1]", "empty list entry"}}},
		{"listen without port", "proxy:\n  listen: 127.0.0.1\n", []wantErr{{2, "proxy.listen", "use host:port"}}},
		{"listen port 0", "proxy:\n  listen: 127.0.0.1:0\n", []wantErr{{2, "proxy.listen", "between 1 and 65535"}}},
		{"listen port too big", "control:\n  listen: 127.0.0.1:65536\n", []wantErr{{2, "control.listen", "between 1 and 65535"}}},
		{"listen same as proxy", "control:\n  listen: 127.0.0.1:3128\n", []wantErr{{2, "control.listen", "must differ"}}},
		{"control on the proxy port of every interface", "proxy:\n  listen: 0.0.0.0:3128\ncontrol:\n  listen: 127.0.0.1:3128\n", []wantErr{{4, "control.listen", "must differ"}}},
		{"tls on the proxy port", "proxy:\n  listen: 127.0.0.1:3128\n  tls_listen: \"[::]:3128\"\n  tls_cert_file: a\n  tls_key_file: b\n", []wantErr{{3, "proxy.tls_listen", "must differ"}}},
		{"tls_listen without cert", "proxy:\n  tls_listen: 127.0.0.1:3129\n", []wantErr{{2, "proxy.tls_listen", "needs proxy.tls_cert_file"}}},
		{"cert without tls_listen", "proxy:\n  tls_cert_file: a.pem\n", []wantErr{{2, "proxy.tls_cert_file", "only together"}}},
		{"negative timeout", "proxy:\n  connect_timeout: -1s\n", []wantErr{{2, "proxy.connect_timeout", "must be positive"}}},
		{"zero tunnel duration", "proxy:\n  max_tunnel_duration: 0\n", []wantErr{{2, "proxy.max_tunnel_duration", "must be positive"}}},
		{"min over max ttl", "resolver:\n  min_ttl: 10m\n  max_ttl: 5m\n", []wantErr{{2, "resolver.min_ttl", "must not exceed"}}},
		{"resolver by name", "resolver:\n  servers: [dns.google:53]\n", []wantErr{{2, "resolver.servers[0]", "use ip:port"}}},
		{"resolver without port", "resolver:\n  servers: [127.0.0.53]\n", []wantErr{{2, "resolver.servers[0]", "use ip:port"}}},
		{"cache size zero", "resolver:\n  cache_size: 0\n", []wantErr{{2, "resolver.cache_size", "must be positive"}}},
		{"int overflow", "resolver:\n  cache_size: 99999999999999999999\n", []wantErr{{2, "resolver.cache_size", "expected an integer"}}},
		{"bare ipv6 zone", "egress:\n  deny_cidrs: [fe80::1%eth0]\n", []wantErr{{2, "egress.deny_cidrs[0]", "invalid CIDR"}}},
		{"cidr leading zero", "egress:\n  deny_cidrs: [010.0.0.0/8]\n", []wantErr{{2, "egress.deny_cidrs[0]", "invalid CIDR"}}},
		{"cidr as number", "egress:\n  deny_cidrs: [10]\n", []wantErr{{2, "egress.deny_cidrs[0]", "expected a CIDR"}}},
		{"own domain upper case", "egress:\n  own_domains: [Platform.example.com]\n", []wantErr{{2, "egress.own_domains[0]", "lower-case"}}},
		{"own domain trailing dot", "egress:\n  own_domains: [platform.example.com.]\n", []wantErr{{2, "egress.own_domains[0]", "trailing dot"}}},
		{"own domain glob", "egress:\n  own_domains: [\"*.example.com\"]\n", []wantErr{{2, "egress.own_domains[0]", "invalid domain"}}},
		{"postgres without dsn", "store:\n  driver: postgres\n", []wantErr{{2, "store.dsn", "required when store.driver is postgres"}}},
		{"postgres url under sqlite", "store:\n  dsn: postgres://u@127.0.0.1/db\n", []wantErr{{2, "store.dsn", "set store.driver: postgres"}}},
		{"postgresql url under sqlite", "store:\n  driver: sqlite\n  dsn: PostgreSQL://u@127.0.0.1/db\n", []wantErr{{3, "store.dsn", "set store.driver: postgres"}}},
		{"ca cert without key", "intercept:\n  ca_cert_file: ca.pem\n", []wantErr{{1, "intercept", "set both"}}},
		{"redis bad url", "quota:\n  backend: redis\n  redis_url: http://x\n", []wantErr{{3, "quota.redis_url", "invalid Redis URL"}}},
		{"int range", "defaults:\n  quotas:\n    burst: 9223372036854775808\n", []wantErr{{3, "defaults.quotas.burst", "out of range"}}},
		{"negative global rps", "quota:\n  global_requests_per_second: -1\n", []wantErr{{2, "quota.global_requests_per_second", ">= 0"}}},
		{"nan rps", "quota:\n  global_requests_per_second: .nan\n", []wantErr{{2, "quota.global_requests_per_second", "finite"}}},
		{"on_backend_error", "quota:\n  on_backend_error: allow\n", []wantErr{{2, "quota.on_backend_error", "use local or deny"}}},
		{"defaults id not allowed", "defaults:\n  id: x\n", []wantErr{{2, "defaults.id", "valid keys here: mode, sign, policy, quotas"}}},
		{"defaults status not allowed", "defaults:\n  status: suspended\n", []wantErr{{2, "defaults.status", "unknown key"}}},
		{"tenant declarative not a key", "tenants:\n  - id: a\n    declarative: true\n", []wantErr{{3, "tenants[0].declarative", "unknown key"}}},
		{"tenants not a list", "tenants: {id: a}\n", []wantErr{{1, "tenants", "expected a list of tenants"}}},
		{"empty tenant", "tenants:\n  -\n", []wantErr{{2, "tenants[0]", "empty tenant"}}},
		{"tenant bad status", "tenants:\n  - id: a\n    status: paused\n", []wantErr{{3, "tenants[0].status", "use active or suspended"}}},
		{"tenant bad scope", "tenants:\n  - id: a\n    signing_scope: global\n", []wantErr{{3, "tenants[0].signing_scope", "use host or tenant"}}},
		{"tenant id too long", "tenants:\n  - id: " + strings.Repeat("a", 64) + "\n", []wantErr{{2, "tenants[0].id", "invalid tenant id"}}},
		{"tenant port 0", "tenants:\n  - id: a\n    policy: {allowed_ports: [0]}\n", []wantErr{{3, "tenants[0].policy.allowed_ports[0]", "between 1 and 65535"}}},
		{"tenant port string", "tenants:\n  - id: a\n    policy: {allowed_ports: [https]}\n", []wantErr{{3, "tenants[0].policy.allowed_ports[0]", "expected a port number"}}},
		{"tenant bad host glob", "tenants:\n  - id: a\n    policy: {allowed_hosts: [\"a.*.com\"]}\n", []wantErr{{3, "tenants[0].policy.allowed_hosts[0]", "invalid host pattern"}}},
		{"negative quota", "tenants:\n  - id: a\n    quotas:\n      burst: -5\n", []wantErr{{4, "tenants[0].quotas.burst", "must not be negative"}}},
		{"negative body", "defaults:\n  policy:\n    max_body_bytes: -1\n", []wantErr{{3, "defaults.policy.max_body_bytes", "must not be negative"}}},
		{"sign yes", "defaults:\n  sign: yes\n", []wantErr{{2, "defaults.sign", "expected true or false"}}},
		{"log level upper", "log:\n  level: INFO\n", []wantErr{{2, "log.level", "invalid log level"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.in), "tollgate.yaml")
			if c != nil {
				t.Errorf("Parse returned a config together with an error")
			}
			assertErrors(t, "tollgate.yaml", err, tc.want)
		})
	}
}

func TestParseValid(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		check func(*Config) bool
	}{
		{"listen all interfaces", "proxy:\n  listen: \":3128\"\n", func(c *Config) bool { return c.Proxy.Listen == ":3128" }},
		{"listen ipv6", "proxy:\n  listen: \"[::1]:3128\"\n", func(c *Config) bool { return c.Proxy.Listen == "[::1]:3128" }},
		{"same port on different hosts", "proxy:\n  listen: 127.0.0.1:3128\ncontrol:\n  listen: 127.0.0.2:3128\n", func(c *Config) bool { return c.Control.Listen == "127.0.0.2:3128" }},
		{"listen hostname", "proxy:\n  listen: localhost:3128\n", func(c *Config) bool { return c.Proxy.Listen == "localhost:3128" }},
		{"bare ipv4 is /32", "egress:\n  deny_cidrs: [203.0.113.9]\n", func(c *Config) bool {
			return c.Egress.DenyCIDRs[0] == netip.MustParsePrefix("203.0.113.9/32")
		}},
		{"bare ipv6 is /128", "egress:\n  deny_cidrs: [\"2001:db8::1\"]\n", func(c *Config) bool {
			return c.Egress.DenyCIDRs[0] == netip.MustParsePrefix("2001:db8::1/128")
		}},
		{"min_ttl zero", "resolver:\n  min_ttl: 0s\n", func(c *Config) bool { return c.Resolver.MinTTL == 0 }},
		{"duration zero int for min_ttl", "resolver:\n  min_ttl: 0\n", func(c *Config) bool { return c.Resolver.MinTTL == 0 }},
		{"data_dir follows", "data_dir: /srv/tg\n", func(c *Config) bool {
			return c.Control.AdminTokenFile == "/srv/tg/admin.token" && c.Store.DSN == "/srv/tg/tollgate.db" &&
				c.Intercept.CACertFile == "/srv/tg/ca.pem" && c.Intercept.CAKeyFile == "/srv/tg/ca-key.pem"
		}},
		{"relative data_dir stays relative", "data_dir: state\n", func(c *Config) bool {
			return c.DataDir == "state" && c.Control.AdminTokenFile == filepath.Join("state", "admin.token")
		}},
		{"postgres dsn not defaulted", "store:\n  driver: postgres\n  dsn: postgres://u@127.0.0.1/db\n", func(c *Config) bool {
			return c.Store.DSN == "postgres://u@127.0.0.1/db"
		}},
		{"numeric string for name", "tenants:\n  - id: \"42\"\n    name: 2024\n", func(c *Config) bool {
			return c.Tenants[0].ID == "42" && c.Tenants[0].Name == "2024"
		}},
		{"null keeps default", "proxy:\n  listen:\n", func(c *Config) bool { return c.Proxy.Listen == "127.0.0.1:3128" }},
		{"hex int", "resolver:\n  cache_size: 0x10\n", func(c *Config) bool { return c.Resolver.CacheSize == 16 }},
		{"log text", "log: {level: warn, format: text}\n", func(c *Config) bool { return c.Log.Format == "text" && c.Log.Level.String() == "WARN" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.in), "tollgate.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected config:\n%s", dump(c))
			}
			if err := c.Validate(); err != nil {
				t.Errorf("re-Validate: %v", err)
			}
		})
	}
}

func TestTenantsInheritDefaults(t *testing.T) {
	in := `
tenants:
  - id: acme
    policy:
      allowed_hosts: ["*.acme.com"]
  - id: globex
    mode: tunnel
    quotas: {burst: 7}
defaults:
  mode: intercept
  policy: {allowed_ports: [443], max_body_bytes: 4096}
  quotas: {requests_per_second: 5, burst: 10}
`
	c, err := Parse([]byte(in), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	acme, globex := c.Tenants[0], c.Tenants[1]
	checks := []struct {
		name string
		ok   bool
	}{
		{"declarative", acme.Declarative && globex.Declarative},
		{"mode inherited though defaults come later in the file", acme.Mode == tollgate.ModeIntercept},
		{"mode overridden", globex.Mode == tollgate.ModeTunnel},
		{"list replaced, siblings inherited", acme.Policy.AllowedHosts[0] == "*.acme.com" && acme.Policy.MaxBodyBytes == 4096 && len(acme.Policy.AllowedPorts) == 1},
		{"quota field merged", globex.Quotas.Burst == 7 && globex.Quotas.RequestsPerSecond == 5},
		{"fields defaults cannot set", acme.Status == tollgate.TenantActive && acme.SigningScope == tollgate.SigningScopeHost && acme.Sign},
		{"name not inherited", acme.Name == "" && acme.ID == "acme"},
		{"defaults keep upgrade_http", c.Defaults.Policy.UpgradeHTTP},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Errorf("tenants:\n%s", dump(c.Tenants))
			}
		})
	}
	acme.Policy.AllowedPorts[0] = 1
	if c.Tenants[1].Policy.AllowedPorts[0] != 443 || c.Defaults.Policy.AllowedPorts[0] != 443 {
		t.Error("tenants share slices with each other or with defaults")
	}
}

// Validate works on a Config built in code: errors name the key, no line.
func TestValidateInCode(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"bad listen", func(c *Config) { c.Proxy.Listen = "nope" }, "proxy.listen"},
		{"unmasked cidr", func(c *Config) { c.Egress.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/8")} }, "egress.allow_cidrs[0]"},
		{"zero prefix", func(c *Config) { c.Egress.DenyCIDRs = []netip.Prefix{{}} }, "egress.deny_cidrs[0]"},
		{"bad level", func(c *Config) { c.Log.Level = 3 }, "log.level"},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"tenant id", func(c *Config) { c.Tenants = []tollgate.Tenant{tollgate.DefaultTenant()} }, "tenants[0].id"},
		{"negative rps", func(c *Config) { c.Defaults.Quotas.RequestsPerSecond = -1 }, "defaults.quotas.requests_per_second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			got := errorsOf(t, c.Validate())
			if len(got) != 1 || got[0].Key != tc.key || got[0].Line != 0 || got[0].File != "" {
				t.Errorf("got %v, want one error at %s", c.Validate(), tc.key)
			}
			if !strings.HasPrefix(got[0].Error(), tc.key+": ") {
				t.Errorf("Error() = %q, want it to start with the key", got[0].Error())
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{"tollgate.yaml", 12, "egress.allow_cidrs[1]", `invalid CIDR "10.0.0.0/33"`}, `tollgate.yaml:12: egress.allow_cidrs[1]: invalid CIDR "10.0.0.0/33"`},
		{Error{"a.yaml", 0, "", "msg"}, "a.yaml: msg"},
		{Error{"a.yaml", 3, "", "msg"}, "a.yaml:3: msg"},
		{Error{"", 3, "k", "msg"}, "line 3: k: msg"},
		{Error{"", 0, "k", "msg"}, "k: msg"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.e.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a wrapped not-exist error", err)
	}
}

// TestNamesPolicyRefuses: a file that `config check` accepts must not be
// refused by the policy engine at serve time.
func TestNamesPolicyRefuses(t *testing.T) {
	for _, tc := range []struct{ name, yaml, key string }{
		{"own domain is an IP", "egress:\n  own_domains: [10.0.0.1]\n", "egress.own_domains[0]"},
		{"allowed host is an IP", "tenants:\n  - id: acme\n    policy:\n      allowed_hosts: [192.168.1.1]\n", "tenants[0].policy.allowed_hosts[0]"},
		{"denied host is an IPv4 glob", "defaults:\n  policy:\n    denied_hosts: [\"*.10.0.0.1\"]\n", "defaults.policy.denied_hosts[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("got %v, want an error at %s", err, tc.key)
			}
		})
	}
}
