package resolver

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestCheckResponse(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	tests := []struct {
		name   string
		mutate func(m *dns.Msg)
		ok     bool
	}{
		{"matching", func(*dns.Msg) {}, true},
		{"name differs in case only", func(m *dns.Msg) { m.Question[0].Name = "A.Example." }, true},
		{"other id", func(m *dns.Msg) { m.Id++ }, false},
		{"not a response", func(m *dns.Msg) { m.Response = false }, false},
		{"other opcode", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, false},
		{"other name", func(m *dns.Msg) { m.Question[0].Name = "b.example." }, false},
		{"other type", func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }, false},
		{"other class", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, false},
		{"no question", func(m *dns.Msg) { m.Question = nil }, false},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, false},
		{"nxdomain without question", func(m *dns.Msg) { m.Rcode = dns.RcodeNameError; m.Question = nil }, false},
		{"refused without question", func(m *dns.Msg) { m.Rcode = dns.RcodeRefused; m.Question = nil }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := new(dns.Msg).SetReply(q)
			tt.mutate(resp)
			if err := checkResponse(q, resp); (err == nil) != tt.ok {
				t.Fatalf("checkResponse = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// walkSeeds are answer sections the fuzz target starts from.
var walkSeeds = [][]string{
	{"a.example. 60 IN A 127.0.0.2", "a.example. 60 IN A 127.0.0.2", "a.example. 60 IN AAAA ::1"},
	{"a.example. 60 IN CNAME B.example.", "b.example. 30 IN A 127.0.0.3"},
	{"a.example. 60 IN CNAME a.example."},
	{"a.example. 60 IN CNAME b.example.", "b.example. 60 IN CNAME c.example.", "c.example. 60 IN CNAME a.example."},
	{"a.example. 60 CH A 127.0.0.2", "x.example. 60 IN A 127.0.0.4"},
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name      string
		answer    []string
		prefix    []string
		wantNames []string
		wantAddrs []string
		wantTTL   int
		ok        bool
	}{
		{"dedup", walkSeeds[0], nil, nil, []string{"127.0.0.2"}, 60, true},
		{"cname lower-cased", walkSeeds[1], nil, []string{"b.example"}, []string{"127.0.0.3"}, 30, true},
		{"self loop", walkSeeds[2], nil, nil, nil, 0, false},
		{"three-name loop", walkSeeds[3], nil, nil, nil, 0, false},
		{"other class and owner ignored", walkSeeds[4], nil, nil, nil, 0, true},
		{"escaped target refused", []string{`a.example. 60 IN CNAME loc\097lhost.`, "localhost. 60 IN A 127.0.0.1"}, nil, nil, nil, 0, false},
		{"target with escaped dot refused", []string{`a.example. 60 IN CNAME b\.example.`}, nil, nil, nil, 0, false},
		{"target already in earlier chain", []string{"a.example. 60 IN CNAME z.example."}, []string{"z.example"}, nil, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msgWith(t, tt.answer)
			w, err := walk(m, "a.example", dns.TypeA, append([]string{"a.example"}, tt.prefix...))
			if (err == nil) != tt.ok {
				t.Fatalf("walk err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			var addrs []string
			for _, a := range w.addrs {
				addrs = append(addrs, a.String())
			}
			if !slices.Equal(w.names, tt.wantNames) || !slices.Equal(addrs, tt.wantAddrs) {
				t.Fatalf("names %v addrs %v, want %v %v", w.names, addrs, tt.wantNames, tt.wantAddrs)
			}
			if len(addrs) > 0 && int(w.ttl.Seconds()) != tt.wantTTL {
				t.Fatalf("ttl %s, want %ds", w.ttl, tt.wantTTL)
			}
		})
	}
}

func TestIsHostName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"a", true},
		{"a.example", true},
		{"_acme-challenge.a-b.example", true},
		{strings.Repeat("a", 63) + ".example", true},
		{strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat("a.", 126) + "a", true},
		{strings.Repeat("a.", 126) + "ab", false},
		{"", false},
		{".", false},
		{"a.", false},
		{".a", false},
		{"a..b", false},
		{"A.example", false},
		{`loc\097lhost`, false},
		{"a b.example", false},
		{`a\.b`, false},
		{"exämple.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := isHostName(tt.in); got != tt.ok {
				t.Fatalf("isHostName(%q) = %v, want %v", tt.in, got, tt.ok)
			}
		})
	}
}

func msgWith(t testing.TB, answer []string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("a.example.", dns.TypeA)
	m.Response = true
	for _, s := range answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("NewRR(%q): %v", s, err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

// FuzzWalk feeds arbitrary wire-format responses to the answer walker: it
// is the code that reads what a (possibly hostile) server sent.
func FuzzWalk(f *testing.F) {
	for _, answer := range walkSeeds {
		packed, err := msgWith(f, answer).Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(packed, false)
		f.Add(packed, true)
	}
	f.Fuzz(func(t *testing.T, wire []byte, aaaa bool) {
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return
		}
		qtype := dns.TypeA
		if aaaa {
			qtype = dns.TypeAAAA
		}
		prefix := []string{"a.example"}
		w, err := walk(m, "a.example", qtype, prefix)
		if err != nil {
			return
		}
		if len(prefix)+len(w.names)-1 > MaxCNAMEHops {
			t.Fatalf("%d hops followed", len(w.names))
		}
		seen := map[string]bool{"a.example": true}
		for _, n := range w.names {
			if seen[n] || n != strings.ToLower(n) || strings.HasSuffix(n, ".") || n == "" {
				t.Fatalf("bad chain name %q in %v", n, w.names)
			}
			seen[n] = true
		}
		for i, a := range w.addrs {
			if !a.IsValid() || a.Is4() != !aaaa || slices.Contains(w.addrs[:i], a) {
				t.Fatalf("bad address %v in %v", a, w.addrs)
			}
		}
		if len(w.addrs) > 0 && w.ttl < 0 {
			t.Fatalf("negative ttl %s", w.ttl)
		}
	})
}
