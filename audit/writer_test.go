package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/audit/audittest"
)

// hookStore wraps a MemStore: before runs ahead of every AppendAudit (an
// error fails the call), and the size of every written batch is sent on
// batches when it is not nil.
type hookStore struct {
	tollgate.AuditStore
	before  func(ctx context.Context, events []tollgate.AuditEvent) error
	batches chan int
}

func (s *hookStore) AppendAudit(ctx context.Context, events []tollgate.AuditEvent, seal func(string, *tollgate.AuditEvent)) error {
	if s.before != nil {
		if err := s.before(ctx, events); err != nil {
			return err
		}
	}
	if err := s.AuditStore.AppendAudit(ctx, events, seal); err != nil {
		return err
	}
	if s.batches != nil {
		s.batches <- len(events)
	}
	return nil
}

const waitLimit = 10 * time.Second

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitFor polls cond; used only for conditions another goroutine makes
// true (never to let time pass).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func event(tenant string, i int) tollgate.AuditEvent {
	return tollgate.AuditEvent{
		Tenant: tenant, Actor: "key_x", ActorType: tollgate.ActorKey, Action: "proxy.connect",
		Target: fmt.Sprintf("host-%d.example.com:443", i), Outcome: tollgate.OutcomeSuccess,
		Metadata: []byte(fmt.Sprintf(`{"i":%d}`, i)),
	}
}

