package urlscope

import (
	"net/netip"
	"testing"
)

func TestIsPrivate(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		// IPv4 non-public ranges, at their edges.
		{"0.0.0.0", true},
		{"0.255.255.255", true},
		{"10.0.0.0", true},
		{"10.255.255.255", true},
		{"100.64.0.0", true},
		{"100.127.255.255", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"169.254.169.254", true},
		{"172.16.0.0", true},
		{"172.31.255.255", true},
		{"192.0.0.8", true},
		{"192.0.2.1", true},
		{"192.88.99.1", true},
		{"192.168.1.1", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"198.51.100.7", true},
		{"203.0.113.9", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		// IPv4 public, just outside those ranges.
		{"1.1.1.1", false},
		{"8.8.8.8", false},
		{"9.255.255.255", false},
		{"11.0.0.0", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"192.0.1.1", false},
		{"192.167.255.255", false},
		{"198.17.255.255", false},
		{"198.20.0.0", false},
		{"223.255.255.255", false},
		// IPv4-mapped: judged as IPv4.
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.1.2.3", true},
		{"::ffff:8.8.8.8", false},
		// IPv6.
		{"::", true},
		{"::1", true},
		{"::7f00:1", true}, // IPv4-compatible (deprecated)
		{"::8.8.8.8", true},
		{"100::1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fec0::1", true},
		{"ff02::1", true},
		{"ff0e::1", true},
		{"2001:db8::1", true},
		{"2001::1", true},   // Teredo
		{"2001:2::1", true}, // benchmarking
		{"3fff::1", true},
		{"5f00::1", true},
		{"64:ff9b:1::1", true},
		{"64:ff9b::7f00:1", true},   // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"2002:7f00:1::", true},     // 6to4 of 127.0.0.1
		{"2002:808:808::1", false},  // 6to4 of 8.8.8.8
		{"2606:4700:4700::1111", false},
		{"2a00:1450::1", false},
		{"4000::1", true}, // outside 2000::/3, unallocated
	}
	for _, tt := range tests {
		if got := IsPrivate(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("IsPrivate(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if !IsPrivate(netip.Addr{}) {
		t.Error("IsPrivate(zero Addr) = false, want true (fail closed)")
	}
}
