package resolver

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

func TestTTLClamp(t *testing.T) {
	tests := []struct {
		name    string
		records []string
		wantTTL time.Duration
	}{
		{"below min is raised", []string{"t.example. 1 IN A 127.0.0.2"}, 5 * time.Second},
		{"above max is lowered", []string{"t.example. 86400 IN A 127.0.0.2"}, time.Minute},
		{"inside is kept", []string{"t.example. 30 IN A 127.0.0.2"}, 30 * time.Second},
		{"smallest record used wins", []string{
			"t.example. 20 IN CNAME u.example.",
			"u.example. 50 IN A 127.0.0.2",
			"u.example. 40 IN A 127.0.0.3",
		}, 20 * time.Second},
		{"unused records do not count", []string{
			"t.example. 45 IN A 127.0.0.2",
			"other.example. 7 IN A 127.0.0.3",
		}, 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("t.example", tt.records...)
			r, clock, _ := newTest(t, Config{MinTTL: 5 * time.Second, MaxTTL: time.Minute}, s)
			first := mustLookup(t, r, "t.example")
			if first.TTL != tt.wantTTL || first.Cached {
				t.Fatalf("first: TTL %s cached %v, want %s, false", first.TTL, first.Cached, tt.wantTTL)
			}
			clock.advance(tt.wantTTL - time.Second)
			second := mustLookup(t, r, "t.example")
			if !second.Cached || second.TTL != time.Second {
				t.Fatalf("just before expiry: cached %v TTL %s, want true, 1s", second.Cached, second.TTL)
			}
			if got := s.QueriesByType("t.example", dns.TypeA); got != 1 {
				t.Fatalf("A queries before expiry = %d, want 1", got)
			}
			clock.advance(time.Second)
			third := mustLookup(t, r, "t.example")
			if third.Cached {
				t.Fatal("answer still cached at expiry")
			}
			if got := s.QueriesByType("t.example", dns.TypeA); got != 2 {
				t.Fatalf("A queries after expiry = %d, want 2", got)
			}
		})
	}
}

func TestTTLZeroNotCachedWithMinZero(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("zero.example", "zero.example. 0 IN A 127.0.0.2")
	s.Set("one.example", "one.example. 1 IN A 127.0.0.2")
	r, _, _ := newTest(t, Config{MinTTL: 0, MaxTTL: time.Minute}, s)
	for i := range 3 {
		a := mustLookup(t, r, "zero.example")
		if a.Cached || a.TTL != 0 {
			t.Fatalf("lookup %d: cached %v TTL %s, want fresh with TTL 0", i, a.Cached, a.TTL)
		}
	}
	if got := s.QueriesByType("zero.example", dns.TypeA); got != 3 {
		t.Fatalf("A queries = %d, want 3", got)
	}
	// A TTL of one second is still cached with MinTTL 0.
	mustLookup(t, r, "one.example")
	if a := mustLookup(t, r, "one.example"); !a.Cached {
		t.Fatal("ttl 1 answer not cached")
	}
}

func TestNegativeCaching(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(s *dnstest.Server)
		negTTL     time.Duration
		want       error
		wantCached bool
	}{
		{"nxdomain cached", func(*dnstest.Server) {}, 30 * time.Second, ErrNXDomain, true},
		{"no address cached", func(s *dnstest.Server) { s.Set("n.example") }, 30 * time.Second, ErrNoAddress, true},
		{"cname loop cached", func(s *dnstest.Server) {
			s.Set("n.example", "n.example. 60 IN CNAME n.example.")
		}, 30 * time.Second, ErrCNAMELoop, true},
		{"servfail not cached", func(s *dnstest.Server) { s.SetRcode("n.example", dns.RcodeServerFailure) }, 30 * time.Second, ErrServFail, false},
		{"negative ttl 0 disables", func(*dnstest.Server) {}, 0, ErrNXDomain, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			tt.setup(s)
			r, clock, reg := newTest(t, Config{NegativeTTL: tt.negTTL}, s)
			_, err := r.Lookup(context.Background(), "n.example")
			wantErr(t, err, tt.want)
			clock.advance(tt.negTTL - time.Second)
			_, err = r.Lookup(context.Background(), "n.example")
			wantErr(t, err, tt.want)
			wantQueries := 2
			if tt.wantCached {
				wantQueries = 1
			}
			if got := s.QueriesByType("n.example", dns.TypeA); got != wantQueries {
				t.Fatalf("A queries = %d, want %d", got, wantQueries)
			}
			if got := lookupCount(t, reg, "error"); got != 2 {
				t.Fatalf("error count = %v, want 2", got)
			}
			if got := histogramCount(t, reg); got != uint64(wantQueries) {
				t.Fatalf("network lookups observed = %d, want %d", got, wantQueries)
			}
			if tt.wantCached {
				clock.advance(time.Second)
				_, err = r.Lookup(context.Background(), "n.example")
				wantErr(t, err, tt.want)
				if got := s.QueriesByType("n.example", dns.TypeA); got != 2 {
					t.Fatalf("A queries after negative ttl = %d, want 2", got)
				}
			}
		})
	}
}

func TestPartialAnswerCachedOnlyNegativeTTL(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("half.example", "half.example. 300 IN A 127.0.0.2")
	s.SetRcodeType("half.example", dns.TypeAAAA, dns.RcodeServerFailure)
	r, _, _ := newTest(t, Config{MaxTTL: time.Hour, NegativeTTL: 10 * time.Second}, s)
	if a := mustLookup(t, r, "half.example"); a.TTL != 10*time.Second {
		t.Fatalf("partial answer TTL = %s, want the negative TTL 10s", a.TTL)
	}
}

