package policy

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
)

// checkParseError asserts the error contract shared by every parser.
func checkParseError(t *testing.T, in string, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("parse %q: error %v (%T) is not a *ParseError", in, err, err)
	}
	if len(err.Error()) > 4*maxEcho+200 {
		t.Fatalf("parse %q: error message is %d bytes", in, len(err.Error()))
	}
}

// checkHost asserts what every parsed target host must satisfy.
func checkHost(t *testing.T, in string, tg Target) {
	t.Helper()
	if tg.IsIP() {
		if tg.Addr.Zone() != "" || tg.Addr.String() != tg.Host {
			t.Fatalf("parse %q: IP literal host %q is not canonical %q", in, tg.Host, tg.Addr)
		}
		return
	}
	if tg.Host != strings.ToLower(tg.Host) || strings.HasSuffix(tg.Host, ".") || validName(tg.Host) != "" {
		t.Fatalf("parse %q: host %q is not a normalised name", in, tg.Host)
	}
	if _, err := netip.ParseAddr(tg.Host); err == nil {
		t.Fatalf("parse %q: name %q is an IP address", in, tg.Host)
	}
	if inetAton(tg.Host) {
		t.Fatalf("parse %q: name %q is an IPv4 address to inet_aton", in, tg.Host)
	}
}

// inetAton is an independent model of the lenient BSD parser (and WHATWG
// URL host parser) that makes 0x7f.1 or 2130706433 mean 127.0.0.1.
func inetAton(h string) bool {
	parts := strings.Split(strings.TrimSuffix(h, "."), ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				continue
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if _, err := strconv.ParseUint(p, base, 64); err != nil {
			return false
		}
	}
	return true
}

func FuzzParseAuthority(f *testing.F) {
	for _, tc := range authorityCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseAuthority(s)
		if err != nil {
			checkParseError(t, s, err)
			return
		}
		if tg.Host == "" || tg.Port == 0 {
			t.Fatalf("ParseAuthority(%q) = %+v: empty host or port", s, tg)
		}
		checkHost(t, s, tg)
		again, err := ParseAuthority(tg.String())
		if err != nil || again != tg {
			t.Fatalf("ParseAuthority(%q) = %+v, but its String %q re-parses to %+v, %v", s, tg, tg.String(), again, err)
		}
	})
}

func FuzzParseAbsoluteForm(f *testing.F) {
	for _, tc := range absoluteCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseAbsoluteForm(s)
		if err != nil {
			checkParseError(t, s, err)
			return
		}
		if !validScheme(u.Scheme) || u.Scheme != strings.ToLower(u.Scheme) {
			t.Fatalf("ParseAbsoluteForm(%q): scheme %q", s, u.Scheme)
		}
		if !strings.HasPrefix(u.RequestURI, "/") || strings.ContainsAny(u.RequestURI, "#\\ ") {
			t.Fatalf("ParseAbsoluteForm(%q): request URI %q", s, u.RequestURI)
		}
		checkHost(t, s, u.Target)
		if u.Port == 0 {
			if u.Scheme == "http" || u.Scheme == "https" {
				t.Fatalf("ParseAbsoluteForm(%q): no default port for %s", s, u.Scheme)
			}
			return
		}
		rebuilt := u.Scheme + "://" + u.Target.String() + u.RequestURI
		again, err := ParseAbsoluteForm(rebuilt)
		if err != nil || again != u {
			t.Fatalf("ParseAbsoluteForm(%q) = %+v, but %q re-parses to %+v, %v", s, u, rebuilt, again, err)
		}
	})
}

func FuzzParsePrefix(f *testing.F) {
	for _, tc := range prefixCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			checkParseError(t, s, err)
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			t.Fatalf("ParsePrefix(%q) = %v: not canonical", s, p)
		}
		again, err := ParsePrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePrefix(%q) = %v, but it re-parses to %v, %v", s, p, again, err)
		}
	})
}

func FuzzParseHostPattern(f *testing.F) {
	for _, tc := range hostPatternCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseHostPattern(s)
		if err != nil {
			checkParseError(t, s, err)
			return
		}
		name := strings.TrimPrefix(p, "*.")
		if p != strings.ToLower(p) || validName(name) != "" || inetAton(name) {
			t.Fatalf("ParseHostPattern(%q) = %q: not a normalised name pattern", s, p)
		}
		if again, err := ParseHostPattern(p); err != nil || again != p {
			t.Fatalf("ParseHostPattern(%q) = %q, but it re-parses to %q, %v", s, p, again, err)
		}
	})
}

