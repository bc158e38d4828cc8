package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

type authorityCase struct {
	in       string
	wantHost string // "" means a parse error is expected
	wantPort uint16
	wantIP   bool
}

var authorityCases = []authorityCase{
	{"example.com:443", "example.com", 443, false},
	{"Example.COM.:443", "example.com", 443, false},
	{"hooks.example.com:1", "hooks.example.com", 1, false},
	{"hooks.example.com:65535", "hooks.example.com", 65535, false},
	{"_acme-challenge.example.com:443", "_acme-challenge.example.com", 443, false},
	{"xn--bcher-kva.example:443", "xn--bcher-kva.example", 443, false},
	{"localhost:443", "localhost", 443, false}, // parses; rule 3 refuses it
	{"93.184.216.34:443", "93.184.216.34", 443, true},
	{"127.0.0.1:3128", "127.0.0.1", 3128, true},
	{"127.0.0.1.:443", "127.0.0.1", 443, true},
	{"0.0.0.0:80", "0.0.0.0", 80, true},
	{"[2606:4700::1111]:443", "2606:4700::1111", 443, true},
	{"[2606:4700:0:0:0:0:0:1111]:443", "2606:4700::1111", 443, true},
	{"[::1]:443", "::1", 443, true},
	{"[::ffff:127.0.0.1]:443", "::ffff:127.0.0.1", 443, true},
	{"[::127.0.0.1]:443", "::7f00:1", 443, true},
	{"[64:ff9b::a9fe:a9fe]:443", "64:ff9b::a9fe:a9fe", 443, true},
	{"[FE80::1]:443", "fe80::1", 443, true},
	{"a.b:443", "a.b", 443, false},
	{strings.Repeat("a", 63) + ".com:443", strings.Repeat("a", 63) + ".com", 443, false},

	// attacker encodings of IPv4 addresses
	{"0177.0.0.1:443", "", 0, false},
	{"2130706433:443", "", 0, false},
	{"0x7f.1:443", "", 0, false},
	{"0x7f000001:443", "", 0, false},
	{"127.1:443", "", 0, false},
	{"127.0.1:443", "", 0, false},
	{"127.0.0.01:443", "", 0, false},
	{"127.0.0.1.1:443", "", 0, false},
	{"256.0.0.1:443", "", 0, false},
	{"example.123:443", "", 0, false},
	{"example.0x:443", "", 0, false},
	{"example.0XFF:443", "", 0, false},
	// IPv6 forms
	{"[fe80::1%25eth0]:443", "", 0, false},
	{"[fe80::1%eth0]:443", "", 0, false},
	{"::1:443", "", 0, false},
	{"2606:4700::1111:443", "", 0, false},
	{"[127.0.0.1]:443", "", 0, false},
	{"[example.com]:443", "", 0, false},
	{"[::1]", "", 0, false},
	{"[::1]443", "", 0, false},
	{"[::1:443", "", 0, false},
	{"ex[a]mple.com:443", "", 0, false},
	// ports
	{"example.com", "", 0, false},
	{"example.com:", "", 0, false},
	{"example.com:0", "", 0, false},
	{"example.com:65536", "", 0, false},
	{"example.com:99999", "", 0, false},
	{"example.com:0443", "", 0, false},
	{"example.com:+443", "", 0, false},
	{"example.com:-1", "", 0, false},
	{"example.com:0x1bb", "", 0, false},
	{"example.com:443 ", "", 0, false},
	{"example.com:4 43", "", 0, false},
	// structure
	{"", "", 0, false},
	{":443", "", 0, false},
	{".:443", "", 0, false},
	{"user:pass@example.com:443", "", 0, false},
	{"user@example.com:443", "", 0, false},
	{"example.com:443/path", "", 0, false},
	{"example.com/path:443", "", 0, false},
	{"http://example.com:443", "", 0, false},
	{"example.com:443?x", "", 0, false},
	{"example.com:443#x", "", 0, false},
	{"example.com\\@evil.com:443", "", 0, false},
	{"example..com:443", "", 0, false},
	{".example.com:443", "", 0, false},
	{"example.com..:443", "", 0, false},
	{"exa mple.com:443", "", 0, false},
	{"example.com\x00:443", "", 0, false},
	{"exa*mple.com:443", "", 0, false},
	// encodings of names
	{"ex%61mple.com:443", "", 0, false},
	{"127%2e0%2e0%2e1:443", "", 0, false},
	{"127。0。0。1:443", "", 0, false},
	{"①②⑦.0.0.1:443", "", 0, false},
	{"exam\u200bple.com:443", "", 0, false},
	{"bücher.example:443", "", 0, false},
	{strings.Repeat("a", 64) + ".com:443", "", 0, false},
	{strings.Repeat("abcdefghi.", 26) + "com:443", "", 0, false},
}

