// Package upstream sends HTTP/1.1 requests over a pool of keep-alive
// connections to one destination, on the caller's goroutine.
//
// It is the proxy's delivery client. net/http.Transport hands every round
// trip to two goroutines per connection through channels, with a context,
// timers and selects per request; on the proxy's intercept path, where the
// same core also terminates TLS on both sides, that bookkeeping was about a
// tenth of each request's CPU. A Pool writes the request and reads the
// response head itself, and returns the connection to the pool when the
// caller has read the body to its end.
//
// What it keeps from Transport's behaviour: the request is written by
// (*http.Request).Write, so the bytes on the wire are the same; 1xx
// responses other than 101 are skipped; a connection is reused only after a
// complete body and when neither side asked to close; a request that failed
// on a reused connection before any response byte arrived, other than by a
// timeout, is retried once on a new connection when it was never fully
// written or is replayable (GET, HEAD, OPTIONS, TRACE, or an
// Idempotency-Key header); idle connections are closed after IdleTimeout;
// response heads are bounded (MaxHeaderBytes) and invalid request header
// fields refused.
package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Options configure a Pool.
type Options struct {
	// Dial connects to the destination and returns a connection ready for
	// HTTP, its TLS handshake (if any) done. It is the only way a Pool
	// reaches the network.
	Dial func(ctx context.Context) (net.Conn, error)
	// ResponseHeaderTimeout bounds writing the request and waiting for the
	// response head; 0 means no bound.
	ResponseHeaderTimeout time.Duration
	// IdleTimeout closes a connection left idle this long; default 90s.
	IdleTimeout time.Duration
	// MaxIdle bounds the idle connections kept; default 64.
	MaxIdle int
	// MaxHeaderBytes bounds a response head, 1xx heads included; default
	// 1 MiB. Without it a receiver could grow the proxy's memory with an
	// endless header.
	MaxHeaderBytes int64
}

// ErrRequest marks a failure after the connection was made: the request
// could not be written or no usable response came back. A dial failure is
// returned as Options.Dial returned it.
var ErrRequest = errors.New("upstream request failed")

// ErrInvalidHeader is returned, before anything is sent, for a request
// header that is not a valid HTTP field: (*http.Request).Write would drop
// or rewrite it silently, where Transport refuses the request.
var ErrInvalidHeader = errors.New("invalid request header")

// max1xx limits how many informational responses are skipped,
// as Transport does, so a receiver cannot hold a request forever with them.
const max1xx = 5

// Pool is safe for concurrent use.
type Pool struct {
	opts Options

	mu     sync.Mutex
	idle   []*conn // oldest first; a request takes the newest
	closed bool
	timer  *time.Timer // prunes idle connections; armed while any are idle
	armed  bool
}

type conn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	r      limitReader
	w      writeRecorder
	idleAt time.Time
}

// limitReader is what the connection's bufio.Reader reads through: at most
// left bytes come off the connection. It is MaxHeaderBytes while a response
// head is read and unbounded otherwise.
type limitReader struct {
	nc   net.Conn
	left int64
}

func (r *limitReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.nc.Read(p)
	r.left -= int64(n)
	return n, err
}

var errHeaderTooLarge = errors.New("response head exceeds the size limit")

// writeRecorder keeps the connection's write error: (*http.Request).Write
// reports a failed body write as an opaque error that hides it (net/http
// unwraps it only inside Transport), and the caller needs to tell a timeout.
type writeRecorder struct {
	nc  net.Conn
	err error
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	n, err := w.nc.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// New returns a Pool. opts.Dial is required.
func New(opts Options) *Pool {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 90 * time.Second
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 64
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 1 << 20
	}
	return &Pool{opts: opts}
}

// RoundTrip sends req and returns the response head and the remote address
// of the connection it travelled on. The caller must close resp.Body; the
// connection is reused only if the body was read to io.EOF first.
// A request with a body must have GetBody set to be retried.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, net.Addr, error) {
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, nil, fmt.Errorf("%w: field name %q", ErrInvalidHeader, k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				// The value may be a secret: it stays out of the error.
				return nil, nil, fmt.Errorf("%w: value of %q", ErrInvalidHeader, k)
			}
		}
	}
	ctx := req.Context()
	fresh := false
	for {
		c, reused, err := p.get(ctx, fresh)
		if err != nil {
			return nil, nil, err
		}
		resp, retry, err := p.exchange(ctx, c, req)
		if err == nil {
			return resp, c.nc.RemoteAddr(), nil
		}
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrRequest, context.Cause(ctx))
		}
		if !reused || !retry {
			return nil, nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, nil, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, nil, err
			}
			req.Body = body
		}
		fresh = true // the pool's other idle connections may be as stale
	}
}

