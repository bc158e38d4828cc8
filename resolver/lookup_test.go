package resolver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

// chainTo sets a CNAME chain n hops long starting at "h0.<zone>", one hop
// per name so that every hop needs its own query, ending in an A record.
func chainTo(s *dnstest.Server, zone string, n int) {
	for i := range n {
		s.Set(fmt.Sprintf("h%d.%s", i, zone), fmt.Sprintf("h%d.%s. 60 IN CNAME h%d.%s.", i, zone, i+1, zone))
	}
	s.Set(fmt.Sprintf("h%d.%s", n, zone), fmt.Sprintf("h%d.%s. 60 IN A 127.0.0.9", n, zone))
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(s *dnstest.Server)
		query     string
		wantAddrs []string
		wantChain []string
		wantErr   error
		// queries that must have reached the server, by name
		wantQueries map[string]int
	}{
		{
			name: "A and AAAA merged, A first, answer order, deduplicated, mapped kept",
			setup: func(s *dnstest.Server) {
				s.Set("mix.example",
					"mix.example. 60 IN AAAA ::1",
					"mix.example. 60 IN A 127.0.0.3",
					"mix.example. 60 IN AAAA ::ffff:127.0.0.4",
					"mix.example. 60 IN A 127.0.0.2",
					"mix.example. 60 IN A 127.0.0.3",
					"mix.example. 60 IN AAAA ::1",
				)
			},
			query:       "mix.example",
			wantAddrs:   []string{"127.0.0.3", "127.0.0.2", "::1", "::ffff:127.0.0.4"},
			wantChain:   []string{"mix.example"},
			wantQueries: map[string]int{"mix.example": 2},
		},
		{
			name: "upper-case query and trailing dot normalised",
			setup: func(s *dnstest.Server) {
				s.Set("up.example", "up.example. 60 IN A 127.0.0.2")
			},
			query:     "UP.Example.",
			wantAddrs: []string{"127.0.0.2"},
			wantChain: []string{"up.example"},
		},
		{
			name: "cname chain inside the answer",
			setup: func(s *dnstest.Server) {
				s.Set("www.example",
					"WWW.example. 60 IN CNAME Edge.Example.",
					"edge.example. 60 IN CNAME origin.example.",
					"origin.example. 60 IN A 127.0.0.5",
					"origin.example. 60 IN AAAA ::1",
					"stray.example. 60 IN A 127.0.0.66",
				)
			},
			query:       "www.example",
			wantAddrs:   []string{"127.0.0.5", "::1"},
			wantChain:   []string{"www.example", "edge.example", "origin.example"},
			wantQueries: map[string]int{"www.example": 2, "edge.example": 0, "origin.example": 0},
		},
		{
			name: "cname followed by a new query",
			setup: func(s *dnstest.Server) {
				s.Set("alias.example", "alias.example. 60 IN CNAME target.example.")
				s.Set("target.example", "target.example. 60 IN A 127.0.0.6")
			},
			query:       "alias.example",
			wantAddrs:   []string{"127.0.0.6"},
			wantChain:   []string{"alias.example", "target.example"},
			wantQueries: map[string]int{"alias.example": 2, "target.example": 2},
		},
		{
			name:      "eight hops across queries is the limit",
			setup:     func(s *dnstest.Server) { chainTo(s, "eight.example", 8) },
			query:     "h0.eight.example",
			wantAddrs: []string{"127.0.0.9"},
			wantChain: []string{"h0.eight.example", "h1.eight.example", "h2.eight.example", "h3.eight.example",
				"h4.eight.example", "h5.eight.example", "h6.eight.example", "h7.eight.example", "h8.eight.example"},
		},
		{
			name:        "nine hops across queries",
			setup:       func(s *dnstest.Server) { chainTo(s, "nine.example", 9) },
			query:       "h0.nine.example",
			wantErr:     ErrCNAMELoop,
			wantQueries: map[string]int{"h9.nine.example": 0},
		},
		{
			name: "nine hops inside one answer",
			setup: func(s *dnstest.Server) {
				var rrs []string
				for i := range 9 {
					rrs = append(rrs, fmt.Sprintf("h%d.long.example. 60 IN CNAME h%d.long.example.", i, i+1))
				}
				s.Set("h0.long.example", append(rrs, "h9.long.example. 60 IN A 127.0.0.9")...)
			},
			query:   "h0.long.example",
			wantErr: ErrCNAMELoop,
		},
		{
			name: "cname loop inside the answer",
			setup: func(s *dnstest.Server) {
				s.Set("loop.example", "loop.example. 60 IN CNAME loop2.example.", "loop2.example. 60 IN CNAME LOOP.example.")
			},
			query:   "loop.example",
			wantErr: ErrCNAMELoop,
		},
		{
			name: "cname loop across queries",
			setup: func(s *dnstest.Server) {
				s.Set("l1.example", "l1.example. 60 IN CNAME l2.example.")
				s.Set("l2.example", "l2.example. 60 IN CNAME l1.example.")
			},
			query:       "l1.example",
			wantErr:     ErrCNAMELoop,
			wantQueries: map[string]int{"l1.example": 2, "l2.example": 2},
		},
		{
			name:    "nxdomain",
			setup:   func(*dnstest.Server) {},
			query:   "missing.example",
			wantErr: ErrNXDomain,
		},
		{
			name: "dangling cname is nxdomain",
			setup: func(s *dnstest.Server) {
				s.Set("dangling.example", "dangling.example. 60 IN CNAME gone.example.")
			},
			query:       "dangling.example",
			wantErr:     ErrNXDomain,
			wantQueries: map[string]int{"gone.example": 2},
		},
		{
			name:    "servfail",
			setup:   func(s *dnstest.Server) { s.SetRcode("sf.example", dns.RcodeServerFailure) },
			query:   "sf.example",
			wantErr: ErrServFail,
		},
		{
			name:    "refused",
			setup:   func(s *dnstest.Server) { s.SetRcode("ref.example", dns.RcodeRefused) },
			query:   "ref.example",
			wantErr: ErrServFail,
		},
		{
			name:    "empty answer",
			setup:   func(s *dnstest.Server) { s.Set("empty.example") },
			query:   "empty.example",
			wantErr: ErrNoAddress,
		},
		{
			name:    "only other types",
			setup:   func(s *dnstest.Server) { s.Set("txt.example", `txt.example. 60 IN TXT "hello"`) },
			query:   "txt.example",
			wantErr: ErrNoAddress,
		},
		{
			name: "records for other owners are ignored",
			setup: func(s *dnstest.Server) {
				s.Set("poison.example", "victim.example. 60 IN A 127.0.0.66")
			},
			query:   "poison.example",
			wantErr: ErrNoAddress,
		},
		{
			name: "truncated udp answer retried over tcp",
			setup: func(s *dnstest.Server) {
				s.Set("tc.example", "tc.example. 60 IN A 127.0.0.7", "tc.example. 60 IN AAAA ::1")
				s.Truncate("tc.example", true)
			},
			query:       "tc.example",
			wantAddrs:   []string{"127.0.0.7", "::1"},
			wantChain:   []string{"tc.example"},
			wantQueries: map[string]int{"tc.example": 4},
		},
		{
			name: "one family failing keeps the other",
			setup: func(s *dnstest.Server) {
				s.Set("half.example", "half.example. 60 IN A 127.0.0.8", "half.example. 60 IN AAAA ::1")
				s.SetRcodeType("half.example", dns.TypeAAAA, dns.RcodeServerFailure)
			},
			query:     "half.example",
			wantAddrs: []string{"127.0.0.8"},
			wantChain: []string{"half.example"},
		},
		{
			name: "one family failing, other empty",
			setup: func(s *dnstest.Server) {
				s.Set("half2.example")
				s.SetRcodeType("half2.example", dns.TypeAAAA, dns.RcodeServerFailure)
			},
			query:   "half2.example",
			wantErr: ErrServFail,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			tt.setup(s)
			r, _, _ := newTest(t, Config{NegativeTTL: 30 * time.Second}, s)
			a, err := r.Lookup(context.Background(), tt.query)
			wantErr(t, err, tt.wantErr)
			if tt.wantErr != nil {
				if !strings.Contains(err.Error(), strings.TrimSuffix(strings.ToLower(tt.query), ".")) {
					t.Errorf("error %q does not name the host", err)
				}
			} else {
				var got []string
				for _, addr := range a.Addrs {
					got = append(got, addr.String())
				}
				if !slices.Equal(got, tt.wantAddrs) {
					t.Errorf("Addrs = %v, want %v", got, tt.wantAddrs)
				}
				if !slices.Equal(a.Chain, tt.wantChain) {
					t.Errorf("Chain = %v, want %v", a.Chain, tt.wantChain)
				}
				if a.Cached {
					t.Error("first lookup reported Cached")
				}
			}
			for name, want := range tt.wantQueries {
				if got := s.Queries(name); got != want {
					t.Errorf("queries for %s = %d, want %d", name, got, want)
				}
			}
		})
	}
}

