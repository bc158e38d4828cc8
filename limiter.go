package tollgate

import (
	"context"
	"time"
)

// QuotaRequest names what one admission is charged against.
type QuotaRequest struct {
	Tenant string
	KeyID  string
	Host   string
	Quotas Quotas
}

// QuotaResult is the verdict of a limiter. When Allowed is false Limit names
// the dimension (Limit* constants) and RetryAfter says when to try again.
type QuotaResult struct {
	Allowed    bool
	Limit      string
	RetryAfter time.Duration
}

// Limiter enforces egress quotas. Implementations: quota/memory-backed
// and quota/redis-backed; the proxy sees only this interface.
type Limiter interface {
	// Admit charges one request against the global, tenant, key and host
	// rate limits and the tenant's byte budget state.
	Admit(ctx context.Context, req QuotaRequest) (QuotaResult, error)
	// Acquire takes one of the tenant's concurrency slots (max 0 = unlimited).
	// release must be called exactly once, whatever happens to the request.
	Acquire(ctx context.Context, tenant string, max int) (release func(), res QuotaResult, err error)
	// Transfer charges n bytes to the tenant's bandwidth budget and returns
	// how long the caller should pause before moving more (throttling).
	Transfer(ctx context.Context, tenant string, bytesPerSecond int64, n int) (time.Duration, error)
}
