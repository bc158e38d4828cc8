// Package identitytest provides MemStore, a small in-memory tollgate.Store
// for unit tests of the identity and control packages, with a counter of
// every store call so tests can prove a path makes none.
//
// It is a test double: it must never be wired into the binary, and it does
// not try to be fast. Its behaviour follows the root interface comments
// (ErrNotFound, ErrConflict, scoped repos that see one tenant only).
package identitytest
