package shellcmd

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// Word is one shell word after quote removal.
type Word struct {
	// Value is the literal value after quote removal and escape processing
	// (\rm → rm, 'a b' → a b, "x\"y" → x"y, $'\x72m' → rm). For a Dynamic
	// word it is the word's source text ("$HOME"/x stays "$HOME"/x), which
	// keeps visible which expansions are quoted.
	Value string
	// Dynamic reports that the value is only known at run time: parameter
	// expansion, command or process substitution, arithmetic expansion,
	// unquoted brace expansion, extglob, or an ANSI-C escape that cannot be
	// decoded exactly.
	Dynamic bool
	// Glob reports an unquoted *, ? or [...] (pathname expansion at run time).
	Glob bool
	// Tilde reports an unquoted leading ~ that the shell expands (~, ~/…,
	// ~user…), or one right after the = of an assignment-like word
	// (DESTDIR=~/x), which bash expands too. Value keeps the ~.
	Tilde bool
}

// exact reports whether the run-time value of w is exactly w.Value.
func (w Word) exact() bool { return !w.Dynamic && !w.Glob && !w.Tilde }

// literalPrefix returns the text a word is known to start with at run time:
// all of an exact word, the part before the first expansion otherwise.
func (w Word) literalPrefix() string {
	switch {
	case w.Dynamic:
		p, _ := scanSource(w.Value)
		return p
	case w.Glob:
		if i := strings.IndexAny(w.Value, "*?["); i >= 0 {
			return w.Value[:i]
		}
	}
	return w.Value
}

// splits reports a word that may become several words at run time: an
// unquoted expansion (field splitting), brace expansion or a glob.
func (w Word) splits() bool {
	if w.Glob {
		return true
	}
	if !w.Dynamic {
		return false
	}
	_, split := scanSource(w.Value)
	return split
}

// scanSource reads the source text of a word. prefix is the literal text
// (quotes removed) before the first expansion; split reports an expansion
// outside double quotes, or a brace or glob character, anywhere in the word.
func scanSource(src string) (prefix string, split bool) {
	var b strings.Builder
	done := false
	lit := func(c byte) {
		if !done {
			b.WriteByte(c)
		}
	}
	dq := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			if !dq || strings.IndexByte("$`\"\\\n", src[i+1]) >= 0 {
				i++
				c = src[i]
			}
			lit(c)
		case c == '"':
			dq = !dq
		case c == '\'' && !dq:
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				j = len(src) - i - 1
			}
			for _, q := range []byte(src[i+1 : i+1+j]) {
				lit(q)
			}
			i += j + 1
		case c == '$' && i+1 < len(src) && src[i+1] == '\'' && !dq:
			// $'…': escapes we do not decode here; stop the prefix.
			done = true
			j := strings.IndexByte(src[i+2:], '\'')
			if j < 0 {
				j = len(src) - i - 2
			}
			i += j + 2
		case c == '$' && i+1 < len(src) && src[i+1] == '"' && !dq:
			dq = true
			i++
		case c == '$' || c == '`':
			done = true
			if !dq {
				split = true
			}
		case !dq && strings.IndexByte("{*?[", c) >= 0,
			!dq && strings.IndexByte("@!+", c) >= 0 && i+1 < len(src) && src[i+1] == '(':
			done = true
			split = true
		default:
			lit(c)
		}
	}
	return b.String(), split
}

// wordConv turns parser words into Words. src is the text the parser read, so
// that run-time parts can be shown in their source form.
type wordConv struct {
	src string
	buf []byte
}

// text returns the source text of n, or "" if its positions are unusable.
func (cv *wordConv) text(n syntax.Node) string {
	a, b := int(n.Pos().Offset()), int(n.End().Offset())
	if a < 0 || b > len(cv.src) || a > b {
		return ""
	}
	return cv.src[a:b]
}

// wordState tracks, across the parts of one word, the unquoted characters
// that make a word expand at run time.
type wordState struct {
	dynamic    bool
	glob       bool
	bracket    bool // an unquoted [ was seen; a later ] makes a glob
	brace      int  // 0 none, 1 saw unquoted {, 2 saw , or .. after it
	braceFound bool
}

// convert returns the Word for sw.
func (cv *wordConv) convert(sw *syntax.Word) Word {
	if sw == nil || len(sw.Parts) == 0 {
		return Word{}
	}
	// Fast path: one unquoted literal without escapes or special characters.
	if lit, ok := sw.Parts[0].(*syntax.Lit); ok && len(sw.Parts) == 1 &&
		strings.IndexAny(lit.Value, "\\*?[{~") < 0 && !hasAssignTilde(lit.Value) {
		return Word{Value: lit.Value}
	}
	cv.buf = cv.buf[:0]
	var st wordState
	for _, part := range sw.Parts {
		cv.part(part, &st, false)
	}
	w := Word{Value: string(cv.buf), Dynamic: st.dynamic || st.braceFound, Glob: st.glob}
	if w.Dynamic {
		if t := cv.text(sw); t != "" {
			w.Value = t
		}
	}
	if lit, ok := sw.Parts[0].(*syntax.Lit); ok {
		w.Tilde = leadingTilde(lit.Value, len(sw.Parts) == 1) || hasAssignTilde(lit.Value)
	}
	return w
}

