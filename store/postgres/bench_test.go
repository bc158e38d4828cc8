package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// BenchmarkGetTenant is one scoped lookup: begin, role switch, query, commit.
func BenchmarkGetTenant(b *testing.B) {
	s := openStore(b, newSchema(b))
	ctx := b.Context()
	for i := range 100 {
		mustDo(b, s.Admin().CreateTenant(ctx, storetest.Tenant(fmt.Sprintf("t%d", i))))
	}
	r := s.Scoped("t42")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.GetTenant(ctx, "t42"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendAudit100 appends batches of 100 events over 10 chains and
// reports events/s.
func BenchmarkAppendAudit100(b *testing.B) {
	s := openStore(b, newSchema(b))
	ctx := b.Context()
	batch := make([]tollgate.AuditEvent, 100)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	start := time.Now()
	for b.Loop() {
		for i := range batch {
			batch[i] = storetest.Event(fmt.Sprintf("ev%d", n), fmt.Sprintf("t%d", i%10), storetest.Base)
			n++
		}
		if err := s.Audit().AppendAudit(ctx, batch, storetest.Seal); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}
