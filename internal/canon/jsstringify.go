package canon

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxJSDepth is the deepest nesting of arrays and objects that [JSStringify]
// accepts. It is larger than [MaxDepth] because det-acp wrote whatever its
// callers passed, and a verifier must read every file det-acp could write.
const MaxJSDepth = 1000

// JSStringify returns the bytes JavaScript produces for
// JSON.stringify(JSON.parse(raw)).
//
// The input is parsed with JSON.parse semantics: strict RFC 8259 grammar, a
// repeated object key keeps the position of its first occurrence and the value
// of its last, numbers are rounded to IEEE 754 doubles (overflow becomes
// Infinity, which JSON.stringify writes as null), and \u escapes may produce
// lone surrogates. The output then follows JSON.stringify: no whitespace;
// object keys in insertion order except that array-index keys ("0" to
// "4294967294" in canonical decimal form) come first in ascending numeric
// order; strings escape only '"', '\\', control characters (as \b \f \n \r \t
// or lower-case \u00XX) and lone surrogates (lower-case \uXXXX); numbers use
// Number.prototype.toString (shortest round-trip digits, exponent form below
// 1e-6 and from 1e21, -0 as 0).
//
// It differs from JavaScript in one way, on purpose: input that is not valid
// UTF-8 is rejected instead of being decoded with replacement characters.
// Input larger than [MaxInput] or nested deeper than [MaxJSDepth] is also
// rejected. All errors wrap [ErrInvalid].
func JSStringify(raw []byte) ([]byte, error) {
	if len(raw) > MaxInput {
		return nil, fmt.Errorf("%w: document is %d bytes, more than the limit of %d", ErrInvalid, len(raw), MaxInput)
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: invalid UTF-8", ErrInvalid)
	}
	p := jsParser{src: raw, nodes: make([]jsNode, 0, countNodes(raw))}
	p.skipSpace()
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, p.errorf("unexpected data after the JSON value")
	}
	w := jsWriter{src: raw, nodes: p.nodes, out: make([]byte, 0, len(raw))}
	w.node(root)
	return w.out, nil
}

type jsKind uint8

const (
	jsNull jsKind = iota
	jsFalse
	jsTrue
	jsNumber
	jsString
	jsArray
	jsObject
)

// jsNode is one parsed value, kept compact (the parse of a hostile 16 MiB
// document must not take gigabytes): scalars are spans of the source,
// decoded only when written, and containers link their children.
type jsNode struct {
	kind jsKind
	// esc marks a string containing escapes.
	esc bool
	// start and end delimit a number token, or a string's contents
	// between its quotes.
	start, end int32
	// first is a container's first child (-1: none); an object's children
	// are its keys. For an object key, it is instead the value to write:
	// the value of the key's last occurrence.
	first int32
	// next is the next sibling (-1: none).
	next int32
}

// countNodes bounds the number of nodes a document parses into: one per
// value and key, and every value but the root follows '[', ',' or ':'.
// Allocating exactly this many up front keeps the memory of a hostile
// document to a small multiple of its size.
func countNodes(b []byte) int {
	n := 1
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', ',', ':', '{':
			n++
		}
	}
	return n
}

type jsParser struct {
	src   []byte
	pos   int
	nodes []jsNode
	keys  []string // decoded keys of the objects being parsed, as a stack
}

func (p *jsParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrInvalid, p.pos, fmt.Sprintf(format, args...))
}

func (p *jsParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsParser) add(n jsNode) int32 {
	n.first, n.next = -1, -1
	p.nodes = append(p.nodes, n)
	return int32(len(p.nodes) - 1)
}

// appendChild links child after last (the parent's last child so far, or
// -1) and returns the new last child.
func (p *jsParser) appendChild(parent, last, child int32) int32 {
	if last < 0 {
		p.nodes[parent].first = child
	} else {
		p.nodes[last].next = child
	}
	return child
}

func (p *jsParser) value(depth int) (int32, error) {
	if p.pos >= len(p.src) {
		return 0, p.errorf("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range [...]struct {
			text string
			kind jsKind
		}{{"null", jsNull}, {"true", jsTrue}, {"false", jsFalse}} {
			if len(p.src)-p.pos >= len(lit.text) && string(p.src[p.pos:p.pos+len(lit.text)]) == lit.text {
				p.pos += len(lit.text)
				return p.add(jsNode{kind: lit.kind}), nil
			}
		}
		return 0, p.errorf("unexpected character %q", c)
	}
}