func TestLRUBound(t *testing.T) {
	s := dnstest.Start(t)
	for _, n := range []string{"a", "b", "c"} {
		s.Set(n+".example", n+".example. 60 IN A 127.0.0.2")
	}
	r, _, reg := newTest(t, Config{CacheSize: 2}, s)
	for _, n := range []string{"a", "b", "c", "b", "c", "a"} {
		mustLookup(t, r, n+".example")
	}
	tests := []struct {
		name string
		want int
	}{
		{"a.example", 2}, // evicted by c, asked again
		{"b.example", 1},
		{"c.example", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.QueriesByType(tt.name, dns.TypeA); got != tt.want {
				t.Errorf("A queries = %d, want %d", got, tt.want)
			}
		})
	}
	if n := r.cache.Len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
	if hits, misses := lookupCount(t, reg, "hit"), lookupCount(t, reg, "miss"); hits != 2 || misses != 4 {
		t.Errorf("hits %v misses %v, want 2 and 4", hits, misses)
	}
}

func TestSingleflight(t *testing.T) {
	const callers = 16
	s := dnstest.Start(t)
	release := make(chan struct{})
	s.SetFunc("sf.example", func(q dns.Question, _ int) []dns.RR {
		<-release
		rr, err := dns.NewRR(q.Name + " 60 IN A 127.0.0.2")
		if err != nil || q.Qtype != dns.TypeA {
			return nil
		}
		return []dns.RR{rr}
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	r, _, reg := newTest(t, Config{}, s)
	var joined atomic.Int32
	r.joined = func() {
		if joined.Add(1) == callers {
			close(release)
		}
	}
	var wg sync.WaitGroup
	answers := make([]Answer, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			answers[i], errs[i] = r.Lookup(context.Background(), "sf.example")
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || len(answers[i].Addrs) != 1 {
			t.Fatalf("caller %d: %v %v", i, answers[i].Addrs, errs[i])
		}
	}
	// Every caller has its own slices.
	answers[0].Addrs[0] = answers[0].Addrs[0].Next()
	if answers[1].Addrs[0] == answers[0].Addrs[0] {
		t.Fatal("callers of one flight share an Addrs array")
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if got := s.QueriesByType("sf.example", qtype); got != 1 {
			t.Errorf("%s queries = %d, want 1", dns.TypeToString[qtype], got)
		}
	}
	if got := lookupCount(t, reg, "miss"); got != callers {
		t.Errorf("misses = %v, want %d", got, callers)
	}
}

func TestServerFailover(t *testing.T) {
	tests := []struct {
		name  string
		first func(t *testing.T) string
		want  error
	}{
		{"first answers servfail", func(t *testing.T) string {
			s := dnstest.Start(t)
			s.SetRcode("fo.example", dns.RcodeServerFailure)
			return s.Addr()
		}, nil},
		{"first answers refused", func(t *testing.T) string {
			s := dnstest.Start(t)
			s.SetRcode("fo.example", dns.RcodeRefused)
			return s.Addr()
		}, nil},
		{"first is not listening", func(t *testing.T) string {
			return closedUDPPort(t)
		}, nil},
		{"first answers nxdomain, which is final", func(t *testing.T) string {
			return dnstest.Start(t).Addr()
		}, ErrNXDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			second := dnstest.Start(t)
			second.Set("fo.example", "fo.example. 60 IN A 127.0.0.2")
			r, _, _ := newTest(t, Config{Servers: []string{tt.first(t)}}, second)
			a, err := r.Lookup(context.Background(), "fo.example")
			wantErr(t, err, tt.want)
			wantSecond := 2
			if tt.want != nil {
				wantSecond = 0
			} else if len(a.Addrs) != 1 {
				t.Fatalf("Addrs = %v", a.Addrs)
			}
			if got := second.Queries("fo.example"); got != wantSecond {
				t.Fatalf("second server queries = %d, want %d", got, wantSecond)
			}
		})
	}
}

func TestAllServersFail(t *testing.T) {
	a, b := dnstest.Start(t), dnstest.Start(t)
	a.SetRcode("x.example", dns.RcodeServerFailure)
	b.SetRcode("x.example", dns.RcodeRefused)
	r, _, _ := newTest(t, Config{}, a, b)
	_, err := r.Lookup(context.Background(), "x.example")
	wantErr(t, err, ErrServFail)
	if a.Queries("x.example") != 2 || b.Queries("x.example") != 2 {
		t.Fatalf("queries %d and %d, want 2 each", a.Queries("x.example"), b.Queries("x.example"))
	}
}

func TestTimeout(t *testing.T) {
	s := dnstest.Start(t)
	for _, n := range []string{"slow.example", "slow2.example", "slow3.example"} {
		s.Drop(n, true)
	}
	const timeout = 50 * time.Millisecond
	r, _, _ := newTest(t, Config{Timeout: timeout}, s)
	start := time.Now()
	_, err := r.Lookup(context.Background(), "slow.example")
	wantErr(t, err, ErrTimeout)
	if elapsed := time.Since(start); elapsed < timeout {
		t.Fatalf("timed out after %s, before the %s timeout", elapsed, timeout)
	}

	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := r.Lookup(ctx, "slow2.example")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := s.Queries("slow2.example"); n != 0 {
			t.Fatalf("a cancelled caller sent %d queries", n)
		}
		// The deadline passes while the flight waits on the server.
		dctx, dcancel := context.WithTimeout(context.Background(), timeout/5)
		defer dcancel()
		_, err = r.Lookup(dctx, "slow3.example")
		wantErr(t, err, ErrTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded too", err)
		}
	})
}

// closedUDPPort returns a loopback address nothing listens on, so queries
// to it fail at once with "connection refused".
func closedUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := pc.LocalAddr().String()
	if err := pc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return addr
}
