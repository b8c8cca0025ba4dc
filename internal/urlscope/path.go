package urlscope

import (
	"fmt"
	"strings"
)

// unhex decodes the two hex digits after the '%' at s[i].
func unhex(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := hexVal(s[i+1])
	lo, ok2 := hexVal(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// upperHex writes escapes in the RFC 3986 canonical case.
const upperHex = "0123456789ABCDEF"

// isUnreserved reports RFC 3986 unreserved characters, whose escapes mean
// the same as the characters themselves.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// mustEscape reports bytes that may not appear raw in a path or query.
// '[' and ']' are kept in queries, where they are common (a[]=1).
func mustEscape(c byte, query bool) bool {
	switch c {
	case '"', '<', '>', '^', '`', '{', '|', '}':
		return true
	case '[', ']':
		return !query
	}
	return c >= 0x80
}

// normPath makes a path canonical without changing what it names (see the
// package doc). The input starts with "/" or is empty.
func normPath(p string) (string, string) {
	if p == "" {
		return "/", ""
	}
	clean := true
	for i := 0; i < len(p) && clean; i++ {
		c := p[i]
		if c == '%' || mustEscape(c, false) || c == '.' && i > 0 && p[i-1] == '/' {
			clean = false
		}
	}
	if clean {
		return p, ""
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			v, ok := unhex(p, i)
			if !ok {
				return "", fmt.Sprintf("the path has an invalid percent-escape at %q", cut(p[i:], 3))
			}
			if v < 0x20 || v == 0x7f {
				return "", fmt.Sprintf("the path has an encoded control character %%%02X", v)
			}
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
			i += 2
		case mustEscape(c, false):
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return removeDots(b.String()), ""
}

// normQuery keeps the query as sent except for bytes that may not appear raw.
func normQuery(q string) (string, string) {
	clean := true
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '%' {
			v, ok := unhex(q, i)
			if !ok {
				return "", fmt.Sprintf("the query has an invalid percent-escape at %q", cut(q[i:], 3))
			}
			if v == 0 {
				return "", "the query has an encoded NUL (%00)"
			}
			i += 2
			continue
		}
		if mustEscape(c, true) {
			clean = false
		}
	}
	if clean {
		return q, ""
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	for i := 0; i < len(q); i++ {
		if c := q[i]; mustEscape(c, true) {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// removeDots resolves "." and ".." segments of a path that starts with "/",
// as browsers and curl do before sending it (RFC 3986 §5.2.4).
func removeDots(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := segs[:0]
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// cut returns at most n bytes of s, for error messages.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
