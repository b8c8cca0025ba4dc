package nexus

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxInput is the largest document, in bytes, that [Canonical],
// [ParseBundle] and [ParseAuditPackage] accept.
const MaxInput = 64 << 20

// MaxDepth is the deepest nesting of arrays and objects that the parser
// accepts. The outermost array or object is at depth 1. nexus-control's
// parser gives up somewhat below Python's recursion limit of 1,000; no
// document it writes comes close to either bound.
const MaxDepth = 512

// maxIntDigits is the longest integer, in decimal digits, that Python 3.11
// converts from text: longer integers make json.loads fail.
const maxIntDigits = 4300

// SyntaxError reports a document that is not JSON as nexus-control reads it.
type SyntaxError struct {
	Offset int    // byte offset of the problem
	Msg    string // what is wrong
}

// Error returns the problem and where it is.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("nexus: invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jvalue is a parsed JSON value. Numbers keep their lexeme, so that the
// integer/float distinction survives; every value keeps its span in the
// source, so that opaque parts can be handed on byte for byte.
type jvalue struct {
	kind    jkind
	b       bool
	s       string // string contents, or the number lexeme
	float   bool   // number written with a fraction or an exponent
	elems   []*jvalue
	members []jmember
	raw     []byte // the value's bytes in the source
}

type jmember struct {
	key string
	val *jvalue
}

// get returns the member named key of an object, or nil.
func (v *jvalue) get(key string) *jvalue {
	if v == nil || v.kind != jObject {
		return nil
	}
	for i := range v.members {
		if v.members[i].key == key {
			return v.members[i].val
		}
	}
	return nil
}

// kindName names the JSON kind for messages.
func (v *jvalue) kindName() string {
	if v == nil {
		return "nothing"
	}
	switch v.kind {
	case jNull:
		return "null"
	case jBool:
		return "a boolean"
	case jNumber:
		if v.float {
			return "a float"
		}
		return "an integer"
	case jString:
		return "a string"
	case jArray:
		return "a list"
	}
	return "an object"
}

type parser struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON parses one JSON document. It accepts exactly what Python's
// json.loads accepts and json.dumps(allow_nan=False) can write back, and
// refuses duplicate object keys, which json.loads would resolve silently in
// favour of the last one.
func parseJSON(data []byte) (*jvalue, error) {
	if len(data) > MaxInput {
		return nil, &SyntaxError{Offset: MaxInput, Msg: fmt.Sprintf("document larger than %d bytes", MaxInput)}
	}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		return nil, &SyntaxError{Offset: 0, Msg: "UTF-8 byte order mark before the document"}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &SyntaxError{Offset: off, Msg: "invalid UTF-8"}
	}
	p := &parser{data: data}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.errf("unexpected %s after the document", p.describe())
	}
	return v, nil
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

// describe names the byte at the current position for messages.
func (p *parser) describe() string {
	if p.pos >= len(p.data) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (*jvalue, error) {
	if p.pos >= len(p.data) {
		return nil, p.errf("unexpected end of input, want a value")
	}
	start := p.pos
	var v *jvalue
	var err error
	switch c := p.data[p.pos]; {
	case c == '{':
		v, err = p.object()
	case c == '[':
		v, err = p.array()
	case c == '"':
		var s string
		s, err = p.str()
		v = &jvalue{kind: jString, s: s}
	case c == '-' || (c >= '0' && c <= '9'):
		v, err = p.number()
	case p.literal("true"):
		v = &jvalue{kind: jBool, b: true}
	case p.literal("false"):
		v = &jvalue{kind: jBool}
	case p.literal("null"):
		v = &jvalue{kind: jNull}
	case p.literal("NaN"), p.literal("Infinity"):
		p.pos = start
		return nil, p.errf("NaN and Infinity are not allowed")
	default:
		return nil, p.errf("unexpected %s, want a value", p.describe())
	}
	if err != nil {
		return nil, err
	}
	v.raw = p.data[start:p.pos:p.pos]
	return v, nil
}

// literal consumes word if it is next.
func (p *parser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errf("nesting deeper than %d", MaxDepth)
	}
	return nil
}

