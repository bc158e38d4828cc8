// Package tollgate holds the domain types and the interfaces that two or more
// packages share: tenants, policies, quotas, API keys, signing keys, audit
// events, refusal reasons, the store interfaces and the quota limiter.
//
// It imports only the standard library and must never grow behaviour that
// needs I/O: concrete stores, limiters and the proxy live in their own
// packages and depend on this one, never the other way round.
package tollgate
