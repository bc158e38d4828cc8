package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// Intervals of Run. The safety reload bounds staleness if a change
// notification is lost; the flush interval bounds how stale last_used_at is.
const (
	safetyReloadInterval = 30 * time.Second
	flushInterval        = 5 * time.Second
	watchRetryInterval   = 5 * time.Second
)

// Principal is an authenticated caller.
type Principal struct {
	Key *tollgate.APIKey
	// Tenant is the tenant acted for: the key's own tenant, the tenant a
	// platform key names in the proxy username, or the default tenant for
	// anonymous proxy requests. Nil for the admin token and platform keys
	// on the control API.
	Tenant *tollgate.Tenant
	Admin  bool // the admin token
}

// KeyID is the key's id, "" for the admin token and anonymous requests.
func (p Principal) KeyID() string {
	if p.Key == nil {
		return ""
	}
	return p.Key.ID
}

// Registry serves authentication from the current snapshot.
type Registry struct {
	store  tollgate.Store
	now    func() time.Time
	logger *slog.Logger

	snap  atomic.Pointer[Snapshot]
	admin atomic.Pointer[[32]byte] // SHA-256 of the admin token, nil: disabled

	reloadMu sync.Mutex // serialises Reload; guards usages and version
	usages   map[string]*usage
	version  uint64

	flushMu sync.Mutex

	cbMu      sync.Mutex
	callbacks []func()
	// runMu runs one swap's callbacks at a time, so a slow callback of an
	// older swap never interleaves with a newer one.
	runMu sync.Mutex
}

// NewRegistry returns a registry with an empty snapshot; call Reload before
// serving. now nil means time.Now, logger nil discards.
func NewRegistry(store tollgate.Store, now func() time.Time, logger *slog.Logger) *Registry {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{store: store, now: now, logger: logger, usages: map[string]*usage{}}
	r.snap.Store(&Snapshot{
		tenants: map[string]*tollgate.Tenant{},
		byHash:  map[[32]byte]keyEntry{},
		byID:    map[string]keyEntry{},
	})
	return r
}

// Snapshot returns the current snapshot.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Reload reads tenants and keys from the store and swaps in a new snapshot.
// On error the previous snapshot stays in force.
func (r *Registry) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	s, usages, skipped, err := loadSnapshot(ctx, r.store.Admin(), r.usages)
	if err != nil {
		r.reloadMu.Unlock()
		return fmt.Errorf("reload identity snapshot: %w", err)
	}
	r.version++
	s.version = r.version
	r.usages = usages
	r.snap.Store(s)
	r.reloadMu.Unlock()
	for _, id := range skipped {
		r.logger.Warn("api key has no valid hash; ignored", "key_id", id)
	}
	r.runMu.Lock()
	defer r.runMu.Unlock()
	r.cbMu.Lock()
	cbs := append([]func(){}, r.callbacks...)
	r.cbMu.Unlock()
	for _, fn := range cbs {
		fn()
	}
	return nil
}

// OnSwap registers fn to run after every swap, on the goroutine that
// reloaded, one swap at a time. fn must not call Reload.
func (r *Registry) OnSwap(fn func()) {
	r.cbMu.Lock()
	r.callbacks = append(r.callbacks, fn)
	r.cbMu.Unlock()
}

// Version increments on every swap.
func (r *Registry) Version() uint64 { return r.snap.Load().version }

// Tenant returns a tenant of the current snapshot.
func (r *Registry) Tenant(id string) (*tollgate.Tenant, bool) { return r.snap.Load().Tenant(id) }

// Tenants returns every tenant of the current snapshot, sorted by id.
func (r *Registry) Tenants() []*tollgate.Tenant { return r.snap.Load().Tenants() }

// SetAdminToken sets the token that carries control:admin; "" disables it.
func (r *Registry) SetAdminToken(token string) {
	if token == "" {
		r.admin.Store(nil)
		return
	}
	h := sha256.Sum256([]byte(token))
	r.admin.Store(&h)
}

// Run keeps the snapshot current until ctx ends: it reloads on store change
// notifications and every 30 s as a safety net, and flushes last-used times
// every few seconds and once more on the way out.
func (r *Registry) Run(ctx context.Context) error {
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			err := r.store.Watch(ctx, notify)
			if ctx.Err() != nil {
				return
			}
			r.logger.Warn("store change watch ended; retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(watchRetryInterval):
			}
			notify() // changes made while not watching
		}
	}()
	defer wg.Wait()

	reload := time.NewTicker(safetyReloadInterval)
	defer reload.Stop()
	flush := time.NewTicker(flushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := r.Flush(fctx)
			cancel()
			if err != nil {
				return err
			}
			return nil
		case <-changed:
			r.reloadLogged(ctx)
		case <-reload.C:
			r.reloadLogged(ctx)
		case <-flush.C:
			if err := r.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
				r.logger.Warn("flush key last-used times", "error", err)
			}
		}
	}
}

func (r *Registry) reloadLogged(ctx context.Context) {
	if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
		r.logger.Error("identity reload failed; keeping the previous snapshot", "error", err)
	}
}

// Flush writes last-used times recorded since the previous flush in one
// TouchKeys batch.
func (r *Registry) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	type pending struct {
		u    *usage
		last int64
	}
	batch := map[string]time.Time{}
	var marks []pending
	for id, e := range r.snap.Load().byID {
		last := e.usage.last.Load()
		if last != 0 && last > e.usage.flushed.Load() {
			batch[id] = time.Unix(0, last).UTC()
			marks = append(marks, pending{e.usage, last})
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := r.store.Admin().TouchKeys(ctx, batch); err != nil {
		return fmt.Errorf("touch %d keys: %w", len(batch), err)
	}
	for _, m := range marks {
		m.u.flushed.Store(m.last)
	}
	return nil
}

// LastUsed is the in-memory last-used time of a key (flushed or not).
func (r *Registry) LastUsed(id string) (time.Time, bool) {
	e, ok := r.snap.Load().byID[id]
	if !ok || e.usage.last.Load() == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, e.usage.last.Load()).UTC(), true
}

// touch records a use at now; the write is skipped when nothing changed by
// a second, to keep the hot path free of cache-line ping-pong.
func touch(u *usage, now time.Time) {
	n := now.UnixNano()
	if old := u.last.Load(); n-old >= int64(time.Second) {
		u.last.Store(n)
	}
}
