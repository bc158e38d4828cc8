package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// Append stores control-plane events synchronously: when it returns nil
// they are durable, so the caller may acknowledge the change. Events
// without an ID get one; events without a Time get the current time (set
// Time from your injected clock where it matters). Each event's metadata
// must be valid (see ErrInvalidMetadata). The caller's slice is not changed.
func Append(ctx context.Context, store tollgate.AuditStore, events ...tollgate.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	batch := make([]tollgate.AuditEvent, len(events))
	for i, e := range events {
		if err := prepare(&e, time.Now); err != nil {
			return err
		}
		batch[i] = e
	}
	if err := store.AppendAudit(ctx, batch, sealPrepared); err != nil {
		return fmt.Errorf("append %d audit events: %w", len(batch), err)
	}
	return nil
}

// prepare fills a missing ID and Time and canonicalises the metadata, so a
// bad event is refused to its caller rather than discovered at seal time.
func prepare(e *tollgate.AuditEvent, now func() time.Time) error {
	prepareIdentity(e, now)
	meta, err := canonicalMetadata(e.Metadata)
	if err != nil {
		return fmt.Errorf("audit event %s (%s): %w", e.ID, e.Action, err)
	}
	e.Metadata = meta
	return nil
}

// prepareIdentity fills a missing Time and ID and normalises the time.
func prepareIdentity(e *tollgate.AuditEvent, now func() time.Time) {
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Time = NormalizeTime(e.Time)
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
}
