package proxy

import (
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
	proto := fmt.Sprintf("HTTP/%d.%d", r.ProtoMajor, r.ProtoMinor)
	return &goproxy.ConnectAction{
		Action: goproxy.ConnectHijack,
		Hijack: func(_ *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
			p.serveTunnel(ctx, client, proto, ex, ts, v, release)
		},
	}, r.URL.Host
}

// serveTunnel dials the vetted address, answers 200 (with the request id,
// like every response the proxy makes) and splices until both sides end.
// It runs on the hijacked connection's own goroutine.
func (p *Proxy) serveTunnel(ctx context.Context, client net.Conn, proto string, ex *exchange, ts *TenantState, v vetted, release func()) {
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
	up.splice()
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

// connectionError is goproxy's hook for connection failures on the paths it
// still drives (TLS intercept). By then the 200 has been sent and the client
// expects TLS, so an HTTP error written there would be garbage: goproxy
// closes the connection and the proxy's own log line carries the reason.
func (p *Proxy) connectionError(io.Writer, *goproxy.ProxyCtx, error) {}
