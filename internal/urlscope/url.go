package urlscope

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// URL is a parsed, normalised URL.
type URL struct {
	Scheme string // lower-case
	// Host is lower-case ASCII (IDNA ToASCII, Lookup profile) with no
	// trailing dot; for an IP literal, the canonical text of IP.
	Host string
	// IP is valid when the host is an IP literal in any spelling browsers,
	// curl or inet_aton accept; IPv4-mapped IPv6 is unmapped to IPv4.
	IP netip.Addr
	// Port is the explicit port, or the scheme's default (http 80, https
	// 443, ws 80, wss 443, ftp 21); 0 if unknown.
	Port int
	// ExplicitPort is set when the URL spelled out its port, even the
	// default one.
	ExplicitPort bool
	// Path is the escaped path (at least "/"), plus "?query" if any; no
	// fragment.
	Path     string
	Userinfo bool // the URL carried user[:password]@
}

// defaultPort returns the port a scheme implies, or 0 if it implies none.
func defaultPort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	}
	return 0
}

// String returns scheme://host[:port]path, with the port shown only if it is
// not the scheme's default and an IPv6 host in brackets. User info is never
// shown.
func (u URL) String() string {
	var b strings.Builder
	b.Grow(len(u.Scheme) + len(u.Host) + len(u.Path) + 12)
	b.WriteString(u.Scheme)
	b.WriteString("://")
	writeHost(&b, u.Host)
	if u.Port != 0 && u.Port != defaultPort(u.Scheme) {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	if u.Path == "" {
		b.WriteByte('/')
	} else {
		b.WriteString(u.Path)
	}
	return b.String()
}

// writeHost writes a host, bracketing it if it is an IPv6 address.
func writeHost(b *strings.Builder, host string) {
	if strings.IndexByte(host, ':') >= 0 {
		b.WriteByte('[')
		b.WriteString(host)
		b.WriteByte(']')
		return
	}
	b.WriteString(host)
}

// Parse parses and normalises an absolute URL (see the package doc for the
// rules). The error names what is wrong; nothing is guessed.
func Parse(raw string) (URL, error) {
	u, msg := parse(raw)
	if msg != "" {
		return URL{}, fmt.Errorf("invalid URL %s: %s", quote(raw), msg)
	}
	return u, nil
}

func parse(raw string) (URL, string) {
	if msg := checkText(raw); msg != "" {
		return URL{}, msg
	}
	var u URL
	colon := schemeEnd(raw)
	if colon < 0 {
		return URL{}, `it has no scheme (expected "scheme://host/...")`
	}
	u.Scheme = strings.ToLower(raw[:colon])
	rest := raw[colon+1:]
	if !strings.HasPrefix(rest, "//") {
		return URL{}, fmt.Sprintf(`it has no host (expected "//" after %q)`, u.Scheme+":")
	}
	rest = rest[2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if strings.IndexByte(authority[:at], '@') >= 0 {
			return URL{}, `it has more than one "@" before the path, which parsers read differently`
		}
		u.Userinfo = true
		authority = authority[at+1:]
	}
	hostText, portText, hasPort, msg := splitHostPort(authority)
	if msg != "" {
		return URL{}, msg
	}
	if hostText == "" {
		return URL{}, "it has no host"
	}
	host, ip, err := parseHost(hostText)
	if err != nil {
		return URL{}, err.Error()
	}
	u.Host, u.IP = host, ip
	if hasPort {
		p, ok := parsePort(portText)
		if !ok {
			return URL{}, fmt.Sprintf("invalid port %q (want a decimal number 1-65535 without leading zeros)", portText)
		}
		u.Port, u.ExplicitPort = p, true
	} else {
		u.Port = defaultPort(u.Scheme)
	}
	if i := strings.IndexByte(tail, '#'); i >= 0 {
		tail = tail[:i]
	}
	path, query := tail, ""
	if i := strings.IndexByte(tail, '?'); i >= 0 {
		path, query = tail[:i], tail[i+1:]
	}
	np, msg := normPath(path)
	if msg != "" {
		return URL{}, msg
	}
	nq, msg := normQuery(query)
	if msg != "" {
		return URL{}, msg
	}
	switch {
	case nq == "":
		u.Path = np
	case np == path && nq == query:
		u.Path = tail // already canonical: no copy
	default:
		u.Path = np + "?" + nq
	}
	return u, ""
}

// schemeEnd returns the index of the colon that ends a valid scheme, or -1.
func schemeEnd(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return -1
			}
		case c == ':':
			if i == 0 {
				return -1
			}
			return i
		default:
			return -1
		}
	}
	return -1
}

// splitHostPort splits an authority without user info.
func splitHostPort(a string) (host, port string, hasPort bool, msg string) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", false, `the host has "[" without "]"`
		}
		host, after := a[:end+1], a[end+1:]
		if after == "" {
			return host, "", false, ""
		}
		if after[0] != ':' {
			return "", "", false, fmt.Sprintf("unexpected %q after the IPv6 address", after)
		}
		return host, after[1:], true, ""
	}
	i := strings.IndexByte(a, ':')
	if i < 0 {
		return a, "", false, ""
	}
	if strings.IndexByte(a[i+1:], ':') >= 0 {
		if _, err := netip.ParseAddr(a); err == nil {
			return "", "", false, "an IPv6 address must be in brackets"
		}
		return "", "", false, fmt.Sprintf("invalid host and port %q", a)
	}
	return a[:i], a[i+1:], true, ""
}

// parsePort accepts 1-65535 in plain decimal. Empty ports and leading zeros
// are refused because parsers disagree on them.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	p := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		p = p*10 + int(c-'0')
	}
	return p, p <= 65535
}
