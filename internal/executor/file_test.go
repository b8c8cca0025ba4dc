package executor

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

// fileTestPolicy grants every file and directory kind over the whole root
// and forbids .env files and anything under a directory named private.
const fileTestPolicy = `version: "1.0"
name: t
capabilities:
  - {tool: "file:read", scope: {paths: ["./**"]}}
  - {tool: "file:write", scope: {paths: ["./**"]}}
  - {tool: "file:delete", scope: {paths: ["./**"]}}
  - {tool: "file:move", scope: {paths: ["./**"]}}
  - {tool: "file:copy", scope: {paths: ["./**"]}}
  - {tool: "directory:list", scope: {paths: ["./**"]}}
  - {tool: "directory:create", scope: {paths: ["./**"]}}
forbidden:
  - {pattern: "**/.env"}
  - {pattern: "**/private"}
`

func fileTestAdapter(t *testing.T, kind string) Adapter {
	t.Helper()
	for _, a := range fileAdapters() {
		if a.Kind() == kind {
			return a
		}
	}
	t.Fatalf("no adapter for %s", kind)
	return nil
}

// fileTestExec validates and executes, as the gateway does.
func fileTestExec(t *testing.T, env *Env, kind string, in Input) (*Outcome, error) {
	t.Helper()
	a := fileTestAdapter(t, kind)
	if err := a.Validate(in); err != nil {
		return nil, err
	}
	return a.Execute(bg, env, in)
}

func fileTestMust(t *testing.T, env *Env, kind string, in Input) *Outcome {
	t.Helper()
	out, err := fileTestExec(t, env, kind, in)
	if err != nil {
		t.Fatalf("%s %v: %v", kind, in, err)
	}
	return out
}

func fileTestRollback(t *testing.T, env *Env, kind string, out *Outcome) {
	t.Helper()
	if err := fileTestAdapter(t, kind).Rollback(bg, env, out.Undo); err != nil {
		t.Fatalf("rollback %s: %v", kind, err)
	}
}

// fileTestErr checks an error's code and that its message holds substr.
func fileTestErr(t *testing.T, err error, code warden.Code, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%q)", code, substr)
	}
	if got := warden.ErrorCode(err); got != code || !strings.Contains(err.Error(), substr) {
		t.Fatalf("got %s %q, want %s containing %q", got, err, code, substr)
	}
}

