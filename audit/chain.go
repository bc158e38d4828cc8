package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tollgate-dev/tollgate"
)

// NewID returns "evt_" + a ULID for now with 80 bits from crypto/rand, so
// ids sort by time and never collide across replicas.
func NewID(now time.Time) string {
	var ms uint64
	if now.After(time.UnixMilli(0)) {
		ms = min(ulid.Timestamp(now), ulid.MaxTime())
	}
	// crypto/rand.Reader never returns an error on supported platforms, and
	// ms is in range, so MustNew cannot panic.
	return "evt_" + ulid.MustNew(ms, rand.Reader).String()
}

// Seal links e to prevHash and sets its hash. It also normalises the time
// (UTC, microseconds) and the metadata (canonical form) so that what the
// store keeps is exactly what was hashed. Stores call it under the lock on
// the chain head.
func Seal(prevHash string, e *tollgate.AuditEvent) {
	meta, err := canonicalMetadata(e.Metadata)
	if err != nil {
		// Append and Record refuse such metadata; keep the bytes as a string
		// rather than lose them, and let the Verifier flag the event.
		meta = appendString(nil, string(e.Metadata))
	}
	e.Metadata = meta
	e.Time = NormalizeTime(e.Time)
	e.PrevHash = prevHash
	e.Hash = hashEvent(e, meta)
}

// sealPrepared is Seal for events that went through prepare (Append and
// the Writer): their metadata is canonical and their time normalised
// already, so the metadata is not parsed a second time on the hot path.
func sealPrepared(prevHash string, e *tollgate.AuditEvent) {
	e.PrevHash = prevHash
	e.Hash = hashEvent(e, e.Metadata)
}

// hashBufs recycles the canonical encoding hashed per event: the batching
// writer seals every proxy decision, and this buffer was a fifth of what it
// allocated per event.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func hashEvent(e *tollgate.AuditEvent, canonicalMeta []byte) string {
	bp := hashBufs.Get().(*[]byte)
	b := slices.Grow((*bp)[:0], canonicalSize(e, canonicalMeta)+len(e.PrevHash))
	b = append(b, e.PrevHash...)
	b = appendCanonical(b, e, canonicalMeta)
	sum := sha256.Sum256(b)
	if cap(b) <= 64<<10 { // an outsized event's buffer is not kept
		*bp = b[:0]
		hashBufs.Put(bp)
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// VerifyResult is the outcome of walking one chain (GET /v1/audit/verify).
type VerifyResult struct {
	OK       bool   `json:"ok"`
	Events   int    `json:"events"`              // events examined
	Head     string `json:"head"`                // hash of the last event that verified (the checkpoint if none)
	FirstBad string `json:"first_bad,omitempty"` // id of the first event that does not verify
	Problem  string `json:"problem,omitempty"`   // why it does not
}

// Verifier checks a chain one event at a time, oldest first.
type Verifier struct {
	head     string
	events   int
	firstBad string
	problem  string
	failed   bool
}

// NewVerifier starts a verification at checkpoint, the hash the first
// remaining event must link to ("" for a chain that was never pruned).
func NewVerifier(checkpoint string) *Verifier {
	return &Verifier{head: checkpoint}
}

// Add checks the next event and reports whether the chain is still intact.
// After the first failure it returns false and ignores further events.
func (v *Verifier) Add(e tollgate.AuditEvent) bool {
	if v.failed {
		return false
	}
	v.events++
	if e.PrevHash != v.head {
		if v.events == 1 {
			return v.fail(e.ID, fmt.Sprintf("prev_hash %q does not match the checkpoint %q: events were removed or the checkpoint is wrong", e.PrevHash, v.head))
		}
		return v.fail(e.ID, fmt.Sprintf("prev_hash %q does not match the hash of the previous event %q: events were deleted, inserted or reordered", e.PrevHash, v.head))
	}
	meta, err := canonicalMetadata(e.Metadata)
	if err != nil {
		return v.fail(e.ID, fmt.Sprintf("stored metadata is not canonicalisable: %v", err))
	}
	if want := hashEvent(&e, meta); want != e.Hash {
		return v.fail(e.ID, fmt.Sprintf("hash %q does not match the event's content (recomputed %q): the event was altered", e.Hash, want))
	}
	v.head = e.Hash
	return true
}

func (v *Verifier) fail(id, problem string) bool {
	v.failed = true
	v.firstBad = id
	v.problem = problem
	return false
}

// Result reports what the Verifier has seen so far.
func (v *Verifier) Result() VerifyResult {
	return VerifyResult{OK: !v.failed, Events: v.events, Head: v.head, FirstBad: v.firstBad, Problem: v.problem}
}

// errStop ends a scan early once a chain is known to be broken.
var errStop = errors.New("stop scan")

// VerifyChain recomputes tenant's chain ("" is the platform chain) from its
// checkpoint. A broken chain is a result (OK false), not an error; errors
// mean the store could not be read.
func VerifyChain(ctx context.Context, store tollgate.AuditStore, tenant string) (VerifyResult, error) {
	checkpoint, err := store.AuditCheckpoint(ctx, tenant)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("read audit checkpoint of %q: %w", tenant, err)
	}
	v := NewVerifier(checkpoint)
	err = store.ScanAudit(ctx, tenant, func(e tollgate.AuditEvent) error {
		if e.Tenant != tenant {
			v.events++
			v.fail(e.ID, fmt.Sprintf("event belongs to chain %q, not %q", e.Tenant, tenant))
			return errStop
		}
		if !v.Add(e) {
			return errStop
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, errStop) {
		return VerifyResult{}, fmt.Errorf("scan audit chain %q: %w", tenant, err)
	}
	return v.Result(), nil
}

// ChainResult is the verification of one named chain.
type ChainResult struct {
	Tenant string `json:"tenant"`
	VerifyResult
}

// VerifyAll verifies every chain the store knows, in the store's order.
func VerifyAll(ctx context.Context, store tollgate.AuditStore) ([]ChainResult, error) {
	chains, err := store.AuditChains(ctx)
	if err != nil {
		return nil, fmt.Errorf("list audit chains: %w", err)
	}
	results := make([]ChainResult, 0, len(chains))
	for _, tenant := range chains {
		r, err := VerifyChain(ctx, store, tenant)
		if err != nil {
			return nil, err
		}
		results = append(results, ChainResult{Tenant: tenant, VerifyResult: r})
	}
	return results, nil
}
