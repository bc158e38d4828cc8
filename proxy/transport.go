package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"

	lru "github.com/hashicorp/golang-lru/v2"
)

// transportCache holds one upstream http.Transport per tenant, destination
// and vetted address set, so keep-alive connections are reused within a
// tenant and never shared across tenants or with an address set that was not
// vetted for the request at hand.
type transportCache struct {
	p     *Proxy
	cache *lru.Cache[string, *http.Transport]
}

func newTransportCache(p *Proxy, size int) *transportCache {
	c, _ := lru.NewWithEvict[string, *http.Transport](size, func(_ string, t *http.Transport) {
		t.CloseIdleConnections()
	})
	return &transportCache{p: p, cache: c}
}

// transportKey identifies the transport for tenant and out.
func transportKey(tenant string, out outbound) string {
	b := make([]byte, 0, len(tenant)+len(out.v.target.Host)+16+len(out.v.addrs)*16)
	b = append(b, tenant...)
	b = append(b, '|')
	if out.useTLS {
		b = append(b, "tls|"...)
	} else {
		b = append(b, "tcp|"...)
	}
	b = append(b, out.v.target.Host...)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(out.port), 10)
	for _, a := range out.v.addrs {
		b = append(b, '|')
		b = a.AppendTo(b)
	}
	return string(b)
}

// get returns the transport for this tenant and vetted destination.
func (c *transportCache) get(tenant string, out outbound) *http.Transport {
	key := out.key
	if key == "" {
		key = transportKey(tenant, out)
	}
	v, port := out.v, out.port
	if t, ok := c.cache.Get(key); ok {
		return t
	}
	p := c.p
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, _, err := p.dialVetted(ctx, v, port)
			return conn, err
		},
		TLSClientConfig: &tls.Config{
			ServerName: v.target.Host,
			RootCAs:    p.opts.UpstreamRoots, // nil means the system roots
			MinVersion: tls.VersionTLS12,
		},
		TLSHandshakeTimeout:   p.opts.ConnectTimeout,
		ResponseHeaderTimeout: p.opts.IdleTimeout,
		IdleConnTimeout:       p.opts.IdleTimeout,
		MaxIdleConnsPerHost:   64,
		DisableCompression:    true, // bodies pass through as the receiver sent them
		ForceAttemptHTTP2:     false,
	}
	if v.target.IsIP() {
		// An IP literal has no name to send as SNI; certificates must carry the IP.
		t.TLSClientConfig.ServerName = v.target.Addr.String()
	}
	c.cache.Add(key, t)
	return t
}
