package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/resolver"
	"github.com/tollgate-dev/tollgate/signer"
)

// The unit tests dial only loopback: 127.0.1.0/24 is opened by allow_cidrs
// and stands for public hosts.

type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	calls   map[string]int
}

func (f *fakeResolver) Lookup(_ context.Context, name string) (resolver.Answer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[name]++
	a, ok := f.answers[name]
	if !ok {
		return resolver.Answer{}, fmt.Errorf("lookup %s: %w", name, resolver.ErrNXDomain)
	}
	return resolver.Answer{Addrs: a, Chain: []string{name}}, nil
}

type fakeAuth struct{}

func (fakeAuth) AuthenticateProxy(header string, _ netip.Addr) (Caller, tollgate.Decision) {
	if header == "" {
		return Caller{}, tollgate.Deny(tollgate.ReasonProxyAuthRequired, "credentials required")
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(header, "Basic "))
	user, pass, _ := strings.Cut(string(raw), ":")
	if pass != "good" {
		return Caller{}, tollgate.Deny(tollgate.ReasonProxyAuthRequired, "bad key")
	}
	return Caller{Tenant: user, KeyID: "key_" + user}, tollgate.Allowed
}

type fakeTenants map[string]*TenantState

func (f fakeTenants) TenantState(id string) (*TenantState, bool) { s, ok := f[id]; return s, ok }

// countingLimiter admits while allow is true and tracks concurrency slots.
type countingLimiter struct {
	deny     atomic.Bool
	inUse    atomic.Int64
	acquired atomic.Int64
}

func (l *countingLimiter) Admit(context.Context, tollgate.QuotaRequest) (tollgate.QuotaResult, error) {
	if l.deny.Load() {
		return tollgate.QuotaResult{Limit: tollgate.LimitTenantRPS, RetryAfter: 1500 * time.Millisecond}, nil
	}
	return tollgate.QuotaResult{Allowed: true}, nil
}

func (l *countingLimiter) Acquire(context.Context, string, int) (func(), tollgate.QuotaResult, error) {
	l.inUse.Add(1)
	l.acquired.Add(1)
	var once sync.Once
	return func() { once.Do(func() { l.inUse.Add(-1) }) }, tollgate.QuotaResult{Allowed: true}, nil
}

func (l *countingLimiter) Transfer(context.Context, string, int64, int) (time.Duration, error) {
	return 0, nil
}

type fixture struct {
	proxy     *Proxy
	proxyAddr string
	res       *fakeResolver
	lim       *countingLimiter
	key       []byte
}

func newFixture(t *testing.T, mutate func(*tollgate.Tenant)) *fixture {
	t.Helper()
	eng, err := policy.New(policy.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.1.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	tn := tollgate.DefaultTenant()
	tn.ID = "acme"
	tn.Quotas.MaxConcurrent = 10
	if mutate != nil {
		mutate(&tn)
	}
	tp, err := policy.Compile(tn.Policy)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := signer.GenerateKey()
	f := &fixture{res: &fakeResolver{answers: map[string][]netip.Addr{}, calls: map[string]int{}}, lim: &countingLimiter{}, key: key}
	p, err := New(Options{
		Engine:         eng,
		Resolver:       f.res,
		Auth:           fakeAuth{},
		Tenants:        fakeTenants{"acme": {Tenant: &tn, Policy: tp, SigningKeys: []SigningSecret{{Key: key}}}},
		Limiter:        f.lim,
		ConnectTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	f.proxyAddr = ln.Addr().String()
	f.proxy = p
	return f
}

func listenUpstream(t *testing.T, h http.HandlerFunc) (string, uint16) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.1.7:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return ap.Addr().String(), ap.Port()
}

func basic(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":good"))
}