func (p *jsParser) object(depth int) (int32, error) {
	if depth > MaxJSDepth {
		return 0, p.errorf("nesting deeper than %d", MaxJSDepth)
	}
	p.pos++ // '{'
	obj := p.add(jsNode{kind: jsObject})
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return obj, nil
	}
	// Decoded keys of this object sit on p.keys from base on, in the
	// order of p.nodes' key children; index maps them for large objects.
	base := len(p.keys)
	defer func() { p.keys = p.keys[:base] }()
	var keyNodes []int32
	var index map[string]int
	last := int32(-1)
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return 0, p.errorf("expected a string key")
		}
		key, err := p.string()
		if err != nil {
			return 0, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return 0, p.errorf("expected ':'")
		}
		p.pos++
		p.skipSpace()
		val, err := p.value(depth)
		if err != nil {
			return 0, err
		}
		// JSON.parse: a repeated key keeps its first position and takes
		// the new value.
		name := p.decoded(key)
		dup := -1
		if index != nil {
			if i, ok := index[name]; ok {
				dup = i
			}
		} else {
			for i, k := range p.keys[base:] {
				if k == name {
					dup = i
					break
				}
			}
		}
		if dup >= 0 {
			p.nodes[keyNodes[dup]].first = val
		} else {
			p.nodes[key].first = val
			last = p.appendChild(obj, last, key)
			keyNodes = append(keyNodes, key)
			p.keys = append(p.keys, name)
			if n := len(p.keys) - base; index != nil {
				index[name] = n - 1
			} else if n > 16 {
				index = make(map[string]int, 2*n)
				for i, k := range p.keys[base:] {
					index[k] = i
				}
			}
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return 0, p.errorf("unexpected end of input in object")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return obj, nil
		default:
			return 0, p.errorf("expected ',' or '}'")
		}
	}
}

// decoded returns the value of a string node in generalized UTF-8.
func (p *jsParser) decoded(n int32) string {
	nd := &p.nodes[n]
	raw := p.src[nd.start:nd.end]
	if !nd.esc {
		return string(raw)
	}
	return string(decodeJSString(nil, raw))
}

func (p *jsParser) array(depth int) (int32, error) {
	if depth > MaxJSDepth {
		return 0, p.errorf("nesting deeper than %d", MaxJSDepth)
	}
	p.pos++ // '['
	arr := p.add(jsNode{kind: jsArray})
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return arr, nil
	}
	last := int32(-1)
	for {
		p.skipSpace()
		elem, err := p.value(depth)
		if err != nil {
			return 0, err
		}
		last = p.appendChild(arr, last, elem)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return 0, p.errorf("unexpected end of input in array")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return arr, nil
		default:
			return 0, p.errorf("expected ',' or ']'")
		}
	}
}

func (p *jsParser) number() (int32, error) {
	start := p.pos
	for p.pos < len(p.src) && isNumberByte(p.src[p.pos]) {
		p.pos++
	}
	if _, ok := numberToken(p.src[start:p.pos]); !ok {
		tok := p.src[start:p.pos]
		p.pos = start
		return 0, p.errorf("invalid number %s", quoteToken(tok))
	}
	return p.add(jsNode{kind: jsNumber, start: int32(start), end: int32(p.pos)}), nil
}

// string checks the JSON string at p.pos (which holds '"') and returns its
// node.
func (p *jsParser) string() (int32, error) {
	p.pos++ // opening quote
	start := p.pos
	esc := false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			n := p.add(jsNode{kind: jsString, esc: esc, start: int32(start), end: int32(p.pos)})
			p.pos++
			return n, nil
		case c < 0x20:
			return 0, p.errorf("control character in string")
		case c != '\\':
			p.pos++
			continue
		}
		esc = true
		if p.pos+1 >= len(p.src) {
			return 0, p.errorf("unterminated escape")
		}
		switch e := p.src[p.pos+1]; e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			p.pos += 2
		case 'u':
			if _, ok := hex4(p.src[p.pos+2:]); !ok {
				return 0, p.errorf("invalid \\u escape")
			}
			p.pos += 6
		default:
			return 0, p.errorf("invalid escape \\%c", e)
		}
	}
	return 0, p.errorf("unterminated string")
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (uint16, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var u uint16
	for _, c := range b[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(d)
	}
	return u, true
}

