package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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

// emptyMetadata is the one canonical form of "no metadata".
var emptyMetadata = json.RawMessage("{}")

// Canonical returns the canonical JSON of e without its hash (see the
// package documentation for the rules). It never fails: metadata that is
// not valid JSON is written as a JSON string of its bytes.
func Canonical(e tollgate.AuditEvent) []byte {
	meta, err := canonicalMetadata(e.Metadata)
	if err != nil {
		meta = appendString(nil, string(e.Metadata))
	}
	return appendCanonical(make([]byte, 0, 256+len(meta)), &e, meta)
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
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return emptyMetadata, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	out, err := appendValue(make([]byte, 0, len(trimmed)), dec, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the value", ErrInvalidMetadata)
	}
	return out, nil
}

// appendValue reads one JSON value from dec and appends its canonical form.
func appendValue(b []byte, dec *json.Decoder, depth int) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		if v == '[' {
			return appendArray(b, dec, depth+1)
		}
		return appendObject(b, dec, depth+1)
	case string:
		return appendString(b, v), nil
	case json.Number:
		return append(b, v...), nil
	case bool:
		if v {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case nil:
		return append(b, "null"...), nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func appendArray(b []byte, dec *json.Decoder, depth int) ([]byte, error) {
	b = append(b, '[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, dec, depth); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, err
	}
	return append(b, ']'), nil
}

type member struct {
	key   string
	value []byte
}

func appendObject(b []byte, dec *json.Decoder, depth int) ([]byte, error) {
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		value, err := appendValue(nil, dec, depth)
		if err != nil {
			return nil, err
		}
		members = append(members, member{key: key, value: value})
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return nil, err
	}
	slices.SortFunc(members, func(x, y member) int { return strings.Compare(x.key, y.key) })
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return nil, fmt.Errorf("duplicate object key %q", m.key)
			}
			b = append(b, ',')
		}
		b = appendString(b, m.key)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}'), nil
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
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
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
