package shellcmd

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// Limits on what Parse accepts.
const (
	// MaxLen is the longest command line Parse accepts, in bytes.
	MaxLen = 64 << 10
	// MaxDepth is the deepest nesting Parse accepts: subshells,
	// substitutions and strings parsed again (sh -c, eval, …) each add one.
	MaxDepth = 8
)

// internalError starts the error Parse returns for a bug it recovered from.
const internalError = "internal error while parsing"

const (
	// maxChain bounds wrappers running wrappers (sudo env nice …), which
	// do not add Depth but multiply work.
	maxChain = 32
	// maxNest bounds the nesting of compound commands ({ { … } }), which
	// do not add Depth either.
	maxNest = 200
)

// Parse parses a bash command line and lists every simple command that would
// execute. It fails on a syntax error, a NUL byte, invalid UTF-8, input over
// MaxLen, nesting deeper than MaxDepth, an empty command line and coprocesses.
// It never panics.
func Parse(src string) (l *Line, err error) {
	return parse(src, false)
}

func parse(src string, slowOnly bool) (l *Line, err error) {
	defer func() {
		// Fail closed on a bug rather than crash the gateway.
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("%s: %v", internalError, r)
		}
	}()
	if err := checkSource(src); err != nil {
		return nil, err
	}
	// One allocation holds the walker, the Line and its first command.
	buf := &struct {
		w    walker
		l    Line
		cmds [1]Command
	}{}
	buf.l = Line{Source: src, Commands: buf.cmds[:0]}
	w := &buf.w
	w.line, w.slowOnly = &buf.l, slowOnly
	if err := w.code(src, ctx{parent: -1}); err != nil {
		return nil, err
	}
	w.finish()
	if len(w.line.Commands) == 0 {
		// A returned Line always lists a command; a line of only [[ … ]]
		// or (( … )) is refused rather than returned empty.
		if w.stmtCount == 0 {
			return nil, errors.New("empty command line")
		}
		return nil, errors.New("command line runs no simple command")
	}
	return w.line, nil
}

// checkSource rejects input no shell command line should contain.
func checkSource(src string) error {
	if len(src) > MaxLen {
		return fmt.Errorf("command line is %d bytes, over the limit of %d", len(src), MaxLen)
	}
	if i := strings.IndexByte(src, 0); i >= 0 {
		return fmt.Errorf("%s: NUL byte in command line", position(src, i))
	}
	if !utf8.ValidString(src) {
		for i, r := range src {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(src[i:]); n <= 1 {
					return fmt.Errorf("%s: invalid UTF-8 in command line", position(src, i))
				}
			}
		}
	}
	return nil
}

// position formats a byte offset as line:column, as the parser does.
func position(src string, off int) string {
	line := 1 + strings.Count(src[:off], "\n")
	col := off - strings.LastIndexByte(src[:off], '\n')
	return fmt.Sprintf("%d:%d", line, col)
}

// pooledParser keeps a bash parser and its reader for reuse.
type pooledParser struct {
	p *syntax.Parser
	r strings.Reader
}

var parsers = sync.Pool{New: func() any {
	return &pooledParser{p: syntax.NewParser(syntax.Variant(syntax.LangBash))}
}}

// code parses src and walks it with c. src is the whole line, or a string
// the line makes a shell parse again (sh -c, eval, trap, …).
func (w *walker) code(src string, c ctx) error {
	if !w.slowOnly {
		if words, ok := fastWords(src); ok {
			w.simple(words, nil, nil, c)
			return w.err
		}
	}
	pp := parsers.Get().(*pooledParser)
	defer parsers.Put(pp)
	pp.r.Reset(src)
	f, err := pp.p.Parse(&pp.r, "")
	if err != nil {
		return err
	}
	saved := w.cv.src
	w.cv.src = src
	w.stmtCount += len(f.Stmts)
	w.stmts(f.Stmts, c)
	w.cv.src = saved
	return w.err
}

// safeByte marks the bytes that mean nothing special to bash anywhere in a
// word: letters, digits and _ . / , : + @ % - =. A word made only of them is
// its own value.
var safeByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_./,:+@%-= " {
		t[c] = true
	}
	return t
}()

// reservedFirst lists words that change how bash parses a line when they
// come first: reserved words and the builtins the parser treats as syntax.
var reservedFirst = map[string]bool{
	"case": true, "coproc": true, "do": true, "done": true, "elif": true,
	"else": true, "esac": true, "fi": true, "for": true, "function": true,
	"if": true, "in": true, "select": true, "then": true, "until": true,
	"while": true, "time": true, "declare": true, "local": true,
	"export": true, "readonly": true, "typeset": true, "nameref": true,
	"let": true,
}

// fastWords splits src on spaces when every byte is safe, so the line is
// one simple command of literal words. The first word must not be an
// assignment or a reserved word. ok is false when the full parser is needed.
func fastWords(src string) ([]Word, bool) {
	n := 0
	prev := byte(' ')
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !safeByte[c] {
			return nil, false
		}
		if c != ' ' && prev == ' ' {
			n++
		}
		prev = c
	}
	if n == 0 {
		return nil, false
	}
	words := make([]Word, 0, n)
	for i := 0; i < len(src); {
		for i < len(src) && src[i] == ' ' {
			i++
		}
		j := i
		for j < len(src) && src[j] != ' ' {
			j++
		}
		if j > i {
			words = append(words, Word{Value: src[i:j]})
		}
		i = j
	}
	if first := words[0].Value; strings.IndexByte(first, '=') >= 0 || reservedFirst[first] {
		return nil, false
	}
	return words, true
}
