package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	tollgate "github.com/tollgate-dev/tollgate"
)

const (
	usPerSec = 1e6
	// releaseTimeout bounds the round trip of a release, which runs on a
	// fresh context because the request's own is usually cancelled by then.
	releaseTimeout = 2 * time.Second
)

// dimensions in the order the admit script numbers them.
var redisLimits = [...]string{
	1: tollgate.LimitGlobalRPS,
	2: tollgate.LimitTenantRPS,
	3: tollgate.LimitKeyRPS,
	4: tollgate.LimitHostRPS,
	5: tollgate.LimitTenantBandwidth,
}

// Redis is the shared limiter: every replica pointed at the same Redis and
// prefix draws from one budget. When Redis fails it decides per
// Options.OnBackendError and tries Redis again every ProbeInterval.
// It implements tollgate.Limiter and is safe for concurrent use.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	opts    Options
	log     *slog.Logger
	local   atomic.Pointer[Memory] // rebuilt when the replica count changes
	metrics *metrics
	leases  *leaseSet

	replicas atomic.Int64 // replicas alive in Redis when last asked
	stop     chan struct{}
	bg       sync.WaitGroup
	stopOnce sync.Once

	decRedis    prometheus.Counter
	decDenied   prometheus.Counter
	healthGauge prometheus.Gauge
	healthy     atomic.Bool
	nextProbe   atomic.Int64 // UnixNano on opts.Now
}

var _ tollgate.Limiter = (*Redis)(nil)

// NewRedis returns a limiter keeping its state in Redis under prefix. The
// prefix becomes a hash tag, so on Redis Cluster every key of one instance
// lives in one slot, as a script touching several keys requires. reg may
// be nil. Call Close when done to stop refreshing held leases.
func NewRedis(client redis.UniversalClient, prefix string, opts Options, reg prometheus.Registerer) *Redis {
	opts = opts.withDefaults()
	m := newMetrics(reg)
	r := &Redis{
		client:    client,
		prefix:    "{" + prefix + "}:",
		opts:      opts,
		log:       opts.Logger,
		stop:      make(chan struct{}),
		metrics:   m,
		decRedis:  m.decisions.WithLabelValues(backendRedis),
		decDenied: m.decisions.WithLabelValues(backendDenied),
		healthGauge: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_quota_backend_healthy",
			Help: "1 while the shared quota backend answers, 0 while quotas are decided per OnBackendError.",
		})),
	}
	r.leases = newLeaseSet(r)
	r.local.Store(newMemory(r.localOptions(), m, backendFallback))
	r.healthy.Store(true)
	r.healthGauge.Set(1)
	// Register now, so the share is known before the first decision, then
	// keep renewing in the background.
	r.renewMembership()
	r.bg.Add(1)
	go r.heartbeat()
	return r
}

// Healthy reports whether the last call to Redis succeeded.
func (r *Redis) Healthy() bool { return r.healthy.Load() }

// Check pings Redis now and records the outcome, so that /readyz can tell
// before the first decision whether the backend answers. It returns the
// error of a failed ping.
func (r *Redis) Check(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		if !callerGone(ctx, err) {
			r.backendFailed(err)
		}
		return fmt.Errorf("ping quota backend: %w", err)
	}
	r.backendOK()
	return nil
}

// Close stops refreshing held leases; they expire within LeaseTTL, as a
// crashed replica's do. Leases taken after Close are not refreshed either,
// so call it only at shutdown. It does not close the client, which the
// caller owns.
func (r *Redis) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	r.bg.Wait()
	r.leases.close()
	return nil
}

func (r *Redis) key(kind, tenant string) string { return r.prefix + kind + ":" + tenant }

// tryBackend says whether to call Redis: always while healthy, and once per
// ProbeInterval while degraded, so an outage does not add a failing round
// trip (or a dial timeout) to every request.
func (r *Redis) tryBackend() bool {
	if r.healthy.Load() {
		return true
	}
	now := r.opts.Now().UnixNano()
	next := r.nextProbe.Load()
	return now >= next && r.nextProbe.CompareAndSwap(next, now+int64(r.opts.ProbeInterval))
}

// backendFailed records a Redis failure; it logs only on the transition.
func (r *Redis) backendFailed(err error) {
	r.nextProbe.Store(r.opts.Now().UnixNano() + int64(r.opts.ProbeInterval))
	if r.healthy.CompareAndSwap(true, false) {
		r.healthGauge.Set(0)
		r.log.Warn("quota backend unavailable", "backend", "redis",
			"on_backend_error", r.opts.OnBackendError, "err", err)
	}
}

