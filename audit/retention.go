package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// DefaultRetentionInterval is how often RunRetention prunes by default.
const DefaultRetentionInterval = time.Hour

// Prune asks the store to remove whole segments of events older than
// now-retention; the store records checkpoints so the rest still verifies.
// A retention of zero keeps everything; a negative one is an error.
func Prune(ctx context.Context, store tollgate.AuditStore, retention time.Duration, now time.Time) (int, error) {
	if retention < 0 {
		return 0, fmt.Errorf("prune audit: negative retention %s", retention)
	}
	if retention == 0 {
		return 0, nil
	}
	before := now.Add(-retention)
	n, err := store.PruneAudit(ctx, before)
	if err != nil {
		return n, fmt.Errorf("prune audit events before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// RunRetention prunes once at start and then every interval (default 1h)
// until ctx ends. Failures are logged and retried at the next interval.
func RunRetention(ctx context.Context, store tollgate.AuditStore, retention, interval time.Duration, now func() time.Time, logger *slog.Logger) {
	if interval <= 0 {
		interval = DefaultRetentionInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	runRetention(ctx, store, retention, t.C, now, logger)
}

// runRetention is RunRetention with the ticks supplied, for tests.
func runRetention(ctx context.Context, store tollgate.AuditStore, retention time.Duration, tick <-chan time.Time, now func() time.Time, logger *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if retention <= 0 {
		logger.Info("audit retention disabled: events are kept forever", "retention", retention)
		return
	}
	for {
		n, err := Prune(ctx, store, retention, now())
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("audit retention failed, will retry", "err", err)
		case n > 0:
			logger.Info("audit retention pruned events", "events", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
