package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the data-plane series of SPEC §9.
type Metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	connect       prometheus.Histogram
	activeTunnels prometheus.Gauge
	bytes         *prometheus.CounterVec
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	signatures    prometheus.Counter
}

// NewMetrics registers the proxy's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_requests_total",
			Help: "Proxy decisions by tenant, mode, outcome (allowed|blocked|error) and reason.",
		}, []string{"tenant", "mode", "outcome", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_request_duration_seconds",
			Help:    "Time from request head to the end of the exchange (tunnels: until closed).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"mode"}),
		connect: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tollgate_upstream_connect_seconds",
			Help:    "TCP connect time to the vetted upstream address.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}),
		activeTunnels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_active_tunnels",
			Help: "Spliced CONNECT tunnels currently open (tunnel mode; intercepted requests count in tollgate_requests_total).",
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_bytes_total",
			Help: "Bytes moved through the proxy: out = client to upstream, in = upstream to client.",
		}, []string{"direction"}),
		signatures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_signatures_total",
			Help: "Requests signed with Standard Webhooks signatures.",
		}),
	}
	m.bytesIn = m.bytes.WithLabelValues("in")
	m.bytesOut = m.bytes.WithLabelValues("out")
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.connect, m.activeTunnels, m.bytes, m.signatures)
	}
	return m
}
