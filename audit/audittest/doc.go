// Package audittest provides an in-memory tollgate.AuditStore for tests of
// the audit package and of its callers (control API, proxy), plus Rewrite,
// which plays an attacker with write access to the stored rows.
//
// It behaves like a real store where the audit package depends on it: it
// seals each chain under a mutex, stores events atomically per call, never
// changes a stored row, and prunes by removing the oldest events of a chain
// while recording the last removed hash as the chain's checkpoint. It must
// never be used outside tests: nothing is persisted.
package audittest
