package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateCA(t *testing.T) {
	clock := newFakeClock(t0)
	ca, certFile, keyFile := newTestCA(t, clock)
	c := ca.Certificate()
	if c.Subject.CommonName != CACommonName {
		t.Errorf("CN = %q", c.Subject.CommonName)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("key usage %v lacks CertSign", c.KeyUsage)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if got := c.NotAfter.Sub(t0); got != CAValidity {
		t.Errorf("validity from now = %s, want %s", got, CAValidity)
	}
	if !c.NotBefore.Before(t0) {
		t.Errorf("NotBefore %s is not before now", c.NotBefore)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	checkMode(t, certFile, 0o644)
	checkMode(t, keyFile, 0o600)
	checkMode(t, filepath.Dir(certFile), 0o700)

	onDisk, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, ca.CertPEM()) {
		t.Error("CertPEM differs from the file written")
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("key file is not a PKCS#8 PEM block")
	}
}

func TestReloadGeneratedCA(t *testing.T) {
	clock := newFakeClock(t0)
	ca, certFile, keyFile := newTestCA(t, clock)
	clock.Advance(30 * 24 * time.Hour)
	again, err := LoadOrCreateCA(certFile, keyFile, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.CertPEM(), again.CertPEM()) {
		t.Fatal("reload produced another CA")
	}
	// A leaf from the reloaded CA (and its key) chains to the original.
	leaf, err := NewIssuer(again, 4, clock.Now, nil).Certificate("hooks.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyLeaf(ca, leaf.Leaf, "hooks.example.com", clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestCAHalfPresent(t *testing.T) {
	clock := newFakeClock(t0)
	_, certFile, keyFile := newTestCA(t, clock)
	tests := []struct {
		name   string
		remove string
		hint   string
	}{
		{"only certificate", keyFile, "key"},
		{"only key", certFile, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{certFile, keyFile} {
				if f == tt.remove {
					continue
				}
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, k := filepath.Join(dir, filepath.Base(certFile)), filepath.Join(dir, filepath.Base(keyFile))
			if _, err := LoadOrCreateCA(c, k, clock.Now); err == nil || !strings.Contains(err.Error(), tt.hint) {
				t.Fatalf("LoadOrCreateCA = %v, want an error about the missing %s", err, tt.hint)
			}
			if _, err := os.Stat(tt.remove); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.Base(tt.remove))); err == nil {
				t.Fatal("the missing half was written")
			}
		})
	}
}

// writeCA writes a CA certificate for key, made from tmpl, and the key in the
// given PEM form.
func writeCA(t *testing.T, tmpl *x509.Certificate, certKey crypto.Signer, fileKey any, keyBlocks func(any) []*pem.Block) (string, string) {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, certKey.Public(), certKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	var keyPEM []byte
	for _, b := range keyBlocks(fileKey) {
		keyPEM = append(keyPEM, pem.EncodeToMemory(b)...)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func caTemplate(notBefore, notAfter time.Time, isCA bool) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "Operator CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
}

func TestLoadOperatorCA(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// 1024 bits keeps the test fast; the size is irrelevant to parsing.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []*pem.Block {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return []*pem.Block{{Type: "PRIVATE KEY", Bytes: der}}
	}
	sec1WithParams := func(k any) []*pem.Block {
		der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		return []*pem.Block{{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}, {Type: "EC PRIVATE KEY", Bytes: der}}
	}
	pkcs1 := func(k any) []*pem.Block {
		return []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))}}
	}
	certOnly := func(any) []*pem.Block { return []*pem.Block{{Type: "CERTIFICATE", Bytes: []byte{1}}} }

	valid := caTemplate(t0.Add(-time.Hour), t0.Add(24*time.Hour*365), true)
	tests := []struct {
		name    string
		tmpl    *x509.Certificate
		certKey crypto.Signer
		fileKey any
		blocks  func(any) []*pem.Block
		ok      bool
	}{
		{"ecdsa pkcs8", valid, ecKey, ecKey, pkcs8, true},
		{"ecdsa sec1 after EC PARAMETERS", valid, ecKey, ecKey, sec1WithParams, true},
		{"rsa pkcs1", valid, rsaKey, rsaKey, pkcs1, true},
		{"rsa pkcs8", valid, rsaKey, rsaKey, pkcs8, true},
		{"key does not match", valid, ecKey, otherKey, pkcs8, false},
		{"no key block", valid, ecKey, ecKey, certOnly, false},
		{"not a CA", caTemplate(t0.Add(-time.Hour), t0.Add(time.Hour), false), ecKey, ecKey, pkcs8, false},
		{"expired", caTemplate(t0.Add(-48*time.Hour), t0.Add(-time.Hour), true), ecKey, ecKey, pkcs8, false},
		{"not yet valid", caTemplate(t0.Add(time.Hour), t0.Add(48*time.Hour), true), ecKey, ecKey, pkcs8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certFile, keyFile := writeCA(t, tt.tmpl, tt.certKey, tt.fileKey, tt.blocks)
			clock := newFakeClock(t0)
			ca, err := LoadOrCreateCA(certFile, keyFile, clock.Now)
			if !tt.ok {
				if err == nil {
					t.Fatal("LoadOrCreateCA accepted a bad CA")
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOrCreateCA: %v", err)
			}
			leaf, err := NewIssuer(ca, 4, clock.Now, nil).Certificate("hooks.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyLeaf(ca, leaf.Leaf, "hooks.example.com", clock.Now()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadGarbageCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	for _, f := range []string{certFile, keyFile} {
		if err := os.WriteFile(f, []byte("garbage\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadOrCreateCA(certFile, keyFile, newFakeClock(t0).Now); err == nil {
		t.Fatal("accepted garbage files")
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

func verifyLeaf(ca *CA, leaf *x509.Certificate, host string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:     host,
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}
