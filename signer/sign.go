package signer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Header names, lower case: Go's Header.Set would canonicalise them to
// "Webhook-Id", which the PHP and Ruby libraries do not find. Assign the map
// entry directly (h[HeaderID] = []string{id}).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	// MessageIDPrefix starts the ids NewMessageID returns.
	MessageIDPrefix = "msg_"
	// MaxMessageIDLen bounds ids accepted by ValidMessageID.
	MaxMessageIDLen = 256
	versionPrefix   = "v1,"
	macB64Len       = 44 // base64.StdEncoding.EncodedLen(sha256.Size)
)

// Sign returns "v1," + base64(HMAC-SHA256(key, id + "." + ts + "." + body)).
// The body is hashed as given: sign the exact bytes that are sent.
func Sign(key []byte, id string, ts int64, body []byte) string {
	var sum [sha256.Size]byte
	return entry(mac(sum[:0], key, id, ts, body))
}

// SignatureHeader returns one Sign entry per key, space-separated, in the
// order given (newest key first by convention); no keys gives "".
func SignatureHeader(keys [][]byte, id string, ts int64, body []byte) string {
	return joinSignatures(len(keys), func(i int, dst []byte) []byte { return mac(dst, keys[i], id, ts, body) })
}

// SignatureHeaderKeys is SignatureHeader for prepared keys.
func SignatureHeaderKeys(keys []*Key, id string, ts int64, body []byte) string {
	return joinSignatures(len(keys), func(i int, dst []byte) []byte { return keys[i].mac(dst, id, ts, body) })
}

// joinSignatures writes n entries, space-separated; sum(i, dst) appends
// the i-th MAC to dst.
func joinSignatures(n int, sum func(i int, dst []byte) []byte) string {
	var raw [sha256.Size]byte
	if n == 1 { // the usual case: no buffer beyond the string itself
		return entry(sum(0, raw[:0]))
	}
	var b strings.Builder
	b.Grow(n * (len(versionPrefix) + macB64Len + 1))
	var e [len(versionPrefix) + macB64Len]byte
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(appendEntry(e[:0], sum(i, raw[:0])))
	}
	return b.String()
}

// entry formats one MAC as a signature entry, "v1," + base64.
func entry(sum []byte) string {
	var out [len(versionPrefix) + macB64Len]byte
	return string(appendEntry(out[:0], sum))
}

func appendEntry(dst, sum []byte) []byte {
	return base64.StdEncoding.AppendEncode(append(dst, versionPrefix...), sum)
}

// Key is a signing secret prepared for signing many messages. hmac.New runs
// the key schedule (two SHA-256 blocks) and allocates on every call, which
// was half the cost of signing a small body; a Key keeps used HMAC states
// in a pool and only Resets them. Safe for concurrent use.
type Key struct {
	secret []byte
	macs   sync.Pool // of hash.Hash: HMAC-SHA256 under secret
}

// NewKey prepares secret (kept, not copied: do not modify it afterwards).
func NewKey(secret []byte) *Key {
	k := &Key{secret: secret}
	k.macs.New = func() any { return hmac.New(sha256.New, k.secret) }
	return k
}

// Sign is the package's Sign with this key.
func (k *Key) Sign(id string, ts int64, body []byte) string {
	var sum [sha256.Size]byte
	return entry(k.mac(sum[:0], id, ts, body))
}

func (k *Key) mac(dst []byte, id string, ts int64, body []byte) []byte {
	h := k.macs.Get().(hash.Hash)
	h.Reset()
	dst = writeSigned(h, dst, id, ts, body)
	k.macs.Put(h)
	return dst
}

// mac appends HMAC-SHA256(key, id.ts.body) to dst, writing the parts
// separately so the body is never copied.
func mac(dst, key []byte, id string, ts int64, body []byte) []byte {
	return writeSigned(hmac.New(sha256.New, key), dst, id, ts, body)
}

// writeSigned writes the signed content id.ts.body to a fresh or reset h
// and appends the MAC to dst.
func writeSigned(h hash.Hash, dst []byte, id string, ts int64, body []byte) []byte {
	// Converting id to []byte for the interface call would allocate; valid
	// ids fit this stack buffer together with the timestamp.
	var buf [MaxMessageIDLen + 24]byte
	var head []byte
	if len(id) <= MaxMessageIDLen {
		head = append(buf[:0], id...)
	} else {
		h.Write([]byte(id))
		head = buf[:0]
	}
	head = append(head, '.')
	head = strconv.AppendInt(head, ts, 10)
	head = append(head, '.')
	h.Write(head)
	h.Write(body)
	return h.Sum(dst)
}

// NewMessageID returns "msg_" + a ULID for now with crypto/rand entropy, so ids
// sort by creation time and cannot be guessed.
func NewMessageID(now time.Time) string {
	ms := uint64(0)
	if now.UnixMilli() > 0 {
		ms = min(uint64(now.UnixMilli()), ulid.MaxTime())
	}
	// crypto/rand.Reader does not fail (it aborts the process instead) and ms
	// is within range, so MustNew cannot panic.
	return MessageIDPrefix + ulid.MustNew(ms, rand.Reader).String()
}

// ValidMessageID reports whether id may be used as a webhook-id: non-empty,
// at most MaxMessageIDLen bytes of printable ASCII without spaces or '.'
// (a '.' would make the signed "id.ts.body" string ambiguous).
func ValidMessageID(id string) bool {
	if id == "" || len(id) > MaxMessageIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return false
		}
	}
	return true
}
