package proxy

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// maxCoalesce bounds what a coalescingConn holds back: a response larger
// than this goes out as it is written.
const maxCoalesce = 64 << 10

// coalescingConn sits under the intercept TLS layer. goproxy's intercept
// loop writes a response head and body as separate TLS records, each its
// own write(2) and TCP segment; measured on keep-alive intercept traffic,
// write system calls to the worker were the largest single cost. While a
// response the proxy knows to be small is being written (hold), the
// records are collected and sent with one write when the response is
// complete (release).
//
// It never holds bytes back while waiting for the peer: Read sends
// anything held first, so a request/response exchange cannot stall on it
// whatever goproxy writes, in whatever order. Outside a held response
// (an upgraded connection streaming both ways from two goroutines) Read
// and Write take no lock around I/O, so a write blocked on a slow peer
// never blocks the read direction.
type coalescingConn struct {
	net.Conn
	holding atomic.Bool // hold was called and release has not run yet
	mu      sync.Mutex  // guards buf and the writes that drain it
	buf     []byte

	// replyHeader is added to the first write when that write is the
	// head goproxy sends to accept an intercepted CONNECT ("HTTP/1.1 200
	// OK" and an empty line, with no way to add a header): it carries
	// Tollgate-Request-Id there, as the tunnel-mode 200 does.
	replyHeader string
	replied     atomic.Bool
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.replyHeader != "" && !c.replied.Load() && c.replied.CompareAndSwap(false, true) {
		if head, ok := withReplyHeader(p, c.replyHeader); ok {
			if _, err := c.Conn.Write(head); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	if !c.holding.Load() {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding.Load() && len(c.buf)+len(p) <= maxCoalesce {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *coalescingConn) Read(p []byte) (int, error) {
	if c.holding.Load() {
		if err := c.release(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *coalescingConn) Close() error {
	_ = c.release()
	return c.Conn.Close()
}

// withReplyHeader inserts header lines into a bodiless 200 response head.
func withReplyHeader(p []byte, header string) ([]byte, bool) {
	const end = "\r\n\r\n"
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) || !bytes.HasSuffix(p, []byte(end)) ||
		bytes.Count(p, []byte("\r\n")) != 2 || !bytes.Contains(p[:bytes.IndexByte(p, '\r')], []byte(" 200 ")) {
		return nil, false
	}
	head := make([]byte, 0, len(p)+len(header))
	head = append(head, p[:len(p)-2]...)
	head = append(head, header...)
	return append(head, "\r\n"...), true
}

// hold starts collecting writes.
func (c *coalescingConn) hold() {
	c.holding.Store(true)
}

// release stops collecting and sends what was collected.
func (c *coalescingConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding.Store(false)
	return c.flushLocked()
}

func (c *coalescingConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// coalescingHijacker hands goproxy a coalescingConn when it hijacks the
// intercepted CONNECT.
type coalescingHijacker struct {
	http.ResponseWriter
	conn *coalescingConn
}

func (h *coalescingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn.Conn = conn
	return h.conn, rw, nil
}
