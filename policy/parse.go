package policy

import (
	"net/netip"
	"strconv"
	"strings"
)

// Target is a parsed destination. Host is lower-case with one trailing dot
// removed; for an IP literal it is the canonical address text (IPv6 without
// brackets) and Addr holds the address.
type Target struct {
	Host string
	Port uint16
	Addr netip.Addr // valid iff Host is an IP literal
}

// IsIP reports whether the target names an address rather than a host name.
func (t Target) IsIP() bool { return t.Addr.IsValid() }

// String is host:port with IPv6 bracketed, the form ParseAuthority accepts.
func (t Target) String() string {
	port := strconv.FormatUint(uint64(t.Port), 10)
	if t.Addr.Is6() {
		return "[" + t.Host + "]:" + port
	}
	return t.Host + ":" + port
}

// maxEcho bounds how much attacker-controlled input an error message repeats.
const maxEcho = 100

// ParseError reports a malformed target, prefix or host pattern. The proxy
// maps it to invalid_request.
type ParseError struct {
	Input string
	Msg   string
}

func (e *ParseError) Error() string {
	in := e.Input
	if len(in) > maxEcho {
		in = in[:maxEcho] + "..."
	}
	return "parse " + strconv.Quote(in) + ": " + e.Msg
}

func parseErr(input, msg string) error { return &ParseError{Input: input, Msg: msg} }

// ParseAuthority parses a CONNECT request-target: host ":" port, where host
// is a name, a canonical dotted-quad IPv4 address or a bracketed IPv6
// address without zone.
func ParseAuthority(s string) (Target, error) {
	if s == "" {
		return Target{}, parseErr(s, "empty target")
	}
	if msg := authorityChars(s); msg != "" {
		return Target{}, parseErr(s, msg)
	}
	t, msg := splitHostPort(s, true)
	if msg != "" {
		return Target{}, parseErr(s, msg)
	}
	return t, nil
}

// AbsoluteURL is a parsed absolute-form request-target.
type AbsoluteURL struct {
	Target
	Scheme     string // lower-case
	RequestURI string // path?query, "/" if the path is empty
}

// ParseAbsoluteForm parses an absolute-form request-target such as
// "http://Example.COM./a?b". Any well-formed scheme parses (which schemes
// may pass is a policy decision); the port defaults to 80 for http and 443
// for https and is 0 when the URL names none and the scheme has no default.
// Userinfo, fragments, backslashes, the opaque form and an empty host are
// parse errors.
func ParseAbsoluteForm(raw string) (AbsoluteURL, error) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return AbsoluteURL{}, parseErr(raw, "control, space or non-ASCII character in URL")
		case c == '\\':
			// WHATWG parsers read "\" as "/" while others keep it in the host.
			return AbsoluteURL{}, parseErr(raw, "backslash in URL")
		case c == '#':
			return AbsoluteURL{}, parseErr(raw, "fragment in URL")
		}
	}
	sep := strings.Index(raw, "://")
	if sep < 0 {
		if c := strings.IndexByte(raw, ':'); c > 0 && validScheme(raw[:c]) {
			return AbsoluteURL{}, parseErr(raw, "opaque URL; want scheme://host")
		}
		return AbsoluteURL{}, parseErr(raw, "not an absolute URL")
	}
	scheme := raw[:sep]
	if !validScheme(scheme) {
		return AbsoluteURL{}, parseErr(raw, "invalid URL scheme")
	}
	scheme = strings.ToLower(scheme)
	rest := raw[sep+3:]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, uri := rest[:end], rest[end:]
	if authority == "" {
		return AbsoluteURL{}, parseErr(raw, "empty host")
	}
	if strings.IndexByte(authority, '@') >= 0 {
		return AbsoluteURL{}, parseErr(raw, "userinfo is not allowed in the URL")
	}
	t, msg := splitHostPort(authority, false)
	if msg != "" {
		return AbsoluteURL{}, parseErr(raw, msg)
	}
	if t.Port == 0 {
		switch scheme {
		case "http":
			t.Port = 80
		case "https":
			t.Port = 443
		}
	}
	switch {
	case uri == "":
		uri = "/"
	case uri[0] == '?':
		uri = "/" + uri
	}
	return AbsoluteURL{Target: t, Scheme: scheme, RequestURI: uri}, nil
}

// validScheme is RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// authorityChars names the first character that cannot appear in a CONNECT
// authority, or returns "".
func authorityChars(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return "control, space or non-ASCII character in target"
		case c == '@':
			return "userinfo is not allowed in a CONNECT target"
		case c == '/' || c == '\\':
			return "path is not allowed in a CONNECT target"
		case c == '?' || c == '#':
			return "query or fragment is not allowed in a CONNECT target"
		}
	}
	return ""
}

