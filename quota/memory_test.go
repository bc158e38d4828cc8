package quota

import (
	"context"
	"testing"
	"time"

	tollgate "github.com/tollgate-dev/tollgate"
)

// step is one action of a scripted scenario: advance the clock, then make
// a request and compare the verdict.
type step struct {
	advance time.Duration
	req     tollgate.QuotaRequest
	want    tollgate.QuotaResult
}

func allow() tollgate.QuotaResult { return tollgate.QuotaResult{Allowed: true} }

func refuse(limit string, after time.Duration) tollgate.QuotaResult {
	return tollgate.QuotaResult{Limit: limit, RetryAfter: after}
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
		if i > 0 {
			out[i].advance = 0
		}
	}
	return out
}

func join(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func runSteps(t *testing.T, l tollgate.Limiter, clk *fakeClock, steps []step) {
	t.Helper()
	for i, s := range steps {
		if clk != nil {
			clk.Advance(s.advance)
		}
		got, err := l.Admit(context.Background(), s.req)
		if err != nil {
			t.Fatalf("step %d: Admit: %v", i, err)
		}
		if got != s.want {
			t.Fatalf("step %d (%+v): got %+v, want %+v", i, s.req, got, s.want)
		}
	}
}

func TestMemoryAdmitDimensions(t *testing.T) {
	tenantQ := tollgate.Quotas{RequestsPerSecond: 10, Burst: 5}
	t1 := tollgate.QuotaRequest{Tenant: "acme", Quotas: tenantQ}
	keyQ := tollgate.Quotas{PerKeyRequestsPerSecond: 2}
	hostQ := tollgate.Quotas{PerHostRequestsPerSecond: 0.5}
	req := func(tenant, key, host string, q tollgate.Quotas) tollgate.QuotaRequest {
		return tollgate.QuotaRequest{Tenant: tenant, KeyID: key, Host: host, Quotas: q}
	}
	tests := []struct {
		name   string
		global float64
		steps  []step
	}{
		{
			name:  "unlimited tenant",
			steps: repeat(1000, step{req: req("free", "k", "h", tollgate.Quotas{}), want: allow()}),
		},
		{
			name: "tenant burst then refill",
			steps: join(
				repeat(5, step{req: t1, want: allow()}),
				[]step{{req: t1, want: refuse(tollgate.LimitTenantRPS, 100*time.Millisecond)}},
				[]step{{advance: 40 * time.Millisecond, req: t1, want: refuse(tollgate.LimitTenantRPS, 60*time.Millisecond)}},
				[]step{{advance: 60 * time.Millisecond, req: t1, want: allow()}},
				[]step{{req: t1, want: refuse(tollgate.LimitTenantRPS, 100*time.Millisecond)}},
				// A full second refills the whole burst, not more.
				[]step{{advance: time.Second, req: t1, want: allow()}},
				repeat(4, step{req: t1, want: allow()}),
				[]step{{req: t1, want: refuse(tollgate.LimitTenantRPS, 100*time.Millisecond)}},
			),
		},
		{
			name: "burst zero defaults to one second of rate",
			steps: join(
				repeat(3, step{req: req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 2.5}), want: allow()}),
				[]step{{req: req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 2.5}), want: refuse(tollgate.LimitTenantRPS, 400*time.Millisecond)}},
			),
		},
		{
			name: "fractional rate keeps a burst of one",
			steps: []step{
				{req: req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.25}), want: allow()},
				{req: req("acme", "", "", tollgate.Quotas{RequestsPerSecond: 0.25}), want: refuse(tollgate.LimitTenantRPS, 4*time.Second)},
			},
		},
		{
			name: "per key budgets are separate",
			steps: join(
				repeat(2, step{req: req("acme", "key_a", "", keyQ), want: allow()}),
				[]step{{req: req("acme", "key_a", "", keyQ), want: refuse(tollgate.LimitKeyRPS, 500*time.Millisecond)}},
				repeat(2, step{req: req("acme", "key_b", "", keyQ), want: allow()}),
				// Same key id under another tenant is another budget.
				repeat(2, step{req: req("other", "key_a", "", keyQ), want: allow()}),
				// A request without a key id has no key budget to spend.
				repeat(5, step{req: req("acme", "", "", keyQ), want: allow()}),
			),
		},
		{
			name: "per host budgets are separate",
			steps: []step{
				{req: req("acme", "", "a.example", hostQ), want: allow()},
				{req: req("acme", "", "a.example", hostQ), want: refuse(tollgate.LimitHostRPS, 2*time.Second)},
				{req: req("acme", "", "b.example", hostQ), want: allow()},
				{req: req("other", "", "a.example", hostQ), want: allow()},
				{advance: 2 * time.Second, req: req("acme", "", "a.example", hostQ), want: allow()},
			},
		},
		{
			name:   "global limit spans tenants",
			global: 2,
			steps: []step{
				{req: req("a", "", "", tollgate.Quotas{}), want: allow()},
				{req: req("b", "", "", tollgate.Quotas{}), want: allow()},
				{req: req("c", "", "", tollgate.Quotas{}), want: refuse(tollgate.LimitGlobalRPS, 500*time.Millisecond)},
				{req: req("d", "", "", tenantQ), want: refuse(tollgate.LimitGlobalRPS, 500*time.Millisecond)},
				{advance: 500 * time.Millisecond, req: req("c", "", "", tollgate.Quotas{}), want: allow()},
			},
		},
		{
			name: "the longest wait names the limit",
			steps: []step{
				{req: req("acme", "", "a.example", tollgate.Quotas{RequestsPerSecond: 10, Burst: 1, PerHostRequestsPerSecond: 1}), want: allow()},
				{req: req("acme", "", "a.example", tollgate.Quotas{RequestsPerSecond: 10, Burst: 1, PerHostRequestsPerSecond: 1}), want: refuse(tollgate.LimitHostRPS, time.Second)},
				{req: req("acme", "", "a.example", tollgate.Quotas{RequestsPerSecond: 0.5, Burst: 1, PerHostRequestsPerSecond: 1}), want: refuse(tollgate.LimitTenantRPS, 2*time.Second)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := NewMemory(Options{Now: clk.Now, GlobalRequestsPerSecond: tt.global}, nil)
			runSteps(t, l, clk, tt.steps)
		})
	}
}

