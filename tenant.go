package tollgate

import (
	"net/netip"
	"regexp"
	"time"
)

// Mode says how much of a tenant's traffic the proxy can see.
type Mode string

const (
	ModeTunnel    Mode = "tunnel"    // CONNECT spliced byte for byte
	ModeIntercept Mode = "intercept" // TLS terminated with the intercept CA, each request signed
)

// TenantStatus is active or suspended.
type TenantStatus string

const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
)

// SigningScope selects one secret per tenant or one derived secret per host.
type SigningScope string

const (
	SigningScopeHost   SigningScope = "host"
	SigningScopeTenant SigningScope = "tenant"
)

// DefaultTenantID is the tenant requests act as when proxy.require_auth is false.
const DefaultTenantID = "default"

var tenantIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidTenantID reports whether id matches ^[a-z0-9][a-z0-9-]{0,62}$.
func ValidTenantID(id string) bool { return tenantIDRe.MatchString(id) }

// Policy is a tenant's egress policy (SPEC §3). Host patterns are globs such
// as "*.acme.com"; AllowCIDRs is admin-only and never opens the always-denied tier.
type Policy struct {
	AllowedHosts   []string       `json:"allowed_hosts" yaml:"allowed_hosts"`
	DeniedHosts    []string       `json:"denied_hosts" yaml:"denied_hosts"`
	AllowCIDRs     []netip.Prefix `json:"allow_cidrs" yaml:"allow_cidrs"`
	AllowedPorts   []uint16       `json:"allowed_ports" yaml:"allowed_ports"`
	AllowPlainHTTP bool           `json:"allow_plain_http" yaml:"allow_plain_http"`
	UpgradeHTTP    bool           `json:"upgrade_http" yaml:"upgrade_http"`
	MaxBodyBytes   int64          `json:"max_body_bytes" yaml:"max_body_bytes"`
}

// DefaultPolicy is the policy a tenant gets when neither config nor API says otherwise.
func DefaultPolicy() Policy {
	return Policy{
		AllowedHosts: []string{},
		DeniedHosts:  []string{},
		AllowCIDRs:   []netip.Prefix{},
		AllowedPorts: []uint16{80, 443},
		UpgradeHTTP:  true,
		MaxBodyBytes: 1 << 20,
	}
}

// Quotas are a tenant's egress limits; zero means unlimited.
type Quotas struct {
	RequestsPerSecond        float64 `json:"requests_per_second" yaml:"requests_per_second"`
	Burst                    int     `json:"burst" yaml:"burst"`
	MaxConcurrent            int     `json:"max_concurrent" yaml:"max_concurrent"`
	BytesPerSecond           int64   `json:"bytes_per_second" yaml:"bytes_per_second"`
	PerKeyRequestsPerSecond  float64 `json:"per_key_requests_per_second" yaml:"per_key_requests_per_second"`
	PerHostRequestsPerSecond float64 `json:"per_host_requests_per_second" yaml:"per_host_requests_per_second"`
}

// Tenant is one customer of the platform. Every proxied request belongs to
// exactly one tenant.
type Tenant struct {
	ID           string       `json:"id" yaml:"id"`
	Name         string       `json:"name" yaml:"name"`
	Status       TenantStatus `json:"status" yaml:"status"`
	Mode         Mode         `json:"mode" yaml:"mode"`
	Sign         bool         `json:"sign" yaml:"sign"`
	SigningScope SigningScope `json:"signing_scope" yaml:"signing_scope"`
	Policy       Policy       `json:"policy" yaml:"policy"`
	Quotas       Quotas       `json:"quotas" yaml:"quotas"`
	// Declarative is true for tenants that come from the config file's
	// tenants: list; SIGHUP upserts those and leaves API-created ones alone.
	Declarative bool      `json:"declarative" yaml:"-"`
	CreatedAt   time.Time `json:"created_at" yaml:"-"`
	UpdatedAt   time.Time `json:"updated_at" yaml:"-"`
}

// DefaultTenant is the template new tenants are decoded onto, so that a
// field a request or config leaves out keeps its default.
func DefaultTenant() Tenant {
	return Tenant{
		Status:       TenantActive,
		Mode:         ModeTunnel,
		Sign:         true,
		SigningScope: SigningScopeHost,
		Policy:       DefaultPolicy(),
	}
}
