package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// maxResponse caps how much of a non-streamed response the client reads, so a
// confused or hostile server cannot exhaust memory.
const maxResponse = 16 << 20

// Client calls one control API with one bearer token. Safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for baseURL (e.g. "http://127.0.0.1:9090"). hc nil
// means a client with a 30 s timeout.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

func esc(s string) string { return url.PathEscape(s) }

// do sends a request and decodes a 2xx JSON answer into out (nil: discard).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, contentType string, body any, out any) error {
	resp, err := c.send(ctx, method, path, query, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send performs the request and turns any non-2xx answer into a *Problem.
// On success the caller owns resp.Body.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, contentType string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case json.RawMessage:
			b = v
		default:
			var err error
			if b, err = json.Marshal(body); err != nil {
				return nil, fmt.Errorf("%s %s: encode request: %w", method, path, err)
			}
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readProblem(resp)
}

func readProblem(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	p := &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var decoded Problem
		if json.Unmarshal(raw, &decoded) == nil && decoded.Status != 0 {
			return &decoded
		}
	}
	p.Detail = strings.TrimSpace(string(raw))
	return p
}

// IsNotFound reports whether err is a 404 problem.
func IsNotFound(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusNotFound
}

func pageQuery(limit int, cursor string) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// WhoAmI describes the caller.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var w WhoAmI
	return w, c.do(ctx, http.MethodGet, "/v1/whoami", nil, "", nil, &w)
}

// CreateTenant creates t. Every field is sent, so start from
// tollgate.DefaultTenant(); to inherit the server's configured defaults use
// CreateTenantJSON with only the fields you mean to set.
func (c *Client) CreateTenant(ctx context.Context, t tollgate.Tenant) (tollgate.Tenant, error) {
	var out tollgate.Tenant
	return out, c.do(ctx, http.MethodPost, "/v1/tenants", nil, "", t, &out)
}

// CreateTenantJSON creates a tenant from a raw JSON body, so that fields the
// caller leaves out keep the server's defaults (a Go struct has no "absent").
func (c *Client) CreateTenantJSON(ctx context.Context, body json.RawMessage) (tollgate.Tenant, error) {
	var out tollgate.Tenant
	return out, c.do(ctx, http.MethodPost, "/v1/tenants", nil, "", body, &out)
}

// ListTenants lists one page of tenants (admin).
func (c *Client) ListTenants(ctx context.Context, limit int, cursor string) (List[tollgate.Tenant], error) {
	var out List[tollgate.Tenant]
	return out, c.do(ctx, http.MethodGet, "/v1/tenants", pageQuery(limit, cursor), "", nil, &out)
}

// GetTenant reads one tenant.
func (c *Client) GetTenant(ctx context.Context, id string) (tollgate.Tenant, error) {
	var out tollgate.Tenant
	return out, c.do(ctx, http.MethodGet, "/v1/tenants/"+esc(id), nil, "", nil, &out)
}

// PatchTenant applies a JSON merge patch (RFC 7396) and returns the result.
func (c *Client) PatchTenant(ctx context.Context, id string, patch json.RawMessage) (tollgate.Tenant, error) {
	var out tollgate.Tenant
	return out, c.do(ctx, http.MethodPatch, "/v1/tenants/"+esc(id), nil, "application/merge-patch+json", patch, &out)
}

// DeleteTenant deletes a tenant and revokes its keys; its audit stays.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tenants/"+esc(id), nil, "", nil, nil)
}

// CreateKey creates an API key of tenant; the key is in CreatedKey.Key, once.
func (c *Client) CreateKey(ctx context.Context, tenant string, req CreateKeyRequest) (CreatedKey, error) {
	var out CreatedKey
	return out, c.do(ctx, http.MethodPost, "/v1/tenants/"+esc(tenant)+"/keys", nil, "", req, &out)
}

// ListKeys lists one page of a tenant's key metadata.
func (c *Client) ListKeys(ctx context.Context, tenant string, limit int, cursor string) (List[tollgate.APIKey], error) {
	var out List[tollgate.APIKey]
	return out, c.do(ctx, http.MethodGet, "/v1/tenants/"+esc(tenant)+"/keys", pageQuery(limit, cursor), "", nil, &out)
}

