package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/signer"
	"github.com/tollgate-dev/tollgate/upstream"
)

// hopHeaders are connection-level headers never forwarded (RFC 9110 §7.6.1),
// plus the proxy's own credentials.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders runs twice per intercepted request. Parsed headers are
// keyed in canonical form and hopHeaders are canonical, so a plain map
// delete removes them exactly as Header.Del would, without canonicalising
// nine names per call; names listed in Connection come from the peer and
// take the canonicalising path.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// outbound describes where a request that the proxy can see goes.
type outbound struct {
	v      vetted
	useTLS bool
	port   uint16
	key    string // transportKey of the tenant and this outbound, if already known
}

// deliver reads the body (bounded), signs, and sends req to the vetted
// destination. It returns the upstream response or a refusal decision.
func (p *Proxy) deliver(ctx context.Context, ex *exchange, ts *TenantState, out outbound, in *http.Request) (*http.Response, tollgate.Decision) {
	maxBody := ts.Tenant.Policy.MaxBodyBytes
	if maxBody > 0 && in.ContentLength > maxBody {
		return nil, tollgate.Deny(tollgate.ReasonBodyTooLarge, fmt.Sprintf("the request body is larger than %d bytes", maxBody))
	}
	var body []byte
	if in.Body != nil && in.Body != http.NoBody {
		limit := maxBody
		if limit <= 0 {
			limit = 1 << 30
		}
		b, err := io.ReadAll(io.LimitReader(in.Body, limit+1))
		if err != nil {
			return nil, tollgate.Deny(tollgate.ReasonInvalidRequest, "the request body could not be read")
		}
		if int64(len(b)) > limit {
			return nil, tollgate.Deny(tollgate.ReasonBodyTooLarge, fmt.Sprintf("the request body is larger than %d bytes", maxBody))
		}
		body = b
	}
	ex.bytesOut = int64(len(body))

	h := in.Header.Clone()
	removeHopHeaders(h)
	if ts.Tenant.Sign && len(ts.SigningKeys) > 0 {
		if d := p.sign(ex, ts, h, out.v.target.Host, body); !d.Allow {
			return nil, d
		}
	}

	scheme := "http"
	if out.useTLS {
		scheme = "https"
	}
	hostPort := out.v.target.Host
	if out.v.target.Addr.Is6() {
		hostPort = "[" + hostPort + "]"
	}
	if !(out.useTLS && out.port == 443) && !(!out.useTLS && out.port == 80) {
		hostPort += ":" + strconv.Itoa(int(out.port))
	}
	req, err := http.NewRequestWithContext(ctx, in.Method, scheme+"://"+hostPort+in.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, tollgate.Deny(tollgate.ReasonInvalidRequest, "the request could not be rebuilt")
	}
	req.Header = h
	req.Host = hostPort
	req.ContentLength = int64(len(body))
	if len(body) == 0 && (in.Body == nil || in.Body == http.NoBody) {
		req.Body = http.NoBody
	}

	resp, remote, err := p.transports.get(ts.Tenant.ID, out).RoundTrip(req)
	if err != nil {
		return nil, roundTripDecision(out.v.target.String(), err)
	}
	if a, ok := remote.(*net.TCPAddr); ok {
		ex.vetted = a.AddrPort().Addr().Unmap()
	} else if ap, err := netip.ParseAddrPort(remote.String()); err == nil {
		ex.vetted = ap.Addr().Unmap()
	}
	return resp, tollgate.Allowed
}

// sign applies the header hygiene of SPEC §5 and adds the signature.
func (p *Proxy) sign(ex *exchange, ts *TenantState, h http.Header, host string, body []byte) tollgate.Decision {
	id := ""
	for k, vs := range h {
		isID := strings.EqualFold(k, "webhook-id")
		if !isID && !strings.EqualFold(k, "webhook-timestamp") && !strings.EqualFold(k, "webhook-signature") {
			continue
		}
		if isID && id == "" && len(vs) > 0 {
			id = vs[0]
		}
		delete(h, k)
	}
	if id != "" && !signer.ValidMessageID(id) {
		return tollgate.Deny(tollgate.ReasonInvalidRequest, "the webhook-id header is not a valid message id (it must not contain '.')")
	}
	now := p.opts.Now()
	if id == "" {
		id = signer.NewMessageID(now)
	}
	hostScoped := ts.Tenant.SigningScope != tollgate.SigningScopeTenant
	keys := make([]*signer.Key, 0, len(ts.SigningKeys))
	for _, k := range ts.SigningKeys {
		if !k.Until.IsZero() && !now.Before(k.Until) {
			continue
		}
		keys = append(keys, p.signKeys.get(k.Key, hostScoped, host))
	}
	if len(keys) == 0 {
		return tollgate.Deny(tollgate.ReasonUpstreamError, "the tenant has no signing key in force")
	}
	ts64 := now.Unix()
	// Assigned, not Set: receivers in several languages look the names up in lower case.
	h["webhook-id"] = []string{id}
	h["webhook-timestamp"] = []string{strconv.FormatInt(ts64, 10)}
	h["webhook-signature"] = []string{signer.SignatureHeaderKeys(keys, id, ts64, body)}
	ex.signed = true
	if m := p.opts.Metrics; m != nil {
		m.signatures.Inc()
	}
	return tollgate.Allowed
}

func roundTripDecision(target string, err error) tollgate.Decision {
	var de *dialError
	if errors.As(err, &de) {
		return de.decision
	}
	var certErr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknown) || errors.As(err, &hostErr) {
		return tollgate.Deny(tollgate.ReasonUpstreamError, fmt.Sprintf("the certificate of %s did not verify", target))
	}
	if errors.Is(err, upstream.ErrInvalidHeader) {
		return tollgate.Deny(tollgate.ReasonInvalidRequest, "a request header is not a valid HTTP field")
	}
	if errors.Is(err, upstream.ErrRequest) {
		if isTimeout(err) {
			return tollgate.Deny(tollgate.ReasonUpstreamTimeout, fmt.Sprintf("%s did not answer in time", target))
		}
		return tollgate.Deny(tollgate.ReasonUpstreamError, fmt.Sprintf("the request to %s failed", target))
	}
	return upstreamDecision(target, err)
}
