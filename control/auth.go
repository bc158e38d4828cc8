package control

import (
	"net/http"
	"net/netip"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/identity"
)

// caller is an authorized request's principal with its powers worked out.
type caller struct {
	p      identity.Principal
	admin  bool   // admin token or a platform key with control:admin
	tenant string // the tenant of a tenant key
	read   bool
	write  bool
	ip     netip.Addr
}

// actor names the caller in audit events; never the key itself.
func (c *caller) actor() (string, tollgate.ActorType) {
	if c.p.Key != nil {
		return c.p.Key.ID, tollgate.ActorKey
	}
	if c.p.Admin {
		return "admin", tollgate.ActorAdmin
	}
	return "system", tollgate.ActorSystem
}

// repo is the narrowest repo the caller needs: tenant keys go through the
// scoped path, so a bug in a handler still cannot reach another tenant.
func (c *caller) repo(store tollgate.Store) tollgate.Repo {
	if c.admin {
		return store.Admin()
	}
	return store.Scoped(c.tenant)
}

func (s *Server) authorize(r *http.Request, need access) (*caller, error) {
	c := &caller{ip: clientAddr(r)}
	if need == public {
		return c, nil
	}
	p, ok := s.reg.AuthenticateBearer(r.Header.Get("Authorization"), c.ip)
	if !ok {
		return nil, errf(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required (Authorization: Bearer <key>)")
	}
	c.p = p
	switch {
	case p.Admin:
		c.admin = true
	case p.Key.Tenant == "":
		c.admin = p.Key.HasScope(tollgate.ScopeControlAdmin)
	default:
		c.tenant = p.Key.Tenant
		c.read = p.Key.HasScope(tollgate.ScopeControlRead)
		c.write = p.Key.HasScope(tollgate.ScopeControlWrite)
	}
	if c.admin {
		c.read, c.write = true, true
		return c, nil
	}
	// Any valid key may ask who it is: it learns only its own metadata.
	if need == anyKey {
		return c, nil
	}
	// From here on c is returned with the refusal, so that the caller can
	// record who was refused.
	if !c.read {
		return c, forbidden("this key carries no control scope")
	}
	switch need {
	case adminOnly:
		return c, forbidden("this route needs control:admin")
	case tenantRd, tenantWr:
		if t := r.PathValue("tenant"); t != c.tenant {
			return c, notFound("tenant " + quote(t))
		}
		if need == tenantWr && !c.write {
			return c, forbidden("this route needs control:write")
		}
	}
	return c, nil
}

// quote bounds and quotes caller input echoed in a detail.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c != 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(append(b, '"'))
}
