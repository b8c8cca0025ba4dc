package urlscope

import (
	"fmt"
	"net/netip"
	"strings"
)

// entryKind is the form of an entry's host part.
type entryKind uint8

const (
	kindName entryKind = iota
	kindWildcard
	kindAny
	kindIP
	kindCIDR
)

// entry is one compiled allow-list entry.
type entry struct {
	kind   entryKind
	scheme string       // "" allows http and https
	port   int          // 0: the scheme's default port (any port for a CIDR)
	host   string       // the name, or the wildcard suffix
	prefix netip.Prefix // kindIP (a single address) and kindCIDR
}

// EntryError is an invalid allow-list entry. Its message has the form
// `[2]: "*.com": reason`, so that prefixing the list's name gives
// `domains[2]: "*.com": reason`.
type EntryError struct {
	Index  int    // position in the list given to NewAllowlist
	Entry  string // the entry as given
	Reason string // what is wrong and how to fix it
}

// Error returns `[index]: "entry": reason`.
func (e *EntryError) Error() string {
	return fmt.Sprintf("[%d]: %s: %s", e.Index, quote(e.Entry), e.Reason)
}

// parseEntry parses one entry, returning a reason when it is invalid.
func parseEntry(s string) (entry, string) {
	var e entry
	if s == "" {
		return e, "an entry cannot be empty"
	}
	if msg := checkText(s); msg != "" {
		return e, "invalid entry: " + msg
	}
	rest := s
	if i := strings.Index(s, "://"); i >= 0 {
		e.scheme = strings.ToLower(s[:i])
		if schemeEnd(s[:i+1]) != i {
			return e, fmt.Sprintf("invalid scheme %q", s[:i])
		}
		rest = s[i+3:]
	}
	if strings.ContainsAny(rest, "?#") {
		return e, "a domain entry cannot have a query or fragment"
	}
	if strings.IndexByte(rest, '@') >= 0 {
		return e, "a domain entry cannot have user info (user@)"
	}
	if cidr, port, ok, reason := parseCIDREntry(rest); ok || reason != "" {
		if reason != "" {
			return e, reason
		}
		e.kind, e.prefix, e.port = kindCIDR, cidr, port
		return e, ""
	}
	if strings.IndexByte(rest, '/') >= 0 {
		return e, "a domain entry cannot have a path; write only [scheme://]host[:port]"
	}
	host, portText, hasPort, msg := splitHostPort(rest)
	if _, err := netip.ParseAddr(rest); err == nil && strings.Count(rest, ":") > 1 {
		// A bare IPv6 address: there is no room for a port.
		host, hasPort, msg = "["+rest+"]", false, ""
	}
	if msg != "" {
		return e, msg
	}
	if hasPort {
		p, ok := parsePort(portText)
		if !ok {
			return e, fmt.Sprintf("invalid port %q (want a decimal number 1-65535 without leading zeros)", portText)
		}
		e.port = p
	}
	switch {
	case host == "":
		return e, "the entry has no host"
	case host == "*":
		e.kind = kindAny
	case strings.HasPrefix(host, "*."):
		suffix := host[2:]
		if strings.IndexByte(suffix, '*') >= 0 {
			return e, `only a leading "*." wildcard is supported`
		}
		h, ip, err := parseHost(suffix)
		if err != nil {
			return e, "invalid wildcard domain: " + err.Error()
		}
		if ip.IsValid() {
			return e, "a wildcard cannot cover an IP address; use a CIDR such as 10.0.0.0/8"
		}
		if strings.IndexByte(h, '.') < 0 {
			return e, `a wildcard needs at least two labels after "*." (e.g. "*.example.com")`
		}
		e.kind, e.host = kindWildcard, h
	case strings.IndexByte(host, '*') >= 0:
		return e, `only a leading "*." wildcard is supported`
	default:
		h, ip, err := parseHost(host)
		if err != nil {
			return e, "invalid host: " + err.Error()
		}
		if ip.IsValid() {
			e.kind, e.prefix = kindIP, netip.PrefixFrom(ip, ip.BitLen())
		} else {
			e.kind, e.host = kindName, h
		}
	}
	if e.port == 0 && e.scheme != "" && defaultPort(e.scheme) == 0 {
		return e, fmt.Sprintf("scheme %q has no default port; add one, e.g. %q", e.scheme, e.scheme+"://"+host+":PORT")
	}
	return e, ""
}

// parseCIDREntry recognises "10.0.0.0/8", "fd00::/8", "[fd00::/8]" with an
// optional ":port". ok is false, with no reason, when s is not a CIDR at all.
func parseCIDREntry(s string) (p netip.Prefix, port int, ok bool, reason string) {
	slash := strings.IndexByte(s, '/')
	if slash < 0 {
		return p, 0, false, ""
	}
	text, portText := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		switch {
		case end < 0:
			return p, 0, false, ""
		case end < slash: // [fd00::]/8
			s = s[1:end] + s[end+1:]
			slash = strings.IndexByte(s, '/')
		default: // [fd00::/8]
			text, portText = s[1:end], s[end+1:]
			if portText != "" && portText[0] != ':' {
				return p, 0, false, fmt.Sprintf("unexpected %q after the CIDR", portText)
			}
			s = ""
		}
	}
	if s != "" {
		text = s
		if c := strings.IndexByte(s[slash:], ':'); c >= 0 {
			text, portText = s[:slash+c], s[slash+c:]
		}
	}
	if _, err := netip.ParseAddr(text[:strings.IndexByte(text, '/')]); err != nil {
		return p, 0, false, "" // a host with a path, not a CIDR
	}
	p, err := netip.ParsePrefix(text)
	if err != nil {
		return p, 0, false, fmt.Sprintf("invalid CIDR: %v", err)
	}
	if p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return p, 0, false, "a CIDR must be plain IPv4 or IPv6 (no zone, no IPv4-mapped form)"
	}
	if p.Masked() != p {
		return p, 0, false, fmt.Sprintf("the CIDR has host bits set; did you mean %s?", p.Masked())
	}
	if portText != "" {
		n, good := parsePort(portText[1:])
		if !good {
			return p, 0, false, fmt.Sprintf("invalid port %q (want a decimal number 1-65535 without leading zeros)", portText[1:])
		}
		port = n
	}
	return p, port, true, ""
}

// schemeOK: an entry without a scheme means the web, not every protocol a
// client speaks (gopher:// to an allowed host reaches Redis).
func (e *entry) schemeOK(scheme string) bool {
	if e.scheme == "" {
		return scheme == "http" || scheme == "https"
	}
	return e.scheme == scheme
}

// portOK: an entry without a port means the scheme's default port, so that
// an allowed web host cannot be used to reach its SSH or database port. A
// URL whose scheme has no default and no port of its own matches nothing.
func (e *entry) portOK(scheme string, port int) bool {
	switch {
	case e.port != 0:
		return port == e.port
	case e.kind == kindCIDR:
		return port != 0
	}
	d := defaultPort(scheme)
	return d != 0 && port == d
}