func rawRequest(t *testing.T, addr, req string) (*http.Response, []byte, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	br := bufio.NewReader(c)
	method := http.MethodGet
	if strings.HasPrefix(req, "CONNECT") {
		method = http.MethodConnect
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 && method == http.MethodConnect {
		return resp, nil, c, br
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, b, c, br
}

func TestRefusalShape(t *testing.T) {
	f := newFixture(t, nil)
	f.res.answers["meta.example"] = []netip.Addr{netip.MustParseAddr("169.254.169.254")}
	f.res.answers["mixed.example"] = []netip.Addr{netip.MustParseAddr("127.0.1.9"), netip.MustParseAddr("10.1.2.3")}
	cases := []struct {
		name, req, status string
		reason            tollgate.Reason
	}{
		{"no credentials", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", "407 proxy_auth_required", tollgate.ReasonProxyAuthRequired},
		{"metadata by name", "CONNECT meta.example:443 HTTP/1.1\r\nProxy-Authorization: " + basic("acme") + "\r\n\r\n", "403 forbidden_address", tollgate.ReasonForbiddenAddress},
		{"mixed answers", "CONNECT mixed.example:443 HTTP/1.1\r\nProxy-Authorization: " + basic("acme") + "\r\n\r\n", "403 forbidden_address", tollgate.ReasonForbiddenAddress},
		{"port", "CONNECT a.example:22 HTTP/1.1\r\nProxy-Authorization: " + basic("acme") + "\r\n\r\n", "403 forbidden_port", tollgate.ReasonForbiddenPort},
		{"nxdomain", "CONNECT nx.example:443 HTTP/1.1\r\nProxy-Authorization: " + basic("acme") + "\r\n\r\n", "502 dns_error", tollgate.ReasonDNSError},
		{"octal", "CONNECT 0177.0.0.1:443 HTTP/1.1\r\nProxy-Authorization: " + basic("acme") + "\r\n\r\n", "400 invalid_request", tollgate.ReasonInvalidRequest},
		{"absolute-form no credentials", "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", "407 proxy_auth_required", tollgate.ReasonProxyAuthRequired},
		{"absolute-form metadata", "GET http://169.254.169.254/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: " + basic("acme") + "\r\n\r\n", "403 forbidden_address", tollgate.ReasonForbiddenAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body, _, _ := rawRequest(t, f.proxyAddr, c.req)
			if resp.Status != c.status || resp.Header.Get("Tollgate-Reason") != string(c.reason) || resp.Header.Get("Tollgate-Request-Id") == "" {
				t.Fatalf("got %q reason %q id %q", resp.Status, resp.Header.Get("Tollgate-Reason"), resp.Header.Get("Tollgate-Request-Id"))
			}
			want := fmt.Sprintf(`{"error":%q,`, c.reason)
			if !strings.HasPrefix(string(body), want) || !strings.Contains(string(body), resp.Header.Get("Tollgate-Request-Id")) {
				t.Fatalf("body %s", body)
			}
			if c.reason == tollgate.ReasonProxyAuthRequired && resp.Header.Get("Proxy-Authenticate") != `Basic realm="tollgate"` {
				t.Fatalf("Proxy-Authenticate %q", resp.Header.Get("Proxy-Authenticate"))
			}
		})
	}
	if f.lim.acquired.Load() != 0 {
		t.Fatalf("refused requests took %d concurrency slots", f.lim.acquired.Load())
	}
}

func TestTunnelSplicesAndReleases(t *testing.T) {
	ip, port := listenUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	f := newFixture(t, func(tn *tollgate.Tenant) { tn.Policy.AllowedPorts = []uint16{port} })
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr("::ffff:" + ip)}
	resp, _, c, br := rawRequest(t, f.proxyAddr, fmt.Sprintf("CONNECT hook.example:%d HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\n", port, basic("acme")))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Tollgate-Request-Id"), "req_") {
		t.Fatalf("CONNECT: %s, request id %q", resp.Status, resp.Header.Get("Tollgate-Request-Id"))
	}
	if f.lim.inUse.Load() != 1 {
		t.Fatalf("slots in use during the tunnel: %d", f.lim.inUse.Load())
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: hook.example\r\nConnection: close\r\n\r\n")
	r2, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	if string(b) != "pong" {
		t.Fatalf("through tunnel: %q", b)
	}
	c.Close()
	waitFor(t, func() bool { return f.lim.inUse.Load() == 0 }, "the tunnel's slot to be released")
	if f.res.calls["hook.example"] != 1 {
		t.Fatalf("resolved %d times", f.res.calls["hook.example"])
	}
}

func TestSlotReleasedWhenUpstreamRefuses(t *testing.T) {
	f := newFixture(t, nil)
	// Nothing listens on 127.0.1.8:443: the dial fails and the slot must come back.
	f.res.answers["down.example"] = []netip.Addr{netip.MustParseAddr("127.0.1.8")}
	resp, _, _, _ := rawRequest(t, f.proxyAddr, "CONNECT down.example:443 HTTP/1.1\r\nProxy-Authorization: "+basic("acme")+"\r\n\r\n")
	if resp.Status != "502 upstream_error" {
		t.Fatalf("got %s", resp.Status)
	}
	if f.lim.acquired.Load() != 1 || f.lim.inUse.Load() != 0 {
		t.Fatalf("acquired %d, in use %d", f.lim.acquired.Load(), f.lim.inUse.Load())
	}
}

func TestQuotaRefusal(t *testing.T) {
	f := newFixture(t, nil)
	f.lim.deny.Store(true)
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr("127.0.1.9")}
	resp, body, _, _ := rawRequest(t, f.proxyAddr, "CONNECT hook.example:443 HTTP/1.1\r\nProxy-Authorization: "+basic("acme")+"\r\n\r\n")
	if resp.Status != "429 quota_exceeded" || resp.Header.Get("Retry-After") != "2" || !strings.Contains(string(body), "tenant_rps") {
		t.Fatalf("got %s Retry-After %q body %s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
}

func TestForwardSignsWithHygiene(t *testing.T) {
	type seen struct {
		header http.Header
		body   string
		host   string
	}
	got := make(chan seen, 1)
	ip, port := listenUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Clone(), string(b), r.Host}
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "secret")
		io.WriteString(w, "ok")
	})
	f := newFixture(t, func(tn *tollgate.Tenant) {
		tn.Policy.AllowPlainHTTP = true
		tn.Policy.AllowedPorts = []uint16{port}
	})
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr(ip)}
	body := `{"event":"paid"}`
	req := fmt.Sprintf("POST http://hook.example:%d/in HTTP/1.1\r\nHost: other.example\r\nProxy-Authorization: %s\r\n"+
		"Webhook-Id: msg_worker1\r\nwebhook-signature: v1,forged\r\nWEBHOOK-TIMESTAMP: 1\r\nConnection: X-Private\r\nX-Private: drop-me\r\n"+
		"Content-Length: %d\r\n\r\n%s", port, basic("acme"), len(body), body)
	resp, rb, _, _ := rawRequest(t, f.proxyAddr, req)
	if resp.StatusCode != 200 || string(rb) != "ok" || resp.Header.Get("X-Hop") != "" {
		t.Fatalf("got %s %q X-Hop %q", resp.Status, rb, resp.Header.Get("X-Hop"))
	}
	s := <-got
	if s.host != fmt.Sprintf("hook.example:%d", port) || s.body != body {
		t.Fatalf("upstream saw host %q body %q", s.host, s.body)
	}
	if s.header.Get("Proxy-Authorization") != "" || s.header.Get("X-Private") != "" {
		t.Fatalf("hop-by-hop or proxy headers forwarded: %v", s.header)
	}
	for _, name := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
		if n := len(s.header.Values(name)); n != 1 {
			t.Fatalf("%s sent %d times", name, n)
		}
	}
	if s.header.Get("Webhook-Id") != "msg_worker1" {
		t.Fatalf("worker webhook-id not kept: %q", s.header.Get("Webhook-Id"))
	}
	secret := signer.FormatSecret(signer.DeriveHostKey(f.key, "hook.example"))
	if err := signer.VerifyRequest(secret, s.header, []byte(s.body), time.Now(), signer.DefaultTolerance); err != nil {
		t.Fatalf("signature does not verify with the host secret: %v (header %q)", err, s.header.Get("Webhook-Signature"))
	}
	other := signer.FormatSecret(signer.DeriveHostKey(f.key, "other.example"))
	if err := signer.VerifyRequest(other, s.header, []byte(s.body), time.Now(), signer.DefaultTolerance); !errors.Is(err, signer.ErrNoMatchingSignature) {
		t.Fatalf("another host's secret verified: %v", err)
	}
}

