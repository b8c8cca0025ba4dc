package executor

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

// dirTestPaths lists the paths of a listing's entries, with their types.
func dirTestPaths(t *testing.T, out *Outcome) []string {
	t.Helper()
	res := out.Output.(listResult)
	paths := []string{}
	for _, e := range res.Entries {
		paths = append(paths, e.Path+" "+e.Type)
	}
	if res.Count != len(res.Entries) {
		t.Fatalf("count %d for %d entries", res.Count, len(res.Entries))
	}
	return paths
}

func TestDirectoryList(t *testing.T) {
	env := newTestEnv(t, fileTestPolicy)
	writeFile(t, env, "a.txt", "aaa")
	writeFile(t, env, "b.go", "package b")
	writeFile(t, env, "subdir/deep.txt", "d")
	writeFile(t, env, "subdir/more/deeper.go", "package more")
	writeFile(t, env, "subdir/.env", "SECRET=1")
	writeFile(t, env, ".env", "SECRET=1")
	writeFile(t, env, "private/key.pem", "k")
	writeFile(t, env, "three/one.txt", "1")
	writeFile(t, env, "three/two.txt", "2")
	writeFile(t, env, "three/sub/hidden-by-depth.txt", "")
	fileTestSymlink(t, env, "a.txt", "link")
	fileTestSymlink(t, env, "subdir", "linkdir")
	fileTestSymlink(t, env, ".env", "envlink")

	tests := []struct {
		name string
		in   Input
		want []string
	}{
		{"two files and a subdirectory", Input{"path": "three"},
			[]string{"three/one.txt file", "three/sub directory", "three/two.txt file"}},
		{"the root, without .env, private or a link to .env", Input{"path": "."},
			[]string{"a.txt file", "b.go file", "link symlink", "linkdir symlink", "subdir directory", "three directory"}},
		{"recursive, links not followed", Input{"path": ".", "recursive": true},
			[]string{"a.txt file", "b.go file", "link symlink", "linkdir symlink", "subdir directory", "subdir/deep.txt file",
				"subdir/more directory", "subdir/more/deeper.go file", "three directory", "three/one.txt file", "three/sub directory",
				"three/sub/hidden-by-depth.txt file", "three/two.txt file"}},
		{"maxDepth", Input{"path": ".", "recursive": true, "maxDepth": 2, "pattern": "**/*.txt"},
			[]string{"a.txt file", "subdir/deep.txt file", "three/one.txt file", "three/two.txt file"}},
		{"maxDepth is ignored without recursive", Input{"path": "subdir", "maxDepth": 3},
			[]string{"subdir/deep.txt file", "subdir/more directory"}},
		{"a pattern without / matches names", Input{"path": ".", "recursive": true, "pattern": "*.go"},
			[]string{"b.go file", "subdir/more/deeper.go file"}},
		{"a pattern with / matches paths below the listed directory", Input{"path": "subdir", "recursive": true, "pattern": "more/*"},
			[]string{"subdir/more/deeper.go file"}},
		{"a doublestar pattern", Input{"path": ".", "recursive": true, "pattern": "**/d*.{txt,go}"},
			[]string{"subdir/deep.txt file", "subdir/more/deeper.go file"}},
		{"a pattern that matches nothing", Input{"path": ".", "pattern": "*.rs"}, []string{}},
		{"through the absolute path", Input{"path": filepath.Join(env.Dir, "subdir", "more")},
			[]string{"subdir/more/deeper.go file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := fileTestMust(t, env, "directory:list", tc.in)
			if diff := cmp.Diff(tc.want, dirTestPaths(t, out)); diff != "" {
				t.Fatalf("entries (-want +got):\n%s", diff)
			}
			if out.Undo != nil || out.Output.(listResult).Truncated {
				t.Fatalf("undo %s, truncated %v", out.Undo, out.Output.(listResult).Truncated)
			}
		})
	}

	t.Run("entries", func(t *testing.T) {
		out := fileTestMust(t, env, "directory:list", Input{"path": ".", "pattern": "{a.txt,link,three}"})
		want := listResult{Path: ".", Count: 3, Entries: []listEntry{
			{Name: "a.txt", Path: "a.txt", Type: "file", Size: 3},
			{Name: "link", Path: "link", Type: "symlink"},
			{Name: "three", Path: "three", Type: "directory"},
		}}
		if diff := cmp.Diff(want, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
	})

	t.Run("failures", func(t *testing.T) {
		tests := []struct {
			name string
			in   Input
			code warden.Code
			msg  string
		}{
			{"missing", Input{"path": "nope"}, warden.CodeNotFound, "does not exist"},
			{"a file", Input{"path": "a.txt"}, warden.CodeInvalidState, "not a directory"},
			{"outside", Input{"path": "/etc"}, warden.CodeDenied, "outside"},
			{"forbidden", Input{"path": "private"}, warden.CodeDenied, "forbidden"},
			{"maxDepth too deep", Input{"path": ".", "recursive": true, "maxDepth": 21}, warden.CodeInvalidInput, "input.maxDepth"},
			{"bad pattern", Input{"path": ".", "pattern": "[a"}, warden.CodeInvalidInput, "input.pattern"},
			{"unknown field", Input{"path": ".", "depth": 2}, warden.CodeInvalidInput, "unknown field"},
		}
		for _, tc := range tests {
			_, err := fileTestExec(t, env, "directory:list", tc.in)
			t.Run(tc.name, func(t *testing.T) { fileTestErr(t, err, tc.code, tc.msg) })
		}
	})

	t.Run("dry run and rollback", func(t *testing.T) {
		a := fileTestAdapter(t, "directory:list")
		plan, err := a.DryRun(bg, env, Input{"path": "subdir", "recursive": true, "pattern": "*.go"})
		if err != nil || !strings.Contains(plan.WouldDo, "List directory subdir recursively") || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = a.DryRun(bg, env, Input{"path": "a.txt"})
		if err != nil || len(plan.Warnings) != 1 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		if err := a.Rollback(bg, env, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDirectoryListTruncates(t *testing.T) {
	env := newTestEnv(t, fileTestPolicy)
	dir := filepath.Join(env.Dir, "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range maxListEntries + 5 {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(100000+i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := fileTestMust(t, env, "directory:list", Input{"path": "many"}).Output.(listResult)
	if !res.Truncated || res.Count != maxListEntries || res.Entries[maxListEntries-1].Name != strconv.Itoa(100000+maxListEntries-1) {
		t.Fatalf("truncated %v, count %d", res.Truncated, res.Count)
	}
	res = fileTestMust(t, env, "directory:list", Input{"path": "many", "pattern": "10000?"}).Output.(listResult)
	if res.Truncated || res.Count != 10 {
		t.Fatalf("with a pattern: truncated %v, count %d", res.Truncated, res.Count)
	}
}

func TestDirectoryCreate(t *testing.T) {
	t.Run("create and roll back", func(t *testing.T) {
		tests := []struct {
			name    string
			path    string
			created []string
		}{
			{"one", "newdir", []string{"newdir"}},
			{"nested", "a/b/c", []string{"a", "a/b", "a/b/c"}},
			{"below an existing one", "existing/sub", []string{"existing/sub"}},
			{"through a link, recorded where it really is", "linkdir/x/y", []string{"existing/x", "existing/x/y"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				env := newTestEnv(t, fileTestPolicy)
				writeFile(t, env, "existing/f", "")
				fileTestSymlink(t, env, "existing", "linkdir")
				tree := fileTestTree(t, env.Dir)
				out := fileTestMust(t, env, "directory:create", Input{"path": tc.path})
				if fi, err := os.Stat(filepath.Join(env.Dir, tc.path)); err != nil || !fi.IsDir() {
					t.Fatalf("not created: %v", err)
				}
				want := createResult{Path: tc.path, Created: true, Directories: tc.created}
				if diff := cmp.Diff(want, out.Output); diff != "" {
					t.Fatalf("output (-want +got):\n%s", diff)
				}
				if !slices.Equal(out.FilesChanged, tc.created) {
					t.Fatalf("files changed %v", out.FilesChanged)
				}
				fileTestRollback(t, env, "directory:create", out)
				fileTestRollback(t, env, "directory:create", out)
				if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
					t.Fatalf("tree after rollback (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("existing", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "dir/file", "")
		out := fileTestMust(t, env, "directory:create", Input{"path": "dir"})
		if diff := cmp.Diff(createResult{Path: "dir", Reason: "directory already exists"}, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
		if out.Undo != nil || out.FilesChanged != nil {
			t.Fatalf("nothing was created, yet undo %s, files %v", out.Undo, out.FilesChanged)
		}
		_, err := fileTestExec(t, env, "directory:create", Input{"path": "dir/file"})
		fileTestErr(t, err, warden.CodeConflict, "dir/file exists and is not a directory")
		_, err = fileTestExec(t, env, "directory:create", Input{"path": "dir/file/sub"})
		fileTestErr(t, err, warden.CodeConflict, "not a directory")
	})

	t.Run("not recursive", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		_, err := fileTestExec(t, env, "directory:create", Input{"path": "p/q", "recursive": false})
		fileTestErr(t, err, warden.CodeNotFound, "parent directory p does not exist")
		fileTestMust(t, env, "directory:create", Input{"path": "p", "recursive": false})
		fileTestMust(t, env, "directory:create", Input{"path": "p/q", "recursive": false})
	})

	t.Run("forbidden", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		for _, p := range []string{"private", "x/private/y", ".env", "/tmp/elsewhere"} {
			_, err := fileTestExec(t, env, "directory:create", Input{"path": p})
			fileTestErr(t, err, warden.CodeDenied, "")
		}
		if entries, _ := os.ReadDir(env.Dir); len(entries) != 0 {
			t.Fatalf("refused creations left %v", entries)
		}
	})

	t.Run("rollback leaves a directory that is not empty", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		out := fileTestMust(t, env, "directory:create", Input{"path": "rollback-dir/sub"})
		writeFile(t, env, "rollback-dir/sub/later.txt", "added later")
		err := fileTestAdapter(t, "directory:create").Rollback(bg, env, out.Undo)
		fileTestErr(t, err, warden.CodeInvalidState, "rollback-dir/sub is not empty")
		if got := readFile(t, env, "rollback-dir/sub/later.txt"); got != "added later" {
			t.Fatalf("a file created later was lost: %q", got)
		}
		if err := os.Remove(filepath.Join(env.Dir, "rollback-dir/sub/later.txt")); err != nil {
			t.Fatal(err)
		}
		fileTestRollback(t, env, "directory:create", out)
		if entries, _ := os.ReadDir(env.Dir); len(entries) != 0 {
			t.Fatalf("rollback left %v", entries)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "f", "")
		a := fileTestAdapter(t, "directory:create")
		plan, err := a.DryRun(bg, env, Input{"path": "a/b"})
		if err != nil || !strings.Contains(plan.WouldDo, "Create directory a/b") || !slices.Equal(plan.Changes, []string{"a", "a/b"}) || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		for _, in := range []Input{{"path": "f"}, {"path": "."}, {"path": "a/b", "recursive": false}} {
			if plan, err := a.DryRun(bg, env, in); err != nil || len(plan.Warnings) != 1 || len(plan.Changes) != 0 {
				t.Fatalf("%v: plan %+v, %v", in, plan, err)
			}
		}
		if entries, _ := os.ReadDir(env.Dir); len(entries) != 1 {
			t.Fatalf("a dry run changed the root: %v", entries)
		}
	})
}
