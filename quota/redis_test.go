package quota

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	tollgate "github.com/tollgate-dev/tollgate"
)

// Redis runs on its own clock, which keeps moving during a test, and a
// loaded machine can stall this process for a few hundred milliseconds:
// refusals are compared with a margin, and intervals are long enough
// (2 s and more) that nothing refills within one scenario.
func redisSlack(want time.Duration) time.Duration {
	return max(400*time.Millisecond, want/4)
}

// expect is one Admit and its verdict; a refusal's RetryAfter may be up to
// redisSlack shorter than want.RetryAfter.
type expect struct {
	l    tollgate.Limiter
	req  tollgate.QuotaRequest
	want tollgate.QuotaResult
}

func checkApprox(t *testing.T, i int, e expect) {
	t.Helper()
	got, err := e.l.Admit(context.Background(), e.req)
	if err != nil {
		t.Fatalf("step %d: Admit: %v", i, err)
	}
	if got.Allowed != e.want.Allowed || got.Limit != e.want.Limit ||
		got.RetryAfter > e.want.RetryAfter || got.RetryAfter < e.want.RetryAfter-redisSlack(e.want.RetryAfter) {
		t.Fatalf("step %d (%+v): got %+v, want %+v (RetryAfter within %v)", i, e.req, got, e.want, redisSlack(e.want.RetryAfter))
	}
}

func TestRedisAdmit(t *testing.T) {
	c := testRedisClient(t)
	slow := tollgate.Quotas{RequestsPerSecond: 0.001, Burst: 2}
	req := func(tenant, key, host string, q tollgate.Quotas) tollgate.QuotaRequest {
		return tollgate.QuotaRequest{Tenant: tenant, KeyID: key, Host: host, Quotas: q}
	}
	tests := []struct {
		name   string
		global float64
		steps  func(a, b *Redis) []expect // a and b share one prefix
	}{
		{"tenant burst then refusal", 0, func(a, b *Redis) []expect {
			q := req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.25, Burst: 3})
			return []expect{{a, q, allow()}, {a, q, allow()}, {a, q, allow()},
				{a, q, refuse(tollgate.LimitTenantRPS, 4*time.Second)}}
		}},
		{"two instances share one budget", 0, func(a, b *Redis) []expect {
			q := req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.25, Burst: 3})
			return []expect{{a, q, allow()}, {b, q, allow()}, {a, q, allow()},
				{b, q, refuse(tollgate.LimitTenantRPS, 4*time.Second)},
				{a, q, refuse(tollgate.LimitTenantRPS, 4*time.Second)}}
		}},
		{"key and host sub-budgets", 0, func(a, b *Redis) []expect {
			q := tollgate.Quotas{PerKeyRequestsPerSecond: 0.5, PerHostRequestsPerSecond: 0.25}
			return []expect{
				{a, req("acme", "k1", "a.example", q), allow()},
				{b, req("acme", "k1", "b.example", q), refuse(tollgate.LimitKeyRPS, 2*time.Second)},
				{a, req("acme", "k2", "a.example", q), refuse(tollgate.LimitHostRPS, 4*time.Second)},
				{b, req("acme", "k2", "b.example", q), allow()},
				{a, req("other", "k1", "a.example", q), allow()},
			}
		}},
		{"global limit spans tenants", 0.5, func(a, b *Redis) []expect {
			return []expect{{a, req("x", "", "", tollgate.Quotas{}), allow()},
				{b, req("y", "", "", tollgate.Quotas{}), refuse(tollgate.LimitGlobalRPS, 2*time.Second)},
				{a, req("z", "", "", tollgate.Quotas{}), refuse(tollgate.LimitGlobalRPS, 2*time.Second)}}
		}},
		{"longest wait names the limit", 0, func(a, b *Redis) []expect {
			q := tollgate.Quotas{RequestsPerSecond: 10, Burst: 1, PerHostRequestsPerSecond: 0.25}
			return []expect{{a, req("acme", "", "h", q), allow()}, {a, req("acme", "", "h", q), refuse(tollgate.LimitHostRPS, 4*time.Second)}}
		}},
		{"host refusal consumes no tenant or key token", 0, func(a, b *Redis) []expect {
			q := withHost(withKey(slow, 2), 0.001)
			return []expect{
				{a, req("acme", "k1", "a.example", q), allow()},
				{a, req("acme", "k1", "a.example", q), refuse(tollgate.LimitHostRPS, 1000*time.Second)},
				{b, req("acme", "k1", "a.example", q), refuse(tollgate.LimitHostRPS, 1000*time.Second)},
				{a, req("acme", "k1", "b.example", q), allow()},
			}
		}},
		{"key refusal consumes no tenant or host token", 0, func(a, b *Redis) []expect {
			q := withHost(withKey(slow, 0.001), 2)
			return []expect{
				{a, req("acme", "k1", "a.example", q), allow()},
				{a, req("acme", "k1", "a.example", q), refuse(tollgate.LimitKeyRPS, 1000*time.Second)},
				{b, req("acme", "k1", "a.example", q), refuse(tollgate.LimitKeyRPS, 1000*time.Second)},
				{a, req("acme", "k2", "a.example", q), allow()},
			}
		}},
		{"global refusal consumes no tenant token", 0.001, func(a, b *Redis) []expect {
			// b shares the prefix but allows a million requests a second:
			// the global debt it sees is rescaled to nothing, so b admits
			// exactly what the tenant's own budget still holds.
			return []expect{
				{a, req("other", "", "", tollgate.Quotas{}), allow()},
				{a, req("acme", "", "", slow), refuse(tollgate.LimitGlobalRPS, 1000*time.Second)},
				{a, req("acme", "", "", slow), refuse(tollgate.LimitGlobalRPS, 1000*time.Second)},
				{b, req("acme", "", "", slow), allow()},
				{b, req("acme", "", "", slow), allow()},
				{b, req("acme", "", "", slow), refuse(tollgate.LimitTenantRPS, 1000*time.Second)},
			}
		}},
		{"limit change applies at the next decision", 0, func(a, b *Redis) []expect {
			var steps []expect
			for i := 0; i < 20; i++ {
				steps = append(steps, expect{a, req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.1, Burst: 20}), allow()})
			}
			steps = append(steps,
				expect{a, req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.1, Burst: 20}), refuse(tollgate.LimitTenantRPS, 10*time.Second)},
				// Raised: 20 outstanding fit a burst of 1000 at once.
				expect{b, req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.2, Burst: 1000}), allow()},
				// Lowered: 21 outstanding against a burst of 21 at 0.1/s.
				expect{a, req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.1, Burst: 21}), refuse(tollgate.LimitTenantRPS, 10*time.Second)},
			)
			return steps
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := testPrefix(t, c)
			a := newTestRedis(t, c, prefix, Options{GlobalRequestsPerSecond: tt.global})
			bGlobal := tt.global
			if bGlobal == 0.001 {
				bGlobal = 1e6
			}
			b := newTestRedis(t, c, prefix, Options{GlobalRequestsPerSecond: bGlobal})
			for i, e := range tt.steps(a, b) {
				checkApprox(t, i, e)
			}
			if !a.Healthy() || !b.Healthy() {
				t.Fatal("limiter unhealthy after successful calls")
			}
		})
	}
}

