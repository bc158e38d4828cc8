package signer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every signing secret, as in the Standard Webhooks spec.
const SecretPrefix = "whsec_"

// KeySize is the length of the keys GenerateKey returns and DeriveHostKey derives.
const KeySize = 32

// Bounds for keys accepted by ParseSecret. The Standard Webhooks spec
// recommends 24 to 64 bytes (its published test secret has 24); 16 leaves
// room for older senders while still catching a truncated paste.
const (
	minSecretBytes = 16
	maxSecretBytes = 1024
)

// hostKeyLabel separates derived host keys from any other use of a tenant key.
const hostKeyLabel = "tollgate/v1/host/"

// GenerateKey returns KeySize bytes from crypto/rand.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return key, nil
}

// FormatSecret renders key as "whsec_" + standard padded base64, the form every
// Standard Webhooks library accepts.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret decodes "whsec_" + standard padded base64, or the same without
// the prefix. URL-safe and unpadded base64 are refused rather than tolerated:
// the JavaScript library rejects URL-safe input and Go rejects unpadded input,
// so a secret that only some receivers can load is a latent outage.
// Every error wraps ErrBadSecret and never contains the secret.
func ParseSecret(s string) ([]byte, error) {
	enc := strings.TrimPrefix(s, SecretPrefix)
	if enc == "" {
		return nil, fmt.Errorf("%w: empty secret", ErrBadSecret)
	}
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		case c == '-' || c == '_':
			return nil, fmt.Errorf("%w: url-safe base64 ('-' or '_'); use standard base64 with '+' and '/'", ErrBadSecret)
		default:
			// Go's decoder silently skips CR and LF; refusing them keeps
			// FormatSecret(ParseSecret(s)) == s for every accepted s.
			return nil, fmt.Errorf("%w: character %q at offset %d is not standard base64", ErrBadSecret, c, len(s)-len(enc)+i)
		}
	}
	if len(enc)%4 != 0 {
		return nil, fmt.Errorf("%w: unpadded base64 (length %d is not a multiple of 4); add '=' padding", ErrBadSecret, len(enc))
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		var cie base64.CorruptInputError
		if errors.As(err, &cie) {
			return nil, fmt.Errorf("%w: malformed base64 at offset %d", ErrBadSecret, len(s)-len(enc)+int(cie))
		}
		return nil, fmt.Errorf("%w: malformed base64", ErrBadSecret)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrBadSecret, len(key), minSecretBytes, maxSecretBytes)
	}
	return key, nil
}

// DeriveHostKey returns HMAC-SHA256(tenantKey, "tollgate/v1/host/" + host in
// lower case). FormatSecret of the result is the secret a receiver at host
// verifies with; a receiver that knows it learns nothing about the tenant key
// or any other host's key. Only ASCII letters are folded: Unicode case folding
// would map distinct hosts (e.g. U+212A KELVIN SIGN and 'k') to one key.
func DeriveHostKey(tenantKey []byte, host string) []byte {
	mac := hmac.New(sha256.New, tenantKey)
	var buf [len(hostKeyLabel) + 255]byte
	msg := append(buf[:0], hostKeyLabel...)
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		msg = append(msg, c)
	}
	mac.Write(msg)
	return mac.Sum(nil)
}
