package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

// TestSSRFConnect drives CONNECT through every refusal rule of SPEC §4 and
// checks that nothing reaches a canary listener.
func TestSSRFConnect(t *testing.T) {
	d := dnstest.Start(t)
	can := startCanaries(t, 443, 80)
	pub := upstreamIP()
	up := startEcho(t, pub, 443, nil)
	pub2 := upstreamIP()
	startEcho(t, pub2, 443, nil)

	d.Set("hook.test", "hook.test. 60 IN A "+pub)
	d.Set("meta.test", "meta.test. 60 IN A 169.254.169.254")
	d.Set("ten.test", "ten.test. 60 IN A 10.0.0.1")
	d.Set("loop.test", "loop.test. 60 IN A 127.0.0.1")
	d.Set("cgnat.test", "cgnat.test. 60 IN A 100.64.0.1")
	d.Set("alibaba.test", "alibaba.test. 60 IN A 100.100.100.200")
	d.Set("mixed.test", "mixed.test. 60 IN A "+pub, "mixed.test. 60 IN A 10.0.0.1")
	d.Set("mixed6.test", "mixed6.test. 60 IN A "+pub, "mixed6.test. 60 IN AAAA fd00:ec2::254")
	d.Set("mapped.test", "mapped.test. 60 IN AAAA ::ffff:169.254.169.254")
	d.Set("loop6.test", "loop6.test. 60 IN AAAA ::1")
	d.Set("cname-host.test", "cname-host.test. 60 IN CNAME metadata.google.internal.")
	d.Set("cname-addr.test", "cname-addr.test. 60 IN CNAME meta.test.")
	d.Set("cname-own.test", "cname-own.test. 60 IN CNAME api.platform.example.")
	d.Set("evilplatform.example", "evilplatform.example. 60 IN A "+pub2)
	d.SetRcode("servfail.test", dns.RcodeServerFailure)

	in := start(t, baseConfig(t, d))

	cases := []struct {
		authority string
		status    int
		reason    string
	}{
		// Allowed control cases first: the rest must fail for the stated reason, not by accident.
		{"hook.test:443", 200, ""},
		{"HOOK.TEST.:443", 200, ""},
		{pub + ":443", 200, ""},
		{"evilplatform.example:443", 200, ""},

		// Always-denied and special-purpose literals.
		{"169.254.169.254:443", 403, "forbidden_address"},
		{"[::ffff:169.254.169.254]:443", 403, "forbidden_address"},
		{"100.100.100.200:443", 403, "forbidden_address"},
		{"[fd00:ec2::254]:443", 403, "forbidden_address"},
		{"0.0.0.0:443", 403, "forbidden_address"},
		{"[::]:443", 403, "forbidden_address"},
		{"[::ffff:0.0.0.0]:443", 403, "forbidden_address"},
		{"127.0.0.1:443", 403, "forbidden_address"},
		{"[::ffff:127.0.0.1]:443", 403, "forbidden_address"},
		{"[::1]:443", 403, "forbidden_address"},
		{"10.0.0.1:443", 403, "forbidden_address"},
		{"172.16.0.1:443", 403, "forbidden_address"},
		{"192.168.1.1:443", 403, "forbidden_address"},
		{"100.64.0.1:443", 403, "forbidden_address"},
		{"198.18.0.1:443", 403, "forbidden_address"},
		{"192.0.2.1:443", 403, "forbidden_address"},
		{"240.0.0.1:443", 403, "forbidden_address"},
		{"224.0.0.1:443", 403, "forbidden_address"},
		{"[fe80::1]:443", 403, "forbidden_address"},
		{"[fc00::1]:443", 403, "forbidden_address"},
		{"[::127.0.0.1]:443", 403, "forbidden_address"},                          // IPv4-compatible
		{"[64:ff9b::a9fe:a9fe]:443", 403, "forbidden_address"},                   // NAT64 of the metadata address
		{"[2002:a9fe:a9fe::1]:443", 403, "forbidden_address"},                    // 6to4
		{"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443", 403, "forbidden_address"}, // Teredo
		{"[2001:db8::1]:443", 403, "forbidden_address"},

		// Names resolving to denied addresses, including mixed answers.
		{"meta.test:443", 403, "forbidden_address"},
		{"ten.test:443", 403, "forbidden_address"},
		{"loop.test:443", 403, "forbidden_address"},
		{"cgnat.test:443", 403, "forbidden_address"},
		{"alibaba.test:443", 403, "forbidden_address"},
		{"mixed.test:443", 403, "forbidden_address"},
		{"mixed6.test:443", 403, "forbidden_address"},
		{"mapped.test:443", 403, "forbidden_address"},
		{"loop6.test:443", 403, "forbidden_address"},
		{"cname-addr.test:443", 403, "forbidden_address"},

		// Name rules.
		{"localhost:443", 403, "forbidden_host"},
		{"api.localhost:443", 403, "forbidden_host"},
		{"printer.local:443", 403, "forbidden_host"},
		{"metadata.google.internal:443", 403, "forbidden_host"},
		{"router.home.arpa:443", 403, "forbidden_host"},
		{"abc.onion:443", 403, "forbidden_host"},
		{"intranet:443", 403, "forbidden_host"},
		{"platform.example:443", 403, "forbidden_host"},
		{"api.platform.example:443", 403, "forbidden_host"},
		{"API.Platform.Example.:443", 403, "forbidden_host"},
		{"cname-host.test:443", 403, "forbidden_host"},
		{"cname-own.test:443", 403, "forbidden_host"},

		// Ports.
		{"hook.test:22", 403, "forbidden_port"},
		{"hook.test:8443", 403, "forbidden_port"},

		// DNS failures.
		{"nx.test:443", 502, "dns_error"},
		{"servfail.test:443", 502, "dns_error"},

		// Malformed authorities.
		{"0177.0.0.1:443", 400, "invalid_request"},
		{"2130706433:443", 400, "invalid_request"},
		{"0x7f.1:443", 400, "invalid_request"},
		{"127.1:443", 400, "invalid_request"},
		{"127.0.0.01:443", 400, "invalid_request"},
		{"[fe80::1%25eth0]:443", 400, "invalid_request"},
		{"::1:443", 400, "invalid_request"},
		{"hook.test:0", 400, "invalid_request"},
		{"hook.test:65536", 400, "invalid_request"},
		{"hook.test:0443", 400, "invalid_request"},
		{"hook.test", 400, "invalid_request"},
		{":443", 400, "invalid_request"},
		{"user@hook.test:443", 400, "invalid_request"},
		{"h%6Fok.test:443", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.authority, func(t *testing.T) {
			res := in.connect(t, c.authority, "", "")
			if c.status == 200 {
				if res.status != 200 {
					t.Fatalf("CONNECT %s: got %d %s %s, want 200", c.authority, res.status, res.phrase, res.body)
				}
				resp, body := httpOverTunnel(t, res, "hook.test")
				if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from 127.0.1.") {
					t.Fatalf("through the tunnel: %d %q", resp.StatusCode, body)
				}
				return
			}
			checkRefusal(t, "CONNECT "+c.authority, res.status, res.phrase, res.header, res.body, c.status, c.reason)
		})
	}
	if len(up.requests()) == 0 {
		t.Error("the allowed upstream saw no request")
	}
	if can.hits.Load() != 0 {
		t.Fatalf("canaries hit: %d", can.hits.Load())
	}
}

