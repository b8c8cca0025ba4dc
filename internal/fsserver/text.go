package fsserver

import (
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The reference server is a Node program: its answers are JavaScript's
// string and number formatting. The helpers below produce the same text.

// decodeText decodes b as UTF-8 the way a WHATWG decoder does (Node's
// Buffer.toString and fs.readFile with "utf-8"): each maximal invalid
// subsequence becomes one U+FFFD, and a byte order mark is kept.
func decodeText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 16)
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lo = 0xA0
			} else if c == 0xED {
				hi = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
		default:
			sb.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j, ok := i+1, true
		for range need {
			if j >= len(b) || b[j] < lo || b[j] > hi {
				ok = false
				break
			}
			lo, hi = 0x80, 0xBF
			j++
		}
		if !ok {
			// The bytes so far form one maximal subpart; the byte that
			// broke the sequence is decoded afresh.
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[i:j])
		}
		i = j
	}
	return sb.String()
}

// normalizeNewlines turns CRLF line endings into LF.
func normalizeNewlines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// jsSpace reports whether JavaScript's String.prototype.trim and the
// regular expression \s treat r as white space.
func jsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0xFEFF, 0x2028, 0x2029:
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

// jsTrim is String.prototype.trim.
func jsTrim(s string) string { return strings.TrimFunc(s, jsSpace) }

// jsTrimStart is String.prototype.trimStart.
func jsTrimStart(s string) string { return strings.TrimLeftFunc(s, jsSpace) }

// leadingSpace is what /^\s*/ matches.
func leadingSpace(s string) string { return s[:len(s)-len(jsTrimStart(s))] }

// jsLen is a string's length as JavaScript counts it, in UTF-16 code units.
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
		if utf16.RuneLen(r) < 0 {
			n++ // an invalid rune decodes to U+FFFD, one unit
		}
	}
	return n
}

// padEnd is String.prototype.padEnd with spaces.
func padEnd(s string, width int) string {
	if n := jsLen(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// padStart is String.prototype.padStart with spaces.
func padStart(s string, width int) string {
	if n := jsLen(s); n < width {
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

// formatSize renders a byte count as the reference does: "0 B", "512 B",
// then two decimals of KB, MB, GB or TB, rounded half up as
// Number.prototype.toFixed rounds the exact binary value.
func formatSize(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	if n <= 0 {
		return "0 B"
	}
	i := 0
	for v := n; v >= 1024 && i < len(units)-1; v /= 1024 {
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	// n / 1024^i is a dyadic rational: its hundredths round exactly.
	den := new(big.Int).Lsh(big.NewInt(1), uint(10*i))
	num := new(big.Int).Mul(big.NewInt(n), big.NewInt(100))
	num.Add(num, new(big.Int).Rsh(den, 1))
	q := num.Div(num, den)
	whole, frac := new(big.Int).DivMod(q, big.NewInt(100), new(big.Int))
	return fmt.Sprintf("%s.%02d %s", whole, frac.Int64(), units[i])
}

// jsDate renders t as JavaScript's Date.prototype.toString does, in the
// local time zone: "Fri Jan 02 2026 03:04:05 GMT+0000 (Coordinated
// Universal Time)". JavaScript names the zone in full from ICU's data; Go
// knows only its abbreviation, which is used except for UTC.
func jsDate(t time.Time) string {
	t = t.In(time.Local)
	zone, _ := t.Zone()
	if zone == "UTC" || zone == "" {
		zone = "Coordinated Universal Time"
	}
	return t.Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (" + zone + ")"
}
