package config

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

// Validate checks a Config, whether parsed or built in code. The error is
// an *Error or, for several problems, Errors; Line is set when the Config
// came from Parse.
func (c *Config) Validate() error {
	return Errors(c.validate()).err()
}

func (c *Config) validate() Errors {
	v := &validator{c: c}
	c.validateProxy(v)
	v.listen("control.listen", c.Control.Listen)
	if clash(c.Control.Listen, c.Proxy.Listen) || (c.Proxy.TLSListen != "" && clash(c.Control.Listen, c.Proxy.TLSListen)) {
		v.add("control.listen", "must differ from the proxy listeners")
	}
	v.nonEmpty("control.admin_token_file", c.Control.AdminTokenFile)
	v.nonEmpty("data_dir", c.DataDir)

	for i, s := range c.Resolver.Servers {
		key := fmt.Sprintf("resolver.servers[%d]", i)
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
			v.add(key, "invalid DNS server %q: use ip:port such as 127.0.0.53:53 or [::1]:53", s)
		}
	}
	v.positive("resolver.timeout", int64(c.Resolver.Timeout))
	v.positiveInt("resolver.cache_size", int64(c.Resolver.CacheSize))
	v.nonNegative("resolver.min_ttl", int64(c.Resolver.MinTTL))
	v.positive("resolver.max_ttl", int64(c.Resolver.MaxTTL))
	if c.Resolver.MinTTL > c.Resolver.MaxTTL {
		v.add("resolver.min_ttl", "must not exceed resolver.max_ttl (%s)", c.Resolver.MaxTTL)
	}
	v.nonNegative("resolver.negative_ttl", int64(c.Resolver.NegativeTTL))

	v.cidrs("egress.deny_cidrs", c.Egress.DenyCIDRs)
	v.cidrs("egress.allow_cidrs", c.Egress.AllowCIDRs)
	for i, d := range c.Egress.OwnDomains {
		v.domain(fmt.Sprintf("egress.own_domains[%d]", i), d, false)
	}

	v.nonEmpty("intercept.ca_cert_file", c.Intercept.CACertFile)
	v.nonEmpty("intercept.ca_key_file", c.Intercept.CAKeyFile)

	switch c.Store.Driver {
	case DriverSQLite:
		v.nonEmpty("store.dsn", c.Store.DSN)
		// A PostgreSQL URL under the default driver would otherwise become a
		// SQLite file named "postgres:/…" in the working directory.
		if lower := strings.ToLower(c.Store.DSN); strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
			v.add("store.dsn", "is a PostgreSQL URL but store.driver is sqlite: set store.driver: postgres")
		}
	case DriverPostgres:
		if c.Store.DSN == "" {
			v.addNear("store.dsn", "store.driver", "required when store.driver is postgres (postgres://user@host:5432/db)")
		}
	default:
		v.add("store.driver", "invalid driver %q: use sqlite or postgres", c.Store.Driver)
	}

	switch c.Quota.Backend {
	case BackendMemory:
	case BackendRedis:
		if c.Quota.RedisURL == "" {
			v.addNear("quota.redis_url", "quota.backend", "required when quota.backend is redis: use redis://host:6379/0 or rediss://")
		} else {
			v.redisURL("quota.redis_url", c.Quota.RedisURL)
		}
	default:
		v.add("quota.backend", "invalid backend %q: use memory or redis", c.Quota.Backend)
	}
	v.rate("quota.global_requests_per_second", c.Quota.GlobalRequestsPerSecond)
	if c.Quota.OnBackendError != OnErrorLocal && c.Quota.OnBackendError != OnErrorDeny {
		v.add("quota.on_backend_error", "invalid value %q: use local or deny", c.Quota.OnBackendError)
	}

	v.positive("audit.retention", int64(c.Audit.Retention))
	v.positive("audit.flush_interval", int64(c.Audit.FlushInterval))

	v.tenant("defaults", &c.Defaults, false)
	ids := map[string]int{}
	for i := range c.Tenants {
		key := fmt.Sprintf("tenants[%d]", i)
		t := &c.Tenants[i]
		v.tenant(key, t, true)
		if first, dup := ids[t.ID]; dup && t.ID != "" {
			v.add(key+".id", "duplicate tenant id %q (first defined at tenants[%d])", t.ID, first)
		} else {
			ids[t.ID] = i
		}
	}

	if !validLevel(c.Log.Level) {
		v.add("log.level", "invalid log level %q: use debug, info, warn or error", c.Log.Level.String())
	}
	if c.Log.Format != FormatJSON && c.Log.Format != FormatText {
		v.add("log.format", "invalid format %q: use json or text", c.Log.Format)
	}
	return v.errs
}

