package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefix starts every API key, so that secret scanners can recognise them.
const Prefix = "tg_live_"

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomLen   = 43 // 62^43 > 2^256
	checksumLen = 6  // 62^6 > 2^32
	// KeyLen is the length of every well-formed key.
	KeyLen = len(Prefix) + randomLen + checksumLen
	// rejectAbove: bytes >= 248 (= 4*62) are discarded so that b%62 is uniform.
	rejectAbove = 256 - 256%62
)

// Errors of Parse. They never contain the key.
var (
	ErrFormat   = errors.New("api key is malformed")
	ErrChecksum = errors.New("api key checksum does not match")
)

var decodeTable = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// Generate returns a new random key.
func Generate() (string, error) {
	var b strings.Builder
	b.Grow(KeyLen)
	b.WriteString(Prefix)
	buf := make([]byte, 64)
	for n := 0; n < randomLen; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate api key: %w", err)
		}
		for _, c := range buf {
			if c >= rejectAbove {
				continue
			}
			b.WriteByte(alphabet[c%62])
			if n++; n == randomLen {
				break
			}
		}
	}
	body := b.String()
	return body + checksum(body), nil
}

// checksum encodes CRC32 (IEEE) of s as 6 base62 digits, most significant first.
func checksum(s string) string {
	c := checksumDigits(s)
	return string(c[:])
}

func checksumDigits(s string) (out [checksumLen]byte) {
	v := uint64(crcString(s))
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return out
}

// crcString is CRC32 (IEEE) over a string without copying it to the heap,
// which crc32.ChecksumIEEE would force on the authentication path.
func crcString(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// Parse checks the format and checksum of s: a cheap rejection of garbage
// before any hashing or lookup.
func Parse(s string) error {
	if len(s) != KeyLen || !strings.HasPrefix(s, Prefix) {
		return ErrFormat
	}
	for i := len(Prefix); i < len(s); i++ {
		if decodeTable[s[i]] < 0 {
			return ErrFormat
		}
	}
	body := s[:len(s)-checksumLen]
	if c := checksumDigits(body); string(c[:]) != s[len(body):] {
		return ErrChecksum
	}
	return nil
}

// Hash is the SHA-256 of the full key string; the only form a store keeps.
func Hash(key string) [32]byte {
	var buf [KeyLen]byte // well-formed keys are hashed without a heap copy
	if len(key) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], key)])
	}
	return sha256.Sum256([]byte(key))
}

// NewID returns a key id: "key_" + a ULID of now, so ids sort by creation.
func NewID(now time.Time) string {
	return "key_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
}
