package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnect backoff of Watch's listening connection.
const (
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// WatchApplicationName is the application_name of Watch's dedicated
// connection, so operators (and tests) can find it in pg_stat_activity.
func (s *Store) WatchApplicationName() string { return "tollgate-watch:" + s.schema }

// Watch LISTENs on a dedicated connection and calls notify for every change
// notification for this schema, from any replica. It also calls notify
// after each (re)connect, because changes made while it was not listening
// are unknown. It reconnects with backoff until ctx ends, then returns nil.
func (s *Store) Watch(ctx context.Context, notify func()) error {
	backoff := watchBackoffMin
	for {
		listening, err := s.listen(ctx, notify)
		if ctx.Err() != nil {
			return nil
		}
		if listening {
			backoff = watchBackoffMin
		}
		s.logger.Warn("change listener lost; reconnecting", "store", "postgres", "schema", s.schema, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, watchBackoffMax)
	}
}

// listen runs one listening connection until it fails or ctx ends.
// listening reports whether LISTEN succeeded, to reset the backoff.
func (s *Store) listen(ctx context.Context, notify func()) (listening bool, err error) {
	cfg := s.conn.Copy()
	cfg.RuntimeParams["application_name"] = s.WatchApplicationName()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	notify()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait: %w", err)
		}
		if n.Channel == Channel && n.Payload == s.schema {
			notify()
		}
	}
}