func fileTestWriteBytes(t *testing.T, env *Env, rel string, b []byte, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(env.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func fileTestMode(t *testing.T, env *Env, rel string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(env.Dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func fileTestSymlink(t *testing.T, env *Env, target, rel string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(env.Dir, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

// fileTestTree describes every entry under the root: type, mode, and
// content or link target.
func fileTestTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			tree[rel] = "link " + target
		case fi.IsDir():
			tree[rel] = "dir " + fi.Mode().Perm().String()
		default:
			b, _ := os.ReadFile(p)
			tree[rel] = fi.Mode().Perm().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestFileAdaptersKinds(t *testing.T) {
	var kinds []string
	for _, a := range fileAdapters() {
		kinds = append(kinds, a.Kind())
	}
	sort.Strings(kinds)
	want := []string{"directory:create", "directory:list", "file:copy", "file:delete", "file:move", "file:read", "file:write"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("kinds (-want +got):\n%s", diff)
	}
}

// TestFilePolicyScenarios covers det-acp's "validates allow/deny" cases:
// Validate checks the shape only, the policy decides, and Execute refuses
// what the policy forbids even when it gets that far.
func TestFilePolicyScenarios(t *testing.T) {
	env := newTestEnv(t, fileTestPolicy)
	writeFile(t, env, "test.txt", "x")
	writeFile(t, env, ".env", "SECRET=1")
	abs := func(rel string) string { return filepath.Join(env.Dir, rel) }
	tests := []struct {
		kind   string
		in     Input
		denied bool
	}{
		{"file:read", Input{"path": abs("test.txt")}, false},
		{"file:read", Input{"path": "/etc/passwd"}, true},
		{"file:read", Input{"path": abs(".env")}, true},
		{"file:write", Input{"path": abs("out.txt"), "content": "x"}, false},
		{"file:delete", Input{"path": abs("test.txt")}, false},
		{"file:delete", Input{"path": "/etc/passwd"}, true},
		{"file:delete", Input{"path": abs(".env")}, true},
		{"directory:list", Input{"path": abs("subdir")}, false},
		{"directory:list", Input{"path": "/etc"}, true},
		{"directory:create", Input{"path": abs("newdir")}, false},
	}
	for _, tc := range tests {
		if err := fileTestAdapter(t, tc.kind).Validate(tc.in); err != nil {
			t.Errorf("%s %v: Validate: %v", tc.kind, tc.in, err)
		}
		err := env.Check(bg, tc.kind, tc.in)
		if got := warden.ErrorCode(err) == warden.CodeDenied; got != tc.denied {
			t.Errorf("%s %v: policy check %v, want denied=%v", tc.kind, tc.in, err, tc.denied)
		}
		if tc.denied {
			_, err := fileTestAdapter(t, tc.kind).Execute(bg, env, tc.in)
			fileTestErr(t, err, warden.CodeDenied, "")
		}
	}
	if got := readFile(t, env, ".env"); got != "SECRET=1" {
		t.Fatalf(".env = %q", got)
	}
}

func TestFileRead(t *testing.T) {
	env := newTestEnv(t, fileTestPolicy)
	writeFile(t, env, "test.txt", "Hello World")
	writeFile(t, env, ".env", "SECRET=1")
	writeFile(t, env, "dir/x", "")
	bin := []byte{0, 1, 2, 0xff, 0xfe, 'a', 0}
	fileTestWriteBytes(t, env, "bin.dat", bin, 0o644)
	hello := readResult{Path: "test.txt", Content: "Hello World", Size: 11, Encoding: "utf-8", Length: 11}
	tests := []struct {
		name string
		in   Input
		want readResult
		code warden.Code
		msg  string
	}{
		{name: "utf-8", in: Input{"path": "test.txt"}, want: hello},
		{name: "absolute path in the root", in: Input{"path": filepath.Join(env.Dir, "test.txt")}, want: hello},
		{name: "base64", in: Input{"path": "bin.dat", "encoding": "base64"},
			want: readResult{Path: "bin.dat", Content: base64.StdEncoding.EncodeToString(bin), Size: 7, Encoding: "base64", Length: 7}},
		{name: "hex", in: Input{"path": "bin.dat", "encoding": "hex"},
			want: readResult{Path: "bin.dat", Content: hex.EncodeToString(bin), Size: 7, Encoding: "hex", Length: 7}},
		{name: "offset and length", in: Input{"path": "test.txt", "offset": 6, "length": 5},
			want: readResult{Path: "test.txt", Content: "World", Size: 11, Encoding: "utf-8", Offset: 6, Length: 5}},
		{name: "offset past the end", in: Input{"path": "test.txt", "offset": 100.0},
			want: readResult{Path: "test.txt", Size: 11, Encoding: "utf-8", Offset: 11}},
		{name: "binary as utf-8 is refused, not mangled", in: Input{"path": "bin.dat"}, code: warden.CodeInvalidInput, msg: `encoding "base64"`},
		{name: "missing", in: Input{"path": "nope.txt"}, code: warden.CodeNotFound, msg: "does not exist"},
		{name: "forbidden", in: Input{"path": ".env"}, code: warden.CodeDenied, msg: "forbidden"},
		{name: "outside the root", in: Input{"path": "/etc/passwd"}, code: warden.CodeDenied, msg: "outside the project root"},
		{name: "leaves the root", in: Input{"path": "dir/../../x"}, code: warden.CodeDenied, msg: "leaves the project root"},
		{name: "directory", in: Input{"path": "dir"}, code: warden.CodeInvalidState, msg: "is a directory"},
		{name: "unknown field", in: Input{"path": "test.txt", "lenght": 3}, code: warden.CodeInvalidInput, msg: "input.lenght: unknown field"},
		{name: "bad encoding", in: Input{"path": "test.txt", "encoding": "utf-16"}, code: warden.CodeInvalidInput, msg: "input.encoding"},
		{name: "length over the cap", in: Input{"path": "test.txt", "length": MaxCapture + 1}, code: warden.CodeInvalidInput, msg: "input.length"},
		{name: "path required", in: Input{}, code: warden.CodeInvalidInput, msg: "input.path: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := fileTestExec(t, env, "file:read", tc.in)
			if tc.code != "" {
				fileTestErr(t, err, tc.code, tc.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.Output); diff != "" {
				t.Fatalf("output (-want +got):\n%s", diff)
			}
			if out.Undo != nil || len(out.FilesChanged) != 0 {
				t.Fatalf("a read changed something: undo %s, files %v", out.Undo, out.FilesChanged)
			}
		})
	}

	t.Run("one checksum artifact of the raw bytes, with no path", func(t *testing.T) {
		out := fileTestMust(t, env, "file:read", Input{"path": "bin.dat", "encoding": "base64"})
		want := []warden.Artifact{{Type: "checksum", Value: Checksum(bin), Description: "content of bin.dat"}}
		if diff := cmp.Diff(want, out.Artifacts); diff != "" {
			t.Fatalf("artifacts (-want +got):\n%s", diff)
		}
		if out.OutputBytes != int64(len(bin)) {
			t.Fatalf("OutputBytes = %d", out.OutputBytes)
		}
	})

	t.Run("larger than MaxCapture", func(t *testing.T) {
		big := filepath.Join(env.Dir, "big.bin")
		if err := os.WriteFile(big, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(big, MaxCapture+1); err != nil {
			t.Fatal(err)
		}
		_, err := fileTestExec(t, env, "file:read", Input{"path": "big.bin", "encoding": "hex"})
		fileTestErr(t, err, warden.CodeTooLarge, "offset and length")
		out := fileTestMust(t, env, "file:read", Input{"path": "big.bin", "encoding": "hex", "offset": MaxCapture - 1, "length": 4})
		want := readResult{Path: "big.bin", Content: "0000", Size: MaxCapture + 1, Encoding: "hex", Offset: MaxCapture - 1, Length: 2}
		if diff := cmp.Diff(want, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
	})

	t.Run("dry run and rollback", func(t *testing.T) {
		a := fileTestAdapter(t, "file:read")
		plan, err := a.DryRun(bg, env, Input{"path": "test.txt"})
		if err != nil || !strings.Contains(plan.WouldDo, "Read file") || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = a.DryRun(bg, env, Input{"path": "nope.txt"})
		if err != nil || len(plan.Warnings) == 0 {
			t.Fatalf("plan for a missing file %+v, %v: want a warning", plan, err)
		}
		if err := a.Rollback(bg, env, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFileWrite(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		out := fileTestMust(t, env, "file:write", Input{"path": "new.txt", "content": "Hello"})
		if got := readFile(t, env, "new.txt"); got != "Hello" {
			t.Fatalf("content %q", got)
		}
		if diff := cmp.Diff(writeResult{Path: "new.txt", BytesWritten: 5, Created: true}, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"new.txt"}, out.FilesChanged); diff != "" {
			t.Fatalf("files changed (-want +got):\n%s", diff)
		}
		if out.OutputBytes != 5 || fileTestMode(t, env, "new.txt") != 0o644 {
			t.Fatalf("OutputBytes %d, mode %v", out.OutputBytes, fileTestMode(t, env, "new.txt"))
		}
		fileTestRollback(t, env, "file:write", out)
		if got := readFile(t, env, "new.txt"); got != "<missing>" {
			t.Fatalf("after rollback: %q", got)
		}
	})

	t.Run("overwrite, evidence, rollback restores content and mode", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		fileTestWriteBytes(t, env, "f.txt", []byte("Original\n"), 0o640)
		before, _ := os.Stat(filepath.Join(env.Dir, "f.txt"))
		out := fileTestMust(t, env, "file:write", Input{"path": "f.txt", "content": "Modified\n"})
		if got := readFile(t, env, "f.txt"); got != "Modified\n" {
			t.Fatalf("content %q", got)
		}
		if m := fileTestMode(t, env, "f.txt"); m != 0o640 {
			t.Fatalf("mode %v, want the replaced file's 0640", m)
		}
		after, _ := os.Stat(filepath.Join(env.Dir, "f.txt"))
		if os.SameFile(before, after) {
			t.Fatal("the file was rewritten in place, not replaced atomically")
		}
		var types []string
		for _, a := range out.Artifacts {
			types = append(types, a.Type+":"+a.Description)
			if a.Type == "diff" && (!strings.Contains(a.Value, "-Original") || !strings.Contains(a.Value, "+Modified")) {
				t.Fatalf("diff %q", a.Value)
			}
		}
		if diff := cmp.Diff([]string{"checksum:before", "checksum:after", "diff:"}, types); diff != "" {
			t.Fatalf("artifacts (-want +got):\n%s", diff)
		}
		fileTestRollback(t, env, "file:write", out)
		if got, m := readFile(t, env, "f.txt"), fileTestMode(t, env, "f.txt"); got != "Original\n" || m != 0o640 {
			t.Fatalf("after rollback: %q %v", got, m)
		}
		entries, _ := os.ReadDir(env.Dir)
		if len(entries) != 1 {
			t.Fatalf("temporary files left behind: %v", entries)
		}
	})

	t.Run("binary content, base64 and hex", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		bin := []byte{0, 0xff, 0, 'x', 0x80, 0}
		fileTestMust(t, env, "file:write", Input{"path": "a.bin", "content": base64.StdEncoding.EncodeToString(bin), "encoding": "base64"})
		fileTestMust(t, env, "file:write", Input{"path": "b.bin", "content": hex.EncodeToString(bin), "encoding": "hex"})
		for _, f := range []string{"a.bin", "b.bin"} {
			if got := readFile(t, env, f); got != string(bin) {
				t.Fatalf("%s = %x", f, got)
			}
		}
	})

	t.Run("mode", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		fileTestMust(t, env, "file:write", Input{"path": "run.sh", "content": "#!/bin/sh\n", "mode": "0750"})
		if m := fileTestMode(t, env, "run.sh"); m != 0o750 {
			t.Fatalf("mode %v", m)
		}
	})

	t.Run("createDirs", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "a/keep.txt", "k")
		tree := fileTestTree(t, env.Dir)
		_, err := fileTestExec(t, env, "file:write", Input{"path": "a/b/c/f.txt", "content": "x"})
		fileTestErr(t, err, warden.CodeNotFound, "set createDirs")
		if got := readFile(t, env, "a/b"); got != "<missing>" {
			t.Fatal("a refused write created a directory")
		}
		out := fileTestMust(t, env, "file:write", Input{"path": "a/b/c/f.txt", "content": "x", "createDirs": true})
		if diff := cmp.Diff([]string{"a/b", "a/b/c", "a/b/c/f.txt"}, out.FilesChanged); diff != "" {
			t.Fatalf("files changed (-want +got):\n%s", diff)
		}
		fileTestRollback(t, env, "file:write", out)
		fileTestRollback(t, env, "file:write", out) // idempotent
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "dir/x", "")
		writeFile(t, env, "file", "f")
		writeFile(t, env, ".env", "SECRET=1")
		tree := fileTestTree(t, env.Dir)
		tests := []struct {
			name string
			in   Input
			code warden.Code
			msg  string
		}{
			{"a directory", Input{"path": "dir", "content": "x"}, warden.CodeConflict, "is a directory"},
			{"through a file", Input{"path": "file/x", "content": "x", "createDirs": true}, warden.CodeConflict, "not a directory"},
			{"forbidden", Input{"path": ".env", "content": "x"}, warden.CodeDenied, "forbidden"},
			{"forbidden directory created on the way", Input{"path": "private/x", "content": "x", "createDirs": true}, warden.CodeDenied, "forbidden"},
			{"content required", Input{"path": "x"}, warden.CodeInvalidInput, "input.content: required"},
			{"bad base64", Input{"path": "x", "content": "!!", "encoding": "base64"}, warden.CodeInvalidInput, "not valid base64"},
			{"bad mode", Input{"path": "x", "content": "", "mode": "0999"}, warden.CodeInvalidInput, "input.mode"},
			{"mode as a number", Input{"path": "x", "content": "", "mode": 420}, warden.CodeInvalidInput, "input.mode"},
		}
		for _, tc := range tests {
			_, err := fileTestExec(t, env, "file:write", tc.in)
			t.Run(tc.name, func(t *testing.T) { fileTestErr(t, err, tc.code, tc.msg) })
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("refused writes changed the tree (-want +got):\n%s", diff)
		}
	})

	t.Run("empty content", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "f", "something")
		out := fileTestMust(t, env, "file:write", Input{"path": "f", "content": ""})
		if got := readFile(t, env, "f"); got != "" {
			t.Fatalf("content %q", got)
		}
		fileTestRollback(t, env, "file:write", out)
		if got := readFile(t, env, "f"); got != "something" {
			t.Fatalf("after rollback %q", got)
		}
	})

	t.Run("through a link inside the root", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "real.txt", "old")
		fileTestSymlink(t, env, "real.txt", "alias.txt")
		out := fileTestMust(t, env, "file:write", Input{"path": "alias.txt", "content": "new"})
		if got := readFile(t, env, "real.txt"); got != "new" {
			t.Fatalf("real.txt = %q", got)
		}
		if target, _ := os.Readlink(filepath.Join(env.Dir, "alias.txt")); target != "real.txt" {
			t.Fatalf("the link was replaced: %q", target)
		}
		if diff := cmp.Diff([]string{"real.txt"}, out.FilesChanged); diff != "" {
			t.Fatalf("files changed (-want +got):\n%s", diff)
		}
		fileTestRollback(t, env, "file:write", out)
		if got := readFile(t, env, "real.txt"); got != "old" {
			t.Fatalf("after rollback real.txt = %q", got)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		env := newTestEnv(t, fileTestPolicy)
		writeFile(t, env, "f", "abc")
		tree := fileTestTree(t, env.Dir)
		a := fileTestAdapter(t, "file:write")
		plan, err := a.DryRun(bg, env, Input{"path": "f", "content": "abcd"})
		if err != nil || !strings.Contains(plan.WouldDo, "Overwrite file f") || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = a.DryRun(bg, env, Input{"path": "g", "content": "x"})
		if err != nil || !strings.Contains(plan.WouldDo, "Create new file g") {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = a.DryRun(bg, env, Input{"path": "d/e/g", "content": "x"})
		if err != nil || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "createDirs") {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = a.DryRun(bg, env, Input{"path": "d/e/g", "content": "x", "createDirs": true})
		if err != nil || !slices.Equal(plan.Changes, []string{"d", "d/e", "d/e/g"}) {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("a dry run changed the tree (-want +got):\n%s", diff)
		}
	})
}

// TestFileWriteFiveWritesRollBackInReverse writes one file five times and
// rolls the writes back newest first: each rollback must bring back the
// content that write replaced, byte for byte, text or binary.
func TestFileWriteFiveWritesRollBackInReverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	binary := func() []byte {
		b := make([]byte, 3000)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		b[0], b[100], b[2999] = 0, 0, 0
		return b
	}
	tests := []struct {
		name     string
		encoding string
		original []byte // nil: the file does not exist at first
		versions [][]byte
	}{
		{"text", "utf-8", []byte("v0\n"), [][]byte{[]byte("v1\n"), []byte("v2\n"), []byte("v3\n"), []byte("v4\n"), []byte("v5\n")}},
		{"binary", "base64", binary(), [][]byte{binary(), binary(), binary(), binary(), binary()}},
		{"new file", "utf-8", nil, [][]byte{[]byte("a"), []byte("b"), []byte(""), []byte("d"), []byte("e")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, fileTestPolicy)
			if tc.original != nil {
				fileTestWriteBytes(t, env, "f.bin", tc.original, 0o600)
			}
			var outs []*Outcome
			for _, v := range tc.versions {
				content := string(v)
				if tc.encoding == "base64" {
					content = base64.StdEncoding.EncodeToString(v)
				}
				outs = append(outs, fileTestMust(t, env, "file:write", Input{"path": "f.bin", "content": content, "encoding": tc.encoding}))
				if got := readFile(t, env, "f.bin"); got != string(v) {
					t.Fatal("write did not write the content")
				}
			}
			for i := len(outs) - 1; i >= 0; i-- {
				fileTestRollback(t, env, "file:write", outs[i])
				want := tc.original
				if i > 0 {
					want = tc.versions[i-1]
				}
				got := readFile(t, env, "f.bin")
				if want == nil {
					if got != "<missing>" {
						t.Fatalf("after rolling back write %d: the file exists", i+1)
					}
					continue
				}
				if !bytes.Equal([]byte(got), want) {
					t.Fatalf("after rolling back write %d: %d bytes, want %d bytes of version %d", i+1, len(got), len(want), i)
				}
				if m := fileTestMode(t, env, "f.bin"); tc.original != nil && m != 0o600 {
					t.Fatalf("after rolling back write %d: mode %v", i+1, m)
				}
			}
		})
	}
}

