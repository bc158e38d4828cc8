package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/resolver"
)

// vetted is the outcome of vetting one destination: the addresses the proxy
// may dial for this request, in resolver order, already unmapped.
type vetted struct {
	target policy.Target
	addrs  []netip.Addr
	tp     *policy.TenantPolicy
}

// vet applies SPEC §4 rules 2–5 to a parsed target, resolving once.
func (p *Proxy) vet(ctx context.Context, ts *TenantState, t policy.Target, scheme string) (vetted, tollgate.Decision) {
	eng := p.engine.Load()
	v := vetted{target: t, tp: ts.Policy}
	if d := eng.CheckRequest(t, scheme, ts.Policy); !d.Allow {
		return v, d
	}
	var addrs []netip.Addr
	if t.IsIP() {
		addrs = []netip.Addr{t.Addr}
	} else {
		ans, err := p.opts.Resolver.Lookup(ctx, t.Host)
		// A CNAME may lead from an allowed name to a forbidden one; every
		// name in the chain is judged (the first is the target itself), also
		// when the chain ended in a DNS failure: the forbidden name decides.
		for _, name := range ans.Chain {
			if d := eng.CheckName(name, ts.Policy); !d.Allow {
				return v, d
			}
		}
		if err != nil {
			return v, tollgate.Deny(tollgate.ReasonDNSError, dnsDetail(t.Host, err))
		}
		addrs = ans.Addrs
	}
	if len(addrs) == 0 {
		return v, tollgate.Deny(tollgate.ReasonDNSError, fmt.Sprintf("%s has no address", t.Host))
	}
	if d := eng.CheckAddrs(addrs, t.Port, ts.Policy); !d.Allow {
		return v, d
	}
	v.addrs = make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		v.addrs[i] = a.Unmap()
	}
	return v, tollgate.Allowed
}

func dnsDetail(host string, err error) string {
	switch {
	case errors.Is(err, resolver.ErrNXDomain):
		return fmt.Sprintf("%s does not exist (NXDOMAIN)", host)
	case errors.Is(err, resolver.ErrNoAddress):
		return fmt.Sprintf("%s has no A or AAAA record", host)
	case errors.Is(err, resolver.ErrServFail):
		return fmt.Sprintf("the resolver failed for %s (SERVFAIL)", host)
	case errors.Is(err, resolver.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("resolving %s timed out", host)
	}
	return fmt.Sprintf("resolving %s failed", host)
}
