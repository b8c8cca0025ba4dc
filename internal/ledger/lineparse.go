package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/canon"
)

// File limits: a line longer than MaxLineBytes or a file with more than
// MaxLines lines is refused, so that no input can exhaust memory.
const (
	// MaxLineBytes is the longest line accepted in a ledger file.
	MaxLineBytes = 16 << 20
	// MaxLines is the largest number of lines accepted in a ledger file.
	MaxLines = 10_000_000
)

var (
	errLineTooLong  = fmt.Errorf("%w: line longer than %d bytes (16 MiB)", ErrInvalid, MaxLineBytes)
	errTooManyLines = fmt.Errorf("%w: more than %d lines", ErrInvalid, MaxLines)
)

// lineReader yields a file's lines, without "\n" and a trailing "\r",
// enforcing MaxLineBytes and MaxLines.
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	line int // number of the line last returned, from 1
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line, valid until the following call, or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	if lr.line >= MaxLines {
		// Only an error if there is more to read.
		if _, err := lr.r.Peek(1); err == io.EOF {
			return nil, io.EOF
		}
		return nil, errTooManyLines
	}
	frag, err := lr.r.ReadSlice('\n')
	var line []byte
	switch {
	case err == nil:
		line = frag
	case errors.Is(err, bufio.ErrBufferFull):
		lr.buf = append(lr.buf[:0], frag...)
		for {
			frag, err = lr.r.ReadSlice('\n')
			n := len(lr.buf) + len(frag)
			if n > MaxLineBytes+2 {
				return nil, errLineTooLong
			}
			if n > cap(lr.buf) {
				// Double, rather than append's smaller steps for large
				// slices, so a long line costs at most twice its size.
				grown := make([]byte, len(lr.buf), min(2*n, MaxLineBytes+2))
				copy(grown, lr.buf)
				lr.buf = grown
			}
			lr.buf = append(lr.buf, frag...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			break
		}
		line = lr.buf
	case err == io.EOF:
		if len(frag) == 0 {
			return nil, io.EOF
		}
		line = frag
	default:
		return nil, err
	}
	lr.line++
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > MaxLineBytes {
		return nil, errLineTooLong
	}
	return line, nil
}

// isBlank reports whether a line holds only JSON whitespace.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

var trailerPrefix = []byte(`{"warden":`)

// isTrailer reports whether a line is meant as an export trailer.
func isTrailer(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(line, " \t"), trailerPrefix)
}

// rawEntry is an entry line split into its fields; data is the raw JSON of
// the "data" member, pointing into the line.
type rawEntry struct {
	seq                            int64
	ts, hash, prev, sessionID, typ string
	data                           []byte
}

// Field bits for duplicate and missing key detection.
const (
	fSeq = 1 << iota
	fTS
	fHash
	fPrev
	fSession
	fType
	fData
	fAll = fSeq | fTS | fHash | fPrev | fSession | fType | fData
)

var fieldNames = []string{"seq", "ts", "hash", "prev", "sessionId", "type", "data"}

