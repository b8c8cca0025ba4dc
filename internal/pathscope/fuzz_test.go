package pathscope

import (
	"strings"
	"testing"
)

// FuzzResolveMatch checks that resolution and matching never panic, that a
// resolved path is absolute and clean, and that a forbidden "**/.env" rule
// matches every spelling that resolves to a file named .env.
func FuzzResolveMatch(f *testing.F) {
	for _, s := range []string{"./.env", "src/../.env", "a/.hidden/.env", ".//.env/", "~/.env", "/etc/passwd", "..", "~", "a\\b", "./src/**", "[", "~x"} {
		f.Add(s, "**/.env")
	}
	root := f.TempDir()
	r, err := NewResolver(root, root+"/home")
	if err != nil {
		f.Fatal(err)
	}
	g, err := r.Compile("**/.env", true)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p, pattern string) {
		if cg, err := r.Compile(pattern, true); err == nil {
			cg.Match(p)
		}
		got, err := r.Resolve(p, "")
		if err != nil {
			return
		}
		for _, form := range []string{got.Lexical, got.Physical} {
			if !strings.HasPrefix(form, "/") || strings.Contains(form, "//") || strings.Contains(form+"/", "/./") || strings.Contains(form+"/", "/../") {
				t.Fatalf("Resolve(%q) = %q: not absolute and clean", p, form)
			}
			if strings.HasSuffix(strings.ToLower(form), "/.env") && !g.Match(form) {
				t.Fatalf("**/.env does not match %q (from %q)", form, p)
			}
		}
	})
}
