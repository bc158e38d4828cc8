package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/elazarl/goproxy"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

// connectState travels from the CONNECT decision to goproxy's intercept
// loop (request context, then ProxyCtx.UserData) and to each intercepted request.
type connectState struct {
	ex   *exchange
	v    vetted
	conn *coalescingConn // the worker's connection under the intercept TLS
	// transportKey is the upstream transport's cache key, the same for every
	// request of the connection; built on its first request.
	transportKey string
}

type connectStateKey struct{}

// serveConnect decides a CONNECT. Refusals and tunnels are answered here on
// the hijacked connection: goproxy's own paths write refusals one header
// line per syscall (a refused CONNECT cost twice an admitted tunnel) and
// drop bytes a client pipelined after the CONNECT head when hijacking.
// Intercepted tunnels go to goproxy, whose MITM loop keeps those bytes.
func (p *Proxy) serveConnect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ex := p.newExchange(r.RemoteAddr, http.MethodConnect, modeTunnel)
	refuse := func(d tollgate.Decision, retryAfter string) {
		ex.refuse(d)
		p.finish(ctx, ex)
		refuseHTTP(w, refusal(ex, d, retryAfter))
	}

	ts, d := p.admit(ex, r)
	if !d.Allow {
		refuse(d, "")
		return
	}
	if ts.Tenant.Mode == tollgate.ModeIntercept {
		ex.mode = modeIntercept
	}
	t, err := policy.ParseAuthority(r.RequestURI)
	if err != nil {
		refuse(tollgate.Deny(tollgate.ReasonInvalidRequest, err.Error()), "")
		return
	}
	ex.target = t
	v, d := p.vet(ctx, ts, t, "")
	if !d.Allow {
		refuse(d, "")
		return
	}

	if ex.mode == modeIntercept {
		if p.opts.Issuer == nil {
			refuse(tollgate.Deny(tollgate.ReasonUpstreamError, "intercept mode is not available on this proxy"), "")
			return
		}
		// Quota is taken per intercepted request, not per tunnel.
		ex.status = http.StatusOK
		ex.decision = tollgate.Allowed
		p.finish(ctx, ex)
		st := &connectState{ex: ex, v: v, conn: &coalescingConn{replyHeader: "Tollgate-Request-Id: " + ex.id + "\r\n"}}
		p.gp.ServeHTTP(&coalescingHijacker{ResponseWriter: w, conn: st.conn}, r.WithContext(context.WithValue(ctx, connectStateKey{}, st)))
		return
	}

	release, d, retry := p.takeQuota(ctx, ex, ts)
	if !d.Allow {
		refuse(d, retry)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		release()
		refuse(tollgate.Deny(tollgate.ReasonUpstreamError, "this connection cannot carry a tunnel"), "")
		return
	}
	proto := fmt.Sprintf("HTTP/%d.%d", r.ProtoMajor, r.ProtoMinor)
	p.serveTunnel(ctx, conn, rw.Reader, proto, ex, ts, v, release)
}

// handleConnect is goproxy's CONNECT hook, reached only for tunnels that
// serveConnect already admitted for interception.
func (p *Proxy) handleConnect(_ string, gctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	st, ok := gctx.Req.Context().Value(connectStateKey{}).(*connectState)
	if !ok {
		return goproxy.RejectConnect, ""
	}
	gctx.UserData = st
	host := st.v.target.Host
	return &goproxy.ConnectAction{
		Action: goproxy.ConnectMitm,
		TLSConfig: func(string, *goproxy.ProxyCtx) (*tls.Config, error) {
			return p.opts.Issuer.TLSConfig(host)
		},
	}, gctx.Req.URL.Host
}

// serveTunnel dials the vetted address, answers 200 (with the request id,
// like every response the proxy makes) and splices until both sides end.
// Bytes the client sent after the CONNECT head are in buffered and go first.
func (p *Proxy) serveTunnel(ctx context.Context, client net.Conn, buffered *bufio.Reader, proto string, ex *exchange, ts *TenantState, v vetted, release func()) {
	conn, addr, err := p.dialVetted(ctx, v, v.target.Port)
	if err != nil {
		release()
		d := upstreamDecision(v.target.String(), err)
		var de *dialError
		if errors.As(err, &de) {
			d = de.decision
		}
		ex.refuse(d)
		p.finish(ctx, ex)
		_ = writeRaw(client, refusal(ex, d, ""))
		_ = client.Close()
		return
	}
	ex.vetted = addr
	ex.status = http.StatusOK
	ex.decision = tollgate.Allowed
	up := p.newTunnelConn(conn, client, ex, ts, release)
	if _, err := io.WriteString(client, proto+" 200 Connection established\r\nTollgate-Request-Id: "+ex.id+"\r\n\r\n"); err != nil {
		up.abort()
		return
	}
	var src io.Reader = client
	if buffered != nil && buffered.Buffered() > 0 {
		head, _ := buffered.Peek(buffered.Buffered())
		src = io.MultiReader(bytes.NewReader(append([]byte(nil), head...)), client)
	}
	up.splice(src)
}

// connectionError is goproxy's hook for connection failures on the path it
// still drives (TLS intercept). By then the 200 has been sent and the client
// expects TLS, so an HTTP error written there would be garbage: goproxy
// closes the connection and the proxy's own log line carries the reason.
func (p *Proxy) connectionError(io.Writer, *goproxy.ProxyCtx, error) {}
