package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit/audittest"
)

// pruneSpy records each PruneAudit cutoff and can fail calls.
type pruneSpy struct {
	tollgate.AuditStore
	calls chan time.Time
	fail  error
}

func (s *pruneSpy) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	s.calls <- before
	if s.fail != nil {
		return 0, s.fail
	}
	return s.AuditStore.PruneAudit(ctx, before)
}

func TestPrune(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		retention time.Duration
		wantN     int
		wantCall  bool
		wantErr   bool
	}{
		{name: "removes older events", retention: 24 * time.Hour, wantN: 2, wantCall: true},
		{name: "zero keeps everything", retention: 0},
		{name: "negative is an error", retention: -time.Hour, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &pruneSpy{AuditStore: audittest.NewMemStore(), calls: make(chan time.Time, 1)}
			for i, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, time.Hour} {
				e := tollgate.AuditEvent{Tenant: "acme", Time: now.Add(-age), Action: "x", ID: NewID(now.Add(-age))}
				if err := Append(context.Background(), store, e); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
			}
			n, err := Prune(context.Background(), store, tc.retention, now)
			if (err != nil) != tc.wantErr || n != tc.wantN {
				t.Fatalf("Prune = %d, %v; want %d, error %v", n, err, tc.wantN, tc.wantErr)
			}
			select {
			case before := <-store.calls:
				if !tc.wantCall || !before.Equal(now.Add(-tc.retention)) {
					t.Errorf("pruned before %v (call expected: %v)", before, tc.wantCall)
				}
			default:
				if tc.wantCall {
					t.Error("store not asked to prune")
				}
			}
			if r, err := VerifyChain(context.Background(), store, "acme"); err != nil || !r.OK || r.Events != 3-tc.wantN {
				t.Errorf("after pruning: %+v, %v", r, err)
			}
		})
	}
}

func TestRunRetention(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	store := &pruneSpy{AuditStore: audittest.NewMemStore(), calls: make(chan time.Time), fail: errors.New("disk full")}
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runRetention(ctx, store, time.Hour, tick, clock, logger)
	}()
	if got := <-store.calls; !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("first prune before %v", got)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	tick <- now
	if got := <-store.calls; !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("second prune before %v, want the clock's time minus retention", got)
	}
	// A third round proves the second failure was logged (logging comes
	// before waiting for the tick) without racing the cancellation.
	tick <- now
	<-store.calls
	cancel()
	<-done
	logMu.Lock()
	defer logMu.Unlock()
	if n := strings.Count(logs.String(), "disk full"); n < 2 {
		t.Errorf("failures not logged:\n%s", logs.String())
	}
}

func TestRunRetentionDisabled(t *testing.T) {
	store := &pruneSpy{AuditStore: audittest.NewMemStore(), calls: make(chan time.Time, 1)}
	RunRetention(context.Background(), store, 0, 0, nil, nil) // returns at once
	select {
	case <-store.calls:
		t.Fatal("retention 0 pruned")
	default:
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
