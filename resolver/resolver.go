package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Answer is the result of one Lookup. The slices belong to the caller.
type Answer struct {
	// Addrs holds the A answers then the AAAA answers, each in answer order,
	// deduplicated. IPv4-mapped IPv6 answers stay mapped: the policy unmaps.
	Addrs []netip.Addr
	// Chain is every name followed: the query name, then each CNAME target,
	// lower-case without the trailing dot.
	Chain []string
	// TTL is the clamped TTL of the answer, or what is left of it on a hit.
	TTL    time.Duration
	Cached bool
}

// Sentinel errors; Lookup wraps them with the name.
var (
	ErrNXDomain  = errors.New("no such host")
	ErrNoAddress = errors.New("no address for host")
	ErrServFail  = errors.New("dns server failure")
	ErrTimeout   = errors.New("dns timeout")
	// ErrCNAMELoop reports a CNAME chain that loops or exceeds MaxCNAMEHops.
	ErrCNAMELoop = errors.New("cname loop or chain too long")
)

// MaxCNAMEHops bounds the CNAME targets followed for one lookup, inside
// answers and across follow-up queries together.
const MaxCNAMEHops = 8

// Resolver looks names up through the configured servers. It is safe for
// concurrent use.
type Resolver struct {
	cfg     Config
	now     func() time.Time
	cache   *lru.Cache[string, *entry]
	flights singleflight.Group
	udp     *dns.Client
	tcp     *dns.Client
	m       *metrics
	// joined, when set by tests, runs after a caller has joined a flight.
	joined func()
}

// entry is one cached result, never modified after it is built.
type entry struct {
	addrs   []netip.Addr
	chain   []string
	ttl     time.Duration
	err     error
	expires time.Time
}

// New builds a resolver. reg may be nil (metrics are then kept but not
// exported); now is the clock used for cache expiry.
func New(cfg Config, reg prometheus.Registerer, now func() time.Time) (*Resolver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("resolver config: %w", err)
	}
	if now == nil {
		return nil, errors.New("resolver config: nil clock")
	}
	cache, err := lru.New[string, *entry](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("resolver cache: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Resolver{
		cfg:   cfg,
		now:   now,
		cache: cache,
		udp:   &dns.Client{Net: "udp", Timeout: cfg.Timeout, UDPSize: ednsSize},
		tcp:   &dns.Client{Net: "tcp", Timeout: cfg.Timeout},
		m:     m,
	}, nil
}

// Lookup resolves name (lower-case, no trailing dot) to its addresses. On
// error the Answer still carries the CNAME chain followed so far, so a caller
// can refuse a chain that led to a forbidden name rather than report only the
// DNS failure at its end. The
// flight behind a miss is shared by concurrent callers and outlives a caller
// whose ctx ends first; each query within it is bounded by Config.Timeout.
func (r *Resolver) Lookup(ctx context.Context, name string) (Answer, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if !isHostName(name) {
		r.m.errors.Inc()
		return Answer{}, fmt.Errorf("resolve %q: invalid name", name)
	}
	now := r.now()
	if e, ok := r.cache.Get(name); ok && now.Before(e.expires) {
		if e.err != nil {
			r.m.errors.Inc()
			return Answer{Chain: slices.Clone(e.chain)}, e.err
		}
		r.m.hits.Inc()
		return e.answer(e.expires.Sub(now), true), nil
	}

	if err := ctx.Err(); err != nil {
		return Answer{}, r.ctxErr(name, err)
	}
	ch := r.flights.DoChan(name, func() (any, error) {
		return r.fly(context.WithoutCancel(ctx), name)
	})
	if r.joined != nil {
		r.joined()
	}
	select {
	case <-ctx.Done():
		return Answer{}, r.ctxErr(name, ctx.Err())
	case res := <-ch:
		e := res.Val.(*entry)
		if e.err != nil {
			r.m.errors.Inc()
			return Answer{Chain: slices.Clone(e.chain)}, e.err
		}
		r.m.misses.Inc()
		return e.answer(e.ttl, false), nil
	}
}

// ctxErr reports a caller whose context ended before its answer came.
func (r *Resolver) ctxErr(name string, err error) error {
	r.m.errors.Inc()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("resolve %q: %w: %w", name, ErrTimeout, err)
	}
	return fmt.Errorf("resolve %q: %w", name, err)
}

// answer copies the entry into an Answer the caller may keep and modify.
func (e *entry) answer(ttl time.Duration, cached bool) Answer {
	return Answer{
		Addrs:  append([]netip.Addr(nil), e.addrs...),
		Chain:  append([]string(nil), e.chain...),
		TTL:    ttl,
		Cached: cached,
	}
}

// fly resolves name over the network and caches the result. It always
// returns a non-nil *entry, carrying the error if any, so every caller of
// the flight reads the same value.
func (r *Resolver) fly(ctx context.Context, name string) (any, error) {
	start := r.now()
	// A flight for this name may have finished between our cache miss and
	// this flight starting.
	if e, ok := r.cache.Get(name); ok && start.Before(e.expires) {
		fresh := *e
		fresh.ttl = e.expires.Sub(start)
		return &fresh, nil
	}
	res, err := r.resolve(ctx, name)
	done := r.now()
	r.m.seconds.Observe(done.Sub(start).Seconds())
	e := &entry{chain: res.chain}
	if err != nil {
		e.err = fmt.Errorf("resolve %q: %w", name, err)
		if isNegative(err) && r.cfg.NegativeTTL > 0 {
			e.expires = done.Add(r.cfg.NegativeTTL)
			r.cache.Add(name, e)
		}
		return e, nil
	}
	e.addrs = res.addrs
	e.ttl = r.clamp(res.ttl)
	if res.partial && r.cfg.NegativeTTL < e.ttl {
		// One family failed: keep the other only as long as a negative
		// answer, so the missing one is asked again soon.
		e.ttl = r.cfg.NegativeTTL
	}
	if e.ttl > 0 {
		e.expires = done.Add(e.ttl)
		r.cache.Add(name, e)
	}
	return e, nil
}

func (r *Resolver) clamp(ttl time.Duration) time.Duration {
	return min(max(ttl, r.cfg.MinTTL), r.cfg.MaxTTL)
}

// isNegative reports answers that say something about the name rather than
// about the servers' health; only those are cached.
func isNegative(err error) bool {
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoAddress) || errors.Is(err, ErrCNAMELoop)
}
