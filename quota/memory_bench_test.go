package quota

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	tollgate "github.com/tollgate-dev/tollgate"
)

// decisionCases are the shapes of Admit the allocation check and the
// benchmark cover; none may allocate once its cells exist.
var decisionCases = []struct {
	name   string
	global float64
	req    tollgate.QuotaRequest
}{
	{"unlimited", 0, tollgate.QuotaRequest{Tenant: "acme", KeyID: "key_1", Host: "hooks.example.com"}},
	{"tenant rps", 0, tollgate.QuotaRequest{Tenant: "acme", KeyID: "key_1", Host: "hooks.example.com",
		Quotas: tollgate.Quotas{RequestsPerSecond: 1e9, Burst: 1 << 20}}},
	{"every dimension", 1e9, tollgate.QuotaRequest{Tenant: "acme", KeyID: "key_1", Host: "hooks.example.com",
		Quotas: tollgate.Quotas{RequestsPerSecond: 1e9, Burst: 1 << 20, BytesPerSecond: 1 << 40,
			PerKeyRequestsPerSecond: 1e9, PerHostRequestsPerSecond: 1e9}}},
	{"refused", 0, tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: 1e-3}}},
}

func TestMemoryAdmitDoesNotAllocate(t *testing.T) {
	for _, tt := range decisionCases {
		if tt.name == "refused" {
			continue // a refusal bumps a labelled counter, which may allocate
		}
		t.Run(tt.name, func(t *testing.T) {
			l := NewMemory(Options{GlobalRequestsPerSecond: tt.global}, nil)
			ctx := context.Background()
			mustAdmit(t, l, tt.req) // creates the cells
			allocs := testing.AllocsPerRun(1000, func() {
				if res, _ := l.Admit(ctx, tt.req); !res.Allowed {
					t.Fatalf("refused: %+v", res)
				}
			})
			if allocs != 0 {
				t.Fatalf("Admit allocates %v times per decision, want 0", allocs)
			}
		})
	}
}

// tickClock is a clock that costs an atomic add: it separates the cost of
// a decision from that of reading the system clock, which on some virtual
// machines (no vDSO) alone takes a few hundred nanoseconds.
func tickClock() func() time.Time {
	base := time.Now()
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1000))) }
}

// BenchmarkMemoryAdmit measures one decision, on the system clock and on a
// clock that costs nothing.
func BenchmarkMemoryAdmit(b *testing.B) {
	clocks := []struct {
		name string
		now  func() time.Time
	}{{"system clock", time.Now}, {"free clock", tickClock()}}
	for _, clk := range clocks {
		for _, tt := range decisionCases {
			b.Run(clk.name+"/"+tt.name, func(b *testing.B) {
				b.ReportAllocs()
				l := NewMemory(Options{GlobalRequestsPerSecond: tt.global, Now: clk.now}, nil)
				ctx := context.Background()
				for b.Loop() {
					_, _ = l.Admit(ctx, tt.req)
				}
			})
		}
	}
	// Many tenants from many goroutines: shards keep them apart.
	b.Run("parallel 1000 tenants", func(b *testing.B) {
		b.ReportAllocs()
		l := NewMemory(Options{Now: tickClock()}, nil)
		reqs := make([]tollgate.QuotaRequest, 1000)
		for i := range reqs {
			reqs[i] = tollgate.QuotaRequest{Tenant: "tenant-" + strconv.Itoa(i),
				Quotas: tollgate.Quotas{RequestsPerSecond: 1e9, Burst: 1 << 20}}
			_, _ = l.Admit(context.Background(), reqs[i])
		}
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _ = l.Admit(context.Background(), reqs[i%len(reqs)])
				i++
			}
		})
	})
}

func BenchmarkMemoryTransfer(b *testing.B) {
	b.ReportAllocs()
	l := NewMemory(Options{}, nil)
	ctx := context.Background()
	for b.Loop() {
		_, _ = l.Transfer(ctx, "acme", 1<<40, 32<<10)
	}
}

func BenchmarkMemoryAcquireRelease(b *testing.B) {
	b.ReportAllocs()
	l := NewMemory(Options{}, nil)
	ctx := context.Background()
	for b.Loop() {
		release, _, _ := l.Acquire(ctx, "acme", 1000)
		release()
	}
}
