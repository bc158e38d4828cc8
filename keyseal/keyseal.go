package keyseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key length: AES-256.
const KeySize = 32

// EnvVar names the environment variable Load's callers read the master key from.
const EnvVar = "TOLLGATE_MASTER_KEY"

const nonceSize = 12

// ErrOpen is returned (wrapped) when a sealed value does not authenticate:
// wrong master key, wrong row, or tampered bytes.
var ErrOpen = errors.New("sealed secret does not authenticate")

// Sealer seals and opens secrets under one master key. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte master key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Load returns the Sealer for the configured master key. A non-empty envValue
// (TOLLGATE_MASTER_KEY: standard base64 of 32 bytes) wins. Otherwise the key
// is read from path, which holds either that base64 text or the 32 raw bytes;
// if path does not exist a random key is generated and written there with
// mode 0600, creating missing directories with mode 0700. Two processes
// starting together on one data directory end up with the same key.
func Load(envValue, path string) (*Sealer, error) {
	if envValue != "" {
		key, err := decodeKey([]byte(envValue), false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvVar, err)
		}
		return New(key)
	}
	if path == "" {
		return nil, fmt.Errorf("no master key: set %s or a master key file", EnvVar)
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	key, err := decodeKey(raw, true)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return New(key)
}

// decodeKey accepts standard base64 (surrounding whitespace ignored, as files
// end in a newline) or, from a file, exactly KeySize raw bytes as written by
// `head -c 32 /dev/urandom`.
func decodeKey(raw []byte, allowRaw bool) ([]byte, error) {
	text := strings.TrimSpace(string(raw))
	key, err := base64.StdEncoding.Strict().DecodeString(text)
	if err == nil && len(key) == KeySize {
		return key, nil
	}
	if allowRaw && len(raw) == KeySize {
		return raw, nil
	}
	if err != nil {
		return nil, errors.New("not standard base64 of 32 bytes")
	}
	return nil, fmt.Errorf("decodes to %d bytes, want %d", len(key), KeySize)
}

// create writes a fresh key to path without ever exposing a partial file:
// the key goes to a temporary file that is then hard-linked into place, which
// fails if another process got there first; then that process's key is used.
func create(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", path, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	text := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	tmp, err := os.CreateTemp(dir, ".master-key-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; Chmod makes it explicit and umask-proof.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return text, nil
}

// Seal encrypts plaintext and returns nonce || ciphertext || tag. aad binds the
// result to its row (the signing key id); Open must be given the same aad.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out[:nonceSize], plaintext, aad), nil
}

// Open decrypts a value made by Seal with the same aad. A wrong master key, a
// wrong aad or any modified byte yields an error wrapping ErrOpen.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+s.aead.Overhead() {
		return nil, fmt.Errorf("open: %w: %d bytes is too short", ErrOpen, len(sealed))
	}
	plain, err := s.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("open: %w", ErrOpen)
	}
	return plain, nil
}
