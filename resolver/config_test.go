package resolver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var parseServerTests = []struct {
	in, want string
	ok       bool
}{
	{"127.0.0.1:53", "127.0.0.1:53", true},
	{"127.0.0.53:5353", "127.0.0.53:5353", true},
	{"[::1]:53", "[::1]:53", true},
	{"[0:0:0:0:0:0:0:1]:53", "[::1]:53", true},
	{"[fe80::1%eth0]:53", "[fe80::1%eth0]:53", true},
	{"::1:53", "", false},
	{"127.0.0.1", "", false},
	{"127.0.0.1:0", "", false},
	{"127.0.0.1:65536", "", false},
	{"127.0.0.1:-1", "", false},
	{"0.0.0.0:53", "", false},
	{"[::]:53", "", false},
	{"dns.example:53", "", false},
	{"localhost:53", "", false},
	{"0177.0.0.1:53", "", false},
	{"", "", false},
	{" 127.0.0.1:53", "", false},
}

func TestParseServer(t *testing.T) {
	for _, tt := range parseServerTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseServer(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseServer(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseServer(f *testing.F) {
	for _, tt := range parseServerTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseServer(s)
		if err != nil {
			return
		}
		again, err := ParseServer(got)
		if err != nil || again != got {
			t.Fatalf("canonical form %q of %q does not round-trip: %q, %v", got, s, again, err)
		}
	})
}

var resolvConfTests = []struct {
	name, text string
	want       []string
	ok         bool
}{
	{"two servers and options", "# comment\nsearch example\nnameserver 127.0.0.53\nnameserver ::1\noptions ndots:2 edns0\n",
		[]string{"127.0.0.53:53", "[::1]:53"}, true},
	{"no nameserver", "search example\n", nil, false},
	{"empty", "", nil, false},
	{"hostname nameserver refused", "nameserver dns.example\n", nil, false},
	{"garbage", "nameserver\nnameserver 127.0.0.1 extra\n\x00\xff", []string{"127.0.0.1:53"}, true},
	{"unspecified refused", "nameserver 0.0.0.0\n", nil, false},
}

func TestResolvConf(t *testing.T) {
	for _, tt := range resolvConfTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serversFromResolvConf(strings.NewReader(tt.text))
			if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v, ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func FuzzResolvConf(f *testing.F) {
	for _, tt := range resolvConfTests {
		f.Add(tt.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		servers, err := serversFromResolvConf(strings.NewReader(text))
		if err != nil {
			return
		}
		if len(servers) == 0 {
			t.Fatal("no error and no servers")
		}
		for _, s := range servers {
			if p, err := ParseServer(s); err != nil || p != s {
				t.Fatalf("server %q not canonical: %q, %v", s, p, err)
			}
		}
	})
}

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.53\nnameserver ::1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		cfg         Config
		ok          bool
		wantServers []string
	}{
		{"servers from resolv.conf override", Config{ResolvConf: conf}, true, []string{"127.0.0.53:53", "[::1]:53"}},
		{"explicit servers win over resolv.conf", Config{Servers: []string{"[::1]:5353"}, ResolvConf: conf}, true, []string{"[::1]:5353"}},
		{"missing resolv.conf", Config{ResolvConf: filepath.Join(dir, "nope")}, false, nil},
		{"hostname server", Config{Servers: []string{"dns.example:53"}}, false, nil},
		{"min above max", Config{Servers: []string{"127.0.0.1:53"}, MinTTL: time.Hour, MaxTTL: time.Minute}, false, nil},
		{"min above default max", Config{Servers: []string{"127.0.0.1:53"}, MinTTL: time.Hour}, false, nil},
		{"negative timeout", Config{Servers: []string{"127.0.0.1:53"}, Timeout: -1}, false, nil},
		{"negative cache size", Config{Servers: []string{"127.0.0.1:53"}, CacheSize: -1}, false, nil},
		{"negative ttl", Config{Servers: []string{"127.0.0.1:53"}, NegativeTTL: -time.Second}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cfg, nil, time.Now)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
			if err == nil && !slices.Equal(r.cfg.Servers, tt.wantServers) {
				t.Fatalf("servers = %v, want %v", r.cfg.Servers, tt.wantServers)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	r, err := New(Config{Servers: []string{"127.0.0.1:53"}}, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.Timeout != DefaultTimeout || r.cfg.CacheSize != DefaultCacheSize || r.cfg.MaxTTL != DefaultMaxTTL {
		t.Fatalf("defaults not applied: %+v", r.cfg)
	}
	if _, err := New(Config{Servers: []string{"127.0.0.1:53"}}, nil, nil); err == nil {
		t.Fatal("nil clock accepted")
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Servers: []string{"127.0.0.1:53"}}
	if _, err := New(cfg, reg, time.Now); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, reg, time.Now); err == nil {
		t.Fatal("second resolver on one registry registered its metrics twice")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"tollgate_dns_lookups_total", "tollgate_dns_lookup_seconds"} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s missing from %v", want, names)
		}
	}
}
