package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// recorder answers every request with a canned response and remembers the request.
type recorder struct {
	method, path, query, auth, ctype, body string
	status                                 int
	respType, resp                         string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.method, r.path, r.query = req.Method, req.URL.EscapedPath(), req.URL.RawQuery
	r.auth, r.ctype, r.body = req.Header.Get("Authorization"), req.Header.Get("Content-Type"), string(b)
	w.Header().Set("Content-Type", r.respType)
	w.WriteHeader(r.status)
	_, _ = io.WriteString(w, r.resp)
}

func TestClientRequests(t *testing.T) {
	ctx := context.Background()
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name                      string
		call                      func(c *Client) error
		method, path, query, body string
		ctype                     string
	}{
		{"whoami", func(c *Client) error { _, err := c.WhoAmI(ctx); return err }, "GET", "/v1/whoami", "", "", ""},
		{"list tenants", func(c *Client) error { _, err := c.ListTenants(ctx, 10, "abc"); return err }, "GET", "/v1/tenants", "cursor=abc&limit=10", "", ""},
		{"patch", func(c *Client) error {
			_, err := c.PatchTenant(ctx, "acme", json.RawMessage(`{"name":"A"}`))
			return err
		}, "PATCH", "/v1/tenants/acme", "", `{"name":"A"}`, "application/merge-patch+json"},
		{"escaped id", func(c *Client) error { _, err := c.GetTenant(ctx, "a/b"); return err }, "GET", "/v1/tenants/a%2Fb", "", "", ""},
		{"rotate key", func(c *Client) error { _, err := c.RotateKey(ctx, "acme", "key_1", 168*time.Hour); return err },
			"POST", "/v1/tenants/acme/keys/key_1/rotate", "", `{"grace_period":"168h0m0s"}`, "application/json"},
		{"rotate signing zero", func(c *Client) error { _, err := c.RotateSigningKey(ctx, "acme", 0); return err },
			"POST", "/v1/tenants/acme/signing-keys/rotate", "", `{"grace_period":"0s"}`, "application/json"},
		{"secret", func(c *Client) error { _, err := c.SigningSecret(ctx, "acme", "sk_1", "hooks.example.com"); return err },
			"GET", "/v1/tenants/acme/signing-keys/sk_1/secret", "host=hooks.example.com", "", ""},
		{"audit filter", func(c *Client) error {
			_, err := c.ListAudit(ctx, AuditFilter{Tenant: "acme", Action: "key.create", Outcome: "success", Since: since, Limit: 5})
			return err
		}, "GET", "/v1/audit", "action=key.create&limit=5&outcome=success&since=2026-01-02T03%3A04%3A05Z&tenant=acme", "", ""},
		{"delete", func(c *Client) error { return c.RevokePlatformKey(ctx, "key_9") }, "DELETE", "/v1/keys/key_9", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{status: 200, respType: "application/json", resp: `{}`}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			if err := tc.call(New(srv.URL+"/", "tok", srv.Client())); err != nil {
				t.Fatalf("call: %v", err)
			}
			if rec.method != tc.method || rec.path != tc.path || rec.query != tc.query {
				t.Errorf("got %s %s ?%s, want %s %s ?%s", rec.method, rec.path, rec.query, tc.method, tc.path, tc.query)
			}
			if rec.body != tc.body || rec.ctype != tc.ctype {
				t.Errorf("body %q (%s), want %q (%s)", rec.body, rec.ctype, tc.body, tc.ctype)
			}
			if rec.auth != "Bearer tok" {
				t.Errorf("auth %q", rec.auth)
			}
		})
	}
}

func TestClientProblems(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		ctype    string
		body     string
		want     Problem
		notFound bool
	}{
		{"problem json", 422, "application/problem+json",
			`{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"invalid tenant","errors":[{"field":"mode","message":"must be tunnel or intercept"}]}`,
			Problem{Type: "about:blank", Title: "Unprocessable Entity", Status: 422, Detail: "invalid tenant", Errors: []FieldError{{"mode", "must be tunnel or intercept"}}}, false},
		{"not found", 404, "application/problem+json", `{"type":"about:blank","title":"Not Found","status":404,"detail":"no tenant"}`,
			Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: "no tenant"}, true},
		{"plain text", 502, "text/plain", "bad gateway\n", Problem{Title: "Bad Gateway", Status: 502, Detail: "bad gateway"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&recorder{status: tc.status, respType: tc.ctype, resp: tc.body})
			defer srv.Close()
			_, err := New(srv.URL, "", srv.Client()).GetTenant(context.Background(), "acme")
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is not a *Problem", err)
			}
			got, _ := json.Marshal(p)
			want, _ := json.Marshal(tc.want)
			if !bytes.Equal(got, want) {
				t.Errorf("problem %s, want %s", got, want)
			}
			if IsNotFound(err) != tc.notFound {
				t.Errorf("IsNotFound = %v", !tc.notFound)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{`"168h"`, 168 * time.Hour, false},
		{`"0s"`, 0, false},
		{`"-1h"`, 0, true},
		{`"soon"`, 0, true},
		{`3600`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.wantErr || (err == nil && time.Duration(d) != tc.want) {
				t.Errorf("got %v, %v; want %v, err %v", time.Duration(d), err, tc.want, tc.wantErr)
			}
		})
	}
}
