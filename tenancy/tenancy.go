package tenancy

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/proxy"
)

// Source lists tenants (the identity snapshot).
type Source interface {
	Tenants() []*tollgate.Tenant
}

// Opener decrypts a sealed signing secret bound to its key id.
type Opener interface {
	Open(sealed, aad []byte) ([]byte, error)
}

// Tenants is the proxy's view of every tenant; it implements proxy.Tenants.
type Tenants struct {
	src    Source
	repo   tollgate.Repo
	opener Opener
	now    func() time.Time
	log    *slog.Logger

	mu    sync.Mutex // serialises rebuilds
	state atomic.Pointer[map[string]*proxy.TenantState]
}

// New builds an empty view; call Rebuild before serving.
func New(src Source, repo tollgate.Repo, opener Opener, now func() time.Time, logger *slog.Logger) *Tenants {
	t := &Tenants{src: src, repo: repo, opener: opener, now: now, log: logger}
	empty := map[string]*proxy.TenantState{}
	t.state.Store(&empty)
	return t
}

// TenantState implements proxy.Tenants.
func (t *Tenants) TenantState(id string) (*proxy.TenantState, bool) {
	s, ok := (*t.state.Load())[id]
	return s, ok
}

// Rebuild recompiles every tenant's state from the current snapshot.
func (t *Tenants) Rebuild(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.state.Load()
	next := make(map[string]*proxy.TenantState, len(old))
	var firstErr error
	for _, tn := range t.src.Tenants() {
		st, err := t.build(ctx, tn)
		if err != nil {
			t.log.LogAttrs(ctx, slog.LevelError, "tenant state", slog.String("tenant", tn.ID), slog.String("error", err.Error()))
			if firstErr == nil {
				firstErr = err
			}
			if prev, ok := old[tn.ID]; ok {
				next[tn.ID] = prev
			}
			continue
		}
		next[tn.ID] = st
	}
	t.state.Store(&next)
	return firstErr
}

func (t *Tenants) build(ctx context.Context, tn *tollgate.Tenant) (*proxy.TenantState, error) {
	tp, err := policy.Compile(tn.Policy)
	if err != nil {
		return nil, fmt.Errorf("compile policy of %s: %w", tn.ID, err)
	}
	keys, err := t.repo.ListSigningKeys(ctx, tn.ID)
	if err != nil {
		return nil, fmt.Errorf("list signing keys of %s: %w", tn.ID, err)
	}
	now := t.now()
	var primary, grace []tollgate.SigningKey
	for _, k := range keys {
		switch k.EffectiveStatus(now) {
		case tollgate.SigningPrimary:
			primary = append(primary, k)
		case tollgate.SigningGrace:
			grace = append(grace, k)
		}
	}
	// Newest first, primary before grace: receivers and rotation practice expect it.
	byNewest := func(ks []tollgate.SigningKey) {
		sort.SliceStable(ks, func(i, j int) bool { return ks[i].CreatedAt.After(ks[j].CreatedAt) })
	}
	byNewest(primary)
	byNewest(grace)
	secrets := make([]proxy.SigningSecret, 0, len(primary)+len(grace))
	for _, k := range append(primary, grace...) {
		plain, err := t.opener.Open(k.Sealed, []byte(k.ID))
		if err != nil {
			return nil, fmt.Errorf("open signing key %s of %s: %w", k.ID, tn.ID, err)
		}
		s := proxy.SigningSecret{Key: plain}
		if k.Status == tollgate.SigningGrace && k.GraceUntil != nil {
			s.Until = *k.GraceUntil
		}
		secrets = append(secrets, s)
	}
	return &proxy.TenantState{Tenant: tn, Policy: tp, SigningKeys: secrets}, nil
}
