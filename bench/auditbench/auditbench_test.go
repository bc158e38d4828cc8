// Package auditbench measures the batched audit writer end to end on the
// embedded SQLite store: Record from many goroutines, then Close, which
// waits until every event is committed. The events/s metric is
// b.N / (time from the first Record to the return of Close).
//
//	go test -run '^$' -bench . -benchtime 100000x -count 5 ./bench/auditbench/
package auditbench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/store/sqlite"
)

// proxyEvent is a typical proxy-decision event as the proxy records it.
func proxyEvent(tenant string) tollgate.AuditEvent {
	return tollgate.AuditEvent{
		Tenant:    tenant,
		Actor:     "key_01JNQX3Z7W8K2M4P6R8T0V2X4A",
		ActorType: tollgate.ActorKey,
		Action:    "proxy.connect",
		Target:    "hooks.example.com:443",
		Outcome:   tollgate.OutcomeSuccess,
		ClientIP:  "127.0.0.1",
		Metadata:  json.RawMessage(`{"bytes_in":5321,"bytes_out":118,"duration_ms":41.7,"key_id":"key_01JNQX3Z7W8K2M4P6R8T0V2X4A","mode":"tunnel","port":443,"status":200,"vetted_ip":"93.184.215.14"}`),
	}
}

func benchWriter(b *testing.B, tenants int, flush time.Duration) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "tollgate.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w := audit.NewWriter(st.Audit(), audit.WriterOptions{FlushInterval: flush}, nil)
	events := make([]tollgate.AuditEvent, tenants)
	for i := range events {
		events[i] = proxyEvent(fmt.Sprintf("tenant-%d", i))
	}
	b.ReportAllocs()
	b.SetParallelism(4) // 4×GOMAXPROCS producers, like concurrent proxy requests
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := w.Record(ctx, events[i%tenants]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	// Every event must be stored: count them back.
	if b.N >= 1000 {
		var n int
		for _, e := range events {
			if err := st.Audit().ScanAudit(ctx, e.Tenant, func(tollgate.AuditEvent) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if n != b.N {
			b.Fatalf("stored %d events, recorded %d", n, b.N)
		}
	}
}

func BenchmarkSQLiteWriter(b *testing.B) {
	for _, tc := range []struct{ tenants int }{{1}, {16}} {
		b.Run(fmt.Sprintf("tenants=%d", tc.tenants), func(b *testing.B) { benchWriter(b, tc.tenants, 200*time.Millisecond) })
	}
}
