package rowcodec

import (
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	tests := []struct {
		name, kind, key string
	}{
		{"simple", "tenants", "acme"},
		{"empty key", "keys", ""},
		{"separator in key", "audit", "a|b|c"},
		{"unicode", "tenants", "ünï"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := EncodeCursor(tt.kind, tt.key)
			got, ok, err := DecodeCursor(tt.kind, c)
			if err != nil || !ok || got != tt.key {
				t.Fatalf("DecodeCursor(%q) = %q, %v, %v; want %q", c, got, ok, err, tt.key)
			}
			if _, _, err := DecodeCursor(tt.kind+"x", c); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("cursor accepted for another kind: %v", err)
			}
		})
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"not base64", "!!!"},
		{"padded base64", "djF8dGVuYW50c3xhY21l=="},
		{"no version", EncodeCursorRaw("tenants|acme")},
		{"wrong version", EncodeCursorRaw("v2|tenants|acme")},
		{"no kind separator", EncodeCursorRaw("v1|tenants")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeCursor("tenants", tt.in); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("DecodeCursor(%q) err = %v, want ErrBadCursor", tt.in, err)
			}
		})
	}
	if key, ok, err := DecodeCursor("tenants", ""); key != "" || ok || err != nil {
		t.Fatalf("empty cursor = %q, %v, %v", key, ok, err)
	}
}

func TestIntCursor(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{"zero", EncodeIntCursor("audit", 0), 0, true},
		{"big", EncodeIntCursor("audit", 1<<62), 1 << 62, true},
		{"negative", EncodeCursor("audit", "-1"), 0, false},
		{"leading zero", EncodeCursor("audit", "01"), 0, false},
		{"plus sign", EncodeCursor("audit", "+1"), 0, false},
		{"text", EncodeCursor("audit", "x"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok, err := DecodeIntCursor("audit", tt.in)
			if tt.ok != (err == nil) || (tt.ok && (!ok || n != tt.want)) {
				t.Fatalf("DecodeIntCursor = %d, %v, %v; want %d ok=%v", n, ok, err, tt.want, tt.ok)
			}
		})
	}
}

// EncodeCursorRaw builds a cursor around arbitrary content, for malformed seeds.
func EncodeCursorRaw(s string) string {
	return b64(s)
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{"", "!!!", EncodeCursor("tenants", "acme"), EncodeIntCursor("audit", 42),
		EncodeCursorRaw("v1|tenants"), EncodeCursorRaw("v2|x|y"), EncodeCursor("audit", "01")} {
		f.Add("tenants", s)
		f.Add("audit", s)
	}
	f.Fuzz(func(t *testing.T, kind, c string) {
		key, ok, err := DecodeCursor(kind, c)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error not ErrBadCursor: %v", err)
			}
			return
		}
		if !ok {
			if c != "" {
				t.Fatalf("non-empty cursor %q decoded as first page", c)
			}
			return
		}
		if again := EncodeCursor(kind, key); again != c {
			t.Fatalf("cursor %q decodes to %q which re-encodes to %q", c, key, again)
		}
		if n, ok, err := DecodeIntCursor(kind, c); err == nil && ok && EncodeIntCursor(kind, n) != c {
			t.Fatalf("int cursor %q not canonical", c)
		}
	})
}
