// Package sqlite is the embedded store: one SQLite file (WAL, foreign keys,
// busy timeout) holding tenants, API key metadata, sealed signing keys and
// the chained audit trail, with its migrations embedded in the binary.
//
// Writes go through one connection whose transactions start with BEGIN
// IMMEDIATE, so every writer, including another Store on the same file,
// takes the database write lock before it reads anything it will write back
// (audit chain heads above all). Reads use a separate read-only pool.
//
// Scoping is done in SQL WHERE clauses: a Scoped repo adds the tenant to
// every query on a tenant-owned table. Watch is in-process only: it reports
// writes made through this Store, not through another process.
//
// Conventions: times are stored as UTC Unix nanoseconds; ListAudit returns
// newest first in append order with since inclusive and until exclusive;
// ScanAudit walks one chain oldest first. A pruning segment is one chain's
// events of one UTC day: PruneAudit removes, per chain and oldest first,
// the days that end at or before its cutoff, stopping at the first event
// that is not that old, so a chain only ever loses a prefix.
//
// This package must never store or log a plaintext API key or signing
// secret, and never update or delete an audit row outside PruneAudit.
package sqlite