// RevokeKey revokes a tenant's key now.
func (c *Client) RevokeKey(ctx context.Context, tenant, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tenants/"+esc(tenant)+"/keys/"+esc(id), nil, "", nil, nil)
}

// RotateKey issues a replacement key with the same scopes, IPs and
// description; the old key expires after grace.
func (c *Client) RotateKey(ctx context.Context, tenant, id string, grace time.Duration) (CreatedKey, error) {
	d := Duration(grace)
	var out CreatedKey
	return out, c.do(ctx, http.MethodPost, "/v1/tenants/"+esc(tenant)+"/keys/"+esc(id)+"/rotate", nil, "", RotateRequest{GracePeriod: &d}, &out)
}

// CreatePlatformKey creates a platform key (proxy:any-tenant and/or control:admin).
func (c *Client) CreatePlatformKey(ctx context.Context, req CreateKeyRequest) (CreatedKey, error) {
	var out CreatedKey
	return out, c.do(ctx, http.MethodPost, "/v1/keys", nil, "", req, &out)
}

// ListPlatformKeys lists one page of platform key metadata.
func (c *Client) ListPlatformKeys(ctx context.Context, limit int, cursor string) (List[tollgate.APIKey], error) {
	var out List[tollgate.APIKey]
	return out, c.do(ctx, http.MethodGet, "/v1/keys", pageQuery(limit, cursor), "", nil, &out)
}

// RevokePlatformKey revokes a platform key now.
func (c *Client) RevokePlatformKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/keys/"+esc(id), nil, "", nil, nil)
}

// ListSigningKeys lists a tenant's signing-key metadata, newest first.
func (c *Client) ListSigningKeys(ctx context.Context, tenant string) (List[tollgate.SigningKey], error) {
	var out List[tollgate.SigningKey]
	return out, c.do(ctx, http.MethodGet, "/v1/tenants/"+esc(tenant)+"/signing-keys", nil, "", nil, &out)
}

// RotateSigningKey makes a new primary signing key; the old one keeps
// signing for grace (0 retires it at once). It returns the new key's metadata.
func (c *Client) RotateSigningKey(ctx context.Context, tenant string, grace time.Duration) (tollgate.SigningKey, error) {
	d := Duration(grace)
	var out tollgate.SigningKey
	return out, c.do(ctx, http.MethodPost, "/v1/tenants/"+esc(tenant)+"/signing-keys/rotate", nil, "", RotateRequest{GracePeriod: &d}, &out)
}

// SigningSecret returns the secret a receiver at host verifies with, for
// the signing key id. host may be empty for tenants with signing_scope tenant.
func (c *Client) SigningSecret(ctx context.Context, tenant, id, host string) (SigningSecret, error) {
	q := url.Values{}
	if host != "" {
		q.Set("host", host)
	}
	var out SigningSecret
	return out, c.do(ctx, http.MethodGet, "/v1/tenants/"+esc(tenant)+"/signing-keys/"+esc(id)+"/secret", q, "", nil, &out)
}

// ListAudit lists one page of audit events matching f.
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) (List[tollgate.AuditEvent], error) {
	q := pageQuery(f.Limit, f.Cursor)
	if f.Tenant != "" {
		q.Set("tenant", f.Tenant)
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	if f.Outcome != "" {
		q.Set("outcome", string(f.Outcome))
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	var out List[tollgate.AuditEvent]
	return out, c.do(ctx, http.MethodGet, "/v1/audit", q, "", nil, &out)
}

// ExportAudit streams a chain as NDJSON into w. tenant "" means the caller's
// own tenant for tenant keys and the platform chain for admins.
func (c *Client) ExportAudit(ctx context.Context, tenant string, w io.Writer) error {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/audit/export", q, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export audit: %w", err)
	}
	return nil
}

// VerifyAudit recomputes a chain's hashes on the server.
func (c *Client) VerifyAudit(ctx context.Context, tenant string) (VerifyResult, error) {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	var out VerifyResult
	return out, c.do(ctx, http.MethodGet, "/v1/audit/verify", q, "", nil, &out)
}

// InterceptCA fetches the intercept CA certificate (PEM); no token needed.
func (c *Client) InterceptCA(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/intercept-ca.pem", nil, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("read intercept CA: %w", err)
	}
	return b, nil
}
