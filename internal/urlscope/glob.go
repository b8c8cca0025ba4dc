package urlscope

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"golang.org/x/net/idna"
)

// Glob is a compiled forbidden URL pattern: doublestar syntax over the
// normalised URL string, matched case-insensitively. It is immutable and
// safe for concurrent use.
type Glob struct {
	pattern  string
	patterns []string // lower-cased, host-normalised; the "*." apex variant
	schemed  bool
}

// CompileGlob compiles a forbidden URL pattern such as
// "https://*.evil.com/**", "**/admin/**" or "http://169.254.169.254/**".
// A literal host in the pattern is normalised like a URL's, so
// "http://0x7f.1/**" means http://127.0.0.1/**. A pattern without a scheme
// ("evil.com/**") matches any scheme.
func CompileGlob(pattern string) (*Glob, error) {
	if msg := checkPattern(pattern); msg != "" {
		return nil, fmt.Errorf("invalid URL pattern %s: %s", quote(pattern), msg)
	}
	p := strings.ToLower(pattern)
	g := &Glob{pattern: pattern}
	start := 0
	if i := strings.Index(p, "://"); i > 0 && strings.IndexByte(p[:i], '/') < 0 {
		g.schemed, start = true, i+3
	}
	end := strings.IndexByte(p[start:], '/')
	if end < 0 {
		end = len(p)
	} else {
		end += start
	}
	host, err := globHost(p[start:end], g.schemed)
	if err != nil {
		return nil, fmt.Errorf("invalid URL pattern %s: %v", quote(pattern), err)
	}
	g.patterns = append(g.patterns, p[:start]+host+p[end:])
	if apex, ok := strings.CutPrefix(host, "*."); ok && !strings.ContainsAny(apex, "*?[{\\") {
		g.patterns = append(g.patterns, p[:start]+apex+p[end:])
	}
	for _, q := range g.patterns {
		if !doublestar.ValidatePattern(q) {
			return nil, fmt.Errorf("invalid URL pattern %s: bad glob syntax", quote(pattern))
		}
	}
	return g, nil
}

// globHost normalises the host part of a pattern (with any ":port"). A
// literal host is normalised fully; in a wildcard host only the literal
// non-ASCII labels are (IDNA). strict is set when the part is certainly a
// host, so that a host that can never match is an error; without a scheme
// the first segment may be a path, and is kept if it is no host.
func globHost(seg string, strict bool) (string, error) {
	if seg == "" {
		return seg, nil
	}
	if seg[0] == '[' {
		if end := strings.IndexByte(seg, ']'); end > 0 {
			ip, err := parseIPv6(seg[1:end])
			if err == nil {
				// Escaped: in a glob, "[" opens a character class.
				if ip.Is4() {
					return ip.String() + seg[end+1:], nil
				}
				return `\[` + ip.String() + `\]` + seg[end+1:], nil
			}
			if strict {
				return "", err
			}
		}
		return seg, nil
	}
	host, port := seg, ""
	if i := strings.LastIndexByte(seg, ':'); i >= 0 {
		host, port = seg[:i], seg[i:]
	}
	if strings.ContainsAny(host, "*?[{\\") {
		labels := strings.Split(host, ".")
		for i, l := range labels {
			if isASCII(l) || strings.ContainsAny(l, "*?[{\\") {
				continue
			}
			a, err := idna.Lookup.ToASCII(l)
			if err != nil {
				return "", fmt.Errorf("invalid domain label %q: %s", l, strings.TrimPrefix(err.Error(), "idna: "))
			}
			labels[i] = a
		}
		return strings.Join(labels, ".") + port, nil
	}
	h, ip, err := parseHost(host)
	if err != nil {
		if strict {
			return "", err
		}
		return seg, nil
	}
	if ip.IsValid() {
		h = ip.String() // IPv4 here: IPv6 must be bracketed
	}
	return h + port, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// String returns the pattern as given.
func (g *Glob) String() string {
	if g == nil {
		return ""
	}
	return g.pattern
}

// Match reports whether the pattern matches u in any of the forms listed in
// the package doc, or the raw text the agent sent (case-insensitively). A
// nil Glob matches everything, since it stands for a forbidden rule that
// could not be read. If u is the zero URL (raw did not parse), only raw is
// tried.
func (g *Glob) Match(u URL, raw string) bool {
	if g == nil {
		return true
	}
	if raw != "" && g.match(strings.ToLower(raw)) {
		return true
	}
	if u.Host == "" {
		return false
	}
	// A URL built by hand may carry a host Parse would have spelled
	// differently; its IP is tried as well.
	hosts := []string{bracketed(strings.ToLower(u.Host))}
	if u.IP.IsValid() {
		if h := bracketed(u.IP.WithZone("").Unmap().String()); h != hosts[0] {
			hosts = append(hosts, h)
		}
	}
	if u.Port != 0 {
		port := ":" + strconv.Itoa(u.Port)
		for _, h := range hosts {
			hosts = append(hosts, h+port)
		}
	}
	scheme := strings.ToLower(u.Scheme)
	for _, p := range pathForms(strings.ToLower(u.Path)) {
		for _, h := range hosts {
			if g.match(scheme + "://" + h + p) {
				return true
			}
			if !g.schemed && g.match(h+p) {
				return true
			}
		}
	}
	return false
}

// bracketed puts an IPv6 address in brackets, as URLs write it.
func bracketed(host string) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]"
	}
	return host
}

// match tries the compiled patterns on one lower-cased subject.
func (g *Glob) match(s string) bool {
	for _, p := range g.patterns {
		if doublestar.MatchUnvalidated(p, s) {
			return true
		}
	}
	return false
}

// pathForms returns the forms of a path a server may treat as the same:
// without the query, percent-decoded (then with dot segments removed, since
// a decoded %2F can create them), with runs of "/" merged, and "" for "/".
func pathForms(p string) []string {
	forms := []string{p}
	add := func(s string) {
		for _, f := range forms {
			if f == s {
				return
			}
		}
		forms = append(forms, s)
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		add(p[:i])
	}
	for _, f := range forms {
		path, query, hasQuery := strings.Cut(f, "?")
		if strings.HasPrefix(path, "/") && strings.IndexByte(path, '%') >= 0 {
			d := removeDots(strings.ToLower(percentDecode(path)))
			if hasQuery {
				d += "?" + query
			}
			add(d)
		}
	}
	for _, f := range forms {
		if strings.Contains(f, "//") {
			add(mergeSlashes(f))
		}
	}
	for _, f := range forms {
		if f == "/" || strings.HasPrefix(f, "/?") {
			add(f[1:])
		}
	}
	return forms
}

// percentDecode decodes every valid escape, including %2F.
func percentDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if v, ok := unhex(s, i); ok {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mergeSlashes collapses runs of "/" in the path part, as nginx and many
// frameworks do.
func mergeSlashes(s string) string {
	path, query, hasQuery := strings.Cut(s, "?")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && i > 0 && path[i-1] == '/' {
			continue
		}
		b.WriteByte(path[i])
	}
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}
