package policy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// The address sets are built with netipx.IPSetBuilder (set algebra done
// right once) and then flattened into sorted 128-bit integer tables, so a
// lookup is one binary search over integers instead of several searches
// comparing netip.Addr values. IPv4 lives at ::ffff:0:0/96 of that space;
// every IPv6 address in that block is removed first, which changes nothing
// because addresses are unmapped before lookup.

type u128 struct{ hi, lo uint64 }

func key(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (x u128) less(y u128) bool { return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo) }

func (x u128) cmp(y u128) int {
	switch {
	case x.less(y):
		return -1
	case y.less(x):
		return 1
	}
	return 0
}

// next returns x+1 and false if x was the largest value.
func (x u128) next() (u128, bool) {
	if x.lo != ^uint64(0) {
		return u128{x.hi, x.lo + 1}, true
	}
	if x.hi != ^uint64(0) {
		return u128{x.hi + 1, 0}, true
	}
	return u128{}, false
}

type span struct{ from, to u128 }

// rangeTable is a sorted list of disjoint inclusive ranges.
type rangeTable []span

func (t rangeTable) contains(k u128) bool {
	lo, hi := 0, len(t)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.less(t[m].from) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && !t[lo-1].to.less(k)
}

// flatten builds b's set without the IPv4-mapped block and converts it
// into a rangeTable. b is modified.
func flatten(b *netipx.IPSetBuilder) (rangeTable, error) {
	b.RemovePrefix(netip.MustParsePrefix("::ffff:0:0/96"))
	set, err := b.IPSet()
	if err != nil {
		return nil, fmt.Errorf("build address set: %w", err)
	}
	return tableOf(set), nil
}

func tableOf(set *netipx.IPSet) rangeTable {
	rr := set.Ranges()
	t := make(rangeTable, 0, len(rr))
	for _, r := range rr {
		t = append(t, span{key(r.From()), key(r.To())})
	}
	slices.SortFunc(t, func(a, b span) int { return a.from.cmp(b.from) })
	return t
}

// Address classes of SPEC §4.5 before the tenant's allow_cidrs apply.
type class uint8

const (
	classPublic  class = iota // tier 4
	classAlways               // tier 1 (listeners aside: they need the port)
	classAllowed              // tier 2, egress.allow_cidrs
	classSpecial              // tier 3, unless the tenant's allow_cidrs open it
)

// run is the verdict for a stretch of addresses: its class and, when it
// may be refused, the refusal detail naming the block it belongs to.
type run struct {
	class  class
	detail string
}

// layer is one block to lay over the address space. Layers are applied in
// order and an address takes the first layer that covers it, which gives
// both the tier precedence and the most specific name within a tier.
type layer struct {
	prefixes []netip.Prefix
	run      run
}

// partition covers the whole address space: starts[i] begins runs[i],
// which lasts until starts[i+1]. Looking an address up is one binary
// search, on the deny path as on the allow path.
type partition struct {
	starts []u128
	runs   []run
}

func newPartition(layers []layer) (partition, error) {
	type piece struct {
		span
		run run
	}
	var (
		pieces  []piece
		painted netipx.IPSetBuilder
	)
	for _, l := range layers {
		done, err := painted.IPSet()
		if err != nil {
			return partition{}, fmt.Errorf("build address set: %w", err)
		}
		var b netipx.IPSetBuilder
		for _, p := range l.prefixes {
			b.AddPrefix(p)
			painted.AddPrefix(p)
		}
		b.RemoveSet(done)
		t, err := flatten(&b)
		if err != nil {
			return partition{}, err
		}
		for _, s := range t {
			pieces = append(pieces, piece{s, l.run})
		}
	}
	slices.SortFunc(pieces, func(a, b piece) int { return a.from.cmp(b.from) })
	var p partition
	add := func(at u128, r run) {
		if n := len(p.runs); n > 0 && p.runs[n-1] == r {
			return
		}
		p.starts = append(p.starts, at)
		p.runs = append(p.runs, r)
	}
	cur, more := u128{}, true
	for _, pc := range pieces {
		if cur.less(pc.from) {
			add(cur, run{class: classPublic})
		}
		add(pc.from, pc.run)
		if cur, more = pc.to.next(); !more {
			break
		}
	}
	if more {
		add(cur, run{class: classPublic})
	}
	return p, nil
}

func (p *partition) find(k u128) *run {
	lo, hi := 0, len(p.starts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.less(p.starts[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return &p.runs[lo-1] // starts[0] is zero, so lo >= 1
}
