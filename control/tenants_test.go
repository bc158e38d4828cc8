package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control/client"
)

func TestCreateTenantDefaults(t *testing.T) {
	e := newEnv(t)
	got := e.mustTenant("acme")
	want := tollgate.DefaultTenant()
	if got.Mode != want.Mode || got.Status != want.Status || !got.Sign || got.SigningScope != want.SigningScope ||
		!slices.Equal(got.Policy.AllowedPorts, want.Policy.AllowedPorts) || got.Policy.MaxBodyBytes != want.Policy.MaxBodyBytes {
		t.Errorf("omitted fields did not keep defaults: %+v", got)
	}
	if got.Name != "acme inc" || got.Declarative || !got.CreatedAt.Equal(t0) {
		t.Errorf("tenant %+v", got)
	}
	sks, err := e.admin.ListSigningKeys(context.Background(), "acme")
	if err != nil || len(sks.Items) != 1 || sks.Items[0].Status != tollgate.SigningPrimary {
		t.Fatalf("signing keys %+v %v", sks, err)
	}
	if _, err := e.admin.CreateTenantJSON(context.Background(), json.RawMessage(`{"id":"acme"}`)); !isStatus(err, 409) {
		t.Errorf("duplicate create: %v", err)
	}
}

func isStatus(err error, status int) bool {
	var p *client.Problem
	return errors.As(err, &p) && p.Status == status
}

func fieldsOf(err error) []string {
	var p *client.Problem
	if !errors.As(err, &p) {
		return nil
	}
	var out []string
	for _, f := range p.Errors {
		if f.Message == "" {
			out = append(out, f.Field+": (no message)")
		}
		out = append(out, f.Field)
	}
	return out
}

func TestCreateTenantValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"bad id", `{"id":"Acme"}`, 422, []string{"id"}},
		{"long id", `{"id":"` + strings.Repeat("a", 64) + `"}`, 422, []string{"id"}},
		{"mode", `{"id":"a","mode":"mitm"}`, 422, []string{"mode"}},
		{"status", `{"id":"a","status":"paused"}`, 422, []string{"status"}},
		{"signing scope", `{"id":"a","signing_scope":"global"}`, 422, []string{"signing_scope"}},
		{"port zero", `{"id":"a","policy":{"allowed_ports":[443,0]}}`, 422, []string{"policy.allowed_ports[1]"}},
		{"port too big", `{"id":"a","policy":{"allowed_ports":[70000]}}`, 422, []string{"policy.allowed_ports"}},
		{"glob", `{"id":"a","policy":{"allowed_hosts":["ok.example.com","a.*.com"]}}`, 422, []string{"policy.allowed_hosts[1]"}},
		{"ip as host", `{"id":"a","policy":{"denied_hosts":["10.0.0.1"]}}`, 422, []string{"policy.denied_hosts[0]"}},
		{"cidr host bits", `{"id":"a","policy":{"allow_cidrs":["10.0.0.1/8"]}}`, 422, []string{"policy.allow_cidrs[0]"}},
		{"negative quota", `{"id":"a","quotas":{"burst":-1,"requests_per_second":-0.5}}`, 422, []string{"quotas.requests_per_second", "quotas.burst"}},
		{"negative body", `{"id":"a","policy":{"max_body_bytes":-1}}`, 422, []string{"policy.max_body_bytes"}},
		{"unknown field", `{"id":"a","colour":"red"}`, 422, []string{"colour"}},
		{"wrong type", `{"id":"a","sign":"yes"}`, 422, []string{"sign"}},
		{"not json", `{"id":`, 400, nil},
		{"two values", `{"id":"a"} {}`, 400, nil},
		{"name control char", `{"id":"a","name":"x\u0007"}`, 422, []string{"name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.admin.CreateTenantJSON(context.Background(), json.RawMessage(tc.body))
			if !isStatus(err, tc.status) {
				t.Fatalf("error %v, want status %d", err, tc.status)
			}
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
	if l, err := e.admin.ListTenants(context.Background(), 0, ""); err != nil || len(l.Items) != 0 {
		t.Errorf("invalid tenants were stored: %+v %v", l, err)
	}
}

func TestPatchTenant(t *testing.T) {
	tests := []struct {
		name   string
		admin  bool
		patch  string
		status int
		check  func(t *testing.T, got tollgate.Tenant)
		fields []string
	}{
		{"rename keeps the rest", false, `{"name":"Acme Two"}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if got.Name != "Acme Two" || got.Mode != tollgate.ModeTunnel || !slices.Equal(got.Policy.AllowedPorts, []uint16{80, 443}) {
				t.Errorf("%+v", got)
			}
		}, nil},
		{"nested merge", false, `{"policy":{"allowed_hosts":["*.Acme.COM."]}}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if !slices.Equal(got.Policy.AllowedHosts, []string{"*.acme.com"}) || !got.Policy.UpgradeHTTP || got.Policy.MaxBodyBytes != 1<<20 {
				t.Errorf("%+v", got.Policy)
			}
		}, nil},
		{"null removes", false, `{"policy":{"allowed_ports":null}}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if got.Policy.AllowedPorts == nil || len(got.Policy.AllowedPorts) != 0 {
				t.Errorf("ports %v", got.Policy.AllowedPorts)
			}
		}, nil},
		{"arrays are replaced", false, `{"policy":{"allowed_ports":[8443]}}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if !slices.Equal(got.Policy.AllowedPorts, []uint16{8443}) {
				t.Errorf("ports %v", got.Policy.AllowedPorts)
			}
		}, nil},
		{"mode and scope", false, `{"mode":"intercept","signing_scope":"tenant"}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if got.Mode != tollgate.ModeIntercept || got.SigningScope != tollgate.SigningScopeTenant {
				t.Errorf("%+v", got)
			}
		}, nil},
		{"server fields ignored", false, `{"created_at":"2000-01-01T00:00:00Z","declarative":true}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if !got.CreatedAt.Equal(t0) || got.Declarative {
				t.Errorf("%+v", got)
			}
		}, nil},
		{"admin sets allow_cidrs", true, `{"policy":{"allow_cidrs":["10.1.0.0/16","::ffff:10.2.0.0/112"]}}`, 200, func(t *testing.T, got tollgate.Tenant) {
			want := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")}
			if !slices.Equal(got.Policy.AllowCIDRs, want) {
				t.Errorf("cidrs %v", got.Policy.AllowCIDRs)
			}
		}, nil},
		{"admin suspends", true, `{"status":"suspended"}`, 200, func(t *testing.T, got tollgate.Tenant) {
			if got.Status != tollgate.TenantSuspended {
				t.Errorf("%+v", got)
			}
		}, nil},
		{"tenant sets allow_cidrs", false, `{"policy":{"allow_cidrs":["10.1.0.0/16"]}}`, 403, nil, nil},
		{"tenant changes status", false, `{"status":"suspended"}`, 403, nil, nil},
		{"tenant raises quota", false, `{"quotas":{"requests_per_second":1000}}`, 403, nil, nil},
		{"id change", true, `{"id":"other"}`, 422, nil, []string{"id"}},
		{"bad mode", false, `{"mode":"x"}`, 422, nil, []string{"mode"}},
		{"bad port", false, `{"policy":{"allowed_ports":[0]}}`, 422, nil, []string{"policy.allowed_ports[0]"}},
		{"bad cidr", true, `{"policy":{"allow_cidrs":["10.0.0.1/8"]}}`, 422, nil, []string{"policy.allow_cidrs[0]"}},
		{"unknown nested field", false, `{"policy":{"allowed":[]}}`, 422, nil, []string{"allowed"}},
		{"wrong type", false, `{"quotas":{"burst":"many"}}`, 422, nil, []string{"quotas.burst"}},
		{"not an object", false, `["name"]`, 400, nil, nil},
		{"null patch", false, `null`, 400, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.mustTenant("acme")
			c := e.admin
			if !tc.admin {
				c = e.client(e.mustKey("w", "acme", tollgate.ScopeControlWrite).Key)
			}
			before := len(e.events("acme"))
			got, err := c.PatchTenant(context.Background(), "acme", json.RawMessage(tc.patch))
			if tc.status != 200 {
				if !isStatus(err, tc.status) {
					t.Fatalf("error %v, want %d", err, tc.status)
				}
				if f := fieldsOf(err); !slices.Equal(f, tc.fields) {
					t.Errorf("fields %v, want %v", f, tc.fields)
				}
				evs := e.events("acme")
				switch {
				case tc.status == 403:
					if ev := lastEvent(t, evs); len(evs) != before+1 || ev.Outcome != tollgate.OutcomeBlocked || ev.Action != "tenant.update" {
						t.Errorf("refused attempt not recorded as blocked: %+v", ev)
					}
				case len(evs) != before:
					t.Errorf("invalid patch audited")
				}
				stored, _ := e.admin.GetTenant(context.Background(), "acme")
				if stored.Name != "acme inc" || stored.Status != tollgate.TenantActive {
					t.Errorf("refused patch changed the tenant: %+v", stored)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
			stored, err := e.admin.GetTenant(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, stored)
			if ev := lastEvent(t, e.events("acme")); ev.Action != "tenant.update" {
				t.Errorf("last event %s", ev.Action)
			}
			if rt, ok := e.reg.Tenant("acme"); !ok || rt.Name != stored.Name || rt.Status != stored.Status {
				t.Errorf("registry not reloaded: %+v", rt)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("t%02d", i)
		e.mustTenant(id)
		want = append(want, id)
	}
	ctx := context.Background()
	var got []string
	cursor, pages := "", 0
	for {
		l, err := e.admin.ListTenants(ctx, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(l.Items) > 3 {
			t.Fatalf("page of %d", len(l.Items))
		}
		for _, tn := range l.Items {
			got = append(got, tn.ID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("got %v in %d pages, want %v in 3", got, pages, want)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=" + strings.Repeat("z", 2000)} {
		if status, _, body := e.do("GET", "/v1/tenants?"+q, adminToken, "", ""); status != 400 {
			t.Errorf("%s: status %d %s", q, status, body)
		}
	}
	// The default page is 50 and the envelope is the same everywhere.
	status, _, body := e.do("GET", "/v1/tenants", adminToken, "", "")
	var env map[string]json.RawMessage
	mustJSON(t, body, &env)
	if _, ok := env["next_cursor"]; status != 200 || len(env) != 2 || env["items"] == nil || !ok {
		t.Errorf("envelope %s", body)
	}
}

func TestProblemShape(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"unknown route", "GET", "/v1/nothing", "", "", 404},
		{"method not allowed", "PUT", "/v1/tenants", "", "", 405},
		{"missing tenant", "GET", "/v1/tenants/nosuch", "", "", 404},
		{"unauthenticated", "GET", "/v1/tenants", "", "", 401},
		{"wrong content type", "POST", "/v1/tenants", "text/plain", `{"id":"x"}`, 415},
		{"body too large", "POST", "/v1/tenants", "application/json", `{"id":"x","name":"` + strings.Repeat("a", maxBody) + `"}`, 413},
		{"empty body", "POST", "/v1/tenants", "application/json", "", 400},
		{"validation", "POST", "/v1/tenants", "application/json", `{"id":"-x"}`, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := adminToken
			if tc.status == 401 {
				token = ""
			}
			status, hdr, body := e.do(tc.method, tc.path, token, tc.ctype, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			var p map[string]any
			mustJSON(t, body, &p)
			for _, k := range []string{"type", "title", "detail"} {
				if s, _ := p[k].(string); s == "" {
					t.Errorf("problem lacks %s: %s", k, body)
				}
			}
			if n, _ := p["status"].(float64); int(n) != tc.status {
				t.Errorf("problem status %v", p["status"])
			}
			if tc.status == 422 {
				if errs, _ := p["errors"].([]any); len(errs) == 0 {
					t.Errorf("validation problem without errors: %s", body)
				}
			}
			if tc.status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestDeleteTenant(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("acme")
	k := e.mustKey("p", "acme", tollgate.ScopeProxy)
	ctx := context.Background()
	if _, d := e.reg.AuthenticateProxy(basic("acme", k.Key), loopback, true); !d.Allow {
		t.Fatal(d)
	}
	if err := e.admin.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.GetTenant(ctx, "acme"); !isStatus(err, 404) {
		t.Errorf("get after delete: %v", err)
	}
	if _, d := e.reg.AuthenticateProxy(basic("acme", k.Key), loopback, true); d.Allow {
		t.Error("key of a deleted tenant still authenticates")
	}
	if ev := lastEvent(t, e.events("acme")); ev.Action != "tenant.delete" || ev.Actor != "admin" || ev.ActorType != tollgate.ActorAdmin {
		t.Errorf("event %+v", ev)
	}
	if err := e.admin.DeleteTenant(ctx, "acme"); !isStatus(err, 404) {
		t.Errorf("second delete: %v", err)
	}
}

func TestDeclarativeUpsert(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustTenant("acme") // created through the API
	cfg := func(id string, mode tollgate.Mode) tollgate.Tenant {
		tn := tollgate.DefaultTenant()
		tn.ID, tn.Name, tn.Mode = id, "from config", mode
		return tn
	}
	if err := e.srv.UpsertDeclarative(ctx, []tollgate.Tenant{cfg("acme", tollgate.ModeIntercept), cfg("newco", tollgate.ModeTunnel)}); err != nil {
		t.Fatal(err)
	}
	acme, _ := e.admin.GetTenant(ctx, "acme")
	if acme.Mode != tollgate.ModeTunnel || acme.Name != "acme inc" || acme.Declarative {
		t.Errorf("API tenant was changed by config: %+v", acme)
	}
	newco, err := e.admin.GetTenant(ctx, "newco")
	if err != nil || !newco.Declarative || newco.Name != "from config" {
		t.Fatalf("declarative tenant %+v %v", newco, err)
	}
	if sks, _ := e.admin.ListSigningKeys(ctx, "newco"); len(sks.Items) != 1 {
		t.Errorf("declarative tenant has %d signing keys", len(sks.Items))
	}
	if ev := lastEvent(t, e.events("newco")); ev.Action != "tenant.create" || ev.ActorType != tollgate.ActorSystem {
		t.Errorf("event %+v", ev)
	}
	if _, ok := e.reg.Tenant("newco"); !ok {
		t.Error("registry not reloaded")
	}
	// Re-applying the same config is a no-op; a changed one updates.
	n := len(e.events("newco"))
	if err := e.srv.UpsertDeclarative(ctx, []tollgate.Tenant{cfg("newco", tollgate.ModeTunnel)}); err != nil {
		t.Fatal(err)
	}
	if len(e.events("newco")) != n {
		t.Error("unchanged config tenant was rewritten")
	}
	if err := e.srv.UpsertDeclarative(ctx, []tollgate.Tenant{cfg("newco", tollgate.ModeIntercept)}); err != nil {
		t.Fatal(err)
	}
	if newco, _ = e.admin.GetTenant(ctx, "newco"); newco.Mode != tollgate.ModeIntercept || !newco.Declarative {
		t.Errorf("config update not applied: %+v", newco)
	}
	// One invalid tenant rejects the whole set before anything is written.
	bad := cfg("Bad_ID", tollgate.ModeTunnel)
	if err := e.srv.UpsertDeclarative(ctx, []tollgate.Tenant{cfg("other", tollgate.ModeTunnel), bad}); err == nil || len(ValidationErrors(err)) == 0 {
		t.Errorf("invalid config accepted: %v", err)
	}
	if _, err := e.admin.GetTenant(ctx, "other"); !isStatus(err, 404) {
		t.Error("partial config applied")
	}
}

func TestEnsureTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	def := tollgate.DefaultTenant()
	def.ID = tollgate.DefaultTenantID
	for range 2 {
		if err := e.srv.EnsureTenant(ctx, def); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.events(tollgate.DefaultTenantID)); n != 1 {
		t.Errorf("%d events, want one creation", n)
	}
	if _, d := e.reg.AuthenticateProxy("", loopback, false); !d.Allow {
		t.Errorf("anonymous request refused: %+v", d)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	status, _, body := e.do("GET", "/healthz", "", "", "")
	if status != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("healthz %d %q", status, body)
	}
	tests := []struct {
		name   string
		ready  error
		status int
		checks map[string]string
	}{
		{"ready", nil, 200, map[string]string{"store": "ok", "backends": "ok"}},
		{"backend down", errors.New("redis 127.0.0.1:6379: connection refused"), 503,
			map[string]string{"store": "ok", "backends": "unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.readyErr.Store(&tc.ready)
			status, _, body := e.do("GET", "/readyz", "", "", "")
			var got struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			mustJSON(t, body, &got)
			if status != tc.status || fmt.Sprint(got.Checks) != fmt.Sprint(tc.checks) || strings.Contains(string(body), "redis") {
				t.Errorf("readyz %d %s", status, body)
			}
		})
	}
	status, hdr, body := e.do("GET", "/v1/intercept-ca.pem", "", "", "")
	if status != 200 || hdr.Get("Content-Type") != "application/x-pem-file" || !strings.HasPrefix(string(body), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("CA %d %q", status, body)
	}
	if status, _, body := e.do("GET", "/metrics", "", "", ""); status != 200 || !strings.Contains(string(body), "tollgate_up") {
		t.Errorf("metrics %d %q", status, body)
	}
}
