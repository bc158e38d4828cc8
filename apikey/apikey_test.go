package apikey

import (
	"encoding/base64"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

func mustGenerate(t testing.TB) string {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k := mustGenerate(t)
		if len(k) != 57 || !strings.HasPrefix(k, Prefix) {
			t.Fatalf("bad key shape %d %q", len(k), k[:8])
		}
		if err := Parse(k); err != nil {
			t.Fatalf("generated key does not parse: %v", err)
		}
		if seen[k] {
			t.Fatal("duplicate key")
		}
		seen[k] = true
	}
}

// The character distribution must be close to uniform: a modulo bias toward
// the first 8 characters (256 % 62) would show up as a ~1.5x excess.
func TestGenerateUniform(t *testing.T) {
	var counts [62]int
	total := 0
	for i := 0; i < 2000; i++ {
		k := mustGenerate(t)
		for _, c := range k[len(Prefix) : len(Prefix)+randomLen] {
			counts[decodeTable[c]]++
			total++
		}
	}
	exp := float64(total) / 62
	low, high := 0, 0
	for i, n := range counts {
		if i < 8 {
			low += n
		} else {
			high += n
		}
	}
	ratio := (float64(low) / 8) / (float64(high) / 54)
	if ratio > 1.1 || ratio < 0.9 {
		t.Errorf("first 8 characters are %.2fx as frequent as the rest (expected ~1)", ratio)
	}
	for i, n := range counts {
		if float64(n) < exp*0.8 || float64(n) > exp*1.2 {
			t.Errorf("character %q appears %d times, expected about %.0f", alphabet[i], n, exp)
		}
	}
}

// fixedKey is a deterministic well-formed key for the tables.
var fixedKey = func() string {
	body := Prefix + strings.Repeat("a1B2c3D4e5", 4) + "xyz"
	return body + checksum(body)
}()

