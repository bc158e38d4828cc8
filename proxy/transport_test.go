package proxy

import (
	"net/netip"
	"testing"

	"github.com/tollgate-dev/tollgate/policy"
)

// TestTransportKey: a pooled upstream connection may only serve the tenant,
// scheme, destination and vetted address set it was dialled for, so every
// one of those must change the key, and nothing else may.
func TestTransportKey(t *testing.T) {
	a1, a2, a6 := netip.MustParseAddr("127.0.1.2"), netip.MustParseAddr("127.0.1.3"), netip.MustParseAddr("2001:db8::1")
	base := outbound{v: vetted{target: policy.Target{Host: "hook.example", Port: 443}, addrs: []netip.Addr{a1}}, useTLS: true, port: 443}
	with := func(f func(o *outbound)) outbound {
		o := base
		o.v.addrs = append([]netip.Addr(nil), base.v.addrs...)
		f(&o)
		return o
	}
	want := transportKey("acme", base)
	if want != "acme|tls|hook.example|443|127.0.1.2" {
		t.Fatalf("key %q", want)
	}
	if got := transportKey("acme", with(func(o *outbound) { o.key = "ignored" })); got != want {
		t.Fatalf("a precomputed key field changed the key: %q", got)
	}
	for _, tt := range []struct {
		name   string
		tenant string
		out    outbound
	}{
		{"other tenant", "globex", base},
		{"plain tcp", "acme", with(func(o *outbound) { o.useTLS = false })},
		{"other host", "acme", with(func(o *outbound) { o.v.target.Host = "hook.example.net" })},
		{"other port", "acme", with(func(o *outbound) { o.port = 8443 })},
		{"other address", "acme", with(func(o *outbound) { o.v.addrs = []netip.Addr{a2} })},
		{"extra address", "acme", with(func(o *outbound) { o.v.addrs = append(o.v.addrs, a6) })},
		{"no address", "acme", with(func(o *outbound) { o.v.addrs = nil })},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := transportKey(tt.tenant, tt.out); got == want {
				t.Fatalf("key %q is the same as for %v", got, base)
			}
		})
	}
}
