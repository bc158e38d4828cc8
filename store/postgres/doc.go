// Package postgres is the shared store for several replicas: tenants, API
// key metadata, sealed signing keys and the chained audit trail in one
// PostgreSQL schema, with embedded migrations, change propagation through
// LISTEN/NOTIFY and tenant isolation enforced by row-level security.
//
// Isolation. The connecting user runs migrations and owns the tables. Every
// query runs in a transaction that first switches to a NOLOGIN role: a
// Scoped repo does SET LOCAL ROLE tollgate_app and sets app.tenant_id for
// the transaction, and the tables' forced RLS policies show that role only
// that tenant's rows (nothing at all when the setting is unset or empty, so
// platform keys, whose tenant_id is empty, are never visible to it). The admin path does
// SET LOCAL ROLE tollgate_admin, whose permissive policy sees every row.
// Neither role has BYPASSRLS or owns a table. The roles are cluster-global
// and created idempotently on Open, so the connecting user needs CREATEROLE
// (or the roles must exist and be granted to it). SET ROLE is checked
// against the session user, so SQL running on the connection could switch
// back: the isolation holds against every query the store builds (values
// are always parameters), not against arbitrary SQL on its connections.
//
// Audit. Appenders lock each chain's audit_heads row (SELECT ... FOR
// UPDATE, rows inserted on first use, always locked in byte order) before
// sealing, so replicas never fork a chain. A trigger rejects UPDATE, DELETE
// and TRUNCATE on audit_events; pruning goes through the SECURITY DEFINER
// function audit_prune, which sets the transaction-local flag the trigger
// honours. Neither role has UPDATE or DELETE on audit_events, so neither can
// reach that flag's effect. Segments, ordering and time conventions match
// the SQLite store: ListAudit is newest first in append order, since
// inclusive, until exclusive; a segment is one chain's events of one UTC day.
//
// Changes. Every write to tenants, keys or signing keys (not key touches,
// not audit) calls pg_notify('tollgate_changes', <schema>) in its own
// transaction; Watch LISTENs on a dedicated connection, reconnecting with
// backoff, and ignores notifications for other schemas.
//
// This package must never format a value into SQL (identifiers only, and
// only validated ones), never store or log a plaintext key or secret, and
// never run a query outside a role-switched transaction.
package postgres
