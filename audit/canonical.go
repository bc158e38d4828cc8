package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate"
)

// TimeLayout is the canonical time format: UTC, exactly microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// maxDepth bounds metadata nesting; audit metadata is a handful of flat
// facts, and a bound keeps a hostile blob from exhausting the stack.
const maxDepth = 64

// ErrInvalidMetadata marks metadata that is not valid JSON, repeats an object
// key or nests deeper than 64 levels.
var ErrInvalidMetadata = errors.New("invalid audit metadata")

// emptyMetadata is the one canonical form of "no metadata"; callers get a
// fresh copy each time because RawMessage is mutable.
const emptyMetadata = "{}"

// Canonical returns the canonical JSON of e without its hash (see the
// package documentation for the rules). It never fails: metadata that is
// not valid JSON is written as a JSON string of its bytes.
func Canonical(e tollgate.AuditEvent) []byte {
	meta, err := canonicalMetadata(e.Metadata)
	if err != nil {
		meta = appendString(nil, string(e.Metadata))
	}
	return appendCanonical(make([]byte, 0, canonicalSize(&e, meta)), &e, meta)
}

// canonicalSize estimates the canonical length (exact unless strings need
// escaping) so the buffer is allocated once.
func canonicalSize(e *tollgate.AuditEvent, meta []byte) int {
	const fixed = len(`{"action":"","actor":"","actor_type":"","client_ip":"","id":"","metadata":,"outcome":"",` +
		`"prev_hash":"","reason":"","target":"","tenant":"","time":"2006-01-02T15:04:05.000000Z"}`)
	return fixed + len(meta) + len(e.Action) + len(e.Actor) + len(e.ActorType) + len(e.ClientIP) + len(e.ID) +
		len(e.Outcome) + len(e.PrevHash) + len(e.Reason) + len(e.Target) + len(e.Tenant)
}

// NormalizeTime returns t as Canonical writes it: UTC, truncated to
// microseconds.
func NormalizeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// appendCanonical writes the event with meta as its (already canonical)
// metadata. Keys are listed here in sorted order by hand, which the golden
// tests pin.
func appendCanonical(b []byte, e *tollgate.AuditEvent, meta []byte) []byte {
	b = append(b, `{"action":`...)
	b = appendString(b, e.Action)
	b = append(b, `,"actor":`...)
	b = appendString(b, e.Actor)
	b = append(b, `,"actor_type":`...)
	b = appendString(b, string(e.ActorType))
	b = append(b, `,"client_ip":`...)
	b = appendString(b, e.ClientIP)
	b = append(b, `,"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"metadata":`...)
	b = append(b, meta...)
	b = append(b, `,"outcome":`...)
	b = appendString(b, string(e.Outcome))
	b = append(b, `,"prev_hash":`...)
	b = appendString(b, e.PrevHash)
	b = append(b, `,"reason":`...)
	b = appendString(b, e.Reason)
	b = append(b, `,"target":`...)
	b = appendString(b, e.Target)
	b = append(b, `,"tenant":`...)
	b = appendString(b, e.Tenant)
	b = append(b, `,"time":"`...)
	b = NormalizeTime(e.Time).AppendFormat(b, TimeLayout)
	b = append(b, `"}`...)
	return b
}

// CanonicalMetadata returns the canonical form of raw metadata, {} for
// absent, empty or null metadata, or an error wrapping ErrInvalidMetadata.
func CanonicalMetadata(raw json.RawMessage) (json.RawMessage, error) {
	return canonicalMetadata(raw)
}

func canonicalMetadata(raw []byte) (json.RawMessage, error) {
	p := parser{data: raw}
	p.skipSpace()
	if p.pos == len(raw) || isNullThenSpace(raw[p.pos:]) {
		return json.RawMessage(emptyMetadata), nil
	}
	out, err := p.value(make([]byte, 0, len(raw)), 0)
	if err == nil {
		p.skipSpace()
		if p.pos != len(raw) {
			err = p.fail("data after the value")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	return out, nil
}

func isNullThenSpace(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("null")) {
		return false
	}
	p := parser{data: b, pos: 4}
	p.skipSpace()
	return p.pos == len(b)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string escaping only what JSON requires.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscape writes the escape of an ASCII byte JSON requires escaping.
func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