// TestDNSRebinding: the name answers an allowed address first and a canary
// afterwards, with TTL 0. One request must make exactly one A and one AAAA
// query and connect to the address it vetted.
func TestDNSRebinding(t *testing.T) {
	d := dnstest.Start(t)
	can := startCanaries(t, 443)
	pub := upstreamIP()
	up := startEcho(t, pub, 443, nil)
	d.SetFunc("rebind.test", func(q dns.Question, n int) []dns.RR {
		if q.Qtype != dns.TypeA {
			return nil
		}
		ip := pub
		if d.QueriesByType("rebind.test", dns.TypeA) > 1 {
			ip = "127.0.0.1"
		}
		rr, _ := dns.NewRR("rebind.test. 0 IN A " + ip)
		return []dns.RR{rr}
	})
	in := start(t, baseConfig(t, d))

	res := in.connect(t, "rebind.test:443", "", "")
	if res.status != 200 {
		t.Fatalf("first CONNECT: %d %s %s", res.status, res.phrase, res.body)
	}
	resp, body := httpOverTunnel(t, res, "rebind.test")
	if resp.StatusCode != 200 || !strings.Contains(body, pub) {
		t.Fatalf("tunnel reached %q, want the vetted %s", body, pub)
	}
	if a, aaaa := d.QueriesByType("rebind.test", dns.TypeA), d.QueriesByType("rebind.test", dns.TypeAAAA); a != 1 || aaaa != 1 {
		t.Fatalf("one request made %d A and %d AAAA queries, want 1 and 1", a, aaaa)
	}
	// The next request sees the rebound answer and is refused before any dial.
	res = in.connect(t, "rebind.test:443", "", "")
	checkRefusal(t, "rebound CONNECT", res.status, res.phrase, res.header, res.body, 403, "forbidden_address")
	if a := d.QueriesByType("rebind.test", dns.TypeA); a != 2 {
		t.Fatalf("two requests made %d A queries, want 2", a)
	}
	if len(up.requests()) != 1 || can.hits.Load() != 0 {
		t.Fatalf("upstream saw %d requests, canaries %d connections", len(up.requests()), can.hits.Load())
	}
}

