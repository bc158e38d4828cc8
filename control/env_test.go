package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control/client"
	"github.com/tollgate-dev/tollgate/identity"
	"github.com/tollgate-dev/tollgate/keyseal"
	"github.com/tollgate-dev/tollgate/store/sqlite"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const adminToken = "test-admin-token-0123456789"

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// env is a control server on a loopback listener over a real SQLite store.
type env struct {
	t      testing.TB
	store  *sqlite.Store
	sealer *keyseal.Sealer
	reg    *identity.Registry
	srv    *Server
	http   *httptest.Server
	clock  *clock
	admin  *client.Client
	keys   map[string]client.CreatedKey
	// readyErr is what the backends readiness check reports (nil: ready).
	readyErr atomic.Pointer[error]
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, keyseal.KeySize)
	_, _ = rand.Read(master)
	sealer, err := keyseal.New(master)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, sealer: sealer, clock: &clock{}, keys: map[string]client.CreatedKey{}}
	e.clock.ns.Store(t0.UnixNano())
	e.reg = identity.NewRegistry(st, e.clock.Now, nil)
	e.reg.SetAdminToken(adminToken)
	if err := e.reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv = NewServer(Options{
		Store:    st,
		Registry: e.reg,
		Sealer:   sealer,
		CAPEM:    func() []byte { return []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n") },
		Metrics:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "tollgate_up 1\n") }),
		Ready: func(context.Context) error {
			if p := e.readyErr.Load(); p != nil {
				return *p
			}
			return nil
		},
		Defaults: tollgate.DefaultTenant(),
		Now:      e.clock.Now,
	})
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	e.admin = e.client(adminToken)
	return e
}

func (e *env) client(token string) *client.Client {
	return client.New(e.http.URL, token, e.http.Client())
}

func (e *env) mustTenant(id string) tollgate.Tenant {
	e.t.Helper()
	t, err := e.admin.CreateTenantJSON(context.Background(), json.RawMessage(`{"id":"`+id+`","name":"`+id+` inc"}`))
	if err != nil {
		e.t.Fatalf("create tenant %s: %v", id, err)
	}
	return t
}

func (e *env) mustKey(name, tenant string, scopes ...tollgate.Scope) client.CreatedKey {
	e.t.Helper()
	req := client.CreateKeyRequest{Scopes: scopes, Description: name}
	var k client.CreatedKey
	var err error
	if tenant == "" {
		k, err = e.admin.CreatePlatformKey(context.Background(), req)
	} else {
		k, err = e.admin.CreateKey(context.Background(), tenant, req)
	}
	if err != nil {
		e.t.Fatalf("create key %s: %v", name, err)
	}
	e.keys[name] = k
	return k
}

// do sends a raw request and returns the status, headers and body.
func (e *env) do(method, path, token, contentType, body string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// events returns every stored audit event of one chain, oldest first.
func (e *env) events(tenant string) []tollgate.AuditEvent {
	e.t.Helper()
	var out []tollgate.AuditEvent
	if err := e.store.Audit().ScanAudit(context.Background(), tenant, func(ev tollgate.AuditEvent) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func lastEvent(t testing.TB, events []tollgate.AuditEvent) tollgate.AuditEvent {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no audit events")
	}
	return events[len(events)-1]
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", bytes.TrimSpace(b), err)
	}
}

var loopback = netip.MustParseAddr("127.0.0.1")

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}