func (c *Config) validateProxy(v *validator) {
	p := &c.Proxy
	v.listen("proxy.listen", p.Listen)
	if p.TLSListen != "" {
		v.listen("proxy.tls_listen", p.TLSListen)
		if clash(p.TLSListen, p.Listen) {
			v.add("proxy.tls_listen", "must differ from proxy.listen")
		}
		if p.TLSCertFile == "" || p.TLSKeyFile == "" {
			v.add("proxy.tls_listen", "needs proxy.tls_cert_file and proxy.tls_key_file")
		}
	} else if p.TLSCertFile != "" || p.TLSKeyFile != "" {
		v.add("proxy.tls_cert_file", "set only together with proxy.tls_listen")
	}
	v.positive("proxy.connect_timeout", int64(p.ConnectTimeout))
	v.positive("proxy.read_header_timeout", int64(p.ReadHeaderTimeout))
	v.positive("proxy.idle_timeout", int64(p.IdleTimeout))
	v.positive("proxy.max_tunnel_duration", int64(p.MaxTunnelDuration))
}

// clash reports whether two listen addresses would fight over one port: the
// same port on the same host, or on any host when one of them is a wildcard.
func clash(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return pa == pb && (ha == hb || wild(ha) || wild(hb))
}

func validLevel(l slog.Level) bool {
	for _, x := range levels {
		if x == l {
			return true
		}
	}
	return false
}

// validator collects errors against dotted keys of one Config.
type validator struct {
	c    *Config
	errs Errors
}

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, v.c.errorf(key, format, args...))
}

// addNear reports key at its own line if the file has it, else at the line of
// near, the key whose value made key necessary.
func (v *validator) addNear(key, near, format string, args ...any) {
	e := v.c.errorf(key, format, args...)
	if _, ok := v.c.lines[key]; !ok {
		e.Line = v.c.lineOf(near)
	}
	v.errs = append(v.errs, e)
}

func (v *validator) nonEmpty(key, s string) {
	if s == "" {
		v.add(key, "must not be empty")
	}
}

// positive is for durations and sizes where zero would silently mean
// "forever" or "nothing".
func (v *validator) positive(key string, d int64) {
	if d <= 0 {
		v.add(key, "must be positive, got %s", fmtDuration(d))
	}
}

func (v *validator) nonNegative(key string, d int64) {
	if d < 0 {
		v.add(key, "must not be negative, got %s", fmtDuration(d))
	}
}

func (v *validator) positiveInt(key string, n int64) {
	if n <= 0 {
		v.add(key, "must be positive, got %d", n)
	}
}

func (v *validator) nonNegativeInt(key string, n int64) {
	if n < 0 {
		v.add(key, "must not be negative (0 means unlimited), got %d", n)
	}
}

func (v *validator) rate(key string, f float64) {
	if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		v.add(key, "must be a finite number >= 0 (0 means unlimited), got %v", f)
	}
}

// listen accepts host:port with a numeric port 1-65535; an empty host means
// every local address, as for net.Listen.
func (v *validator) listen(key, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(key, "invalid listen address %q: use host:port such as 127.0.0.1:3128", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		v.add(key, "invalid port %q in %q: must be between 1 and 65535", port, addr)
		return
	}
	if host == "" {
		return
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			v.add(key, "invalid listen address %q: zones are not supported", addr)
		}
		return
	}
	if !validHostname(host) {
		v.add(key, "invalid host %q in %q: use an IP address or a host name", host, addr)
	}
}