// refAlways and refSpecial restate SPEC §4.5 independently of ranges.go.
var (
	refAlways = []string{"0.0.0.0/8", "::/128", "169.254.0.0/16", "fe80::/10",
		"100.100.100.200/32", "192.0.0.192/32", "168.63.129.16/32",
		"fd00:ec2::254/128", "fd20:ce::254/128", "fd00:c1::a9fe:a9fe/128"}
	refSpecial = []string{"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
		"192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"2001::/23", "2001:db8::/32", "2002::/16", "2620:4f:8000::/48", "3fff::/20"}
)

func refContains(list []string, a netip.Addr) bool {
	for _, s := range list {
		if netip.MustParsePrefix(s).Contains(a) {
			return true
		}
	}
	return false
}

// refAllowed is a slow model of CheckAddr for a config whose only
// exception is allow (and no listeners).
func refAllowed(a netip.Addr, deny, allow []string) bool {
	a = a.Unmap().WithZone("")
	switch {
	case refContains(refAlways, a), refContains(deny, a):
		return false
	case refContains(allow, a):
		return true
	case a.Is6() && !netip.MustParsePrefix("2000::/3").Contains(a):
		return false
	case refContains(refSpecial, a):
		return false
	}
	return true
}

// FuzzCheckAddr compares CheckAddr with the reference model over arbitrary
// 4- and 16-byte addresses, including their IPv4-mapped forms.
func FuzzCheckAddr(f *testing.F) {
	seeds := []string{"127.0.0.1", "169.254.169.254", "93.184.216.34", "::ffff:10.0.0.1",
		"64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "2001::1", "::127.0.0.1", "fd00:ec2::254",
		"2606:4700::1111", "100.100.100.200", "10.9.1.1", "fc00::1"}
	for _, s := range seeds {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	deny := []string{"93.184.216.0/24", "10.9.0.0/16"}
	allow := []string{"10.0.0.0/8", "169.254.0.0/16", "fd00::/8", "fd00:ec2::/32", "127.0.0.1/32"}
	plain := mustEngine(f, Config{DenyCIDRs: prefixes(deny...)})
	opened := mustEngine(f, Config{DenyCIDRs: prefixes(deny...), AllowCIDRs: prefixes(allow...)})
	viaTenant := mustCompile(f, tollgate.Policy{AllowCIDRs: prefixes(allow...)})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		forms := []netip.Addr{a}
		if a.Is4() {
			forms = append(forms, netip.AddrFrom16(a.As16()))
		}
		for _, x := range forms {
			if got, want := plain.CheckAddr(x, 443, nil).Allow, refAllowed(x, deny, nil); got != want {
				t.Fatalf("no allow: CheckAddr(%s) allow = %v; model says %v", x, got, want)
			}
			if got, want := opened.CheckAddr(x, 443, nil).Allow, refAllowed(x, deny, allow); got != want {
				t.Fatalf("egress allow: CheckAddr(%s) allow = %v; model says %v", x, got, want)
			}
			if got, want := plain.CheckAddr(x, 443, viaTenant).Allow, refAllowed(x, deny, allow); got != want {
				t.Fatalf("tenant allow: CheckAddr(%s) allow = %v; model says %v", x, got, want)
			}
		}
	})
}

// TestCheckAddrBoundaries probes the first and last address of every block
// of SPEC §4.5 and the addresses just outside them against the model, in
// both the IPv4 and IPv4-mapped forms.
func TestCheckAddrBoundaries(t *testing.T) {
	deny := []string{"93.184.216.0/24", "10.9.0.0/16"}
	allow := []string{"10.0.0.0/8", "169.254.0.0/16", "fd00::/8", "127.0.0.1/32"}
	plain := mustEngine(t, Config{DenyCIDRs: prefixes(deny...)})
	opened := mustEngine(t, Config{DenyCIDRs: prefixes(deny...), AllowCIDRs: prefixes(allow...)})
	var probes []netip.Addr
	all := append(append(append(append([]string{"2000::/3"}, refAlways...), refSpecial...), deny...), allow...)
	for _, s := range all {
		r := netipxRange(netip.MustParsePrefix(s))
		probes = append(probes, r[0], r[1], r[0].Prev(), r[1].Next())
	}
	for _, a := range probes {
		if !a.IsValid() {
			continue
		}
		forms := []netip.Addr{a}
		if a.Is4() {
			forms = append(forms, netip.AddrFrom16(a.As16()))
		}
		for _, x := range forms {
			t.Run(x.String(), func(t *testing.T) {
				if got, want := plain.CheckAddr(x, 443, nil).Allow, refAllowed(x, deny, nil); got != want {
					t.Errorf("no allow: CheckAddr(%s) allow = %v; model says %v", x, got, want)
				}
				if got, want := opened.CheckAddr(x, 443, nil).Allow, refAllowed(x, deny, allow); got != want {
					t.Errorf("egress allow: CheckAddr(%s) allow = %v; model says %v", x, got, want)
				}
			})
		}
	}
}

// netipxRange is the first and last address of p.
func netipxRange(p netip.Prefix) [2]netip.Addr {
	first := p.Masked().Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return [2]netip.Addr{first, last}
}
