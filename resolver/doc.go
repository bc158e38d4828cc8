// Package resolver turns a host name into the addresses the proxy may vet and
// dial: A and AAAA queried in parallel over github.com/miekg/dns, CNAME chains
// followed and reported name by name, TCP retry on truncation, a bounded LRU
// cache with clamped TTLs and negative entries, and one flight per name.
//
// It must never contact a server other than the configured ones (no system
// resolver, no fallback to public resolvers, no name lookups of the servers
// themselves), never judge addresses (the policy does that, after Unmap), and
// never hand two callers the same mutable slice.
package resolver
