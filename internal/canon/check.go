package canon

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// IsCanonical reports whether b is already the output of [JCS] for some
// input, that is, whether JCS(b) would succeed and return b unchanged. It is
// a single pass with no allocation for typical documents, so verifiers can
// skip canonicalization of data that is stored canonical and fall back to
// JCS otherwise.
func IsCanonical(b []byte) bool {
	if len(b) > MaxInput || !utf8.Valid(b) {
		return false
	}
	c := checker{b: b}
	end, ok := c.value(0, 0)
	return ok && end == len(b)
}

type checker struct {
	b   []byte
	tmp []byte
}

// value checks the canonical value at p and returns its end.
func (c *checker) value(p, depth int) (int, bool) {
	b := c.b
	if p >= len(b) {
		return 0, false
	}
	switch b[p] {
	case '{':
		return c.object(p, depth+1)
	case '[':
		return c.array(p, depth+1)
	case '"':
		end, _, ok := c.str(p)
		return end, ok
	case 't':
		return literal(b, p, "true")
	case 'f':
		return literal(b, p, "false")
	case 'n':
		return literal(b, p, "null")
	default:
		return c.number(p)
	}
}

func literal(b []byte, p int, lit string) (int, bool) {
	if len(b)-p >= len(lit) && string(b[p:p+len(lit)]) == lit {
		return p + len(lit), true
	}
	return 0, false
}

func (c *checker) array(p, depth int) (int, bool) {
	if depth > MaxDepth {
		return 0, false
	}
	b := c.b
	p++
	if p < len(b) && b[p] == ']' {
		return p + 1, true
	}
	for {
		end, ok := c.value(p, depth)
		if !ok || end >= len(b) {
			return 0, false
		}
		switch b[end] {
		case ',':
			p = end + 1
		case ']':
			return end + 1, true
		default:
			return 0, false
		}
	}
}

func (c *checker) object(p, depth int) (int, bool) {
	if depth > MaxDepth {
		return 0, false
	}
	b := c.b
	p++
	if p < len(b) && b[p] == '}' {
		return p + 1, true
	}
	var prevStart, prevEnd int
	var prevEscaped bool
	first := true
	for {
		if p >= len(b) || b[p] != '"' {
			return 0, false
		}
		end, escaped, ok := c.str(p)
		if !ok || end >= len(b) || b[end] != ':' {
			return 0, false
		}
		// Keys must be strictly increasing in UTF-16 order (so unique).
		if !first && c.compareKeys(prevStart, prevEnd, prevEscaped, p, end, escaped) >= 0 {
			return 0, false
		}
		first = false
		prevStart, prevEnd, prevEscaped = p, end, escaped
		vend, ok := c.value(end+1, depth)
		if !ok || vend >= len(b) {
			return 0, false
		}
		switch b[vend] {
		case ',':
			p = vend + 1
		case '}':
			return vend + 1, true
		default:
			return 0, false
		}
	}
}

// str checks a canonical string at p (b[p] == '"'): only '"', '\\' and
// control characters escaped, in JCS's spelling. It reports whether the
// string contains escapes.
func (c *checker) str(p int) (end int, escaped, ok bool) {
	b := c.b
	for i := p + 1; i < len(b); i++ {
		ch := b[i]
		switch {
		case ch == '"':
			return i + 1, escaped, true
		case ch < 0x20:
			return 0, false, false
		case ch != '\\':
			continue
		}
		escaped = true
		if i+1 >= len(b) {
			return 0, false, false
		}
		switch b[i+1] {
		case '"', '\\', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			// Only control characters without a short escape.
			if i+5 >= len(b) || b[i+2] != '0' || b[i+3] != '0' {
				return 0, false, false
			}
			h, l := b[i+4], b[i+5]
			if h != '0' && h != '1' {
				return 0, false, false
			}
			var v byte
			switch {
			case l >= '0' && l <= '9':
				v = l - '0'
			case l >= 'a' && l <= 'f':
				v = l - 'a' + 10
			default:
				return 0, false, false
			}
			v += (h - '0') << 4
			if v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t' {
				return 0, false, false
			}
			i += 5
		default:
			return 0, false, false
		}
	}
	return 0, false, false
}

// compareKeys compares two keys (spans including quotes) in UTF-16 code
// unit order.
func (c *checker) compareKeys(as, ae int, aesc bool, bs, be int, besc bool) int {
	a, b := c.b[as+1:ae-1], c.b[bs+1:be-1]
	if aesc || besc {
		// Rare: decode the escapes first.
		a = append([]byte(nil), unescapeCanonical(a)...)
		b = unescapeCanonical(b)
	}
	return compareUTF16(a, b)
}

// unescapeCanonical decodes the escapes that str accepts.
func unescapeCanonical(s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			v, _ := strconv.ParseUint(string(s[i+1:i+5]), 16, 8)
			out = append(out, byte(v))
			i += 4
		default:
			out = append(out, s[i])
		}
	}
	return out
}

// compareUTF16 compares two valid UTF-8 strings by their UTF-16 code units.
func compareUTF16(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
		if ra != rb {
			return firstUnit(ra) - firstUnit(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// firstUnit returns the first UTF-16 code unit of r. Two different runes
// whose first units are equal (supplementary runes with the same high
// surrogate) differ in their second unit, which orders them as the runes.
func firstUnit(r rune) int {
	if r >= 0x10000 {
		hi, lo := utf16.EncodeRune(r)
		return int(hi)<<16 | int(lo)
	}
	return int(r) << 16
}

// number checks a canonical number at p: the shortest ECMAScript form,
// within the exact-integer guard of JCS.
func (c *checker) number(p int) (int, bool) {
	b := c.b
	end := p
	for end < len(b) && isNumberByte(b[end]) {
		end++
	}
	tok := b[p:end]
	if len(tok) == 0 {
		return 0, false
	}
	// Fast path: a plain integer of at most 15 digits other than -0.
	if smallInteger(tok) {
		return end, true
	}
	if _, ok := numberToken(tok); !ok || checkNumber(tok) != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, false
	}
	c.tmp = AppendJSNumber(c.tmp[:0], f)
	if !bytes.Equal(c.tmp, tok) {
		return 0, false
	}
	return end, true
}
