package control

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
)

// matrixEnv has two tenants and one key per kind of caller.
type matrixEnv struct {
	*env
	tokens    map[string]string // caller → bearer token ("" for none)
	signingID string
}

var callers = []string{"admin", "write", "read", "other", "platform", "none", "revoked"}

func newMatrixEnv(t *testing.T) *matrixEnv {
	e := newEnv(t)
	e.mustTenant("acme")
	e.mustTenant("globex")
	m := &matrixEnv{env: e, tokens: map[string]string{"admin": adminToken, "none": ""}}
	m.tokens["write"] = e.mustKey("write", "acme", tollgate.ScopeControlWrite, tollgate.ScopeProxy).Key
	m.tokens["read"] = e.mustKey("read", "acme", tollgate.ScopeControlRead).Key
	m.tokens["other"] = e.mustKey("other", "globex", tollgate.ScopeControlWrite).Key
	m.tokens["platform"] = e.mustKey("platform", "", tollgate.ScopeProxyAnyTenant).Key
	revoked := e.mustKey("revoked", "acme", tollgate.ScopeControlWrite)
	m.tokens["revoked"] = revoked.Key
	if err := e.admin.RevokeKey(context.Background(), "acme", revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.mustKey("victim", "acme", tollgate.ScopeProxy)
	e.mustKey("pvictim", "", tollgate.ScopeProxyAnyTenant)
	sks, err := e.admin.ListSigningKeys(context.Background(), "acme")
	if err != nil || len(sks.Items) != 1 {
		t.Fatalf("signing keys %+v %v", sks, err)
	}
	m.signingID = sks.Items[0].ID
	return m
}

func (m *matrixEnv) auditCount() int {
	n := 0
	for _, chain := range []string{"", "acme", "globex", "initech"} {
		n += len(m.events(chain))
	}
	return n
}

func (m *matrixEnv) expand(path string) string {
	return strings.NewReplacer("{victim}", m.keys["victim"].ID, "{pvictim}", m.keys["pvictim"].ID, "{sk}", m.signingID).Replace(path)
}

func TestAuthorizationMatrix(t *testing.T) {
	// Columns follow callers: admin, write, read, other, platform, none, revoked.
	pub := [7]int{200, 200, 200, 200, 200, 200, 200}
	routes := []struct {
		method, path, body string
		want               [7]int
	}{
		{"GET", "/healthz", "", pub},
		{"GET", "/readyz", "", pub},
		{"GET", "/metrics", "", pub},
		{"GET", "/v1/intercept-ca.pem", "", pub},
		{"GET", "/v1/whoami", "", [7]int{200, 200, 200, 200, 200, 401, 401}},
		{"POST", "/v1/keys", `{"scopes":["proxy:any-tenant"]}`, [7]int{201, 403, 403, 403, 403, 401, 401}},
		{"GET", "/v1/keys", "", [7]int{200, 403, 403, 403, 403, 401, 401}},
		{"DELETE", "/v1/keys/{pvictim}", "", [7]int{204, 403, 403, 403, 403, 401, 401}},
		{"POST", "/v1/tenants", `{"id":"initech"}`, [7]int{201, 403, 403, 403, 403, 401, 401}},
		{"GET", "/v1/tenants", "", [7]int{200, 403, 403, 403, 403, 401, 401}},
		{"GET", "/v1/tenants/acme", "", [7]int{200, 200, 200, 404, 403, 401, 401}},
		{"GET", "/v1/tenants/nosuch", "", [7]int{404, 404, 404, 404, 403, 401, 401}},
		{"PATCH", "/v1/tenants/acme", `{"name":"Acme 2"}`, [7]int{200, 200, 403, 404, 403, 401, 401}},
		{"DELETE", "/v1/tenants/acme", "", [7]int{204, 403, 403, 404, 403, 401, 401}},
		{"POST", "/v1/tenants/acme/keys", `{"scopes":["proxy"]}`, [7]int{201, 201, 403, 404, 403, 401, 401}},
		{"GET", "/v1/tenants/acme/keys", "", [7]int{200, 200, 200, 404, 403, 401, 401}},
		{"DELETE", "/v1/tenants/acme/keys/{victim}", "", [7]int{204, 204, 403, 404, 403, 401, 401}},
		{"DELETE", "/v1/tenants/globex/keys/{victim}", "", [7]int{404, 404, 404, 404, 403, 401, 401}},
		{"POST", "/v1/tenants/acme/keys/{victim}/rotate", `{"grace_period":"1h"}`, [7]int{201, 201, 403, 404, 403, 401, 401}},
		{"GET", "/v1/tenants/acme/signing-keys", "", [7]int{200, 200, 200, 404, 403, 401, 401}},
		{"POST", "/v1/tenants/acme/signing-keys/rotate", `{"grace_period":"24h"}`, [7]int{201, 201, 403, 404, 403, 401, 401}},
		{"GET", "/v1/tenants/acme/signing-keys/{sk}/secret?host=hooks.example.com", "", [7]int{200, 200, 403, 404, 403, 401, 401}},
		{"GET", "/v1/audit", "", [7]int{200, 200, 200, 200, 403, 401, 401}},
		{"GET", "/v1/audit?tenant=acme", "", [7]int{200, 200, 200, 404, 403, 401, 401}},
		{"GET", "/v1/audit/export?tenant=acme", "", [7]int{200, 200, 200, 404, 403, 401, 401}},
		{"GET", "/v1/audit/verify?tenant=acme", "", [7]int{200, 200, 200, 404, 403, 401, 401}},
	}
	shared := newMatrixEnv(t)
	for _, rt := range routes {
		for i, who := range callers {
			t.Run(fmt.Sprintf("%s %s as %s", rt.method, rt.path, who), func(t *testing.T) {
				m := shared
				if rt.method != http.MethodGet && rt.want[i] < 300 {
					m = newMatrixEnv(t) // a change must not leak into the next cell
				}
				before := m.auditCount()
				ct := ""
				if rt.body != "" {
					ct = "application/json"
				}
				status, hdr, body := m.do(rt.method, m.expand(rt.path), m.tokens[who], ct, rt.body)
				if status != rt.want[i] {
					t.Fatalf("status %d, want %d: %s", status, rt.want[i], body)
				}
				if status >= 400 && hdr.Get("Content-Type") != "application/problem+json" {
					t.Errorf("error content type %q", hdr.Get("Content-Type"))
				}
				if status == 401 && hdr.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				// An accepted change is audited before its response; a refused
				// one changes nothing, and an authenticated caller refused on a
				// sensitive route is recorded as blocked in its own chain.
				after := m.auditCount()
				sensitive := rt.method != http.MethodGet || strings.Contains(rt.path, "/secret")
				chain := map[string]string{"write": "acme", "read": "acme", "other": "globex"}[who]
				pathTenant, _, _ := strings.Cut(strings.TrimPrefix(rt.path, "/v1/tenants/"), "/")
				blocked := sensitive && who != "admin" && who != "none" && who != "revoked" &&
					(status == 403 || (status == 404 && pathTenant != chain))
				switch {
				case blocked:
					ev := lastEvent(t, m.events(chain))
					if after != before+1 || ev.Outcome != tollgate.OutcomeBlocked || ev.Actor != m.keys[who].ID || ev.Target != m.expand(strings.Split(rt.path, "?")[0]) {
						t.Errorf("blocked attempt: %d new events, last %+v", after-before, ev)
					}
				case status >= 400 && after != before:
					t.Errorf("refused request wrote %d audit events", after-before)
				case status < 300 && sensitive && after != before+1:
					t.Errorf("change wrote %d audit events, want 1", after-before)
				}
			})
		}
	}
}
