// Package identity keeps an immutable in-memory snapshot of tenants and API
// keys and authenticates callers against it: proxy clients by their
// Proxy-Authorization header (SPEC §3) and control-API callers by their
// bearer key or the admin token.
//
// Authentication must never touch the store: the snapshot is swapped with an
// atomic pointer when the store reports a change, and last-used times are
// kept in memory and flushed in batches. It must never log keys, tokens or
// Authorization headers, and it decides nothing about scopes of control
// routes (the control package does) beyond what proxy egress needs.
package identity
