package certs

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// newTestCA generates a CA in a fresh directory.
func newTestCA(tb testing.TB, clock *fakeClock) (*CA, string, string) {
	tb.Helper()
	dir := tb.TempDir()
	certFile, keyFile := filepath.Join(dir, "ca", "ca.pem"), filepath.Join(dir, "ca", "ca-key.pem")
	ca, err := LoadOrCreateCA(certFile, keyFile, clock.Now)
	if err != nil {
		tb.Fatal(err)
	}
	return ca, certFile, keyFile
}
