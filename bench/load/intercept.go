package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/bench/internal/tgbench"
)

// runIntercept compares HTTPS requests with keep-alive through an
// intercept-mode tollgate (TLS terminated with a minted leaf, request read,
// signed, re-sent over verified TLS) against the same requests through a
// tunnel-mode tollgate (CONNECT spliced, TLS end to end to the upstream).
// Both instances run the same config except defaults.mode; the clients are
// Go http.Clients with Proxy set. It then opens -mintconns new connections
// to the one host and reads tollgate_intercept_certs_minted_total.
func runIntercept(bin string, dur time.Duration, workers, mintConns int, extra string) error {
	ca, caKey, caPEM, err := newCA()
	if err != nil {
		return err
	}
	leaf, err := newLeaf(ca, caKey, "bench.test")
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", "127.0.1.1:0", &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		return err
	}
	body := strings.Repeat("x", 1024)
	// upConns counts TCP connections the upstream accepted: with keep-alive
	// on both legs it stays near the number of client connections.
	var upConns atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, body)
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				upConns.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	_, portStr, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	dnsAddr, stopDNS, err := tgbench.StartDNS("bench.test.", "127.0.1.1")
	if err != nil {
		return err
	}
	defer stopDNS()

	start := func(mode string) (*tgbench.Instance, string, error) {
		dir, err := os.MkdirTemp("", "tollgate-bench-"+mode)
		if err != nil {
			return nil, "", err
		}
		caFile := filepath.Join(dir, "upstream-ca.pem")
		if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
			return nil, "", err
		}
		cfg := fmt.Sprintf(`resolver:
  servers: [%s]
egress:
  allow_cidrs: [127.0.1.0/24]
  upstream_ca_file: %s
defaults:
  mode: %s
  policy:
    allowed_ports: [%d]
log:
  level: warn
%s`, dnsAddr, caFile, mode, port, extra)
		in, err := tgbench.Start(bin, dir, "  require_auth: false\n", cfg, wrapCmd)
		return in, dir, err
	}
	// The intercept instance starts first so that it is the one holding a
	// debug listener both would inherit from the environment (scripts/bench-profile).
	icp, icpDir, err := start("intercept")
	if err != nil {
		return err
	}
	defer os.RemoveAll(icpDir)
	defer icp.Stop()
	tun, tunDir, err := start("tunnel")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tunDir)
	defer tun.Stop()

	resp, err := http.Get("http://" + icp.CtrlAddr + "/v1/intercept-ca.pem")
	if err != nil {
		return err
	}
	icpPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	upRoots, icpRoots := x509.NewCertPool(), x509.NewCertPool()
	upRoots.AppendCertsFromPEM(caPEM)
	if !icpRoots.AppendCertsFromPEM(icpPEM) {
		return fmt.Errorf("intercept CA: no PEM certificate in %q", icpPEM)
	}
	client := func(proxy string, roots *x509.CertPool, keepAlive bool) *http.Client {
		pu, _ := url.Parse("http://" + proxy)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy:               http.ProxyURL(pu),
			TLSClientConfig:     &tls.Config{RootCAs: roots},
			MaxIdleConnsPerHost: workers,
			DisableKeepAlives:   !keepAlive,
			ForceAttemptHTTP2:   false,
		}}
	}
	target := fmt.Sprintf("https://bench.test:%d/bench", port)
	get := func(c *http.Client) (time.Duration, error) {
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
	type scen struct {
		name string
		in   *tgbench.Instance
		c    *http.Client
	}
	scens := []scen{
		{"HTTPS via tunnel, keep-alive", tun, client(tun.ProxyAddr, upRoots, true)},
		{"HTTPS via intercept, keep-alive", icp, client(icp.ProxyAddr, icpRoots, true)},
		{"HTTPS via tunnel, new connection per request", tun, client(tun.ProxyAddr, upRoots, false)},
		{"HTTPS via intercept, new connection per request", icp, client(icp.ProxyAddr, icpRoots, false)},
	}
	var results []result
	var ups []int64
	for _, s := range scens {
		fn := func() (time.Duration, error) { return get(s.c) }
		_ = measure(s.name, workers, dur/5, s.in.Pid(), wrap(fn))
		u0 := upConns.Load()
		results = append(results, measure(s.name, workers, dur, s.in.Pid(), wrap(fn)))
		ups = append(ups, upConns.Load()-u0)
		s.c.CloseIdleConnections()
	}
	fmt.Printf("| scenario | req/s | p50 | p90 | p99 | errors | proxy CPU/req |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		printRow(r, true)
	}
	fmt.Println()
	for i, r := range results {
		fmt.Printf("upstream connections accepted during %q: %d for %d requests\n", r.name, ups[i], r.requests)
	}
	fmt.Printf("\nratio intercept/tunnel, keep-alive:             %.2f\n", results[1].rps()/results[0].rps())
	fmt.Printf("ratio intercept/tunnel, new connection/request: %.2f\n", results[3].rps()/results[2].rps())

	// Leaf minted once per host: a fresh instance would start at 0; this one
	// has served every intercept connection above, so read before and after
	// mintConns more fresh connections and report the absolute total.
	before, err := icp.Metric("tollgate_intercept_certs_minted_total")
	if err != nil {
		return err
	}
	c := client(icp.ProxyAddr, icpRoots, false)
	okConns := 0
	for range mintConns {
		if _, err := get(c); err == nil {
			okConns++
		}
	}
	after, err := icp.Metric("tollgate_intercept_certs_minted_total")
	if err != nil {
		return err
	}
	fmt.Printf("\ntollgate_intercept_certs_minted_total: %.0f after the runs above (≥%d intercepted connections to bench.test), %.0f after %d more fresh connections (%d ok)\n",
		before, workers, after, mintConns, okConns)
	return nil
}

func wrap(fn func() (time.Duration, error)) func(context.Context) (time.Duration, error) {
	return func(context.Context) (time.Duration, error) { return fn() }
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tollgate bench upstream CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, names ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