func TestRedisBandwidth(t *testing.T) {
	c := testRedisClient(t)
	ctx := context.Background()
	prefix := testPrefix(t, c)
	a := newTestRedis(t, c, prefix, Options{})
	b := newTestRedis(t, c, prefix, Options{})
	bw := func(bps int64) tollgate.QuotaRequest {
		return tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{BytesPerSecond: bps, RequestsPerSecond: 0.001, Burst: 2}}
	}
	steps := []struct {
		inst  *Redis
		n     int
		pause time.Duration
	}{
		{a, 400, 0},
		{b, 600, 0},
		// 6 s of budget owed: 5 s over the allowance.
		{a, 5000, 5 * time.Second},
		{b, 20000, 25 * time.Second},
	}
	for i, s := range steps {
		got, err := s.inst.Transfer(ctx, "acme", 1000, s.n)
		if err != nil {
			t.Fatal(err)
		}
		if got > s.pause || got < s.pause-redisSlack(s.pause) {
			t.Fatalf("transfer %d: pause %v, want about %v", i, got, s.pause)
		}
	}
	checkApprox(t, 0, expect{a, bw(1000), refuse(tollgate.LimitTenantBandwidth, 25*time.Second)})
	checkApprox(t, 1, expect{b, bw(1000), refuse(tollgate.LimitTenantBandwidth, 25*time.Second)})
	// Raising the byte limit shrinks the debt (26 s at 1 kB/s is 26 ms
	// at 1 MB/s): the refusals above spent no tenant token.
	checkApprox(t, 2, expect{a, bw(1000000), allow()})
	checkApprox(t, 3, expect{b, bw(1000000), allow()})
	checkApprox(t, 4, expect{a, bw(1000000), refuse(tollgate.LimitTenantRPS, 1000*time.Second)})
	if p, err := a.Transfer(ctx, "acme", 0, 1<<30); p != 0 || err != nil {
		t.Fatalf("unlimited transfer: %v, %v", p, err)
	}
}

