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
	always      *netipx.IPSet // tier 1 blocks and deny_cidrs
	alwaysTable []block
	denyTable   []block // deny_cidrs, for naming the match
	listeners   map[uint16]*netipx.IPSet
	allow       *netipx.IPSet // egress.allow_cidrs
	special     *netipx.IPSet // tier 3
	specialTbl  []block
	ownDomains  []string
	defaultTP   *TenantPolicy
	warnings    []string
}

// New validates and compiles cfg.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		alwaysTable: alwaysDenied(),
		specialTbl:  specialPurpose(),
		listeners:   make(map[uint16]*netipx.IPSet),
	}
	var always netipx.IPSetBuilder
	for _, b := range e.alwaysTable {
		always.AddPrefix(b.prefix)
	}
	for _, p := range cfg.DenyCIDRs {
		p, err := canonicalPrefix(p)
		if err != nil {
			return nil, fmt.Errorf("egress.deny_cidrs: %w", err)
		}
		always.AddPrefix(p)
		e.denyTable = append(e.denyTable, block{prefix: p,
			detail: "the destination address is in " + p.String() + " (egress.deny_cidrs)"})
	}
	var err error
	if e.always, err = always.IPSet(); err != nil {
		return nil, fmt.Errorf("build always-denied set: %w", err)
	}

	var special netipx.IPSetBuilder
	special.AddPrefix(netip.MustParsePrefix("::/0"))
	special.RemovePrefix(netip.MustParsePrefix("2000::/3")) // global unicast
	for _, b := range e.specialTbl {
		special.AddPrefix(b.prefix)
	}
	for _, b := range e.alwaysTable {
		special.AddPrefix(b.prefix)
	}
	if e.special, err = special.IPSet(); err != nil {
		return nil, fmt.Errorf("build special-purpose set: %w", err)
	}

	var allow netipx.IPSetBuilder
	for _, p := range cfg.AllowCIDRs {
		p, err := canonicalPrefix(p)
		if err != nil {
			return nil, fmt.Errorf("egress.allow_cidrs: %w", err)
		}
		allow.AddPrefix(p)
		e.warnings = append(e.warnings, allowWarning("egress.allow_cidrs", p, e.always, e.special))
	}
	if e.allow, err = allow.IPSet(); err != nil {
		return nil, fmt.Errorf("build allow set: %w", err)
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
	for _, l := range listeners {
		if !l.IsValid() || l.Port() == 0 {
			return fmt.Errorf("listener %v: want a valid address and port", l)
		}
		b := builders[l.Port()]
		if b == nil {
			b = new(netipx.IPSetBuilder)
			builders[l.Port()] = b
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
	for port, b := range builders {
		set, err := b.IPSet()
		if err != nil {
			return fmt.Errorf("build listener set for port %d: %w", port, err)
		}
		e.listeners[port] = set
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
		return tollgate.Decision{Reason: tollgate.ReasonForbiddenAddress, Detail: detailInvalidAddr}
	}
	// IPSet.Contains is false for any zoned address, which would turn a
	// zone into a bypass.
	a = a.Unmap().WithZone("")
	if e.always.Contains(a) {
		if d := lookup(e.alwaysTable, a, ""); d != "" {
			return deny(d)
		}
		return deny(lookup(e.denyTable, a, detailDenyCIDR))
	}
	if set := e.listeners[port]; set != nil && set.Contains(a) {
		return deny(detailListener)
	}
	if tp == nil {
		tp = e.defaultTP
	}
	if e.allow.Contains(a) || (tp.allow != nil && tp.allow.Contains(a)) {
		return tollgate.Decision{Allow: true}
	}
	if e.special.Contains(a) {
		return deny(lookup(e.specialTbl, a, detailOutsideV6))
	}
	return tollgate.Decision{Allow: true}
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

// lookup names the first block containing a; it runs only after a set has
// said the address is denied.
func lookup(tbl []block, a netip.Addr, fallback string) string {
	for i := range tbl {
		if tbl[i].prefix.Contains(a) {
			return tbl[i].detail
		}
	}
	return fallback
}
