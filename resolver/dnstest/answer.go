package dnstest

import (
	"github.com/miekg/dns"
)

// udpSize is the buffer the server advertises back when a query carries
// EDNS0; it matches the resolver's, as the DNS flag day 2020 recommends.
const udpSize = 1232

// answer builds the reply to req, or nil when the name is to be dropped.
func (s *Server) answer(req *dns.Msg, udp bool) *dns.Msg {
	reply := new(dns.Msg)
	if len(req.Question) != 1 {
		return reply.SetRcodeFormatError(req)
	}
	q := req.Question[0]
	key := canonical(q.Name)

	s.mu.Lock()
	s.queries[key]++
	n := s.queries[key]
	if s.byType[key] == nil {
		s.byType[key] = make(map[uint16]int)
	}
	s.byType[key][q.Qtype]++
	e, known := s.names[key]
	var (
		rrs            []dns.RR
		fn             func(dns.Question, int) []dns.RR
		rcode          = dns.RcodeNameError
		truncate, drop bool
	)
	if known {
		rrs, fn, rcode, truncate, drop = e.rrs, e.fn, e.rcode, e.truncate, e.drop
		if rc, ok := e.byType[q.Qtype]; ok {
			rcode = rc
		}
	}
	s.mu.Unlock()

	if drop {
		return nil
	}
	reply.SetReply(req)
	reply.RecursionAvailable = true
	reply.Rcode = rcode
	bufSize := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		reply.SetEdns0(udpSize, false)
		bufSize = max(int(min(opt.UDPSize(), udpSize)), dns.MinMsgSize)
	}
	if udp && truncate {
		reply.Truncated = true
		return reply
	}
	if rcode != dns.RcodeSuccess && rcode != dns.RcodeNameError {
		// Failures carry no data, as from real servers.
		return reply
	}
	if fn != nil {
		rrs = fn(q, n)
	}
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; t == dns.TypeCNAME || t == q.Qtype {
			reply.Answer = append(reply.Answer, dns.Copy(rr))
		}
	}
	if udp {
		// Answers too big for the client's buffer are cut and flagged the
		// way a real server does it, so size-driven TCP retries are testable.
		reply.Truncate(bufSize)
	}
	return reply
}
