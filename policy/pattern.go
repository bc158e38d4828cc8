package policy

import (
	"net/netip"
	"strings"
)

// ParsePrefix parses a CIDR from configuration or the control API strictly:
// the prefix must be canonical (no host bits set; "10.0.0.1/8" is refused
// rather than silently widened, because it is usually a typo), a bare
// address means /32 or /128, zones are refused, and an IPv4-mapped prefix
// (::ffff:a.b.c.d/N with N >= 96) is returned as the IPv4 prefix it covers,
// since addresses are judged after Unmap.
func ParsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, parseErr(s, "empty prefix")
	}
	if strings.IndexByte(s, '%') >= 0 {
		return netip.Prefix{}, parseErr(s, "IPv6 zone is not allowed in a prefix")
	}
	var p netip.Prefix
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, parseErr(s, "not an IP address or CIDR prefix")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, parseErr(s, "not a CIDR prefix such as 10.0.0.0/8 or fd00::/8")
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, parseErr(s, "host bits are set; did you mean "+m.String()+"?")
		}
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// ParseHostPattern validates a host glob for allowed_hosts and
// denied_hosts and returns it normalised (lower-case, one trailing dot
// removed). A pattern is an exact host name ("api.acme.com") or "*." and a
// host name ("*.acme.com"), which matches every name below it at any depth
// but not the name itself. IP addresses are refused: destinations by
// address are governed by CIDR rules, and an address written as a name
// pattern would invite non-canonical spellings.
func ParseHostPattern(s string) (string, error) {
	name, wild := s, false
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		name, wild = rest, true
	}
	if strings.IndexByte(name, '*') >= 0 {
		return "", parseErr(s, `a wildcard is allowed only as a leading "*."`)
	}
	if strings.HasPrefix(name, "[") || strings.IndexByte(name, ':') >= 0 {
		return "", parseErr(s, "IP addresses are not host patterns; use CIDR rules")
	}
	if low := strings.TrimSuffix(strings.ToLower(name), "."); low != "" && endsInNumber(low) {
		return "", parseErr(s, "IP addresses are not host patterns; use CIDR rules")
	}
	norm, _, msg := normalizeName(name)
	if msg != "" {
		return "", parseErr(s, msg)
	}
	if wild {
		return "*." + norm, nil
	}
	return norm, nil
}