// TestMemoryRefusalConsumesNothing checks that a request refused by one
// dimension leaves every other dimension's budget untouched. The tenant's
// rate is tiny so that nothing refills during a scenario: a token spent by
// a refusal would show up as a later refusal.
func TestMemoryRefusalConsumesNothing(t *testing.T) {
	slow := tollgate.Quotas{RequestsPerSecond: 0.001, Burst: 2}
	tests := []struct {
		name   string
		global float64
		setup  func(t *testing.T, l *Memory) // exhausts the refusing dimension
		refuse tollgate.QuotaRequest
		limit  string
		wait   time.Duration         // until the refusing dimension has refilled
		after  tollgate.QuotaRequest // needs the other dimensions intact
	}{
		{
			// Key burst 2: the first request spends one key and one tenant
			// token and the host's only one; "after" needs the second key
			// and tenant tokens.
			name:   "host refusal keeps tenant and key tokens",
			refuse: tollgate.QuotaRequest{Tenant: "acme", KeyID: "k1", Host: "a.example", Quotas: withHost(withKey(slow, 2), 0.001)},
			limit:  tollgate.LimitHostRPS,
			after:  tollgate.QuotaRequest{Tenant: "acme", KeyID: "k1", Host: "b.example", Quotas: withHost(withKey(slow, 2), 0.001)},
		},
		{
			name:   "key refusal keeps tenant and host tokens",
			refuse: tollgate.QuotaRequest{Tenant: "acme", KeyID: "k1", Host: "a.example", Quotas: withHost(withKey(slow, 0.001), 2)},
			limit:  tollgate.LimitKeyRPS,
			after:  tollgate.QuotaRequest{Tenant: "acme", KeyID: "k2", Host: "a.example", Quotas: withHost(withKey(slow, 0.001), 2)},
		},
		{
			// The tenant refills in 100 ms, key and host (burst 2) in
			// 500 ms: after 100 ms only their unspent second token admits.
			name:   "tenant refusal keeps key and host tokens",
			refuse: tollgate.QuotaRequest{Tenant: "acme", KeyID: "k1", Host: "a.example", Quotas: withHost(withKey(tollgate.Quotas{RequestsPerSecond: 10, Burst: 1}, 2), 2)},
			limit:  tollgate.LimitTenantRPS,
			wait:   100 * time.Millisecond,
		},
		{
			name:   "global refusal keeps tenant tokens",
			global: 1,
			setup: func(t *testing.T, l *Memory) {
				mustAdmit(t, l, tollgate.QuotaRequest{Tenant: "other"})
			},
			refuse: tollgate.QuotaRequest{Tenant: "acme", Quotas: slow},
			limit:  tollgate.LimitGlobalRPS,
			wait:   time.Second,
		},
		{
			name: "bandwidth refusal keeps tenant tokens",
			setup: func(t *testing.T, l *Memory) {
				if _, err := l.Transfer(context.Background(), "acme", 1000, 3000); err != nil {
					t.Fatal(err)
				}
			},
			refuse: tollgate.QuotaRequest{Tenant: "acme", Quotas: withBytes(slow, 1000)},
			limit:  tollgate.LimitTenantBandwidth,
			wait:   2 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := NewMemory(Options{Now: clk.Now, GlobalRequestsPerSecond: tt.global}, nil)
			if tt.setup != nil {
				tt.setup(t, l)
			} else {
				mustAdmit(t, l, tt.refuse)
			}
			for i := 0; i < 5; i++ {
				got, _ := l.Admit(context.Background(), tt.refuse)
				if got.Allowed || got.Limit != tt.limit {
					t.Fatalf("refusal %d: got %+v, want limit %s", i, got, tt.limit)
				}
			}
			if tt.after.Tenant != "" {
				mustAdmit(t, l, tt.after)
				return
			}
			// Once the refusing dimension has refilled, the others must
			// still hold every token they had.
			clk.Advance(tt.wait)
			mustAdmit(t, l, tt.refuse)
			if tt.setup != nil {
				clk.Advance(tt.wait)
				mustAdmit(t, l, tt.refuse)
			}
		})
	}
}

