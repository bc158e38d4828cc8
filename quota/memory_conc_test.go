package quota

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	tollgate "github.com/tollgate-dev/tollgate"
)

// metricValue reads one series from a registry; -1 when it is absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				}
			}
		}
	}
	return -1
}

func matches(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, lp := range m.GetLabel() {
		if labels[lp.GetName()] != lp.GetValue() {
			return false
		}
	}
	return true
}

// slotHolder describes one way a request's life can end; each must free
// its slot exactly once.
var slotEndings = []struct {
	name string
	end  func(release func())
}{
	{"normal return", func(release func()) { defer release() }},
	{"released twice", func(release func()) { release(); release() }},
	{"error path", func(release func()) {
		err := func() error {
			defer release()
			return errors.New("upstream refused")
		}()
		_ = err
	}},
	{"panic in a deferred path", func(release func()) {
		func() {
			defer func() { _ = recover() }()
			defer release()
			defer func() { panic("handler bug") }()
		}()
	}},
	{"client abort", func(release func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer release()
			<-ctx.Done()
		}()
		cancel()
		<-done
	}},
	{"released concurrently", func(release func()) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); release() }()
		}
		wg.Wait()
	}},
}

// testSlotRelease holds max slots, ends one of them the given way, and
// checks that exactly one slot came back.
func testSlotRelease(t *testing.T, l tollgate.Limiter, tenant string, max int, end func(func())) {
	t.Helper()
	ctx := context.Background()
	var held []func()
	for i := 0; i < max; i++ {
		release, res, err := l.Acquire(ctx, tenant, max)
		if err != nil || !res.Allowed {
			t.Fatalf("acquire %d: %+v, %v", i, res, err)
		}
		held = append(held, release)
	}
	wantFull := func() {
		t.Helper()
		release, res, err := l.Acquire(ctx, tenant, max)
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed || res.Limit != tollgate.LimitTenantConcurrency || res.RetryAfter <= 0 {
			t.Fatalf("acquire past max: %+v, want tenant_concurrency refusal", res)
		}
		release() // the refusal's release is a harmless no-op
	}
	wantFull()
	end(held[0])
	held[0]() // releasing again after the ending must not free another slot
	release, res, err := l.Acquire(ctx, tenant, max)
	if err != nil || !res.Allowed {
		t.Fatalf("acquire after release: %+v, %v", res, err)
	}
	wantFull()
	release()
	for _, r := range held[1:] {
		r()
	}
}

func TestMemoryConcurrencyRelease(t *testing.T) {
	for _, tt := range slotEndings {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			l := NewMemory(Options{Now: newFakeClock().Now}, reg)
			testSlotRelease(t, l, "acme", 3, tt.end)
			if got := metricValue(t, reg, "tollgate_quota_in_use", map[string]string{"tenant": "acme"}); got != 0 {
				t.Fatalf("in_use after all released = %v, want 0", got)
			}
			if got := metricValue(t, reg, "tollgate_quota_rejections_total", map[string]string{"tenant": "acme", "limit": "tenant_concurrency"}); got != 2 {
				t.Fatalf("concurrency rejections = %v, want 2", got)
			}
		})
	}
}

func TestMemoryConcurrencyLimitChange(t *testing.T) {
	ctx := context.Background()
	l := NewMemory(Options{Now: newFakeClock().Now}, nil)
	// Tunnels opened while unlimited still count once a limit is set.
	var held []func()
	for i := 0; i < 3; i++ {
		release, res, _ := l.Acquire(ctx, "acme", 0)
		if !res.Allowed {
			t.Fatalf("unlimited acquire %d refused", i)
		}
		held = append(held, release)
	}
	tests := []struct {
		max  int
		want bool
	}{{2, false}, {3, false}, {4, true}, {0, true}}
	for _, tt := range tests {
		release, res, _ := l.Acquire(ctx, "acme", tt.max)
		if res.Allowed != tt.want {
			t.Fatalf("max %d with 3 open: allowed %v, want %v", tt.max, res.Allowed, tt.want)
		}
		release()
	}
	for _, r := range held {
		r()
	}
}

