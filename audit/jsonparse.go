package audit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written reader rather than encoding/json's Decoder.Token: this
// path runs for every proxy decision, and the token API costs more than a
// hundred allocations per event. FuzzCanonicalMatchesDecoder holds it to
// encoding/json's reading of every input.

type parser struct {
	data    []byte
	pos     int
	scratch []byte // unescaped string values, reused
}

var errSyntax = errors.New("invalid JSON")

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, p.pos)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value appends the canonical form of the next value to out.
func (p *parser) value(out []byte, depth int) ([]byte, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		p.pos++
		if c == '[' {
			return p.array(out, depth+1)
		}
		return p.object(out, depth+1)
	case c == '"':
		var err error
		if p.scratch, err = p.str(p.scratch[:0]); err != nil {
			return nil, err
		}
		return appendValidString(out, p.scratch), nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		if err := p.number(); err != nil {
			return nil, err
		}
		return append(out, p.data[start:p.pos]...), nil
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return append(out, lit...), nil
			}
		}
		return nil, p.fail("unexpected character")
	}
}

func (p *parser) array(out []byte, depth int) ([]byte, error) {
	out = append(out, '[')
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return append(out, ']'), nil
	}
	for {
		var err error
		if out, err = p.value(out, depth); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail("unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			out = append(out, ',')
		case ']':
			p.pos++
			return append(out, ']'), nil
		default:
			return nil, p.fail("expected , or ] in array")
		}
	}
}

// span locates a member's unescaped key and canonical value in an arena.
type span struct{ key, val, end int }

func (p *parser) object(out []byte, depth int) ([]byte, error) {
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return append(out, '{', '}'), nil
	}
	// The rest of the input bounds this object's canonical size closely
	// enough to avoid regrowing the arena in the common case.
	arena := make([]byte, 0, len(p.data)-p.pos)
	members := make([]span, 0, 8)
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.fail("expected a string key")
		}
		m := span{key: len(arena)}
		var err error
		if arena, err = p.str(arena); err != nil {
			return nil, err
		}
		m.val = len(arena)
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.fail("expected : after key")
		}
		p.pos++
		if arena, err = p.value(arena, depth); err != nil {
			return nil, err
		}
		m.end = len(arena)
		members = append(members, m)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail("unterminated object")
		}
		if p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.data[p.pos] != '}' {
			return nil, p.fail("expected , or } in object")
		}
		p.pos++
		break
	}
	key := func(m span) []byte { return arena[m.key:m.val] }
	slices.SortFunc(members, func(a, b span) int { return bytes.Compare(key(a), key(b)) })
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			if bytes.Equal(key(members[i-1]), key(m)) {
				return nil, fmt.Errorf("duplicate object key %q", key(m))
			}
			out = append(out, ',')
		}
		out = appendValidString(out, key(m))
		out = append(out, ':')
		out = append(out, arena[m.val:m.end]...)
	}
	return append(out, '}'), nil
}

// str reads a string starting at its opening quote and appends its
// unescaped bytes to dst, reading escapes and invalid UTF-8 as
// encoding/json does (lone surrogates and bad bytes become U+FFFD).
func (p *parser) str(dst []byte) ([]byte, error) {
	p.pos++ // opening quote
	for {
		if p.pos >= len(p.data) {
			return nil, p.fail("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return dst, nil
		case c < 0x20:
			return nil, p.fail("control character in string")
		case c == '\\':
			var err error
			if dst, err = p.escape(dst); err != nil {
				return nil, err
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, p.data[p.pos:p.pos+size]...)
			}
			p.pos += size
		}
	}
}

func (p *parser) escape(dst []byte) ([]byte, error) {
	if p.pos+1 >= len(p.data) {
		return nil, p.fail("unterminated escape")
	}
	c := p.data[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(dst, c), nil
	case 'b':
		return append(dst, '\b'), nil
	case 'f':
		return append(dst, '\f'), nil
	case 'n':
		return append(dst, '\n'), nil
	case 'r':
		return append(dst, '\r'), nil
	case 't':
		return append(dst, '\t'), nil
	case 'u':
		r := p.hex4(p.pos)
		if r < 0 {
			return nil, p.fail("bad \\u escape")
		}
		p.pos += 4
		if utf16.IsSurrogate(r) {
			if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
				if r2 := p.hex4(p.pos + 2); r2 >= 0 {
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						p.pos += 6
						return utf8.AppendRune(dst, pair), nil
					}
				}
			}
			r = utf8.RuneError
		}
		return utf8.AppendRune(dst, r), nil
	}
	return nil, p.fail("bad escape")
}

// hex4 decodes four hex digits at i, or returns -1.
func (p *parser) hex4(i int) rune {
	if i+4 > len(p.data) {
		return -1
	}
	var r rune
	for _, c := range p.data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number checks the RFC 8259 number grammar; the literal is kept as is.
func (p *parser) number() error {
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return p.fail("bad number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return p.fail("bad fraction")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.fail("bad exponent")
		}
	}
	return nil
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// appendValidString is appendString for bytes str already made valid UTF-8.
func appendValidString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		b = appendEscape(b, c)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
