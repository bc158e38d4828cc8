package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/elazarl/goproxy"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

// Proxy is the egress proxy's HTTP handler. It decides every request itself;
// intercepted CONNECTs then go through goproxy's TLS intercept loop, while
// refusals, tunnels and absolute-form forwarding are answered here so that
// refusals keep their exact status line.
type Proxy struct {
	opts       Options
	engine     atomic.Pointer[policy.Engine]
	gp         *goproxy.ProxyHttpServer
	transports *transportCache
	signKeys   *signKeyCache

	tunnelsMu sync.Mutex
	tunnels   map[*tunnelConn]struct{}
}

// New builds a Proxy. It fails if a required option is missing.
func New(opts Options) (*Proxy, error) {
	if opts.Engine == nil || opts.Resolver == nil || opts.Auth == nil || opts.Tenants == nil {
		return nil, errors.New("proxy: Engine, Resolver, Auth and Tenants are required")
	}
	opts.setDefaults()
	p := &Proxy{opts: opts, tunnels: map[*tunnelConn]struct{}{}}
	p.engine.Store(opts.Engine)
	p.transports = newTransportCache(p, 1024)
	p.signKeys = newSignKeyCache(4096)

	gp := goproxy.NewProxyHttpServer()
	gp.Logger = slogPrintf{opts.Logger}
	// goproxy's defaults read HTTPS_PROXY from the environment and skip
	// upstream TLS verification: neither may ever apply here.
	gp.ConnectDial = nil
	gp.ConnectDialWithReq = nil
	gp.Tr = &http.Transport{Proxy: nil, DialContext: refuseDial}
	gp.KeepAcceptEncoding = true
	gp.KeepDestinationHeaders = true
	gp.ConnectionErrHandler = p.connectionError
	gp.OnRequest().HandleConnectFunc(p.handleConnect)
	gp.OnRequest().DoFunc(p.handleIntercepted)
	p.gp = gp
	return p, nil
}

// SetEngine swaps the policy engine (egress settings changed on reload).
func (p *Proxy) SetEngine(e *policy.Engine) { p.engine.Store(e) }

// ServeHTTP dispatches CONNECT to goproxy and forwards absolute-form requests.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.serveConnect(w, r)
		return
	}
	p.serveForward(w, r)
}

// admit authenticates the caller and finds the tenant's prepared state.
func (p *Proxy) admit(ex *exchange, r *http.Request) (*TenantState, tollgate.Decision) {
	caller, d := p.opts.Auth.AuthenticateProxy(r.Header.Get("Proxy-Authorization"), ex.client.Addr())
	ex.caller = caller
	if !d.Allow {
		return nil, d
	}
	ts, ok := p.opts.Tenants.TenantState(caller.Tenant)
	if !ok {
		return nil, tollgate.Deny(tollgate.ReasonProxyAuthRequired, "the tenant does not exist")
	}
	if ts.Tenant.Status == tollgate.TenantSuspended {
		return nil, tollgate.Deny(tollgate.ReasonTenantSuspended, fmt.Sprintf("tenant %s is suspended", ts.Tenant.ID))
	}
	return ts, tollgate.Allowed
}

// takeQuota charges one request and, when the tenant limits concurrency,
// one slot. release is never nil and must be called exactly once.
func (p *Proxy) takeQuota(ctx context.Context, ex *exchange, ts *TenantState) (release func(), d tollgate.Decision, retryAfter string) {
	release = func() {}
	lim := p.opts.Limiter
	if lim == nil {
		return release, tollgate.Allowed, ""
	}
	q := ts.Tenant.Quotas
	res, err := lim.Admit(ctx, tollgate.QuotaRequest{Tenant: ts.Tenant.ID, KeyID: ex.caller.KeyID, Host: ex.target.Host, Quotas: q})
	if err != nil {
		p.opts.Logger.LogAttrs(ctx, slog.LevelError, "quota admit", slog.String("request_id", ex.id), slog.String("error", err.Error()))
	}
	if !res.Allowed {
		return release, quotaDecision(res), retryAfterSeconds(res.RetryAfter)
	}
	if q.MaxConcurrent > 0 {
		rel, res, err := lim.Acquire(ctx, ts.Tenant.ID, q.MaxConcurrent)
		if err != nil {
			p.opts.Logger.LogAttrs(ctx, slog.LevelError, "quota acquire", slog.String("request_id", ex.id), slog.String("error", err.Error()))
		}
		if !res.Allowed {
			if rel != nil {
				rel()
			}
			return release, quotaDecision(res), retryAfterSeconds(res.RetryAfter)
		}
		if rel != nil {
			release = rel
		}
	}
	return release, tollgate.Allowed, ""
}

func quotaDecision(res tollgate.QuotaResult) tollgate.Decision {
	limit := res.Limit
	if limit == "" {
		limit = "quota"
	}
	return tollgate.Deny(tollgate.ReasonQuotaExceeded, fmt.Sprintf("the %s limit is exhausted", limit))
}

// refuseDial is goproxy's transport dialer: every upstream connection is
// made by the proxy's own pinned dialers, so this one must never be used.
func refuseDial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("tollgate: unvetted dial refused")
}

// slogPrintf adapts goproxy's Printf logger to slog at debug level.
type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(format string, v ...any) {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		s.l.Debug("goproxy", slog.String("msg", fmt.Sprintf(format, v...)))
	}
}

// drain discards up to limit bytes of a body so a keep-alive connection can be reused.
func drain(r io.Reader, limit int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, limit))
}
