package policy

import (
	"fmt"
	"net/netip"

	"go4.org/netipx"

	"github.com/tollgate-dev/tollgate"
)

// Config is the operator's part of destination vetting (egress.* and the
// proxy's own addresses).
type Config struct {
	DenyCIDRs  []netip.Prefix   // egress.deny_cidrs: always denied, nothing overrides
	AllowCIDRs []netip.Prefix   // egress.allow_cidrs: exceptions to the special-purpose tier only
	OwnDomains []string         // name and all subdomains are forbidden_host
	Listeners  []netip.AddrPort // the proxy's own listeners; always denied (address and port)
	LocalAddrs []netip.Addr     // the machine's addresses: an unspecified listener covers each on its port
}

// Engine holds the compiled operator rules. It is immutable after New and
// safe for concurrent use; a configuration reload builds a new one.
type Engine struct {
	part       partition // tiers 1–4 by address, tenant exceptions aside
	listeners  []listener
	ownDomains []string
	defaultTP  *TenantPolicy
	warnings   []string
}

// listener is one port the proxy listens on and the addresses that reach it.
type listener struct {
	port  uint16
	addrs rangeTable
}

// New validates and compiles cfg.
func New(cfg Config) (*Engine, error) {
	e := &Engine{}
	var layers []layer
	var always, special netipx.IPSetBuilder
	for _, b := range alwaysDenied() {
		always.AddPrefix(b.prefix)
		layers = append(layers, layer{[]netip.Prefix{b.prefix}, run{classAlways, b.detail}})
	}
	for _, p := range cfg.DenyCIDRs {
		p, err := canonicalPrefix(p)
		if err != nil {
			return nil, fmt.Errorf("egress.deny_cidrs: %w", err)
		}
		always.AddPrefix(p)
		layers = append(layers, layer{[]netip.Prefix{p},
			run{classAlways, "the destination address is in " + p.String() + " (egress.deny_cidrs)"}})
	}
	alwaysSet, err := always.IPSet()
	if err != nil {
		return nil, fmt.Errorf("build always-denied set: %w", err)
	}

	allowed := layer{run: run{class: classAllowed}}
	for _, p := range cfg.AllowCIDRs {
		p, err := canonicalPrefix(p)
		if err != nil {
			return nil, fmt.Errorf("egress.allow_cidrs: %w", err)
		}
		allowed.prefixes = append(allowed.prefixes, p)
	}
	layers = append(layers, allowed)

	for _, b := range specialPurpose() {
		special.AddPrefix(b.prefix)
		layers = append(layers, layer{[]netip.Prefix{b.prefix}, run{classSpecial, b.detail}})
	}
	// Everything outside 2000::/3 that no block above names.
	outside := []netip.Prefix{netip.MustParsePrefix("::/3"),
		netip.MustParsePrefix("4000::/2"), netip.MustParsePrefix("8000::/1")}
	for _, p := range outside {
		special.AddPrefix(p)
	}
	layers = append(layers, layer{outside, run{classSpecial, detailOutsideV6}})
	specialSet, err := special.IPSet()
	if err != nil {
		return nil, fmt.Errorf("build special-purpose set: %w", err)
	}
	for _, p := range allowed.prefixes {
		e.warnings = append(e.warnings, allowWarning("egress.allow_cidrs", p, alwaysSet, specialSet))
	}

	if e.part, err = newPartition(layers); err != nil {
		return nil, err
	}
	if err := e.addListeners(cfg.Listeners, cfg.LocalAddrs); err != nil {
		return nil, err
	}

	for _, d := range cfg.OwnDomains {
		norm, err := ParseHostPattern(d)
		if err != nil {
			return nil, fmt.Errorf("egress.own_domains: %w", err)
		}
		if norm[0] == '*' {
			return nil, fmt.Errorf("egress.own_domains: %q: write the bare domain; it covers every subdomain", d)
		}
		e.ownDomains = append(e.ownDomains, norm)
	}

	if e.defaultTP, err = Compile(tollgate.DefaultPolicy()); err != nil {
		return nil, fmt.Errorf("compile default policy: %w", err)
	}
	return e, nil
}

