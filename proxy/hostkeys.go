package proxy

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tollgate-dev/tollgate/signer"
)

// hostKeyCache remembers host-scoped signing keys: deriving one is an HMAC,
// about a third of signing a request in intercept mode, and a worker sends
// to the same few hosts over and over. Entries are keyed by the tenant key's
// bytes, so a rotated key never meets an old entry; a retired key's entries
// are simply never asked for again and age out.
type hostKeyCache struct {
	c *lru.Cache[hostKeyID, []byte]
}

// maxCachedKey bounds the tenant key bytes held in a cache key; longer keys
// (none that the control API creates) are derived every time.
const maxCachedKey = 64

type hostKeyID struct {
	key  [maxCachedKey]byte
	n    uint8
	host string
}

func newHostKeyCache(size int) *hostKeyCache {
	c, _ := lru.New[hostKeyID, []byte](size)
	return &hostKeyCache{c: c}
}

// derive returns signer.DeriveHostKey(tenantKey, host). host must already
// be in the lower case the derivation uses, or it is cached twice (never
// wrongly: the derivation itself lowers it).
func (h *hostKeyCache) derive(tenantKey []byte, host string) []byte {
	if len(tenantKey) > maxCachedKey {
		return signer.DeriveHostKey(tenantKey, host)
	}
	id := hostKeyID{n: uint8(len(tenantKey)), host: host}
	copy(id.key[:], tenantKey)
	if k, ok := h.c.Get(id); ok {
		return k
	}
	k := signer.DeriveHostKey(tenantKey, host)
	h.c.Add(id, k)
	return k
}
