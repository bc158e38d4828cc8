package identity

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/tollgate-dev/tollgate"
)

// usage is a key's last-used time in Unix nanoseconds. One usage outlives
// snapshots, so a reload never loses a recording that was not yet flushed.
type usage struct {
	last    atomic.Int64
	flushed atomic.Int64
}

type keyEntry struct {
	key   *tollgate.APIKey
	usage *usage
}

// Snapshot is one immutable view of every tenant and key. Nothing in it is
// modified after it is published; callers must treat returned pointers as
// read-only.
type Snapshot struct {
	version uint64
	tenants map[string]*tollgate.Tenant
	sorted  []*tollgate.Tenant
	byHash  map[[32]byte]keyEntry
	byID    map[string]keyEntry
}

// Version is the number of swaps that produced this snapshot.
func (s *Snapshot) Version() uint64 { return s.version }

// Tenant returns the tenant with id.
func (s *Snapshot) Tenant(id string) (*tollgate.Tenant, bool) {
	t, ok := s.tenants[id]
	return t, ok
}

// Tenants returns every tenant sorted by id.
func (s *Snapshot) Tenants() []*tollgate.Tenant { return s.sorted }

// Key returns the key with id.
func (s *Snapshot) Key(id string) (*tollgate.APIKey, bool) {
	e, ok := s.byID[id]
	return e.key, ok
}

// loadSnapshot reads every tenant and key through the admin repo. usages
// carries the last-used state of keys already known; new keys get a fresh one.
func loadSnapshot(ctx context.Context, repo tollgate.Repo, usages map[string]*usage) (*Snapshot, map[string]*usage, []string, error) {
	var tenants []tollgate.Tenant
	for cursor := ""; ; {
		page, next, err := repo.ListTenants(ctx, tollgate.Page{Cursor: cursor})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list tenants: %w", err)
		}
		tenants = append(tenants, page...)
		if next == "" || next == cursor {
			break
		}
		cursor = next
	}
	keys, err := repo.AllKeys(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list keys: %w", err)
	}
	s := &Snapshot{
		tenants: make(map[string]*tollgate.Tenant, len(tenants)),
		sorted:  make([]*tollgate.Tenant, 0, len(tenants)),
		byHash:  make(map[[32]byte]keyEntry, len(keys)),
		byID:    make(map[string]keyEntry, len(keys)),
	}
	for i := range tenants {
		t := &tenants[i]
		s.tenants[t.ID] = t
		s.sorted = append(s.sorted, t)
	}
	slices.SortFunc(s.sorted, func(a, b *tollgate.Tenant) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	next := make(map[string]*usage, len(keys))
	var skipped []string
	for i := range keys {
		k := &keys[i]
		if len(k.Hash) != 32 {
			skipped = append(skipped, k.ID)
			continue
		}
		u := usages[k.ID]
		if u == nil {
			u = new(usage)
			if k.LastUsedAt != nil {
				u.last.Store(k.LastUsedAt.UnixNano())
				u.flushed.Store(k.LastUsedAt.UnixNano())
			}
		}
		next[k.ID] = u
		e := keyEntry{key: k, usage: u}
		s.byHash[[32]byte(k.Hash)] = e
		s.byID[k.ID] = e
	}
	return s, next, skipped, nil
}
