// Package audit keeps the tamper-evident audit trail of SPEC §8: it
// canonicalises and hashes events into per-tenant chains, verifies chains,
// writes control-plane events synchronously, batches proxy-decision events
// (group commit), and prunes old events through the store.
//
// # Canonical form
//
// An event's hash is hex(SHA-256(prev_hash || Canonical(event))), where
// Canonical is the event's JSON without "hash" (and without the store's
// sequence number) with these rules, fixed forever because changing any of
// them breaks every stored chain:
//
//   - keys in byte-wise lexicographic order, no insignificant whitespace;
//   - strings escaped minimally: only `"`, `\` and control characters
//     (\b \f \n \r \t, others as \u00xx); no HTML escaping, U+2028/U+2029
//     and all other characters literal; invalid UTF-8 becomes U+FFFD;
//   - time in UTC with exactly six fractional digits (microseconds,
//     truncated), e.g. 2026-01-02T03:04:05.678901Z. Microseconds because
//     PostgreSQL timestamps keep no more; Seal truncates the stored time so
//     the stored value is exactly the hashed one;
//   - metadata re-canonicalised recursively with the same rules; numbers keep
//     their literal text (1.0, 1e2 and -0 stay as written) so no float
//     rounding can change a hash;
//   - absent, empty and JSON null metadata are all written as {}: a store
//     that keeps NULL and one that keeps '{}' must verify the same chain, so
//     "no metadata" has exactly one form. Seal stores {} as well.
//
// Metadata must be valid JSON without duplicate object keys and nested at
// most 64 levels deep (duplicate keys would let two parsers disagree about
// what was audited). Append and Writer.Record refuse anything else; Canonical
// itself never fails and writes such bytes as a JSON string, and the
// Verifier reports a stored event whose metadata is invalid, since Seal never
// produces one.
//
// Stores must keep metadata numbers literally: a PostgreSQL jsonb column
// rewrites 1e2 as 100 and would break verification; use json or text.
//
// # What a chain proves
//
// Verification recomputes every hash from the checkpoint (the last pruned
// hash, "" for genesis) and names the first event that was altered, or whose
// link to its predecessor broke because events were deleted, inserted or
// reordered. Removing events from the newest end leaves a shorter valid
// chain; compare the head hash with one recorded elsewhere to catch that.
//
// # Durability of batched events
//
// Append is synchronous: when it returns nil the events are stored, so the
// control API acknowledges a change only after its event is durable.
// Proxy decisions go through a Writer, which queues them and writes a batch
// when BatchSize events are waiting or FlushInterval after the first of them
// arrived. Close writes everything queued before returning. A failed batch
// is retried with exponential backoff for as long as the process lives;
// meanwhile the queue fills and Record blocks (backpressure), so nothing is
// dropped silently. A kill -9 (or a crash, or Close giving up when its
// context ends) loses what was not yet written: the events in the queue (up
// to QueueSize) plus those taken for writing (up to as many again), i.e. at most about
// FlushInterval worth of traffic plus whatever backlog had queued behind a
// slow store. Every lost event was recorded by a Record call that already
// returned nil.
//
// # Never
//
// This package never puts API keys, secrets, Authorization headers or
// request bodies into events (SafeMetadata strips secret-looking keys as a
// second line of defence), never updates or deletes stored events itself
// (pruning is the store's, by whole segments with a checkpoint), and never
// drops an event without logging it.
package audit
