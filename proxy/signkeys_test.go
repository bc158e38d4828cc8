package proxy

import (
	"bytes"
	"testing"

	"github.com/tollgate-dev/tollgate/signer"
)

// TestSignKeyCache: cached keys sign exactly as fresh ones, for every key
// length the cache treats differently and both scopes, and never leak
// across keys, hosts or scopes.
func TestSignKeyCache(t *testing.T) {
	c := newSignKeyCache(4)
	keys := [][]byte{
		bytes.Repeat([]byte{1}, 32),
		append(bytes.Repeat([]byte{1}, 32), 9), // extends the first: must not share its entry
		bytes.Repeat([]byte{2}, maxCachedKey),
		bytes.Repeat([]byte{3}, maxCachedKey+1), // not cached
	}
	hosts := []string{"hook.example", "other.example", "2001:db8::1"}
	body := []byte(`{"a":1}`)
	sign := func(k *signer.Key) string { return k.Sign("msg_1", 1700000000, body) }
	for round := range 3 { // later rounds hit the cache (and, with 4 entries, evict)
		for _, k := range keys {
			if got, want := sign(c.get(k, false, "ignored.example")), signer.Sign(k, "msg_1", 1700000000, body); got != want {
				t.Fatalf("round %d key len %d, tenant scope: cached key signs %s, want %s", round, len(k), got, want)
			}
			for _, h := range hosts {
				want := signer.Sign(signer.DeriveHostKey(k, h), "msg_1", 1700000000, body)
				if got := sign(c.get(k, true, h)); got != want {
					t.Fatalf("round %d key len %d host %s: cached key signs %s, want %s", round, len(k), h, got, want)
				}
			}
		}
	}
	if sign(c.get(keys[0], true, hosts[0])) == sign(c.get(keys[1], true, hosts[0])) {
		t.Fatal("two keys share a host key")
	}
	if sign(c.get(keys[0], false, hosts[0])) == sign(c.get(keys[0], true, hosts[0])) {
		t.Fatal("tenant and host scope share a key")
	}
}

// TestSignKeyCacheOwnsTenantKey: a tenant-scope key is copied, so a caller
// that reuses the bytes it passed cannot change what later requests sign with.
func TestSignKeyCacheOwnsTenantKey(t *testing.T) {
	c := newSignKeyCache(4)
	k := bytes.Repeat([]byte{7}, 32)
	want := signer.Sign(k, "msg_1", 1, nil)
	prepared := c.get(k, false, "")
	k[0] = 8
	if got := prepared.Sign("msg_1", 1, nil); got != want {
		t.Fatalf("signature changed with the caller's bytes: %s, want %s", got, want)
	}
}
