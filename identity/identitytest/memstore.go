package identitytest

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// MemStore is an in-memory tollgate.Store.
type MemStore struct {
	// Calls counts every Repo and AuditStore method call.
	Calls atomic.Int64

	mu       sync.Mutex
	tenants  map[string]tollgate.Tenant
	keys     map[string]tollgate.APIKey
	signing  map[string]tollgate.SigningKey
	audit    []tollgate.AuditEvent
	heads    map[string]string
	seq      int64
	watchers []chan struct{}
}

var _ tollgate.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		tenants: map[string]tollgate.Tenant{},
		keys:    map[string]tollgate.APIKey{},
		signing: map[string]tollgate.SigningKey{},
		heads:   map[string]string{},
	}
}

// Admin returns the unscoped repo.
func (m *MemStore) Admin() tollgate.Repo { return &repo{m: m} }

// Scoped returns a repo that sees only tenant's rows.
func (m *MemStore) Scoped(tenant string) tollgate.Repo {
	return &repo{m: m, scoped: true, tenant: tenant}
}

// Audit returns the audit store.
func (m *MemStore) Audit() tollgate.AuditStore { return &auditStore{m: m} }

// Ping always succeeds.
func (m *MemStore) Ping(context.Context) error { return nil }

// Close does nothing.
func (m *MemStore) Close() error { return nil }

// Watch calls notify after every change until ctx ends.
func (m *MemStore) Watch(ctx context.Context, notify func()) error {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.watchers = append(m.watchers, ch)
	m.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
			notify()
		}
	}
}

// changed must be called with mu held.
func (m *MemStore) changed() {
	for _, ch := range m.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

type repo struct {
	m      *MemStore
	scoped bool
	tenant string
}

func (r *repo) sees(tenant string) bool { return !r.scoped || tenant == r.tenant }

// page slices items sorted by key; the cursor is the base64 of the last key seen.
func page[T any](items []T, key func(T) string, p tollgate.Page) ([]T, string, error) {
	slices.SortFunc(items, func(a, b T) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	if p.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("cursor: %w", err)
		}
		after := string(raw)
		i, _ := slices.BinarySearchFunc(items, after, func(t T, s string) int {
			switch k := key(t); {
			case k < s:
				return -1
			case k > s:
				return 1
			}
			return 0
		})
		for i < len(items) && key(items[i]) <= after {
			i++
		}
		items = items[i:]
	}
	if p.Limit <= 0 || len(items) <= p.Limit {
		return items, "", nil
	}
	items = items[:p.Limit]
	return items, base64.RawURLEncoding.EncodeToString([]byte(key(items[len(items)-1]))), nil
}

func (r *repo) CreateTenant(_ context.Context, t tollgate.Tenant) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if !r.sees(t.ID) {
		return tollgate.ErrNotFound
	}
	if _, ok := r.m.tenants[t.ID]; ok {
		return fmt.Errorf("tenant %q: %w", t.ID, tollgate.ErrConflict)
	}
	r.m.tenants[t.ID] = t
	r.m.changed()
	return nil
}

func (r *repo) GetTenant(_ context.Context, id string) (tollgate.Tenant, error) {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	t, ok := r.m.tenants[id]
	if !ok || !r.sees(id) {
		return tollgate.Tenant{}, fmt.Errorf("tenant %q: %w", id, tollgate.ErrNotFound)
	}
	return t, nil
}

func (r *repo) ListTenants(_ context.Context, p tollgate.Page) ([]tollgate.Tenant, string, error) {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	var all []tollgate.Tenant
	for id, t := range r.m.tenants {
		if r.sees(id) {
			all = append(all, t)
		}
	}
	return page(all, func(t tollgate.Tenant) string { return t.ID }, p)
}

func (r *repo) UpdateTenant(_ context.Context, t tollgate.Tenant) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if _, ok := r.m.tenants[t.ID]; !ok || !r.sees(t.ID) {
		return fmt.Errorf("tenant %q: %w", t.ID, tollgate.ErrNotFound)
	}
	r.m.tenants[t.ID] = t
	r.m.changed()
	return nil
}

func (r *repo) DeleteTenant(_ context.Context, id string, at time.Time) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if _, ok := r.m.tenants[id]; !ok || !r.sees(id) {
		return fmt.Errorf("tenant %q: %w", id, tollgate.ErrNotFound)
	}
	delete(r.m.tenants, id)
	for kid, k := range r.m.keys {
		if k.Tenant == id && k.Status == tollgate.KeyActive {
			k.Status, k.RevokedAt = tollgate.KeyRevoked, &at
			r.m.keys[kid] = k
		}
	}
	r.m.changed()
	return nil
}

func (r *repo) CreateKey(_ context.Context, k tollgate.APIKey) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if !r.sees(k.Tenant) {
		return tollgate.ErrNotFound
	}
	if _, ok := r.m.keys[k.ID]; ok {
		return fmt.Errorf("key %q: %w", k.ID, tollgate.ErrConflict)
	}
	r.m.keys[k.ID] = k
	r.m.changed()
	return nil
}

