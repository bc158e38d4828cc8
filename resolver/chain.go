package resolver

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// result is what one network resolution found.
type result struct {
	addrs []netip.Addr
	chain []string
	// ttl is the smallest TTL of the records used, before clamping.
	ttl time.Duration
	// partial is set when one address family failed and the other answered.
	partial bool
}

// reply is the outcome of one query type for one name.
type reply struct {
	msg *dns.Msg
	err error
}

// resolve queries A and AAAA for name, follows CNAME chains inside the
// answers and, when a chain ends without addresses, queries its target,
// within MaxCNAMEHops in all. The chain is returned even with an error so
// callers can see how far it got.
func (r *Resolver) resolve(ctx context.Context, name string) (result, error) {
	res := result{chain: []string{name}, ttl: time.Duration(math.MaxInt64)}
	current := name
	for {
		replies := r.queryBoth(ctx, current)
		prefix := res.chain
		var (
			hardErr error
			nx      bool
			ends    []string
			found   int
		)
		for i, rep := range replies {
			if rep.err != nil {
				if hardErr == nil {
					hardErr = rep.err
				}
				continue
			}
			if rep.msg.Rcode == dns.RcodeNameError {
				nx = true
			}
			w, err := walk(rep.msg, current, qtypes[i], prefix)
			if err != nil {
				res.chain = mergeChain(res.chain, w.names)
				return res, err
			}
			res.chain = mergeChain(res.chain, w.names)
			res.ttl = min(res.ttl, w.ttl)
			for _, a := range w.addrs {
				if !slices.Contains(res.addrs, a) {
					res.addrs = append(res.addrs, a)
				}
			}
			found += len(w.addrs)
			ends = append(ends, w.end)
		}
		if len(res.chain)-1 > MaxCNAMEHops {
			return res, fmt.Errorf("%w: more than %d cname hops", ErrCNAMELoop, MaxCNAMEHops)
		}
		switch {
		case found > 0:
			res.partial = hardErr != nil
			return res, nil
		case hardErr != nil:
			return res, hardErr
		case nx:
			return res, ErrNXDomain
		case ends[0] != ends[1]:
			return res, fmt.Errorf("%w: A and AAAA answers for %s follow different cnames", ErrServFail, current)
		case ends[0] == current:
			return res, ErrNoAddress
		}
		// The chain left the answer without addresses: ask for its end.
		current = ends[0]
	}
}

// qtypes is the order of queryBoth's replies, which is the order addresses
// are reported in.
var qtypes = [2]uint16{dns.TypeA, dns.TypeAAAA}

// queryBoth asks for A and AAAA in parallel.
func (r *Resolver) queryBoth(ctx context.Context, name string) [2]reply {
	var out [2]reply
	done := make(chan struct{})
	go func() {
		defer close(done)
		out[1].msg, out[1].err = r.exchange(ctx, name, qtypes[1])
	}()
	out[0].msg, out[0].err = r.exchange(ctx, name, qtypes[0])
	<-done
	return out
}

// walked is the part of one answer reachable from the queried name.
type walked struct {
	names []string // CNAME targets followed, in order
	end   string   // the last name of the chain
	addrs []netip.Addr
	ttl   time.Duration
}

// walk follows CNAMEs in msg's answer section from name and collects the
// addresses of type qtype owned by the chain's end. Records owned by names
// off the chain are ignored. prefix holds the names already followed by
// earlier queries, for loop detection.
func walk(msg *dns.Msg, name string, qtype uint16, prefix []string) (walked, error) {
	w := walked{end: name, ttl: time.Duration(math.MaxInt64)}
	for {
		cname := findCNAME(msg.Answer, w.end)
		if cname == nil {
			break
		}
		target := normalize(cname.Target)
		if !isHostName(target) {
			// miekg/dns renders odd bytes as escapes ("loc\097lhost"); such a
			// name would slip past the policy's name rules, so it is refused.
			return w, fmt.Errorf("%w: cname %s points to %q, not a host name", ErrServFail, w.end, target)
		}
		if slices.Contains(prefix, target) || slices.Contains(w.names, target) {
			return w, fmt.Errorf("%w: %s points back to %s", ErrCNAMELoop, w.end, target)
		}
		if len(prefix)+len(w.names) > MaxCNAMEHops {
			return w, fmt.Errorf("%w: more than %d cname hops", ErrCNAMELoop, MaxCNAMEHops)
		}
		w.names = append(w.names, target)
		w.ttl = min(w.ttl, ttlOf(cname))
		w.end = target
	}
	for _, rr := range msg.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || h.Class != dns.ClassINET || normalize(h.Name) != w.end {
			continue
		}
		var addr netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			a, ok := netip.AddrFromSlice(v.A.To4())
			if !ok {
				continue
			}
			addr = a
		case *dns.AAAA:
			a, ok := netip.AddrFromSlice(v.AAAA.To16())
			if !ok {
				continue
			}
			// Kept as 16 bytes even when IPv4-mapped: the policy unmaps.
			addr = a
		default:
			continue
		}
		if !slices.Contains(w.addrs, addr) {
			w.addrs = append(w.addrs, addr)
		}
		w.ttl = min(w.ttl, ttlOf(rr))
	}
	return w, nil
}

func findCNAME(answer []dns.RR, owner string) *dns.CNAME {
	for _, rr := range answer {
		c, ok := rr.(*dns.CNAME)
		if ok && c.Hdr.Class == dns.ClassINET && normalize(c.Hdr.Name) == owner {
			return c
		}
	}
	return nil
}

func ttlOf(rr dns.RR) time.Duration {
	return time.Duration(rr.Header().Ttl) * time.Second
}

// normalize lower-cases a DNS name and drops the root dot.
func normalize(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// isHostName reports whether name (lower-case, no root dot) is made of
// letters, digits, hyphens and underscores in labels of 1 to 63 bytes, 253
// bytes at most.
func isHostName(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0
}

// mergeChain appends the names not yet in chain: the A and AAAA answers
// usually repeat the same CNAMEs.
func mergeChain(chain, names []string) []string {
	for _, n := range names {
		if !slices.Contains(chain, n) {
			chain = append(chain, n)
		}
	}
	return chain
}
