package resolver

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

func benchResolver(b *testing.B) *Resolver {
	b.Helper()
	s := dnstest.Start(b)
	s.Set("bench.example",
		"bench.example. 300 IN CNAME edge.example.",
		"edge.example. 300 IN A 127.0.0.2",
		"edge.example. 300 IN A 127.0.0.3",
		"edge.example. 300 IN AAAA ::1",
	)
	// The production clock, so the measured path is the one the proxy runs.
	r, err := New(Config{Servers: []string{s.Addr()}}, prometheus.NewRegistry(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Lookup(context.Background(), "bench.example"); err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkLookupCacheHit(b *testing.B) {
	r := benchResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, err := r.Lookup(ctx, "bench.example")
		if err != nil || !a.Cached {
			b.Fatalf("not a hit: %v", err)
		}
	}
}

func BenchmarkLookupCacheHitParallel(b *testing.B) {
	r := benchResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, err := r.Lookup(ctx, "bench.example")
			if err != nil || !a.Cached {
				b.Errorf("not a hit: %v", err)
				return
			}
		}
	})
}

func BenchmarkLookupMiss(b *testing.B) {
	s := dnstest.Start(b)
	s.Set("miss.example", "miss.example. 0 IN A 127.0.0.2", "miss.example. 0 IN AAAA ::1")
	r, _, _ := newTest(b, Config{}, s)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Lookup(ctx, "miss.example"); err != nil {
			b.Fatal(err)
		}
	}
}
