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

// Limiter enforces egress quotas. Implementations: quota.Memory (one
// process) and quota.Redis (shared by replicas); the proxy sees only this
// interface.
type Limiter interface {
	// Admit charges one request against the global, tenant, key and host
	// rate limits and checks the tenant's byte budget. It charges every
	// limit or none: a refusal consumes nothing. A refusal names the limit
	// that keeps the request waiting longest, with the exact RetryAfter.
	// An error means the caller's context ended; backend failures are
	// handled inside, as configured.
	Admit(ctx context.Context, req QuotaRequest) (QuotaResult, error)
	// Acquire takes one of the tenant's concurrency slots (max 0 = unlimited).
	// release is never nil, even on refusal or error; call it once the
	// request or tunnel ends, whatever happens. Extra calls are no-ops.
	Acquire(ctx context.Context, tenant string, max int) (release func(), res QuotaResult, err error)
	// Transfer charges n bytes to the tenant's bandwidth budget and returns
	// how long the caller should pause before moving more (throttling).
	Transfer(ctx context.Context, tenant string, bytesPerSecond int64, n int) (time.Duration, error)
}
