package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func query(t *testing.T, network, addr, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", network, name, err)
	}
	return resp
}

func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

func TestServerAnswers(t *testing.T) {
	s := Start(t)
	s.Set("a.example", "a.example. 30 IN A 127.0.0.2", "a.example. 30 IN AAAA ::1")
	s.Set("Chain.Example.", "chain.example. 60 IN CNAME a.example.", "a.example. 30 IN A 127.0.0.2")
	s.Set("empty.example")
	s.SetRcode("fail.example", dns.RcodeServerFailure)
	s.Set("half.example", "half.example. 30 IN A 127.0.0.3", "half.example. 30 IN AAAA ::1")
	s.SetRcodeType("half.example", dns.TypeAAAA, dns.RcodeRefused)

	tests := []struct {
		name, qname string
		qtype       uint16
		rcode       int
		want        []string
	}{
		{"A only A records", "a.example", dns.TypeA, dns.RcodeSuccess, []string{"a.example. 30 IN A 127.0.0.2"}},
		{"AAAA only AAAA records", "a.example", dns.TypeAAAA, dns.RcodeSuccess, []string{"a.example. 30 IN AAAA ::1"}},
		{"TXT no data", "a.example", dns.TypeTXT, dns.RcodeSuccess, nil},
		{"case-insensitive name with cname", "CHAIN.example", dns.TypeA, dns.RcodeSuccess,
			[]string{"chain.example. 60 IN CNAME a.example.", "a.example. 30 IN A 127.0.0.2"}},
		{"cname kept for AAAA", "chain.example", dns.TypeAAAA, dns.RcodeSuccess, []string{"chain.example. 60 IN CNAME a.example."}},
		{"empty name exists", "empty.example", dns.TypeA, dns.RcodeSuccess, nil},
		{"unknown is nxdomain", "nope.example", dns.TypeA, dns.RcodeNameError, nil},
		{"servfail", "fail.example", dns.TypeA, dns.RcodeServerFailure, nil},
		{"rcode per type spares A", "half.example", dns.TypeA, dns.RcodeSuccess, []string{"half.example. 30 IN A 127.0.0.3"}},
		{"rcode per type hits AAAA", "half.example", dns.TypeAAAA, dns.RcodeRefused, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				resp := query(t, network, s.Addr(), tt.qname, tt.qtype, true)
				if resp.Rcode != tt.rcode {
					t.Errorf("%s rcode = %s, want %s", network, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
				}
				if got := answers(resp); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("%s answers = %q, want %q", network, got, tt.want)
				}
				if resp.IsEdns0() == nil {
					t.Errorf("%s: no OPT in reply to an EDNS0 query", network)
				}
			}
		})
	}
}

