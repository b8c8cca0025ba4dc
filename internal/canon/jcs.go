package canon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// MaxInput is the largest JSON document, in bytes, that [JCS] and
// [JSStringify] accept.
const MaxInput = 16 << 20

// MaxDepth is the deepest nesting of arrays and objects that [JCS] accepts.
// The outermost array or object is at depth 1.
const MaxDepth = 64

// maxSafeInteger is 2^53 in decimal: every integer up to this magnitude is
// exactly representable as an IEEE 754 double.
const maxSafeInteger = "9007199254740992"

// DigestPrefix starts every digest string returned by [Digest].
const DigestPrefix = "sha256:"

// ErrInvalid is wrapped by every error that [JCS], [Marshal] and
// [JSStringify] return for a document they refuse.
var ErrInvalid = errors.New("canon: invalid JSON document")

// JCS returns the RFC 8785 canonical form of the JSON document v.
//
// Besides the rules of RFC 8785 it rejects input larger than [MaxInput],
// nesting deeper than [MaxDepth], invalid UTF-8, duplicate object keys, lone
// surrogate escapes and any number whose value is an integer of magnitude
// greater than 2^53 (the error names the number). All errors wrap [ErrInvalid].
func JCS(v []byte) ([]byte, error) {
	if err := guard(v); err != nil {
		return nil, err
	}
	out, err := jcs.Transform(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, err)
	}
	return out, nil
}

// Marshal encodes v with encoding/json and returns the [JCS] form of the
// result.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return JCS(b)
}

// Digest returns "sha256:" followed by the lower-case hex SHA-256 of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	var out [len(DigestPrefix) + 2*sha256.Size]byte
	copy(out[:], DigestPrefix)
	hex.Encode(out[len(DigestPrefix):], sum[:])
	return string(out[:])
}

// DigestJSON returns the [Digest] of the [Marshal] form of v.
func DigestJSON(v any) (string, error) {
	b, err := Marshal(v)
	if err != nil {
		return "", err
	}
	return Digest(b), nil
}

// IsDigest reports whether s has the form "sha256:" followed by 64 lower-case
// hex digits, as returned by [Digest].
func IsDigest(s string) bool {
	if len(s) != len(DigestPrefix)+2*sha256.Size || s[:len(DigestPrefix)] != DigestPrefix {
		return false
	}
	for i := len(DigestPrefix); i < len(s); i++ {
		if !lowerHex[s[i]] {
			return false
		}
	}
	return true
}

var lowerHex = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true,
	'8': true, '9': true, 'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
}

// guard makes one pass over v and enforces the limits that jcs.Transform
// does not: size, UTF-8 validity, depth and exact integers. Grammar errors are
// left to jcs.Transform, which rejects them.
func guard(v []byte) error {
	if len(v) > MaxInput {
		return fmt.Errorf("%w: document is %d bytes, more than the limit of %d", ErrInvalid, len(v), MaxInput)
	}
	if !utf8.Valid(v) {
		return fmt.Errorf("%w: invalid UTF-8", ErrInvalid)
	}
	depth := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			// Skip the string; escapes cannot hide a quote from this loop.
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
		case c == '[' || c == '{':
			depth++
			if depth > MaxDepth {
				return fmt.Errorf("%w: nesting deeper than %d", ErrInvalid, MaxDepth)
			}
		case c == ']' || c == '}':
			depth--
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(v) && isNumberByte(v[j]) {
				j++
			}
			if err := checkNumber(v[i:j]); err != nil {
				return err
			}
			i = j - 1
		}
	}
	return nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// checkNumber rejects a JSON number token that is an integer beyond ±2^53:
// either written as an integer (no fraction, no exponent) of magnitude above
// 2^53, or whose double value is integral, above 2^53 and below 1e21 (the
// range in which RFC 8785 writes it back as a plain integer, which this rule
// would then reject: keeping both halves makes JCS idempotent). Tokens that
// are not valid JSON numbers are accepted here and rejected later by the
// grammar check.
func checkNumber(tok []byte) error {
	intForm, ok := numberToken(tok)
	if !ok {
		return nil
	}
	large := false
	if intForm {
		digits := tok
		if digits[0] == '-' {
			digits = digits[1:]
		}
		large = len(digits) > len(maxSafeInteger) ||
			len(digits) == len(maxSafeInteger) && string(digits) > maxSafeInteger
	}
	if !large {
		f, err := strconv.ParseFloat(string(tok), 64)
		if err == nil {
			a := math.Abs(f)
			large = a > 1<<53 && a < 1e21 && a == math.Trunc(a)
		}
	}
	if large {
		return fmt.Errorf("%w: number %s is an integer beyond ±2^53 and would lose precision; encode it as a string", ErrInvalid, quoteToken(tok))
	}
	return nil
}

// quoteToken renders at most 40 bytes of tok for an error message.
func quoteToken(tok []byte) string {
	const max = 40
	if len(tok) > max {
		return fmt.Sprintf("%s… (%d bytes)", tok[:max], len(tok))
	}
	return string(tok)
}

// numberToken reports whether tok is a JSON number (RFC 8259 §6 grammar) and
// whether it is written as a bare integer, without fraction or exponent.
func numberToken(tok []byte) (intForm, ok bool) {
	i := 0
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	switch {
	case i < len(tok) && tok[i] == '0':
		i++
	case i < len(tok) && tok[i] >= '1' && tok[i] <= '9':
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
	default:
		return false, false
	}
	intForm = true
	if i < len(tok) && tok[i] == '.' {
		intForm = false
		i++
		s := i
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
		if i == s {
			return false, false
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		intForm = false
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		s := i
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
		if i == s {
			return false, false
		}
	}
	return intForm, i == len(tok)
}
