package audittest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// MemStore is an in-memory tollgate.AuditStore. A segment, for pruning, is a
// single event: the oldest events of a chain older than the cutoff go.
type MemStore struct {
	mu          sync.Mutex
	chains      map[string][]tollgate.AuditEvent
	heads       map[string]string // hash of the newest event ever appended, pruned or not
	checkpoints map[string]string
	seq         int64
	appends     int
}

// NewMemStore returns an empty store.
func NewMemStore() tollgate.AuditStore { return newMemStore() }

func newMemStore() *MemStore {
	return &MemStore{
		chains:      map[string][]tollgate.AuditEvent{},
		heads:       map[string]string{},
		checkpoints: map[string]string{},
	}
}

// AppendAudit seals and stores events in one step under the store's lock.
func (s *MemStore) AppendAudit(ctx context.Context, events []tollgate.AuditEvent, seal func(prevHash string, e *tollgate.AuditEvent)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	heads := map[string]string{}
	head := func(chain string) string {
		if h, ok := heads[chain]; ok {
			return h
		}
		return s.heads[chain]
	}
	for i := range events {
		e := &events[i]
		seal(head(e.Tenant), e)
		heads[e.Tenant] = e.Hash
	}
	// Nothing below can fail, so the call is all or nothing.
	for i := range events {
		s.seq++
		events[i].Seq = s.seq
		stored := events[i]
		stored.Metadata = slices.Clone(stored.Metadata)
		s.chains[stored.Tenant] = append(s.chains[stored.Tenant], stored)
	}
	for chain, h := range heads {
		s.heads[chain] = h
	}
	s.appends++
	return nil
}

// ListAudit lists matching events oldest first (by append order); the
// cursor is the position after the last event returned.
func (s *MemStore) ListAudit(ctx context.Context, q tollgate.AuditQuery) ([]tollgate.AuditEvent, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	var after int64
	if q.Page.Cursor != "" {
		n, err := strconv.ParseInt(q.Page.Cursor, 10, 64)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("list audit: bad cursor %q", q.Page.Cursor)
		}
		after = n
	}
	s.mu.Lock()
	var all []tollgate.AuditEvent
	for chain, events := range s.chains {
		if q.Tenant != nil && *q.Tenant != chain {
			continue
		}
		for _, e := range events {
			if e.Seq > after && matches(e, q) {
				all = append(all, clone(e))
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b tollgate.AuditEvent) int { return compareInt(a.Seq, b.Seq) })
	if q.Page.Limit > 0 && len(all) > q.Page.Limit {
		all = all[:q.Page.Limit]
		return all, strconv.FormatInt(all[len(all)-1].Seq, 10), nil
	}
	return all, "", nil
}

func matches(e tollgate.AuditEvent, q tollgate.AuditQuery) bool {
	return (q.Action == "" || e.Action == q.Action) &&
		(q.Outcome == "" || e.Outcome == q.Outcome) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
		(q.Until.IsZero() || e.Time.Before(q.Until))
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ScanAudit calls fn for each event of the chain in order, outside the lock
// so fn may use the store. An error from fn ends the scan and is returned.
func (s *MemStore) ScanAudit(ctx context.Context, tenant string, fn func(tollgate.AuditEvent) error) error {
	s.mu.Lock()
	events := make([]tollgate.AuditEvent, len(s.chains[tenant]))
	for i, e := range s.chains[tenant] {
		events[i] = clone(e)
	}
	s.mu.Unlock()
	for _, e := range events {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan audit: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// AuditChains lists the chains that have events, sorted.
func (s *MemStore) AuditChains(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit chains: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for chain, events := range s.chains {
		if len(events) > 0 {
			names = append(names, chain)
		}
	}
	slices.Sort(names)
	return names, nil
}

// PruneAudit removes, per chain, the oldest events whose time is before
// before, stopping at the first newer one so the chain stays contiguous.
func (s *MemStore) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("prune audit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	removed := 0
	for chain, events := range s.chains {
		n := 0
		for n < len(events) && events[n].Time.Before(before) {
			n++
		}
		if n == 0 {
			continue
		}
		s.checkpoints[chain] = events[n-1].Hash
		s.chains[chain] = slices.Clone(events[n:])
		removed += n
	}
	return removed, nil
}

// AuditCheckpoint returns the hash the chain's oldest remaining event must
// link to.
func (s *MemStore) AuditCheckpoint(ctx context.Context, tenant string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("audit checkpoint: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoints[tenant], nil
}

// Appends reports how many AppendAudit calls succeeded (batches written).
func (s *MemStore) Appends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

// ErrNotMemStore is returned by Rewrite for stores it cannot reach into.
var ErrNotMemStore = errors.New("not an audittest store")

// Rewrite replaces the stored events of tenant's chain with what fn returns,
// bypassing sealing: it simulates tampering with the database so tests can
// check that verification catches it. The chain head is left alone.
func Rewrite(store tollgate.AuditStore, tenant string, fn func([]tollgate.AuditEvent) []tollgate.AuditEvent) error {
	s, ok := store.(*MemStore)
	if !ok {
		return fmt.Errorf("rewrite %T: %w", store, ErrNotMemStore)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	events := make([]tollgate.AuditEvent, len(s.chains[tenant]))
	for i, e := range s.chains[tenant] {
		events[i] = clone(e)
	}
	s.chains[tenant] = fn(events)
	return nil
}

// SetCheckpoint overwrites a chain's checkpoint, as tampering would.
func SetCheckpoint(store tollgate.AuditStore, tenant, hash string) error {
	s, ok := store.(*MemStore)
	if !ok {
		return fmt.Errorf("set checkpoint on %T: %w", store, ErrNotMemStore)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkpoints[tenant] = hash
	return nil
}

func clone(e tollgate.AuditEvent) tollgate.AuditEvent {
	e.Metadata = slices.Clone(e.Metadata)
	return e
}