// parseEntryLine parses one entry line strictly: a JSON object with exactly
// the keys seq, ts, hash, prev, sessionId, type and data (in any order,
// written without escapes, each once), seq a plain integer in 1..2^53, the
// others strings except data, which may be any JSON value (its validity is
// checked by whoever canonicalizes it). The line must be valid UTF-8.
func parseEntryLine(line []byte) (rawEntry, error) {
	var e rawEntry
	if !utf8.Valid(line) {
		return e, lineErrorf("line is not valid UTF-8")
	}
	p := 0
	p = skipWS(line, p)
	if p >= len(line) || line[p] != '{' {
		return e, lineErrorf("line is not a JSON object")
	}
	p++
	seen := 0
	for {
		p = skipWS(line, p)
		if p >= len(line) || line[p] != '"' {
			return e, lineErrorf("expected a key at byte %d", p)
		}
		end := bytes.IndexByte(line[p+1:], '"')
		if end < 0 {
			return e, lineErrorf("unterminated key at byte %d", p)
		}
		key := line[p+1 : p+1+end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return e, lineErrorf("escaped key at byte %d", p)
		}
		p += end + 2
		p = skipWS(line, p)
		if p >= len(line) || line[p] != ':' {
			return e, lineErrorf("expected ':' at byte %d", p)
		}
		p = skipWS(line, p+1)
		vstart := p
		vend, err := skipValue(line, p)
		if err != nil {
			return e, err
		}
		val := line[vstart:vend]
		p = vend
		bit := 0
		for i, name := range fieldNames {
			if string(key) == name {
				bit = 1 << i
			}
		}
		if bit == 0 {
			return e, lineErrorf("unknown key %q", clip(string(key)))
		}
		if seen&bit != 0 {
			return e, lineErrorf("duplicate key %q", key)
		}
		seen |= bit
		switch bit {
		case fSeq:
			e.seq, err = parseSeq(val)
		case fTS:
			e.ts, err = parseStringValue("ts", val)
		case fHash:
			e.hash, err = parseStringValue("hash", val)
		case fPrev:
			e.prev, err = parseStringValue("prev", val)
		case fSession:
			e.sessionID, err = parseStringValue("sessionId", val)
		case fType:
			e.typ, err = parseStringValue("type", val)
		case fData:
			e.data = val
		}
		if err != nil {
			return e, err
		}
		p = skipWS(line, p)
		if p >= len(line) {
			return e, lineErrorf("unterminated object")
		}
		if line[p] == ',' {
			p++
			continue
		}
		if line[p] != '}' {
			return e, lineErrorf("expected ',' or '}' at byte %d", p)
		}
		p = skipWS(line, p+1)
		if p != len(line) {
			return e, lineErrorf("data after the object at byte %d", p)
		}
		break
	}
	if seen != fAll {
		for i, name := range fieldNames {
			if seen&(1<<i) == 0 {
				return e, lineErrorf("missing key %q", name)
			}
		}
	}
	// Field checks shared by both formats.
	if !validTS(e.ts) {
		return e, lineErrorf("ts %q is not of the form YYYY-MM-DDTHH:MM:SS.mmmZ", clip(e.ts))
	}
	if !canon.IsDigest(e.hash) {
		return e, lineErrorf("hash %q is not a sha256 digest", clip(e.hash))
	}
	if !canon.IsDigest(e.prev) {
		return e, lineErrorf("prev %q is not a sha256 digest", clip(e.prev))
	}
	if err := checkName("sessionId", e.sessionID, MaxSessionIDLen); err != nil {
		return e, err
	}
	if err := checkName("type", e.typ, MaxTypeLen); err != nil {
		return e, err
	}
	return e, nil
}

func skipWS(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// skipValue returns the end of the JSON value starting at p. It finds the
// extent only; the value's grammar is checked by the parser that reads it.
func skipValue(b []byte, p int) (int, error) {
	if p >= len(b) {
		return 0, lineErrorf("missing value")
	}
	switch b[p] {
	case '"':
		return skipString(b, p)
	case '{', '[':
		depth := 0
		for p < len(b) {
			switch b[p] {
			case '"':
				end, err := skipString(b, p)
				if err != nil {
					return 0, err
				}
				p = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return p + 1, nil
				}
			}
			p++
		}
		return 0, lineErrorf("unterminated value")
	default:
		start := p
		for p < len(b) && b[p] != ',' && b[p] != '}' && b[p] != ']' && b[p] != ' ' && b[p] != '\t' && b[p] != '\r' && b[p] != '\n' {
			p++
		}
		if p == start {
			return 0, lineErrorf("missing value at byte %d", start)
		}
		return p, nil
	}
}

// skipString returns the end of the string starting at b[p] == '"'.
func skipString(b []byte, p int) (int, error) {
	for i := p + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, lineErrorf("unterminated string")
}

// parseSeq accepts a plain decimal integer from 1 to MaxSeq.
func parseSeq(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 16 || v[0] == '0' {
		return 0, lineErrorf("seq %q is not an integer from 1 to 2^53", clip(string(v)))
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, lineErrorf("seq %q is not an integer from 1 to 2^53", clip(string(v)))
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n > MaxSeq {
		return 0, lineErrorf("seq %q is not an integer from 1 to 2^53", clip(string(v)))
	}
	return n, nil
}

// parseStringValue decodes a JSON string value. Escapes are allowed but
// must decode to valid Unicode (no lone surrogates).
func parseStringValue(field string, v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", lineErrorf("%s is not a string", field)
	}
	inner := v[1 : len(v)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), nil
	}
	if _, err := canon.JCS(v); err != nil {
		return "", lineErrorf("%s: %v", field, err)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", lineErrorf("%s: %v", field, err)
	}
	return s, nil
}

// lineError is a parse error whose message is formatted only when read:
// a hostile file can have millions of bad lines, of which only the first
// is reported.
type lineError struct {
	format string
	args   []any
}

func lineErrorf(format string, args ...any) error { return &lineError{format, args} }

func (e *lineError) Error() string {
	return ErrInvalid.Error() + ": " + fmt.Sprintf(e.format, e.args...)
}

func (e *lineError) Unwrap() error { return ErrInvalid }
