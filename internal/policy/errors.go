package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a policy file, located by line and column.
type Error struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	// Path is the element's path in the document, e.g. "gates[1].condition".
	Path string `json:"path,omitempty"`
	Msg  string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Col)
	} else if e.File != "" {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is a list of problems, sorted by position.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

// pos is a line and column in the source.
type pos struct{ line, col int }

// positions maps element paths to where they were written, so that semantic
// checks run after decoding can still point at the source.
type positions map[string]pos

// report collects errors and warnings for one document.
type report struct {
	file     string
	pos      positions
	errs     Errors
	warnings Errors
}

func (r *report) errorAt(path string, p pos, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errorf reports an error at a decoded element's recorded position.
func (r *report) errorf(path, format string, args ...any) {
	r.errorAt(path, r.lookup(path), format, args...)
}

func (r *report) warnf(path, format string, args ...any) {
	p := r.lookup(path)
	r.warnings = append(r.warnings, &Error{File: r.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// lookup finds the position of path, falling back to its nearest recorded
// ancestor so that a message always points somewhere useful.
func (r *report) lookup(path string) pos {
	for p := path; p != ""; p = parentPath(p) {
		if at, ok := r.pos[p]; ok {
			return at
		}
	}
	return pos{}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// Suggest returns the candidate closest to s, if it is close enough to be
// a plausible typo of it: the "did you mean" of every configuration file.
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }

func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	if bestD > 3 {
		bestD = 3
	}
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD || (d == bestD && best == "" && d <= 2) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