func closeWriter(t *testing.T, w *audit.Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// chainIDs verifies tenant's chain and returns its event ids in order.
func chainIDs(t *testing.T, store tollgate.AuditStore, tenant string) []string {
	t.Helper()
	r, err := audit.VerifyChain(context.Background(), store, tenant)
	if err != nil || !r.OK {
		t.Fatalf("chain %q does not verify: %+v %v", tenant, r, err)
	}
	var ids []string
	err = store.ScanAudit(context.Background(), tenant, func(e tollgate.AuditEvent) error {
		ids = append(ids, e.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestWriterBatching(t *testing.T) {
	tests := []struct {
		name    string
		opts    audit.WriterOptions
		record  int
		batches []int // batch sizes written before Close
		flushed bool  // whether Close had anything left to write
	}{
		{name: "by size", opts: audit.WriterOptions{BatchSize: 4, FlushInterval: time.Hour}, record: 8, batches: []int{4, 4}},
		{name: "by size with a remainder left for Close", opts: audit.WriterOptions{BatchSize: 4, FlushInterval: time.Hour}, record: 10, batches: []int{4, 4}, flushed: true},
		{name: "by interval", opts: audit.WriterOptions{BatchSize: 1000, FlushInterval: 20 * time.Millisecond}, record: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &hookStore{AuditStore: audittest.NewMemStore(), batches: make(chan int, 100)}
			reg := prometheus.NewRegistry()
			w := audit.NewWriter(store, tc.opts, reg)
			for i := range tc.record {
				if err := w.Record(context.Background(), event("acme", i)); err != nil {
					t.Fatal(err)
				}
			}
			written := 0
			if tc.batches != nil {
				for i, want := range tc.batches {
					if got := receive(t, store.batches, fmt.Sprintf("batch %d", i)); got != want {
						t.Fatalf("batch %d has %d events, want %d", i, got, want)
					}
					written += want
				}
			} else {
				// Only the interval can trigger a write here: the batch is
				// never full and Close has not been called.
				for written < tc.record {
					written += receive(t, store.batches, "an interval flush")
				}
			}
			closeWriter(t, w)
			if tc.flushed {
				written += receive(t, store.batches, "the final flush")
			}
			if written != tc.record {
				t.Fatalf("wrote %d events, want %d", written, tc.record)
			}
			if got := len(chainIDs(t, store, "acme")); got != tc.record {
				t.Fatalf("stored %d events, want %d", got, tc.record)
			}
			if got := metric(t, reg, "tollgate_audit_events_total"); got != float64(tc.record) {
				t.Errorf("events_total = %v, want %d", got, tc.record)
			}
		})
	}
}

// metric reads a counter or gauge value, or a histogram's sample count,
// from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestWriterFillsIDAndTimeFromClock(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	store := audittest.NewMemStore()
	w := audit.NewWriter(store, audit.WriterOptions{Now: func() time.Time { return now }}, nil)
	given := event("acme", 1)
	given.ID = "evt_given"
	given.Time = now.Add(-time.Hour)
	for _, e := range []tollgate.AuditEvent{event("acme", 0), given} {
		if err := w.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	var got []tollgate.AuditEvent
	_ = store.ScanAudit(context.Background(), "acme", func(e tollgate.AuditEvent) error { got = append(got, e); return nil })
	if len(got) != 2 {
		t.Fatalf("stored %d events", len(got))
	}
	if !got[0].Time.Equal(now.Truncate(time.Microsecond)) || !strings.HasPrefix(got[0].ID, "evt_") {
		t.Errorf("filled event: %+v", got[0])
	}
	if got[1].ID != "evt_given" || !got[1].Time.Equal(given.Time.Truncate(time.Microsecond)) {
		t.Errorf("given ID/Time overwritten: %+v", got[1])
	}
}

func TestWriterRejects(t *testing.T) {
	w := audit.NewWriter(audittest.NewMemStore(), audit.WriterOptions{}, nil)
	bad := event("acme", 0)
	bad.Metadata = []byte(`{"a":`)
	if err := w.Record(context.Background(), bad); !errors.Is(err, audit.ErrInvalidMetadata) {
		t.Errorf("invalid metadata: err = %v", err)
	}
	closeWriter(t, w)
	if err := w.Record(context.Background(), event("acme", 1)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Record after Close: err = %v, want ErrClosed", err)
	}
	closeWriter(t, w) // a second Close is harmless
}

func TestWriterCloseFlushesEverything(t *testing.T) {
	store := audittest.NewMemStore()
	reg := prometheus.NewRegistry()
	w := audit.NewWriter(store, audit.WriterOptions{BatchSize: 64, FlushInterval: time.Hour}, reg)
	const n = 1000
	for i := range n {
		if err := w.Record(context.Background(), event([]string{"acme", "globex", ""}[i%3], i)); err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	total := 0
	for _, tenant := range []string{"acme", "globex", ""} {
		total += len(chainIDs(t, store, tenant))
	}
	if total != n {
		t.Fatalf("stored %d events, want %d", total, n)
	}
	if got := metric(t, reg, "tollgate_audit_queue_length"); got != 0 {
		t.Errorf("queue_length after Close = %v", got)
	}
	if got := metric(t, reg, "tollgate_audit_batch_size"); got < float64(n/64) {
		t.Errorf("batch_size observations = %v, want at least %d", got, n/64)
	}
}

func TestWriterBackpressureBlocksInsteadOfDropping(t *testing.T) {
	gate := make(chan struct{})
	entered := make(chan int, 10)
	var calls atomic.Int32
	store := &hookStore{AuditStore: audittest.NewMemStore(), before: func(ctx context.Context, ev []tollgate.AuditEvent) error {
		if calls.Add(1) == 1 {
			entered <- len(ev)
			<-gate // the store stalls on the first batch
		}
		return nil
	}}
	reg := prometheus.NewRegistry()
	w := audit.NewWriter(store, audit.WriterOptions{QueueSize: 4, BatchSize: 2, FlushInterval: time.Hour}, reg)
	ctx := context.Background()
	recorded := 0
	record := func(ctx context.Context) error {
		err := w.Record(ctx, event("acme", recorded))
		recorded++
		return err
	}
	for range 2 {
		if err := record(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := receive(t, entered, "the first batch to reach the store"); got != 2 {
		t.Fatalf("first batch has %d events", got)
	}
	for range 4 { // fills the queue while the store stalls
		if err := record(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := metric(t, reg, "tollgate_audit_queue_length"); got != 6 {
		t.Errorf("queue_length = %v, want 6 (4 queued + 2 being written)", got)
	}
	if got := metric(t, reg, "tollgate_audit_backpressure_total"); got != 0 {
		t.Fatalf("backpressure before the queue was full: %v", got)
	}

	// A caller whose context ends while waiting gets an error, not a drop.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Record(cctx, event("acme", 99)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Record on a full queue with a cancelled context: err = %v", err)
	}

	blocked := make(chan error, 1)
	go func() { blocked <- record(ctx) }()
	waitFor(t, "the blocked Record to be counted", func() bool {
		return metric(t, reg, "tollgate_audit_backpressure_total") == 2
	})
	select {
	case err := <-blocked:
		t.Fatalf("Record returned (%v) while the queue was full and the store stalled", err)
	default:
	}
	close(gate)
	if err := receive(t, blocked, "the blocked Record"); err != nil {
		t.Fatal(err)
	}
	closeWriter(t, w)
	if got := len(chainIDs(t, store, "acme")); got != 7 {
		t.Fatalf("stored %d events, want all 7 accepted ones", got)
	}
}

func TestWriterRetriesTransientErrors(t *testing.T) {
	var failures atomic.Int32
	failures.Store(3)
	store := &hookStore{AuditStore: audittest.NewMemStore(), before: func(context.Context, []tollgate.AuditEvent) error {
		if failures.Add(-1) >= 0 {
			return errors.New("database is locked")
		}
		return nil
	}}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	reg := prometheus.NewRegistry()
	w := audit.NewWriter(store, audit.WriterOptions{BatchSize: 5, FlushInterval: time.Hour, RetryBackoff: time.Microsecond, Logger: logger}, reg)
	for i := range 10 {
		if err := w.Record(context.Background(), event("acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	ids := chainIDs(t, store, "acme")
	if len(ids) != 10 {
		t.Fatalf("stored %d events, want 10 (each exactly once)", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("event %s stored twice", id)
		}
		seen[id] = true
	}
	if got := metric(t, reg, "tollgate_audit_write_errors_total"); got != 3 {
		t.Errorf("write_errors_total = %v, want 3", got)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "database is locked") || strings.Count(logs.String(), "will retry") != 3 {
		t.Errorf("retries not logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestWriterCloseGivesUpOnDeadStore(t *testing.T) {
	store := &hookStore{AuditStore: audittest.NewMemStore(), before: func(context.Context, []tollgate.AuditEvent) error {
		return errors.New("connection refused")
	}}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	w := audit.NewWriter(store, audit.WriterOptions{BatchSize: 2, FlushInterval: time.Hour, RetryBackoff: time.Microsecond, Logger: logger}, nil)
	for i := range 3 {
		if err := w.Record(context.Background(), event("acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want the context's error", err)
	}
	// The loss is logged, never silent.
	waitFor(t, "the loss to be logged", func() bool {
		logMu.Lock()
		defer logMu.Unlock()
		return strings.Contains(logs.String(), "they are lost") && strings.Contains(logs.String(), "events=3")
	})
	if err := w.Record(context.Background(), event("acme", 9)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
}

func TestWriterConcurrentRecord(t *testing.T) {
	store := audittest.NewMemStore()
	reg := prometheus.NewRegistry()
	// A small queue makes the goroutines contend and hit backpressure.
	w := audit.NewWriter(store, audit.WriterOptions{QueueSize: 16, BatchSize: 8, FlushInterval: time.Millisecond}, reg)
	const goroutines, each = 16, 200
	tenants := []string{"acme", "globex", "initech", ""}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := w.Record(context.Background(), event(tenants[(g+i)%len(tenants)], g*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	closeWriter(t, w)
	seen := map[string]bool{}
	for _, tenant := range tenants {
		for _, id := range chainIDs(t, store, tenant) {
			if seen[id] {
				t.Fatalf("duplicate event %s", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != goroutines*each {
		t.Fatalf("stored %d events, want %d", len(seen), goroutines*each)
	}
	if got := metric(t, reg, "tollgate_audit_events_total"); got != goroutines*each {
		t.Errorf("events_total = %v", got)
	}
}

func TestWriterCloseRacesRecord(t *testing.T) {
	// Every Record that returned nil must be stored, even when Close runs
	// concurrently; the rest must get ErrClosed.
	for round := range 20 {
		store := audittest.NewMemStore()
		w := audit.NewWriter(store, audit.WriterOptions{QueueSize: 4, BatchSize: 3, FlushInterval: time.Hour}, nil)
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					err := w.Record(context.Background(), event("acme", g*50+i))
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.Is(err, audit.ErrClosed):
						return
					default:
						t.Errorf("round %d: %v", round, err)
						return
					}
				}
			})
		}
		closeWriter(t, w)
		wg.Wait()
		if got := len(chainIDs(t, store, "acme")); int64(got) != accepted.Load() {
			t.Fatalf("round %d: stored %d events, %d were accepted", round, got, accepted.Load())
		}
	}
}

func TestWriterSharesRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := audittest.NewMemStore()
	for i := range 2 {
		w := audit.NewWriter(store, audit.WriterOptions{}, reg)
		if err := w.Record(context.Background(), event("acme", i)); err != nil {
			t.Fatal(err)
		}
		closeWriter(t, w)
	}
	if got := metric(t, reg, "tollgate_audit_events_total"); got != 2 {
		t.Errorf("events_total across restarts = %v, want 2", got)
	}
}
