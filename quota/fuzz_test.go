package quota

import (
	"context"
	"testing"
	"time"

	tollgate "github.com/tollgate-dev/tollgate"
)

// FuzzMemoryAdmit drives one tenant's rate limit with arbitrary rates,
// bursts and clock steps and checks the GCRA guarantees: never more than
// burst + elapsed*rate admissions, RetryAfter always positive on a refusal,
// and a retry after exactly RetryAfter always admitted. Each op byte either
// advances the clock by its low bits in milliseconds and asks, or (high bit)
// waits out the last refusal and asks.
func FuzzMemoryAdmit(f *testing.F) {
	f.Add(uint16(10), uint8(5), []byte{0, 0, 0, 0, 0, 0, 0x80, 0, 40, 60})
	f.Add(uint16(1), uint8(0), []byte{0, 0, 0x80, 0x80, 0, 1, 2})
	f.Add(uint16(2500), uint8(3), []byte{0, 0, 0, 0, 0x7f, 0, 0x80})
	f.Add(uint16(3), uint8(1), []byte{0x80, 0x80, 0x80, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, rateCenti uint16, burst uint8, ops []byte) {
		rate := float64(rateCenti%10000+1) / 10 // 0.1 .. 1000 per second
		clk := newFakeClock()
		l := NewMemory(Options{Now: clk.Now}, nil)
		req := tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: rate, Burst: int(burst)}}
		start := clk.Now()
		admitted := 0
		var lastRetry time.Duration // of the previous op, if it was refused
		for i, op := range ops {
			waitedOut := op&0x80 != 0 && lastRetry > 0
			if op&0x80 != 0 {
				clk.Advance(lastRetry)
			} else {
				clk.Advance(time.Duration(op&0x7f) * time.Millisecond)
			}
			res, err := l.Admit(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if waitedOut && !res.Allowed {
				t.Fatalf("op %d: refused %+v right after waiting out the previous refusal (%v)", i, res, lastRetry)
			}
			lastRetry = 0
			if res.Allowed {
				admitted++
			} else {
				if res.Limit != tollgate.LimitTenantRPS || res.RetryAfter <= 0 {
					t.Fatalf("op %d: bad refusal %+v", i, res)
				}
				lastRetry = res.RetryAfter
			}
			elapsed := clk.Now().Sub(start).Seconds()
			limit := float64(effectiveBurst(rate, int(burst))) + elapsed*rate + 1e-6
			if float64(admitted) > limit {
				t.Fatalf("op %d: admitted %d in %.3fs at %.1f/s burst %d (limit %.3f)", i, admitted, elapsed, rate, burst, limit)
			}
		}
	})
}

// FuzzDecodeAdmit feeds the admit script's reply parser arbitrary replies:
// it must never panic and never return a refusal it cannot name.
func FuzzDecodeAdmit(f *testing.F) {
	f.Add(int64(1), int64(0), int64(0), 3)
	f.Add(int64(0), int64(2), int64(100000), 3)
	f.Add(int64(0), int64(5), int64(1), 3)
	f.Add(int64(0), int64(6), int64(1), 3)
	f.Add(int64(0), int64(1), int64(-1), 3)
	f.Add(int64(7), int64(1), int64(1<<62), 2)
	f.Fuzz(func(t *testing.T, a, b, c int64, n int) {
		reply := []int64{a, b, c, a}[:max(0, min(n, 4))]
		res, err := decodeAdmit(reply)
		if err != nil {
			if res != (tollgate.QuotaResult{}) {
				t.Fatalf("error with a result: %+v", res)
			}
			return
		}
		if res.Allowed {
			if res.Limit != "" || res.RetryAfter != 0 {
				t.Fatalf("admission with refusal fields: %+v", res)
			}
			return
		}
		switch res.Limit {
		case tollgate.LimitGlobalRPS, tollgate.LimitTenantRPS, tollgate.LimitKeyRPS,
			tollgate.LimitHostRPS, tollgate.LimitTenantBandwidth:
		default:
			t.Fatalf("refusal names unknown limit %q (reply %v)", res.Limit, reply)
		}
		if res.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", res.RetryAfter)
		}
	})
}
