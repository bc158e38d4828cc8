package quota

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	tollgate "github.com/tollgate-dev/tollgate"
)

const (
	numShards = 64 // power of two: the shard is picked with a mask
	// sweepEvery is how often (on the injected clock) a shard drops cells
	// that have returned to full budget; such a cell is indistinguishable
	// from a missing one, so eviction never changes a decision.
	sweepEvery = int64(time.Minute)
	nsPerSec   = 1e9
)

// Memory is the in-process limiter: GCRA cells in maps sharded by tenant,
// so every per-tenant dimension of one decision sits behind one lock, and
// the global cell updated by compare-and-swap. It implements
// tollgate.Limiter and is safe for concurrent use.
type Memory struct {
	now       func() time.Time
	epoch     time.Time
	global    gcraParams
	globalTAT atomic.Int64
	seed      maphash.Seed
	metrics   *metrics
	decisions prometheus.Counter
	shards    [numShards]shard
}

type shard struct {
	mu        sync.Mutex
	tenants   map[string]*tenantState
	lastSweep int64
	_         [40]byte // keep neighbouring shards' locks off one cache line
}

// tenantState holds one tenant's cells. Times are nanoseconds since the
// limiter's epoch.
type tenantState struct {
	rps   cell             // tenant request rate
	bw    cell             // bandwidth, may run ahead of now (debt); per is bytes/s
	keys  map[string]*cell // per key request rates
	hosts map[string]*cell // per destination host request rates
	inUse int
	gauge prometheus.Gauge // tollgate_quota_in_use for this tenant, once used
}

// cell is one GCRA state: the theoretical arrival time and the interval
// (or byte rate) it was computed with, so a changed limit can rescale it.
type cell struct {
	tat int64
	per int64
}

// rate returns the tat of a request-rate cell under p, first carrying the
// cell over to p if its limit changed. The conversion is stored even when
// the request is then refused: it charges nothing, and converting the same
// debt again at a later instant would let it drain at the wrong speed.
func (c *cell) rate(now int64, p gcraParams) int64 {
	if c == nil {
		return now
	}
	if c.per != p.interval {
		c.tat, c.per = rescale(c.tat, now, p.interval, c.per), p.interval
	}
	return c.tat
}

// bytes does the same for a bandwidth cell, whose debt shrinks as the byte
// rate grows.
func (c *cell) bytes(now, bps int64) int64 {
	if c.per != bps {
		c.tat, c.per = rescale(c.tat, now, c.per, bps), bps
	}
	return c.tat
}

var _ tollgate.Limiter = (*Memory)(nil)

// NewMemory returns an in-process limiter. reg may be nil.
func NewMemory(opts Options, reg prometheus.Registerer) *Memory {
	return newMemory(opts.withDefaults(), newMetrics(reg), backendMemory)
}

func newMemory(opts Options, m *metrics, backend string) *Memory {
	l := &Memory{
		now:       opts.Now,
		epoch:     opts.Now(),
		global:    rateParams(opts.GlobalRequestsPerSecond, 0, nsPerSec),
		seed:      maphash.MakeSeed(),
		metrics:   m,
		decisions: m.decisions.WithLabelValues(backend),
	}
	for i := range l.shards {
		l.shards[i].tenants = make(map[string]*tenantState)
	}
	return l
}

func (m *Memory) clock() int64 { return int64(m.now().Sub(m.epoch)) }

func (m *Memory) shard(tenant string) *shard {
	return &m.shards[maphash.String(m.seed, tenant)&(numShards-1)]
}

// verdict collects refusals; the longest wait wins because no retry can
// succeed before every refusing limit has refilled.
type verdict struct {
	limit string
	wait  int64
}

func (v *verdict) refuse(limit string, wait int64) {
	if v.limit == "" || wait > v.wait {
		v.limit, v.wait = limit, wait
	}
}

func (v verdict) result() tollgate.QuotaResult {
	if v.limit == "" {
		return tollgate.QuotaResult{Allowed: true}
	}
	return tollgate.QuotaResult{Limit: v.limit, RetryAfter: nanos(v.wait)}
}

