package rowcodec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadCursor is returned for a cursor that no store handed out.
var ErrBadCursor = errors.New("invalid cursor")

const cursorVersion = "v1"

// EncodeCursor makes an opaque cursor from the last sort key of a page.
// kind binds the cursor to one list so that a tenant cursor replayed
// against the key list is rejected instead of silently mis-paginating.
func EncodeCursor(kind, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + "|" + kind + "|" + key))
}

// DecodeCursor returns the sort key inside c. An empty cursor is the first
// page and decodes to ("", false, nil).
func DecodeCursor(kind, c string) (key string, ok bool, err error) {
	if c == "" {
		return "", false, nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(c)
	// The decoder skips newlines; only the canonical spelling is ours.
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != c {
		return "", false, fmt.Errorf("decode cursor: %w", ErrBadCursor)
	}
	v, rest, found := strings.Cut(string(raw), "|")
	if !found || v != cursorVersion {
		return "", false, fmt.Errorf("cursor version: %w", ErrBadCursor)
	}
	k, key, found := strings.Cut(rest, "|")
	if !found || k != kind {
		return "", false, fmt.Errorf("cursor kind %q: %w", k, ErrBadCursor)
	}
	return key, true, nil
}

// EncodeIntCursor is EncodeCursor for an integer sort key.
func EncodeIntCursor(kind string, n int64) string {
	return EncodeCursor(kind, strconv.FormatInt(n, 10))
}

// DecodeIntCursor is DecodeCursor for an integer sort key.
func DecodeIntCursor(kind, c string) (n int64, ok bool, err error) {
	key, ok, err := DecodeCursor(kind, c)
	if err != nil || !ok {
		return 0, ok, err
	}
	n, err = strconv.ParseInt(key, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != key {
		return 0, false, fmt.Errorf("cursor position %q: %w", key, ErrBadCursor)
	}
	return n, true, nil
}
