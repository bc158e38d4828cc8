// Package storetest is the conformance suite every tollgate.Store backend
// runs: one set of behaviours, pinned once, so that SQLite and PostgreSQL
// cannot drift apart.
//
// It also exports the small helpers backend-specific tests share (a
// reference audit sealer and chain verifier, fixtures). It must never
// depend on a concrete backend, and never weaken an assertion for one
// backend's convenience: if a backend differs, the backend is wrong.
package storetest
