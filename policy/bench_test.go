package policy

import (
	"net/netip"
	"testing"

	"github.com/tollgate-dev/tollgate"
)

func benchEngine(b *testing.B) (*Engine, *TenantPolicy) {
	e := mustEngine(b, Config{
		DenyCIDRs:  prefixes("93.184.216.0/24", "2606:4700:10::/48"),
		AllowCIDRs: prefixes("10.20.0.0/16"),
		OwnDomains: []string{"platform.example.com"},
		Listeners:  []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:3128"), netip.MustParseAddrPort("127.0.0.1:9090")},
		LocalAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.10")},
	})
	tp := mustCompile(b, tollgate.Policy{
		AllowedHosts: []string{"*.acme.com", "api.partner.io"},
		DeniedHosts:  []string{"legacy.acme.com"},
		AllowCIDRs:   prefixes("10.30.0.0/16"),
		AllowedPorts: []uint16{443, 8443},
		UpgradeHTTP:  true,
	})
	return e, tp
}

func BenchmarkCheckAddr(b *testing.B) {
	e, tp := benchEngine(b)
	cases := []struct {
		name string
		addr string
	}{
		{"allowed/v4", "1.1.1.1"},
		{"allowed/v6", "2a00:1450:4001::1"},
		{"allowed/tenant-cidr", "10.30.1.1"},
		{"denied/metadata", "169.254.169.254"},
		{"denied/special-v4", "192.168.1.1"},
		{"denied/mapped-loopback", "::ffff:127.0.0.1"},
		{"denied/outside-2000::/3", "4000::1"},
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.addr)
		want := e.CheckAddr(a, 443, tp).Allow
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if e.CheckAddr(a, 443, tp).Allow != want {
					b.Fatal("decision changed")
				}
			}
		})
	}
}

func BenchmarkCheckRequest(b *testing.B) {
	e, tp := benchEngine(b)
	cases := []struct {
		name   string
		target string
	}{
		{"allowed/wildcard", "hooks.eu.acme.com:443"},
		{"allowed/exact", "api.partner.io:8443"},
		{"denied/not-allowed", "example.com:443"},
		{"denied/localhost", "app.localhost:443"},
		{"denied/port", "hooks.acme.com:22"},
	}
	for _, c := range cases {
		t, err := ParseAuthority(c.target)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.CheckRequest(t, "", tp)
			}
		})
	}
}

func BenchmarkParseAuthority(b *testing.B) {
	for _, s := range []string{"hooks.eu.acme.com:443", "[2606:4700::1111]:443", "93.184.216.34:443"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseAuthority(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
