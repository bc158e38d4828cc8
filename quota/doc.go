// Package quota enforces tenants' egress quotas (SPEC §2 quota, §3 quotas,
// §6 quota_exceeded) behind the tollgate.Limiter interface.
//
// Two backends share one model. Request rates (global, tenant, per key, per
// tenant-and-host) are GCRA cells: one "theoretical arrival time" per key,
// with the rate and burst passed on every decision so that a quota change
// applies at the very next decision. Bandwidth is a GCRA cell that runs into
// debt: bytes already moving cannot be refused, so Transfer charges them and
// returns a pause, and Admit refuses new requests while the debt exceeds one
// second of budget. Concurrency is a counter (memory) or a sorted set of
// expiring leases (Redis), so slots held by a dead replica come back.
//
// Admit is check-then-commit: every dimension is evaluated against the same
// instant and nothing is charged unless all of them admit, so a refusal by
// one limit never consumes another's budget. When several limits refuse, the
// one that keeps the request waiting longest is reported, because that is the
// earliest moment a retry can succeed.
//
// Memory keeps its state in sharded maps and evicts idle cells lazily, on the
// injected clock, with no background goroutine. Redis makes exactly one
// round trip (one EVALSHA) per decision and uses Redis's clock, so replicas
// with skewed clocks still share one budget.
//
// This package must never block a decision on anything but its one backend
// call, never sleep (callers pause on the duration Transfer returns), never
// log per request, and never let a release function leak a slot or free one
// twice.
package quota
