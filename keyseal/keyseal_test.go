package keyseal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustNew(t testing.TB, key []byte) *Sealer {
	t.Helper()
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}

func TestSealOpen(t *testing.T) {
	s := mustNew(t, testKey(1))
	secret := []byte("0123456789abcdef0123456789abcdef")
	aad := []byte("sk_01JQ8Z4V6K3M2N1P0R9S8T7V6W")
	sealed, err := s.Seal(secret, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != nonceSize+len(secret)+16 {
		t.Fatalf("sealed is %d bytes", len(sealed))
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	again, err := s.Seal(secret, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed[:nonceSize], again[:nonceSize]) || bytes.Equal(sealed, again) {
		t.Fatal("two seals share a nonce")
	}
	got, err := s.Open(sealed, aad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	tampered := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		s      *Sealer
		sealed []byte
		aad    []byte
	}{
		{"other row", s, sealed, []byte("sk_other")},
		{"no aad", s, sealed, nil},
		{"other master key", mustNew(t, testKey(2)), sealed, aad},
		{"nonce flipped", s, tampered(0), aad},
		{"ciphertext flipped", s, tampered(nonceSize + 3), aad},
		{"tag flipped", s, tampered(len(sealed) - 1), aad},
		{"truncated", s, sealed[:len(sealed)-1], aad},
		{"too short", s, sealed[:nonceSize+15], aad},
		{"empty", s, nil, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.s.Open(tt.sealed, tt.aad); err == nil || !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestSealConcurrent(t *testing.T) {
	s := mustNew(t, testKey(3))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			aad := []byte{byte(i)}
			for range 100 {
				sealed, err := s.Seal([]byte("secret"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Open(sealed, aad); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// sealsAlike reports whether a and b use the same master key.
func sealsAlike(t *testing.T, a, b *Sealer) bool {
	t.Helper()
	sealed, err := a.Seal([]byte("probe"), []byte("id"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Open(sealed, []byte("id"))
	return err == nil
}

func TestLoad(t *testing.T) {
	envKey := testKey(7)
	envValue := base64.StdEncoding.EncodeToString(envKey)
	fileKey := testKey(8)
	fileText := base64.StdEncoding.EncodeToString(fileKey) + "\n"

	tests := []struct {
		name    string
		env     string
		file    []byte // nil: no file
		want    []byte // nil: error expected
		created bool
	}{
		{"env wins over file", envValue, []byte(fileText), envKey, false},
		{"env alone", envValue, nil, envKey, false},
		{"file base64 with newline", "", []byte(fileText), fileKey, false},
		{"file raw bytes", "", fileKey, fileKey, false},
		{"env raw bytes refused", string(testKey('a')), nil, nil, false},
		{"env url-safe refused", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), nil, nil, false},
		{"env wrong length", base64.StdEncoding.EncodeToString(testKey(1)[:16]), nil, nil, false},
		{"file garbage", "", []byte("not a key\n"), nil, false},
		{"file wrong length", "", []byte(base64.StdEncoding.EncodeToString(testKey(1)[:31])), nil, false},
		{"generated", "", nil, []byte{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "nested", "master.key")
			if tt.file != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, tt.file, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Load(tt.env, path)
			if tt.want == nil {
				if err == nil {
					t.Fatal("Load accepted a bad key")
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.created {
				if !sealsAlike(t, s, mustNew(t, tt.want)) {
					t.Fatal("Load picked the wrong key")
				}
				if tt.file == nil {
					if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("Load wrote %s although the key came from the environment", path)
					}
				}
				return
			}
			checkMode(t, path, 0o600)
			checkMode(t, filepath.Dir(path), 0o700)
			checkMode(t, filepath.Dir(filepath.Dir(path)), 0o700)
			again, err := Load("", path)
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			if !sealsAlike(t, s, again) {
				t.Fatal("reloading the generated key gave another key")
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Fatalf("directory holds %d entries, want only the key file", len(entries))
			}
		})
	}
}

func TestLoadNoSource(t *testing.T) {
	if _, err := Load("", ""); err == nil {
		t.Fatal("Load without env or path succeeded")
	}
}

func TestLoadConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	sealers := make([]*Sealer, 8)
	var wg sync.WaitGroup
	for i := range sealers {
		wg.Go(func() {
			s, err := Load("", path)
			if err != nil {
				t.Error(err)
				return
			}
			sealers[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := 1; i < len(sealers); i++ {
		if !sealsAlike(t, sealers[0], sealers[i]) {
			t.Fatalf("concurrent Load %d generated a different key", i)
		}
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %o, want %o", path, got, want)
	}
}

func FuzzOpen(f *testing.F) {
	s := mustNew(f, testKey(5))
	sealed, err := s.Seal([]byte("secret"), []byte("id"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, []byte("id"))
	f.Add([]byte{}, []byte{})
	f.Add(sealed[:nonceSize], []byte("id"))
	f.Fuzz(func(t *testing.T, in, aad []byte) {
		// Fuzz workers rebuild sealed with a fresh nonce, so the only thing
		// that may open is a seal of "secret" under "id" (a seed).
		plain, err := s.Open(in, aad)
		if err == nil && (!bytes.Equal(plain, []byte("secret")) || !bytes.Equal(aad, []byte("id"))) {
			t.Fatalf("Open accepted forged input %x", in)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	f.Add([]byte(base64.StdEncoding.EncodeToString(testKey(1))+"\n"), true)
	f.Add(testKey(2), true)
	f.Add(testKey(2), false)
	f.Add([]byte("not a key"), false)
	f.Fuzz(func(t *testing.T, raw []byte, allowRaw bool) {
		key, err := decodeKey(raw, allowRaw)
		if err != nil {
			return
		}
		if len(key) != KeySize {
			t.Fatalf("decoded a %d-byte key", len(key))
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	s := mustNew(b, testKey(1))
	secret, aad := testKey(9), []byte("sk_01JQ8Z4V6K3M2N1P0R9S8T7V6W")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(secret, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := mustNew(b, testKey(1))
	aad := []byte("sk_01JQ8Z4V6K3M2N1P0R9S8T7V6W")
	sealed, err := s.Seal(testKey(9), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}
