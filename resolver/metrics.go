package resolver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	hits, misses, errors prometheus.Counter
	seconds              prometheus.Histogram
}

// newMetrics registers tollgate_dns_lookups_total{result} (hit: answered
// from the cache; miss: answered from the network; error: any failure,
// cached negative answers included) and tollgate_dns_lookup_seconds, the
// time spent on network resolution.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_dns_lookups_total",
		Help: "DNS lookups by result: hit (cache), miss (network), error.",
	}, []string{"result"})
	seconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tollgate_dns_lookup_seconds",
		Help:    "Time spent resolving a name over the network, CNAME follow-ups included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	if reg != nil {
		if err := reg.Register(lookups); err != nil {
			return nil, fmt.Errorf("register resolver metrics: %w", err)
		}
		if err := reg.Register(seconds); err != nil {
			reg.Unregister(lookups)
			return nil, fmt.Errorf("register resolver metrics: %w", err)
		}
	}
	m := &metrics{
		hits:    lookups.WithLabelValues("hit"),
		misses:  lookups.WithLabelValues("miss"),
		errors:  lookups.WithLabelValues("error"),
		seconds: seconds,
	}
	return m, nil
}
