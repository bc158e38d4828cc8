package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tollgate-dev/tollgate/upstream"
)

// transportCache holds one upstream pool per tenant, destination and vetted
// address set, so keep-alive connections are reused within a tenant and
// never shared across tenants or with an address set that was not vetted
// for the request at hand.
type transportCache struct {
	p     *Proxy
	cache *lru.Cache[string, *upstream.Pool]
}

func newTransportCache(p *Proxy, size int) *transportCache {
	c, _ := lru.NewWithEvict[string, *upstream.Pool](size, func(_ string, u *upstream.Pool) {
		u.Close()
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

// get returns the pool for this tenant and vetted destination.
func (c *transportCache) get(tenant string, out outbound) *upstream.Pool {
	key := out.key
	if key == "" {
		key = transportKey(tenant, out)
	}
	if u, ok := c.cache.Get(key); ok {
		return u
	}
	p := c.p
	v, port := out.v, out.port
	var tlsConf *tls.Config
	if out.useTLS {
		tlsConf = &tls.Config{
			ServerName: v.target.Host,
			RootCAs:    p.opts.UpstreamRoots, // nil means the system roots
			MinVersion: tls.VersionTLS12,
			// Receivers that close connections between deliveries are
			// met again with a resumed session. The cache belongs to
			// this pool, so one tenant's sessions never serve another.
			ClientSessionCache: tls.NewLRUClientSessionCache(8),
		}
		if v.target.IsIP() {
			// An IP literal has no name to send as SNI; certificates must carry the IP.
			tlsConf.ServerName = v.target.Addr.String()
		}
	}
	u := upstream.New(upstream.Options{
		Dial: func(ctx context.Context) (net.Conn, error) {
			conn, _, err := p.dialVetted(ctx, v, port)
			if err != nil || tlsConf == nil {
				return conn, err
			}
			tc := tls.Client(conn, tlsConf)
			hctx, cancel := context.WithTimeout(ctx, p.opts.ConnectTimeout)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("tls handshake with %s: %w", v.target, err)
			}
			return tc, nil
		},
		ResponseHeaderTimeout: p.opts.IdleTimeout,
		IdleTimeout:           p.opts.IdleTimeout,
		MaxIdle:               64,
	})
	c.cache.Add(key, u)
	return u
}