func (p *parser) object() (*jvalue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '{'
	v := &jvalue{kind: jObject}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return v, nil
	}
	var seen map[string]struct{}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errf("unexpected %s, want an object key", p.describe())
		}
		keyAt := p.pos
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if len(v.members) >= 8 && seen == nil {
			seen = make(map[string]struct{}, 2*len(v.members))
			for _, m := range v.members {
				seen[m.key] = struct{}{}
			}
		}
		dup := false
		if seen != nil {
			_, dup = seen[key]
			seen[key] = struct{}{}
		} else {
			for _, m := range v.members {
				if m.key == key {
					dup = true
					break
				}
			}
		}
		if dup {
			p.pos = keyAt
			return nil, p.errf("duplicate object key %q", key)
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errf("unexpected %s, want ':'", p.describe())
		}
		p.pos++
		p.skipSpace()
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		v.members = append(v.members, jmember{key: key, val: val})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errf("unexpected end of input, want ',' or '}'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return v, nil
		default:
			return nil, p.errf("unexpected %s, want ',' or '}'", p.describe())
		}
	}
}

func (p *parser) array() (*jvalue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '['
	v := &jvalue{kind: jArray}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return v, nil
	}
	for {
		p.skipSpace()
		el, err := p.value()
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, el)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errf("unexpected end of input, want ',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return v, nil
		default:
			return nil, p.errf("unexpected %s, want ',' or ']'", p.describe())
		}
	}
}

// str parses a string literal. The input is known to be valid UTF-8.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errf("control character %#02x in a string must be escaped", c)
		}
		p.pos++
	}
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	for {
		if p.pos >= len(p.data) {
			return "", p.errf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.errf("control character %#02x in a string must be escaped", c)
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			return "", p.errf("unterminated escape")
		}
		esc := p.data[p.pos+1]
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4(p.pos + 2)
			if !ok {
				return "", p.errf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if r < 0xDC00 && p.pos+7 < len(p.data) && p.data[p.pos+6] == '\\' && p.data[p.pos+7] == 'u' {
					r2, ok2 = p.hex4(p.pos + 8)
				}
				pair := utf16.DecodeRune(r, r2)
				if !ok2 || pair == utf8.RuneError {
					// Python would keep the lone surrogate and then fail to
					// encode the canonical form as UTF-8.
					return "", p.errf("lone surrogate \\u%04x in a string", r)
				}
				buf = utf8.AppendRune(buf, pair)
				p.pos += 12
				continue
			}
			buf = utf8.AppendRune(buf, r)
			p.pos += 6
			continue
		default:
			return "", p.errf("invalid escape \\%c", esc)
		}
		p.pos += 2
	}
}

func (p *parser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

func (p *parser) number() (*jvalue, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
		if p.literal("Infinity") {
			p.pos = start
			return nil, p.errf("NaN and Infinity are not allowed")
		}
	}
	intStart := p.pos
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if p.digits() == 0 {
		return nil, p.errf("invalid number")
	}
	intDigits := p.pos - intStart
	float := false
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, p.errf("invalid number: want digits after '.'")
		}
		float = true
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, p.errf("invalid number: want digits in the exponent")
		}
		float = true
	}
	lex := string(p.data[start:p.pos])
	if float {
		if _, err := strconv.ParseFloat(lex, 64); err != nil {
			// Only overflow is possible here: the grammar was checked.
			return nil, &SyntaxError{Offset: start, Msg: fmt.Sprintf("number %s is out of the range of a double", lex)}
		}
	} else if intDigits > maxIntDigits {
		return nil, &SyntaxError{Offset: start, Msg: fmt.Sprintf("integer with %d digits (more than %d)", intDigits, maxIntDigits)}
	}
	return &jvalue{kind: jNumber, s: lex, float: float}, nil
}
