package pathscope

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Glob is a compiled path pattern, anchored to an absolute location.
type Glob struct {
	// Source is the pattern as the policy wrote it.
	Source string
	// anchored is the absolute doublestar pattern (lower-cased when fold).
	anchored string
	// tree, when set, is anchored + "/**": what lies inside a match.
	// doublestar does not let "x*/**" match "x" itself, so a tree glob
	// tries both patterns.
	tree string
	fold bool
}

const globMeta = `*?[]{}\`

// escape quotes glob metacharacters in a literal path (a project root can
// be called "a[1]").
// Escape quotes the glob syntax in s, so that a directory's name is
// matched literally.
func Escape(s string) string { return escape(s) }

func escape(s string) string {
	if !strings.ContainsAny(s, globMeta) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(globMeta, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// literal returns the unescaped value of a glob segment that has no glob
// syntax, and false if it has some.
func literal(seg string) (string, bool) {
	if !strings.ContainsAny(seg, globMeta) {
		return seg, true
	}
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '\\' && i+1 < len(seg):
			i++
			b.WriteByte(seg[i])
		case strings.IndexByte(globMeta, c) >= 0:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// Compile anchors pattern (see the package doc) and compiles it. With fold,
// matching ignores case.
func (r *Resolver) Compile(pattern string, fold bool) (*Glob, error) {
	return r.compile(pattern, fold, false)
}

// CompileTree is Compile for a glob that also matches everything inside
// the directories it matches, as a forbidden rule does: forbidding
// "**/secrets*" forbids secrets/key.txt.
func (r *Resolver) CompileTree(pattern string, fold bool) (*Glob, error) {
	return r.compile(pattern, fold, true)
}

func (r *Resolver) compile(pattern string, fold, tree bool) (*Glob, error) {
	anchored, err := r.anchor(pattern)
	if err != nil {
		return nil, err
	}
	if fold {
		anchored = strings.ToLower(anchored)
	}
	out := &Glob{Source: pattern, anchored: anchored, fold: fold}
	if tree && !strings.HasSuffix(anchored, "/**") {
		out.tree = strings.TrimSuffix(anchored, "/") + "/**"
	}
	return out, nil
}

func (r *Resolver) anchor(pattern string) (string, error) {
	switch {
	case pattern == "":
		return "", errors.New("empty glob")
	case strings.IndexByte(pattern, 0) >= 0:
		return "", errors.New("glob contains a NUL byte")
	case len(pattern) > MaxPathLen:
		return "", fmt.Errorf("glob is %d bytes; the limit is %d", len(pattern), MaxPathLen)
	}
	if !doublestar.ValidatePattern(pattern) {
		return "", fmt.Errorf("invalid glob %q: check for an unclosed [ or {", pattern)
	}
	p := pattern
	dirOnly := strings.HasSuffix(p, "/") && len(p) > 1
	var out string
	switch {
	case strings.HasPrefix(p, "**"):
		out = "/" + p
	case strings.HasPrefix(p, "/"):
		out = r.physicalPrefix(p)
	case p == "~" || strings.HasPrefix(p, "~/"):
		out = escape(r.Home) + p[1:]
	case strings.HasPrefix(p, "~"):
		return "", fmt.Errorf("glob %q names another user's home directory; write the absolute path", pattern)
	default:
		out = escape(r.Root) + "/" + p
	}
	out = cleanGlob(out)
	if dirOnly {
		out = strings.TrimSuffix(out, "/") + "/**"
	}
	if !doublestar.ValidatePattern(out) {
		return "", fmt.Errorf("invalid glob %q", pattern)
	}
	return out, nil
}

// physicalPrefix resolves symbolic links in the literal leading directories
// of an absolute glob, so "/tmp/work/**" still matches when /tmp is a link.
func (r *Resolver) physicalPrefix(p string) string {
	segs := strings.Split(p, "/")
	n := 0
	for n < len(segs) {
		if _, ok := literal(segs[n]); !ok {
			break
		}
		n++
	}
	if n <= 1 {
		return p
	}
	prefix := strings.Join(segs[:n], "/")
	phys, err := r.physical(prefix)
	if err != nil || phys == prefix {
		return p
	}
	return strings.Join(append([]string{escape(phys)}, segs[n:]...), "/")
}

// cleanGlob folds "//", "/./" and "seg/.." in the literal part of a pattern.
func cleanGlob(p string) string {
	segs := strings.Split(p, "/")
	out := segs[:0]
	for i, s := range segs {
		switch {
		case s == "" && i > 0 && i < len(segs)-1, s == ".":
			continue
		case s == ".." && len(out) > 1 && isLiteral(out[len(out)-1]) && out[len(out)-1] != "..":
			out = out[:len(out)-1]
			continue
		}
		out = append(out, s)
	}
	if len(out) == 1 && out[0] == "" {
		return "/"
	}
	return strings.Join(out, "/")
}

func isLiteral(seg string) bool {
	_, ok := literal(seg)
	return ok
}

// Match reports whether the absolute, clean path p matches.
func (g *Glob) Match(p string) bool {
	if g.fold {
		p = strings.ToLower(p)
	}
	if ok, _ := doublestar.Match(g.anchored, p); ok {
		return true
	}
	if g.tree != "" {
		ok, _ := doublestar.Match(g.tree, p)
		return ok
	}
	return false
}

// String returns the anchored pattern, for traces.
func (g *Glob) String() string { return g.anchored }

// lastLiteral returns the last segment of the anchored pattern that has no
// glob syntax, which every matching path must contain as a whole segment.
func (g *Glob) lastLiteral() (string, bool) {
	segs := strings.Split(g.anchored, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if s, ok := literal(segs[i]); ok && s != "" {
			return s, true
		}
	}
	return "", false
}

// extension returns ".pem" for a glob whose last segment other than "**"
// is "*.pem": every path it matches has a segment ending so.
func (g *Glob) extension() (string, bool) {
	segs := strings.Split(g.anchored, "/")
	last := segs[len(segs)-1]
	ext, ok := strings.CutPrefix(last, "*")
	if !ok || !strings.HasPrefix(ext, ".") || strings.Count(ext, ".") != 1 {
		return "", false
	}
	if lit, ok := literal(ext); ok {
		return lit, true
	}
	return "", false
}

// IsAbsPattern reports whether a glob is written absolute or home-relative.
func IsAbsPattern(p string) bool {
	return filepath.IsAbs(p) || strings.HasPrefix(p, "~")
}
