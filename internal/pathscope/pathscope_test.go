package pathscope

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// project makes a project tree with symbolic links inside and out:
//
//	root/src/a.ts
//	root/.env
//	root/src/out -> <outside>      (a link leaving the project)
//	root/src/up  -> ..             (a link to the root)
//	root/link-env -> .env
//	outside/secret
func project(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "src"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(root, "src", "a.ts"), filepath.Join(root, ".env"), filepath.Join(outside, "secret")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(root, "src", "out"): outside,
		filepath.Join(root, "src", "up"):  "..",
		filepath.Join(root, "link-env"):   ".env",
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestResolve(t *testing.T) {
	root, outside := project(t)
	r, err := NewResolver(root, "/home/agent")
	if err != nil {
		t.Fatal(err)
	}
	root = r.Root
	outside, _ = filepath.EvalSymlinks(outside)
	for _, tc := range []struct {
		in, base string
		want     Path
	}{
		{in: "src/a.ts", want: Path{root + "/src/a.ts", root + "/src/a.ts"}},
		{in: "./src/a.ts", want: Path{root + "/src/a.ts", root + "/src/a.ts"}},
		{in: ".//src///a.ts", want: Path{root + "/src/a.ts", root + "/src/a.ts"}},
		{in: "src/../.env", want: Path{root + "/.env", root + "/.env"}},
		{in: "src/./../.env/", want: Path{root + "/.env", root + "/.env"}},
		{in: root + "/src/a.ts", want: Path{root + "/src/a.ts", root + "/src/a.ts"}},
		{in: "/etc/../etc/passwd", want: Path{"/etc/passwd", "/etc/passwd"}},
		{in: "src/out/secret", want: Path{root + "/src/out/secret", outside + "/secret"}},
		// ".." after a link goes to the link target's parent, as the kernel does.
		{in: "src/out/../x", want: Path{root + "/src/x", filepath.Dir(outside) + "/x"}},
		{in: "src/up/.env", want: Path{root + "/src/up/.env", root + "/.env"}},
		{in: "link-env", want: Path{root + "/link-env", root + "/.env"}},
		{in: "missing/../../x", want: Path{filepath.Dir(root) + "/x", filepath.Dir(root) + "/x"}},
		{in: "~/.aws/credentials", want: Path{"/home/agent/.aws/credentials", "/home/agent/.aws/credentials"}},
		{in: "a.ts", base: root + "/src", want: Path{root + "/src/a.ts", root + "/src/a.ts"}},
		{in: "src/a.ts/more", want: Path{root + "/src/a.ts/more", root + "/src/a.ts/more"}},
	} {
		got, err := r.Resolve(tc.in, tc.base)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Resolve(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	root, _ := project(t)
	if err := os.Symlink("loop2", filepath.Join(root, "loop1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop1", filepath.Join(root, "loop2")); err != nil {
		t.Fatal(err)
	}
	r, err := NewResolver(root, "/home/agent")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"", "a\x00b", "~root/.ssh/id_rsa", "loop1/x", string(make([]byte, MaxPathLen+1))} {
		if _, err := r.Resolve(in, ""); err == nil {
			t.Errorf("Resolve(%q) succeeded, want an error", in)
		}
	}
}

func TestGlob(t *testing.T) {
	r := &Resolver{Root: "/work/p[1]", Home: "/home/agent"}
	for _, tc := range []struct {
		pattern string
		fold    bool
		path    string
		want    bool
	}{
		{"./src/**", false, "/work/p[1]/src/a.ts", true},
		{"src/**", false, "/work/p[1]/src/a.ts", true},
		{"./src/**", false, "/work/p[1]/src", true},
		{"./src/**", false, "/work/p[1]/src/.hidden/x", true},
		{"./src/**", false, "/work/p[1]/srcx/a", false},
		{"./src/**", false, "/work/p[1]/.env", false},
		{"./src/**", false, "/work/p1/src/a.ts", false},
		{"./src/", false, "/work/p[1]/src/deep/a", true},
		{"./**", false, "/work/p[1]", true},
		{"**/.env", true, "/work/p[1]/.env", true},
		{"**/.env", true, "/a/.hidden/.env", true},
		{"**/.env", true, "/.env", true},
		{"**/.env", true, "/work/p[1]/.ENV", true},
		{"**/.env", false, "/work/p[1]/.ENV", false},
		{"**/.env", true, "/work/p[1]/.envrc", false},
		{"**/*.pem", true, "/x/.a.pem", true},
		{"**/credentials*", true, "/home/agent/.aws/credentials", true},
		{"~/.ssh/**", true, "/home/agent/.ssh/id_rsa", true},
		{"/etc/**", false, "/etc/passwd", true},
		{"/etc/**", false, "/etcx/passwd", false},
		{"../shared/**", false, "/work/shared/x", true},
	} {
		g, err := r.Compile(tc.pattern, tc.fold)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pattern, err)
			continue
		}
		if got := g.Match(tc.path); got != tc.want {
			t.Errorf("Compile(%q, fold=%v) [%s].Match(%q) = %v, want %v", tc.pattern, tc.fold, g, tc.path, got, tc.want)
		}
	}
}

func TestGlobErrors(t *testing.T) {
	r := &Resolver{Root: "/p", Home: "/h"}
	for _, p := range []string{"", "src/[a", "src/{a,b", "~bob/x", "a\x00"} {
		if _, err := r.Compile(p, false); err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", p)
		}
	}
}