// splitHostPort parses host[:port]. With portRequired false a missing port
// yields Port 0 for the caller to default. It returns a message on failure.
func splitHostPort(s string, portRequired bool) (Target, string) {
	var hostPart, portPart string
	hasPort := false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Target{}, "unclosed bracket in host"
		}
		hostPart = s[:end+1]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			portPart, hasPort = rest[1:], true
		default:
			return Target{}, "unexpected characters after bracketed address"
		}
	} else {
		i := strings.LastIndexByte(s, ':')
		if i >= 0 {
			hostPart, portPart, hasPort = s[:i], s[i+1:], true
		} else {
			hostPart = s
		}
		if strings.IndexByte(hostPart, ':') >= 0 {
			return Target{}, "IPv6 address must be in brackets"
		}
	}
	if !hasPort && portRequired {
		return Target{}, "missing port"
	}
	var port uint16
	if hasPort {
		p, ok := parsePort(portPart)
		if !ok {
			return Target{}, "port must be a decimal number from 1 to 65535 without leading zeros"
		}
		port = p
	}
	t, msg := parseHost(hostPart)
	if msg != "" {
		return Target{}, msg
	}
	t.Port = port
	return t, ""
}

func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// parseHost parses a host without port: a bracketed IPv6 literal, a
// canonical dotted quad, or a host name. It returns a message on failure.
func parseHost(h string) (Target, string) {
	if h == "" {
		return Target{}, "empty host"
	}
	if h[0] == '[' {
		if h[len(h)-1] != ']' {
			return Target{}, "unclosed bracket in host"
		}
		inner := h[1 : len(h)-1]
		if strings.IndexByte(inner, '%') >= 0 {
			// Zones select an interface: a way to reach link-local space.
			return Target{}, "IPv6 zone is not allowed"
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() {
			return Target{}, "brackets must hold an IPv6 address"
		}
		return Target{Host: a.String(), Addr: a}, ""
	}
	if strings.ContainsAny(h, "[]") {
		return Target{}, "misplaced bracket in host"
	}
	name, addr, msg := normalizeName(h)
	if msg != "" {
		return Target{}, msg
	}
	return Target{Host: name, Addr: addr}, ""
}

// normalizeName lower-cases h, removes one trailing dot and validates the
// result as a host name or a canonical dotted quad (returned in addr).
func normalizeName(h string) (name string, addr netip.Addr, msg string) {
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c >= 0x80:
			// IDNA mapping turns look-alike digits and dots into addresses
			// (NOTES: "①②⑦.0.0.1"); refusing non-ASCII closes that class.
			return "", netip.Addr{}, "non-ASCII host; use the punycode (xn--) form"
		case c == '%':
			return "", netip.Addr{}, "percent-encoded host"
		}
	}
	h = strings.ToLower(h)
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", netip.Addr{}, "empty host"
	}
	if endsInNumber(h) {
		// WHATWG "ends in a number": such a host is an IPv4 address to
		// browsers and to inet_aton, so only the canonical form is accepted
		// (0177.0.0.1, 2130706433, 0x7f.1, 127.1 are all 127.0.0.1).
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() || a.String() != h {
			return "", netip.Addr{}, "IPv4 address must be in canonical dotted-quad form"
		}
		return h, a, ""
	}
	if msg := validName(h); msg != "" {
		return "", netip.Addr{}, msg
	}
	return h, netip.Addr{}, ""
}

// validName checks a lower-case host name without trailing dot: labels of
// 1–63 letters, digits, hyphens or underscores (webhook hosts use them),
// 253 bytes in all.
func validName(h string) string {
	if len(h) > 253 {
		return "host name longer than 253 bytes"
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return "empty label in host name"
			}
			label = 0
			continue
		case isLowerAlpha(c) || isDigit(c) || c == '-' || c == '_':
		default:
			return "invalid character in host name"
		}
		label++
		if label > 63 {
			return "host name label longer than 63 bytes"
		}
	}
	if label == 0 {
		return "empty label in host name"
	}
	return ""
}

// endsInNumber is the WHATWG URL rule: the last label (after one trailing
// dot is gone) is all decimal digits or 0x followed by hex digits.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if allDigits(last) {
		return true
	}
	if strings.HasPrefix(last, "0x") {
		for i := 2; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isLowerAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool      { return isLowerAlpha(c) || ('A' <= c && c <= 'Z') }
func isHex(c byte) bool        { return isDigit(c) || ('a' <= c && c <= 'f') }