// unescape calls emit for each unit of a validated JSON string's contents:
// raw bytes as they are (r < 0), escapes decoded to a rune, or a lone
// surrogate (lone true). A surrogate pair written as two escapes is one rune.
func unescape(raw []byte, emit func(b byte, r rune, lone bool)) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			emit(c, -1, false)
			i++
			continue
		}
		e := raw[i+1]
		i += 2
		switch e {
		case 'b':
			emit(0, '\b', false)
		case 'f':
			emit(0, '\f', false)
		case 'n':
			emit(0, '\n', false)
		case 'r':
			emit(0, '\r', false)
		case 't':
			emit(0, '\t', false)
		case 'u':
			u, _ := hex4(raw[i:])
			i += 4
			if utf16.IsSurrogate(rune(u)) {
				if u < 0xDC00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if lo, ok := hex4(raw[i+2:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						emit(0, utf16.DecodeRune(rune(u), rune(lo)), false)
						i += 6
						continue
					}
				}
				emit(0, rune(u), true)
				continue
			}
			emit(0, rune(u), false)
		default: // '"', '\\', '/'
			emit(0, rune(e), false)
		}
	}
}

// decodeJSString appends the decoded contents of a validated JSON string
// in generalized UTF-8 (lone surrogates as their three-byte encoding).
func decodeJSString(dst, raw []byte) []byte {
	unescape(raw, func(b byte, r rune, lone bool) {
		switch {
		case r < 0:
			dst = append(dst, b)
		case lone:
			dst = appendSurrogate(dst, uint16(r))
		default:
			dst = utf8.AppendRune(dst, r)
		}
	})
	return dst
}

type jsWriter struct {
	src   []byte
	nodes []jsNode
	out   []byte
}

func (w *jsWriter) node(n int32) {
	nd := &w.nodes[n]
	switch nd.kind {
	case jsNull:
		w.out = append(w.out, "null"...)
	case jsTrue:
		w.out = append(w.out, "true"...)
	case jsFalse:
		w.out = append(w.out, "false"...)
	case jsNumber:
		tok := w.src[nd.start:nd.end]
		if smallInteger(tok) {
			w.out = append(w.out, tok...)
			return
		}
		// The token is valid, so the only possible error is a range
		// error, where ParseFloat returns ±Inf as JavaScript does.
		f, _ := strconv.ParseFloat(string(tok), 64)
		w.out = AppendJSNumber(w.out, f)
	case jsString:
		w.str(nd)
	case jsArray:
		w.out = append(w.out, '[')
		for c := nd.first; c >= 0; c = w.nodes[c].next {
			if c != nd.first {
				w.out = append(w.out, ',')
			}
			w.node(c)
		}
		w.out = append(w.out, ']')
	default:
		w.object(nd)
	}
}

// object writes an object's members in JavaScript's property order: array
// indexes ascending, then the other keys in insertion order.
func (w *jsWriter) object(nd *jsNode) {
	type idx struct {
		n   uint32
		key int32
	}
	var ints []idx
	for c := nd.first; c >= 0; c = w.nodes[c].next {
		if n, ok := w.arrayIndex(c); ok {
			ints = append(ints, idx{n, c})
		}
	}
	slices.SortFunc(ints, func(a, b idx) int {
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	})
	w.out = append(w.out, '{')
	first := true
	member := func(k int32) {
		if !first {
			w.out = append(w.out, ',')
		}
		first = false
		w.str(&w.nodes[k])
		w.out = append(w.out, ':')
		w.node(w.nodes[k].first)
	}
	for _, x := range ints {
		member(x.key)
	}
	for c := nd.first; c >= 0; c = w.nodes[c].next {
		if len(ints) > 0 {
			if _, ok := w.arrayIndex(c); ok {
				continue
			}
		}
		member(c)
	}
	w.out = append(w.out, '}')
}

// arrayIndex reports whether the key node k is an array index.
func (w *jsWriter) arrayIndex(k int32) (uint32, bool) {
	nd := &w.nodes[k]
	raw := w.src[nd.start:nd.end]
	if nd.esc {
		raw = decodeJSString(nil, raw)
	}
	if len(raw) == 0 || len(raw) > 10 || raw[0] < '0' || raw[0] > '9' {
		return 0, false
	}
	return arrayIndex(string(raw))
}