func TestParse(t *testing.T) {
	flip := []byte(fixedKey)
	flip[20] = 'Z'
	if flip[20] == fixedKey[20] {
		flip[20] = 'Y'
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"valid", fixedKey, nil},
		{"empty", "", ErrFormat},
		{"prefix only", Prefix, ErrFormat},
		{"wrong prefix", "tg_test_" + fixedKey[8:], ErrFormat},
		{"short", fixedKey[:56], ErrFormat},
		{"long", fixedKey + "a", ErrFormat},
		{"bad char", fixedKey[:30] + "-" + fixedKey[31:], ErrFormat},
		{"flipped char", string(flip), ErrChecksum},
		{"bad checksum", fixedKey[:51] + "000000", ErrChecksum},
		{"non-ascii", fixedKey[:30] + "é" + fixedKey[32:], ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Parse(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestChecksumWidth(t *testing.T) {
	// The largest CRC must still fit six digits and the smallest be zero-padded.
	for _, s := range []string{"", "a", Prefix, fixedKey} {
		if c := checksum(s); len(c) != checksumLen {
			t.Errorf("checksum(%q) = %q", s, c)
		}
	}
}

func TestCRCString(t *testing.T) {
	for _, s := range []string{"", "a", Prefix, fixedKey, "123456789"} {
		if got, want := crcString(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crcString(%q) = %08x, want %08x", s, got, want)
		}
	}
}

func TestHash(t *testing.T) {
	a, b := Hash(fixedKey), Hash(fixedKey+"x")
	if a == b || a != Hash(fixedKey) {
		t.Error("hash is not a deterministic function of the key")
	}
}

func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	a, b := NewID(now), NewID(now.Add(time.Millisecond))
	if len(a) != 30 || !strings.HasPrefix(a, "key_") {
		t.Fatalf("id %q", a)
	}
	if a >= b {
		t.Errorf("ids do not sort by time: %s >= %s", a, b)
	}
}

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

var proxyAuthCases = []struct {
	name, in, user, pass string
	ok                   bool
}{
	{"good", basic("acme:" + fixedKey), "acme", fixedKey, true},
	{"lower scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("acme:k")), "acme", "k", true},
	{"upper scheme", "BASIC " + base64.StdEncoding.EncodeToString([]byte("acme:k")), "acme", "k", true},
	{"extra spaces", "Basic   " + base64.StdEncoding.EncodeToString([]byte("acme:k")) + " ", "acme", "k", true},
	{"colon in password", basic("acme:a:b"), "acme", "a:b", true},
	{"empty user", basic(":k"), "", "k", true},
	{"no colon", basic("acme"), "", "", false},
	{"empty", "", "", "", false},
	{"scheme only", "Basic", "", "", false},
	{"scheme space", "Basic ", "", "", false},
	{"no space", "Basic" + base64.StdEncoding.EncodeToString([]byte("a:b")), "", "", false},
	{"bearer", "Bearer " + fixedKey, "", "", false},
	{"unpadded", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("acme:key")), "", "", false},
	{"url-safe", "Basic " + base64.URLEncoding.EncodeToString([]byte("a?>:k>?")), "", "", false},
	{"newline in token", "Basic YWNt\nZTpr", "", "", false},
	{"control in creds", basic("acme:k\x00"), "", "", false},
	{"del in creds", basic("ac\x7fme:k"), "", "", false},
	{"two tokens", basic("a:b") + " " + base64.StdEncoding.EncodeToString([]byte("c:d")), "", "", false},
	{"non-canonical padding bits", "Basic YWI6Yx==", "", "", false},
}

func TestParseProxyAuthorization(t *testing.T) {
	for _, tc := range proxyAuthCases {
		t.Run(tc.name, func(t *testing.T) {
			u, p, ok := ParseProxyAuthorization(tc.in)
			if ok != tc.ok || u != tc.user || p != tc.pass {
				t.Errorf("got (%q, %q, %v), want (%q, %q, %v)", u, p, ok, tc.user, tc.pass, tc.ok)
			}
		})
	}
}

var bearerCases = []struct {
	name, in, want string
	ok             bool
}{
	{"good", "Bearer " + fixedKey, fixedKey, true},
	{"lower", "bearer tok", "tok", true},
	{"tab", "Bearer\ttok", "tok", true},
	{"trailing space", "Bearer tok  ", "tok", true},
	{"empty", "", "", false},
	{"no token", "Bearer ", "", false},
	{"no space", "Bearertok", "", false},
	{"basic", basic("a:b"), "", false},
	{"two tokens", "Bearer a b", "", false},
	{"control", "Bearer a\x01", "", false},
	{"too long", "Bearer " + strings.Repeat("a", maxHeader), "", false},
}

func TestParseBearer(t *testing.T) {
	for _, tc := range bearerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseBearer(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Errorf("got (%q, %v), want (%q, %v)", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseProxyAuthorization(f *testing.F) {
	for _, tc := range proxyAuthCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, h string) {
		u, p, ok := ParseProxyAuthorization(h)
		if !ok {
			if u != "" || p != "" {
				t.Fatal("credentials returned with ok=false")
			}
			return
		}
		if strings.Contains(u, ":") || hasCtl(u) || hasCtl(p) {
			t.Fatalf("bad split or control chars: %q %q", u, p)
		}
		// What we accept must be exactly what a client would have sent.
		u2, p2, ok2 := ParseProxyAuthorization(basic(u + ":" + p))
		if !ok2 || u2 != u || p2 != p {
			t.Fatalf("round trip: %q %q", u2, p2)
		}
	})
}

func FuzzParseBearer(f *testing.F) {
	for _, tc := range bearerCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := ParseBearer(h)
		if ok && (tok == "" || hasCtlOrSpace(tok) || !strings.Contains(h, tok)) {
			t.Fatalf("accepted bad token %q", tok)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add(fixedKey)
	f.Add(fixedKey[:56] + "x")
	f.Add(Prefix)
	f.Fuzz(func(t *testing.T, s string) {
		if Parse(s) != nil {
			return
		}
		if len(s) != KeyLen || !strings.HasPrefix(s, Prefix) {
			t.Fatalf("accepted malformed key %q", s)
		}
		// Any single-character substitution in the body must be caught.
		b := []byte(s)
		i := len(Prefix) + int(s[len(s)-1])%randomLen
		b[i] = alphabet[(decodeTable[b[i]]+1)%62]
		if Parse(string(b)) == nil {
			t.Fatalf("checksum missed a substitution at %d", i)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Parse(fixedKey)
	}
}

func BenchmarkParseProxyAuthorization(b *testing.B) {
	h := basic("acme:" + fixedKey)
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = ParseProxyAuthorization(h)
	}
}
