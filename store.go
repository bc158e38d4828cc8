package tollgate

import (
	"context"
	"errors"
	"time"
)

// Errors stores return; callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// Page asks for one page of a list. Limit 0 means "all" (internal callers
// such as the snapshot loader); the control API always sets a limit.
type Page struct {
	Limit  int
	Cursor string // opaque, from a previous page's next cursor
}

// Repo is what the control plane and the proxy's snapshot loader read and
// write. A Repo is either scoped to one tenant (every query sees only that
// tenant's rows; in PostgreSQL enforced by row-level security) or the
// explicit admin path that sees every tenant and the platform's own keys.
type Repo interface {
	CreateTenant(ctx context.Context, t Tenant) error // ErrConflict if the id exists
	GetTenant(ctx context.Context, id string) (Tenant, error)
	ListTenants(ctx context.Context, p Page) (tenants []Tenant, next string, err error)
	UpdateTenant(ctx context.Context, t Tenant) error
	// DeleteTenant removes the tenant and revokes its API keys at time at,
	// in one transaction. Its audit events stay.
	DeleteTenant(ctx context.Context, id string, at time.Time) error

	CreateKey(ctx context.Context, k APIKey) error
	GetKey(ctx context.Context, id string) (APIKey, error)
	// ListKeys lists keys of tenant; tenant "" lists platform keys (admin only).
	ListKeys(ctx context.Context, tenant string, p Page) (keys []APIKey, next string, err error)
	// AllKeys returns every key the Repo can see, for the in-memory snapshot.
	AllKeys(ctx context.Context) ([]APIKey, error)
	UpdateKey(ctx context.Context, k APIKey) error
	// TouchKeys records last-used times in one batch (never a write per request).
	TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error

	CreateSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context, tenant string) ([]SigningKey, error)
	// RotateSigningKey makes next the tenant's primary and demotes the
	// current primary to grace until graceUntil, atomically.
	RotateSigningKey(ctx context.Context, tenant string, next SigningKey, graceUntil time.Time) error
}

// AuditStore appends to and reads the audit trail. Rows are never updated
// or deleted except by retention pruning of whole segments.
type AuditStore interface {
	// AppendAudit chains and stores events durably before returning: it sets
	// PrevHash, Hash and Seq on each from the stored head of its chain, under
	// a lock so that replicas sharing a store never fork a chain. It must not
	// keep the slice after returning: the batching writer reuses it.
	AppendAudit(ctx context.Context, events []AuditEvent, seal func(prevHash string, e *AuditEvent)) error
	ListAudit(ctx context.Context, q AuditQuery) (events []AuditEvent, next string, err error)
	// ScanAudit calls fn for each event of a chain in order (export, verify).
	ScanAudit(ctx context.Context, tenant string, fn func(AuditEvent) error) error
	// AuditChains lists the chain names (tenant ids, "" for the platform) that have events.
	AuditChains(ctx context.Context) ([]string, error)
	// PruneAudit removes whole segments older than before, recording a
	// checkpoint (the last removed hash) so the rest still verifies.
	PruneAudit(ctx context.Context, before time.Time) (removed int, err error)
	// AuditCheckpoint is the hash the oldest remaining event of tenant's chain
	// must link to ("" if nothing was pruned).
	AuditCheckpoint(ctx context.Context, tenant string) (string, error)
}

// Store is a complete backend: SQLite embedded or PostgreSQL shared.
type Store interface {
	// Admin is the unscoped path; only admin callers and the snapshot loader use it.
	Admin() Repo
	// Scoped sees only tenant's rows; another tenant's rows do not exist for it.
	Scoped(tenant string) Repo
	Audit() AuditStore
	// Watch calls notify (from its own goroutine) whenever tenants, keys or
	// signing keys change, on this replica or, for shared stores, any other.
	// It returns when ctx ends.
	Watch(ctx context.Context, notify func()) error
	Ping(ctx context.Context) error
	Close() error
}