// leadingTilde reports whether an unquoted literal starting a word begins
// with a tilde prefix the shell expands. whole says the literal is the whole
// word; otherwise a prefix with no / runs into a quoted part and is not
// expanded.
func leadingTilde(lit string, whole bool) bool {
	if !strings.HasPrefix(lit, "~") {
		return false
	}
	prefix := lit
	if i := strings.IndexByte(lit, '/'); i >= 0 {
		prefix = lit[:i]
	} else if !whole {
		return false
	}
	return !strings.ContainsAny(prefix, "\\*?[")
}

// hasAssignTilde reports a word like NAME=~… where bash expands the tilde.
func hasAssignTilde(lit string) bool {
	i := strings.IndexByte(lit, '=')
	return i > 0 && i+1 < len(lit) && lit[i+1] == '~' && validName(lit[:i])
}

func (cv *wordConv) part(part syntax.WordPart, st *wordState, quoted bool) {
	switch p := part.(type) {
	case *syntax.Lit:
		if quoted {
			cv.dquotedLit(p.Value)
		} else {
			cv.unquotedLit(p.Value, st)
		}
	case *syntax.SglQuoted:
		if !p.Dollar {
			cv.buf = append(cv.buf, p.Value...)
			return
		}
		s, exact := decodeANSIC(p.Value)
		if !exact {
			st.dynamic = true
			cv.buf = append(cv.buf, cv.text(p)...)
			return
		}
		cv.buf = append(cv.buf, s...)
	case *syntax.DblQuoted:
		// $"…" is looked up in a message catalogue only when TEXTDOMAIN
		// variables point at one; without them it is a plain "…".
		for _, q := range p.Parts {
			cv.part(q, st, true)
		}
	default:
		// Parameter expansion, substitutions, arithmetic, extglob and
		// brace expansion nodes: known only at run time.
		st.dynamic = true
		cv.buf = append(cv.buf, cv.text(part)...)
	}
}

// unquotedLit appends an unquoted literal, removing backslash escapes and
// noting glob and brace characters.
func (cv *wordConv) unquotedLit(s string, st *wordState) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			if i+1 < len(s) {
				i++
				cv.buf = append(cv.buf, s[i])
			}
			continue
		}
		switch c {
		case '*', '?':
			st.glob = true
		case '[':
			st.bracket = true
		case ']':
			if st.bracket {
				st.glob = true
			}
		case '{':
			if st.brace == 0 {
				st.brace = 1
			}
		case ',':
			if st.brace == 1 {
				st.brace = 2
			}
		case '.':
			if st.brace == 1 && i+1 < len(s) && s[i+1] == '.' {
				st.brace = 2
			}
		case '}':
			if st.brace == 2 {
				st.braceFound = true
			}
		}
		cv.buf = append(cv.buf, c)
	}
}

// dquotedLit appends a literal from inside double quotes, where a backslash
// only escapes $ ` " \ and newline.
func (cv *wordConv) dquotedLit(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '$', '`', '"', '\\':
				i++
				c = s[i]
			case '\n':
				i++
				continue
			}
		}
		cv.buf = append(cv.buf, c)
	}
}

// decodeANSIC decodes the body of a $'…' string the way bash does. exact is
// false when the result is not certain: a NUL (bash truncates there), an
// escape bash handles in a locale-dependent or unusual way, or bytes that are
// not valid UTF-8.
func decodeANSIC(s string) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, utf8.ValidString(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	exact := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'e', 'E':
			b.WriteByte(27)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case '\\', '\'', '"', '?':
			b.WriteByte(e)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, j := 0, i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				n = n*8 + int(s[j]-'0')
				j++
			}
			if n > 0xff {
				exact = false
			}
			b.WriteByte(byte(n))
			i = j - 1
		case 'x', 'u', 'U':
			max := 2
			switch e {
			case 'u':
				max = 4
			case 'U':
				max = 8
			}
			j := i + 1
			for j < len(s) && j < i+1+max && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				exact = false // bash keeps "\x" literally; be careful
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			n, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			switch {
			case e == 'x':
				b.WriteByte(byte(n))
			case n < utf8.RuneSelf:
				b.WriteByte(byte(n))
			default:
				// Non-ASCII code points depend on the locale.
				exact = false
				b.WriteRune(rune(n))
			}
			i = j - 1
		default:
			// \c (control characters) and unknown escapes: bash's handling
			// is unusual enough that we do not claim to know the result.
			exact = false
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	out := b.String()
	if strings.IndexByte(out, 0) >= 0 || !utf8.ValidString(out) {
		exact = false
	}
	return out, exact
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validName reports whether s is a shell variable name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// baseName returns the last element of a command name as written
// (/usr/bin/env → env). A trailing slash is not a command, so it is kept.
func baseName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 && i+1 < len(s) {
		return s[i+1:]
	}
	return s
}

// codeInLiteral reports text that bash may later evaluate as code when the
// value reaches an array subscript (a[$(cmd)]) through arithmetic, read,
// unset, declare, printf -v or test -v.
func codeInLiteral(s string) bool {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		return false
	}
	rest := s[i+1:]
	if j := strings.Index(rest, "$("); j >= 0 {
		after := rest[j+2:]
		if k := strings.IndexByte(after, ')'); k >= 0 && strings.IndexByte(after[k:], ']') >= 0 {
			return true
		}
	}
	if j := strings.IndexByte(rest, '`'); j >= 0 {
		after := rest[j+1:]
		if k := strings.IndexByte(after, '`'); k >= 0 && strings.IndexByte(after[k:], ']') >= 0 {
			return true
		}
	}
	return false
}
