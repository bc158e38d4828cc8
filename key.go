package tollgate

import (
	"net/netip"
	"time"
)

// Scope is a permission carried by an API key (SPEC §3).
type Scope string

const (
	ScopeProxy          Scope = "proxy"
	ScopeProxyAnyTenant Scope = "proxy:any-tenant"
	ScopeControlRead    Scope = "control:read"
	ScopeControlWrite   Scope = "control:write"
	ScopeControlAdmin   Scope = "control:admin"
)

// KeyStatus is the lifecycle state of an API key.
type KeyStatus string

const (
	KeyActive  KeyStatus = "active"
	KeyRevoked KeyStatus = "revoked"
	KeyExpired KeyStatus = "expired"
)

// APIKey is the stored metadata of an API key. The key itself is shown once
// at creation; only its SHA-256 hash is kept.
type APIKey struct {
	ID          string         `json:"id"`
	Tenant      string         `json:"tenant,omitempty"` // empty for platform keys
	Scopes      []Scope        `json:"scopes"`
	Description string         `json:"description"`
	AllowedIPs  []netip.Prefix `json:"allowed_ips"`
	ExpiresAt   *time.Time     `json:"expires_at"`
	CreatedAt   time.Time      `json:"created_at"`
	LastUsedAt  *time.Time     `json:"last_used_at"`
	RevokedAt   *time.Time     `json:"revoked_at,omitempty"`
	Status      KeyStatus      `json:"status"`
	Hash        []byte         `json:"-"` // SHA-256 of the full key string
}

// HasScope reports whether k carries s. control:admin implies every control scope,
// control:write implies control:read.
func (k *APIKey) HasScope(s Scope) bool {
	for _, have := range k.Scopes {
		if have == s {
			return true
		}
		switch {
		case have == ScopeControlAdmin && (s == ScopeControlRead || s == ScopeControlWrite):
			return true
		case have == ScopeControlWrite && s == ScopeControlRead:
			return true
		}
	}
	return false
}

// EffectiveStatus is the status at time now: an active key past its expiry is expired.
func (k *APIKey) EffectiveStatus(now time.Time) KeyStatus {
	if k.Status == KeyActive && k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return KeyExpired
	}
	return k.Status
}