func TestParseAuthority(t *testing.T) {
	for _, tc := range authorityCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAuthority(tc.in)
			if tc.wantHost == "" {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseAuthority(%q) = %+v, %v; want a *ParseError", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthority(%q): %v", tc.in, err)
			}
			if got.Host != tc.wantHost || got.Port != tc.wantPort || got.IsIP() != tc.wantIP {
				t.Fatalf("ParseAuthority(%q) = %+v; want host %q port %d ip %v", tc.in, got, tc.wantHost, tc.wantPort, tc.wantIP)
			}
			if got.IsIP() && got.Addr.String() != got.Host {
				t.Fatalf("IP literal host %q is not the address's canonical text %q", got.Host, got.Addr)
			}
		})
	}
}

func TestTargetString(t *testing.T) {
	tests := []struct {
		target Target
		want   string
	}{
		{Target{Host: "example.com", Port: 443}, "example.com:443"},
		{Target{Host: "1.2.3.4", Port: 80, Addr: netip.MustParseAddr("1.2.3.4")}, "1.2.3.4:80"},
		{Target{Host: "2606:4700::1111", Port: 443, Addr: netip.MustParseAddr("2606:4700::1111")}, "[2606:4700::1111]:443"},
		{Target{Host: "::ffff:1.2.3.4", Port: 443, Addr: netip.MustParseAddr("::ffff:1.2.3.4")}, "[::ffff:1.2.3.4]:443"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.target.String(); got != tc.want {
				t.Fatalf("String() = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestParseErrorBoundsEcho(t *testing.T) {
	long := strings.Repeat("x", 5000) + ":443x"
	_, err := ParseAuthority(long)
	if err == nil {
		t.Fatal("want an error")
	}
	if n := len(err.Error()); n > 2*maxEcho {
		t.Fatalf("error message is %d bytes; want it bounded near %d", n, maxEcho)
	}
	if !strings.Contains(err.Error(), "port") {
		t.Fatalf("error %q does not name the problem", err)
	}
}

type absoluteCase struct {
	in         string
	wantScheme string // "" means a parse error is expected
	wantHost   string
	wantPort   uint16
	wantURI    string
}

var absoluteCases = []absoluteCase{
	{"http://Example.COM./a?b", "http", "example.com", 80, "/a?b"},
	{"http://example.com", "http", "example.com", 80, "/"},
	{"http://example.com?x=1", "http", "example.com", 80, "/?x=1"},
	{"http://example.com:8080/hook", "http", "example.com", 8080, "/hook"},
	{"HTTP://example.com/", "http", "example.com", 80, "/"},
	{"https://example.com/", "https", "example.com", 443, "/"},
	{"ftp://example.com/", "ftp", "example.com", 0, "/"},
	{"ws://example.com:81/", "ws", "example.com", 81, "/"},
	{"http://[2606:4700::1111]/x", "http", "2606:4700::1111", 80, "/x"},
	{"http://[2606:4700::1111]:8080", "http", "2606:4700::1111", 8080, "/"},
	{"http://127.0.0.1/", "http", "127.0.0.1", 80, "/"},
	{"http://example.com/a%20b", "http", "example.com", 80, "/a%20b"},
	{"http://example.com//double", "http", "example.com", 80, "//double"},

	{"http://user:pass@example.com/", "", "", 0, ""},
	{"http://user@example.com/", "", "", 0, ""},
	{"http://example.com/#frag", "", "", 0, ""},
	{"http://example.com\\@evil.com/", "", "", 0, ""},
	{"http://example.com/a\\b", "", "", 0, ""},
	{"http:///path", "", "", 0, ""},
	{"http://", "", "", 0, ""},
	{"http://:80/", "", "", 0, ""},
	{"http:example.com/", "", "", 0, ""},
	{"mailto:someone@example.com", "", "", 0, ""},
	{"/origin/form", "", "", 0, ""},
	{"example.com:80", "", "", 0, ""},
	{"://example.com/", "", "", 0, ""},
	{"1http://example.com/", "", "", 0, ""},
	{"ht tp://example.com/", "", "", 0, ""},
	{"http://example.com:/", "", "", 0, ""},
	{"http://example.com:0/", "", "", 0, ""},
	{"http://example.com:65536/", "", "", 0, ""},
	{"http://example.com:080/", "", "", 0, ""},
	{"http://0177.0.0.1/", "", "", 0, ""},
	{"http://2130706433/", "", "", 0, ""},
	{"http://0x7f.1/", "", "", 0, ""},
	{"http://127.1/", "", "", 0, ""},
	{"http://[fe80::1%25eth0]/", "", "", 0, ""},
	{"http://::1/", "", "", 0, ""},
	{"http://ex%61mple.com/", "", "", 0, ""},
	{"http://bücher.example/", "", "", 0, ""},
	{"http://example.com/\x7f", "", "", 0, ""},
	{"http://example.com/ a", "", "", 0, ""},
}

func TestParseAbsoluteForm(t *testing.T) {
	for _, tc := range absoluteCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAbsoluteForm(tc.in)
			if tc.wantScheme == "" {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseAbsoluteForm(%q) = %+v, %v; want a *ParseError", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAbsoluteForm(%q): %v", tc.in, err)
			}
			if got.Scheme != tc.wantScheme || got.Host != tc.wantHost || got.Port != tc.wantPort || got.RequestURI != tc.wantURI {
				t.Fatalf("ParseAbsoluteForm(%q) = %+v; want %s %s %d %s", tc.in, got, tc.wantScheme, tc.wantHost, tc.wantPort, tc.wantURI)
			}
		})
	}
}