func withKey(q tollgate.Quotas, r float64) tollgate.Quotas  { q.PerKeyRequestsPerSecond = r; return q }
func withHost(q tollgate.Quotas, r float64) tollgate.Quotas { q.PerHostRequestsPerSecond = r; return q }
func withBytes(q tollgate.Quotas, b int64) tollgate.Quotas  { q.BytesPerSecond = b; return q }

func mustAdmit(t *testing.T, l tollgate.Limiter, req tollgate.QuotaRequest) {
	t.Helper()
	got, err := l.Admit(context.Background(), req)
	if err != nil || !got.Allowed {
		t.Fatalf("Admit(%+v) = %+v, %v; want allowed", req, got, err)
	}
}

func TestMemoryLimitChangeAppliesAtNextDecision(t *testing.T) {
	q := func(rate float64, burst int) tollgate.QuotaRequest {
		return tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{RequestsPerSecond: rate, Burst: burst}}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "raised limit admits at once",
			steps: join(
				repeat(100, step{req: q(1, 100), want: allow()}),
				[]step{{req: q(1, 100), want: refuse(tollgate.LimitTenantRPS, time.Second)}},
				// 100 requests outstanding fit a burst of 1000.
				repeat(900, step{req: q(1000, 1000), want: allow()}),
				[]step{{req: q(1000, 1000), want: refuse(tollgate.LimitTenantRPS, time.Millisecond)}},
			),
		},
		{
			name: "lowered limit refuses at once",
			steps: join(
				repeat(10, step{req: q(1000, 10), want: allow()}),
				// Ten requests outstanding against a burst of ten at 1/s.
				[]step{{req: q(1, 10), want: refuse(tollgate.LimitTenantRPS, time.Second)}},
				// The debt drains in real time at the new rate.
				[]step{{advance: 5 * time.Millisecond, req: q(1, 10), want: refuse(tollgate.LimitTenantRPS, 995*time.Millisecond)}},
				[]step{{advance: 995 * time.Millisecond, req: q(1, 10), want: allow()}},
				[]step{{req: q(1, 10), want: refuse(tollgate.LimitTenantRPS, time.Second)}},
			),
		},
		{
			name: "removed limit admits",
			steps: join(
				[]step{{req: q(1, 1), want: allow()}, {req: q(1, 1), want: refuse(tollgate.LimitTenantRPS, time.Second)}},
				repeat(50, step{req: q(0, 0), want: allow()}),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			runSteps(t, NewMemory(Options{Now: clk.Now}, nil), clk, tt.steps)
		})
	}
}

