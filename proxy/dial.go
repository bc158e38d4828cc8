package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/tollgate-dev/tollgate"
)

// errSocketDenied means the socket-level re-check refused an address the
// request-level check had allowed: a bug or a race, never expected.
var errSocketDenied = errors.New("address refused at socket level")

// dialError carries the refusal a failed upstream dial turns into.
type dialError struct {
	decision tollgate.Decision
	err      error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dialVetted connects to the first vetted address that accepts, in resolver
// order, never re-resolving. The Control hook re-checks the address the
// kernel is about to connect to, as defence in depth.
func (p *Proxy) dialVetted(ctx context.Context, v vetted, port uint16) (net.Conn, netip.Addr, error) {
	eng := p.engine.Load()
	var lastErr error
	for _, addr := range v.addrs {
		want := addr
		d := net.Dialer{
			Timeout: p.opts.ConnectTimeout,
			// No TCP keep-alive probes: the idle timeout already ends dead
			// tunnels, and the probes' four setsockopt calls per connection
			// were a measurable share of a short tunnel's cost.
			KeepAlive: -1,
			ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("socket address %q: %w", address, errSocketDenied)
				}
				got := ap.Addr().Unmap()
				if got != want || ap.Port() != port {
					return fmt.Errorf("socket address %s is not the vetted %s: %w", got, want, errSocketDenied)
				}
				if dec := eng.CheckAddr(got, port, v.tp); !dec.Allow {
					return fmt.Errorf("socket address %s: %w", got, errSocketDenied)
				}
				return nil
			},
		}
		start := p.opts.Now()
		conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, port).String())
		if err == nil {
			if m := p.opts.Metrics; m != nil {
				m.connect.Observe(p.opts.Now().Sub(start).Seconds())
			}
			return conn, addr, nil
		}
		lastErr = err
		if errors.Is(err, errSocketDenied) || ctx.Err() != nil {
			break
		}
	}
	return nil, netip.Addr{}, &dialError{decision: upstreamDecision(v.target.String(), lastErr), err: lastErr}
}

// upstreamDecision classifies a connection failure as upstream_timeout or
// upstream_error.
func upstreamDecision(target string, err error) tollgate.Decision {
	if isTimeout(err) {
		return tollgate.Deny(tollgate.ReasonUpstreamTimeout, fmt.Sprintf("connecting to %s timed out", target))
	}
	if errors.Is(err, errSocketDenied) {
		return tollgate.Deny(tollgate.ReasonForbiddenAddress, "the connected address failed the socket-level check")
	}
	return tollgate.Deny(tollgate.ReasonUpstreamError, fmt.Sprintf("connecting to %s failed", target))
}

// isTimeout reports a context deadline or a network timeout anywhere in err.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
