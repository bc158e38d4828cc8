package proxy

import (
	"io"
	"net/http"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

// serveForward handles an absolute-form request (HTTP_PROXY): it is vetted
// like a CONNECT, signed, and sent over TLS (upgrade_http) or as plain HTTP
// (allow_plain_http). Redirects go back to the client.
func (p *Proxy) serveForward(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ex := p.newExchange(r.RemoteAddr, r.Method, modeForward)
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
	abs, err := policy.ParseAbsoluteForm(r.RequestURI)
	if err != nil {
		refuse(tollgate.Deny(tollgate.ReasonInvalidRequest, err.Error()), "")
		return
	}
	ex.target = abs.Target
	if d := p.engine.Load().CheckRequest(abs.Target, abs.Scheme, ts.Policy); !d.Allow {
		refuse(d, "")
		return
	}

	// Decide the upstream leg, then vet the port actually dialled.
	pol := ts.Tenant.Policy
	out := outbound{useTLS: !pol.AllowPlainHTTP, port: abs.Port}
	if out.useTLS && abs.Port == 80 {
		out.port = 443
	}
	dialTarget := abs.Target
	dialTarget.Port = out.port
	v, d := p.vet(ctx, ts, dialTarget, abs.Scheme)
	if !d.Allow {
		refuse(d, "")
		return
	}
	out.v = v

	release, d, retry := p.takeQuota(ctx, ex, ts)
	if !d.Allow {
		refuse(d, retry)
		return
	}
	resp, d := p.deliver(ctx, ex, ts, out, r)
	if !d.Allow {
		release()
		refuse(d, "")
		return
	}
	defer func() {
		release()
		p.finish(ctx, ex)
	}()
	defer resp.Body.Close()

	removeHopHeaders(resp.Header)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	ex.status = resp.StatusCode
	ex.decision = tollgate.Allowed
	w.WriteHeader(resp.StatusCode)
	n, _ := io.Copy(w, resp.Body)
	ex.bytesIn = n
}
