package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CAValidity is the lifetime of a generated intercept CA.
const CAValidity = 10 * 365 * 24 * time.Hour

// CACommonName names a generated intercept CA.
const CACommonName = "Tollgate Intercept CA"

// CA is the intercept certificate authority.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// CertPEM returns the CA certificate in PEM form, the file workers add to
// their trust store (served at GET /v1/intercept-ca.pem).
func (c *CA) CertPEM() []byte { return append([]byte(nil), c.certPEM...) }

// Certificate returns the parsed CA certificate. Callers must not modify it.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// LoadOrCreateCA loads the CA from certFile and keyFile (PEM; the key ECDSA or
// RSA in PKCS#8, SEC 1 or PKCS#1 form). If neither file exists it generates an
// ECDSA P-256 CA valid for ten years and writes the certificate with mode 0644
// and the key with mode 0600, creating missing directories with mode 0700.
// If only one of the two exists it refuses rather than overwrite the other:
// replacing a CA that workers already trust breaks every intercepted call.
func LoadOrCreateCA(certFile, keyFile string, now func() time.Time) (*CA, error) {
	certExists, err := exists(certFile)
	if err != nil {
		return nil, err
	}
	keyExists, err := exists(keyFile)
	if err != nil {
		return nil, err
	}
	switch {
	case certExists && keyExists:
		return loadCA(certFile, keyFile, now())
	case certExists:
		return nil, fmt.Errorf("intercept CA: %s exists but its key %s does not; restore the key or remove both to generate a new CA", certFile, keyFile)
	case keyExists:
		return nil, fmt.Errorf("intercept CA: key %s exists but certificate %s does not; restore the certificate or remove both to generate a new CA", keyFile, certFile)
	}
	ca, keyDER, err := generateCA(now())
	if err != nil {
		return nil, err
	}
	// Key first: a crash in between leaves "key without certificate", which
	// the check above reports instead of silently making a second CA.
	if err := writeNew(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("intercept CA key: %w", err)
	}
	if err := writeNew(certFile, ca.certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("intercept CA certificate: %w", err)
	}
	return ca, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("intercept CA: %w", err)
	}
}

func generateCA(now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate intercept CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CACommonName, Organization: []string{"Tollgate"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create intercept CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse intercept CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode intercept CA key: %w", err)
	}
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
	}, keyDER, nil
}

func loadCA(certFile, keyFile string, now time.Time) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("intercept CA: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("intercept CA: %s holds no PEM CERTIFICATE block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("intercept CA: parse %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("intercept CA: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("intercept CA: key %s: %w", keyFile, err)
	}
	if err := checkCA(cert, key, now); err != nil {
		return nil, fmt.Errorf("intercept CA %s: %w", certFile, err)
	}
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		key:     key,
	}, nil
}

// parseKey reads the first private key block: PKCS#8, SEC 1 (EC PRIVATE KEY)
// or PKCS#1 (RSA PRIVATE KEY); other PEM blocks such as EC PARAMETERS, which
// openssl writes first, are skipped.
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("%T keys are not supported; use ECDSA or RSA", key)
		}
	}
}

type publicKey interface{ Equal(crypto.PublicKey) bool }

func checkCA(cert *x509.Certificate, key crypto.Signer, now time.Time) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return errors.New("certificate is not a CA (basic constraints CA:TRUE missing)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("certificate key usage lacks certSign")
	}
	pub, ok := key.Public().(publicKey)
	if !ok || !pub.Equal(cert.PublicKey) {
		return errors.New("private key does not match the certificate")
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("certificate not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// writeNew creates path with perm and data, failing if it exists: it never
// truncates a file another process may have just written.
func writeNew(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	// Chmod undoes the umask so that the modes are exactly as documented.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	// RFC 5280 requires a positive serial; adding one rules out zero.
	return serial.Add(serial, big.NewInt(1)), nil
}
