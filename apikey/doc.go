// Package apikey generates, checks and hashes Tollgate API keys and parses
// the headers that carry them (Proxy-Authorization: Basic, Authorization:
// Bearer). Keys are "tg_live_" + 43 base62 characters of CSPRNG output +
// 6 base62 characters of a CRC32 checksum, so that typos and scanners'
// false positives are rejected without a store lookup.
//
// It is pure: no I/O, no state. It must never log, store or return a key in
// an error message; only its SHA-256 hash may leave the caller.
package apikey