func TestRedisOneRoundTripPerDecision(t *testing.T) {
	c := testRedisClient(t)
	ctx := context.Background()
	hook := &countHook{}
	c.AddHook(hook)
	r := newTestRedis(t, c, testPrefix(t, c), Options{GlobalRequestsPerSecond: 1e6})
	req := tollgate.QuotaRequest{Tenant: "acme", KeyID: "k", Host: "h", Quotas: tollgate.Quotas{
		RequestsPerSecond: 1e5, PerKeyRequestsPerSecond: 1e5, PerHostRequestsPerSecond: 1e5, BytesPerSecond: 1 << 30}}
	// Load the scripts once (an EVAL on the first call of each).
	mustAdmit(t, r, req)
	release, _, _ := r.Acquire(ctx, "acme", 10)
	release()
	_, _ = r.Transfer(ctx, "acme", 1<<30, 100)
	if _, res, _ := r.Acquire(ctx, "full", 1); !res.Allowed {
		t.Fatal("first slot refused")
	}

	tests := []struct {
		name string
		op   func()
		want int64
	}{
		{"admit", func() { mustAdmit(t, r, req) }, 1},
		{"admit refused", func() {
			res, _ := r.Admit(ctx, tollgate.QuotaRequest{Tenant: "slow", Quotas: tollgate.Quotas{RequestsPerSecond: 1e-3}})
			_ = res
		}, 1},
		{"admit unlimited", func() { mustAdmit(t, r, tollgate.QuotaRequest{Tenant: "free"}) }, 1}, // the global limit still applies
		{"acquire and release twice", func() {
			release, _, _ := r.Acquire(ctx, "acme", 10)
			release()
			release()
		}, 2},
		{"acquire refused", func() {
			release, res, _ := r.Acquire(ctx, "full", 1)
			if res.Allowed {
				return // the first call takes the only slot and keeps it
			}
			release()
		}, 1},
		{"acquire unlimited", func() { rel, _, _ := r.Acquire(ctx, "acme", 0); rel() }, 0},
		{"transfer", func() { _, _ = r.Transfer(ctx, "acme", 1<<30, 100) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hook.n.Load()
			for i := 0; i < 10; i++ {
				tt.op()
			}
			if got := hook.n.Load() - before; got != 10*tt.want {
				t.Fatalf("10 calls sent %d commands, want %d", got, 10*tt.want)
			}
		})
	}
}

func TestRedisConcurrencyRelease(t *testing.T) {
	c := testRedisClient(t)
	for _, tt := range slotEndings {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			r := NewRedis(c, testPrefix(t, c), Options{}, reg)
			t.Cleanup(func() { _ = r.Close() })
			testSlotRelease(t, r, "acme", 3, tt.end)
			if got := metricValue(t, reg, "tollgate_quota_in_use", map[string]string{"tenant": "acme"}); got != 0 {
				t.Fatalf("in_use after all released = %v, want 0", got)
			}
		})
	}
}

