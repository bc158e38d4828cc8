package proxy

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tunnelConn is the upstream side of a CONNECT tunnel. goproxy splices
// through it, so it is where the proxy counts bytes, throttles a tenant's
// bandwidth, enforces the idle and maximum tunnel durations and, on close,
// releases the concurrency slot and reports the exchange.
type tunnelConn struct {
	net.Conn
	peer     net.Conn // the client side of the tunnel
	p        *Proxy
	ex       *exchange
	tenant   string
	bps      int64
	release  func()
	out, in  atomic.Int64
	lastSeen atomic.Int64 // unix nanos of the last byte either way
	idle     *time.Timer
	deadline *time.Timer
	closed   sync.Once
}

func (p *Proxy) newTunnelConn(conn, peer net.Conn, ex *exchange, ts *TenantState, release func()) *tunnelConn {
	c := &tunnelConn{Conn: conn, peer: peer, p: p, ex: ex, tenant: ts.Tenant.ID, bps: ts.Tenant.Quotas.BytesPerSecond, release: release}
	c.lastSeen.Store(time.Now().UnixNano())
	p.track(c, true)
	c.idle = time.AfterFunc(p.opts.IdleTimeout, c.checkIdle)
	c.deadline = time.AfterFunc(p.opts.MaxTunnelDuration, c.abort)
	if m := p.opts.Metrics; m != nil {
		m.activeTunnels.Inc()
	}
	return c
}

// checkIdle closes the tunnel when neither side has moved a byte for the
// idle timeout.
func (c *tunnelConn) checkIdle() {
	idleFor := time.Since(time.Unix(0, c.lastSeen.Load()))
	if idleFor >= c.p.opts.IdleTimeout {
		c.abort()
		return
	}
	c.idle.Reset(c.p.opts.IdleTimeout - idleFor)
}

func (c *tunnelConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.in.Add(int64(n))
		c.moved(n)
	}
	return n, err
}

func (c *tunnelConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.out.Add(int64(n))
		c.moved(n)
	}
	return n, err
}

func (c *tunnelConn) moved(n int) {
	c.lastSeen.Store(time.Now().UnixNano())
	if c.bps <= 0 || c.p.opts.Limiter == nil {
		return
	}
	wait, err := c.p.opts.Limiter.Transfer(context.Background(), c.tenant, c.bps, n)
	if err == nil && wait > 0 {
		time.Sleep(wait)
	}
}

// copyBufs recycles splice buffers: io.Copy would otherwise allocate 32 KiB
// per direction per tunnel, which dominated the allocation profile.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom is the client-to-upstream copy (goproxy's io.Copy lands here).
// The anonymous wrappers hide ReadFrom/WriteTo so the copy goes through the
// counting Read and Write above.
func (c *tunnelConn) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{r}, *bp)
}

// WriteTo is the upstream-to-client copy.
func (c *tunnelConn) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{c}, *bp)
}

// abort closes both sides at once, unblocking both copy directions.
func (c *tunnelConn) abort() {
	_ = c.peer.Close()
	_ = c.Close()
}

// splice copies both ways until both directions end; client reads the
// client side (the connection, after any bytes buffered before the tunnel). A clean EOF is passed
// on as a half-close (the other direction may still be answering); an error
// in either direction ends the tunnel.
func (c *tunnelConn) splice(client io.Reader) {
	var ended atomic.Int32 // directions finished; the second one needs no half-close
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.WriteTo(c.peer); err != nil {
			c.abort()
			return
		}
		if ended.Add(1) == 1 {
			closeWrite(c.peer)
		}
	}()
	if _, err := c.ReadFrom(client); err != nil {
		c.abort()
	} else if ended.Add(1) == 1 {
		closeWrite(c.Conn)
	}
	<-done
	c.abort()
}

func closeWrite(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
}

func (c *tunnelConn) Close() error {
	err := c.Conn.Close()
	c.closed.Do(func() {
		c.idle.Stop()
		c.deadline.Stop()
		c.release()
		if m := c.p.opts.Metrics; m != nil {
			m.activeTunnels.Dec()
		}
		c.ex.bytesOut = c.out.Load()
		c.ex.bytesIn = c.in.Load()
		c.p.finish(context.Background(), c.ex)
		c.p.track(c, false)
	})
	return err
}

// track keeps the set of open tunnels for Shutdown.
func (p *Proxy) track(c *tunnelConn, open bool) {
	p.tunnelsMu.Lock()
	defer p.tunnelsMu.Unlock()
	if open {
		p.tunnels[c] = struct{}{}
	} else {
		delete(p.tunnels, c)
	}
}

// Shutdown drains the tunnels that net/http no longer tracks once
// hijacked: it waits for them to end until ctx is done, then closes the
// rest. Every tunnel has been reported (log, metrics, audit) when it returns,
// so the audit writer can be flushed after it.
func (p *Proxy) Shutdown(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		p.tunnelsMu.Lock()
		n := len(p.tunnels)
		p.tunnelsMu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			p.tunnelsMu.Lock()
			open := make([]*tunnelConn, 0, len(p.tunnels))
			for c := range p.tunnels {
				open = append(open, c)
			}
			p.tunnelsMu.Unlock()
			for _, c := range open {
				c.abort()
			}
			return
		case <-tick.C:
		}
	}
}