func (r *Redis) backendOK() {
	if !r.healthy.Load() && r.healthy.CompareAndSwap(false, true) {
		r.healthGauge.Set(1)
		r.log.Info("quota backend available again", "backend", "redis")
	}
}

// callerGone tells a cancelled request apart from a failing backend.
func callerGone(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

func (r *Redis) denyMode() bool { return r.opts.OnBackendError == OnErrorDeny }

// Admit charges one request to every configured rate limit in one script.
func (r *Redis) Admit(ctx context.Context, req tollgate.QuotaRequest) (tollgate.QuotaResult, error) {
	if r.tryBackend() {
		res, err := r.admitRedis(ctx, &req)
		if err == nil {
			r.backendOK()
			r.decRedis.Inc()
			if !res.Allowed {
				r.metrics.reject(req.Tenant, res.Limit)
			}
			return res, nil
		}
		if callerGone(ctx, err) {
			return tollgate.QuotaResult{}, fmt.Errorf("admit tenant %q: %w", req.Tenant, err)
		}
		r.backendFailed(err)
	}
	if r.denyMode() {
		res := r.unavailable(&req)
		r.decDenied.Inc()
		if !res.Allowed {
			r.metrics.reject(req.Tenant, res.Limit)
		}
		return res, nil
	}
	req.Quotas = scaleQuotas(req.Quotas, r.share())
	return r.local.Load().Admit(ctx, req)
}

// unavailable refuses with the first limit that could not be checked; a
// request no limit applies to goes through.
func (r *Redis) unavailable(req *tollgate.QuotaRequest) tollgate.QuotaResult {
	q := &req.Quotas
	limit := ""
	switch {
	case r.opts.GlobalRequestsPerSecond > 0:
		limit = tollgate.LimitGlobalRPS
	case q.RequestsPerSecond > 0:
		limit = tollgate.LimitTenantRPS
	case q.PerKeyRequestsPerSecond > 0 && req.KeyID != "":
		limit = tollgate.LimitKeyRPS
	case q.PerHostRequestsPerSecond > 0 && req.Host != "":
		limit = tollgate.LimitHostRPS
	case q.BytesPerSecond > 0:
		limit = tollgate.LimitTenantBandwidth
	default:
		return tollgate.QuotaResult{Allowed: true}
	}
	return tollgate.QuotaResult{Limit: limit, RetryAfter: r.opts.ProbeInterval}
}

func (r *Redis) admitRedis(ctx context.Context, req *tollgate.QuotaRequest) (tollgate.QuotaResult, error) {
	q := &req.Quotas
	g := rateParams(r.opts.GlobalRequestsPerSecond, 0, usPerSec)
	t := rateParams(q.RequestsPerSecond, q.Burst, usPerSec)
	var k, h gcraParams
	if req.KeyID != "" {
		k = rateParams(q.PerKeyRequestsPerSecond, 0, usPerSec)
	}
	if req.Host != "" {
		h = rateParams(q.PerHostRequestsPerSecond, 0, usPerSec)
	}
	var bwTol int64
	if q.BytesPerSecond > 0 {
		bwTol = bandwidthWindow.Microseconds()
	}
	if g.interval == 0 && t.interval == 0 && k.interval == 0 && h.interval == 0 && bwTol == 0 {
		return tollgate.QuotaResult{Allowed: true}, nil
	}
	tk := req.Tenant + ":"
	keys := []string{
		r.prefix + "g",
		r.key("t", req.Tenant),
		r.prefix + "k:" + tk + req.KeyID,
		r.prefix + "h:" + tk + req.Host,
		r.key("b", req.Tenant),
	}
	reply, err := admitScript.Run(ctx, r.client, keys,
		g.interval, g.tolerance, t.interval, t.tolerance,
		k.interval, k.tolerance, h.interval, h.tolerance, bwTol, q.BytesPerSecond).Int64Slice()
	if err != nil {
		return tollgate.QuotaResult{}, fmt.Errorf("admit tenant %q: %w", req.Tenant, err)
	}
	return decodeAdmit(reply)
}

// decodeAdmit reads the admit script's reply.
func decodeAdmit(reply []int64) (tollgate.QuotaResult, error) {
	if len(reply) != 3 {
		return tollgate.QuotaResult{}, fmt.Errorf("admit reply has %d values, want 3", len(reply))
	}
	if reply[0] == 1 {
		return tollgate.QuotaResult{Allowed: true}, nil
	}
	dim, wait := reply[1], reply[2]
	if reply[0] != 0 || dim < 1 || dim >= int64(len(redisLimits)) || wait < 0 {
		return tollgate.QuotaResult{}, fmt.Errorf("admit reply %v is malformed", reply)
	}
	return tollgate.QuotaResult{
		Limit:      redisLimits[dim],
		RetryAfter: time.Duration(min(wait, maxSpan/1000)) * time.Microsecond,
	}, nil
}

// Acquire takes a concurrency lease. Unlimited tenants (max <= 0) take no
// lease, so they cost no round trip and nothing to refresh.
func (r *Redis) Acquire(ctx context.Context, tenant string, max int) (func(), tollgate.QuotaResult, error) {
	if max <= 0 {
		return noRelease, tollgate.QuotaResult{Allowed: true}, nil
	}
	if r.tryBackend() {
		release, res, err := r.acquireRedis(ctx, tenant, max)
		if err == nil {
			r.backendOK()
			r.decRedis.Inc()
			if !res.Allowed {
				r.metrics.reject(tenant, res.Limit)
			}
			return release, res, nil
		}
		if callerGone(ctx, err) {
			return noRelease, tollgate.QuotaResult{}, err
		}
		r.backendFailed(err)
	}
	if r.denyMode() {
		r.decDenied.Inc()
		r.metrics.reject(tenant, tollgate.LimitTenantConcurrency)
		return noRelease, tollgate.QuotaResult{
			Limit: tollgate.LimitTenantConcurrency, RetryAfter: r.opts.ProbeInterval,
		}, nil
	}
	return r.local.Load().Acquire(ctx, tenant, scaleQuotas(tollgate.Quotas{MaxConcurrent: max}, r.share()).MaxConcurrent)
}

// acquireRedis takes a lease. If the call fails after Redis ran the
// script, the lease is never refreshed and frees itself within LeaseTTL.
func (r *Redis) acquireRedis(ctx context.Context, tenant string, max int) (func(), tollgate.QuotaResult, error) {
	key := r.key("c", tenant)
	id := r.leases.newID()
	reply, err := acquireScript.Run(ctx, r.client, []string{key},
		max, r.opts.LeaseTTL.Milliseconds(), id).Int64Slice()
	if err != nil {
		return nil, tollgate.QuotaResult{}, fmt.Errorf("acquire slot for tenant %q: %w", tenant, err)
	}
	if len(reply) != 2 {
		return nil, tollgate.QuotaResult{}, fmt.Errorf("acquire reply has %d values, want 2", len(reply))
	}
	r.metrics.inUse.WithLabelValues(tenant).Set(float64(reply[1]))
	if reply[0] != 1 {
		return noRelease, tollgate.QuotaResult{
			Limit: tollgate.LimitTenantConcurrency, RetryAfter: concurrencyRetry,
		}, nil
	}
	r.leases.add(id, key)
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			r.release(tenant, key, id)
		}
	}, tollgate.QuotaResult{Allowed: true}, nil
}

