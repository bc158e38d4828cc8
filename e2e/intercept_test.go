package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
	"github.com/tollgate-dev/tollgate/signer"
)

// testCA issues the upstream receivers' certificates; the proxy trusts it
// through egress.upstream_ca_file.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e receivers CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) leaf(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// delivery is what a receiver got, with the raw request for `tollgate verify`.
type delivery struct {
	header http.Header
	body   []byte
	raw    []byte
}

type receiver struct {
	mu   sync.Mutex
	got  []delivery
	addr string
}

// startReceiver serves HTTPS on ip:443; opts adjust the server before it starts.
func startReceiver(t *testing.T, ip string, cert tls.Certificate, opts ...func(*http.Server)) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "443"))
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.URL.RequestURI(), r.Host)
		_ = r.Header.Write(&raw)
		raw.WriteString("\r\n")
		raw.Write(body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{header: r.Header.Clone(), body: body, raw: raw.Bytes()})
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"received":true}`)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	for _, o := range opts {
		o(srv)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

func (rc *receiver) last(t *testing.T) delivery {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return rc.got[len(rc.got)-1]
}

type signingKeyMeta struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (in *instance) signingKeys(t *testing.T, tenant string) []signingKeyMeta {
	t.Helper()
	var list struct {
		Items []signingKeyMeta `json:"items"`
	}
	if st := in.api(in.adminToken, "GET", "/v1/tenants/"+tenant+"/signing-keys", nil, &list); st != 200 {
		t.Fatalf("list signing keys: %d", st)
	}
	return list.Items
}

func (in *instance) receiverSecret(t *testing.T, tenant, keyID, host string) string {
	t.Helper()
	var s struct {
		Secret string `json:"secret"`
	}
	if st := in.api(in.adminToken, "GET", "/v1/tenants/"+tenant+"/signing-keys/"+keyID+"/secret?host="+url.QueryEscape(host), nil, &s); st != 200 || !strings.HasPrefix(s.Secret, "whsec_") {
		t.Fatalf("secret for %s: %d %q", host, st, s.Secret)
	}
	return s.Secret
}

// nodeVerify checks a delivery with the npm standardwebhooks package.
func nodeVerify(t *testing.T, secret string, d delivery) error {
	t.Helper()
	dir := os.Getenv("TOLLGATE_E2E_DIR")
	if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		t.Fatalf("npm cross-check unavailable: run `npm ci` in e2e/ (scripts/e2e does): %v", err)
	}
	headers := map[string]string{}
	for k, vs := range d.header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	in, _ := json.Marshal(map[string]any{"secret": secret, "headers": headers, "body": string(d.body)})
	cmd := exec.Command("node", filepath.Join(dir, "verify-standardwebhooks.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("node: %v: %s", err, out)
	}
	return nil
}

// TestInterceptSigning: a worker using HTTPS_PROXY with the intercept CA
// trusted delivers JSON to an HTTPS receiver; the receiver verifies with
// the Go verifier and the npm library, across a signing-key rotation.
func TestInterceptSigning(t *testing.T) {
	d := dnstest.Start(t)
	ca := newTestCA(t)
	pub := upstreamIP()
	rc := startReceiver(t, pub, ca.leaf(t, "hook.test"))
	d.Set("hook.test", "hook.test. 60 IN A "+pub)
	caFile := filepath.Join(t.TempDir(), "receivers-ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, d)
	section(cfg, "proxy")["require_auth"] = true
	section(cfg, "egress")["upstream_ca_file"] = caFile
	in := start(t, cfg)

	in.createTenant(t, "acme", map[string]any{"mode": "intercept"})
	key := in.createKey(t, "acme", map[string]any{"scopes": []string{"proxy"}})

	resp, err := http.Get("http://" + in.ctrlAddr + "/v1/intercept-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("intercept CA is not PEM: %q", caPEM)
	}
	proxyURL, _ := url.Parse("http://acme:" + key.Key + "@" + in.proxyAddr)
	worker := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}

	sendTo := func(t *testing.T, url, body string, extra map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		resp, err := worker.Do(req)
		if err != nil {
			t.Fatalf("delivery: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Tollgate-Reason") != "" {
			t.Fatalf("delivery: %d %s (Tollgate-Reason %q)", resp.StatusCode, b, resp.Header.Get("Tollgate-Reason"))
		}
	}
	send := func(t *testing.T, body string, extra map[string]string) {
		t.Helper()
		sendTo(t, "https://hook.test/hooks/in", body, extra)
	}

	keys := in.signingKeys(t, "acme")
	if len(keys) != 1 || keys[0].Status != "primary" {
		t.Fatalf("a new tenant should have one primary signing key: %+v", keys)
	}
	secret1 := in.receiverSecret(t, "acme", keys[0].ID, "hook.test")

	body := `{"type":"invoice.paid","amount":4200}`
	send(t, body, map[string]string{"Webhook-Signature": "v1,Zm9yZ2Vk", "Webhook-Timestamp": "1", "Webhook-Id": "msg_retry_7"})
	got := rc.last(t)
	if string(got.body) != body {
		t.Fatalf("receiver got body %q", got.body)
	}
	for _, h := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
		if n := len(got.header.Values(h)); n != 1 {
			t.Fatalf("%s arrived %d times", h, n)
		}
	}
	if got.header.Get("Webhook-Id") != "msg_retry_7" || strings.Contains(got.header.Get("Webhook-Signature"), "Zm9yZ2Vk") || got.header.Get("Webhook-Timestamp") == "1" {
		t.Fatalf("worker-supplied signature headers leaked or id lost: %v", got.header)
	}
	if err := signer.VerifyRequest(secret1, got.header, got.body, time.Now(), signer.DefaultTolerance); err != nil {
		t.Fatalf("Go verifier: %v", err)
	}
	if err := nodeVerify(t, secret1, got); err != nil {
		t.Fatalf("npm standardwebhooks: %v", err)
	}
	otherHost := in.receiverSecret(t, "acme", keys[0].ID, "other.test")
	if err := signer.VerifyRequest(otherHost, got.header, got.body, time.Now(), signer.DefaultTolerance); err == nil {
		t.Fatal("another host's secret verified the delivery")
	}
	if err := nodeVerify(t, otherHost, got); err == nil {
		t.Fatal("npm library accepted another host's secret")
	}

	t.Run("tollgate verify", func(t *testing.T) {
		run := func(raw []byte, secret string) (int, string) {
			cmd := exec.Command(os.Getenv("TOLLGATE_BIN"), "verify", "--secret", secret)
			cmd.Stdin = bytes.NewReader(raw)
			out, _ := cmd.CombinedOutput()
			return cmd.ProcessState.ExitCode(), string(out)
		}
		if code, out := run(got.raw, secret1); code != 0 {
			t.Fatalf("verify of a captured delivery: exit %d %s", code, out)
		}
		tampered := bytes.Replace(got.raw, []byte("4200"), []byte("9999"), 1)
		if code, out := run(tampered, secret1); code != 1 {
			t.Fatalf("verify of a modified body: exit %d %s", code, out)
		}
	})

	t.Run("http:// is upgraded to TLS and signed", func(t *testing.T) {
		plain := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
		resp, err := plain.Post("http://hook.test/hooks/plain", "application/json", strings.NewReader(`{"via":"HTTP_PROXY"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Tollgate-Reason") != "" {
			t.Fatalf("upgraded delivery: %d %s", resp.StatusCode, b)
		}
		got := rc.last(t) // the receiver only speaks TLS on 443
		if string(got.body) != `{"via":"HTTP_PROXY"}` {
			t.Fatalf("receiver got %q", got.body)
		}
		if err := signer.VerifyRequest(secret1, got.header, got.body, time.Now(), signer.DefaultTolerance); err != nil {
			t.Fatalf("upgraded delivery does not verify: %v", err)
		}
	})

	t.Run("the intercept CONNECT 200 carries Tollgate-Request-Id", func(t *testing.T) {
		res := in.connect(t, "hook.test:443", "acme", key.Key)
		if res.status != 200 {
			t.Fatalf("CONNECT: %d %s", res.status, res.body)
		}
		id := res.header.Get("Tollgate-Request-Id")
		if !strings.HasPrefix(id, "req_") || len(res.header.Values("Tollgate-Request-Id")) != 1 {
			t.Fatalf("Tollgate-Request-Id %q in %v", id, res.header)
		}
		// The tunnel still speaks TLS with the intercept CA after the head.
		tc := tls.Client(res.conn, &tls.Config{ServerName: "hook.test", RootCAs: roots})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS through the intercepted tunnel: %v", err)
		}
		tc.Close()
		// ...and names the CONNECT's audit event (evt_X for req_X). Proxy
		// events are batched: wait for the flush.
		want := "evt_" + strings.TrimPrefix(id, "req_")
		deadline := time.Now().Add(3 * time.Second)
		for {
			events, st := in.auditAll(t, in.adminToken, "tenant=acme")
			found := false
			for _, e := range events {
				found = found || e.ID == want
			}
			if found {
				break
			}
			if st != 200 || time.Now().After(deadline) {
				t.Fatalf("no audit event %s (status %d, %d events)", want, st, len(events))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a receiver that closed an idle connection gets the next delivery once", func(t *testing.T) {
		// A receiver with a short idle timeout closes the pooled upstream
		// connection between deliveries; a POST must neither fail nor
		// arrive twice.
		ip := upstreamIP()
		var conns atomic.Int64
		idle := startReceiver(t, ip, ca.leaf(t, "idle.test"), func(s *http.Server) {
			s.IdleTimeout = 100 * time.Millisecond
			s.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
		})
		d.Set("idle.test", "idle.test. 60 IN A "+ip)
		post := func(n int) {
			sendTo(t, "https://idle.test/hooks/idle", fmt.Sprintf(`{"n":%d}`, n), nil)
		}
		post(1)
		post(2) // reuses the pooled connection
		if c := conns.Load(); c != 1 {
			t.Fatalf("two back-to-back deliveries used %d receiver connections, want 1", c)
		}
		time.Sleep(400 * time.Millisecond) // the receiver closes the idle connection
		post(3)
		if got := idle.count(); got != 3 {
			t.Fatalf("the receiver got %d deliveries, want 3", got)
		}
		if c := conns.Load(); c != 2 {
			t.Fatalf("receiver connections = %d, want 2 (a new one after its idle close)", c)
		}
	})

	t.Run("a receiver's Connection: close ends only the upstream hop", func(t *testing.T) {
		// The worker keeps its connection to the proxy; the proxy meets
		// the receiver again with a resumed TLS session.
		ip := upstreamIP()
		var resumed []bool
		var mu sync.Mutex
		closing := startReceiver(t, ip, ca.leaf(t, "close.test"), func(s *http.Server) {
			inner := s.Handler
			s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				resumed = append(resumed, r.TLS != nil && r.TLS.DidResume)
				mu.Unlock()
				w.Header().Set("Connection", "close")
				inner.ServeHTTP(w, r)
			})
		})
		d.Set("close.test", "close.test. 60 IN A "+ip)
		var reused []bool
		for n := range 3 {
			trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = append(reused, ci.Reused) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				"POST", "https://close.test/hooks/close", strings.NewReader(fmt.Sprintf(`{"n":%d}`, n)))
			resp, err := worker.Do(req)
			if err != nil {
				t.Fatalf("delivery %d: %v", n, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Tollgate-Reason") != "" || resp.Close {
				t.Fatalf("delivery %d: %d %s (Tollgate-Reason %q, close %v)", n, resp.StatusCode, b, resp.Header.Get("Tollgate-Reason"), resp.Close)
			}
		}
		if got := closing.count(); got != 3 {
			t.Fatalf("the receiver got %d deliveries, want 3", got)
		}
		if fmt.Sprint(reused) != "[false true true]" {
			t.Errorf("worker connection reused per request: %v, want [false true true]", reused)
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(resumed) != "[false true true]" {
			t.Errorf("receiver saw resumed TLS sessions %v, want [false true true]", resumed)
		}
	})

	t.Run("body over max_body_bytes", func(t *testing.T) {
		big := strings.Repeat("x", 1<<20+1)
		req, _ := http.NewRequest("POST", "https://hook.test/hooks/in", strings.NewReader(big))
		resp, err := worker.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		phrase := strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)))
		checkRefusal(t, "large body", resp.StatusCode, phrase, resp.Header, b, 413, "body_too_large")
	})

	t.Run("rotation signs with both keys", func(t *testing.T) {
		if st := in.api(in.adminToken, "POST", "/v1/tenants/acme/signing-keys/rotate", map[string]any{"grace_period": "24h"}, nil); st/100 != 2 {
			t.Fatalf("rotate: %d", st)
		}
		var got delivery
		deadline := time.Now().Add(2 * time.Second)
		for {
			send(t, body, nil)
			got = rc.last(t)
			if len(strings.Fields(got.header.Get("Webhook-Signature"))) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after rotation the signature header is %q", got.header.Get("Webhook-Signature"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		keys := in.signingKeys(t, "acme")
		if len(keys) != 2 {
			t.Fatalf("signing keys after rotation: %+v", keys)
		}
		for _, k := range keys {
			s := in.receiverSecret(t, "acme", k.ID, "hook.test")
			if err := signer.VerifyRequest(s, got.header, got.body, time.Now(), signer.DefaultTolerance); err != nil {
				t.Fatalf("key %s (%s) does not verify: %v", k.ID, k.Status, err)
			}
			if err := nodeVerify(t, s, got); err != nil {
				t.Fatalf("npm: key %s (%s): %v", k.ID, k.Status, err)
			}
		}
	})
}