var prefixCases = []struct {
	in   string
	want string // "" means an error is expected
}{
	{"10.0.0.0/8", "10.0.0.0/8"},
	{"10.1.2.3", "10.1.2.3/32"},
	{"fd00::/8", "fd00::/8"},
	{"2001:db8::1", "2001:db8::1/128"},
	{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
	{"::ffff:10.1.2.3", "10.1.2.3/32"},
	{"::ffff:0:0/96", "0.0.0.0/0"},
	{"0.0.0.0/0", "0.0.0.0/0"},
	{"::/0", "::/0"},
	{"FD00::/8", "fd00::/8"},

	{"10.0.0.1/8", ""},
	{"10.0.0.0/08", ""},
	{"10.0.0.0/+8", ""},
	{"10.0.0.0/33", ""},
	{"10.0.0.0/", ""},
	{"010.0.0.0/8", ""},
	{"10.0.0/8", ""},
	{"10/8", ""},
	{"0x0a.0.0.0/8", ""},
	{"fe80::1%eth0", ""},
	{"fe80::%eth0/64", ""},
	{"[fd00::]/8", ""},
	{"", ""},
	{" 10.0.0.0/8", ""},
	{"example.com", ""},
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range prefixCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePrefix(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParsePrefix(%q) = %v; want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrefix(%q): %v", tc.in, err)
			}
			if got.String() != tc.want {
				t.Fatalf("ParsePrefix(%q) = %v; want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestParsePrefixSuggestsMask(t *testing.T) {
	_, err := ParsePrefix("10.0.0.1/8")
	if err == nil || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Fatalf("error %v should suggest 10.0.0.0/8", err)
	}
}

var hostPatternCases = []struct {
	in   string
	want string // "" means an error is expected
}{
	{"api.acme.com", "api.acme.com"},
	{"API.Acme.COM.", "api.acme.com"},
	{"*.acme.com", "*.acme.com"},
	{"*.ACME.com.", "*.acme.com"},
	{"*.com", "*.com"},
	{"_hooks.acme.com", "_hooks.acme.com"},

	{"", ""},
	{"*", ""},
	{"*.", ""},
	{"**.acme.com", ""},
	{"*acme.com", ""},
	{"api.*.acme.com", ""},
	{"acme.*", ""},
	{"*.*.acme.com", ""},
	{"1.2.3.4", ""},
	{"*.1.2.3.4", ""},
	{"127.1", ""},
	{"2130706433", ""},
	{"::1", ""},
	{"[::1]", ""},
	{"acme.com:443", ""},
	{"bücher.example", ""},
	{"ac%6de.com", ""},
	{"acme..com", ""},
	{"acme.com/x", ""},
}

func TestParseHostPattern(t *testing.T) {
	for _, tc := range hostPatternCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseHostPattern(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParseHostPattern(%q) = %q; want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHostPattern(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseHostPattern(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}
