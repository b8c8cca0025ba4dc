package urlscope

import "net/netip"

// nonPublicV4 lists the IPv4 ranges that are not ordinary public unicast
// (IANA special-purpose registry), kept broad where in doubt.
var nonPublicV4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT shared space
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("192.168.0.0/16"),  // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255 broadcast
}

var (
	// global6 is the only IPv6 space allocated for global unicast; all else
	// (loopback, unspecified, ::/96 IPv4-compatible, unique-local,
	// link-local, site-local, multicast, discard) is not public.
	global6 = netip.MustParsePrefix("2000::/3")
	// nat64 and sixToFour carry an IPv4 address, which is judged instead.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	// nonPublicGlobal6 are reserved blocks inside global6.
	nonPublicGlobal6 = []netip.Prefix{
		netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments, Teredo, benchmarking, ORCHID
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("3fff::/20"),     // documentation (RFC 9637)
		netip.MustParsePrefix("5f00::/16"),     // SRv6 SIDs (RFC 9602)
	}
)

// IsPrivate reports whether ip is anything but an ordinary public unicast
// address: loopback, private (RFC 1918), link-local, unique-local
// (fc00::/7), CGNAT (100.64.0.0/10), unspecified, multicast, broadcast, the
// IPv4 "this network" 0.0.0.0/8, or a documentation, benchmarking or reserved
// range, including all IPv6 outside 2000::/3. IPv4-mapped addresses are
// judged as IPv4, and NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses by
// the IPv4 address they carry. The zero Addr is private: what cannot be
// judged is refused.
func IsPrivate(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		for _, p := range nonPublicV4 {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return IsPrivate(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(ip):
		return IsPrivate(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case !global6.Contains(ip):
		return true
	}
	for _, p := range nonPublicGlobal6 {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
