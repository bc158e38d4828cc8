package quota

import (
	"log/slog"
	"math"
	"time"

	tollgate "github.com/tollgate-dev/tollgate"
)

// Backend error modes for Options.OnBackendError.
const (
	OnErrorLocal = "local" // enforce each replica's share of every limit in memory
	OnErrorDeny  = "deny"  // refuse with the limit that could not be checked
)

// Defaults used when an Options field is zero.
const (
	DefaultLeaseTTL      = 30 * time.Second
	DefaultProbeInterval = time.Second
	// concurrencyRetry is the Retry-After of a concurrency refusal: no
	// limiter state says when a tunnel will close, and one second is what
	// a delivery system can reasonably wait before asking again.
	concurrencyRetry = time.Second
	// bandwidthWindow is how much byte budget may be owed before new
	// requests are refused: one second of the tenant's rate.
	bandwidthWindow = time.Second
)

// Options configure a limiter. The zero value is usable.
type Options struct {
	GlobalRequestsPerSecond float64
	// OnBackendError is OnErrorLocal (default) or OnErrorDeny; only Redis
	// has a backend that can fail.
	OnBackendError string
	// Replicas is the least number of proxies assumed to share the Redis
	// budget. The Redis limiter registers itself in Redis and uses the
	// count of replicas alive there when larger; in "local" fallback each
	// replica enforces limit/count. Default 1.
	Replicas int
	// LeaseTTL is how long a Redis concurrency lease lives without being
	// refreshed (holders refresh every LeaseTTL/3). Default 30s.
	LeaseTTL time.Duration
	// ProbeInterval is how often a degraded Redis limiter tries Redis again;
	// in between it decides locally without paying for a failing call.
	// Default 1s.
	ProbeInterval time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.OnBackendError == "" {
		o.OnBackendError = OnErrorLocal
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// effectiveBurst is the burst of a rate limit: the configured one, or one
// second's worth of requests (at least one) when it is left at zero.
func effectiveBurst(rate float64, burst int) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(math.Ceil(rate)))
}

// scaleQuotas gives one replica's share of every limit, for the "local"
// fallback: together the replicas stay within what the tenant bought.
func scaleQuotas(q tollgate.Quotas, replicas int) tollgate.Quotas {
	if replicas <= 1 {
		return q
	}
	r := float64(replicas)
	if q.RequestsPerSecond > 0 {
		b := effectiveBurst(q.RequestsPerSecond, q.Burst)
		q.Burst = max(1, int(math.Ceil(float64(b)/r)))
		q.RequestsPerSecond /= r
	}
	if q.MaxConcurrent > 0 {
		q.MaxConcurrent = max(1, q.MaxConcurrent/replicas)
	}
	if q.BytesPerSecond > 0 {
		q.BytesPerSecond = max(1, q.BytesPerSecond/int64(replicas))
	}
	q.PerKeyRequestsPerSecond /= r
	q.PerHostRequestsPerSecond /= r
	return q
}
