package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/bench/internal/tgbench"
)

// runHTTPS is run's comparison with TLS to the upstream, as webhook senders
// behind HTTPS_PROXY do it: the tunnel carries the client's own TLS session,
// so the proxy adds a CONNECT round trip and a splice but no crypto.
// Both sides use the same Go http.Client setup and the same TLS ServerName;
// only how the TCP connection is made differs.
func runHTTPS(bin string, dur time.Duration, workers int, extra string) error {
	up, dnsAddr, stopBench, err := startHTTPSBench()
	if err != nil {
		return err
	}
	defer stopBench()
	tg, stop, err := startTunnelMode(bin, dnsAddr, up.port, extra)
	if err != nil {
		return err
	}
	defer stop()

	roots := up.roots()
	pid := tg.Pid()
	// Same order as run(): scripts/bench-profile times its window to the
	// second scenario.
	scens := []httpsScenario{
		{"HTTPS direct, new connection per request", pid, httpsClient("", up.addr, roots, false, workers)},
		{"HTTPS via tunnel, new connection per request", pid, httpsClient(tg.ProxyAddr, "", roots, false, workers)},
		{"HTTPS direct, keep-alive", pid, httpsClient("", up.addr, roots, true, workers)},
		{"HTTPS via tunnel, keep-alive", pid, httpsClient(tg.ProxyAddr, "", roots, true, workers)},
	}
	fmt.Printf("new connection per request: Go http.Client with DisableKeepAlives and no TLS session cache, so every request is a fresh TCP connection and a full TLS handshake (HTTP/1.1, ECDSA P-256 leaf for bench.test)\n\n")
	results := measureHTTPS(scens, workers, dur, up.url(), up, func(r result) bool { return strings.HasPrefix(r.name, "HTTPS via tunnel") })
	printTunnelRatios(results)
	return nil
}

// httpsUpstream serves a 1 KiB body, like run's plain upstream, with a leaf
// for bench.test signed by a test CA.
type httpsUpstream struct {
	addr  string
	port  int
	caPEM []byte
	// conns counts TCP connections accepted: with keep-alive it stays near
	// the number of client connections, without it equals the requests.
	conns atomic.Int64
}

// roots trusts the upstream's test CA.
func (u *httpsUpstream) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(u.caPEM)
	return p
}

// startHTTPSBench starts the HTTPS upstream and a DNS server that names it
// bench.test.
func startHTTPSBench() (*httpsUpstream, string, func(), error) {
	up, err := startHTTPSUpstream()
	if err != nil {
		return nil, "", nil, err
	}
	dnsAddr, stopDNS, err := tgbench.StartDNS("bench.test.", "127.0.1.1")
	if err != nil {
		return nil, "", nil, err
	}
	return up, dnsAddr, stopDNS, nil
}

func (u *httpsUpstream) url() string { return fmt.Sprintf("https://bench.test:%d/bench", u.port) }

func startHTTPSUpstream() (*httpsUpstream, error) {
	ca, caKey, caPEM, err := newCA()
	if err != nil {
		return nil, err
	}
	leaf, err := newLeaf(ca, caKey, "bench.test")
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.1.1:0", &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		return nil, err
	}
	u := &httpsUpstream{addr: ln.Addr().String(), caPEM: caPEM}
	_, portStr, _ := net.SplitHostPort(u.addr)
	u.port, _ = strconv.Atoi(portStr)
	body := strings.Repeat("x", 1024)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if upstreamClose {
				w.Header().Set("Connection", "close")
			}
			_, _ = io.WriteString(w, body)
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				u.conns.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	return u, nil
}

// httpsClient speaks HTTP/1.1 over TLS trusting roots, through a CONNECT
// tunnel on proxy when set, else dialling upstream whatever the URL's host:
// that way the URL, and so the TLS ServerName, is the same either way.
// Without keep-alive the nil ClientSessionCache also rules out session
// resumption, so each request pays a full handshake.
func httpsClient(proxy, upstream string, roots *x509.CertPool, keepAlive bool, workers int) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		MaxIdleConnsPerHost: workers,
		DisableKeepAlives:   !keepAlive,
		ForceAttemptHTTP2:   false,
	}
	if proxy != "" {
		pu, _ := url.Parse("http://" + proxy)
		tr.Proxy = http.ProxyURL(pu)
	} else {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, upstream)
		}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

func httpsGet(c *http.Client, target string) (time.Duration, error) {
	t0 := time.Now()
	resp, err := c.Get(target)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s (Tollgate-Reason %q)", resp.Status, resp.Header.Get("Tollgate-Reason"))
	}
	return time.Since(t0), err
}

type httpsScenario struct {
	name string
	pid  int // the tollgate whose CPU is charged to the scenario
	c    *http.Client
}

// measureHTTPS measures each scenario after a warm-up, prints the table and
// the upstream connections each accepted, and returns the results in order.
func measureHTTPS(scens []httpsScenario, workers int, dur time.Duration, target string, up *httpsUpstream, showCPU func(result) bool) []result {
	var results []result
	var ups []int64
	for _, s := range scens {
		fn := func() (time.Duration, error) { return httpsGet(s.c, target) }
		_ = measure(s.name, workers, dur/5, s.pid, wrap(fn))
		u0 := up.conns.Load()
		results = append(results, measure(s.name, workers, dur, s.pid, wrap(fn)))
		ups = append(ups, up.conns.Load()-u0)
		s.c.CloseIdleConnections()
	}
	printTable(results, showCPU)
	fmt.Println()
	for i, r := range results {
		fmt.Printf("upstream connections accepted during %q: %d for %d requests\n", r.name, ups[i], r.requests)
	}
	return results
}