// TestRedisLeasesExpire holds one slot on a replica that keeps refreshing
// and one on a replica that dies (stops refreshing without releasing).
// After twice the lease TTL of real time (1.4 s) the dead replica's slot is
// free and the live one's, refreshed every 233 ms, is not.
func TestRedisLeasesExpire(t *testing.T) {
	c := testRedisClient(t)
	ctx := context.Background()
	prefix := testPrefix(t, c)
	const ttl = 700 * time.Millisecond
	live := newTestRedis(t, c, prefix, Options{LeaseTTL: ttl})
	dead := newTestRedis(t, c, prefix, Options{LeaseTTL: ttl})
	other := newTestRedis(t, c, prefix, Options{LeaseTTL: ttl})

	releaseLive, res, err := live.Acquire(ctx, "acme", 2)
	if err != nil || !res.Allowed {
		t.Fatalf("live acquire: %+v %v", res, err)
	}
	defer releaseLive()
	if _, res, err = dead.Acquire(ctx, "acme", 2); err != nil || !res.Allowed {
		t.Fatalf("dead acquire: %+v %v", res, err)
	}
	_ = dead.Close() // the replica dies holding its slot
	if _, res, _ = other.Acquire(ctx, "acme", 2); res.Allowed {
		t.Fatal("third slot granted while two are held")
	}

	time.Sleep(2 * ttl) // Redis's clock must move; only real time does that

	release, res, err := other.Acquire(ctx, "acme", 2)
	if err != nil || !res.Allowed {
		t.Fatalf("slot of the dead replica did not come back: %+v %v", res, err)
	}
	defer release()
	if _, res, _ = other.Acquire(ctx, "acme", 2); res.Allowed {
		t.Fatal("the live replica's refreshed lease expired")
	}
}

func TestRedisBackendDown(t *testing.T) {
	ctx := context.Background()
	q := tollgate.Quotas{RequestsPerSecond: 0.001, Burst: 4, MaxConcurrent: 4}
	tests := []struct {
		mode          string
		replicas      int
		wantAdmits    int // of 10 requests
		wantRefusal   string
		wantSlots     int // of 10 acquires
		wantRetryTime time.Duration
	}{
		// Each of two replicas enforces half: burst 2 and a refill every 2000 s.
		{mode: OnErrorLocal, replicas: 2, wantAdmits: 2, wantRefusal: tollgate.LimitTenantRPS, wantSlots: 2, wantRetryTime: 2000 * time.Second},
		{mode: OnErrorLocal, replicas: 1, wantAdmits: 4, wantRefusal: tollgate.LimitTenantRPS, wantSlots: 4, wantRetryTime: 1000 * time.Second},
		{mode: OnErrorDeny, replicas: 2, wantAdmits: 0, wantRefusal: tollgate.LimitTenantRPS, wantSlots: 0, wantRetryTime: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			logs := newLogCounter()
			reg := prometheus.NewRegistry()
			r := NewRedis(deadRedisClient(t), "dead", Options{
				OnBackendError: tt.mode, Replicas: tt.replicas, Logger: slog.New(logs),
			}, reg)
			t.Cleanup(func() { _ = r.Close() })
			admits := 0
			for i := 0; i < 10; i++ {
				res, err := r.Admit(ctx, tollgate.QuotaRequest{Tenant: "acme", Quotas: q})
				if err != nil {
					t.Fatalf("Admit returned the backend error: %v", err)
				}
				if res.Allowed {
					admits++
					continue
				}
				if res.Limit != tt.wantRefusal || res.RetryAfter > tt.wantRetryTime || res.RetryAfter < tt.wantRetryTime-time.Second/10 {
					t.Fatalf("refusal %+v, want %s after about %v", res, tt.wantRefusal, tt.wantRetryTime)
				}
			}
			if admits != tt.wantAdmits {
				t.Fatalf("admitted %d of 10, want %d", admits, tt.wantAdmits)
			}
			slots := 0
			for i := 0; i < 10; i++ {
				release, res, err := r.Acquire(ctx, "acme", q.MaxConcurrent)
				if err != nil {
					t.Fatal(err)
				}
				if res.Allowed {
					slots++
				} else if res.Limit != tollgate.LimitTenantConcurrency {
					t.Fatalf("acquire refusal %+v", res)
				}
				defer release()
			}
			if slots != tt.wantSlots {
				t.Fatalf("got %d slots, want %d", slots, tt.wantSlots)
			}
			// Bytes in flight are paced locally, at this replica's share,
			// in both modes: two seconds of budget owe one second.
			if p, err := r.Transfer(ctx, "acme", 1000, 2000/tt.replicas); err != nil || p != time.Second {
				t.Fatalf("local transfer pause %v (%v), want 1s", p, err)
			}
			// A request no limit applies to goes through in both modes.
			mustAdmit(t, r, tollgate.QuotaRequest{Tenant: "free"})
			if r.Healthy() {
				t.Fatal("Healthy() with Redis down")
			}
			if err := r.Check(ctx); err == nil {
				t.Fatal("Check() succeeded with Redis down")
			}
			if n := logs.count(slog.LevelWarn); n != 1 {
				t.Fatalf("%d warnings for one outage, want 1", n)
			}
			if got := metricValue(t, reg, "tollgate_quota_backend_healthy", nil); got != 0 {
				t.Fatalf("backend_healthy = %v, want 0", got)
			}
		})
	}
}

