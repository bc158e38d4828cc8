package resolver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// Config holds the resolver settings; zero values take the defaults below.
type Config struct {
	// Servers are "ip:port" addresses (IPv6 bracketed), tried in order. Empty
	// means the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is the file read when Servers is empty; default
	// /etc/resolv.conf.
	ResolvConf string
	// Timeout bounds each query to one server over one transport; default 2s.
	Timeout time.Duration
	// CacheSize is the number of names the LRU keeps; default 10000.
	CacheSize int
	// MinTTL and MaxTTL clamp record TTLs. MinTTL 0 is allowed: answers with
	// a TTL of 0 are then not cached. MaxTTL 0 means the default 5m.
	MinTTL, MaxTTL time.Duration
	// NegativeTTL is how long NXDOMAIN, no-address and CNAME-loop answers are
	// cached; 0 disables negative caching.
	NegativeTTL time.Duration
}

// Defaults, matching SPEC section 2.
const (
	DefaultResolvConf = "/etc/resolv.conf"
	DefaultTimeout    = 2 * time.Second
	DefaultCacheSize  = 10000
	DefaultMaxTTL     = 5 * time.Minute
)

// withDefaults returns cfg with zero values replaced, the server list
// resolved and validated.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Timeout < 0 || cfg.CacheSize < 0 || cfg.MinTTL < 0 || cfg.MaxTTL < 0 || cfg.NegativeTTL < 0 {
		return cfg, errors.New("negative timeout, cache size or ttl")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.MinTTL > cfg.MaxTTL {
		return cfg, fmt.Errorf("min ttl %s above max ttl %s", cfg.MinTTL, cfg.MaxTTL)
	}
	servers := cfg.Servers
	if len(servers) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read nameservers: %w", err)
		}
		if servers, err = resolvConfServers(cc); err != nil {
			return cfg, fmt.Errorf("nameservers in %s: %w", path, err)
		}
	}
	parsed := make([]string, 0, len(servers))
	for _, s := range servers {
		p, err := ParseServer(s)
		if err != nil {
			return cfg, err
		}
		parsed = append(parsed, p)
	}
	cfg.Servers = parsed
	return cfg, nil
}

// ParseServer validates one "ip:port" server address and returns it in
// canonical form. Host names are refused: looking them up would need a
// resolver other than the configured ones.
func ParseServer(s string) (string, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", fmt.Errorf("dns server %q: want ip:port: %w", s, err)
	}
	if ap.Port() == 0 {
		return "", fmt.Errorf("dns server %q: port 0", s)
	}
	if !ap.Addr().IsValid() || ap.Addr().IsUnspecified() {
		return "", fmt.Errorf("dns server %q: unspecified address", s)
	}
	return ap.String(), nil
}

// resolvConfServers turns the nameserver lines of a parsed resolv.conf into
// "ip:port" strings.
func resolvConfServers(cc *dns.ClientConfig) ([]string, error) {
	if len(cc.Servers) == 0 {
		return nil, errors.New("no nameserver lines")
	}
	port, err := strconv.ParseUint(cc.Port, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("port %q invalid", cc.Port)
	}
	out := make([]string, 0, len(cc.Servers))
	for _, host := range cc.Servers {
		s, err := ParseServer(net.JoinHostPort(host, cc.Port))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// serversFromResolvConf parses resolv.conf text; the file path goes through
// dns.ClientConfigFromFile, this reader form exists for the fuzz target.
func serversFromResolvConf(r io.Reader) ([]string, error) {
	cc, err := dns.ClientConfigFromReader(r)
	if err != nil {
		return nil, fmt.Errorf("parse resolv.conf: %w", err)
	}
	return resolvConfServers(cc)
}
