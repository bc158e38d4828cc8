package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// ednsSize is the EDNS0 UDP buffer advertised (DNS flag day 2020): answers
// larger than this come back truncated and are asked again over TCP, rather
// than risking IP fragmentation.
const ednsSize = 1232

// exchange asks the servers in order for one record type of name and returns
// the first answer that says something about the name (NOERROR or NXDOMAIN).
// Failures (transport errors, timeouts, SERVFAIL, REFUSED, malformed or
// mismatched responses) move on to the next server.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	var (
		lastErr              error
		sawTimeout, sawRcode bool
	)
	for _, server := range r.cfg.Servers {
		resp, err := r.ask(ctx, server, name, qtype)
		if err != nil {
			lastErr = err
			sawTimeout = sawTimeout || isTimeout(err)
			continue
		}
		if resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError {
			return resp, nil
		}
		sawRcode = true
		lastErr = fmt.Errorf("%s %s at %s: rcode %s", dns.TypeToString[qtype], name, server, rcodeString(resp.Rcode))
	}
	if lastErr == nil {
		return nil, fmt.Errorf("%w: no servers", ErrServFail)
	}
	// A server that answered with a failure is a failure whatever the
	// others did; timeouts alone make a timeout.
	if sawTimeout && !sawRcode {
		return nil, fmt.Errorf("%w: %w", ErrTimeout, lastErr)
	}
	return nil, fmt.Errorf("%w: %w", ErrServFail, lastErr)
}

// ask sends one query to one server over UDP, and again over TCP when the
// UDP answer is truncated.
func (r *Resolver) ask(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype) // random id from crypto/rand, RD set
	q.SetEdns0(ednsSize, false)

	resp, err := r.send(ctx, r.udp, q, server)
	if resp != nil && resp.Id == q.Id && resp.Truncated {
		// A truncated UDP answer may also fail to unpack: retry either way.
		q.Id = dns.Id()
		resp, err = r.send(ctx, r.tcp, q, server)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", dns.TypeToString[qtype], name, server, err)
	}
	if err := checkResponse(q, resp); err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", dns.TypeToString[qtype], name, server, err)
	}
	return resp, nil
}

func (r *Resolver) send(ctx context.Context, c *dns.Client, q *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	resp, _, err := c.ExchangeContext(ctx, q, server)
	return resp, err
}

// checkResponse rejects anything that is not the answer to q: the id is
// checked by miekg/dns, the question and header here, so a stray or forged
// packet for another name cannot fill the cache.
func checkResponse(q, resp *dns.Msg) error {
	switch {
	case resp.Id != q.Id:
		return errors.New("response id mismatch")
	case !resp.Response || resp.Opcode != dns.OpcodeQuery:
		return errors.New("not a query response")
	case resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError:
		// Failures often carry no question section (REFUSED from public
		// resolvers); the caller only needs the code.
		return nil
	case len(resp.Question) != 1:
		return fmt.Errorf("response has %d questions", len(resp.Question))
	}
	got, want := resp.Question[0], q.Question[0]
	if got.Qtype != want.Qtype || got.Qclass != want.Qclass || !strings.EqualFold(got.Name, want.Name) {
		return fmt.Errorf("response question %s does not match %s", got.String(), want.String())
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func rcodeString(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("%d", rcode)
}
