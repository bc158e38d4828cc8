// Package rowcodec holds the encodings both store backends share: opaque
// pagination cursors, the JSON column encodings of policies, quotas, scopes
// and CIDR lists, and the nanosecond time columns.
//
// It must never touch a database or decide visibility: scoping and locking
// belong to each backend, so that PostgreSQL can enforce them with
// row-level security instead of trusting Go code.
package rowcodec
