package urlscope

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// ParseHost normalises a bare host name or IP address, as given for a DNS
// look-up, by the same rules as the host of Parse. It returns the normalised
// host (for an IP, its canonical text) and, for an IP in any spelling, the
// address. A bracketed or bare IPv6 address is accepted; a port is not.
func ParseHost(raw string) (host string, ip netip.Addr, err error) {
	if msg := checkText(raw); msg != "" {
		return "", netip.Addr{}, fmt.Errorf("invalid host %s: %s", quote(raw), msg)
	}
	host, ip, err = parseHost(raw)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("invalid host %s: %w", quote(raw), err)
	}
	return host, ip, nil
}

// parseHost normalises text already cleared by checkText.
func parseHost(s string) (string, netip.Addr, error) {
	if s == "" {
		return "", netip.Addr{}, errors.New("the host is empty")
	}
	if s[0] == '[' {
		if s[len(s)-1] != ']' {
			if strings.Contains(s, "]:") {
				return "", netip.Addr{}, errors.New("a host cannot have a port")
			}
			return "", netip.Addr{}, errors.New(`"[" is not closed by "]" at the end`)
		}
		ip, err := parseIPv6(s[1 : len(s)-1])
		if err != nil {
			return "", netip.Addr{}, err
		}
		return ip.String(), ip, nil
	}
	if strings.IndexByte(s, ':') >= 0 {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is6() {
			ip, err = parseIPv6(s)
			if err != nil {
				return "", netip.Addr{}, err
			}
			return ip.String(), ip, nil
		}
		return "", netip.Addr{}, errors.New(`a host cannot contain ":" (no port here; IPv6 addresses must be valid)`)
	}
	return parseName(s)
}

// parseIPv6 parses the text between brackets. Zone identifiers are refused:
// they name a local interface, which no policy can mean.
func parseIPv6(s string) (netip.Addr, error) {
	if strings.IndexByte(s, '%') >= 0 {
		return netip.Addr{}, errors.New("IPv6 zone identifiers are not allowed")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IPv6 address %q", s)
	}
	if !ip.Is6() {
		return netip.Addr{}, fmt.Errorf("brackets may only hold an IPv6 address, not %q", s)
	}
	return ip.Unmap(), nil
}

// parseName normalises a host that is not bracketed. It returns the IPv4
// address when the host is one in any spelling.
func parseName(s string) (string, netip.Addr, error) {
	if s == "" {
		return "", netip.Addr{}, errors.New("the host is empty")
	}
	// One pass decides whether the input is plain ASCII that IDNA would only
	// lower-case: letters, digits, dots, and hyphens that neither start nor
	// end a label nor come in pairs (which covers "xn--" punycode, whose
	// validity only IDNA can judge).
	ascii, plain, upper := true, true, false
	prev := byte('.')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == '.':
			plain = plain && prev != '-'
		case c == '-':
			plain = plain && prev != '.' && prev != '-'
		case c >= 0x80:
			ascii = false
		case c == '%':
			return "", netip.Addr{}, errors.New("percent-encoding in the host is not allowed")
		default:
			return "", netip.Addr{}, fmt.Errorf("the host contains %q (only letters, digits, \"-\" and \".\" are allowed)", c)
		}
		prev = c
	}
	h := s
	switch {
	case ascii && plain && prev != '-':
		if upper {
			h = strings.ToLower(s)
		}
	default:
		var err error
		h, err = idna.Lookup.ToASCII(s)
		if err != nil {
			return "", netip.Addr{}, fmt.Errorf("invalid domain name: %s", strings.TrimPrefix(err.Error(), "idna: "))
		}
		for i := 0; i < len(h); i++ {
			if !isLDH(h[i]) {
				return "", netip.Addr{}, fmt.Errorf("invalid domain name: it maps to %q", h)
			}
		}
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", netip.Addr{}, errors.New("the host is empty")
	}
	if len(h) > maxNameLen {
		return "", netip.Addr{}, fmt.Errorf("the host name is longer than %d bytes", maxNameLen)
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			continue
		}
		switch n := i - start; {
		case n == 0:
			return "", netip.Addr{}, errors.New("the host has an empty label")
		case n > maxLabelLen:
			return "", netip.Addr{}, fmt.Errorf("a host label is longer than %d bytes", maxLabelLen)
		}
		if i < len(h) {
			start = i + 1
		}
	}
	if isNumber(h[start:]) {
		ip, err := parseIPv4(h)
		if err != nil {
			return "", netip.Addr{}, err
		}
		return ip.String(), ip, nil
	}
	return h, netip.Addr{}, nil
}

// lower folds an ASCII upper-case letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isLDH reports whether c is a lower-case letter, digit, hyphen or dot.
func isLDH(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// isNumber reports whether a label is what the WHATWG host parser calls a
// number, which makes the whole host an IPv4 address or an error.
func isNumber(label string) bool {
	if len(label) >= 2 && label[0] == '0' && label[1] == 'x' {
		for i := 2; i < len(label); i++ {
			c := label[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return label != ""
}

// parseIPv4 parses the inet_aton spellings of an IPv4 address that browsers
// also accept: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the
// last part filling the remaining bytes. h is lower-case with no empty label.
func parseIPv4(h string) (netip.Addr, error) {
	var parts [4]uint64
	n := 0
	for rest := h; ; {
		i := strings.IndexByte(rest, '.')
		label := rest
		if i >= 0 {
			label = rest[:i]
		}
		if n == len(parts) {
			return netip.Addr{}, fmt.Errorf("%q ends in a number but has more than 4 parts, so it is neither a name nor an IPv4 address", h)
		}
		v, ok := parseIPv4Part(label)
		if !ok {
			return netip.Addr{}, fmt.Errorf("%q ends in a number but %q is not a decimal, octal or hex number under 2^32, so it is neither a name nor an IPv4 address", h, label)
		}
		parts[n] = v
		n++
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	var v uint64
	for i := 0; i < n-1; i++ {
		if parts[i] > 0xff {
			return netip.Addr{}, fmt.Errorf("%q is not a valid IPv4 address: part %d is over 255", h, i+1)
		}
		v |= parts[i] << (24 - 8*i)
	}
	if parts[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, fmt.Errorf("%q is not a valid IPv4 address: the last part is too large", h)
	}
	v |= parts[n-1]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

// parseIPv4Part parses one part. A bare "0x" is refused: WHATWG reads it as
// 0, inet_aton as an error.
func parseIPv4Part(s string) (uint64, bool) {
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && s[1] == 'x':
		base, s = 16, s[2:]
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}

// privateTLDs are top-level labels that never name a public host: reserved by
// RFC 2606, 6761, 6762, 8375 and 9476, or widely used on private networks.
var privateTLDs = map[string]bool{
	"localhost": true, "local": true, "internal": true, "arpa": true,
	"localdomain": true, "lan": true, "home": true, "corp": true,
	"intranet": true, "private": true, "test": true, "invalid": true,
	"example": true, "onion": true, "alt": true,
}

// isPrivateName reports whether a normalised name can only mean a host on a
// private network: a single label, or one under a private top-level label.
func isPrivateName(h string) bool {
	i := strings.LastIndexByte(h, '.')
	if i < 0 {
		return true
	}
	return privateTLDs[h[i+1:]]
}