func TestFileDelete(t *testing.T) {
	setup := func(t *testing.T) *Env {
		env := newTestEnv(t, fileTestPolicy)
		fileTestWriteBytes(t, env, "victim.txt", []byte("Restore me"), 0o640)
		writeFile(t, env, "dir/x", "")
		writeFile(t, env, ".env", "SECRET=1")
		writeFile(t, env, "target.txt", "t")
		fileTestSymlink(t, env, "target.txt", "link")
		return env
	}

	t.Run("delete and roll back", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		out := fileTestMust(t, env, "file:delete", Input{"path": "victim.txt"})
		if got := readFile(t, env, "victim.txt"); got != "<missing>" {
			t.Fatal("not deleted")
		}
		if diff := cmp.Diff(deleteResult{Path: "victim.txt", Deleted: true, Size: 10}, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"victim.txt"}, out.FilesChanged); diff != "" {
			t.Fatalf("files changed (-want +got):\n%s", diff)
		}
		if out.Artifacts[0].Type != "checksum" || out.Artifacts[0].Value != Checksum([]byte("Restore me")) {
			t.Fatalf("artifacts %+v", out.Artifacts)
		}
		fileTestRollback(t, env, "file:delete", out)
		fileTestRollback(t, env, "file:delete", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("a link is deleted as a link", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		out := fileTestMust(t, env, "file:delete", Input{"path": "link"})
		if _, err := os.Lstat(filepath.Join(env.Dir, "link")); !os.IsNotExist(err) {
			t.Fatal("link still there")
		}
		if got := readFile(t, env, "target.txt"); got != "t" {
			t.Fatalf("the link's target was touched: %q", got)
		}
		fileTestRollback(t, env, "file:delete", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("failures", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		tests := []struct {
			name string
			in   Input
			code warden.Code
			msg  string
		}{
			{"missing", Input{"path": "nope.txt"}, warden.CodeNotFound, "does not exist"},
			{"missing directory", Input{"path": "nodir/nope.txt"}, warden.CodeNotFound, "does not exist"},
			{"a directory", Input{"path": "dir"}, warden.CodeInvalidState, "directory"},
			{"forbidden", Input{"path": ".env"}, warden.CodeDenied, "forbidden"},
			{"outside", Input{"path": "/etc/passwd"}, warden.CodeDenied, "outside"},
			{"the root", Input{"path": "."}, warden.CodeInvalidInput, "project root"},
		}
		for _, tc := range tests {
			_, err := fileTestExec(t, env, "file:delete", tc.in)
			t.Run(tc.name, func(t *testing.T) { fileTestErr(t, err, tc.code, tc.msg) })
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("failed deletes changed the tree (-want +got):\n%s", diff)
		}
	})

	t.Run("missing with force", func(t *testing.T) {
		env := setup(t)
		for _, p := range []string{"nope.txt", "nodir/nope.txt"} {
			out := fileTestMust(t, env, "file:delete", Input{"path": p, "force": true})
			res := out.Output.(deleteResult)
			if res.Deleted || res.Reason == "" || out.Undo != nil {
				t.Fatalf("%s: %+v, undo %s", p, res, out.Undo)
			}
		}
	})

	t.Run("dry run", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		a := fileTestAdapter(t, "file:delete")
		plan, err := a.DryRun(bg, env, Input{"path": "victim.txt"})
		if err != nil || !strings.Contains(plan.WouldDo, "Delete file") || len(plan.Changes) != 1 || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = a.DryRun(bg, env, Input{"path": "nope.txt"})
		if err != nil || len(plan.Warnings) == 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("a dry run changed the tree (-want +got):\n%s", diff)
		}
	})
}

