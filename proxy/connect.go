package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/elazarl/goproxy"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

// connectState travels in goproxy's ProxyCtx.UserData from the CONNECT
// decision to the dial (tunnel) or to each intercepted request.
type connectState struct {
	ex *exchange
	v  vetted
}

// handleConnect authenticates, vets and takes quota for a CONNECT, then
// tells goproxy to splice (tunnel) or to terminate TLS (intercept).
func (p *Proxy) handleConnect(_ string, gctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	r := gctx.Req
	ctx := r.Context()
	ex := p.newExchange(r.RemoteAddr, http.MethodConnect, modeTunnel)

	ts, d := p.admit(ex, r)
	if !d.Allow {
		return p.rejectConnect(ctx, gctx, ex, d, "")
	}
	if ts.Tenant.Mode == tollgate.ModeIntercept {
		ex.mode = modeIntercept
	}
	t, err := policy.ParseAuthority(r.RequestURI)
	if err != nil {
		return p.rejectConnect(ctx, gctx, ex, tollgate.Deny(tollgate.ReasonInvalidRequest, err.Error()), "")
	}
	ex.target = t
	v, d := p.vet(ctx, ts, t, "")
	if !d.Allow {
		return p.rejectConnect(ctx, gctx, ex, d, "")
	}

	if ex.mode == modeIntercept {
		if p.opts.Issuer == nil {
			return p.rejectConnect(ctx, gctx, ex, tollgate.Deny(tollgate.ReasonUpstreamError, "intercept mode is not available on this proxy"), "")
		}
		// Quota is taken per intercepted request, not per tunnel.
		ex.status = http.StatusOK
		ex.decision = tollgate.Allowed
		p.finish(ctx, ex)
		gctx.UserData = &connectState{ex: ex, v: v}
		return &goproxy.ConnectAction{
			Action: goproxy.ConnectMitm,
			TLSConfig: func(string, *goproxy.ProxyCtx) (*tls.Config, error) {
				return p.opts.Issuer.TLSConfig(t.Host)
			},
		}, r.URL.Host
	}

	release, d, retry := p.takeQuota(ctx, ex, ts)
	if !d.Allow {
		return p.rejectConnect(ctx, gctx, ex, d, retry)
	}
	gctx.UserData = &connectState{ex: ex, v: v}
	gctx.Dialer = func(dctx context.Context, _, _ string) (net.Conn, error) {
		conn, addr, err := p.dialVetted(dctx, v, t.Port)
		if err != nil {
			release()
			var de *dialError
			if errors.As(err, &de) {
				ex.refuse(de.decision)
			}
			p.finish(dctx, ex)
			return nil, err
		}
		ex.vetted = addr
		ex.status = http.StatusOK
		ex.decision = tollgate.Allowed
		return p.newTunnelConn(conn, ex, ts, release), nil
	}
	return &goproxy.ConnectAction{Action: goproxy.ConnectAccept}, r.URL.Host
}

// rejectConnect answers a refused CONNECT with the refusal of SPEC §6.
func (p *Proxy) rejectConnect(ctx context.Context, gctx *goproxy.ProxyCtx, ex *exchange, d tollgate.Decision, retryAfter string) (*goproxy.ConnectAction, string) {
	ex.refuse(d)
	resp := refusal(ex, d, retryAfter)
	resp.Close = true
	resp.Header.Set("Connection", "close")
	gctx.Resp = resp
	p.finish(ctx, ex)
	return &goproxy.ConnectAction{Action: goproxy.ConnectReject}, ""
}

// connectionError is goproxy's hook for a failed CONNECT dial. goproxy also
// calls it for copy errors on tunnels that cannot half-close; those already
// carry data and must not get an HTTP response written into them.
func (p *Proxy) connectionError(w io.Writer, gctx *goproxy.ProxyCtx, err error) {
	var de *dialError
	if !errors.As(err, &de) {
		return
	}
	st, ok := gctx.UserData.(*connectState)
	if !ok {
		return
	}
	_ = writeRaw(w, refusal(st.ex, de.decision, ""))
}
