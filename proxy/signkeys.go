package proxy

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tollgate-dev/tollgate/signer"
)

// signKeyCache keeps the keys requests are signed with, prepared
// (signer.Key) for the tenant key and, for host-scoped signing, the host:
// deriving a host key is an HMAC and preparing a key is HMAC's key
// schedule, together more than half of signing a small body, and a worker
// sends to the same few hosts over and over. Entries are keyed by the tenant
// key's bytes, so a rotated key never meets an old entry; a retired key's
// entries are simply never asked for again and age out.
type signKeyCache struct {
	c *lru.Cache[signKeyID, *signer.Key]
}

// maxCachedKey bounds the tenant key bytes held in a cache key; longer keys
// (none that the control API creates) are prepared every time.
const maxCachedKey = 64

type signKeyID struct {
	key        [maxCachedKey]byte
	n          uint8
	hostScoped bool
	host       string
}

func newSignKeyCache(size int) *signKeyCache {
	c, _ := lru.New[signKeyID, *signer.Key](size)
	return &signKeyCache{c: c}
}

// get returns the prepared key for tenantKey: the key itself, or with
// hostScoped signer.DeriveHostKey(tenantKey, host). host must already be in
// the lower case the derivation uses, or it is cached twice (never wrongly:
// the derivation itself lowers it).
func (c *signKeyCache) get(tenantKey []byte, hostScoped bool, host string) *signer.Key {
	if len(tenantKey) > maxCachedKey {
		return prepareSignKey(tenantKey, hostScoped, host)
	}
	id := signKeyID{n: uint8(len(tenantKey)), hostScoped: hostScoped}
	if hostScoped {
		id.host = host
	}
	copy(id.key[:], tenantKey)
	if k, ok := c.c.Get(id); ok {
		return k
	}
	k := prepareSignKey(tenantKey, hostScoped, host)
	c.c.Add(id, k)
	return k
}

func prepareSignKey(tenantKey []byte, hostScoped bool, host string) *signer.Key {
	if hostScoped {
		return signer.NewKey(signer.DeriveHostKey(tenantKey, host))
	}
	// A copy: the Key outlives this tenant state, whose bytes are not ours.
	return signer.NewKey(append([]byte(nil), tenantKey...))
}