func TestFileMove(t *testing.T) {
	setup := func(t *testing.T) *Env {
		env := newTestEnv(t, fileTestPolicy)
		fileTestWriteBytes(t, env, "src.txt", []byte("moving"), 0o640)
		fileTestWriteBytes(t, env, "dst.txt", []byte("Original"), 0o600)
		writeFile(t, env, "tree/a.txt", "a")
		writeFile(t, env, "tree/sub/b.txt", "b")
		writeFile(t, env, "withenv/.env", "SECRET=1")
		writeFile(t, env, ".env", "SECRET=1")
		return env
	}

	t.Run("move and roll back", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		out := fileTestMust(t, env, "file:move", Input{"source": "src.txt", "destination": "new.txt"})
		if readFile(t, env, "src.txt") != "<missing>" || readFile(t, env, "new.txt") != "moving" {
			t.Fatal("not moved")
		}
		if m := fileTestMode(t, env, "new.txt"); m != 0o640 {
			t.Fatalf("mode %v", m)
		}
		if diff := cmp.Diff([]string{"src.txt", "new.txt"}, out.FilesChanged); diff != "" {
			t.Fatalf("files changed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(moveResult{Source: "src.txt", Destination: "new.txt", Type: "file"}, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
		fileTestRollback(t, env, "file:move", out)
		fileTestRollback(t, env, "file:move", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("overwrite and roll back", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		_, err := fileTestExec(t, env, "file:move", Input{"source": "src.txt", "destination": "dst.txt"})
		fileTestErr(t, err, warden.CodeConflict, "already exists")
		out := fileTestMust(t, env, "file:move", Input{"source": "src.txt", "destination": "dst.txt", "overwrite": true})
		if readFile(t, env, "dst.txt") != "moving" || readFile(t, env, "src.txt") != "<missing>" {
			t.Fatal("not replaced")
		}
		fileTestRollback(t, env, "file:move", out)
		fileTestRollback(t, env, "file:move", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("a directory, and back", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		out := fileTestMust(t, env, "file:move", Input{"source": "tree", "destination": "tree2"})
		if readFile(t, env, "tree2/sub/b.txt") != "b" {
			t.Fatal("directory not moved")
		}
		fileTestRollback(t, env, "file:move", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("a link moves as a link", func(t *testing.T) {
		env := setup(t)
		fileTestSymlink(t, env, "src.txt", "ln")
		fileTestMust(t, env, "file:move", Input{"source": "ln", "destination": "ln2"})
		if target, err := os.Readlink(filepath.Join(env.Dir, "ln2")); err != nil || target != "src.txt" {
			t.Fatalf("ln2 -> %q, %v", target, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		tests := []struct {
			name string
			in   Input
			code warden.Code
			msg  string
		}{
			{"missing source", Input{"source": "nope", "destination": "x"}, warden.CodeNotFound, "does not exist"},
			{"missing destination directory", Input{"source": "src.txt", "destination": "no/x"}, warden.CodeNotFound, "destination: directory no does not exist"},
			{"a directory with a forbidden file in it", Input{"source": "withenv", "destination": "elsewhere"}, warden.CodeDenied, "forbidden"},
			{"forbidden source", Input{"source": ".env", "destination": "x"}, warden.CodeDenied, "forbidden"},
			{"forbidden destination", Input{"source": "src.txt", "destination": "a/../.env"}, warden.CodeDenied, "forbidden"},
			{"destination outside", Input{"source": "src.txt", "destination": "/tmp/x"}, warden.CodeDenied, "outside"},
			{"onto a directory", Input{"source": "src.txt", "destination": "tree", "overwrite": true}, warden.CodeConflict, "is a directory"},
			{"a directory over a file", Input{"source": "tree", "destination": "dst.txt", "overwrite": true}, warden.CodeConflict, "does not exist"},
			{"into itself", Input{"source": "tree", "destination": "tree/sub/x"}, warden.CodeInvalidInput, "into itself"},
			{"same path", Input{"source": "src.txt", "destination": "./src.txt"}, warden.CodeInvalidInput, "same"},
		}
		for _, tc := range tests {
			_, err := fileTestExec(t, env, "file:move", tc.in)
			t.Run(tc.name, func(t *testing.T) { fileTestErr(t, err, tc.code, tc.msg) })
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("refused moves changed the tree (-want +got):\n%s", diff)
		}
	})

	t.Run("rollback refuses to clobber a recreated source", func(t *testing.T) {
		env := setup(t)
		out := fileTestMust(t, env, "file:move", Input{"source": "src.txt", "destination": "new.txt"})
		writeFile(t, env, "src.txt", "someone else's")
		err := fileTestAdapter(t, "file:move").Rollback(bg, env, out.Undo)
		fileTestErr(t, err, warden.CodeConflict, "exists again")
		if readFile(t, env, "src.txt") != "someone else's" || readFile(t, env, "new.txt") != "moving" {
			t.Fatal("a conflicting rollback changed files")
		}
	})

	t.Run("dry run", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		plan, err := fileTestAdapter(t, "file:move").DryRun(bg, env, Input{"source": "src.txt", "destination": "new.txt"})
		if err != nil || !strings.Contains(plan.WouldDo, "Move") || len(plan.Changes) != 2 || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		plan, err = fileTestAdapter(t, "file:move").DryRun(bg, env, Input{"source": "nope", "destination": "dst.txt"})
		if err != nil || len(plan.Warnings) != 2 {
			t.Fatalf("plan %+v, %v: want warnings for the missing source and the existing destination", plan, err)
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("a dry run changed the tree (-want +got):\n%s", diff)
		}
	})

	t.Run("across file systems", func(t *testing.T) {
		// A rename that fails with EXDEV falls back to copyAcrossDevices;
		// it is exercised directly, as no second file system is at hand.
		env := setup(t)
		fileTestSymlink(t, env, "src.txt", "ln")
		if err := copyAcrossDevices(env, "src.txt", "dst.txt"); err != nil {
			t.Fatal(err)
		}
		if err := copyAcrossDevices(env, "ln", "ln2"); err != nil {
			t.Fatal(err)
		}
		if readFile(t, env, "src.txt") != "<missing>" || readFile(t, env, "dst.txt") != "moving" || fileTestMode(t, env, "dst.txt") != 0o640 {
			t.Fatal("file not moved across")
		}
		if target, err := os.Readlink(filepath.Join(env.Dir, "ln2")); err != nil || target != "src.txt" {
			t.Fatalf("ln2 -> %q, %v", target, err)
		}
		fileTestErr(t, copyAcrossDevices(env, "tree", "tree2"), warden.CodeInvalidState, "another file system")
	})
}

func TestFileCopy(t *testing.T) {
	setup := func(t *testing.T) *Env {
		env := newTestEnv(t, fileTestPolicy)
		fileTestWriteBytes(t, env, "src.bin", []byte{0, 1, 0, 0xff, 'z'}, 0o750)
		fileTestWriteBytes(t, env, "dst.txt", []byte("Original"), 0o600)
		writeFile(t, env, "dir/x", "")
		writeFile(t, env, ".env", "SECRET=1")
		return env
	}

	t.Run("copy and roll back", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		out := fileTestMust(t, env, "file:copy", Input{"source": "src.bin", "destination": "copy.bin"})
		if readFile(t, env, "copy.bin") != readFile(t, env, "src.bin") || fileTestMode(t, env, "copy.bin") != 0o750 {
			t.Fatal("copy differs from its source")
		}
		if diff := cmp.Diff([]string{"copy.bin"}, out.FilesChanged); diff != "" {
			t.Fatalf("files changed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(copyResult{Source: "src.bin", Destination: "copy.bin", BytesCopied: 5}, out.Output); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
		fileTestRollback(t, env, "file:copy", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("overwrite and roll back", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		_, err := fileTestExec(t, env, "file:copy", Input{"source": "src.bin", "destination": "dst.txt"})
		fileTestErr(t, err, warden.CodeConflict, "already exists")
		out := fileTestMust(t, env, "file:copy", Input{"source": "src.bin", "destination": "dst.txt", "overwrite": true})
		if readFile(t, env, "dst.txt") != readFile(t, env, "src.bin") || fileTestMode(t, env, "dst.txt") != 0o600 {
			t.Fatal("destination not overwritten, or its mode not kept")
		}
		fileTestRollback(t, env, "file:copy", out)
		fileTestRollback(t, env, "file:copy", out)
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("tree after rollback (-want +got):\n%s", diff)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		tests := []struct {
			name string
			in   Input
			code warden.Code
			msg  string
		}{
			{"missing source", Input{"source": "nope", "destination": "x"}, warden.CodeNotFound, "does not exist"},
			{"directory source", Input{"source": "dir", "destination": "x"}, warden.CodeInvalidState, "directory"},
			{"forbidden source", Input{"source": ".env", "destination": "x"}, warden.CodeDenied, "forbidden"},
			{"forbidden destination", Input{"source": "src.bin", "destination": "dir/.env"}, warden.CodeDenied, "forbidden"},
			{"destination a directory", Input{"source": "src.bin", "destination": "dir", "overwrite": true}, warden.CodeConflict, "is a directory"},
			{"same file", Input{"source": "src.bin", "destination": "src.bin", "overwrite": true}, warden.CodeInvalidInput, "same file"},
			{"missing destination directory", Input{"source": "src.bin", "destination": "no/x"}, warden.CodeNotFound, "does not exist"},
		}
		for _, tc := range tests {
			_, err := fileTestExec(t, env, "file:copy", tc.in)
			t.Run(tc.name, func(t *testing.T) { fileTestErr(t, err, tc.code, tc.msg) })
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("refused copies changed the tree (-want +got):\n%s", diff)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		env := setup(t)
		tree := fileTestTree(t, env.Dir)
		plan, err := fileTestAdapter(t, "file:copy").DryRun(bg, env, Input{"source": "src.bin", "destination": "c"})
		if err != nil || !strings.Contains(plan.WouldDo, "Copy") || !slices.Equal(plan.Changes, []string{"c"}) || len(plan.Warnings) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
			t.Fatalf("a dry run changed the tree (-want +got):\n%s", diff)
		}
	})
}

// TestFileEscapes tries to reach outside the root, or a forbidden file
// inside it, through links and "..".
func TestFileEscapes(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, fileTestPolicy)
	writeFile(t, env, "a/b/c.txt", "c")
	writeFile(t, env, ".env", "SECRET=1")
	writeFile(t, env, "ok.txt", "ok")
	fileTestSymlink(t, env, filepath.Join(outside, "secret.txt"), "out")
	fileTestSymlink(t, env, outside, "outdir")
	fileTestSymlink(t, env, "a/b", "ab")
	fileTestSymlink(t, env, "..", "up")
	tree := fileTestTree(t, env.Dir)

	tests := []struct {
		kind string
		in   Input
	}{
		{"file:read", Input{"path": "out"}},
		{"file:read", Input{"path": "outdir/secret.txt"}},
		{"file:read", Input{"path": "up/" + filepath.Base(outside) + "/secret.txt"}},
		{"file:read", Input{"path": "ab/../../.env"}},
		{"file:read", Input{"path": "ab/../../../etc/passwd"}},
		{"file:read", Input{"path": "/etc/passwd"}},
		{"file:write", Input{"path": "out", "content": "pwned"}},
		{"file:write", Input{"path": "outdir/new.txt", "content": "pwned"}},
		{"file:write", Input{"path": "outdir/sub/new.txt", "content": "pwned", "createDirs": true}},
		{"file:write", Input{"path": "ab/../../.env", "content": "pwned"}},
		{"file:write", Input{"path": filepath.Join(outside, "new.txt"), "content": "pwned"}},
		{"file:copy", Input{"source": "out", "destination": "copied.txt"}},
		{"file:copy", Input{"source": "ok.txt", "destination": "out", "overwrite": true}},
		{"file:copy", Input{"source": "ok.txt", "destination": "outdir/x"}},
		{"file:move", Input{"source": "ok.txt", "destination": "outdir/x"}},
		{"file:move", Input{"source": "outdir/secret.txt", "destination": "stolen.txt"}},
		{"file:delete", Input{"path": "outdir/secret.txt"}},
		{"directory:list", Input{"path": "outdir"}},
		{"directory:list", Input{"path": "up"}},
		{"directory:create", Input{"path": "outdir/newdir"}},
		{"directory:create", Input{"path": filepath.Join(outside, "newdir")}},
	}
	for _, tc := range tests {
		_, err := fileTestExec(t, env, tc.kind, tc.in)
		if warden.ErrorCode(err) != warden.CodeDenied {
			t.Errorf("%s %v: got %v, want DENIED", tc.kind, tc.in, err)
		}
	}
	if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
		t.Errorf("the root changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"secret.txt": "-rw-r--r-- outside"}, fileTestTree(t, outside)); diff != "" {
		t.Errorf("outside the root changed (-want +got):\n%s", diff)
	}
}

// TestFileSymlinkSwappedAfterCheck swaps a link in after the policy let
// the action through: the re-check at execution refuses it.
func TestFileSymlinkSwappedAfterCheck(t *testing.T) {
	env := newTestEnv(t, fileTestPolicy)
	writeFile(t, env, "notes.txt", "notes")
	writeFile(t, env, "ok.txt", "ok")
	writeFile(t, env, ".env", "SECRET=1")
	writeFile(t, env, "docs/readme", "r")
	writeFile(t, env, "private/key", "k")

	actions := []struct {
		kind string
		in   Input
	}{
		{"file:write", Input{"path": "notes.txt", "content": "pwned"}},
		{"file:read", Input{"path": "notes.txt"}},
		{"file:copy", Input{"source": "notes.txt", "destination": "leak.txt"}},
		{"file:copy", Input{"source": "ok.txt", "destination": "notes.txt", "overwrite": true}},
		{"file:write", Input{"path": "docs/new.txt", "content": "pwned"}},
		{"file:delete", Input{"path": "docs/key"}},
		{"file:move", Input{"source": "docs/key", "destination": "leak.txt"}},
		{"directory:list", Input{"path": "docs"}},
		{"directory:create", Input{"path": "docs/sub"}},
	}
	for _, a := range actions {
		if err := fileTestAdapter(t, a.kind).Validate(a.in); err != nil {
			t.Fatal(err)
		}
		if err := env.Check(bg, a.kind, a.in); err != nil {
			t.Fatalf("%s %v is refused before the swap: %v", a.kind, a.in, err)
		}
	}
	// The swap: notes.txt now leads to .env, docs to private.
	for _, p := range []string{"notes.txt", "docs/readme", "docs"} {
		if err := os.Remove(filepath.Join(env.Dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	fileTestSymlink(t, env, ".env", "notes.txt")
	fileTestSymlink(t, env, "private", "docs")
	tree := fileTestTree(t, env.Dir)
	for _, a := range actions {
		_, err := fileTestAdapter(t, a.kind).Execute(bg, env, a.in)
		if warden.ErrorCode(err) != warden.CodeDenied {
			t.Errorf("%s %v after the swap: got %v, want DENIED", a.kind, a.in, err)
		}
	}
	if diff := cmp.Diff(tree, fileTestTree(t, env.Dir)); diff != "" {
		t.Fatalf("refused actions changed the tree (-want +got):\n%s", diff)
	}
}

func TestFileUndoRecordIsJSON(t *testing.T) {
	env := newTestEnv(t, fileTestPolicy)
	out := fileTestMust(t, env, "file:write", Input{"path": "x/y.txt", "content": "y", "createDirs": true})
	var u fileUndo
	if err := json.Unmarshal(out.Undo, &u); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fileUndo{States: []FileState{{Path: "x/y.txt"}}, Created: []string{"x"}}, u); diff != "" {
		t.Fatalf("undo (-want +got):\n%s", diff)
	}
	err := fileTestAdapter(t, "file:write").Rollback(bg, env, json.RawMessage(`{"states": 3}`))
	fileTestErr(t, err, warden.CodeInvalidInput, "undo record")
}
