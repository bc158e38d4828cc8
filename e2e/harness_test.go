package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

// instance is one running tollgate binary.
type instance struct {
	t          *testing.T
	dir        string
	proxyAddr  string
	ctrlAddr   string
	adminToken string
	cmd        *exec.Cmd
	logs       *syncBuffer
	done       chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort reserves a loopback port long enough to hand it to the binary.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// baseConfig is the configuration every e2e instance starts from: loopback
// listeners, the test's DNS server, TTL clamp off (so rebinding tests see
// every answer change), and 127.0.1.0/24 as the stand-in "public" range.
func baseConfig(t *testing.T, dns *dnstest.Server) map[string]any {
	return map[string]any{
		"proxy": map[string]any{
			"listen":          fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			"require_auth":    false,
			"connect_timeout": "2s",
		},
		"control":  map[string]any{"listen": fmt.Sprintf("127.0.0.1:%d", freePort(t))},
		"data_dir": t.TempDir(),
		"resolver": map[string]any{
			"servers": []string{dns.Addr()},
			"timeout": "1s",
			"min_ttl": "0s",
		},
		"egress": map[string]any{
			"allow_cidrs": []string{"127.0.1.0/24"},
			"own_domains": []string{"platform.example"},
		},
		"audit": map[string]any{"flush_interval": "50ms"},
		"log":   map[string]any{"level": "debug", "format": "json"},
	}
}

func section(cfg map[string]any, key string) map[string]any {
	m, ok := cfg[key].(map[string]any)
	if !ok {
		m = map[string]any{}
		cfg[key] = m
	}
	return m
}

// start writes cfg and runs `tollgate serve --config`, waiting for /readyz.
func start(t *testing.T, cfg map[string]any) *instance {
	t.Helper()
	dir := cfg["data_dir"].(string)
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	in := &instance{
		t:          t,
		dir:        dir,
		proxyAddr:  section(cfg, "proxy")["listen"].(string),
		ctrlAddr:   section(cfg, "control")["listen"].(string),
		adminToken: "tg_admin_e2e_" + strings.ReplaceAll(t.Name(), "/", "_"),
		logs:       &syncBuffer{},
		done:       make(chan struct{}),
	}
	in.cmd = exec.Command(os.Getenv("TOLLGATE_BIN"), "serve", "--config", path)
	in.cmd.Env = append(os.Environ(), "TOLLGATE_ADMIN_TOKEN="+in.adminToken)
	in.cmd.Stdout = in.logs
	in.cmd.Stderr = in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		in.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("tollgate output:\n%s", in.logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + in.ctrlAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in
			}
		}
		select {
		case <-in.done:
			t.Fatalf("tollgate exited during start:\n%s", in.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tollgate not ready after 15s:\n%s", in.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (in *instance) stop(sig syscall.Signal) {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
}

// api calls the control API as token and decodes the JSON answer into out.
func (in *instance) api(token, method, path string, body any, out any) int {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+in.ctrlAddr+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			in.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// connectResult is what a raw CONNECT returned.
type connectResult struct {
	status int
	phrase string
	header http.Header
	body   []byte
	conn   net.Conn // open tunnel when status is 200
	br     *bufio.Reader
}

// connect sends a raw CONNECT (so malformed authorities reach the proxy
// unchanged) with optional Basic credentials.
func (in *instance) connect(t *testing.T, authority, user, pass string) connectResult {
	t.Helper()
	c, err := net.DialTimeout("tcp", in.proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", authority, authority)
	if user != "" || pass != "" {
		fmt.Fprintf(&b, "Proxy-Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		t.Fatalf("CONNECT %s: read response: %v", authority, err)
	}
	res := connectResult{status: resp.StatusCode, phrase: strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode))), header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		_ = c.SetDeadline(time.Time{})
		res.conn, res.br = c, br
		t.Cleanup(func() { c.Close() })
		return res
	}
	res.body, _ = io.ReadAll(resp.Body)
	c.Close()
	return res
}

// refusal checks a proxy refusal against SPEC §6.
func checkRefusal(t *testing.T, what string, status int, phrase string, h http.Header, body []byte, wantStatus int, wantReason string) {
	t.Helper()
	if status != wantStatus || phrase != wantReason || h.Get("Tollgate-Reason") != wantReason {
		t.Fatalf("%s: got %d %q (Tollgate-Reason %q), want %d %s; body %s", what, status, phrase, h.Get("Tollgate-Reason"), wantStatus, wantReason, body)
	}
	if h.Get("Tollgate-Request-Id") == "" {
		t.Errorf("%s: no Tollgate-Request-Id", what)
	}
	var rb struct {
		Error     string `json:"error"`
		Detail    string `json:"detail"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &rb); err != nil || rb.Error != wantReason || rb.Detail == "" || rb.RequestID != h.Get("Tollgate-Request-Id") {
		t.Errorf("%s: body %s does not match the refusal shape", what, body)
	}
}

// canaries listens on every canary address that this namespace has, on
// the given ports, and counts accepted connections.
type canaries struct {
	hits atomic.Int64
	seen sync.Map // addr -> count
}

func startCanaries(t *testing.T, ports ...int) *canaries {
	t.Helper()
	c := &canaries{}
	for _, a := range canaryAddrs {
		for _, p := range ports {
			ln, err := net.Listen("tcp", net.JoinHostPort(a, fmt.Sprint(p)))
			if err != nil {
				continue // address not configured here or port taken by another test's canary
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					c.hits.Add(1)
					c.seen.Store(conn.LocalAddr().String(), true)
					conn.Close()
				}
			}()
		}
	}
	t.Cleanup(func() {
		if n := c.hits.Load(); n != 0 {
			var addrs []string
			c.seen.Range(func(k, _ any) bool { addrs = append(addrs, k.(string)); return true })
			t.Errorf("canary listeners received %d connection(s): %v", n, addrs)
		}
	})
	return c
}

// upstreamIP hands each test its own stand-in public address in 127.0.1.0/24.
var nextIP atomic.Int32

func upstreamIP() string { return fmt.Sprintf("127.0.1.%d", 10+nextIP.Add(1)) }

// echoServer is a plain HTTP upstream on ip:port that records requests.
type echoServer struct {
	addr  string
	mu    sync.Mutex
	reqs  []*http.Request
	conns atomic.Int64
}

func startEcho(t *testing.T, ip string, port int, h http.HandlerFunc) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{addr: ln.Addr().String()}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", e.addr) }
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			e.mu.Lock()
			e.reqs = append(e.reqs, r)
			e.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
			h(w, r)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				e.conns.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return e
}

func (e *echoServer) requests() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*http.Request(nil), e.reqs...)
}

// httpOverTunnel sends one plain HTTP request through an open tunnel.
func httpOverTunnel(t *testing.T, res connectResult, host string) (*http.Response, string) {
	t.Helper()
	if res.conn == nil {
		t.Fatalf("no tunnel (status %d %s, body %s)", res.status, res.phrase, res.body)
	}
	_ = res.conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(res.conn, "GET /probe HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	resp, err := http.ReadResponse(res.br, nil)
	if err != nil {
		t.Fatalf("read through tunnel: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
