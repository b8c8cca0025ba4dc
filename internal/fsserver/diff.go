package fsserver

import (
	"fmt"
	"strings"
)

// edit_file answers with a unified diff in the layout of the jsdiff
// library the reference server uses: an "Index:" line, a rule, file
// headers labelled original and modified, hunks with four lines of
// context, and "\ No newline at end of file" markers. The edit script is
// Myers' O(ND) shortest edit, breaking ties as jsdiff does, so that the
// same change gives the same hunks.

// diffContext is the number of unchanged lines around each change.
const diffContext = 4

// A diffRun is a run of lines that are equal on both sides, removed, or
// added.
type diffRun struct {
	op    byte // ' ', '-' or '+'
	lines []string
}

// splitKeepNewlines splits s into lines, each with its "\n", the last
// without one when s does not end in a newline.
func splitKeepNewlines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// A diffStep is one node of an edit path: count lines of one kind, after
// the steps before it. Paths share their beginnings, so steps are never
// changed once another path can see them.
type diffStep struct {
	op    byte
	count int
	prev  *diffStep
}

// diffPath is the furthest point one diagonal has reached: oldPos is the
// index of the last old line consumed.
type diffPath struct {
	oldPos int
	last   *diffStep
}

// extend returns a path one step further than p by an op line.
func (p *diffPath) extend(op byte, oldInc int) *diffPath {
	if p.last != nil && p.last.op == op {
		return &diffPath{oldPos: p.oldPos + oldInc, last: &diffStep{op: op, count: p.last.count + 1, prev: p.last.prev}}
	}
	return &diffPath{oldPos: p.oldPos + oldInc, last: &diffStep{op: op, count: 1, prev: p.last}}
}

// slide follows equal lines along diagonal k (old index minus new index)
// and returns the new index reached.
func (p *diffPath) slide(a, b []string, k int) int {
	o, n, same := p.oldPos, p.oldPos-k, 0
	for n+1 < len(b) && o+1 < len(a) && a[o+1] == b[n+1] {
		o, n, same = o+1, n+1, same+1
	}
	if same > 0 {
		p.last = &diffStep{op: ' ', count: same, prev: p.last}
	}
	p.oldPos = o
	return n
}

// diffLines returns the runs that turn the lines a into the lines b.
func diffLines(a, b []string) []diffRun {
	start := &diffPath{oldPos: -1}
	if n := start.slide(a, b, 0); start.oldPos+1 >= len(a) && n+1 >= len(b) {
		return diffRuns(start.last, a, b)
	}
	best := map[int]*diffPath{0: start}
	lowest, highest := -len(a)-len(b)-1, len(a)+len(b)+1
	for d := 1; ; d++ {
		for k := max(lowest, -d); k <= min(highest, d); k += 2 {
			rem, add := best[k-1], best[k+1]
			delete(best, k-1)
			canAdd := add != nil && add.oldPos-k >= 0 && add.oldPos-k < len(b)
			canRemove := rem != nil && rem.oldPos+1 < len(a)
			if !canAdd && !canRemove {
				delete(best, k)
				continue
			}
			// Branch from the path that got furthest through a; on a tie,
			// the removal.
			var p *diffPath
			if !canRemove || canAdd && rem.oldPos < add.oldPos {
				p = add.extend('+', 0)
			} else {
				p = rem.extend('-', 1)
			}
			n := p.slide(a, b, k)
			if p.oldPos+1 >= len(a) && n+1 >= len(b) {
				return diffRuns(p.last, a, b)
			}
			best[k] = p
			if p.oldPos+1 >= len(a) {
				highest = min(highest, k-1)
			}
			if n+1 >= len(b) {
				lowest = max(lowest, k+1)
			}
		}
	}
}

