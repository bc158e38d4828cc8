package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLeafVerifiesForItsHostOnly(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	iss := NewIssuer(ca, 16, clock.Now, nil)
	tests := []struct {
		host     string
		verifyAs string // name or IP a client verifies against
		other    string
	}{
		{"hooks.example.com", "hooks.example.com", "api.example.com"},
		{"HOOKS.Example.COM.", "hooks.example.com", "example.com"},
		{"_dmarc-like.example.com", "_dmarc-like.example.com", "example.com"},
		{"203.0.113.7", "203.0.113.7", "203.0.113.8"},
		{"[2001:db8::1]", "2001:db8::1", "2001:db8::2"},
		{"2001:db8::1", "2001:db8::1", "hooks.example.com"},
		{"::ffff:203.0.113.7", "203.0.113.7", "203.0.113.8"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			c, err := iss.Certificate(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			leaf := c.Leaf
			if err := verifyLeaf(ca, leaf, tt.verifyAs, clock.Now()); err != nil {
				t.Fatalf("leaf does not verify for %s: %v", tt.verifyAs, err)
			}
			if err := verifyLeaf(ca, leaf, tt.other, clock.Now()); err == nil {
				t.Fatalf("leaf for %s also verifies for %s", tt.host, tt.other)
			}
			if leaf.IsCA {
				t.Fatal("leaf is a CA")
			}
			if got := leaf.NotAfter.Sub(clock.Now()); got != LeafValidity {
				t.Errorf("leaf valid for %s from now, want %s", got, LeafValidity)
			}
			if got := clock.Now().Sub(leaf.NotBefore); got != time.Hour {
				t.Errorf("leaf backdated %s, want 1h", got)
			}
			if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("ext key usage %v", leaf.ExtKeyUsage)
			}
			if len(leaf.DNSNames)+len(leaf.IPAddresses) != 1 {
				t.Errorf("SANs %v %v, want exactly one", leaf.DNSNames, leaf.IPAddresses)
			}
		})
	}
}

var badHosts = []string{"", ".", "*.example.com", "a b.example.com", "example..com", ".example.com",
	"[fe80::1%eth0]", "fe80::1%eth0", "[203.0.113.7]", "host:443", "exa\x00mple.com", "bücher.example"}

func TestCertificateRejectsBadHosts(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	iss := NewIssuer(ca, 16, clock.Now, nil)
	for _, host := range badHosts {
		t.Run(host, func(t *testing.T) {
			if c, err := iss.Certificate(host); err == nil {
				t.Fatalf("minted %v %v for %q", c.Leaf.DNSNames, c.Leaf.IPAddresses, host)
			}
		})
	}
	if iss.Minted() != 0 {
		t.Fatalf("minted %d for invalid hosts", iss.Minted())
	}
}

func TestCacheHitAndSingleMint(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	iss := NewIssuer(ca, 16, clock.Now, nil)

	const n = 64
	got := make([]*tls.Certificate, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := iss.Certificate("hooks.example.com")
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = c
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if m := iss.Minted(); m != 1 {
		t.Fatalf("%d concurrent calls minted %d certificates, want 1", n, m)
	}
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("call %d got another certificate", i)
		}
	}
	again, err := iss.Certificate("HOOKS.example.com.")
	if err != nil {
		t.Fatal(err)
	}
	if again != got[0] || iss.Minted() != 1 {
		t.Fatalf("equivalent spelling missed the cache (minted %d)", iss.Minted())
	}
}

