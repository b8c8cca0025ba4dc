package nexus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DigestPrefix starts the prefixed form of a digest, "sha256:<hex>".
const DigestPrefix = "sha256:"

// Canonical returns nexus-control's canonical form of the JSON document
// data: Python's json.dumps with sort_keys, the separators "," and ":",
// ensure_ascii off and allow_nan off, encoded as UTF-8.
//
// The rules, which are not those of RFC 8785:
//   - object keys are sorted by Unicode code point at every depth (byte
//     order of their UTF-8 form); arrays keep their order; no whitespace;
//   - strings escape only '"', '\\', the short escapes \b \f \n \r \t and
//     the other characters below U+0020 as \u00xx with lower-case hex;
//     everything else, including '/', U+007F, U+2028, U+2029 and
//     characters outside the BMP, is written as raw UTF-8;
//   - a number written without fraction or exponent is an integer and is
//     written in full ("-0" becomes "0"); any other number is a double,
//     written as Python's repr writes it: the shortest digits that round
//     trip, with ".0" added to whole numbers, and scientific notation with
//     a signed exponent of at least two digits when the decimal exponent
//     is below -4 or at least 16 (1e+20, 1e-07, -0.0);
//   - true, false and null are written as such.
//
// Input Python cannot read or write back is refused with an error: invalid
// UTF-8, lone surrogate escapes, NaN and Infinity, doubles out of range,
// integers longer than 4,300 digits, nesting deeper than [MaxDepth] and
// documents larger than [MaxInput]. Duplicate object keys are refused too
// (Python would keep the last one), so that no two readers of a document
// can disagree on its content.
func Canonical(data []byte) ([]byte, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(data)), v), nil
}

// Marshal returns the canonical form of v after encoding it with
// encoding/json. encoding/json writes a float64 whose value is whole as an
// integer, where Python would write 1.0: use json.Number or
// json.RawMessage for values whose lexical form matters.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("nexus: %w", err)
	}
	return Canonical(b)
}

// SHA256Hex returns the lower-case hex SHA-256 of b, the unprefixed digest
// form nexus-control uses for event, template, request and response
// digests.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ContentDigest returns the unprefixed digest of the JSON document data:
// the lower-case hex SHA-256 of its [Canonical] form.
func ContentDigest(data []byte) (string, error) {
	c, err := Canonical(data)
	if err != nil {
		return "", err
	}
	return SHA256Hex(c), nil
}

// PrefixDigest returns hexDigest with [DigestPrefix] in front, the form
// nexus-control uses for bundle, router and binding digests.
func PrefixDigest(hexDigest string) string { return DigestPrefix + hexDigest }

// StripDigestPrefix returns d without a leading [DigestPrefix], if it has
// one, as nexus-control does before comparing a stored digest with a
// recomputed one.
func StripDigestPrefix(d string) string { return strings.TrimPrefix(d, DigestPrefix) }

// IsHexDigest reports whether s is 64 lower-case hex digits.
func IsHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// canonicalValue returns the canonical form of a parsed value.
func canonicalValue(v *jvalue) []byte { return appendCanonical(nil, v) }

func appendCanonical(buf []byte, v *jvalue) []byte {
	switch v.kind {
	case jNull:
		return append(buf, "null"...)
	case jBool:
		if v.b {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case jNumber:
		return appendNumber(buf, v)
	case jString:
		return appendString(buf, v.s)
	case jArray:
		buf = append(buf, '[')
		for i, e := range v.elems {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendCanonical(buf, e)
		}
		return append(buf, ']')
	}
	members := v.members
	if !slices.IsSortedFunc(members, cmpMember) {
		members = slices.Clone(members)
		slices.SortFunc(members, cmpMember)
	}
	buf = append(buf, '{')
	for i, m := range members {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, m.key)
		buf = append(buf, ':')
		buf = appendCanonical(buf, m.val)
	}
	return append(buf, '}')
}

// cmpMember orders object members by key. Go compares strings byte by byte,
// which for valid UTF-8 is Unicode code point order, Python's str order.
func cmpMember(a, b jmember) int { return strings.Compare(a.key, b.key) }

func appendNumber(buf []byte, v *jvalue) []byte {
	if !v.float {
		s := v.s
		if strings.TrimLeft(s, "-0") == "" { // "0" or "-0"
			return append(buf, '0')
		}
		return append(buf, s...)
	}
	// The parser has checked that the lexeme is a finite double.
	f, _ := strconv.ParseFloat(v.s, 64)
	return appendPythonFloat(buf, f)
}

// appendPythonFloat writes f as Python's float repr does.
func appendPythonFloat(buf []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// Unreachable from parsed input; kept total for safety.
		return append(buf, "null"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	i := slices.Index(e, 'e')
	exp, _ := strconv.Atoi(string(e[i+1:]))
	if exp < -4 || exp >= 16 {
		// Go's shortest 'e' form already has a sign and at least two
		// exponent digits, like Python's: 1e+16, 1.5e-07, 5e-324.
		return append(buf, e...)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'f', -1, 64)
	if slices.Index(buf[start:], '.') < 0 {
		buf = append(buf, ".0"...)
	}
	return buf
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string with nexus-control's escaping. s
// is valid UTF-8.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