func TestMemoryBandwidth(t *testing.T) {
	ctx := context.Background()
	bw := tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{BytesPerSecond: 1000}}
	tests := []struct {
		name      string
		bps       int64
		transfers []int
		wantPause time.Duration // after the last transfer
		admit     tollgate.QuotaRequest
		want      tollgate.QuotaResult
	}{
		{name: "within one second of budget", bps: 1000, transfers: []int{400, 600}, wantPause: 0, admit: bw, want: allow()},
		{name: "debt past one second pauses and refuses", bps: 1000, transfers: []int{1000, 500}, wantPause: 500 * time.Millisecond,
			admit: bw, want: refuse(tollgate.LimitTenantBandwidth, 500*time.Millisecond)},
		{name: "one big chunk", bps: 1000, transfers: []int{4000}, wantPause: 3 * time.Second,
			admit: bw, want: refuse(tollgate.LimitTenantBandwidth, 3*time.Second)},
		{name: "unlimited transfer charges nothing", bps: 0, transfers: []int{1 << 30}, wantPause: 0, admit: bw, want: allow()},
		{name: "bandwidth debt does not refuse a tenant without a byte limit", bps: 1000, transfers: []int{5000}, wantPause: 4 * time.Second,
			admit: tollgate.QuotaRequest{Tenant: "acme"}, want: allow()},
		{name: "raised byte limit shrinks the debt", bps: 1000, transfers: []int{3000}, wantPause: 2 * time.Second,
			admit: tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{BytesPerSecond: 2000}}, want: refuse(tollgate.LimitTenantBandwidth, 500*time.Millisecond)},
		{name: "lowered byte limit grows the debt", bps: 1000, transfers: []int{1500}, wantPause: 500 * time.Millisecond,
			admit: tollgate.QuotaRequest{Tenant: "acme", Quotas: tollgate.Quotas{BytesPerSecond: 500}}, want: refuse(tollgate.LimitTenantBandwidth, 2*time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := NewMemory(Options{Now: clk.Now}, nil)
			var pause time.Duration
			for _, n := range tt.transfers {
				var err error
				if pause, err = l.Transfer(ctx, "acme", tt.bps, n); err != nil {
					t.Fatal(err)
				}
			}
			if pause != tt.wantPause {
				t.Fatalf("pause %v, want %v", pause, tt.wantPause)
			}
			runSteps(t, l, clk, []step{{req: tt.admit, want: tt.want}})
			if !tt.want.Allowed {
				// Pausing for RetryAfter is exactly enough.
				runSteps(t, l, clk, []step{{advance: tt.want.RetryAfter, req: tt.admit, want: allow()}})
			}
		})
	}
}
