package signer

import (
	"encoding/json"
	"os"
	"testing"
)

// The vectors in testdata/vectors.json were computed with an independent
// HMAC implementation (node:crypto), not with this package; the first one is
// the Standard Webhooks published vector. They are a contract: never
// regenerate them from this code.
type signVector struct {
	Name      string   `json:"name"`
	Secrets   []string `json:"secrets"`
	ID        string   `json:"id"`
	Timestamp int64    `json:"timestamp"`
	Body      string   `json:"body"`
	Signature string   `json:"signature"`
}

type deriveVector struct {
	Name         string `json:"name"`
	TenantSecret string `json:"tenant_secret"`
	Host         string `json:"host"`
	Secret       string `json:"secret"`
	ID           string `json:"id"`
	Timestamp    int64  `json:"timestamp"`
	Body         string `json:"body"`
	Signature    string `json:"signature"`
}

type vectorFile struct {
	Sign   []signVector   `json:"sign"`
	Derive []deriveVector `json:"derive"`
}

func loadVectors(tb testing.TB) vectorFile {
	tb.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		tb.Fatalf("parse vectors: %v", err)
	}
	if len(vf.Sign) == 0 || len(vf.Derive) == 0 {
		tb.Fatal("vectors file has no vectors")
	}
	return vf
}

func mustParseSecrets(tb testing.TB, secrets []string) [][]byte {
	tb.Helper()
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := ParseSecret(s)
		if err != nil {
			tb.Fatalf("ParseSecret(%q): %v", s, err)
		}
		keys[i] = k
	}
	return keys
}

func TestPublishedVector(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSignVectors(t *testing.T) {
	for _, v := range loadVectors(t).Sign {
		t.Run(v.Name, func(t *testing.T) {
			keys := mustParseSecrets(t, v.Secrets)
			if got := SignatureHeader(keys, v.ID, v.Timestamp, []byte(v.Body)); got != v.Signature {
				t.Fatalf("SignatureHeader = %q, want %q", got, v.Signature)
			}
			if got := Sign(keys[0], v.ID, v.Timestamp, []byte(v.Body)); got != v.Signature[:len(got)] {
				t.Fatalf("Sign = %q, want prefix of %q", got, v.Signature)
			}
			prepared := make([]*Key, len(keys))
			for i, k := range keys {
				prepared[i] = NewKey(k)
			}
			// Twice: the second round signs with HMAC states taken back from the pool.
			for range 2 {
				if got := SignatureHeaderKeys(prepared, v.ID, v.Timestamp, []byte(v.Body)); got != v.Signature {
					t.Fatalf("SignatureHeaderKeys = %q, want %q", got, v.Signature)
				}
				if got := prepared[0].Sign(v.ID, v.Timestamp, []byte(v.Body)); got != v.Signature[:len(got)] {
					t.Fatalf("Key.Sign = %q, want prefix of %q", got, v.Signature)
				}
			}
			now := unix(v.Timestamp)
			for i := range keys {
				if err := Verify(keys[i:i+1], v.ID, itoa(v.Timestamp), v.Signature, []byte(v.Body), now, 0); err != nil {
					t.Errorf("Verify with key %d: %v", i, err)
				}
			}
		})
	}
}

func TestDeriveVectors(t *testing.T) {
	for _, v := range loadVectors(t).Derive {
		t.Run(v.Name, func(t *testing.T) {
			tenant := mustParseSecrets(t, []string{v.TenantSecret})[0]
			derived := DeriveHostKey(tenant, v.Host)
			if got := FormatSecret(derived); got != v.Secret {
				t.Fatalf("FormatSecret(DeriveHostKey) = %q, want %q", got, v.Secret)
			}
			if got := Sign(derived, v.ID, v.Timestamp, []byte(v.Body)); got != v.Signature {
				t.Fatalf("Sign with derived key = %q, want %q", got, v.Signature)
			}
			if err := Verify([][]byte{tenant}, v.ID, itoa(v.Timestamp), v.Signature, []byte(v.Body), unix(v.Timestamp), 0); err == nil {
				t.Fatal("the tenant key verified a delivery signed with a derived host key")
			}
		})
	}
}

func TestDeriveHostKeySeparatesHosts(t *testing.T) {
	tenant := mustParseSecrets(t, []string{loadVectors(t).Derive[0].TenantSecret})[0]
	tests := []struct {
		a, b string
		same bool
	}{
		{"hooks.example.com", "HOOKS.example.COM", true},
		{"hooks.example.com", "hooks.example.org", false},
		{"hooks.example.com", "evilhooks.example.com", false},
		{"k.example.com", "\u212a.example.com", false}, // Kelvin sign must not fold to 'k'
		{"", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+"|"+tt.b, func(t *testing.T) {
			a, b := DeriveHostKey(tenant, tt.a), DeriveHostKey(tenant, tt.b)
			if len(a) != KeySize {
				t.Fatalf("derived key is %d bytes", len(a))
			}
			if same := string(a) == string(b); same != tt.same {
				t.Fatalf("same key = %v, want %v", same, tt.same)
			}
		})
	}
}