func TestCacheBoundAndRenewal(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	iss := NewIssuer(ca, 2, clock.Now, nil)
	get := func(host string) *tls.Certificate {
		t.Helper()
		c, err := iss.Certificate(host)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	steps := []struct {
		name    string
		advance time.Duration
		host    string
		minted  uint64
	}{
		{"first host", 0, "a.example.com", 1},
		{"second host", 0, "b.example.com", 2},
		{"hit a", 0, "a.example.com", 2},
		{"third host evicts b, the least recently used", 0, "c.example.com", 3},
		{"a still cached", 0, "a.example.com", 3},
		{"b was evicted", 0, "b.example.com", 4},
		{"22h later a is still fresh", 22 * time.Hour, "a.example.com", 4},
		{"past renewal point a is re-minted", time.Hour + time.Second, "a.example.com", 5},
		{"renewed a is cached", 0, "a.example.com", 5},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		c := get(s.host)
		if got := iss.Minted(); got != s.minted {
			t.Fatalf("%s: minted %d, want %d", s.name, got, s.minted)
		}
		if s.host == "a.example.com" {
			if c.Leaf.NotAfter.Sub(clock.Now()) <= time.Hour {
				t.Fatalf("%s: returned a leaf expiring in %s", s.name, c.Leaf.NotAfter.Sub(clock.Now()))
			}
		}
	}
	if iss.cache.Len() != 2 {
		t.Fatalf("cache holds %d entries, want 2", iss.cache.Len())
	}
}

func TestLeafCappedByCA(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	iss := NewIssuer(ca, 4, clock.Now, nil)
	clock.Advance(CAValidity - 2*time.Hour)
	c, err := iss.Certificate("late.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Leaf.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Fatalf("leaf NotAfter %s, want the CA's %s", c.Leaf.NotAfter, ca.Certificate().NotAfter)
	}
	clock.Advance(3 * time.Hour)
	if _, err := iss.Certificate("later.example.com"); err == nil {
		t.Fatal("minted a leaf from an expired CA")
	}
}

func TestTLSConfigHandshake(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	iss := NewIssuer(ca, 4, clock.Now, nil)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())

	tests := []struct {
		name       string
		serverHost string
		client     *tls.Config
		ok         bool
	}{
		{"h2 offered, http/1.1 chosen", "hooks.example.com",
			&tls.Config{ServerName: "hooks.example.com", NextProtos: []string{"h2", "http/1.1"}}, true},
		{"tls 1.2 client", "hooks.example.com",
			&tls.Config{ServerName: "hooks.example.com", MaxVersion: tls.VersionTLS12}, true},
		{"tls 1.1 client refused", "hooks.example.com",
			&tls.Config{ServerName: "hooks.example.com", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"name mismatch", "hooks.example.com",
			&tls.Config{ServerName: "api.example.com"}, false},
		{"ip literal", "127.0.0.1",
			&tls.Config{ServerName: "127.0.0.1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srvCfg, err := iss.TLSConfig(tt.serverHost)
			if err != nil {
				t.Fatal(err)
			}
			clientCfg := tt.client.Clone()
			clientCfg.RootCAs = roots
			clientCfg.Time = clock.Now
			srvCfg.Time = clock.Now

			cConn, sConn := net.Pipe()
			srv := tls.Server(sConn, srvCfg)
			done := make(chan error, 1)
			go func() {
				done <- srv.Handshake()
				sConn.Close()
			}()
			cli := tls.Client(cConn, clientCfg)
			err = cli.Handshake()
			cConn.Close()
			srvErr := <-done
			if !tt.ok {
				if err == nil {
					t.Fatal("handshake succeeded")
				}
				return
			}
			if err != nil || srvErr != nil {
				t.Fatalf("handshake: client %v, server %v", err, srvErr)
			}
			st := cli.ConnectionState()
			if len(tt.client.NextProtos) > 0 && st.NegotiatedProtocol != "http/1.1" {
				t.Fatalf("ALPN chose %q, want http/1.1", st.NegotiatedProtocol)
			}
		})
	}
}

func TestMintedMetric(t *testing.T) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(t, clock)
	reg := prometheus.NewRegistry()
	a := NewIssuer(ca, 4, clock.Now, reg)
	b := NewIssuer(ca, 4, clock.Now, reg) // a second issuer on one registry shares the counter
	for _, h := range []string{"a.example.com", "b.example.com", "a.example.com"} {
		if _, err := a.Certificate(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Certificate("a.example.com"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64 = -1
	for _, mf := range mfs {
		if mf.GetName() == "tollgate_intercept_certs_minted_total" {
			got = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if got != 3 || a.Minted() != 2 || b.Minted() != 1 {
		t.Fatalf("metric %v, Minted %d and %d; want 3, 2, 1", got, a.Minted(), b.Minted())
	}
}

func BenchmarkMint(b *testing.B) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(b, clock)
	iss := NewIssuer(ca, 1, clock.Now, nil)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if _, err := iss.Certificate(fmt.Sprintf("h%d.example.com", n)); err != nil {
			b.Fatal(err)
		}
	}
	if iss.Minted() != uint64(n) {
		b.Fatalf("minted %d for %d hosts", iss.Minted(), n)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(b, clock)
	iss := NewIssuer(ca, 16, clock.Now, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Certificate("hooks.example.com"); err != nil {
			b.Fatal(err)
		}
	}
	if iss.Minted() != 1 {
		b.Fatalf("minted %d, want 1", iss.Minted())
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, h := range append([]string{"hooks.example.com", "HOOKS.Example.COM.", "203.0.113.7", "[2001:db8::1]", "::ffff:203.0.113.7"}, badHosts...) {
		f.Add(h)
	}
	clock := newFakeClock(t0)
	ca, _, _ := newTestCA(f, clock)
	iss := NewIssuer(ca, 1, clock.Now, nil)
	f.Fuzz(func(t *testing.T, host string) {
		name, ip, err := normalizeHost(host)
		if err != nil {
			return
		}
		again, ip2, err := normalizeHost(name)
		if err != nil || again != name || ip2 != ip {
			t.Fatalf("normalizeHost(%q) = %q, but normalizing that gives %q, %v", host, name, again, err)
		}
		c, err := iss.Certificate(host)
		if err != nil {
			t.Fatalf("accepted host %q but minting failed: %v", host, err)
		}
		if c.Leaf.IsCA || len(c.Leaf.DNSNames)+len(c.Leaf.IPAddresses) != 1 {
			t.Fatalf("bad leaf for %q", host)
		}
	})
}
