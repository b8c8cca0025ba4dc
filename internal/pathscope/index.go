package pathscope

import "strings"

// Index finds which of many globs could match a path without trying them
// all: each glob is filed under its last literal segment, which a matching
// path must contain; globs without one are tried every time.
type Index struct {
	fold  bool
	globs []*Glob
	bySeg map[string][]int
	any   []int
}

// NewIndex returns an empty index; fold folds case for the segment keys and
// must equal the fold of every glob added.
func NewIndex(fold bool) *Index {
	return &Index{fold: fold, bySeg: map[string][]int{}}
}

// Add files g under id; ids are returned by Match.
func (ix *Index) Add(g *Glob) int {
	id := len(ix.globs)
	ix.globs = append(ix.globs, g)
	if seg, ok := g.lastLiteral(); ok {
		ix.bySeg[seg] = append(ix.bySeg[seg], id)
	} else {
		ix.any = append(ix.any, id)
	}
	return id
}

// Len returns the number of globs.
func (ix *Index) Len() int { return len(ix.globs) }

// Match returns the smallest id of a glob matching p, or -1.
func (ix *Index) Match(p string) int { return ix.match(p, false) }

// MatchTree returns the smallest id of a glob matching p or a directory
// that contains p, or -1: a forbidden directory forbids what is inside it.
// The candidates for p's ancestors are among p's own, so one lookup serves.
func (ix *Index) MatchTree(p string) int { return ix.match(p, true) }

func (ix *Index) match(p string, tree bool) int {
	if len(ix.globs) == 0 {
		return -1
	}
	q := p
	if ix.fold {
		q = strings.ToLower(p)
	}
	best := -1
	try := func(id int) {
		if best >= 0 && id >= best {
			return
		}
		g := ix.globs[id]
		if g.Match(q) {
			best = id
			return
		}
		for dir := q; tree; {
			i := strings.LastIndexByte(dir, '/')
			if i <= 0 {
				return
			}
			dir = dir[:i]
			if g.Match(dir) {
				best = id
				return
			}
		}
	}
	for _, id := range ix.any {
		try(id)
	}
	if len(ix.bySeg) > 0 {
		rest := q
		for rest != "" {
			var seg string
			seg, rest, _ = strings.Cut(rest, "/")
			if seg == "" {
				continue
			}
			for _, id := range ix.bySeg[seg] {
				try(id)
			}
		}
	}
	return best
}
