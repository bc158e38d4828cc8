// Package proxybench measures the proxy in-process, so that one thing at a
// time can be switched (auditing on or off) with the rest of the request
// path identical: the same policy engine, limiter, tenant state and
// loopback connections as the binary, without the binary's wiring.
package proxybench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/proxy"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/resolver"
	"github.com/tollgate-dev/tollgate/store/sqlite"
)

type oneName struct{ addr netip.Addr }

func (o oneName) Lookup(context.Context, string) (resolver.Answer, error) {
	return resolver.Answer{Addrs: []netip.Addr{o.addr}, Chain: []string{"bench.test"}}, nil
}

type anyone struct{}

func (anyone) AuthenticateProxy(string, netip.Addr) (proxy.Caller, tollgate.Decision) {
	return proxy.Caller{Tenant: "default"}, tollgate.Allowed
}

type oneTenant struct{ s *proxy.TenantState }

func (o oneTenant) TenantState(string) (*proxy.TenantState, bool) { return o.s, true }

// upstream answers one request per connection and closes, like a webhook receiver.
func upstream(b *testing.B) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.1.3:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func startProxy(b *testing.B, up netip.AddrPort, rec proxy.Recorder) string {
	eng, err := policy.New(policy.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.1.0/24")}})
	if err != nil {
		b.Fatal(err)
	}
	tn := tollgate.DefaultTenant()
	tn.ID = "default"
	tn.Policy.AllowedPorts = []uint16{up.Port()}
	tp, err := policy.Compile(tn.Policy)
	if err != nil {
		b.Fatal(err)
	}
	p, err := proxy.New(proxy.Options{
		Engine:   eng,
		Resolver: oneName{up.Addr()},
		Auth:     anyone{},
		Tenants:  oneTenant{&proxy.TenantState{Tenant: &tn, Policy: tp}},
		Limiter:  quota.NewMemory(quota.Options{}, nil),
		Audit:    rec,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(p.Listener(ln)) }()
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// tunnelOnce is one webhook delivery through a fresh CONNECT tunnel.
func tunnelOnce(proxyAddr, target string) error {
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nGET / HTTP/1.1\r\nHost: bench.test\r\n\r\n", target, target); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("CONNECT: %s", resp.Status)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func benchTunnels(b *testing.B, withAudit bool) {
	up := upstream(b)
	var rec proxy.Recorder
	if withAudit {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "tollgate.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		w := audit.NewWriter(st.Audit(), audit.WriterOptions{FlushInterval: 200 * time.Millisecond}, nil)
		b.Cleanup(func() {
			_ = w.Close(context.Background())
			_ = st.Close()
		})
		rec = w
	}
	addr := startProxy(b, up, rec)
	target := fmt.Sprintf("bench.test:%d", up.Port())
	if err := tunnelOnce(addr, target); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := tunnelOnce(addr, target); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTunnel compares the same CONNECT load with and without the audit
// writer (batched, SQLite): the ratio of their ns/op is the throughput cost
// of auditing when the machine is CPU-bound.
func BenchmarkTunnel(b *testing.B) {
	b.Run("audit=off", func(b *testing.B) { benchTunnels(b, false) })
	b.Run("audit=on", func(b *testing.B) { benchTunnels(b, true) })
}