func (r *repo) GetKey(_ context.Context, id string) (tollgate.APIKey, error) {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	k, ok := r.m.keys[id]
	if !ok || !r.sees(k.Tenant) {
		return tollgate.APIKey{}, fmt.Errorf("key %q: %w", id, tollgate.ErrNotFound)
	}
	return k, nil
}

func (r *repo) ListKeys(_ context.Context, tenant string, p tollgate.Page) ([]tollgate.APIKey, string, error) {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	var all []tollgate.APIKey
	if r.sees(tenant) {
		for _, k := range r.m.keys {
			if k.Tenant == tenant {
				all = append(all, k)
			}
		}
	}
	return page(all, func(k tollgate.APIKey) string { return k.ID }, p)
}

func (r *repo) AllKeys(context.Context) ([]tollgate.APIKey, error) {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	var all []tollgate.APIKey
	for _, k := range r.m.keys {
		if r.sees(k.Tenant) {
			all = append(all, k)
		}
	}
	return all, nil
}

func (r *repo) UpdateKey(_ context.Context, k tollgate.APIKey) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	old, ok := r.m.keys[k.ID]
	if !ok || !r.sees(old.Tenant) || old.Tenant != k.Tenant {
		return fmt.Errorf("key %q: %w", k.ID, tollgate.ErrNotFound)
	}
	k.Hash = old.Hash
	r.m.keys[k.ID] = k
	r.m.changed()
	return nil
}

func (r *repo) TouchKeys(_ context.Context, lastUsed map[string]time.Time) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	for id, at := range lastUsed {
		if k, ok := r.m.keys[id]; ok && r.sees(k.Tenant) {
			at := at
			k.LastUsedAt = &at
			r.m.keys[id] = k
		}
	}
	return nil
}

func (r *repo) CreateSigningKey(_ context.Context, k tollgate.SigningKey) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if !r.sees(k.Tenant) {
		return tollgate.ErrNotFound
	}
	r.m.signing[k.ID] = k
	r.m.changed()
	return nil
}

func (r *repo) ListSigningKeys(_ context.Context, tenant string) ([]tollgate.SigningKey, error) {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	var out []tollgate.SigningKey
	if r.sees(tenant) {
		for _, k := range r.m.signing {
			if k.Tenant == tenant {
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b tollgate.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (r *repo) RotateSigningKey(_ context.Context, tenant string, next tollgate.SigningKey, graceUntil time.Time) error {
	r.m.Calls.Add(1)
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if !r.sees(tenant) {
		return tollgate.ErrNotFound
	}
	for id, k := range r.m.signing {
		if k.Tenant != tenant {
			continue
		}
		g := graceUntil
		switch {
		case k.Status == tollgate.SigningPrimary:
			k.Status, k.GraceUntil = tollgate.SigningGrace, &g
		case k.Status == tollgate.SigningGrace && k.GraceUntil != nil && k.GraceUntil.After(graceUntil):
			k.GraceUntil = &g // as the real stores: no older key signs past the new grace
		}
		r.m.signing[id] = k
	}
	next.Tenant, next.Status = tenant, tollgate.SigningPrimary
	r.m.signing[next.ID] = next
	r.m.changed()
	return nil
}

type auditStore struct{ m *MemStore }

func (a *auditStore) AppendAudit(_ context.Context, events []tollgate.AuditEvent, seal func(prevHash string, e *tollgate.AuditEvent)) error {
	a.m.Calls.Add(1)
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	for i := range events {
		e := &events[i]
		seal(a.m.heads[e.Tenant], e)
		a.m.seq++
		e.Seq = a.m.seq
		a.m.heads[e.Tenant] = e.Hash
		a.m.audit = append(a.m.audit, *e)
	}
	return nil
}

func (a *auditStore) ListAudit(_ context.Context, q tollgate.AuditQuery) ([]tollgate.AuditEvent, string, error) {
	a.m.Calls.Add(1)
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	var out []tollgate.AuditEvent
	for _, e := range a.m.audit {
		switch {
		case q.Tenant != nil && e.Tenant != *q.Tenant,
			q.Action != "" && e.Action != q.Action,
			q.Outcome != "" && e.Outcome != q.Outcome,
			!q.Since.IsZero() && e.Time.Before(q.Since),
			!q.Until.IsZero() && !e.Time.Before(q.Until):
			continue
		}
		out = append(out, e)
	}
	// Newest first, as the store conformance suite requires.
	return page(out, func(e tollgate.AuditEvent) string { return fmt.Sprintf("%020d", math.MaxInt64-e.Seq) }, q.Page)
}

func (a *auditStore) ScanAudit(_ context.Context, tenant string, fn func(tollgate.AuditEvent) error) error {
	a.m.Calls.Add(1)
	a.m.mu.Lock()
	events := slices.Clone(a.m.audit)
	a.m.mu.Unlock()
	for _, e := range events {
		if e.Tenant == tenant {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *auditStore) AuditChains(context.Context) ([]string, error) {
	a.m.Calls.Add(1)
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	var out []string
	for t := range a.m.heads {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

func (a *auditStore) PruneAudit(context.Context, time.Time) (int, error) {
	a.m.Calls.Add(1)
	return 0, nil
}

func (a *auditStore) AuditCheckpoint(context.Context, string) (string, error) {
	a.m.Calls.Add(1)
	return "", nil
}
