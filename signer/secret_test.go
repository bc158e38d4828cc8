package signer

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != KeySize || len(b) != KeySize {
		t.Fatalf("key sizes %d, %d; want %d", len(a), len(b), KeySize)
	}
	if string(a) == string(b) {
		t.Fatal("two generated keys are equal")
	}
	s := FormatSecret(a)
	if !strings.HasPrefix(s, SecretPrefix) || len(s) != len(SecretPrefix)+44 || !strings.HasSuffix(s, "=") {
		t.Fatalf("FormatSecret = %q, want whsec_ + 44 chars of padded base64", s)
	}
	back, err := ParseSecret(s)
	if err != nil || string(back) != string(a) {
		t.Fatalf("ParseSecret(FormatSecret(k)) = %x, %v; want %x", back, err, a)
	}
}

var parseSecretTests = []struct {
	name    string
	in      string
	wantLen int    // 0: error expected
	errHint string // substring of the error
}{
	{"published vector", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 24, ""},
	{"bare base64", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 24, ""},
	{"32 bytes padded", "whsec_NJ6ky1qSMWqQE96tqv2sgM+1H/h1qAYlyfjcEZSERSQ=", 32, ""},
	{"url-safe", "whsec_NJ6ky1qSMWqQE96tqv2sgM-1H_h1qAYlyfjcEZSERSQ=", 0, "url-safe"},
	{"unpadded", "whsec_NJ6ky1qSMWqQE96tqv2sgM+1H/h1qAYlyfjcEZSERSQ", 0, "unpadded"},
	{"empty", "", 0, "empty"},
	{"prefix only", "whsec_", 0, "empty"},
	{"embedded newline", "whsec_MfKQ9r8GKYqrTwjU\nPD8ILPZIo2LaLaSw", 0, "not standard base64"},
	{"trailing space", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ", 0, "not standard base64"},
	{"too short", "whsec_dGVzdA==", 0, "4 bytes"},
	{"non-zero padding bits", "whsec_NJ6ky1qSMWqQE96tqv2sgM+1H/h1qAYlyfjcEZSERSR=", 0, "malformed"},
	{"padding in the middle", "whsec_MfKQ9r8G=YqrTwjUPD8ILPZIo2LaLaSw", 0, "malformed"},
	{"stripe-style literal", "whsec_abc", 0, "unpadded"},
	{"double prefix", "whsec_whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0, "url-safe"},
}

func TestParseSecret(t *testing.T) {
	for _, tt := range parseSecretTests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseSecret(tt.in)
			if tt.wantLen == 0 {
				if err == nil {
					t.Fatalf("ParseSecret(%q) = %x, want error", tt.in, key)
				}
				if !errors.Is(err, ErrBadSecret) {
					t.Errorf("error %v does not wrap ErrBadSecret", err)
				}
				if !strings.Contains(err.Error(), tt.errHint) {
					t.Errorf("error %q does not mention %q", err, tt.errHint)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSecret(%q): %v", tt.in, err)
			}
			if len(key) != tt.wantLen {
				t.Fatalf("key is %d bytes, want %d", len(key), tt.wantLen)
			}
			if got, want := FormatSecret(key), SecretPrefix+strings.TrimPrefix(tt.in, SecretPrefix); got != want {
				t.Fatalf("round trip = %q, want %q", got, want)
			}
		})
	}
}

func FuzzParseSecret(f *testing.F) {
	for _, tt := range parseSecretTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseSecret(s)
		if err != nil {
			if !errors.Is(err, ErrBadSecret) {
				t.Fatalf("error %v does not wrap ErrBadSecret", err)
			}
			if len(s) > 8 && strings.Contains(err.Error(), strings.TrimPrefix(s, SecretPrefix)) {
				t.Fatalf("error %q leaks the secret", err)
			}
			return
		}
		if len(key) < minSecretBytes || len(key) > maxSecretBytes {
			t.Fatalf("accepted a %d-byte key", len(key))
		}
		// Accepted secrets are canonical: formatting the key gives the input back.
		if got, want := FormatSecret(key), SecretPrefix+strings.TrimPrefix(s, SecretPrefix); got != want {
			t.Fatalf("FormatSecret(ParseSecret(%q)) = %q", s, got)
		}
	})
}
