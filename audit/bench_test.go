package audit_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/audit/audittest"
)

// proxyEvent is a typical proxy-decision event.
func proxyEvent() tollgate.AuditEvent {
	e := baseEvent()
	e.Metadata = json.RawMessage(`{"bytes_in":5321,"bytes_out":118,"duration_ms":41.7,"key_id":"key_01JNQX3Z7W8K2M4P6R8T0V2X4A","mode":"intercept","port":443,"status":200,"vetted_ip":"93.184.215.14"}`)
	return e
}

func BenchmarkCanonical(b *testing.B) {
	e := proxyEvent()
	b.ReportAllocs()
	for b.Loop() {
		audit.Canonical(e)
	}
}

func BenchmarkSeal(b *testing.B) {
	e := proxyEvent()
	prev := "0c6c7e336bf1288144f1039cddc040fea3ea17c6515238090793b5cf31d98612"
	b.ReportAllocs()
	for b.Loop() {
		x := e
		audit.Seal(prev, &x)
	}
}

func BenchmarkVerify(b *testing.B) {
	e := proxyEvent()
	audit.Seal("", &e)
	b.ReportAllocs()
	for b.Loop() {
		if !audit.NewVerifier("").Add(e) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkWriterThroughput measures Record through to the in-memory store
// (sealing included) with the default options; the events/s metric is the
// sustained rate one Writer can absorb.
func BenchmarkWriterThroughput(b *testing.B) {
	store := audittest.NewMemStore()
	w := audit.NewWriter(store, audit.WriterOptions{}, nil)
	e := proxyEvent()
	e.ID, e.Time = "", time.Time{}
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Record(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
