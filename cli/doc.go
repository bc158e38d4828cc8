// Package cli implements the client subcommands of the tollgate binary
// (SPEC §1): config check, the control-API clients tenant, key, signing-key
// and audit, and offline verify of a signed delivery.
//
// Everything comes in through Run's arguments (args, environment lookup,
// stdin, stdout, stderr), so the commands are tested without a process.
// It must never start a server, touch a store, or talk to anything but the
// control API named by TOLLGATE_URL; it never prints a token, and prints an
// API key only in the response that creates it.
package cli
