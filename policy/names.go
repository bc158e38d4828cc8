package policy

import (
	"fmt"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/tollgate-dev/tollgate"
)

// TenantPolicy is a compiled tollgate.Policy. It is immutable and safe for
// concurrent use.
type TenantPolicy struct {
	allowedExact  map[string]struct{}
	allowedSuffix []string // "*.acme.com" stored as "acme.com": strict subdomains only
	deniedExact   map[string]struct{}
	deniedSuffix  []string
	allow         rangeTable
	ports         []uint16
	plainHTTP     bool
	upgradeHTTP   bool
}

// Compile validates p and compiles it. Host patterns follow
// ParseHostPattern; an empty AllowedPorts means 80 and 443.
func Compile(p tollgate.Policy) (*TenantPolicy, error) {
	tp := &TenantPolicy{
		plainHTTP:   p.AllowPlainHTTP,
		upgradeHTTP: p.UpgradeHTTP,
	}
	var err error
	if tp.allowedExact, tp.allowedSuffix, err = compileHosts("allowed_hosts", p.AllowedHosts); err != nil {
		return nil, err
	}
	if tp.deniedExact, tp.deniedSuffix, err = compileHosts("denied_hosts", p.DeniedHosts); err != nil {
		return nil, err
	}
	var allow netipx.IPSetBuilder
	for i, c := range p.AllowCIDRs {
		c, err := canonicalPrefix(c)
		if err != nil {
			return nil, fmt.Errorf("allow_cidrs[%d]: %w", i, err)
		}
		allow.AddPrefix(c)
	}
	if tp.allow, err = flatten(&allow); err != nil {
		return nil, fmt.Errorf("allow_cidrs: %w", err)
	}
	for i, port := range p.AllowedPorts {
		if port == 0 {
			return nil, fmt.Errorf("allowed_ports[%d]: port 0 is not a destination port", i)
		}
	}
	tp.ports = append(tp.ports, p.AllowedPorts...)
	if len(tp.ports) == 0 {
		// An empty list that denied every port would only ever be a
		// mistake (suspending the tenant is the way to stop its egress).
		tp.ports = []uint16{80, 443}
	}
	return tp, nil
}

func compileHosts(field string, patterns []string) (map[string]struct{}, []string, error) {
	exact := make(map[string]struct{})
	var suffix []string
	for i, s := range patterns {
		p, err := ParseHostPattern(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			suffix = append(suffix, rest)
		} else {
			exact[p] = struct{}{}
		}
	}
	return exact, suffix, nil
}

// PortAllowed reports whether port is in the tenant's allowed ports; the
// proxy also uses it to choose the port of an upgraded http:// request.
func (tp *TenantPolicy) PortAllowed(port uint16) bool {
	for _, p := range tp.ports {
		if p == port {
			return true
		}
	}
	return false
}

func (tp *TenantPolicy) hasAllowedHosts() bool {
	return len(tp.allowedExact) > 0 || len(tp.allowedSuffix) > 0
}

func matchHost(name string, exact map[string]struct{}, suffix []string) bool {
	if _, ok := exact[name]; ok {
		return true
	}
	for _, d := range suffix {
		if strictlyUnder(name, d) {
			return true
		}
	}
	return false
}

// strictlyUnder reports whether name is a subdomain of d on a label
// boundary: "a.platform.com" is under "platform.com", "evilplatform.com"
// is not (Smokescreen CVE-2022-24825 class).
func strictlyUnder(name, d string) bool {
	return len(name) > len(d) && strings.HasSuffix(name, d) && name[len(name)-len(d)-1] == '.'
}

func nameOrUnder(name, d string) bool { return name == d || strictlyUnder(name, d) }

// specialNames are the special-use domains of SPEC §4.3; each covers the
// name itself and every subdomain.
func specialNames() [5]struct{ domain, detail string } {
	return [...]struct{ domain, detail string }{
		{"localhost", "localhost names refer to the proxy's own machine"},
		{"local", "the host is under the special-use domain .local (multicast DNS)"},
		{"internal", "the host is under the special-use domain .internal (private networks)"},
		{"home.arpa", "the host is under the special-use domain home.arpa (home networks)"},
		{"onion", "the host is under the special-use domain .onion (Tor)"},
	}
}