// Admit charges one request to every configured rate limit, or to none.
func (m *Memory) Admit(_ context.Context, req tollgate.QuotaRequest) (tollgate.QuotaResult, error) {
	res := m.admit(&req)
	m.decisions.Inc()
	if !res.Allowed {
		m.metrics.reject(req.Tenant, res.Limit)
	}
	return res, nil
}

func (m *Memory) admit(req *tollgate.QuotaRequest) tollgate.QuotaResult {
	q := &req.Quotas
	tp := rateParams(q.RequestsPerSecond, q.Burst, nsPerSec)
	var kp, hp gcraParams
	if req.KeyID != "" {
		kp = rateParams(q.PerKeyRequestsPerSecond, 0, nsPerSec)
	}
	if req.Host != "" {
		hp = rateParams(q.PerHostRequestsPerSecond, 0, nsPerSec)
	}
	tenantLimited := tp.interval > 0 || kp.interval > 0 || hp.interval > 0 || q.BytesPerSecond > 0
	if !tenantLimited && m.global.interval == 0 {
		return tollgate.QuotaResult{Allowed: true}
	}
	now := m.clock()
	var v verdict
	if m.global.interval > 0 {
		if _, w, ok := gcraCheck(m.globalTAT.Load(), now, m.global); !ok {
			v.refuse(tollgate.LimitGlobalRPS, w)
		}
	}
	if !tenantLimited {
		return m.commitGlobal(v, now)
	}

	sh := m.shard(req.Tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m.maybeSweep(sh, now)
	st := sh.tenants[req.Tenant]
	if st == nil {
		if tp.interval == 0 && kp.interval == 0 && hp.interval == 0 {
			// Only a bandwidth limit, and no bytes charged yet: no debt.
			return m.commitGlobal(v, now)
		}
		st = &tenantState{rps: cell{tat: now}, bw: cell{tat: now}}
		sh.tenants[req.Tenant] = st
	}

	var tNext, kNext, hNext int64
	var kCell, hCell *cell
	if tp.interval > 0 {
		next, w, ok := gcraCheck((&st.rps).rate(now, tp), now, tp)
		if !ok {
			v.refuse(tollgate.LimitTenantRPS, w)
		}
		tNext = next
	}
	if kp.interval > 0 {
		kCell = st.keys[req.KeyID]
		next, w, ok := gcraCheck(kCell.rate(now, kp), now, kp)
		if !ok {
			v.refuse(tollgate.LimitKeyRPS, w)
		}
		kNext = next
	}
	if hp.interval > 0 {
		hCell = st.hosts[req.Host]
		next, w, ok := gcraCheck(hCell.rate(now, hp), now, hp)
		if !ok {
			v.refuse(tollgate.LimitHostRPS, w)
		}
		hNext = next
	}
	if q.BytesPerSecond > 0 {
		if w, ok := debtCheck(st.bw.bytes(now, q.BytesPerSecond), now, int64(bandwidthWindow)); !ok {
			v.refuse(tollgate.LimitTenantBandwidth, w)
		}
	}
	if v.limit != "" {
		return v.result()
	}
	// Every tenant dimension admits; the global cell is the only one other
	// shards touch, so it is taken last and, if it was drained meanwhile,
	// nothing else has been charged yet.
	if res := m.commitGlobal(v, now); !res.Allowed {
		return res
	}
	if tp.interval > 0 {
		st.rps = cell{tat: tNext, per: tp.interval}
	}
	if kp.interval > 0 {
		if kCell == nil {
			if st.keys == nil {
				st.keys = make(map[string]*cell)
			}
			kCell = new(cell)
			st.keys[req.KeyID] = kCell
		}
		*kCell = cell{tat: kNext, per: kp.interval}
	}
	if hp.interval > 0 {
		if hCell == nil {
			if st.hosts == nil {
				st.hosts = make(map[string]*cell)
			}
			hCell = new(cell)
			st.hosts[req.Host] = hCell
		}
		*hCell = cell{tat: hNext, per: hp.interval}
	}
	return tollgate.QuotaResult{Allowed: true}
}

// commitGlobal returns v's refusal if there is one, else charges the
// global cell (when limited) and admits.
func (m *Memory) commitGlobal(v verdict, now int64) tollgate.QuotaResult {
	if v.limit != "" || m.global.interval == 0 {
		return v.result()
	}
	for {
		old := m.globalTAT.Load()
		next, w, ok := gcraCheck(old, now, m.global)
		if !ok {
			v.refuse(tollgate.LimitGlobalRPS, w)
			return v.result()
		}
		if m.globalTAT.CompareAndSwap(old, next) {
			return v.result()
		}
	}
}

// Acquire takes one of the tenant's concurrency slots. Slots are counted
// even when max is 0, so that a limit set later sees the tunnels already
// open. The returned release is never nil and is safe to call any number of
// times, from any goroutine.
func (m *Memory) Acquire(_ context.Context, tenant string, max int) (func(), tollgate.QuotaResult, error) {
	m.decisions.Inc()
	sh := m.shard(tenant)
	now := m.clock()
	sh.mu.Lock()
	m.maybeSweep(sh, now)
	st := sh.tenants[tenant]
	if st == nil {
		st = &tenantState{rps: cell{tat: now}, bw: cell{tat: now}}
		sh.tenants[tenant] = st
	}
	if max > 0 && st.inUse >= max {
		sh.mu.Unlock()
		m.metrics.reject(tenant, tollgate.LimitTenantConcurrency)
		return noRelease, tollgate.QuotaResult{
			Limit: tollgate.LimitTenantConcurrency, RetryAfter: concurrencyRetry,
		}, nil
	}
	if st.gauge == nil {
		st.gauge = m.metrics.inUse.WithLabelValues(tenant)
	}
	st.inUse++
	st.gauge.Set(float64(st.inUse))
	sh.mu.Unlock()

	var done atomic.Bool
	return func() {
		if !done.CompareAndSwap(false, true) {
			return
		}
		sh.mu.Lock()
		// st stays in the map while inUse > 0 (the sweep keeps it), so
		// this is the same state the slot was taken from.
		st.inUse--
		st.gauge.Set(float64(st.inUse))
		sh.mu.Unlock()
	}, tollgate.QuotaResult{Allowed: true}, nil
}

func noRelease() {}

// Transfer charges n bytes to the tenant's bandwidth cell and returns the
// pause that keeps the tenant at bytesPerSecond.
func (m *Memory) Transfer(_ context.Context, tenant string, bytesPerSecond int64, n int) (time.Duration, error) {
	cost := byteCost(n, bytesPerSecond, nsPerSec)
	if cost == 0 {
		return 0, nil
	}
	sh := m.shard(tenant)
	now := m.clock()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m.maybeSweep(sh, now)
	st := sh.tenants[tenant]
	if st == nil {
		st = &tenantState{rps: cell{tat: now}, bw: cell{tat: now}}
		sh.tenants[tenant] = st
	}
	next, pause := debtCharge(st.bw.bytes(now, bytesPerSecond), now, cost, int64(bandwidthWindow))
	st.bw = cell{tat: next, per: bytesPerSecond}
	return nanos(pause), nil
}

// maybeSweep drops cells back at full budget. Called with sh.mu held; it is
// amortised over the decisions of one sweep period.
func (m *Memory) maybeSweep(sh *shard, now int64) {
	if now-sh.lastSweep < sweepEvery {
		return
	}
	sh.lastSweep = now
	for tenant, st := range sh.tenants {
		for k, c := range st.keys {
			if c.tat <= now {
				delete(st.keys, k)
			}
		}
		for h, c := range st.hosts {
			if c.tat <= now {
				delete(st.hosts, h)
			}
		}
		if st.rps.tat <= now && st.bw.tat <= now && st.inUse == 0 && len(st.keys) == 0 && len(st.hosts) == 0 {
			delete(sh.tenants, tenant)
			if st.gauge != nil {
				m.metrics.inUse.DeleteLabelValues(tenant)
			}
		}
	}
}
