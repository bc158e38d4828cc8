package quota

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	tollgate "github.com/tollgate-dev/tollgate"
)

func BenchmarkRedisAdmit(b *testing.B) {
	c := testRedisClient(b)
	cases := []struct {
		name string
		req  tollgate.QuotaRequest
	}{
		{"tenant rps", tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: 1e9, Burst: 1 << 20}}},
		{"every dimension", tollgate.QuotaRequest{Tenant: "acme", KeyID: "key_1", Host: "hooks.example.com",
			Quotas: tollgate.Quotas{RequestsPerSecond: 1e9, Burst: 1 << 20, BytesPerSecond: 1 << 40,
				PerKeyRequestsPerSecond: 1e9, PerHostRequestsPerSecond: 1e9}}},
	}
	for _, tt := range cases {
		for _, parallel := range []bool{false, true} {
			name := tt.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				hook := &countHook{}
				cc := redis.NewClient(c.Options())
				defer cc.Close()
				cc.AddHook(hook)
				r := NewRedis(cc, testPrefix(b, c), Options{GlobalRequestsPerSecond: 1e9}, nil)
				defer r.Close()
				ctx := context.Background()
				_, _ = r.Admit(ctx, tt.req) // loads the script
				hook.n.Store(0)
				b.ResetTimer()
				if parallel {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							_, _ = r.Admit(ctx, tt.req)
						}
					})
				} else {
					for i := 0; i < b.N; i++ {
						_, _ = r.Admit(ctx, tt.req)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
				b.ReportMetric(float64(hook.n.Load())/float64(b.N), "roundtrips/op")
				if !r.Healthy() {
					b.Fatal("backend unhealthy during benchmark")
				}
			})
		}
	}
}

// TestRedisSharedRateAccuracy offers far more than the tenant's rate from
// two replicas (separate clients, one prefix) for a few seconds of real
// time and checks that together they admit the configured rate.
//
// GCRA owes no capacity for a pause longer than its burst window: when this
// process or Redis is descheduled for longer (it happens on a loaded
// machine), those tokens are rightly lost. Gaps between consecutive replies
// are therefore measured, and the lower bound is checked against the rate
// plus the capacity such stalls forfeited; the upper bound is never relaxed.
func TestRedisSharedRateAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("measures over 3 s of real time")
	}
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	const (
		rate     = 200.0
		burst    = 20
		duration = 3 * time.Second
		workers  = 2 // per replica
		window   = time.Duration(burst * float64(time.Second) / rate)
	)
	q := tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: rate, Burst: burst}}
	var allowed, offered atomic.Int64
	var (
		mu     sync.Mutex
		last   time.Time
		stalls time.Duration // sum of gap-window over gaps longer than window
	)
	var wg sync.WaitGroup
	var replicas []*Redis
	for i := 0; i < 2; i++ {
		cc := redis.NewClient(&redis.Options{Addr: c.Options().Addr, DB: c.Options().DB, PoolSize: workers})
		t.Cleanup(func() { _ = cc.Close() })
		r := newTestRedis(t, cc, prefix, Options{})
		// Dial and load the script before the clock starts.
		mustAdmit(t, r, tollgate.QuotaRequest{Tenant: "warm-up", Quotas: q.Quotas})
		replicas = append(replicas, r)
	}
	start := time.Now()
	last = start
	deadline := start.Add(duration)
	for _, r := range replicas {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					res, err := r.Admit(context.Background(), q)
					if err != nil {
						t.Error(err)
						return
					}
					offered.Add(1)
					if res.Allowed {
						allowed.Add(1)
					}
					now := time.Now()
					mu.Lock()
					if gap := now.Sub(last); gap > window {
						stalls += gap - window
					}
					if now.After(last) {
						last = now
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	// The initial burst is admitted on top of the rate.
	achieved := float64(allowed.Load()-burst) / elapsed
	forfeited := stalls.Seconds() * rate
	adjusted := (float64(allowed.Load()-burst) + forfeited) / elapsed
	t.Logf("2 replicas x %d workers, offered %.0f req/s for %.2fs: admitted %d = %.1f req/s after the burst of %d (configured %.0f, %+.1f%%); stalls beyond the %v window %v, adjusted %.1f req/s (%+.1f%%)",
		workers, float64(offered.Load())/elapsed, elapsed, allowed.Load(), achieved, burst, rate, 100*(achieved-rate)/rate,
		window, stalls.Round(time.Millisecond), adjusted, 100*(adjusted-rate)/rate)
	if float64(offered.Load())/elapsed < 2*rate {
		t.Fatalf("offered only %.0f req/s; the measurement needs more than the rate", float64(offered.Load())/elapsed)
	}
	if achieved > 1.1*rate {
		t.Fatalf("admitted %.1f req/s, more than %.0f +10%%", achieved, rate)
	}
	if adjusted < 0.9*rate {
		t.Fatalf("admitted %.1f req/s (%.1f counting stalls), less than %.0f -10%%", achieved, adjusted, rate)
	}
}
