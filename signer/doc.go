// Package signer implements Standard Webhooks v1 signatures: the whsec_ secret
// format, per-host key derivation, signing, verification and the parsing of
// captured deliveries for offline verification.
//
// It is pure: no I/O beyond the io.Reader handed to ReadDelivery, no clock
// (callers pass now), no logging. It must never put a key or a secret into an
// error message, and must never compare MACs with anything but hmac.Equal.
package signer
