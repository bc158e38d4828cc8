package policy

import "net/netip"

// block is an address range with the refusal detail used when it matches.
// Details are built once so that the deny path of CheckAddr never allocates.
type block struct {
	prefix netip.Prefix
	detail string
}

func blk(cidr, label string) block {
	p := netip.MustParsePrefix(cidr)
	return block{prefix: p, detail: "the destination address is in " + p.String() + " (" + label + ")"}
}

// alwaysDenied is tier 1 of SPEC §4.5: nothing overrides these. The
// metadata addresses come first so that a refusal names the most specific
// match. Sources: the IANA special-purpose registries and cloud provider
// documentation (NOTES "Operator extras").
func alwaysDenied() []block {
	const always = ", which is always denied"
	return []block{
		blk("100.100.100.200/32", "Alibaba Cloud metadata service"+always),
		blk("192.0.0.192/32", "Oracle Cloud metadata service"+always),
		blk("168.63.129.16/32", "Azure WireServer"+always),
		blk("fd00:ec2::254/128", "AWS metadata service"+always),
		blk("fd20:ce::254/128", "Google Cloud metadata service"+always),
		blk("fd00:c1::a9fe:a9fe/128", "cloud metadata service"+always),
		blk("0.0.0.0/8", `"this network", which reaches the local host`+always),
		blk("169.254.0.0/16", "link-local, home of cloud metadata services"+always),
		blk("::/128", "the unspecified address, which reaches the local host"+always),
		blk("fe80::/10", "link-local"+always),
	}
}

// specialPurpose is tier 3 of SPEC §4.5, most specific first. New also
// denies all IPv6 outside 2000::/3; the v6 entries listed outside it only
// give that refusal a precise name. IPv4-mapped addresses are absent
// because every address is unmapped and judged as IPv4.
// Embedded-IPv4 forms (NAT64, 6to4, Teredo, IPv4-compatible) are denied
// and never unwrapped: unwrapping would let a tenant's allow_cidrs, or a
// translator we do not control, decide where the packet lands.
func specialPurpose() []block {
	return []block{
		blk("10.0.0.0/8", "private-use"),
		blk("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
		blk("127.0.0.0/8", "loopback"),
		blk("172.16.0.0/12", "private-use"),
		blk("192.0.0.0/24", "IETF protocol assignments"),
		blk("192.0.2.0/24", "documentation (TEST-NET-1)"),
		blk("192.31.196.0/24", "AS112-v4"),
		blk("192.52.193.0/24", "AMT"),
		blk("192.88.99.0/24", "deprecated 6to4 relay anycast"),
		blk("192.168.0.0/16", "private-use"),
		blk("192.175.48.0/24", "direct delegation AS112 service"),
		blk("198.18.0.0/15", "benchmarking"),
		blk("198.51.100.0/24", "documentation (TEST-NET-2)"),
		blk("203.0.113.0/24", "documentation (TEST-NET-3)"),
		blk("224.0.0.0/4", "multicast"),
		blk("240.0.0.0/4", "reserved"),

		blk("::1/128", "loopback"),
		blk("::/96", "IPv4-compatible, never unwrapped"),
		blk("64:ff9b::/96", "NAT64, never unwrapped"),
		blk("64:ff9b:1::/48", "local-use NAT64, never unwrapped"),
		blk("100::/64", "discard-only"),
		blk("5f00::/16", "SRv6 SIDs"),
		blk("fc00::/7", "unique local"),
		blk("fec0::/10", "deprecated site-local"),
		blk("ff00::/8", "multicast"),
		blk("2001::/32", "Teredo, never unwrapped"),
		blk("2001:db8::/32", "documentation"),
		blk("2001::/23", "IETF protocol assignments"),
		blk("2002::/16", "6to4, never unwrapped"),
		blk("2620:4f:8000::/48", "direct delegation AS112 service"),
		blk("3fff::/20", "documentation"),
	}
}

const (
	detailOutsideV6   = "the destination address is outside IPv6 global unicast 2000::/3"
	detailInvalidAddr = "the destination address is not a valid IP address"
	detailListener    = "the destination is one of the proxy's own listeners"
	detailDenyCIDR    = "the destination address is in egress.deny_cidrs"
	detailNoAddrs     = "there is no destination address to vet"
)
