package quota

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the backend label of tollgate_quota_decisions_total.
const (
	backendMemory   = "memory"
	backendRedis    = "redis"
	backendFallback = "fallback" // Redis unavailable, decided in memory
	backendDenied   = "unavailable"
)

type metrics struct {
	rejections *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	inUse      *prometheus.GaugeVec
}

// newMetrics registers the collectors on reg (nil: none). Several limiters
// may share one registry, so an already registered collector is reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_quota_rejections_total",
			Help: "Requests refused by a quota, by tenant and limit.",
		}, []string{"tenant", "limit"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_quota_decisions_total",
			Help: "Quota decisions, by the backend that made them.",
		}, []string{"backend"}),
		inUse: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_quota_in_use",
			Help: "Concurrency slots (open tunnels and in-flight requests) in use, by tenant.",
		}, []string{"tenant"}),
	}
	m.rejections = register(reg, m.rejections)
	m.decisions = register(reg, m.decisions)
	m.inUse = register(reg, m.inUse)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a differently shaped collector is a wiring bug; the
		// limiter still works, its series just stay unexported.
	}
	return c
}

func (m *metrics) reject(tenant, limit string) {
	m.rejections.WithLabelValues(tenant, limit).Inc()
}
