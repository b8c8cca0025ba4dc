package pathscope

import "strings"

// Index finds which of many globs could match a path without trying them
// all: each glob is filed under its last literal segment, which a matching
// path must contain, or, for a last segment like "*.pem", under the
// extension a matching segment must end with; the others are tried every
// time.
type Index struct {
	fold  bool
	globs []*Glob
	bySeg map[string][]int
	byExt map[string][]int
	any   []int
}

// NewIndex returns an empty index; fold folds case for the segment keys and
// must equal the fold of every glob added.
func NewIndex(fold bool) *Index {
	return &Index{fold: fold, bySeg: map[string][]int{}, byExt: map[string][]int{}}
}

// Add files g under id; ids are returned by Match.
func (ix *Index) Add(g *Glob) int {
	id := len(ix.globs)
	ix.globs = append(ix.globs, g)
	if seg, ok := g.lastLiteral(); ok {
		ix.bySeg[seg] = append(ix.bySeg[seg], id)
	} else if ext, ok := g.extension(); ok {
		ix.byExt[ext] = append(ix.byExt[ext], id)
	} else {
		ix.any = append(ix.any, id)
	}
	return id
}

// Len returns the number of globs.
func (ix *Index) Len() int { return len(ix.globs) }

// Match returns the smallest id of a glob matching p, or -1.
func (ix *Index) Match(p string) int {
	if len(ix.globs) == 0 {
		return -1
	}
	q := p
	if ix.fold {
		q = strings.ToLower(p)
	}
	best := -1
	try := func(ids []int) {
		for _, id := range ids {
			if (best < 0 || id < best) && ix.globs[id].Match(q) {
				best = id
			}
		}
	}
	try(ix.any)
	for rest := q; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == "" {
			continue
		}
		try(ix.bySeg[seg])
		if i := strings.LastIndexByte(seg, '.'); i >= 0 && len(ix.byExt) > 0 {
			try(ix.byExt[seg[i:]])
		}
	}
	return best
}
