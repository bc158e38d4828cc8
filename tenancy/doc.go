// Package tenancy prepares, for the proxy, the per-tenant state that must
// not be computed per request: the compiled egress policy and the decrypted
// signing secrets. It rebuilds that state whenever the identity snapshot
// changes and swaps it in atomically, so requests never take a lock.
//
// It must never serve a tenant whose policy failed to compile: such a tenant
// keeps its previous state (or none) and the error is logged.
package tenancy
