package proxy

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

// Listener wraps the proxy's listener so that a request line net/http would
// reject on its own (e.g. `CONNECT ::1:443` or a percent-encoded host) still
// gets the invalid_request refusal of SPEC §6 rather than a bare
// "400 Bad Request" without Tollgate-Reason. Only the first request line of
// a connection is checked here; the request itself is judged by the proxy.
func (p *Proxy) Listener(ln net.Listener) net.Listener { return &firstLineListener{Listener: ln, p: p} }

type firstLineListener struct {
	net.Listener
	p *Proxy
}

func (l *firstLineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &firstLineConn{Conn: c, p: l.p}, nil
}

// firstLineConn checks the first request line on the first Read, which
// net/http makes on the connection's own goroutine under its read deadline.
type firstLineConn struct {
	net.Conn
	p       *Proxy
	once    sync.Once
	br      *bufio.Reader
	refused bool
}

// maxRequestLine bounds how much the check reads before handing over.
const maxRequestLine = 4 << 10

// lineReaders recycles the check's buffers: every proxy connection makes one.
var lineReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxRequestLine) }}

func (c *firstLineConn) Read(b []byte) (int, error) {
	c.once.Do(c.check)
	if c.refused {
		return 0, net.ErrClosed
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(b)
		}
		// net/http has taken everything the check buffered: recycle it.
		c.br.Reset(nil)
		lineReaders.Put(c.br)
		c.br = nil
	}
	return c.Conn.Read(b)
}

func (c *firstLineConn) check() {
	c.br = lineReaders.Get().(*bufio.Reader)
	c.br.Reset(c.Conn)
	// Look at what has arrived and ask for more only while the line is
	// incomplete: a Peek beyond the buffered bytes blocks for new data, so a
	// complete line must never wait on it.
	var line []byte
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line = buf[:i]
			break
		}
		if len(buf) >= maxRequestLine {
			return // net/http refuses the overlong line
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return // net/http reports the read error
		}
	}
	method, rest, ok := strings.Cut(strings.TrimRight(string(line), "\r"), " ")
	if !ok {
		return
	}
	target, _, ok := strings.Cut(rest, " ")
	if !ok || strings.HasPrefix(target, "/") || target == "*" {
		return
	}
	var err error
	if method == "CONNECT" {
		_, err = policy.ParseAuthority(target)
	} else {
		_, err = policy.ParseAbsoluteForm(target)
	}
	if err == nil {
		return
	}
	ex := c.p.newExchange(c.Conn.RemoteAddr().String(), method, modeTunnel)
	if method != "CONNECT" {
		ex.mode = modeForward
	}
	d := tollgate.Deny(tollgate.ReasonInvalidRequest, err.Error())
	ex.refuse(d)
	c.p.finish(context.Background(), ex)
	_ = writeRaw(c.Conn, refusal(ex, d, ""))
	c.refused = true
	_ = c.Conn.Close()
}

// CloseWrite keeps the half-close of CONNECT tunnels.
func (c *firstLineConn) CloseWrite() error {
	if tc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return tc.CloseWrite()
	}
	return nil
}
