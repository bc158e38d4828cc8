// Package dnstest runs a programmable DNS server on loopback for tests: unit
// tests of the resolver and end-to-end tests of the built binary point their
// resolver at it and script per-name answers, response codes, truncation and
// silence, then count the queries that arrived.
//
// It must never listen on anything but 127.0.0.1 and never forward or recurse:
// a name it was not told about answers NXDOMAIN, so a test cannot leak a
// query to a real DNS server through it.
package dnstest