// addListeners records each listener's address and port. An unspecified
// address (0.0.0.0 or ::) accepts on every local address and, on Linux, a
// "::" socket also accepts IPv4, so it covers every local address of both
// families plus loopback.
func (e *Engine) addListeners(listeners []netip.AddrPort, local []netip.Addr) error {
	builders := make(map[uint16]*netipx.IPSetBuilder)
	var ports []uint16
	for _, l := range listeners {
		if !l.IsValid() || l.Port() == 0 {
			return fmt.Errorf("listener %v: want a valid address and port", l)
		}
		b := builders[l.Port()]
		if b == nil {
			b = new(netipx.IPSetBuilder)
			builders[l.Port()] = b
			ports = append(ports, l.Port())
		}
		a := l.Addr().Unmap().WithZone("")
		if !a.IsUnspecified() {
			b.Add(a)
			continue
		}
		b.AddPrefix(netip.MustParsePrefix("127.0.0.0/8"))
		b.Add(netip.IPv6Loopback())
		b.Add(netip.IPv4Unspecified())
		b.Add(netip.IPv6Unspecified())
		for _, la := range local {
			if la.IsValid() {
				b.Add(la.Unmap().WithZone(""))
			}
		}
	}
	for _, port := range ports {
		t, err := flatten(builders[port])
		if err != nil {
			return fmt.Errorf("listeners on port %d: %w", port, err)
		}
		e.listeners = append(e.listeners, listener{port: port, addrs: t})
	}
	return nil
}

// canonicalPrefix masks p and turns an IPv4-mapped prefix into IPv4, so
// that config built without ParsePrefix still matches unmapped addresses.
func canonicalPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %v", p)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("prefix %v: zone not allowed", p)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// allowWarning describes an allow exception for the start-up log, and says
// so when part of it can never take effect.
func allowWarning(field string, p netip.Prefix, always, special *netipx.IPSet) string {
	if always.ContainsPrefix(p) {
		return fmt.Sprintf("%s %s has no effect: the always-denied tier (metadata, link-local, deny_cidrs) overrides it", field, p)
	}
	if !special.OverlapsPrefix(p) {
		return fmt.Sprintf("%s %s has no effect: it holds no special-purpose address", field, p)
	}
	w := fmt.Sprintf("%s %s opens special-purpose addresses as egress destinations", field, p)
	if always.OverlapsPrefix(p) {
		w += "; its overlap with the always-denied tier (metadata, link-local, deny_cidrs) stays denied"
	}
	return w
}

// Warnings lists the operator's allow exceptions so the caller can log them
// at start.
func (e *Engine) Warnings() []string {
	return append([]string(nil), e.warnings...)
}

// CheckAddr applies rule 5 to one address and port: always-denied, then
// explicit allow, then special-purpose, else allowed. It does not allocate.
func (e *Engine) CheckAddr(a netip.Addr, port uint16, tp *TenantPolicy) tollgate.Decision {
	if !a.IsValid() {
		return deny(detailInvalidAddr)
	}
	k := key(a.Unmap()) // As16 drops any zone, so a zone cannot dodge a range
	r := e.part.find(k)
	if r.class == classAlways {
		return deny(r.detail)
	}
	for i := range e.listeners {
		if e.listeners[i].port == port && e.listeners[i].addrs.contains(k) {
			return deny(detailListener)
		}
	}
	if r.class != classSpecial {
		return tollgate.Decision{Allow: true}
	}
	if tp == nil {
		tp = e.defaultTP
	}
	if tp.allow.contains(k) {
		return tollgate.Decision{Allow: true}
	}
	return deny(r.detail)
}

// CheckAddrs denies if any address is denied: whoever controls DNS controls
// the answer order, so the first allowed answer proves nothing. An empty
// list is denied.
func (e *Engine) CheckAddrs(as []netip.Addr, port uint16, tp *TenantPolicy) tollgate.Decision {
	if len(as) == 0 {
		return deny(detailNoAddrs)
	}
	for _, a := range as {
		if d := e.CheckAddr(a, port, tp); !d.Allow {
			return d
		}
	}
	return tollgate.Decision{Allow: true}
}

func deny(detail string) tollgate.Decision {
	return tollgate.Decision{Reason: tollgate.ReasonForbiddenAddress, Detail: detail}
}
