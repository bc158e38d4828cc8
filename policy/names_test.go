package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
)

func TestCheckName(t *testing.T) {
	e := mustEngine(t, Config{OwnDomains: []string{"platform.com", "Hooks.Example.ORG."}})
	acme := mustCompile(t, tollgate.Policy{
		AllowedHosts: []string{"*.acme.com", "api.partner.io", "evil.acme.com"},
		DeniedHosts:  []string{"evil.acme.com", "*.internal-tools.acme.com"},
	})
	denyOnly := mustCompile(t, tollgate.Policy{DeniedHosts: []string{"*.badcdn.net", "tracker.example.net"}})

	tests := []struct {
		name   string
		host   string
		tp     *TenantPolicy
		reason tollgate.Reason // ReasonNone means allowed
		detail string
	}{
		{"public name", "example.com", nil, "", ""},
		{"public upper case", "EXAMPLE.COM.", nil, "", ""},
		{"underscore", "_hooks.example.com", nil, "", ""},

		{"localhost", "localhost", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"localhost trailing dot", "localhost.", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"localhost upper", "LocalHost", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"sub.localhost", "app.localhost", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"deep localhost", "a.b.localhost.", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"mdns", "printer.local", nil, tollgate.ReasonForbiddenHost, ".local"},
		{"internal", "metadata.google.internal", nil, tollgate.ReasonForbiddenHost, ".internal"},
		{"home.arpa", "router.home.arpa", nil, tollgate.ReasonForbiddenHost, "home.arpa"},
		{"home.arpa itself", "home.arpa", nil, tollgate.ReasonForbiddenHost, "home.arpa"},
		{"onion", "abc.onion", nil, tollgate.ReasonForbiddenHost, ".onion"},
		{"single label", "intranet", nil, tollgate.ReasonForbiddenHost, "single-label"},
		{"single label dot", "intranet.", nil, tollgate.ReasonForbiddenHost, "single-label"},
		{"label boundary localhost", "notlocalhost.com", nil, "", ""},
		{"label boundary local", "local.example.com", nil, "", ""},
		{"label boundary internal", "myinternal.com", nil, "", ""},

		{"own domain", "platform.com", nil, tollgate.ReasonForbiddenHost, "own domains"},
		{"own domain sub", "api.platform.com", nil, tollgate.ReasonForbiddenHost, "own domains"},
		{"own domain deep dot case", "A.B.Platform.Com.", nil, tollgate.ReasonForbiddenHost, "own domains"},
		{"own domain label boundary", "evilplatform.com", nil, "", ""},
		{"own domain suffix only", "platform.com.evil.io", nil, "", ""},
		{"own domain normalised config", "x.hooks.example.org", nil, tollgate.ReasonForbiddenHost, "own domains"},
		{"own domain parent not covered", "example.org", nil, "", ""},

		{"allowed wildcard", "hooks.acme.com", acme, "", ""},
		{"allowed wildcard deep", "a.b.acme.com", acme, "", ""},
		{"wildcard excludes apex", "acme.com", acme, tollgate.ReasonForbiddenHost, "allowed_hosts"},
		{"wildcard label boundary", "evilacme.com", acme, tollgate.ReasonForbiddenHost, "allowed_hosts"},
		{"allowed exact", "api.partner.io", acme, "", ""},
		{"exact excludes sub", "x.api.partner.io", acme, tollgate.ReasonForbiddenHost, "allowed_hosts"},
		{"outside allowed", "example.com", acme, tollgate.ReasonForbiddenHost, "allowed_hosts"},
		{"denied beats allowed", "evil.acme.com", acme, tollgate.ReasonForbiddenHost, "denied_hosts"},
		{"denied wildcard", "x.internal-tools.acme.com", acme, tollgate.ReasonForbiddenHost, "denied_hosts"},
		{"special beats allowed", "x.acme.com.local", acme, tollgate.ReasonForbiddenHost, ".local"},
		{"deny-only tenant", "cdn1.badcdn.net", denyOnly, tollgate.ReasonForbiddenHost, "denied_hosts"},
		{"deny-only exact", "TRACKER.example.net.", denyOnly, tollgate.ReasonForbiddenHost, "denied_hosts"},
		{"deny-only other", "example.net", denyOnly, "", ""},

		{"invalid chars", "exa mple.com", nil, tollgate.ReasonForbiddenHost, "not a valid"},
		{"empty", "", nil, tollgate.ReasonForbiddenHost, "not a valid"},
		{"non-ascii", "bücher.example", nil, tollgate.ReasonForbiddenHost, "not a valid"},
		{"dns escape", `evil\046com.example`, nil, tollgate.ReasonForbiddenHost, "not a valid"},
		{"ip as name", "127.0.0.1", nil, tollgate.ReasonForbiddenHost, "IP address"},
		{"short ip as name", "127.1", nil, tollgate.ReasonForbiddenHost, "not a valid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := e.CheckName(tc.host, tc.tp)
			if tc.reason == tollgate.ReasonNone {
				if !d.Allow {
					t.Fatalf("CheckName(%q) = %+v; want allowed", tc.host, d)
				}
				return
			}
			if d.Allow || d.Reason != tc.reason || !strings.Contains(d.Detail, tc.detail) {
				t.Fatalf("CheckName(%q) = %+v; want %s mentioning %q", tc.host, d, tc.reason, tc.detail)
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	e := mustEngine(t, Config{OwnDomains: []string{"platform.com"}})
	noHTTP := mustCompile(t, tollgate.Policy{AllowedPorts: []uint16{80, 443}})
	plain := mustCompile(t, tollgate.Policy{AllowedPorts: []uint16{80, 443, 8080}, AllowPlainHTTP: true})
	restricted := mustCompile(t, tollgate.Policy{AllowedHosts: []string{"*.acme.com"}, AllowedPorts: []uint16{443}, UpgradeHTTP: true})
	emptyPorts := mustCompile(t, tollgate.Policy{UpgradeHTTP: true})

	tests := []struct {
		name   string
		target string // CONNECT authority, or an absolute URL when it has "://"
		tp     *TenantPolicy
		reason tollgate.Reason
		detail string
	}{
		{"connect public", "example.com:443", nil, "", ""},
		{"connect port 80", "example.com:80", nil, "", ""},
		{"connect bad port", "example.com:8080", nil, tollgate.ReasonForbiddenPort, "port 8080 is not in the tenant's allowed ports"},
		{"connect port 22", "example.com:22", nil, tollgate.ReasonForbiddenPort, "port 22"},
		{"connect localhost", "localhost:443", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"connect own domain", "API.platform.com.:443", nil, tollgate.ReasonForbiddenHost, "own domains"},
		{"port before name", "localhost:8080", nil, tollgate.ReasonForbiddenPort, "port 8080"},
		{"connect ip literal", "93.184.216.34:443", nil, "", ""},
		{"connect ip literal v6", "[2606:4700::1111]:443", nil, "", ""},
		{"ip literal passes names, not addresses", "127.0.0.1:443", nil, "", ""},
		{"ip literal with allowed_hosts", "93.184.216.34:443", restricted, tollgate.ReasonForbiddenHost, "allowed_hosts"},
		{"allowed host", "hooks.acme.com:443", restricted, "", ""},
		{"outside allowed host", "example.com:443", restricted, tollgate.ReasonForbiddenHost, "allowed_hosts"},
		{"restricted port", "hooks.acme.com:80", restricted, tollgate.ReasonForbiddenPort, "port 80"},
		{"empty ports mean default", "example.com:443", emptyPorts, "", ""},
		{"empty ports mean default 80", "example.com:80", emptyPorts, "", ""},
		{"empty ports refuse others", "example.com:8443", emptyPorts, tollgate.ReasonForbiddenPort, "port 8443"},

		{"http upgrade default", "http://example.com/hook", nil, "", ""},
		{"http plain", "http://example.com:8080/hook", plain, "", ""},
		{"http bad port", "http://example.com:8080/hook", nil, tollgate.ReasonForbiddenPort, "port 8080"},
		{"http disabled", "http://example.com/hook", noHTTP, tollgate.ReasonForbiddenScheme, "plain http"},
		{"https absolute", "https://example.com/hook", nil, tollgate.ReasonForbiddenScheme, "CONNECT"},
		{"ftp absolute", "ftp://example.com/", nil, tollgate.ReasonForbiddenScheme, "http://"},
		{"scheme before port", "https://example.com:8080/", nil, tollgate.ReasonForbiddenScheme, "http://"},
		{"scheme before name", "gopher://localhost/", nil, tollgate.ReasonForbiddenScheme, "http://"},
		{"http localhost", "http://localhost/", nil, tollgate.ReasonForbiddenHost, "localhost"},
		{"http metadata name", "http://metadata.google.internal/computeMetadata/v1/", nil, tollgate.ReasonForbiddenHost, ".internal"},
		{"http single label", "http://metadata/", nil, tollgate.ReasonForbiddenHost, "single-label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				target Target
				scheme string
			)
			if strings.Contains(tc.target, "://") {
				u, err := ParseAbsoluteForm(tc.target)
				if err != nil {
					t.Fatalf("ParseAbsoluteForm(%q): %v", tc.target, err)
				}
				target, scheme = u.Target, u.Scheme
			} else {
				var err error
				if target, err = ParseAuthority(tc.target); err != nil {
					t.Fatalf("ParseAuthority(%q): %v", tc.target, err)
				}
			}
			d := e.CheckRequest(target, scheme, tc.tp)
			if tc.reason == tollgate.ReasonNone {
				if !d.Allow || d != tollgate.Allowed {
					t.Fatalf("CheckRequest(%q) = %+v; want allowed", tc.target, d)
				}
				return
			}
			if d.Allow || d.Reason != tc.reason || !strings.Contains(d.Detail, tc.detail) {
				t.Fatalf("CheckRequest(%q) = %+v; want %s mentioning %q", tc.target, d, tc.reason, tc.detail)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		policy  tollgate.Policy
		wantErr string // "" means it compiles
	}{
		{"default", tollgate.DefaultPolicy(), ""},
		{"zero", tollgate.Policy{}, ""},
		{"patterns", tollgate.Policy{AllowedHosts: []string{"*.acme.com", "API.partner.io."}, DeniedHosts: []string{"x.acme.com"}}, ""},
		{"bad allowed host", tollgate.Policy{AllowedHosts: []string{"ok.com", "a.*.com"}}, "allowed_hosts[1]"},
		{"ip allowed host", tollgate.Policy{AllowedHosts: []string{"10.0.0.1"}}, "allowed_hosts[0]"},
		{"bad denied host", tollgate.Policy{DeniedHosts: []string{"bad host"}}, "denied_hosts[0]"},
		{"port zero", tollgate.Policy{AllowedPorts: []uint16{443, 0}}, "allowed_ports[1]"},
		{"invalid cidr", tollgate.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}}, "allow_cidrs[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.policy)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Compile error = %v; want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestPortAllowed(t *testing.T) {
	tp := mustCompile(t, tollgate.Policy{AllowedPorts: []uint16{443, 8443}})
	tests := []struct {
		port uint16
		want bool
	}{{443, true}, {8443, true}, {80, false}, {0, false}, {65535, false}}
	for _, tc := range tests {
		t.Run(strconv.Itoa(int(tc.port)), func(t *testing.T) {
			if got := tp.PortAllowed(tc.port); got != tc.want {
				t.Fatalf("PortAllowed(%d) = %v; want %v", tc.port, got, tc.want)
			}
		})
	}
}
