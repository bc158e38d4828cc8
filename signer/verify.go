package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is the accepted distance between a delivery's timestamp and
// the verifier's clock, the ±300 s every reference library uses.
const DefaultTolerance = 5 * time.Minute

// Verification errors. Verify and VerifyRequest return one of these, possibly
// wrapped with detail; test with errors.Is.
var (
	ErrMissingHeader       = errors.New("missing webhook header")
	ErrInvalidTimestamp    = errors.New("invalid webhook-timestamp")
	ErrTimestampTooOld     = errors.New("webhook timestamp too old")
	ErrTimestampTooNew     = errors.New("webhook timestamp too new")
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
	ErrBadSecret           = errors.New("bad webhook secret")
)

// maxTimestampDigits keeps parsing away from overflow: 10^18 s is far beyond
// any clock we compare against.
const maxTimestampDigits = 18

// Verify checks one delivery against keys (any key may match): the id must be
// present, the timestamp integer Unix seconds within tolerance of now (zero or
// negative tolerance means DefaultTolerance), and at least one "v1" entry of
// signatureHeader must be the MAC of id.timestamp.body under one of the keys.
// Entries with other versions (e.g. a future "v1a") are skipped.
func Verify(keys [][]byte, id, timestamp, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: no verification key", ErrBadSecret)
	}
	for _, k := range keys {
		if len(k) == 0 {
			return fmt.Errorf("%w: empty verification key", ErrBadSecret)
		}
	}
	switch {
	case id == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderID)
	case timestamp == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderTimestamp)
	case signatureHeader == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tol := int64(tolerance / time.Second)
	nowSec := now.Unix()
	if nowSec-ts > tol {
		return fmt.Errorf("%w: %d s before now, tolerance %s", ErrTimestampTooOld, nowSec-ts, tolerance)
	}
	if ts-nowSec > tol {
		return fmt.Errorf("%w: %d s after now, tolerance %s", ErrTimestampTooNew, ts-nowSec, tolerance)
	}

	sigs := parseSignatures(signatureHeader)
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 entry in %s", ErrNoMatchingSignature, HeaderSignature)
	}
	var want [sha256.Size]byte
	for _, k := range keys {
		mac(want[:0], k, id, ts, body)
		for _, s := range sigs {
			if hmac.Equal(s[:], want[:]) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: checked %d v1 signature(s) against %d key(s)", ErrNoMatchingSignature, len(sigs), len(keys))
}

// parseTimestamp accepts decimal digits only: the JavaScript library's
// parseInt would take "12abc" as 12, which hides sender bugs.
func parseTimestamp(s string) (int64, error) {
	if len(s) > maxTimestampDigits {
		return 0, fmt.Errorf("%w: %d digits", ErrInvalidTimestamp, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: want integer Unix seconds", ErrInvalidTimestamp)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidTimestamp, err)
	}
	return ts, nil
}

// parseSignatures returns the decoded MACs of the well-formed "v1,<base64>"
// entries of a webhook-signature value. Entries are separated by spaces;
// runs of spaces are tolerated (Python's library raises on them, but a
// verifier gains nothing by being stricter than the sender). Entries with
// another version, or whose signature is not 32 bytes of standard base64, are
// skipped: they cannot match, and one bad entry must not hide a good one.
func parseSignatures(header string) [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for entry := range strings.SplitSeq(header, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" || len(sig) != macB64Len {
			continue
		}
		// 44 characters without padding decode to 33 bytes: the buffer must
		// hold DecodedLen, and the length check rejects them.
		var buf [macB64Len / 4 * 3]byte
		if n, err := base64.StdEncoding.Strict().Decode(buf[:], []byte(sig)); err != nil || n != sha256.Size {
			continue
		}
		out = append(out, [sha256.Size]byte(buf[:sha256.Size]))
	}
	return out
}

// VerifyRequest verifies a delivery as a receiver does: secret is the
// "whsec_..." value handed to the receiver (for a host-scoped tenant, the one
// derived for the receiver's host), h the request headers, found whatever
// their case (Go canonicalises "webhook-id" to "Webhook-Id" on parse, tests
// and other stacks keep it lower case). Several webhook-signature lines are
// treated as one space-separated list.
func VerifyRequest(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id := firstHeader(h, HeaderID)
	ts := firstHeader(h, HeaderTimestamp)
	sig := strings.Join(allHeaders(h, HeaderSignature), " ")
	return Verify([][]byte{key}, id, ts, sig, body, now, tolerance)
}

// firstHeader and allHeaders look names up case-insensitively; keys are
// visited in sorted order so that the canonical spelling wins and the result
// does not depend on map iteration.
func firstHeader(h http.Header, name string) string {
	if v := allHeaders(h, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func allHeaders(h http.Header, name string) []string {
	var keys []string
	for k := range h {
		if strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
