// Package certs holds the intercept CA and mints the leaf certificates the
// proxy presents when it terminates a worker's TLS in intercept mode.
//
// It must never issue a certificate that is itself a CA, never use a CA key
// it did not generate or load from the operator's files (in particular never
// goproxy's built-in CA), and never write the CA key with a mode wider than
// 0600.
package certs
