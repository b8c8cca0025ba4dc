package pathscope

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxPathLen bounds the length of a path accepted for resolution.
const MaxPathLen = 4096

// maxLinks is the number of symbolic links followed before giving up, as
// Linux does.
const maxLinks = 40

// Resolver resolves paths against a project root.
type Resolver struct {
	// Root is the absolute, physical project root.
	Root string
	// Home is the absolute home directory used for "~".
	Home string
	// Fold reports whether the file system under Root compares names
	// case-insensitively.
	Fold bool
}

// NewResolver returns a Resolver for root (made absolute and physical) and
// home (the current user's home directory when empty).
func NewResolver(root, home string) (*Resolver, error) {
	if root == "" {
		root = "."
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("project root %q: %w", root, err)
	}
	if home == "" {
		home, _ = os.UserHomeDir()
		if home == "" {
			home = "/nonexistent-home"
		}
	}
	r := &Resolver{Home: filepath.Clean(home)}
	r.Root = "/"
	phys, err := r.physical(abs)
	if err != nil {
		return nil, fmt.Errorf("project root %q: %w", root, err)
	}
	r.Root = phys
	if h, err := r.physical(r.Home); err == nil {
		r.Home = h
	}
	r.Fold = caseInsensitive(r.Root)
	return r, nil
}

// caseInsensitive probes whether dir's file system folds case, by looking
// its own name up with the case swapped.
func caseInsensitive(dir string) bool {
	base := filepath.Base(dir)
	swapped := swapCase(base)
	if swapped == base {
		return false
	}
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(filepath.Join(filepath.Dir(dir), swapped))
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

// Path is a resolved path.
type Path struct {
	// Lexical is absolute and cleaned, with links not followed.
	Lexical string
	// Physical has every existing symbolic link resolved.
	Physical string
}

// Absolute returns p as an absolute, unresolved path: "~" expanded, relative
// paths joined to base (the project root when base is empty).
func (r *Resolver) Absolute(p, base string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("path is %d bytes; the limit is %d", len(p), MaxPathLen)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("path contains a NUL byte")
	}
	if strings.HasPrefix(p, "~") {
		rest := p[1:]
		if rest != "" && rest[0] != '/' {
			return "", fmt.Errorf("path %q names another user's home directory", p)
		}
		return r.Home + rest, nil
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	if base == "" {
		base = r.Root
	}
	return base + "/" + p, nil
}

// Resolve resolves p, relative to base when p is relative.
func (r *Resolver) Resolve(p, base string) (Path, error) {
	abs, err := r.Absolute(p, base)
	if err != nil {
		return Path{}, err
	}
	phys, err := r.physical(abs)
	if err != nil {
		return Path{}, fmt.Errorf("path %q: %w", p, err)
	}
	return Path{Lexical: filepath.Clean(abs), Physical: phys}, nil
}

// physical walks abs component by component as the kernel does, following
// symbolic links for the components that exist. Once a component does not
// exist the rest is folded lexically: nothing below it exists either.
func (r *Resolver) physical(abs string) (string, error) {
	cur := "/"
	rest := abs
	// Paths under the (already physical) root need not be walked from "/".
	if r.Root != "/" && strings.HasPrefix(abs, r.Root) && (len(abs) == len(r.Root) || abs[len(r.Root)] == '/') {
		cur, rest = r.Root, abs[len(r.Root):]
	}
	links := 0
	exists := true
	for rest != "" {
		var name string
		name, rest, _ = strings.Cut(strings.TrimLeft(rest, "/"), "/")
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := join(cur, name)
		if !exists {
			cur = next
			continue
		}
		fi, err := os.Lstat(next)
		if err != nil {
			// ENOENT, ENOTDIR, EACCES: nothing further can be followed.
			exists = false
			cur = next
			continue
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			if !fi.IsDir() && strings.Trim(rest, "/") != "" {
				exists = false
			}
			continue
		}
		links++
		if links > maxLinks {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(next)
		if err != nil {
			exists = false
			cur = next
			continue
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = target + "/" + rest
	}
	return cur, nil
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// Within reports whether p is dir or below it.
func Within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir) && p[len(dir)] == '/'
}
