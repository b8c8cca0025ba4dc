package gateway

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

// snapshotTree reads every regular file under dir (but .git), by path.
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, _ := os.ReadFile(p)
		fi, _ := d.Info()
		out[rel] = fi.Mode().String() + " " + string(b)
		return nil
	})
	return out
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// A session of every kind of change through the built-in executors, then
// one rollback: the project is exactly as it was, git history included,
// and the user's uncommitted work survives.
func TestSessionRollbackRestoresEverything(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	root := t.TempDir()
	bin := make([]byte, 4096)
	rand.Read(bin)
	bin[10] = 0
	for name, body := range map[string][]byte{
		"src/notes.txt": []byte("original notes\n"), "src/blob.bin": bin, "src/gone.txt": []byte("delete me\n"),
		"src/move.txt": []byte("moving\n"), "src/copy.txt": []byte("copied\n"), "src/over.txt": []byte("to be overwritten by the archive\n"),
		"README.md": []byte("# project\n"), "src/user-wip.txt": []byte("committed\n"),
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(root, name), body, 0o644)
	}
	git(t, root, "init", "-q", "-b", "main")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "initial")
	// The user's own uncommitted work, which nothing may lose.
	os.WriteFile(filepath.Join(root, "src/user-wip.txt"), []byte("work in progress\n"), 0o644)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for name, body := range map[string]string{"over.txt": "from the archive\n", "new/inner.txt": "new\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	os.WriteFile(filepath.Join(root, "in.tar"), archive.Bytes(), 0o644)
	git(t, root, "add", "in.tar")
	git(t, root, "commit", "-q", "-m", "archive")
	head := git(t, root, "rev-parse", "HEAD")
	before := snapshotTree(t, root)

	g := New(Config{Store: NewMemStore()})
	s, err := g.CreateSession(ctx, CreateRequest{Root: root, Policy: []byte(`
name: everything
capabilities:
  - {tool: file:write, scope: {paths: ["./**"]}}
  - {tool: file:delete, scope: {paths: ["./**"]}}
  - {tool: file:move, scope: {paths: ["./**"]}}
  - {tool: file:copy, scope: {paths: ["./**"]}}
  - {tool: file:read, scope: {paths: ["./**"]}}
  - {tool: directory:create, scope: {paths: ["./**"]}}
  - {tool: archive:extract, scope: {paths: ["./**"]}}
  - {tool: git:commit, scope: {repos: ["."]}}
  - {tool: git:apply, scope: {repos: ["."]}}
forbidden:
  - {pattern: "**/.env"}
`)})
	if err != nil {
		t.Fatal(err)
	}
	bin2 := append([]byte{0, 1, 2}, bin[:100]...)
	steps := []warden.Action{
		{Tool: "file:write", Input: map[string]any{"path": "src/notes.txt", "content": "one\n"}},
		{Tool: "file:write", Input: map[string]any{"path": "src/notes.txt", "content": "two\n"}},
		{Tool: "file:write", Input: map[string]any{"path": "src/notes.txt", "content": "three\n"}},
		{Tool: "file:write", Input: map[string]any{"path": "src/notes.txt", "content": "four\n"}},
		{Tool: "file:write", Input: map[string]any{"path": "src/notes.txt", "content": "five\n"}},
		{Tool: "file:write", Input: map[string]any{"path": "src/blob.bin", "content": "AAEC", "encoding": "base64"}},
		{Tool: "file:write", Input: map[string]any{"path": "src/blob.bin", "content": hex.EncodeToString(bin2), "encoding": "hex"}},
		{Tool: "file:delete", Input: map[string]any{"path": "src/gone.txt"}},
		{Tool: "file:move", Input: map[string]any{"source": "src/move.txt", "destination": "src/moved.txt"}},
		{Tool: "directory:create", Input: map[string]any{"path": "src/a/b/c"}},
		{Tool: "file:copy", Input: map[string]any{"source": "src/copy.txt", "destination": "src/copy2.txt"}},
		{Tool: "archive:extract", Input: map[string]any{"archive": "in.tar", "destination": "src"}},
		{Tool: "git:apply", Input: map[string]any{"repo": ".", "patch": "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # project\n+patched\n"}},
		{Tool: "git:commit", Input: map[string]any{"repo": ".", "message": "agent commit", "paths": []any{"README.md"}}},
	}
	for _, a := range steps {
		x, err := g.Execute(ctx, s.ID, a, ExecuteOptions{})
		if err != nil {
			t.Fatalf("%s %v: %v", a.Tool, a.Input, err)
		}
		if !x.Executed || !x.Result.Success {
			t.Fatalf("%s %v: %+v %+v", a.Tool, a.Input, x.Response, x.Result)
		}
	}
	if snapshotTree(t, root)["src/notes.txt"] != "-rw-r--r-- five\n" {
		t.Fatalf("the writes did not happen: %q", snapshotTree(t, root)["src/notes.txt"])
	}
	rep, err := g.Rollback(ctx, s.ID, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 {
		t.Fatalf("rollback failures: %+v", rep.Steps)
	}
	if diff := cmp.Diff(before, snapshotTree(t, root)); diff != "" {
		t.Fatalf("the project after rollback (-before +after):\n%s", diff)
	}
	if got := git(t, root, "rev-parse", "HEAD"); got != head {
		t.Fatalf("HEAD %s, want %s", got, head)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "src/user-wip.txt")); string(got) != "work in progress\n" {
		t.Fatalf("the user's uncommitted work was lost: %q", got)
	}
}
