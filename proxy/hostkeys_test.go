package proxy

import (
	"bytes"
	"testing"

	"github.com/tollgate-dev/tollgate/signer"
)

// TestHostKeyCache: cached derivations equal fresh ones, for every key
// length the cache treats differently, and never leak across keys or hosts.
func TestHostKeyCache(t *testing.T) {
	c := newHostKeyCache(4)
	keys := [][]byte{
		bytes.Repeat([]byte{1}, 32),
		append(bytes.Repeat([]byte{1}, 32), 9), // extends the first: must not share its entry
		bytes.Repeat([]byte{2}, maxCachedKey),
		bytes.Repeat([]byte{3}, maxCachedKey+1), // not cached
	}
	hosts := []string{"hook.example", "other.example", "2001:db8::1"}
	for round := range 3 { // later rounds hit the cache (and, with 4 entries, evict)
		for _, k := range keys {
			for _, h := range hosts {
				if got, want := c.derive(k, h), signer.DeriveHostKey(k, h); !bytes.Equal(got, want) {
					t.Fatalf("round %d key len %d host %s: cached %x, derived %x", round, len(k), h, got, want)
				}
			}
		}
	}
	if bytes.Equal(c.derive(keys[0], hosts[0]), c.derive(keys[1], hosts[0])) {
		t.Fatal("two keys share a derived host key")
	}
}
