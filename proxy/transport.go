package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

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

func transportKey(tenant string, useTLS bool, host string, port uint16, addrs []netip.Addr) string {
	var b strings.Builder
	b.WriteString(tenant)
	b.WriteByte('|')
	if useTLS {
		b.WriteString("tls|")
	} else {
		b.WriteString("tcp|")
	}
	b.WriteString(host)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(int(port)))
	for _, a := range addrs {
		b.WriteByte('|')
		b.WriteString(a.String())
	}
	return b.String()
}

// get returns the transport for this tenant and vetted destination.
func (c *transportCache) get(tenant string, v vetted, useTLS bool, port uint16) *http.Transport {
	key := transportKey(tenant, useTLS, v.target.Host, port, v.addrs)
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
