package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Meta is event metadata already in canonical form. Only MetaBuilder makes
// one, so the Writer can take it without the parse and re-encode every
// other metadata pays: on the proxy's path that was a fifth of the cost of
// recording an event.
type Meta struct{ raw json.RawMessage }

// Raw returns the canonical bytes.
func (m Meta) Raw() json.RawMessage { return m.raw }

// MetaBuilder writes a flat metadata object in canonical form directly.
// Keys must be added in strictly increasing byte order and be printable
// ASCII without quote or backslash (so they need no escaping and compare
// as the canonical sort compares them); a key out of order, a bad key or a
// non-finite number makes Done fail instead of producing bytes whose hash
// a verifier could not reproduce.
type MetaBuilder struct {
	b    []byte
	last string
	err  error
}

// NewMetaBuilder starts an object in buf (which may be nil), reusing its capacity.
func NewMetaBuilder(buf []byte) MetaBuilder {
	return MetaBuilder{b: append(buf[:0], '{')}
}

func (m *MetaBuilder) key(k string) {
	if m.err != nil {
		return
	}
	if k == "" || (len(m.b) > 1 && k <= m.last) {
		m.err = fmt.Errorf("%w: metadata key %q out of order after %q", ErrInvalidMetadata, k, m.last)
		return
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			m.err = fmt.Errorf("%w: metadata key %q needs escaping", ErrInvalidMetadata, k)
			return
		}
	}
	if len(m.b) > 1 {
		m.b = append(m.b, ',')
	}
	m.b = append(m.b, '"')
	m.b = append(m.b, k...)
	m.b = append(m.b, '"', ':')
	m.last = k
}

// String adds a string member, escaped as Canonical escapes strings.
func (m *MetaBuilder) String(k, v string) {
	if m.key(k); m.err == nil {
		m.b = appendString(m.b, v)
	}
}

// Int adds an integer member.
func (m *MetaBuilder) Int(k string, v int64) {
	if m.key(k); m.err == nil {
		m.b = strconv.AppendInt(m.b, v, 10)
	}
}

// Float adds a number member in Go's shortest decimal form, which Canonical
// keeps literally. NaN and infinities have no JSON form and fail Done.
func (m *MetaBuilder) Float(k string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		if m.err == nil {
			m.err = fmt.Errorf("%w: metadata key %q is not a finite number", ErrInvalidMetadata, k)
		}
		return
	}
	if m.key(k); m.err == nil {
		m.b = strconv.AppendFloat(m.b, v, 'f', -1, 64)
	}
}

// Bool adds a boolean member.
func (m *MetaBuilder) Bool(k string, v bool) {
	if m.key(k); m.err == nil {
		m.b = strconv.AppendBool(m.b, v)
	}
}

// Done closes the object.
func (m *MetaBuilder) Done() (Meta, error) {
	if m.err != nil {
		return Meta{}, m.err
	}
	return Meta{raw: append(m.b, '}')}, nil
}