const (
	detailBadName     = "the host name is not a valid DNS name"
	detailIPName      = "an IP address is not a host name"
	detailSingleLabel = "single-label host names are not allowed; use a fully qualified name"
	detailOwnDomain   = "the host is in the platform's own domains"
	detailDeniedHost  = "the host matches the tenant's denied_hosts"
	detailNotAllowed  = "the host is not in the tenant's allowed_hosts"
	detailIPLiteral   = "IP address destinations are not allowed when the tenant has allowed_hosts"
	detailScheme      = "only http:// URLs may be sent in absolute form; use CONNECT for https"
	detailPlainHTTP   = "plain http is disabled for this tenant (neither allow_plain_http nor upgrade_http is set)"
)

// CheckRequest applies rules 2 and 3 of SPEC §4 (scheme, port, names) to a
// parsed target. scheme is "" for CONNECT, else the absolute-form scheme.
// The scheme is judged before the port, so "ftp://host/" is refused for its
// scheme, not for the port it lacks. An IP literal has no name to judge
// (its address goes through CheckAddr) but is refused when the tenant
// restricts destinations to allowed_hosts.
func (e *Engine) CheckRequest(t Target, scheme string, tp *TenantPolicy) tollgate.Decision {
	if tp == nil {
		tp = e.defaultTP
	}
	switch scheme {
	case "":
	case "http":
		if !tp.plainHTTP && !tp.upgradeHTTP {
			return tollgate.Deny(tollgate.ReasonForbiddenScheme, detailPlainHTTP)
		}
	default:
		return tollgate.Deny(tollgate.ReasonForbiddenScheme, detailScheme)
	}
	if !tp.PortAllowed(t.Port) {
		return tollgate.Deny(tollgate.ReasonForbiddenPort,
			"port "+strconv.Itoa(int(t.Port))+" is not in the tenant's allowed ports")
	}
	if t.IsIP() {
		if tp.hasAllowedHosts() {
			return tollgate.Deny(tollgate.ReasonForbiddenHost, detailIPLiteral)
		}
		return tollgate.Allowed
	}
	return e.CheckName(t.Host, tp)
}

// CheckName applies rule 3 alone; the proxy calls it for the requested name
// and for every name of a CNAME chain. It normalises name itself (case, one
// trailing dot) because resolvers hand back names as DNS wrote them, and
// refuses anything that is not a valid host name.
func (e *Engine) CheckName(name string, tp *TenantPolicy) tollgate.Decision {
	if tp == nil {
		tp = e.defaultTP
	}
	name, addr, msg := normalizeName(name)
	switch {
	case msg != "":
		return tollgate.Deny(tollgate.ReasonForbiddenHost, detailBadName)
	case addr.IsValid():
		return tollgate.Deny(tollgate.ReasonForbiddenHost, detailIPName)
	}
	for _, s := range specialNames() {
		if nameOrUnder(name, s.domain) {
			return tollgate.Deny(tollgate.ReasonForbiddenHost, s.detail)
		}
	}
	if strings.IndexByte(name, '.') < 0 {
		return tollgate.Deny(tollgate.ReasonForbiddenHost, detailSingleLabel)
	}
	for _, d := range e.ownDomains {
		if nameOrUnder(name, d) {
			return tollgate.Deny(tollgate.ReasonForbiddenHost, detailOwnDomain)
		}
	}
	if matchHost(name, tp.deniedExact, tp.deniedSuffix) {
		return tollgate.Deny(tollgate.ReasonForbiddenHost, detailDeniedHost)
	}
	if tp.hasAllowedHosts() && !matchHost(name, tp.allowedExact, tp.allowedSuffix) {
		return tollgate.Deny(tollgate.ReasonForbiddenHost, detailNotAllowed)
	}
	return tollgate.Allowed
}
