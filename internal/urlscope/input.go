package urlscope

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxLen is the longest URL or host Parse and ParseHost accept, in bytes.
const maxLen = 8 << 10

// checkText refuses input that parsers are known to read differently: bytes
// that are not UTF-8, any control or whitespace character (a newline splits
// a request line, a tab is stripped by browsers but not by Go), invisible
// format characters that IDNA would silently delete, and backslashes, which
// WHATWG parsers read as "/" but Go reads as a host character.
func checkText(s string) string { return check(s, false) }

// checkPattern is checkText for a glob, where a backslash escapes a
// metacharacter.
func checkPattern(s string) string { return check(s, true) }

func check(s string, backslashOK bool) string {
	if s == "" {
		return "it is empty"
	}
	if len(s) > maxLen {
		return fmt.Sprintf("it is longer than %d bytes", maxLen)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if 0x20 < c && c < 0x7f && (c != '\\' || backslashOK) {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
				return fmt.Sprintf("it contains a NUL byte at offset %d", i)
			case c == '\n' || c == '\r':
				return fmt.Sprintf("it contains a line break at offset %d", i)
			case c == ' ':
				return fmt.Sprintf("it contains a space at offset %d", i)
			case c < 0x20 || c == 0x7f:
				return fmt.Sprintf("it contains control character %#02x at offset %d", c, i)
			case c == '\\':
				return fmt.Sprintf("it contains a backslash at offset %d", i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Sprintf("it is not valid UTF-8 at offset %d", i)
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("it contains invisible or whitespace character %U at offset %d", r, i)
		}
		i += n
	}
	return ""
}

// quote renders untrusted input for an error message: escaped, and cut short
// so that an 8 KiB URL does not become an 8 KiB message.
func quote(s string) string {
	const max = 96
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
