package audit

import (
	"errors"
	"math"
	"testing"
)

func TestMetaBuilder(t *testing.T) {
	tests := []struct {
		name  string
		build func(m *MetaBuilder)
		want  string // "" means Done must fail with ErrInvalidMetadata
	}{
		{"empty", func(*MetaBuilder) {}, `{}`},
		{"all kinds", func(m *MetaBuilder) {
			m.Bool("a", true)
			m.Float("b", 0.001)
			m.Int("c", -7)
			m.String("d", "x\"y\\\n\x01\xffé")
		}, `{"a":true,"b":0.001,"c":-7,"d":"x\"y\\\n\u0001` + "\uFFFD" + `é"}`},
		{"large float stays a plain number", func(m *MetaBuilder) { m.Float("f", 1e21) }, `{"f":1000000000000000000000}`},
		{"out of order", func(m *MetaBuilder) { m.Int("b", 1); m.Int("a", 2) }, ""},
		{"repeated key", func(m *MetaBuilder) { m.Int("a", 1); m.Int("a", 2) }, ""},
		{"key needing escape", func(m *MetaBuilder) { m.Int(`a"b`, 1) }, ""},
		{"non-ASCII key", func(m *MetaBuilder) { m.Int("é", 1) }, ""},
		{"empty key", func(m *MetaBuilder) { m.Int("", 1) }, ""},
		{"NaN", func(m *MetaBuilder) { m.Float("a", math.NaN()) }, ""},
		{"infinity", func(m *MetaBuilder) { m.Float("a", math.Inf(-1)) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetaBuilder(nil)
			tt.build(&m)
			got, err := m.Done()
			if tt.want == "" {
				if !errors.Is(err, ErrInvalidMetadata) {
					t.Fatalf("Done = %s, %v; want ErrInvalidMetadata", got.Raw(), err)
				}
				return
			}
			if err != nil || string(got.Raw()) != tt.want {
				t.Fatalf("Done = %s, %v; want %s", got.Raw(), err, tt.want)
			}
			canon, err := CanonicalMetadata(got.Raw())
			if err != nil || string(canon) != tt.want {
				t.Fatalf("not canonical: %s -> %s, %v", got.Raw(), canon, err)
			}
		})
	}
}

// FuzzMetaBuilder: whatever the values, the builder's bytes are exactly
// what canonicalisation makes of them, so the hash a verifier recomputes
// from the stored metadata matches the one sealed.
func FuzzMetaBuilder(f *testing.F) {
	f.Add("detail", "quote \" nl \n bad \xff", int64(-3), 1.25, true)
	f.Add("a", "", int64(0), 0.0, false)
	f.Fuzz(func(t *testing.T, k, s string, i int64, fl float64, b bool) {
		m := NewMetaBuilder(nil)
		m.Bool("0bool", b)
		m.Float("1float", fl)
		m.Int("2int", i)
		m.String("3str", s)
		m.String("4"+k, s)
		got, err := m.Done()
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("error without ErrInvalidMetadata: %v", err)
			}
			return
		}
		canon, err := CanonicalMetadata(got.Raw())
		if err != nil || string(canon) != string(got.Raw()) {
			t.Fatalf("not canonical: %s -> %s, %v", got.Raw(), canon, err)
		}
	})
}
