// Package policy vets egress destinations (SPEC §4.1–§4.5): it parses
// request targets strictly, judges ports, schemes and host names against
// the reserved names, the operator's own domains and a tenant's host lists,
// and classifies addresses into the always-denied, explicitly allowed and
// special-purpose tiers.
//
// It is pure: it must never resolve names, open sockets, read files, log,
// start goroutines or keep mutable state. An Engine and a TenantPolicy are
// immutable once built and safe for concurrent use. A refusal is a
// tollgate.Decision, never an error; errors are reserved for malformed
// input (ParseError) and invalid configuration.
//
// CheckAddr sits on every dial and every DNS answer, so it must not
// allocate: its refusal details are prebuilt strings.
package policy
