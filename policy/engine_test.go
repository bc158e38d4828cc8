package policy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
)

func mustEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func mustCompile(t testing.TB, p tollgate.Policy) *TenantPolicy {
	t.Helper()
	tp, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tp
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// TestCheckAddrDefault covers every block of SPEC §4.5 with no operator
// or tenant exceptions, including the encodings attackers use.
func TestCheckAddrDefault(t *testing.T) {
	e := mustEngine(t, Config{})
	tests := []struct {
		addr   string
		allow  bool
		detail string // substring of the refusal detail
	}{
		// public addresses
		{"93.184.216.34", true, ""},
		{"1.1.1.1", true, ""},
		{"8.8.8.8", true, ""},
		{"100.63.255.255", true, ""},
		{"100.128.0.0", true, ""},
		{"172.15.255.255", true, ""},
		{"172.32.0.0", true, ""},
		{"198.17.255.255", true, ""},
		{"198.20.0.0", true, ""},
		{"223.255.255.255", true, ""},
		{"2606:4700::1111", true, ""},
		{"2001:4860:4860::8888", true, ""},
		{"2001:200::1", true, ""},
		{"2a00:1450::1", true, ""},
		{"::ffff:93.184.216.34", true, ""},

		// always denied, metadata first
		{"0.0.0.0", false, "this network"},
		{"0.1.2.3", false, "this network"},
		{"169.254.169.254", false, "link-local"},
		{"169.254.170.2", false, "link-local"},
		{"100.100.100.200", false, "Alibaba"},
		{"192.0.0.192", false, "Oracle"},
		{"168.63.129.16", false, "Azure"},
		{"fd00:ec2::254", false, "AWS"},
		{"fd20:ce::254", false, "Google"},
		{"fd00:c1::a9fe:a9fe", false, "metadata"},
		{"::", false, "unspecified"},
		{"fe80::1", false, "link-local"},
		{"fe80::1%eth0", false, "link-local"},
		{"febf:ffff::1", false, "link-local"},
		{"::ffff:169.254.169.254", false, "link-local"},
		{"::ffff:0.0.0.0", false, "this network"},

		// special-purpose IPv4
		{"10.0.0.1", false, "10.0.0.0/8"},
		{"100.64.0.1", false, "carrier-grade"},
		{"127.0.0.1", false, "loopback"},
		{"127.255.255.254", false, "loopback"},
		{"172.16.0.1", false, "172.16.0.0/12"},
		{"172.31.255.255", false, "172.16.0.0/12"},
		{"192.0.0.1", false, "IETF"},
		{"192.0.2.1", false, "TEST-NET-1"},
		{"192.31.196.1", false, "AS112"},
		{"192.52.193.1", false, "AMT"},
		{"192.88.99.1", false, "6to4"},
		{"192.168.1.1", false, "192.168.0.0/16"},
		{"192.175.48.1", false, "AS112"},
		{"198.18.0.1", false, "benchmarking"},
		{"198.19.255.255", false, "benchmarking"},
		{"198.51.100.1", false, "TEST-NET-2"},
		{"203.0.113.1", false, "TEST-NET-3"},
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast"},
		{"240.0.0.1", false, "reserved"},
		{"255.255.255.255", false, "reserved"},

		// IPv4 inside IPv6: mapped is judged as IPv4, the rest never unwrapped
		{"::ffff:127.0.0.1", false, "loopback"},
		{"::ffff:10.0.0.1", false, "private-use"},
		{"::127.0.0.1", false, "IPv4-compatible"},
		{"::93.184.216.34", false, "IPv4-compatible"},
		{"64:ff9b::a9fe:a9fe", false, "NAT64"},
		{"64:ff9b::5db8:d822", false, "NAT64"},
		{"64:ff9b:1::1", false, "NAT64"},
		{"2002:a9fe:a9fe::", false, "6to4"},
		{"2002:5db8:d822::1", false, "6to4"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, "Teredo"},
		{"2001::1", false, "Teredo"},

		// special-purpose IPv6
		{"::1", false, "loopback"},
		{"::2", false, "IPv4-compatible"},
		{"100::1", false, "discard"},
		{"5f00::1", false, "SRv6"},
		{"fc00::1", false, "unique local"},
		{"fd12:3456::1", false, "unique local"},
		{"fec0::1", false, "site-local"},
		{"ff02::1", false, "multicast"},
		{"2001:db8::1", false, "documentation"},
		{"2001:1ff::1", false, "IETF"},
		{"2620:4f:8000::1", false, "AS112"},
		{"3fff::1", false, "documentation"},
		{"3fff:fff::1", false, "documentation"},
		{"4000::1", false, "2000::/3"},
		{"1::1", false, "2000::/3"},
		{"e000::1", false, "2000::/3"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			d := e.CheckAddr(netip.MustParseAddr(tc.addr), 443, nil)
			if d.Allow != tc.allow {
				t.Fatalf("CheckAddr(%s) = %+v; want allow %v", tc.addr, d, tc.allow)
			}
			if tc.allow {
				if d.Reason != tollgate.ReasonNone || d.Detail != "" {
					t.Fatalf("allowed decision carries %+v", d)
				}
				return
			}
			if d.Reason != tollgate.ReasonForbiddenAddress {
				t.Fatalf("reason = %q; want forbidden_address", d.Reason)
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Fatalf("detail %q does not mention %q", d.Detail, tc.detail)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	e := mustEngine(t, Config{})
	if d := e.CheckAddr(netip.Addr{}, 443, nil); d.Allow || d.Reason != tollgate.ReasonForbiddenAddress {
		t.Fatalf("zero Addr: %+v; want forbidden_address", d)
	}
}

// TestCheckAddrTiers checks precedence: always-denied beats every allow,
// allows beat special-purpose, listeners match on address and port.
func TestCheckAddrTiers(t *testing.T) {
	cfg := Config{
		DenyCIDRs:  prefixes("93.184.216.0/24", "2606:4700::/32", "10.9.0.0/16"),
		AllowCIDRs: prefixes("10.0.0.0/8", "169.254.0.0/16", "0.0.0.0/0", "fd00:ec2::/32", "::/0"),
		Listeners: []netip.AddrPort{
			netip.MustParseAddrPort("10.1.1.1:3128"),
			netip.MustParseAddrPort("[::]:9090"),
			netip.MustParseAddrPort("0.0.0.0:8443"),
		},
		LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8::9")},
	}
	open := mustEngine(t, cfg)
	// Without egress allows, the tenant's allow_cidrs do the opening.
	tenantOnly := mustEngine(t, Config{DenyCIDRs: cfg.DenyCIDRs, Listeners: cfg.Listeners, LocalAddrs: cfg.LocalAddrs})
	tenant := mustCompile(t, tollgate.Policy{AllowCIDRs: prefixes("0.0.0.0/0", "::/0"), AllowedPorts: []uint16{443}})

	tests := []struct {
		name  string
		addr  string
		port  uint16
		allow bool
	}{
		{"allow opens private", "10.2.3.4", 443, true},
		{"allow opens loopback", "127.0.0.1", 443, true},
		{"allow opens ula", "fd12::1", 443, true},
		{"deny_cidrs beats allow", "93.184.216.34", 443, false},
		{"deny_cidrs v6", "2606:4700::1111", 443, false},
		{"deny_cidrs inside allowed private", "10.9.1.1", 443, false},
		{"deny_cidrs 4in6", "::ffff:93.184.216.34", 443, false},
		{"metadata never opened", "169.254.169.254", 443, false},
		{"link-local never opened", "169.254.1.1", 443, false},
		{"alibaba never opened", "100.100.100.200", 443, false},
		{"azure never opened", "168.63.129.16", 443, false},
		{"oracle never opened", "192.0.0.192", 443, false},
		{"aws v6 never opened", "fd00:ec2::254", 443, false},
		{"gcp v6 never opened", "fd20:ce::254", 443, false},
		{"this network never opened", "0.0.0.0", 443, false},
		{"unspecified v6 never opened", "::", 443, false},
		{"fe80 never opened", "fe80::1", 443, false},
		{"listener exact", "10.1.1.1", 3128, false},
		{"listener other port", "10.1.1.1", 3129, true},
		{"listener other addr", "10.1.1.2", 3128, true},
		{"listener 4in6", "::ffff:10.1.1.1", 3128, false},
		{"unspecified v6 listener covers local v4", "10.1.1.1", 9090, false},
		{"unspecified v6 listener covers local public", "203.0.113.9", 9090, false},
		{"unspecified v6 listener covers local v6", "2001:db8::9", 9090, false},
		{"unspecified listener covers loopback", "127.0.0.1", 9090, false},
		{"unspecified listener covers all loopback", "127.3.2.1", 9090, false},
		{"unspecified listener covers ::1", "::1", 9090, false},
		{"unspecified v4 listener covers local", "203.0.113.9", 8443, false},
		{"unspecified v4 listener covers loopback", "127.0.0.1", 8443, false},
		{"unspecified listener not other hosts", "10.200.0.1", 9090, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if d := open.CheckAddr(a, tc.port, nil); d.Allow != tc.allow {
				t.Errorf("egress allow: CheckAddr(%s, %d) = %+v; want allow %v", tc.addr, tc.port, d, tc.allow)
			}
			if d := tenantOnly.CheckAddr(a, tc.port, tenant); d.Allow != tc.allow {
				t.Errorf("tenant allow: CheckAddr(%s, %d) = %+v; want allow %v", tc.addr, tc.port, d, tc.allow)
			}
		})
	}
}

func TestCheckAddrDetails(t *testing.T) {
	e := mustEngine(t, Config{
		DenyCIDRs: prefixes("93.184.216.0/24"),
		Listeners: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:3128")},
	})
	tests := []struct {
		addr string
		port uint16
		want string
	}{
		{"93.184.216.34", 443, "the destination address is in 93.184.216.0/24 (egress.deny_cidrs)"},
		{"169.254.169.254", 443, "the destination address is in 169.254.0.0/16 (link-local, home of cloud metadata services, which is always denied)"},
		{"127.0.0.1", 3128, detailListener},
		{"10.0.0.1", 443, "the destination address is in 10.0.0.0/8 (private-use)"},
		{"4000::1", 443, detailOutsideV6},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			d := e.CheckAddr(netip.MustParseAddr(tc.addr), tc.port, nil)
			if d.Allow || d.Detail != tc.want {
				t.Fatalf("CheckAddr(%s) = %+v; want detail %q", tc.addr, d, tc.want)
			}
		})
	}
}

func TestCheckAddrs(t *testing.T) {
	e := mustEngine(t, Config{})
	pub, pub6 := netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("2606:4700::1111")
	meta := netip.MustParseAddr("169.254.169.254")
	tests := []struct {
		name  string
		as    []netip.Addr
		allow bool
	}{
		{"all public", []netip.Addr{pub, pub6}, true},
		{"denied first", []netip.Addr{meta, pub}, false},
		{"denied last", []netip.Addr{pub, pub6, meta}, false},
		{"mapped loopback among public", []netip.Addr{pub, netip.MustParseAddr("::ffff:127.0.0.1")}, false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := e.CheckAddrs(tc.as, 443, nil)
			if d.Allow != tc.allow {
				t.Fatalf("CheckAddrs = %+v; want allow %v", d, tc.allow)
			}
			if !d.Allow && d.Reason != tollgate.ReasonForbiddenAddress {
				t.Fatalf("reason %q; want forbidden_address", d.Reason)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"invalid deny prefix", Config{DenyCIDRs: []netip.Prefix{{}}}},
		{"invalid allow prefix", Config{AllowCIDRs: []netip.Prefix{{}}}},
		{"listener without port", Config{Listeners: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}},
		{"invalid listener", Config{Listeners: []netip.AddrPort{{}}}},
		{"own domain wildcard", Config{OwnDomains: []string{"*.platform.com"}}},
		{"own domain ip", Config{OwnDomains: []string{"10.0.0.1"}}},
		{"own domain empty", Config{OwnDomains: []string{""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestNewCanonicalisesPrefixes(t *testing.T) {
	// Prefixes built in code, not through ParsePrefix, still match.
	e := mustEngine(t, Config{
		DenyCIDRs:  []netip.Prefix{netip.MustParsePrefix("93.184.216.34/24"), netip.MustParsePrefix("::ffff:8.8.8.0/120")},
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")},
	})
	tests := []struct {
		addr  string
		allow bool
	}{
		{"93.184.216.1", false},
		{"8.8.8.8", false},
		{"10.1.1.1", true},
		{"8.8.4.4", true},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if d := e.CheckAddr(netip.MustParseAddr(tc.addr), 443, nil); d.Allow != tc.allow {
				t.Fatalf("CheckAddr(%s) = %+v; want allow %v", tc.addr, d, tc.allow)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	e := mustEngine(t, Config{
		DenyCIDRs:  prefixes("10.9.0.0/16"),
		AllowCIDRs: prefixes("10.0.0.0/8", "169.254.169.254/32", "93.184.216.0/24", "fd00::/8"),
	})
	want := []string{
		"egress.allow_cidrs 10.0.0.0/8 opens special-purpose addresses as egress destinations; its overlap with the always-denied tier (metadata, link-local, deny_cidrs) stays denied",
		"egress.allow_cidrs 169.254.169.254/32 has no effect: the always-denied tier (metadata, link-local, deny_cidrs) overrides it",
		"egress.allow_cidrs 93.184.216.0/24 has no effect: it holds no special-purpose address",
		"egress.allow_cidrs fd00::/8 opens special-purpose addresses as egress destinations; its overlap with the always-denied tier (metadata, link-local, deny_cidrs) stays denied",
	}
	got := e.Warnings()
	if len(got) != len(want) {
		t.Fatalf("Warnings() = %q; want %d entries", got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("warning %d = %q; want %q", i, got[i], want[i])
		}
	}
	got[0] = "mutated"
	if e.Warnings()[0] == "mutated" {
		t.Fatal("Warnings exposes the engine's own slice")
	}
	if w := mustEngine(t, Config{}).Warnings(); len(w) != 0 {
		t.Fatalf("no allow_cidrs: Warnings() = %q; want none", w)
	}
}

func TestCheckAddrZeroAllocs(t *testing.T) {
	e := mustEngine(t, Config{
		DenyCIDRs: prefixes("93.184.216.0/24"),
		Listeners: []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:3128")},
	})
	tp := mustCompile(t, tollgate.Policy{AllowCIDRs: prefixes("10.0.0.0/8")})
	tests := []struct {
		name  string
		addr  string
		port  uint16
		allow bool
	}{
		{"allowed public v4", "1.1.1.1", 443, true},
		{"allowed public v6", "2606:4700::1111", 443, true},
		{"allowed by tenant", "10.1.2.3", 443, true},
		{"denied metadata", "169.254.169.254", 443, false},
		{"denied deny_cidrs", "93.184.216.34", 443, false},
		{"denied listener", "127.0.0.1", 3128, false},
		{"denied special v4", "192.168.1.1", 443, false},
		{"denied special v6", "4000::1", 443, false},
		{"denied zoned", "fe80::1%eth0", 443, false},
		{"denied mapped", "::ffff:127.0.0.1", 443, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			var d tollgate.Decision
			allocs := testing.AllocsPerRun(200, func() { d = e.CheckAddr(a, tc.port, tp) })
			if d.Allow != tc.allow {
				t.Fatalf("CheckAddr(%s) = %+v; want allow %v", tc.addr, d, tc.allow)
			}
			if allocs != 0 {
				t.Fatalf("CheckAddr(%s) allocates %v times; want 0", tc.addr, allocs)
			}
		})
	}
}
