package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers DNS queries over UDP and TCP on one 127.0.0.1 port.
type Server struct {
	tb   testing.TB
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	mu      sync.Mutex
	names   map[string]*entry
	queries map[string]int
	byType  map[string]map[uint16]int
}

// entry is what the server knows about one name. A name with an entry
// exists (NOERROR) unless rcode says otherwise.
type entry struct {
	rrs      []dns.RR
	fn       func(q dns.Question, n int) []dns.RR
	rcode    int
	byType   map[uint16]int // rcode overrides per query type
	truncate bool
	drop     bool
}

// portAttempts bounds the search for a port free for both UDP and TCP; the
// UDP port is picked by the kernel and the TCP one may be taken by then.
const portAttempts = 20

// Start listens on a random loopback port for UDP and TCP and stops the
// server when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		tb:      tb,
		names:   make(map[string]*entry),
		queries: make(map[string]int),
		byType:  make(map[string]map[uint16]int),
	}
	pc, ln, err := listenPair()
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: ln, Handler: s}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		served := make(chan error, 1)
		go func() { served <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-served:
			tb.Fatalf("dnstest: serve: %v", err)
		}
	}
	tb.Cleanup(func() {
		// Shutdown errors only say the server was already stopped.
		_ = s.udp.Shutdown()
		_ = s.tcp.Shutdown()
	})
	return s
}

func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range portAttempts {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		ln, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("no loopback port free for udp and tcp: %w", lastErr)
}

// Addr returns "127.0.0.1:port", the same port for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Set replaces the records served for name. Every CNAME given is included in
// every answer, other records only in answers to their own type, whatever
// their owner: a test writes a whole CNAME chain into one answer by giving
// its records here, or splits it across names to force follow-up queries.
// Set with no records makes the name exist with no data.
func (s *Server) Set(name string, rrs ...string) {
	s.tb.Helper()
	parsed := make([]dns.RR, 0, len(rrs))
	for _, text := range rrs {
		rr, err := dns.NewRR(text)
		if err != nil {
			s.tb.Fatalf("dnstest: parse %q: %v", text, err)
		}
		if rr == nil {
			s.tb.Fatalf("dnstest: parse %q: no record", text)
		}
		parsed = append(parsed, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(name)
	e.rrs, e.fn = parsed, nil
}

// SetFunc makes answers for name dynamic: fn gets the question and n, the
// number of queries of any type received for name including this one, so
// the first query sees n == 1.
func (s *Server) SetFunc(name string, fn func(q dns.Question, n int) []dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(name)
	e.rrs, e.fn = nil, fn
}

// SetRcode sets the response code of every answer for name, keeping its
// records; dns.RcodeSuccess makes an unknown name exist.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entryLocked(name).rcode = rcode
}

// SetRcodeType sets the response code of answers for name to queries of
// qtype only, e.g. SERVFAIL for AAAA while A answers normally.
func (s *Server) SetRcodeType(name string, qtype uint16, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(name)
	if e.byType == nil {
		e.byType = make(map[uint16]int)
	}
	e.byType[qtype] = rcode
}

// Truncate makes UDP answers for name empty with the TC bit set, so a
// client must retry over TCP to learn anything. Both the UDP and the TCP
// query are counted.
func (s *Server) Truncate(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entryLocked(name).truncate = on
}

// Drop makes the server count queries for name and never answer them, over
// UDP and TCP, so clients run into their timeout.
func (s *Server) Drop(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entryLocked(name).drop = on
}

// Queries returns how many queries of any type arrived for name.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[canonical(name)]
}

// QueriesByType returns how many queries of qtype arrived for name.
func (s *Server) QueriesByType(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byType[canonical(name)][qtype]
}

func (s *Server) entryLocked(name string) *entry {
	key := canonical(name)
	e, ok := s.names[key]
	if !ok {
		e = &entry{}
		s.names[key] = e
	}
	return e
}

func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	reply := s.answer(req, isUDP(w))
	if reply == nil {
		return
	}
	// A write error means the client went away; there is nobody to tell.
	_ = w.WriteMsg(reply)
}

func isUDP(w dns.ResponseWriter) bool {
	_, ok := w.LocalAddr().(*net.UDPAddr)
	return ok
}
