package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

const (
	// LeafValidity is how long a minted leaf is valid after its NotBefore.
	LeafValidity = 24 * time.Hour
	// leafBackdate tolerates clients whose clocks run behind ours.
	leafBackdate = time.Hour
	// leafRenewBefore re-mints a cached leaf this long before it expires, so a
	// long-lived connection never holds a certificate about to lapse.
	leafRenewBefore = time.Hour
	// DefaultCacheSize is used when NewIssuer is given a size below one.
	DefaultCacheSize = 1024
)

// Issuer mints leaf certificates for intercepted hosts and caches them. It is
// safe for concurrent use.
type Issuer struct {
	ca       *CA
	now      func() time.Time
	cache    *lru.Cache[string, *tls.Certificate]
	flight   singleflight.Group
	minted   atomic.Uint64
	mintedCt prometheus.Counter
}

// NewIssuer returns an Issuer signing with ca and caching up to cacheSize
// leaves (DefaultCacheSize if cacheSize < 1). It registers
// tollgate_intercept_certs_minted_total on reg when reg is not nil.
func NewIssuer(ca *CA, cacheSize int, now func() time.Time, reg prometheus.Registerer) *Issuer {
	if cacheSize < 1 {
		cacheSize = DefaultCacheSize
	}
	cache, err := lru.New[string, *tls.Certificate](cacheSize)
	if err != nil {
		// lru.New fails only for a size below one, excluded above.
		panic(fmt.Sprintf("certs: leaf cache: %v", err))
	}
	counter := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tollgate_intercept_certs_minted_total",
		Help: "Leaf certificates minted for intercepted hosts (cache misses and renewals).",
	})
	if reg != nil {
		if err := reg.Register(counter); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				// Only a wiring bug (a conflicting metric of that name) gets here.
				panic(fmt.Sprintf("certs: register metric: %v", err))
			}
			counter = are.ExistingCollector.(prometheus.Counter)
		}
	}
	return &Issuer{ca: ca, now: now, cache: cache, mintedCt: counter}
}

// Certificate returns a leaf certificate for host (a DNS name or an IP
// address, IPv6 with or without brackets), minting it on a cache miss or when
// the cached one is within an hour of expiry. Concurrent calls for one host
// mint once.
func (i *Issuer) Certificate(host string) (*tls.Certificate, error) {
	name, ip, err := normalizeHost(host)
	if err != nil {
		return nil, err
	}
	if c, ok := i.cached(name); ok {
		return c, nil
	}
	v, err, _ := i.flight.Do(name, func() (any, error) {
		// A flight that finished just before this one started may have
		// filled the cache.
		if c, ok := i.cached(name); ok {
			return c, nil
		}
		c, err := i.mint(name, ip)
		if err != nil {
			return nil, err
		}
		i.cache.Add(name, c)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tls.Certificate), nil
}

func (i *Issuer) cached(name string) (*tls.Certificate, bool) {
	c, ok := i.cache.Get(name)
	if !ok || !i.now().Before(c.Leaf.NotAfter.Add(-leafRenewBefore)) {
		return nil, false
	}
	return c, true
}

// TLSConfig returns a server configuration for terminating a client's TLS for
// host: the leaf for host, TLS 1.2 or newer, and only http/1.1 offered by ALPN
// because the intercept path reads HTTP/1.1.
func (i *Issuer) TLSConfig(host string) (*tls.Config, error) {
	c, err := i.Certificate(host)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
		Certificates: []tls.Certificate{*c},
	}, nil
}

// Minted returns how many leaf certificates this Issuer has minted.
func (i *Issuer) Minted() uint64 { return i.minted.Load() }

// normalizeHost returns the cache key and, for an IP literal, the address.
// Names are lower-cased with one trailing dot removed, as the policy does.
func normalizeHost(host string) (string, netip.Addr, error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", netip.Addr{}, fmt.Errorf("leaf certificate: invalid host %q", host)
		}
		return ip.String(), ip, nil
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", netip.Addr{}, fmt.Errorf("leaf certificate: invalid host %q", host)
		}
		ip = ip.Unmap()
		return ip.String(), ip, nil
	}
	if h == "" || len(h) > 253 || !validName(h) {
		return "", netip.Addr{}, fmt.Errorf("leaf certificate: invalid host %q", host)
	}
	return h, netip.Addr{}, nil
}

// validName admits the characters of DNS names as they appear in practice
// (underscores included). Anything else, '*' in particular, is refused: a
// wildcard leaf would be trusted for every subdomain.
func validName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return h[0] != '.' && !strings.Contains(h, "..")
}

func (i *Issuer) mint(name string, ip netip.Addr) (*tls.Certificate, error) {
	now := i.now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %q: generate key: %w", name, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %q: %w", name, err)
	}
	notAfter := now.Add(LeafValidity)
	if caEnd := i.ca.cert.NotAfter; notAfter.After(caEnd) {
		notAfter = caEnd
	}
	if !notAfter.After(now) {
		return nil, errors.New("leaf certificate: the intercept CA has expired")
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	if ip.IsValid() {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{name}
	}
	// Clients ignore the subject when a SAN is present; it only helps people
	// reading the certificate. X.520 caps a common name at 64 characters.
	if len(name) <= 64 {
		tmpl.Subject = pkix.Name{CommonName: name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, i.ca.cert, key.Public(), i.ca.key)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %q: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %q: %w", name, err)
	}
	i.minted.Add(1)
	i.mintedCt.Inc()
	return &tls.Certificate{
		Certificate: [][]byte{der, i.ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}