// str writes a string node as JSON.stringify writes the string it holds.
func (w *jsWriter) str(nd *jsNode) {
	raw := w.src[nd.start:nd.end]
	if !nd.esc {
		// Raw contents never need escaping: '"', '\\' and control
		// characters cannot appear unescaped in valid JSON.
		w.out = append(w.out, '"')
		w.out = append(w.out, raw...)
		w.out = append(w.out, '"')
		return
	}
	w.out = append(w.out, '"')
	unescape(raw, func(b byte, r rune, lone bool) {
		switch {
		case r < 0:
			w.out = append(w.out, b)
		case lone:
			w.out = append(w.out, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
		case r == '"' || r == '\\':
			w.out = append(w.out, '\\', byte(r))
		case r < 0x20:
			w.out = appendControl(w.out, byte(r))
		default:
			w.out = utf8.AppendRune(w.out, r)
		}
	})
	w.out = append(w.out, '"')
}

// smallInteger reports whether a valid number token is an integer of at
// most 15 digits other than -0, which JavaScript writes back unchanged.
func smallInteger(tok []byte) bool {
	d := tok
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || (d[0] == '0' && (len(d) > 1 || len(tok) > 1)) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendControl writes a control character as JSON.stringify does.
func appendControl(out []byte, c byte) []byte {
	switch c {
	case '\b':
		return append(out, '\\', 'b')
	case '\f':
		return append(out, '\\', 'f')
	case '\n':
		return append(out, '\\', 'n')
	case '\r':
		return append(out, '\\', 'r')
	case '\t':
		return append(out, '\\', 't')
	}
	return append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}

// appendSurrogate stores a lone surrogate code unit in generalized UTF-8.
func appendSurrogate(b []byte, u uint16) []byte {
	return append(b, 0xED, 0xA0|byte(u>>6)&0x1F, 0x80|byte(u)&0x3F)
}

// arrayIndex reports whether key is an array index in the sense of
// ECMAScript (a canonical decimal integer from 0 to 2^32-2), and its value.
func arrayIndex(key string) (uint32, bool) {
	if len(key) == 0 || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxUint32-1 {
		return 0, false
	}
	return uint32(n), true
}

const hexDigits = "0123456789abcdef"

// appendJSString writes s (generalized UTF-8) as JSON.stringify would.
func appendJSString(out []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == 0xED {
			plain = false
			break
		}
	}
	if plain {
		out = append(out, '"')
		out = append(out, s...)
		return append(out, '"')
	}
	out = append(out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
			i++
		case c < 0x20:
			out = appendControl(out, c)
			i++
		case c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0:
			// A lone surrogate stored by appendSurrogate.
			u := 0xD000 | uint16(s[i+1]&0x3F)<<6 | uint16(s[i+2]&0x3F)
			out = append(out, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xF], hexDigits[u>>4&0xF], hexDigits[u&0xF])
			i += 3
		default:
			out = append(out, c)
			i++
		}
	}
	return append(out, '"')
}

// AppendJSNumber appends f formatted as JavaScript's JSON.stringify formats a
// number: Number.prototype.toString for finite values (so -0 becomes "0") and
// "null" for NaN and ±Infinity.
func AppendJSNumber(out []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(out, "null"...)
	}
	if f == 0 {
		return append(out, '0')
	}
	if f < 0 {
		out = append(out, '-')
		f = -f
	}
	// Shortest round-trip digits in scientific form: d[.ddd]e±x.
	var tmp, dig [32]byte
	sci := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	digits := dig[:0]
	e := 0
	for i, c := range sci {
		if c == 'e' {
			neg := sci[i+1] == '-'
			for _, d := range sci[i+2:] {
				e = e*10 + int(d-'0')
			}
			if neg {
				e = -e
			}
			break
		}
		if c != '.' {
			digits = append(digits, c)
		}
	}
	k := len(digits)
	n := e + 1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		out = append(out, digits...)
		for range n - k {
			out = append(out, '0')
		}
	case 0 < n && n <= 21:
		out = append(out, digits[:n]...)
		out = append(out, '.')
		out = append(out, digits[n:]...)
	case -6 < n && n <= 0:
		out = append(out, '0', '.')
		for range -n {
			out = append(out, '0')
		}
		out = append(out, digits...)
	default:
		out = append(out, digits[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(n-1), 10)
	}
	return out
}

// AppendString appends s as a JSON string in the form shared by RFC 8785 and
// JSON.stringify: '"' and '\\' escaped, control characters as \b \f \n \r \t
// or lower-case \u00XX, everything else (including non-ASCII, '/', '<' and
// U+2028) written as is. s must be valid UTF-8; callers validate it first.
func AppendString(dst []byte, s string) []byte {
	return appendJSString(dst, s)
}
