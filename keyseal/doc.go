// Package keyseal encrypts signing secrets at rest: AES-256-GCM under the
// master key, each ciphertext bound to its row by additional data (the
// signing key id) so a sealed secret copied onto another row does not open.
//
// It must never log, print or put into an error the master key or any
// plaintext, and must never reuse a nonce: every Seal draws a fresh one.
package keyseal