// TestOwnListenersDenied: even with all of loopback opened by allow_cidrs,
// the proxy refuses its own proxy and control listeners.
func TestOwnListenersDenied(t *testing.T) {
	d := dnstest.Start(t)
	cfg := baseConfig(t, d)
	section(cfg, "egress")["allow_cidrs"] = []string{"127.0.0.0/8"}
	var proxyPort, ctrlPort int
	fmt.Sscanf(section(cfg, "proxy")["listen"].(string), "127.0.0.1:%d", &proxyPort)
	fmt.Sscanf(section(cfg, "control")["listen"].(string), "127.0.0.1:%d", &ctrlPort)
	cfg["defaults"] = map[string]any{"policy": map[string]any{"allowed_ports": []int{80, 443, proxyPort, ctrlPort}}}
	in := start(t, cfg)
	for _, target := range []string{
		fmt.Sprintf("127.0.0.1:%d", proxyPort),
		fmt.Sprintf("127.0.0.1:%d", ctrlPort),
	} {
		res := in.connect(t, target, "", "")
		checkRefusal(t, "CONNECT "+target, res.status, res.phrase, res.header, res.body, 403, "forbidden_address")
	}
}

// TestAbsoluteForm: plain-HTTP forwarding judges the URI, not the Host
// header, strips proxy credentials and passes redirects back.
func TestAbsoluteForm(t *testing.T) {
	d := dnstest.Start(t)
	can := startCanaries(t, 80)
	pub := upstreamIP()
	up := startEcho(t, pub, 80, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "host=%s path=%s", r.Host, r.URL.Path)
	})
	d.Set("hook.test", "hook.test. 60 IN A "+pub)
	d.Set("meta.test", "meta.test. 60 IN A 169.254.169.254")
	cfg := baseConfig(t, d)
	cfg["defaults"] = map[string]any{"sign": false, "policy": map[string]any{"allow_plain_http": true}}
	in := start(t, cfg)
	key := in.createKey(t, "default", map[string]any{"scopes": []string{"proxy"}})
	creds := base64.StdEncoding.EncodeToString([]byte("default:" + key.Key))

	send := func(t *testing.T, raw string) (*http.Response, []byte) {
		t.Helper()
		c, err := net.Dial("tcp", in.proxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	phrase := func(r *http.Response) string {
		return strings.TrimSpace(strings.TrimPrefix(r.Status, fmt.Sprint(r.StatusCode)))
	}

	t.Run("host header mismatch is judged by the URI", func(t *testing.T) {
		resp, body := send(t, "GET http://hook.test/x HTTP/1.1\r\nHost: meta.test\r\nProxy-Authorization: Basic "+creds+"\r\n\r\n")
		if resp.StatusCode != 200 || string(body) != "host=hook.test path=/x" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		last := up.requests()[len(up.requests())-1]
		if last.Header.Get("Proxy-Authorization") != "" {
			t.Fatal("Proxy-Authorization was forwarded")
		}
	})
	t.Run("denied URI host", func(t *testing.T) {
		resp, body := send(t, "GET http://meta.test/ HTTP/1.1\r\nHost: hook.test\r\n\r\n")
		checkRefusal(t, "GET meta.test", resp.StatusCode, phrase(resp), resp.Header, body, 403, "forbidden_address")
	})
	t.Run("literal metadata address", func(t *testing.T) {
		resp, body := send(t, "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: hook.test\r\n\r\n")
		checkRefusal(t, "GET 169.254.169.254", resp.StatusCode, phrase(resp), resp.Header, body, 403, "forbidden_address")
	})
	t.Run("redirect passed back", func(t *testing.T) {
		resp, _ := send(t, "GET http://hook.test/redirect HTTP/1.1\r\nHost: hook.test\r\n\r\n")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Tollgate-Reason") != "" {
			t.Fatalf("got %d (Tollgate-Reason %q), want the receiver's 302", resp.StatusCode, resp.Header.Get("Tollgate-Reason"))
		}
	})
	t.Run("scheme other than http", func(t *testing.T) {
		resp, body := send(t, "GET ftp://hook.test/ HTTP/1.1\r\nHost: hook.test\r\n\r\n")
		checkRefusal(t, "GET ftp://", resp.StatusCode, phrase(resp), resp.Header, body, 403, "forbidden_scheme")
	})
	t.Run("origin-form is not a proxy request", func(t *testing.T) {
		resp, body := send(t, "GET /x HTTP/1.1\r\nHost: hook.test\r\n\r\n")
		checkRefusal(t, "GET /x", resp.StatusCode, phrase(resp), resp.Header, body, 400, "invalid_request")
	})
	if can.hits.Load() != 0 {
		t.Fatalf("canaries hit: %d", can.hits.Load())
	}
}