func TestServerCounts(t *testing.T) {
	s := Start(t)
	s.Set("c.example", "c.example. 0 IN A 127.0.0.2")
	query(t, "udp", s.Addr(), "c.example", dns.TypeA, false)
	query(t, "tcp", s.Addr(), "C.EXAMPLE.", dns.TypeAAAA, false)
	query(t, "udp", s.Addr(), "c.example", dns.TypeA, false)
	query(t, "udp", s.Addr(), "unknown.example", dns.TypeA, false)
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"all types", s.Queries("c.example"), 3},
		{"A", s.QueriesByType("C.Example.", dns.TypeA), 2},
		{"AAAA", s.QueriesByType("c.example", dns.TypeAAAA), 1},
		{"MX never asked", s.QueriesByType("c.example", dns.TypeMX), 0},
		{"unknown names count too", s.Queries("unknown.example"), 1},
		{"never asked", s.Queries("other.example"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
}

func TestServerSetFunc(t *testing.T) {
	s := Start(t)
	var (
		mu   sync.Mutex
		seen []int
	)
	s.SetFunc("rebind.example", func(q dns.Question, n int) []dns.RR {
		mu.Lock()
		seen = append(seen, n)
		mu.Unlock()
		ip := "127.0.0.2"
		if n > 1 {
			ip = "127.0.0.3"
		}
		rr, err := dns.NewRR(q.Name + " 0 IN A " + ip)
		if err != nil {
			t.Errorf("NewRR: %v", err)
		}
		return []dns.RR{rr}
	})
	first := answers(query(t, "udp", s.Addr(), "rebind.example", dns.TypeA, false))
	second := answers(query(t, "udp", s.Addr(), "rebind.example", dns.TypeA, false))
	if want := []string{"rebind.example. 0 IN A 127.0.0.2"}; fmt.Sprint(first) != fmt.Sprint(want) {
		t.Errorf("first = %q, want %q", first, want)
	}
	if want := []string{"rebind.example. 0 IN A 127.0.0.3"}; fmt.Sprint(second) != fmt.Sprint(want) {
		t.Errorf("second = %q, want %q", second, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[1 2]" {
		t.Errorf("n values = %v, want [1 2]", seen)
	}
	// Set replaces the function.
	s.Set("rebind.example", "rebind.example. 0 IN A 127.0.0.4")
	if got := answers(query(t, "udp", s.Addr(), "rebind.example", dns.TypeA, false)); len(got) != 1 || !strings.HasSuffix(got[0], "127.0.0.4") {
		t.Errorf("after Set = %q", got)
	}
}

func TestServerTruncation(t *testing.T) {
	s := Start(t)
	s.Set("tc.example", "tc.example. 60 IN A 127.0.0.2")
	s.Truncate("tc.example", true)
	udp := query(t, "udp", s.Addr(), "tc.example", dns.TypeA, true)
	if !udp.Truncated || len(udp.Answer) != 0 {
		t.Errorf("udp: truncated=%v answers=%d, want TC and none", udp.Truncated, len(udp.Answer))
	}
	tcp := query(t, "tcp", s.Addr(), "tc.example", dns.TypeA, true)
	if tcp.Truncated || len(tcp.Answer) != 1 {
		t.Errorf("tcp: truncated=%v answers=%d, want full", tcp.Truncated, len(tcp.Answer))
	}
	s.Truncate("tc.example", false)
	if udp := query(t, "udp", s.Addr(), "tc.example", dns.TypeA, true); udp.Truncated {
		t.Error("udp still truncated after Truncate(false)")
	}

	// An answer larger than the client's buffer is cut like a real server's.
	var big []string
	for i := range 60 {
		big = append(big, fmt.Sprintf("big.example. 60 IN A 127.0.1.%d", i))
	}
	s.Set("big.example", big...)
	small := query(t, "udp", s.Addr(), "big.example", dns.TypeA, false)
	if !small.Truncated || len(small.Answer) >= 60 {
		t.Errorf("512-byte udp: truncated=%v answers=%d", small.Truncated, len(small.Answer))
	}
	full := query(t, "tcp", s.Addr(), "big.example", dns.TypeA, false)
	if full.Truncated || len(full.Answer) != 60 {
		t.Errorf("tcp: truncated=%v answers=%d, want 60", full.Truncated, len(full.Answer))
	}
}

func TestServerDrop(t *testing.T) {
	s := Start(t)
	s.Set("slow.example", "slow.example. 60 IN A 127.0.0.2")
	s.Drop("slow.example", true)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("slow.example.", dns.TypeA)
			c := &dns.Client{Net: network}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, _, err := c.ExchangeContext(ctx, m, s.Addr())
			var ne net.Error
			if err == nil || !(errors.As(err, &ne) && ne.Timeout()) {
				t.Errorf("err = %v, want a timeout", err)
			}
		})
	}
	if got := s.Queries("slow.example"); got != 2 {
		t.Errorf("dropped queries counted %d, want 2", got)
	}
}

func TestServerAddrIsLoopback(t *testing.T) {
	s := Start(t)
	host, _, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr() = %q (%v), want 127.0.0.1:port", s.Addr(), err)
	}
}
