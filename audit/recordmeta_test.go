package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/audit/audittest"
)

// TestRecordMetaSealsVerifiably: an event recorded with builder metadata
// verifies like one recorded with raw metadata.
func TestRecordMetaSealsVerifiably(t *testing.T) {
	st := audittest.NewMemStore()
	w := audit.NewWriter(st, audit.WriterOptions{FlushInterval: time.Millisecond}, nil)
	m := audit.NewMetaBuilder(nil)
	m.String("mode", "tunnel")
	m.Int("status", 200)
	meta, err := m.Done()
	if err != nil {
		t.Fatal(err)
	}
	ev := tollgate.AuditEvent{Tenant: "acme", Actor: "key_1", ActorType: tollgate.ActorKey, Action: "proxy.tunnel",
		Outcome: tollgate.OutcomeSuccess, Metadata: []byte(`{"ignored":true}`)}
	if err := w.RecordMeta(context.Background(), ev, meta); err != nil {
		t.Fatal(err)
	}
	if err := w.RecordMeta(context.Background(), ev, audit.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []tollgate.AuditEvent
	if err := st.ScanAudit(context.Background(), "acme", func(e tollgate.AuditEvent) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Metadata) != `{"mode":"tunnel","status":200}` || string(got[1].Metadata) != `{}` {
		t.Fatalf("stored %+v", got)
	}
	v := audit.NewVerifier("")
	for _, e := range got {
		v.Add(e)
	}
	if r := v.Result(); !r.OK || r.Events != 2 {
		t.Fatalf("verify: %+v", r)
	}
}
