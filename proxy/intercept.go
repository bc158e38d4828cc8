package proxy

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/elazarl/goproxy"

	"github.com/tollgate-dev/tollgate"
)

// handleIntercepted serves one request read from an intercepted TLS
// connection: quota, body limit, signing, and delivery over TLS to the
// address vetted for the CONNECT. The response goproxy writes back is either
// the receiver's or a refusal with Tollgate-Reason; it never closes the
// connection without an answer.
func (p *Proxy) handleIntercepted(req *http.Request, gctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	st, ok := gctx.UserData.(*connectState)
	ctx := req.Context()
	ex := p.newExchange(req.RemoteAddr, req.Method, modeIntercept)
	if !ok {
		// Only intercepted requests reach goproxy's request handlers.
		return req, refusal(ex, tollgate.Deny(tollgate.ReasonInvalidRequest, "not an intercepted request"), "")
	}
	ex.caller = st.ex.caller
	ex.target = st.v.target

	// The tenant's state is looked up per request, not kept from the
	// CONNECT: a keep-alive connection must see key rotations, quota
	// changes and suspensions as soon as they are in force.
	ts, ok := p.opts.Tenants.TenantState(ex.caller.Tenant)
	if !ok || ts.Tenant.Status == tollgate.TenantSuspended {
		d := tollgate.Deny(tollgate.ReasonTenantSuspended, "the tenant is suspended or no longer exists")
		drain(req.Body, 64<<10)
		ex.refuse(d)
		p.finish(ctx, ex)
		return req, st.held(refusal(ex, d, ""))
	}
	release, d, retry := p.takeQuota(ctx, ex, ts)
	if !d.Allow {
		drain(req.Body, 64<<10)
		ex.refuse(d)
		p.finish(ctx, ex)
		return req, st.held(refusal(ex, d, retry))
	}
	// The request goes to the CONNECT target whatever its Host header says:
	// that is the destination that was vetted.
	out := outbound{v: st.v, useTLS: true, port: st.v.target.Port, key: st.transportKey}
	if out.key == "" {
		out.key = transportKey(ts.Tenant.ID, out)
		st.transportKey = out.key
	}
	resp, d := p.deliver(ctx, ex, ts, out, req)
	if !d.Allow {
		release()
		ex.refuse(d)
		p.finish(ctx, ex)
		return req, st.held(refusal(ex, d, ""))
	}
	ex.status = resp.StatusCode
	ex.decision = tollgate.Allowed
	removeHopHeaders(resp.Header)
	// A receiver's Connection: close ends the proxy's connection to it,
	// which the pool has already dropped; the worker's connection to the
	// proxy is another hop and stays open unless the worker asked.
	resp.Close = false
	resp.Body = &reportingBody{ReadCloser: resp.Body, done: func(n int64) {
		// The body has been written: send the response now rather than
		// when goproxy next reads from the worker.
		_ = st.conn.release()
		release()
		ex.bytesIn = n
		p.finish(ctx, ex)
	}}
	return req, st.held(resp)
}

// held makes the response go to the worker in one write when its size is
// known and small (see coalescingConn); anything else, such as a streamed
// body of unknown length, is written as goproxy writes it.
func (st *connectState) held(resp *http.Response) *http.Response {
	if st.conn != nil && resp.StatusCode != http.StatusSwitchingProtocols &&
		resp.ContentLength >= 0 && resp.ContentLength <= maxCoalesce/2 {
		st.conn.hold()
	}
	return resp
}

// reportingBody counts the response bytes and reports the exchange once
// the body is closed (after goproxy or the forwarder copied it).
type reportingBody struct {
	io.ReadCloser
	n    atomic.Int64
	once sync.Once
	done func(n int64)
}

func (b *reportingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *reportingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.done(b.n.Load()) })
	return err
}