func TestMemoryEvictsIdleCells(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	l := NewMemory(Options{Now: clk.Now}, nil)
	q := tollgate.Quotas{RequestsPerSecond: 1, PerKeyRequestsPerSecond: 1, PerHostRequestsPerSecond: 1}
	for i := 0; i < 500; i++ {
		tenant := "t" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		mustAdmit(t, l, tollgate.QuotaRequest{Tenant: tenant, KeyID: "k", Host: "h", Quotas: q})
	}
	release, _, _ := l.Acquire(ctx, "holder", 5)
	if _, err := l.Transfer(ctx, "debtor", 1, 1000); err != nil { // 1000 s of debt
		t.Fatal(err)
	}
	if got := l.tenants(); got != 502 {
		t.Fatalf("tenants before sweep = %d, want 502", got)
	}
	clk.Advance(2 * time.Duration(sweepEvery))
	// A decision sweeps its own shard on the way.
	before := l.tenants()
	mustAdmit(t, l, tollgate.QuotaRequest{Tenant: "ta", Quotas: q})
	if after := l.tenants(); after >= before {
		t.Fatalf("tenants after one decision = %d, want fewer than %d", after, before)
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		l.maybeSweep(sh, l.clock()+2*sweepEvery)
		sh.mu.Unlock()
	}
	// Left: the tenant holding a slot and the one in debt; "ta" was
	// admitted two sweep periods ago and is idle too.
	if got := l.tenants(); got != 2 {
		t.Fatalf("tenants after sweep = %d, want 2 (holder, debtor)", got)
	}
	release()
	// An evicted tenant starts again from a full budget.
	mustAdmit(t, l, tollgate.QuotaRequest{Tenant: "taa", KeyID: "k", Host: "h", Quotas: q})
}

// tenants counts tenant states across shards.
func (m *Memory) tenants() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.tenants)
		sh.mu.Unlock()
	}
	return n
}

func TestMemoryMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clk := newFakeClock()
	l := NewMemory(Options{Now: clk.Now}, reg)
	// A second limiter on the same registry shares the collectors.
	l2 := NewMemory(Options{Now: clk.Now}, reg)
	q := tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: 1, Burst: 1}}
	mustAdmit(t, l, q)
	for i := 0; i < 3; i++ {
		_, _ = l.Admit(context.Background(), q)
	}
	mustAdmit(t, l2, q)
	if got := metricValue(t, reg, "tollgate_quota_rejections_total", map[string]string{"tenant": "acme", "limit": "tenant_rps"}); got != 3 {
		t.Fatalf("rejections = %v, want 3", got)
	}
	if got := metricValue(t, reg, "tollgate_quota_decisions_total", map[string]string{"backend": "memory"}); got != 5 {
		t.Fatalf("decisions = %v, want 5", got)
	}
}

func TestMemoryConcurrentAdmitsNeverExceedBudget(t *testing.T) {
	clk := newFakeClock()
	l := NewMemory(Options{Now: clk.Now, GlobalRequestsPerSecond: 50}, nil)
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				tenant := []string{"a", "b", "c"}[i%3]
				res, _ := l.Admit(context.Background(), tollgate.QuotaRequest{
					Tenant: tenant, Host: "h", Quotas: tollgate.Quotas{RequestsPerSecond: 20, PerHostRequestsPerSecond: 100},
				})
				if res.Allowed {
					mu.Lock()
					allowed[tenant]++
					allowed[""]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// The clock never moved: exactly the bursts are admitted.
	if allowed[""] != 50 {
		t.Fatalf("admitted %d in total, want the global burst of 50 (%v)", allowed[""], allowed)
	}
	for _, tenant := range []string{"a", "b", "c"} {
		if allowed[tenant] > 20 {
			t.Fatalf("tenant %s admitted %d, more than its burst of 20", tenant, allowed[tenant])
		}
	}
}