func (v *validator) cidrs(key string, ps []netip.Prefix) {
	for i, p := range ps {
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			v.add(fmt.Sprintf("%s[%d]", key, i), "invalid CIDR %q", p.String())
		}
	}
}

// domain checks a lower-case host name; glob permits a leading "*." label,
// which host patterns use for "any subdomain".
func (v *validator) domain(key, d string, glob bool) {
	name := d
	if glob {
		name = strings.TrimPrefix(d, "*.")
	}
	if !validHostname(name) || name != strings.ToLower(name) || strings.HasSuffix(name, ".") {
		what := "domain name"
		if glob {
			what = "host pattern"
		}
		v.add(key, "invalid %s %q: use lower-case names without a trailing dot%s", what, d,
			map[bool]string{true: ", optionally starting with *.", false: ""}[glob])
		return
	}
	// What passes here must also pass the policy engine that serve builds,
	// so that `config check` never accepts a file serve would refuse
	// (e.g. an IP address given as a name: destinations by address are CIDRs).
	if _, err := policy.ParseHostPattern(d); err != nil {
		v.add(key, "invalid name %q: %v", d, err)
	}
}

func (v *validator) redisURL(key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		v.add(key, "invalid Redis URL: use redis://host:6379/0, rediss:// or unix://")
	}
}

func (v *validator) tenant(key string, t *tollgate.Tenant, full bool) {
	if full {
		if t.ID == "" {
			v.add(key+".id", "required: a tenant id such as acme")
		} else if !tollgate.ValidTenantID(t.ID) {
			v.add(key+".id", "invalid tenant id %q: use lower-case letters, digits and dashes, starting with a letter or digit, at most 63 characters", t.ID)
		}
		if t.Status != tollgate.TenantActive && t.Status != tollgate.TenantSuspended {
			v.add(key+".status", "invalid status %q: use active or suspended", t.Status)
		}
		if t.SigningScope != tollgate.SigningScopeHost && t.SigningScope != tollgate.SigningScopeTenant {
			v.add(key+".signing_scope", "invalid signing scope %q: use host or tenant", t.SigningScope)
		}
	}
	if t.Mode != tollgate.ModeTunnel && t.Mode != tollgate.ModeIntercept {
		v.add(key+".mode", "invalid mode %q: use tunnel or intercept", t.Mode)
	}
	p := &t.Policy
	for i, h := range p.AllowedHosts {
		v.domain(fmt.Sprintf("%s.policy.allowed_hosts[%d]", key, i), h, true)
	}
	for i, h := range p.DeniedHosts {
		v.domain(fmt.Sprintf("%s.policy.denied_hosts[%d]", key, i), h, true)
	}
	v.cidrs(key+".policy.allow_cidrs", p.AllowCIDRs)
	for i, port := range p.AllowedPorts {
		if port == 0 {
			v.add(fmt.Sprintf("%s.policy.allowed_ports[%d]", key, i), "invalid port 0: must be between 1 and 65535")
		}
	}
	v.nonNegativeInt(key+".policy.max_body_bytes", p.MaxBodyBytes)
	q := &t.Quotas
	v.rate(key+".quotas.requests_per_second", q.RequestsPerSecond)
	v.nonNegativeInt(key+".quotas.burst", int64(q.Burst))
	v.nonNegativeInt(key+".quotas.max_concurrent", int64(q.MaxConcurrent))
	v.nonNegativeInt(key+".quotas.bytes_per_second", q.BytesPerSecond)
	v.rate(key+".quotas.per_key_requests_per_second", q.PerKeyRequestsPerSecond)
	v.rate(key+".quotas.per_host_requests_per_second", q.PerHostRequestsPerSecond)
}

// validHostname accepts ASCII LDH labels of 1-63 characters, at most 253 in
// all. Non-ASCII names are refused rather than IDNA-mapped (see NOTES.md).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func fmtDuration(d int64) string { return time.Duration(d).String() }