// TestRedisRecovers uses an outage simulated in the client, so that it can
// end, and the injected clock to step through probe intervals.
func TestRedisRecovers(t *testing.T) {
	c := testRedisClient(t)
	ctx := context.Background()
	outage := &outageHook{}
	c.AddHook(outage)
	clk := newFakeClock()
	logs := newLogCounter()
	reg := prometheus.NewRegistry()
	r := NewRedis(c, testPrefix(t, c), Options{Now: clk.Now, Logger: slog.New(logs)}, reg)
	t.Cleanup(func() { _ = r.Close() })
	q := tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: 1000}}

	if err := r.Check(ctx); err != nil || !r.Healthy() {
		t.Fatalf("Check() = %v, healthy %v; want nil, true", err, r.Healthy())
	}
	mustAdmit(t, r, q)
	outage.down.Store(true)
	outage.tries.Store(0)
	for i := 0; i < 20; i++ {
		mustAdmit(t, r, q) // local fallback
	}
	if got := outage.tries.Load(); got != 1 {
		t.Fatalf("%d calls to Redis within one probe interval, want 1", got)
	}
	clk.Advance(DefaultProbeInterval)
	mustAdmit(t, r, q)
	if got := outage.tries.Load(); got != 2 {
		t.Fatalf("%d calls to Redis after one probe interval, want 2", got)
	}
	if r.Healthy() || logs.count(slog.LevelWarn) != 1 {
		t.Fatalf("healthy=%v warnings=%d during outage, want false and 1", r.Healthy(), logs.count(slog.LevelWarn))
	}
	outage.down.Store(false)
	clk.Advance(DefaultProbeInterval)
	for i := 0; i < 5; i++ {
		mustAdmit(t, r, q)
	}
	if !r.Healthy() || logs.count(slog.LevelInfo) != 1 || logs.count(slog.LevelWarn) != 1 {
		t.Fatalf("after recovery healthy=%v info=%d warn=%d, want true, 1, 1",
			r.Healthy(), logs.count(slog.LevelInfo), logs.count(slog.LevelWarn))
	}
	if got := metricValue(t, reg, "tollgate_quota_backend_healthy", nil); got != 1 {
		t.Fatalf("backend_healthy = %v, want 1", got)
	}
	if got := metricValue(t, reg, "tollgate_quota_decisions_total", map[string]string{"backend": "fallback"}); got != 21 {
		t.Fatalf("fallback decisions = %v, want 21", got)
	}
}

func TestRedisCallerCancelIsNotAnOutage(t *testing.T) {
	c := testRedisClient(t)
	r := newTestRedis(t, c, testPrefix(t, c), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Admit(ctx, tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: 1}})
	if err == nil {
		t.Fatal("Admit on a cancelled context succeeded")
	}
	if !r.Healthy() {
		t.Fatal("a cancelled caller marked the backend unhealthy")
	}
}

// TestRedisReplicaShare: replicas register in Redis, so that when Redis is
// unreachable each one enforces its share of the limit ("local" fallback).
func TestRedisReplicaShare(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	hook := &outageHook{}
	ca := redis.NewClient(c.Options())
	t.Cleanup(func() { _ = ca.Close() })
	ca.AddHook(hook)
	a := newTestRedis(t, ca, prefix, Options{})
	b := NewRedis(c, prefix, Options{}, nil)
	a.renewMembership()
	if got := a.share(); got != 2 {
		t.Fatalf("two replicas registered, a sees a share of %d", got)
	}
	_ = b.Close() // leaves the membership at once
	a.renewMembership()
	if got := a.share(); got != 1 {
		t.Fatalf("after b left, a sees a share of %d", got)
	}
	c2 := NewRedis(c, prefix, Options{}, nil)
	t.Cleanup(func() { _ = c2.Close() })
	a.renewMembership()

	// Redis goes away: a enforces half of 10 req/s with burst 10.
	hook.down.Store(true)
	req := tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: 10, Burst: 10}}
	admitted := 0
	for range 10 {
		if res, err := a.Admit(ctx, req); err == nil && res.Allowed {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("during the outage a admitted %d of a 10-request burst, want its share of 5", admitted)
	}
}
