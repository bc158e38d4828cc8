package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/netip"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/resolver"
)

// Caller is who a request acts for, once authenticated.
type Caller struct {
	Tenant string
	KeyID  string // empty for unauthenticated requests in require_auth: false mode
}

// Authenticator checks a Proxy-Authorization header value for a client.
// A refusal is a Decision (proxy_auth_required or tenant_suspended).
type Authenticator interface {
	AuthenticateProxy(header string, client netip.Addr) (Caller, tollgate.Decision)
}

// TenantState is what the proxy needs of one tenant, prepared once per
// configuration change rather than per request.
type TenantState struct {
	Tenant *tollgate.Tenant
	Policy *policy.TenantPolicy
	// SigningKeys are the tenant-level signing secrets, primary first, then
	// keys in their rotation grace period, newest first.
	SigningKeys []SigningSecret
}

// SigningSecret is a decrypted tenant signing key. A key in its grace period
// stops signing at Until (zero: no end), checked per request so rotation
// needs no rebuild to take effect.
type SigningSecret struct {
	Key   []byte
	Until time.Time
}

// Tenants looks up the prepared state of a tenant.
type Tenants interface {
	TenantState(id string) (*TenantState, bool)
}

// Resolver resolves a name once per request.
type Resolver interface {
	Lookup(ctx context.Context, name string) (resolver.Answer, error)
}

// Recorder receives one audit event per proxy decision; it may apply
// backpressure but must not drop events silently.
type Recorder interface {
	RecordMeta(ctx context.Context, e tollgate.AuditEvent, m audit.Meta) error
}

// CertIssuer mints (and caches) the leaf certificate the proxy presents
// to a worker in intercept mode.
type CertIssuer interface {
	TLSConfig(host string) (*tls.Config, error)
}

// Options configure a Proxy. Engine, Resolver, Auth and Tenants are required.
type Options struct {
	Engine   *policy.Engine
	Resolver Resolver
	Auth     Authenticator
	Tenants  Tenants
	Limiter  tollgate.Limiter // nil: no quotas
	Audit    Recorder         // nil: no audit
	Issuer   CertIssuer       // nil: intercept mode refuses with upstream_error
	// UpstreamRoots verify upstream TLS (system roots plus egress.upstream_ca_file).
	UpstreamRoots *x509.CertPool

	ConnectTimeout    time.Duration
	IdleTimeout       time.Duration
	MaxTunnelDuration time.Duration

	Metrics *Metrics // nil: metrics are not collected
	Logger  *slog.Logger
	Now     func() time.Time
}

func (o *Options) setDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	if o.MaxTunnelDuration <= 0 {
		o.MaxTunnelDuration = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}