func TestForwardRejectsDottedWebhookID(t *testing.T) {
	f := newFixture(t, func(tn *tollgate.Tenant) { tn.Policy.AllowPlainHTTP = true })
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr("127.0.1.9")}
	resp, _, _, _ := rawRequest(t, f.proxyAddr, "POST http://hook.example/ HTTP/1.1\r\nHost: hook.example\r\nProxy-Authorization: "+basic("acme")+"\r\nwebhook-id: a.b\r\nContent-Length: 0\r\n\r\n")
	if resp.Status != "400 invalid_request" {
		t.Fatalf("got %s", resp.Status)
	}
	if f.lim.inUse.Load() != 0 {
		t.Fatal("slot leaked")
	}
}

func TestForwardBodyTooLarge(t *testing.T) {
	f := newFixture(t, func(tn *tollgate.Tenant) { tn.Policy.AllowPlainHTTP = true; tn.Policy.MaxBodyBytes = 8 })
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr("127.0.1.9")}
	resp, _, _, _ := rawRequest(t, f.proxyAddr, "POST http://hook.example/ HTTP/1.1\r\nHost: hook.example\r\nProxy-Authorization: "+basic("acme")+"\r\nContent-Length: 9\r\n\r\n123456789")
	if resp.Status != "413 body_too_large" || f.lim.inUse.Load() != 0 {
		t.Fatalf("got %s, slots in use %d", resp.Status, f.lim.inUse.Load())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFirstLineRefusal(t *testing.T) {
	f := newFixture(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := f.proxy
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(p.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })
	for _, target := range []string{"::1:443", "h%6Fok.example:443"} {
		resp, body, _, _ := rawRequest(t, ln.Addr().String(), "CONNECT "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.Status != "400 invalid_request" || !strings.Contains(string(body), "invalid_request") {
			t.Fatalf("CONNECT %s: %s %s", target, resp.Status, body)
		}
	}
	// A good request line passes through untouched, sent in one write.
	f.res.answers["meta.example"] = []netip.Addr{netip.MustParseAddr("169.254.169.254")}
	resp, _, _, _ := rawRequest(t, ln.Addr().String(), "CONNECT meta.example:443 HTTP/1.1\r\nProxy-Authorization: "+basic("acme")+"\r\n\r\n")
	if resp.Status != "403 forbidden_address" {
		t.Fatalf("good line: %s", resp.Status)
	}
}

func TestShutdownClosesAndReportsTunnels(t *testing.T) {
	ip, port := listenUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	f := newFixture(t, func(tn *tollgate.Tenant) { tn.Policy.AllowedPorts = []uint16{port} })
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr(ip)}
	resp, _, c, _ := rawRequest(t, f.proxyAddr, fmt.Sprintf("CONNECT hook.example:%d HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\n", port, basic("acme")))
	if resp.StatusCode != 200 || f.lim.inUse.Load() != 1 {
		t.Fatalf("CONNECT: %s, slots %d", resp.Status, f.lim.inUse.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f.proxy.Shutdown(ctx) // the tunnel stays idle: Shutdown must close it when ctx ends
	if f.lim.inUse.Load() != 0 {
		t.Fatal("the drained tunnel's slot was not released")
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client side of the drained tunnel is still open")
	}
}

// TestPipelinedAfterConnect: bytes a client sends right behind the CONNECT
// head, before the 200, reach the upstream.
func TestPipelinedAfterConnect(t *testing.T) {
	ip, port := listenUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong "+r.URL.Path) })
	f := newFixture(t, func(tn *tollgate.Tenant) { tn.Policy.AllowedPorts = []uint16{port} })
	f.res.answers["hook.example"] = []netip.Addr{netip.MustParseAddr(ip)}
	req := fmt.Sprintf("CONNECT hook.example:%d HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\nGET /early HTTP/1.1\r\nHost: hook.example\r\nConnection: close\r\n\r\n", port, basic("acme"))
	resp, _, _, br := rawRequest(t, f.proxyAddr, req)
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	r2, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	if string(b) != "pong /early" {
		t.Fatalf("pipelined request: %q", b)
	}
}

// TestAuditMetaJSON: the metadata built for an exchange is already in the
// canonical form a verifier recomputes, including escaping and invalid UTF-8.
func TestAuditMetaJSON(t *testing.T) {
	for _, ex := range []*exchange{
		{id: "req_1", mode: modeTunnel, status: 200, bytesIn: 5, bytesOut: 7},
		{id: "req_2", mode: modeForward, method: "POST", target: policy.Target{Host: "hook.example", Port: 443},
			status: 403, signed: true, decision: tollgate.Deny(tollgate.ReasonForbiddenPort,
				"quote \" backslash \\ tab \t nl \n cr \r bs \b ff \f nul \x00 esc \x1b é bad \xff")},
	} {
		m, err := auditMeta(ex, "127.0.1.9", 1250*time.Microsecond)
		if err != nil {
			t.Fatal(err)
		}
		canon, err := audit.CanonicalMetadata(m.Raw())
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Raw()) != string(canon) {
			t.Fatalf("got  %s\nwant %s", m.Raw(), canon)
		}
		var back map[string]any
		if err := json.Unmarshal(m.Raw(), &back); err != nil || back["request_id"] != ex.id || back["duration_ms"] != 1.25 {
			t.Fatalf("decoded %v, %v", back, err)
		}
	}
}

func TestRemoveHopHeaders(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  string // header block as a peer sends it
		keep []string
		drop []string
	}{
		{"fixed list", "Keep-Alive: 5\r\nproxy-connection: x\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\nProxy-Authorization: Basic x\r\nProxy-Authenticate: Basic\r\nTransfer-Encoding: chunked\r\nX-Ok: 1\r\n",
			[]string{"X-Ok"}, []string{"Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "Transfer-Encoding"}},
		{"connection tokens", "connection: x-private ,  X-Other,,\r\nConnection: x-third\r\nX-Private: 1\r\nX-Other: 2\r\nX-Third: 3\r\nX-Ok: 1\r\n",
			[]string{"X-Ok"}, []string{"Connection", "X-Private", "X-Other", "X-Third"}},
		{"nothing to drop", "Content-Type: application/json\r\nWebhook-Id: msg_1\r\n",
			[]string{"Content-Type", "Webhook-Id"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: h\r\n" + tt.raw + "\r\n")))
			if err != nil {
				t.Fatal(err)
			}
			removeHopHeaders(r.Header)
			for _, k := range tt.keep {
				if r.Header.Get(k) == "" {
					t.Errorf("%s dropped", k)
				}
			}
			for _, k := range tt.drop {
				if _, ok := r.Header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("%s kept: %v", k, r.Header)
				}
			}
		})
	}
}

func BenchmarkRemoveHopHeaders(b *testing.B) {
	h := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"worker/1"}, "Webhook-Id": {"msg_1"}, "Content-Length": {"1024"}}
	b.ReportAllocs()
	for b.Loop() {
		c := h.Clone()
		removeHopHeaders(c)
	}
}
