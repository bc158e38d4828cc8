package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/apikey"
)

// Refusal details. They name the problem without echoing any credential.
const (
	detailMissing   = "proxy credentials are required: use http://TENANT:KEY@proxy"
	detailMalformed = "proxy credentials are malformed"
	detailUnknown   = "proxy credentials are not valid"
	detailRevoked   = "the api key is revoked"
	detailExpired   = "the api key has expired"
	detailIP        = "the api key is not allowed from this client address"
	detailScope     = "the api key does not carry the proxy scope"
	detailTenant    = "the proxy username does not name a tenant this key may act for"
	detailNoDefault = "anonymous requests need the default tenant, which does not exist"
	detailSuspended = "the tenant is suspended"
)

func denyAuth(detail string) tollgate.Decision {
	return tollgate.Deny(tollgate.ReasonProxyAuthRequired, detail)
}

// lookup finds the key whose hash is h. The map lookup is on a hash of a
// 256-bit secret, so its timing reveals nothing useful; the constant-time
// compare keeps the final equality check free of early exits anyway.
func (s *Snapshot) lookup(h [32]byte) (keyEntry, bool) {
	e, ok := s.byHash[h]
	if !ok || subtle.ConstantTimeCompare(e.key.Hash, h[:]) != 1 {
		return keyEntry{}, false
	}
	return e, true
}

// checkKey applies the checks common to both listeners: status at now and
// the client address binding.
func checkKey(k *tollgate.APIKey, client netip.Addr, now time.Time) string {
	switch k.EffectiveStatus(now) {
	case tollgate.KeyActive:
	case tollgate.KeyExpired:
		return detailExpired
	default:
		return detailRevoked
	}
	if len(k.AllowedIPs) > 0 {
		c := client.Unmap()
		for _, p := range k.AllowedIPs {
			if p.Contains(c) {
				return ""
			}
		}
		return detailIP
	}
	return ""
}

// AuthenticateProxy implements SPEC §3 proxy authentication; header is the
// raw Proxy-Authorization value. With requireAuth false an empty header acts
// as the "default" tenant; a header that is present is always checked.
func (r *Registry) AuthenticateProxy(header string, client netip.Addr, requireAuth bool) (Principal, tollgate.Decision) {
	s := r.snap.Load()
	if header == "" {
		if requireAuth {
			return Principal{}, denyAuth(detailMissing)
		}
		t, ok := s.tenants[tollgate.DefaultTenantID]
		if !ok {
			return Principal{}, denyAuth(detailNoDefault)
		}
		if t.Status != tollgate.TenantActive {
			return Principal{}, tollgate.Deny(tollgate.ReasonTenantSuspended, detailSuspended)
		}
		return Principal{Tenant: t}, tollgate.Allowed
	}
	user, pass, ok := apikey.ParseProxyAuthorization(header)
	if !ok || apikey.Parse(pass) != nil {
		return Principal{}, denyAuth(detailMalformed)
	}
	e, ok := s.lookup(apikey.Hash(pass))
	if !ok {
		return Principal{}, denyAuth(detailUnknown)
	}
	k := e.key
	now := r.now()
	if d := checkKey(k, client, now); d != "" {
		return Principal{}, denyAuth(d)
	}
	if k.Tenant != "" {
		if !k.HasScope(tollgate.ScopeProxy) {
			return Principal{}, denyAuth(detailScope)
		}
		if user != k.Tenant {
			return Principal{}, denyAuth(detailTenant)
		}
	} else if !k.HasScope(tollgate.ScopeProxyAnyTenant) {
		return Principal{}, denyAuth(detailScope)
	}
	t, ok := s.tenants[user]
	if !ok {
		return Principal{}, denyAuth(detailTenant)
	}
	if t.Status != tollgate.TenantActive {
		return Principal{}, tollgate.Deny(tollgate.ReasonTenantSuspended, detailSuspended)
	}
	touch(e.usage, now)
	return Principal{Key: k, Tenant: t}, tollgate.Allowed
}

// AuthenticateBearer authenticates a control-API caller: the admin token or
// an active key of a live tenant (or a platform key) allowed from client.
// Scopes are left to the caller.
func (r *Registry) AuthenticateBearer(header string, client netip.Addr) (Principal, bool) {
	tok, ok := apikey.ParseBearer(header)
	if !ok {
		return Principal{}, false
	}
	if admin := r.admin.Load(); admin != nil {
		h := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(h[:], admin[:]) == 1 {
			return Principal{Admin: true}, true
		}
	}
	if apikey.Parse(tok) != nil {
		return Principal{}, false
	}
	s := r.snap.Load()
	e, ok := s.lookup(apikey.Hash(tok))
	if !ok {
		return Principal{}, false
	}
	now := r.now()
	if checkKey(e.key, client, now) != "" {
		return Principal{}, false
	}
	p := Principal{Key: e.key}
	if e.key.Tenant != "" {
		t, ok := s.tenants[e.key.Tenant]
		if !ok {
			return Principal{}, false
		}
		p.Tenant = t
	}
	touch(e.usage, now)
	return p, true
}