func TestIndex(t *testing.T) {
	r := &Resolver{Root: "/p", Home: "/h"}
	ix := NewIndex(true)
	patterns := []string{"**/.env", "/etc/**", "**/*.pem", "./secrets/**", "**/.git/config"}
	for _, p := range patterns {
		g, err := r.Compile(p, true)
		if err != nil {
			t.Fatal(err)
		}
		ix.Add(g)
	}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/p/.env", 0},
		{"/p/a/b/.ENV", 0},
		{"/etc/passwd", 1},
		{"/etc/.env", 0},
		{"/p/key.pem", 2},
		{"/p/secrets/x", 3},
		{"/p/SECRETS/x", 3},
		{"/p/sub/.git/config", 4},
		{"/p/src/a.ts", -1},
		{"/p/.envrc", -1},
	} {
		if got := ix.Match(tc.path); got != tc.want {
			t.Errorf("Match(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestIndexTree(t *testing.T) {
	r := &Resolver{Root: "/p", Home: "/h"}
	plain, tree := NewIndex(true), NewIndex(true)
	for _, p := range []string{"**/secrets*", "~/.aws", "**/.env", "**/*.pem"} {
		for _, ix := range []*Index{plain, tree} {
			compile := r.Compile
			if ix == tree {
				compile = r.CompileTree
			}
			g, err := compile(p, true)
			if err != nil {
				t.Fatal(err)
			}
			ix.Add(g)
		}
	}
	for _, tc := range []struct {
		path        string
		plain, tree int
	}{
		{"/p/secrets/key.txt", -1, 0},
		{"/p/a/secrets.d/x/y", -1, 0},
		{"/h/.aws/credentials", -1, 1},
		{"/p/.env/inner", -1, 2},
		{"/p/src/a.ts", -1, -1},
		{"/p/secrets", 0, 0},
		{"/p/certs/A.PEM", 3, 3},
		{"/p/certs.pem/x", -1, 3},
		{"/p/certs.pemx", -1, -1},
	} {
		if got := plain.Match(tc.path); got != tc.plain {
			t.Errorf("Match(%q) = %d, want %d", tc.path, got, tc.plain)
		}
		if got := tree.Match(tc.path); got != tc.tree {
			t.Errorf("tree Match(%q) = %d, want %d", tc.path, got, tc.tree)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/a/b", "/a", true}, {"/a", "/a", true}, {"/ab", "/a", false}, {"/x", "/", true},
	} {
		if got := Within(tc.p, tc.dir); got != tc.want {
			t.Errorf("Within(%q, %q) = %v", tc.p, tc.dir, got)
		}
	}
}
