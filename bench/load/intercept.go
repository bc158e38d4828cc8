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
	"math/big"
	"net/http"
	"os"
	"path/filepath"
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
	up, dnsAddr, stopBench, err := startHTTPSBench()
	if err != nil {
		return err
	}
	defer stopBench()
	// The intercept instance starts first so that it is the one holding a
	// debug listener both would inherit from the environment (scripts/bench-profile).
	icp, stopIcp, err := startHTTPSMode(bin, dnsAddr, up.caPEM, "intercept", up.port, extra)
	if err != nil {
		return err
	}
	defer stopIcp()
	tun, stopTun, err := startHTTPSMode(bin, dnsAddr, up.caPEM, "tunnel", up.port, extra)
	if err != nil {
		return err
	}
	defer stopTun()

	icpRoots, err := interceptRoots(icp)
	if err != nil {
		return err
	}
	upRoots := up.roots()
	client := func(proxy string, roots *x509.CertPool, keepAlive bool) *http.Client {
		return httpsClient(proxy, "", roots, keepAlive, workers)
	}
	target := up.url()
	scens := []httpsScenario{
		{"HTTPS via tunnel, keep-alive", tun.Pid(), client(tun.ProxyAddr, upRoots, true)},
		{"HTTPS via intercept, keep-alive", icp.Pid(), client(icp.ProxyAddr, icpRoots, true)},
		{"HTTPS via tunnel, new connection per request", tun.Pid(), client(tun.ProxyAddr, upRoots, false)},
		{"HTTPS via intercept, new connection per request", icp.Pid(), client(icp.ProxyAddr, icpRoots, false)},
	}
	results := measureHTTPS(scens, workers, dur, target, up, func(result) bool { return true })
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
		if _, err := httpsGet(c, target); err == nil {
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

// startHTTPSMode starts tollgate with tenant mode (intercept or tunnel),
// trusting the upstream's test CA.
func startHTTPSMode(bin, dnsAddr string, caPEM []byte, mode string, port int, extra string) (*tgbench.Instance, func(), error) {
	return startInstance(bin, mode, func(dir string) (string, error) {
		caFile := filepath.Join(dir, "upstream-ca.pem")
		if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
			return "", err
		}
		return tgbench.Egress{DNS: dnsAddr, Port: port, LogLevel: logLevel, Mode: mode, UpstreamCAFile: caFile, Extra: extra}.Config(), nil
	})
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
