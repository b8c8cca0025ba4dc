package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// MaxSize bounds a policy file. Real policies are a few kilobytes; the
// bound keeps a hostile or mistaken file from exhausting memory.
const MaxSize = 4 << 20

// LoadFile reads and parses the policy at path.
func LoadFile(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Errors{{File: path, Msg: "policy file not found"}}
		}
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, Errors{{File: path, Msg: "is a directory, not a policy file"}}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxSize+1)); err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(buf.Bytes(), path)
}

// Parse parses and validates a policy document; file names it in messages.
// On failure the error is an Errors listing every problem found.
func Parse(src []byte, file string) (*Policy, error) {
	if len(src) > MaxSize {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("policy is larger than %d MiB; a policy is a few kilobytes of YAML — is this the right file?", MaxSize>>20)}}
	}
	if i := invalidUTF8(src); i >= 0 {
		line, col := lineCol(src, i)
		return nil, Errors{{File: file, Line: line, Col: col, Msg: "invalid UTF-8; save the file as UTF-8"}}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		line, col := lineCol(src, i)
		return nil, Errors{{File: file, Line: line, Col: col, Msg: "NUL byte; a policy is a text file"}}
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, Errors{syntaxError(err, file)}
	}
	var body ast.Node
	docs := 0
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		docs++
		if body == nil {
			body = d.Body
		}
	}
	switch {
	case docs == 0:
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the policy is empty; it needs at least name: and capabilities:"}}
	case docs > 1:
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the file holds several YAML documents (---); a policy file holds one"}}
	}
	if _, ok := mappingEntries(body); !ok {
		p := nodePos(body)
		return nil, Errors{{File: file, Line: p.line, Col: p.col, Msg: fmt.Sprintf("a policy must be a mapping of keys such as name: and capabilities:, got %s", describe(body))}}
	}
	r := &report{file: file, pos: positions{}}
	p := &Policy{File: file}
	d := &decoder{r: r, anchors: map[string][]anchor{}}
	d.collectAnchors(body)
	d.decode(body, reflect.ValueOf(p).Elem(), "")
	applyDefaults(p)
	// Semantic checks run even after shape errors, so that every problem is
	// reported at once; a check on an element that failed to decode would
	// only repeat that failure, so it is dropped.
	decodeErrs := len(r.errs)
	validate(p, r)
	r.errs = dropShadowed(r.errs, decodeErrs)
	r.errs.sort()
	r.warnings.sort()
	p.pos = r.pos
	p.Warnings = r.warnings
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return p, nil
}

func applyDefaults(p *Policy) {
	if p.Version == "" {
		p.Version = "1.0"
	}
	if p.Evidence.Format == "" {
		p.Evidence.Format = "jsonl"
	}
	for i := range p.Gates {
		if p.Gates[i].MinApprovals == 0 {
			p.Gates[i].MinApprovals = 1
		}
	}
}

// dropShadowed removes semantic errors (those after the first n) about an
// element at or under one that already failed to decode.
func dropShadowed(errs Errors, n int) Errors {
	if n == 0 {
		return errs
	}
	out := errs[:n]
	for _, e := range errs[n:] {
		shadowed := false
		for _, d := range errs[:n] {
			if e.Path == d.Path || strings.HasPrefix(e.Path, d.Path+".") || strings.HasPrefix(e.Path, d.Path+"[") {
				shadowed = true
				break
			}
		}
		if !shadowed {
			out = append(out, e)
		}
	}
	return out
}

// syntaxError turns a YAML parser error into a positioned Error.
func syntaxError(err error, file string) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: file, Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
		e.Msg = "invalid YAML: " + e.Msg
		return e
	}
	msg := err.Error()
	// "[3:1] message\n  snippet…": keep the position, drop the snippet.
	first, _, _ := strings.Cut(msg, "\n")
	if strings.HasPrefix(first, "[") {
		if at, rest, ok := strings.Cut(first[1:], "] "); ok {
			l, c, _ := strings.Cut(at, ":")
			line, _ := strconv.Atoi(l)
			col, _ := strconv.Atoi(c)
			return &Error{File: file, Line: line, Col: col, Msg: "invalid YAML: " + rest}
		}
	}
	return &Error{File: file, Msg: "invalid YAML: " + first}
}

func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

func lineCol(b []byte, off int) (int, int) {
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}