// diffRuns turns an edit path into runs of lines.
func diffRuns(last *diffStep, a, b []string) []diffRun {
	var steps []*diffStep
	for s := last; s != nil; s = s.prev {
		steps = append(steps, s)
	}
	runs := make([]diffRun, 0, len(steps))
	i, j := 0, 0
	for k := len(steps) - 1; k >= 0; k-- {
		s := steps[k]
		switch s.op {
		case '-':
			runs = append(runs, diffRun{op: '-', lines: a[i : i+s.count]})
			i += s.count
		case '+':
			runs = append(runs, diffRun{op: '+', lines: b[j : j+s.count]})
			j += s.count
		default:
			runs = append(runs, diffRun{op: ' ', lines: b[j : j+s.count]})
			i, j = i+s.count, j+s.count
		}
	}
	return runs
}

// A hunk is one "@@" section of a unified diff.
type hunk struct {
	oldStart, oldLines, newStart, newLines int
	lines                                  []string // each with its op prefix and, until tidied, its "\n"
}

// hunks groups runs into hunks with diffContext lines of context; changes
// closer than twice that share a hunk.
func hunks(runs []diffRun) []hunk {
	runs = append(runs, diffRun{op: ' '}) // closes the last hunk
	prefixed := func(op byte, lines []string) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = string(op) + l
		}
		return out
	}
	var out []hunk
	var cur []string
	oldStart, newStart, oldLine, newLine := 0, 0, 1, 1
	for i, r := range runs {
		if r.op != ' ' {
			if oldStart == 0 {
				oldStart, newStart = oldLine, newLine
				if i > 0 {
					prev := runs[i-1].lines
					cur = prefixed(' ', prev[max(0, len(prev)-diffContext):])
					oldStart -= len(cur)
					newStart -= len(cur)
				}
			}
			cur = append(cur, prefixed(r.op, r.lines)...)
			if r.op == '+' {
				newLine += len(r.lines)
			} else {
				oldLine += len(r.lines)
			}
			continue
		}
		if oldStart != 0 {
			if len(r.lines) <= 2*diffContext && i < len(runs)-2 {
				cur = append(cur, prefixed(' ', r.lines)...)
			} else {
				n := min(len(r.lines), diffContext)
				cur = append(cur, prefixed(' ', r.lines[:n])...)
				out = append(out, hunk{
					oldStart: oldStart, oldLines: oldLine - oldStart + n,
					newStart: newStart, newLines: newLine - newStart + n,
					lines: cur,
				})
				oldStart, newStart, cur = 0, 0, nil
			}
		}
		oldLine += len(r.lines)
		newLine += len(r.lines)
	}
	// Drop the newlines; mark a line that had none.
	for h := range out {
		var lines []string
		for _, l := range out[h].lines {
			if t, ok := strings.CutSuffix(l, "\n"); ok {
				lines = append(lines, t)
			} else {
				lines = append(lines, l, `\ No newline at end of file`)
			}
		}
		out[h].lines = lines
	}
	return out
}

// unifiedDiff is the patch from before to after of the file name, with
// both texts' CRLF line endings read as LF.
func unifiedDiff(name, before, after string) string {
	before, after = normalizeNewlines(before), normalizeNewlines(after)
	var sb strings.Builder
	fmt.Fprintf(&sb, "Index: %s\n", name)
	sb.WriteString("===================================================================\n")
	fmt.Fprintf(&sb, "--- %s\toriginal\n+++ %s\tmodified\n", name, name)
	for _, h := range hunks(diffLines(splitKeepNewlines(before), splitKeepNewlines(after))) {
		// A range of no lines starts one line before, as diff(1) has it.
		oldAt, newAt := h.oldStart, h.newStart
		if h.oldLines == 0 {
			oldAt--
		}
		if h.newLines == 0 {
			newAt--
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", oldAt, h.oldLines, newAt, h.newLines)
		for _, l := range h.lines {
			sb.WriteString(l)
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// fencedDiff wraps a diff in a ```diff block, with a longer fence when
// the diff itself holds three backticks in a row.
func fencedDiff(d string) string {
	n := 3
	for strings.Contains(d, strings.Repeat("`", n)) {
		n++
	}
	fence := strings.Repeat("`", n)
	return fence + "diff\n" + d + fence + "\n\n"
}