func TestLookupKeepsMappedAddresses(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("m.example", "m.example. 60 IN AAAA ::ffff:127.0.0.1")
	r, _, _ := newTest(t, Config{}, s)
	a := mustLookup(t, r, "m.example")
	if len(a.Addrs) != 1 || !a.Addrs[0].Is4In6() || a.Addrs[0].Unmap() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("Addrs = %v, want one 4in6 address for 127.0.0.1", a.Addrs)
	}
}

func TestLookupInvalidName(t *testing.T) {
	s := dnstest.Start(t)
	r, _, reg := newTest(t, Config{}, s)
	for _, name := range []string{"", ".", "a..b", strings.Repeat("a", 64) + ".example"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if _, err := r.Lookup(context.Background(), name); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if q := s.Queries(""); q != 0 {
		t.Errorf("server saw %d queries for invalid names", q)
	}
	if got := lookupCount(t, reg, "error"); got != 4 {
		t.Errorf("error count = %v, want 4", got)
	}
}

func TestAnswerNotShared(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("own.example", "own.example. 60 IN CNAME o2.example.", "o2.example. 60 IN A 127.0.0.2")
	r, _, _ := newTest(t, Config{MinTTL: 5 * time.Second}, s)
	first := mustLookup(t, r, "own.example")
	first.Addrs[0] = netip.MustParseAddr("127.0.0.99")
	first.Chain[1] = "evil.example"
	_ = append(first.Addrs[:0], netip.MustParseAddr("127.0.0.98"))
	second := mustLookup(t, r, "own.example")
	if !second.Cached {
		t.Fatal("second lookup not cached")
	}
	if second.Addrs[0] != netip.MustParseAddr("127.0.0.2") || second.Chain[1] != "o2.example" {
		t.Fatalf("cached answer changed by a caller: %v %v", second.Addrs, second.Chain)
	}
}

func TestLookupAnswerSize(t *testing.T) {
	tests := []struct {
		name     string
		records  int
		wantAQry int // A queries: 1 over UDP, 2 when retried over TCP
	}{
		// About 1 KB: over the 512 bytes of plain DNS, inside the EDNS0
		// buffer of 1232, so no TCP retry.
		{"fits the edns0 buffer", 60, 1},
		// About 1.6 KB: truncated by the server, complete over TCP.
		{"larger than the edns0 buffer", 100, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			var rrs []string
			for i := range tt.records {
				rrs = append(rrs, fmt.Sprintf("big.example. 60 IN A 127.0.%d.%d", i/250, i%250+1))
			}
			s.Set("big.example", rrs...)
			r, _, _ := newTest(t, Config{}, s)
			a := mustLookup(t, r, "big.example")
			if len(a.Addrs) != tt.records {
				t.Fatalf("got %d addresses, want %d", len(a.Addrs), tt.records)
			}
			if got := s.QueriesByType("big.example", dns.TypeA); got != tt.wantAQry {
				t.Fatalf("A queries = %d, want %d", got, tt.wantAQry)
			}
		})
	}
}
