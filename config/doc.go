// Package config turns a Tollgate YAML file (SPEC §2) into a typed Config:
// durations as time.Duration, CIDRs as netip.Prefix, enums checked, every
// default filled in and the paths that default to the data directory
// resolved. Every rejection names the file, the line and the dotted key.
//
// Relative paths (data_dir and the files under it) are kept relative: they
// are resolved against the working directory of the process that opens
// them, exactly as a shell would, never against the config file's location.
//
// It must never open sockets, start goroutines, read files other than the
// one passed to Load, or hold global mutable state: a Config is plain data
// that a reload can build and throw away.
package config
