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

// BenchmarkRecordPaths compares Record (metadata parsed and re-encoded)
// with RecordMeta (metadata built canonical) for one typical proxy event,
// each through to the in-memory store.
func BenchmarkRecordPaths(b *testing.B) {
	ctx := context.Background()
	build := func() audit.Meta {
		m := audit.NewMetaBuilder(make([]byte, 0, 256))
		m.Int("bytes_in", 5321)
		m.Int("bytes_out", 118)
		m.Float("duration_ms", 41.7)
		m.String("key_id", "key_01JNQX3Z7W8K2M4P6R8T0V2X4A")
		m.String("mode", "intercept")
		m.Int("port", 443)
		m.Int("status", 200)
		m.String("vetted_ip", "93.184.215.14")
		meta, err := m.Done()
		if err != nil {
			b.Fatal(err)
		}
		return meta
	}
	for _, tc := range []struct {
		name   string
		record func(w *audit.Writer, e tollgate.AuditEvent) error
	}{
		{"Record", func(w *audit.Writer, e tollgate.AuditEvent) error { return w.Record(ctx, e) }},
		{"RecordMeta", func(w *audit.Writer, e tollgate.AuditEvent) error { return w.RecordMeta(ctx, e, build()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := audit.NewWriter(audittest.NewMemStore(), audit.WriterOptions{}, nil)
			e := proxyEvent()
			e.ID, e.Time = "", time.Time{}
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.record(w, e); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
