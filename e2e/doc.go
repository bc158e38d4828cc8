// Package e2e holds black-box tests of the built tollgate binary. They run
// only inside a private network namespace where loopback is the only
// interface (scripts/e2e does `unshare --net`), so a proxy bug that dials a
// forbidden address fails with "network unreachable" or hits a canary
// listener on an address added to lo, never a real host.
package e2e