// release frees a lease. It stops refreshing first, so even when Redis
// cannot be reached the slot comes back within LeaseTTL.
func (r *Redis) release(tenant, key, id string) {
	r.leases.remove(id)
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	n, err := releaseScript.Run(ctx, r.client, []string{key}, id).Int64()
	if err != nil {
		r.backendFailed(fmt.Errorf("release slot for tenant %q: %w", tenant, err))
		return
	}
	r.metrics.inUse.WithLabelValues(tenant).Set(float64(n))
}

// Transfer charges n bytes to the tenant's shared bandwidth cell. Bytes in
// flight cannot be refused, so in both fallback modes an unavailable Redis
// means pacing against this replica's share in memory.
func (r *Redis) Transfer(ctx context.Context, tenant string, bytesPerSecond int64, n int) (time.Duration, error) {
	cost := byteCost(n, bytesPerSecond, usPerSec)
	if cost == 0 {
		return 0, nil
	}
	if r.tryBackend() {
		pause, err := transferScript.Run(ctx, r.client, []string{r.key("b", tenant)},
			cost, bandwidthWindow.Microseconds(), bytesPerSecond).Int64()
		if err == nil {
			r.backendOK()
			return time.Duration(min(max(pause, 0), maxSpan/1000)) * time.Microsecond, nil
		}
		if callerGone(ctx, err) {
			return 0, fmt.Errorf("charge %d bytes to tenant %q: %w", n, tenant, err)
		}
		r.backendFailed(err)
	}
	bps := scaleQuotas(tollgate.Quotas{BytesPerSecond: bytesPerSecond}, r.share()).BytesPerSecond
	return r.local.Load().Transfer(ctx, tenant, bps, n)
}