// exchange writes req on c and reads the final response head. retry
// reports whether a failure may be retried on another connection: nothing
// of a response arrived and the request either did not get fully written
// or is safe to send twice.
func (p *Pool) exchange(ctx context.Context, c *conn, req *http.Request) (*http.Response, bool, error) {
	var stop func() bool
	if ctx.Done() != nil {
		nc := c.nc
		stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(retry bool, err error) (*http.Response, bool, error) {
		if stop != nil {
			stop()
		}
		return nil, retry, err
	}
	if t := p.opts.ResponseHeaderTimeout; t > 0 {
		// Also bounds the write: a receiver that stops reading a large
		// body must not hold the request forever.
		_ = c.nc.SetDeadline(time.Now().Add(t))
	}
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		if c.w.err != nil {
			err = c.w.err
		}
		// An incomplete request cannot have been acted on, so another
		// connection may carry it, unless this one timed out: then the
		// receiver is slow, not gone.
		return fail(!timeout(err), fmt.Errorf("%w: write request: %w", ErrRequest, err))
	}
	c.r.left = p.opts.MaxHeaderBytes
	if _, err := c.br.Peek(1); err != nil {
		// A receiver that closed the connection may be retried; one that
		// let the header timeout pass would only make the caller wait twice.
		return fail(replayable(req) && !timeout(err), fmt.Errorf("%w: read response: %w", ErrRequest, err))
	}
	var resp *http.Response
	for n := 0; ; n++ {
		r, err := http.ReadResponse(c.br, req)
		if err != nil {
			return fail(false, fmt.Errorf("%w: read response: %w", ErrRequest, err))
		}
		if r.StatusCode >= 200 || r.StatusCode < 100 {
			resp = r
			break
		}
		if r.StatusCode == http.StatusSwitchingProtocols {
			// The proxy strips Upgrade from what it sends; a receiver that
			// switches anyway cannot be relayed as HTTP.
			return fail(false, fmt.Errorf("%w: unrequested protocol switch (101)", ErrRequest))
		}
		if n == max1xx {
			return fail(false, fmt.Errorf("%w: too many 1xx responses", ErrRequest))
		}
	}
	c.r.left = math.MaxInt64
	if p.opts.ResponseHeaderTimeout > 0 {
		_ = c.nc.SetDeadline(time.Time{})
		if stop != nil && ctx.Err() != nil {
			// The cancellation's deadline may have been set just before
			// this cleared it.
			_ = c.nc.SetDeadline(time.Unix(1, 0))
		}
	}
	b := &body{p: p, c: c, rc: resp.Body, stop: stop, reuse: !resp.Close && !req.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, false, nil
	}
	resp.Body = b
	return resp, false, nil
}

func timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// replayable follows net/http's rule for requests that may be sent again
// after a failure whose effect on the server is unknown.
func replayable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// get returns the newest live idle connection, or dials one.
func (p *Pool) get(ctx context.Context, fresh bool) (*conn, bool, error) {
	if !fresh {
		p.mu.Lock()
		for len(p.idle) > 0 {
			c := p.idle[len(p.idle)-1]
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			p.mu.Unlock()
			if time.Since(c.idleAt) < p.opts.IdleTimeout && alive(c.nc) {
				return c, true, nil
			}
			c.nc.Close()
			p.mu.Lock()
		}
		p.mu.Unlock()
	}
	nc, err := p.opts.Dial(ctx)
	if err != nil {
		return nil, false, err
	}
	c := &conn{nc: nc, r: limitReader{nc: nc, left: math.MaxInt64}, w: writeRecorder{nc: nc}}
	c.br = bufio.NewReader(&c.r)
	c.bw = bufio.NewWriter(&c.w)
	return c, false, nil
}

// put makes c available to the next request, or closes it.
func (p *Pool) put(c *conn) {
	c.idleAt = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.opts.MaxIdle {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	if !p.armed {
		p.armed = true
		if p.timer == nil {
			p.timer = time.AfterFunc(p.opts.IdleTimeout, p.prune)
		} else {
			p.timer.Reset(p.opts.IdleTimeout)
		}
	}
	p.mu.Unlock()
}

// prune closes connections idle for IdleTimeout and re-arms for the rest.
func (p *Pool) prune() {
	now := time.Now()
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleAt) >= p.opts.IdleTimeout {
		n++
	}
	stale := append([]*conn(nil), p.idle[:n]...)
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	p.armed = len(p.idle) > 0
	if p.armed {
		p.timer.Reset(p.idle[0].idleAt.Add(p.opts.IdleTimeout).Sub(now))
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.nc.Close()
	}
}

// Idle reports how many connections wait in the pool.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close closes the idle connections and stops pooling: connections in use
// are closed when their responses end. A round trip that raced with Close
// (the proxy closes pools it evicts from its cache) still completes, on a
// connection of its own.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.armed = false
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// body returns its connection to the pool once read to the end.
type body struct {
	p     *Pool
	c     *conn
	rc    io.ReadCloser
	stop  func() bool
	reuse bool
	done  atomic.Bool
}

func (b *body) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close before io.EOF closes the connection: draining an unknown rest
// could take longer than a new handshake.
func (b *body) Close() error {
	b.finish(false)
	return nil
}

func (b *body) finish(eof bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	reuse := eof && b.reuse && b.c.br.Buffered() == 0
	if b.stop != nil && !b.stop() {
		reuse = false // the context's deadline is on the connection
	}
	if reuse {
		b.p.put(b.c)
		return
	}
	b.c.nc.Close()
}
