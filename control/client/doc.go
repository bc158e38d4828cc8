// Package client is the Go client of the Tollgate control API (SPEC §7) and
// the home of its wire types, so that the server and every caller (the CLI,
// tests, operators' scripts) agree on one shape.
//
// It must never import a store or the server: it speaks HTTP and nothing
// else, and it must never log or echo the bearer token or created keys.
package client
