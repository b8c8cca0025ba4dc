package executor

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

const gitTestPolicy = `name: t
capabilities:
  - {tool: "git:status", scope: {repos: ["**"]}}
  - {tool: "git:diff", scope: {repos: ["**"]}}
  - {tool: "git:apply", scope: {repos: ["**"]}}
  - {tool: "git:commit", scope: {repos: ["**"]}}
forbidden:
  - {pattern: "**/.env"}
`

// gitTestEnv returns an env whose commands get a private HOME and a test
// identity, and a repository "repo" under its root with one commit of
// README.md.
func gitTestEnv(t *testing.T) (*Env, string) {
	t.Helper()
	env := newTestEnv(t, gitTestPolicy)
	home := t.TempDir()
	env.Environ = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	}
	writeFile(t, env, "repo/README.md", "# readme\n")
	gitT(t, env, "repo", "init", "-q", "-b", "main")
	gitT(t, env, "repo", "add", "README.md")
	gitT(t, env, "repo", "commit", "-q", "-m", "initial")
	return env, filepath.Join(env.Dir, "repo")
}

// gitT runs plain git (no hardening: the test's own view) in dir under the
// env's root and returns its output.
func gitT(t *testing.T, env *Env, dir string, args ...string) string {
	t.Helper()
	out, err := gitTry(env, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func gitTry(env *Env, dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = filepath.Join(env.Dir, dir)
	cmd.Env = append(slices.Clone(env.Environ), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func gitCode(t *testing.T, err error, want warden.Code) {
	t.Helper()
	if got := warden.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func gitAdapter(t *testing.T, kind string) Adapter {
	t.Helper()
	for _, a := range gitAdapters() {
		if a.Kind() == kind {
			return a
		}
	}
	t.Fatalf("no adapter %s", kind)
	return nil
}

func TestGitAdaptersKinds(t *testing.T) {
	var kinds []string
	for _, a := range gitAdapters() {
		kinds = append(kinds, a.Kind())
	}
	if diff := cmp.Diff([]string{"git:status", "git:diff", "git:apply", "git:commit"}, kinds); diff != "" {
		t.Fatal(diff)
	}
}

func TestGitStatus(t *testing.T) {
	st := gitAdapter(t, "git:status")
	tests := []struct {
		name    string
		setup   func(t *testing.T, env *Env)
		entries []gitStatusEntry
		summary gitStatusSummary
	}{
		{"clean", func(*testing.T, *Env) {}, []gitStatusEntry{}, gitStatusSummary{}},
		{"modified", func(t *testing.T, env *Env) { writeFile(t, env, "repo/README.md", "changed\n") },
			[]gitStatusEntry{{Path: "README.md", Status: "modified"}}, gitStatusSummary{Total: 1, Unstaged: 1}},
		{"untracked", func(t *testing.T, env *Env) { writeFile(t, env, "repo/new file.txt", "x") },
			[]gitStatusEntry{{Path: "new file.txt", Status: "untracked"}}, gitStatusSummary{Total: 1, Untracked: 1}},
		{"staged and modified again", func(t *testing.T, env *Env) {
			writeFile(t, env, "repo/README.md", "one\n")
			gitT(t, env, "repo", "add", "README.md")
			writeFile(t, env, "repo/README.md", "two\n")
		}, []gitStatusEntry{{Path: "README.md", Status: "modified", Staged: true}, {Path: "README.md", Status: "modified"}},
			gitStatusSummary{Total: 2, Staged: 1, Unstaged: 1}},
		{"renamed in the index", func(t *testing.T, env *Env) { gitT(t, env, "repo", "mv", "README.md", "READ.md") },
			[]gitStatusEntry{{Path: "READ.md", OrigPath: "README.md", Status: "renamed", Staged: true}}, gitStatusSummary{Total: 1, Staged: 1}},
		{"deleted", func(t *testing.T, env *Env) { os.Remove(filepath.Join(env.Dir, "repo/README.md")) },
			[]gitStatusEntry{{Path: "README.md", Status: "deleted"}}, gitStatusSummary{Total: 1, Unstaged: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := gitTestEnv(t)
			tc.setup(t, env)
			out, err := st.Execute(bg, env, Input{"repo": "repo"})
			if err != nil {
				t.Fatal(err)
			}
			o := out.Output.(gitStatusOutput)
			if diff := cmp.Diff(tc.entries, o.Entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.summary, o.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if o.Clean != (len(tc.entries) == 0) || o.Repo != "repo" || o.Branch.CurrentBranch != "main" || len(o.Branch.Commit) != 40 {
				t.Errorf("output = %+v", o)
			}
			if out.Undo != nil {
				t.Error("a read-only adapter returned an undo record")
			}
		})
	}
}

func TestGitStatusDryRunAndRollback(t *testing.T) {
	env, repo := gitTestEnv(t)
	st := gitAdapter(t, "git:status")
	p, err := st.DryRun(bg, env, Input{"repo": repo})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.WouldDo, "git status") || len(p.Changes) != 0 {
		t.Errorf("plan = %+v", p)
	}
	if err := st.Rollback(bg, env, nil); err != nil {
		t.Errorf("rollback of a read-only action: %v", err)
	}
	if err := st.Validate(Input{"repo": "repo", "short": true}); warden.ErrorCode(err) != warden.CodeInvalidInput {
		t.Errorf("unknown field: %v", err)
	}
}

func TestGitStatusBranchInfo(t *testing.T) {
	env, _ := gitTestEnv(t)
	gitT(t, env, ".", "clone", "-q", "repo", "clone")
	writeFile(t, env, "clone/a.txt", "a")
	gitT(t, env, "clone", "add", "a.txt")
	gitT(t, env, "clone", "commit", "-q", "-m", "ahead")
	out, err := gitAdapter(t, "git:status").Execute(bg, env, Input{"repo": "clone"})
	if err != nil {
		t.Fatal(err)
	}
	b := out.Output.(gitStatusOutput).Branch
	b.Commit = ""
	if diff := cmp.Diff(gitBranchInfo{CurrentBranch: "main", Upstream: "origin/main", Ahead: 1}, b); diff != "" {
		t.Error(diff)
	}
	gitT(t, env, "clone", "checkout", "-q", "--detach")
	out, err = gitAdapter(t, "git:status").Execute(bg, env, Input{"repo": "clone"})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Output.(gitStatusOutput).Branch.CurrentBranch; got != "(detached HEAD)" {
		t.Errorf("detached: %q", got)
	}
}

func TestGitRepoMustBeARepositoryInsideTheRoot(t *testing.T) {
	env, _ := gitTestEnv(t)
	writeFile(t, env, "plain/x", "x")
	writeFile(t, env, "repo/sub/y", "y")
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(env.Dir, "escape")); err != nil {
		t.Fatal(err)
	}
	// A .git file pointing at a repository outside the root.
	other := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("git", "init", "-q", other).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	writeFile(t, env, "gitfile/.git", "gitdir: "+filepath.Join(other, ".git")+"\n")
	// A .git directory holding a link out of the root.
	writeFile(t, env, "linked/README", "x")
	gitT(t, env, "linked", "init", "-q")
	refs := filepath.Join(env.Dir, "linked/.git/refs/heads")
	os.RemoveAll(refs)
	if err := os.Symlink(filepath.Join(other, ".git/refs/heads"), refs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		repo string
		want warden.Code
	}{
		{"../elsewhere", warden.CodeDenied},
		{"/etc", warden.CodeDenied},
		{"escape", warden.CodeDenied},
		{"plain", warden.CodeNotFound},
		{"repo/sub", warden.CodeNotFound},
		{"missing", warden.CodeNotFound},
		{"repo/README.md", warden.CodeInvalidInput},
		{"gitfile", warden.CodeDenied},
		{"linked", warden.CodeDenied},
	}
	for _, tc := range tests {
		t.Run(tc.repo, func(t *testing.T) {
			_, err := gitAdapter(t, "git:status").Execute(bg, env, Input{"repo": tc.repo})
			gitCode(t, err, tc.want)
		})
	}
}

func TestGitRepoRefusedByPolicy(t *testing.T) {
	env := newTestEnv(t, `name: t
capabilities:
  - {tool: "git:status", scope: {repos: ["allowed/**"]}}
`)
	writeFile(t, env, "other/README", "x")
	if out, err := exec.Command("git", "init", "-q", filepath.Join(env.Dir, "other")).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	if err := os.MkdirAll(filepath.Join(env.Dir, "allowed"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The agent names an allowed path that really is the other repository.
	if err := os.Symlink("../other", filepath.Join(env.Dir, "allowed/repo")); err != nil {
		t.Fatal(err)
	}
	_, err := gitAdapter(t, "git:status").Execute(bg, env, Input{"repo": "allowed/repo"})
	gitCode(t, err, warden.CodeDenied)
}

func TestGitDiff(t *testing.T) {
	env, _ := gitTestEnv(t)
	d := gitAdapter(t, "git:diff")
	writeFile(t, env, "repo/a.txt", "a\n")
	writeFile(t, env, "repo/.env", "SECRET=1\n")
	gitT(t, env, "repo", "add", "a.txt", ".env")
	gitT(t, env, "repo", "commit", "-q", "-m", "second")
	writeFile(t, env, "repo/README.md", "# readme\nmore\n")
	writeFile(t, env, "repo/a.txt", "A\n")
	writeFile(t, env, "repo/.env", "SECRET=2\n")

	out, err := d.Execute(bg, env, Input{"repo": "repo"})
	if err != nil {
		t.Fatal(err)
	}
	o := out.Output.(gitDiffOutput)
	if diff := cmp.Diff([]string{"README.md", "a.txt"}, o.Files); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{".env"}, o.Withheld); diff != "" {
		t.Error(diff)
	}
	if o.LinesChanged != 3 || !strings.Contains(o.Diff, "+more") || !strings.Contains(o.Diff, "-a\n+A") || strings.Contains(o.Diff, "SECRET") || o.Truncated {
		t.Errorf("output = %+v", o)
	}

	out, err = d.Execute(bg, env, Input{"repo": "repo", "paths": []any{"a.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := out.Output.(gitDiffOutput); !slices.Equal(o.Files, []string{"a.txt"}) || strings.Contains(o.Diff, "README") {
		t.Errorf("paths: %+v", o)
	}

	// Staged compares the index.
	gitT(t, env, "repo", "add", "a.txt")
	out, err = d.Execute(bg, env, Input{"repo": "repo", "staged": true})
	if err != nil {
		t.Fatal(err)
	}
	if o := out.Output.(gitDiffOutput); !slices.Equal(o.Files, []string{"a.txt"}) {
		t.Errorf("staged: %+v", o)
	}

	// A ref: README.md against the first commit.
	out, err = d.Execute(bg, env, Input{"repo": "repo", "ref": "HEAD~1", "paths": []any{"a.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := out.Output.(gitDiffOutput); !strings.Contains(o.Diff, "new file mode") || o.Ref != "HEAD~1" {
		t.Errorf("ref: %+v", o)
	}

	p, err := d.DryRun(bg, env, Input{"repo": "repo", "ref": "main"})
	if err != nil || !strings.Contains(p.WouldDo, "git diff main") {
		t.Errorf("dry run = %+v, %v", p, err)
	}
}

func TestGitDiffUnbornAndTruncated(t *testing.T) {
	env := newTestEnv(t, gitTestPolicy)
	env.Environ = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	writeFile(t, env, "repo/big.txt", strings.Repeat(strings.Repeat("x", 99)+"\n", (MaxCapture/100)+1000))
	gitT(t, env, "repo", "init", "-q")
	gitT(t, env, "repo", "add", "big.txt")
	out, err := gitAdapter(t, "git:diff").Execute(bg, env, Input{"repo": "repo", "staged": true})
	if err != nil {
		t.Fatal(err)
	}
	o := out.Output.(gitDiffOutput)
	if !o.Truncated || len(o.Diff) != MaxCapture || !slices.Equal(o.Files, []string{"big.txt"}) {
		t.Errorf("truncated = %v, len = %d, files = %v", o.Truncated, len(o.Diff), o.Files)
	}
	_, err = gitAdapter(t, "git:diff").Execute(bg, env, Input{"repo": "repo", "ref": "main"})
	gitCode(t, err, warden.CodeNotFound)
}

// gitNoMarker fails if a file named pwned (or x) appeared anywhere an
// injected command would create it.
func gitNoMarker(t *testing.T, env *Env, dirs ...string) {
	t.Helper()
	wd, _ := os.Getwd()
	for _, d := range append(dirs, env.Dir, filepath.Join(env.Dir, "repo"), wd) {
		for _, n := range []string{"pwned", "x"} {
			if _, err := os.Stat(filepath.Join(d, n)); err == nil {
				t.Fatalf("injection ran: %s exists", filepath.Join(d, n))
			}
		}
	}
}

func TestGitDiffInjection(t *testing.T) {
	env, _ := gitTestEnv(t)
	tmp := t.TempDir()
	d := gitAdapter(t, "git:diff")
	for _, ref := range []string{
		"--output=" + filepath.Join(tmp, "x"), "$(touch pwned)", "HEAD; touch pwned", "`touch pwned`",
		"HEAD --output=x", "-p", "HEAD:README.md", "HEAD..main", "HEAD\ntouch pwned", "@{-1}",
	} {
		t.Run("ref "+ref, func(t *testing.T) {
			_, err := d.Execute(bg, env, Input{"repo": "repo", "ref": ref})
			gitCode(t, err, warden.CodeInvalidInput)
			gitCode(t, d.Validate(Input{"repo": "repo", "ref": ref}), warden.CodeInvalidInput)
		})
	}
	_, err := d.Execute(bg, env, Input{"repo": "repo", "ref": "no-such-branch"})
	gitCode(t, err, warden.CodeNotFound)
	for _, p := range []string{"`touch pwned`", `"; touch pwned; "`, "'$(touch pwned)'", "--upload-pack=touch pwned", "--output=x", "*", ":(glob)**"} {
		t.Run("path "+p, func(t *testing.T) {
			writeFile(t, env, "repo/README.md", "changed\n")
			out, err := d.Execute(bg, env, Input{"repo": "repo", "paths": []any{p}})
			if err != nil {
				t.Fatal(err)
			}
			if o := out.Output.(gitDiffOutput); o.Diff != "" || len(o.Files) != 0 {
				t.Errorf("a literal path %q matched: %+v", p, o)
			}
		})
	}
	for _, p := range []string{"../README.md", ".git/config", "sub/../../x", "/etc/passwd"} {
		_, err := d.Execute(bg, env, Input{"repo": "repo", "paths": []any{p}})
		gitCode(t, err, warden.CodeDenied)
	}
	gitNoMarker(t, env, tmp)
}

// gitHostile makes the repository's configuration and attributes run a
// marker script in every way git allows, and returns the marker directory.
func gitHostile(t *testing.T, env *Env) string {
	t.Helper()
	markers, bin := t.TempDir(), t.TempDir()
	script := "#!/bin/sh\ntouch " + markers + "/$(basename \"$0\")\nexit 0\n"
	names := []string{"fsmonitor", "clean", "smudge", "process", "textconv", "diffcmd", "external", "pager", "gpg", "editor", "ssh"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(bin, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hooks := filepath.Join(bin, "hooks")
	for _, dir := range []string{hooks, filepath.Join(env.Dir, "repo/.git/hooks")} {
		os.MkdirAll(dir, 0o755)
		for _, h := range []string{"pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "reference-transaction", "post-index-change", "pre-auto-gc", "post-checkout"} {
			if err := os.WriteFile(filepath.Join(dir, h), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Control: plain git really runs the repository's fsmonitor and hooks.
	gitT(t, env, "repo", "config", "core.fsmonitor", filepath.Join(bin, "fsmonitor"))
	gitT(t, env, "repo", "status")
	gitT(t, env, "repo", "commit", "-q", "--allow-empty", "-m", "control")
	for _, m := range []string{"fsmonitor", "pre-commit", "post-commit"} {
		if _, err := os.Stat(filepath.Join(markers, m)); err != nil {
			t.Fatalf("control: plain git did not run %s, so the test proves nothing", m)
		}
	}
	gitT(t, env, "repo", "reset", "-q", "--soft", "HEAD~1")
	for k, v := range map[string]string{
		"core.hooksPath": hooks, "core.pager": filepath.Join(bin, "pager"), "core.editor": filepath.Join(bin, "editor"),
		"core.sshCommand": filepath.Join(bin, "ssh"), "diff.external": filepath.Join(bin, "external"),
		"commit.gpgSign": "true", "gpg.program": filepath.Join(bin, "gpg"),
		"filter.evil.clean": filepath.Join(bin, "clean"), "filter.evil.smudge": filepath.Join(bin, "smudge"),
		"filter.evil.required": "true", "diff.evil.textconv": filepath.Join(bin, "textconv"),
		"diff.evil.command": filepath.Join(bin, "diffcmd"), "filter.we=ird.process": filepath.Join(bin, "process"),
		"pager.diff": filepath.Join(bin, "pager"), "pager.status": filepath.Join(bin, "pager"),
	} {
		gitT(t, env, "repo", "config", k, v)
	}
	writeFile(t, env, "repo/.gitattributes", "* filter=evil diff=evil\n*.w filter=we=ird\n")
	os.RemoveAll(markers)
	os.MkdirAll(markers, 0o755)
	return markers
}

func TestGitHostileRepositoryRunsNothing(t *testing.T) {
	env, _ := gitTestEnv(t)
	markers := gitHostile(t, env)
	writeFile(t, env, "repo/README.md", "# readme\nchanged\n")
	writeFile(t, env, "repo/a.w", "w\n")
	in := Input{"repo": "repo"}
	if _, err := gitAdapter(t, "git:status").Execute(bg, env, in); err != nil {
		t.Fatal(err)
	}
	if _, err := gitAdapter(t, "git:diff").Execute(bg, env, in); err != nil {
		t.Fatal(err)
	}
	patch := "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+new\n"
	if _, err := gitAdapter(t, "git:apply").Execute(bg, env, Input{"repo": "repo", "patch": patch}); err != nil {
		t.Fatal(err)
	}
	out, err := gitAdapter(t, "git:commit").Execute(bg, env, Input{"repo": "repo", "message": "m", "stageAll": true, "paths": []any{"new.txt", "a.w", ".gitattributes"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gitAdapter(t, "git:commit").Rollback(bg, env, out.Undo); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(markers)
	var ran []string
	for _, e := range ents {
		ran = append(ran, e.Name())
	}
	if len(ran) > 0 {
		t.Fatalf("the hostile repository ran %v", ran)
	}
	// The commit went through unsigned, with the blanked filters.
	if show := gitT(t, env, "repo", "-c", "core.hooksPath=/dev/null", "cat-file", "-p", out.Output.(gitCommitOutput).Commit); strings.Contains(show, "gpgsig") {
		t.Errorf("commit was signed: %s", show)
	}
}

func TestGitIgnoresInheritedGitEnvironment(t *testing.T) {
	env, _ := gitTestEnv(t)
	other := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("git", "init", "-q", other).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	env.Environ = append(env.Environ, "GIT_DIR="+filepath.Join(other, ".git"), "GIT_WORK_TREE="+other, "GIT_INDEX_FILE=/tmp/nope", "GIT_CONFIG_PARAMETERS='core.fsmonitor'='touch pwned'")
	writeFile(t, env, "repo/new.txt", "x")
	out, err := gitAdapter(t, "git:status").Execute(bg, env, Input{"repo": "repo"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]gitStatusEntry{{Path: "new.txt", Status: "untracked"}}, out.Output.(gitStatusOutput).Entries); diff != "" {
		t.Error(diff)
	}
	gitNoMarker(t, env)
}

func TestGitCommit(t *testing.T) {
	c := gitAdapter(t, "git:commit")
	t.Run("paths", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/new-file.txt", "new\n")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "Add new file", "paths": []any{"new-file.txt"}})
		if err != nil {
			t.Fatal(err)
		}
		o := out.Output.(gitCommitOutput)
		if sha := strings.TrimSpace(gitT(t, env, "repo", "rev-parse", "HEAD")); o.Commit != sha || o.Branch != "main" || o.Repo != "repo" {
			t.Errorf("output = %+v, HEAD = %s", o, sha)
		}
		if diff := cmp.Diff([]string{"new-file.txt"}, o.Files); diff != "" {
			t.Error(diff)
		}
		if log := gitT(t, env, "repo", "log", "--format=%s"); !strings.Contains(log, "Add new file") {
			t.Errorf("log = %q", log)
		}
		want := []string{"commit:" + o.Commit, "message:" + Checksum([]byte("Add new file"))}
		var got []string
		for _, a := range out.Artifacts {
			if a.Type == "checksum" {
				got = append(got, a.Value)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("stageAll", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/README.md", "changed\n")
		writeFile(t, env, "repo/untracked.txt", "u")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "update", "stageAll": true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"README.md"}, out.Output.(gitCommitOutput).Files); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("message verbatim, never interpreted", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/README.md", "changed\n")
		msg := "Fix $(touch pwned) and `touch pwned`\n\n# not a comment\n\"quoted\" 'single' ; touch pwned  \n"
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": msg, "stageAll": true})
		if err != nil {
			t.Fatal(err)
		}
		raw := gitT(t, env, "repo", "cat-file", "commit", out.Output.(gitCommitOutput).Commit)
		_, body, _ := strings.Cut(raw, "\n\n")
		if body != msg {
			t.Errorf("message stored as %q, want %q", body, msg)
		}
		gitNoMarker(t, env)
	})
	t.Run("author", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/README.md", "changed\n")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "m", "stageAll": true, "author": "$(touch pwned) `x` <a@b.example>"})
		if err != nil {
			t.Fatal(err)
		}
		if got := gitT(t, env, "repo", "log", "-1", "--format=%an|%ae", out.Output.(gitCommitOutput).Commit); got != "$(touch pwned) `x`|a@b.example\n" {
			t.Errorf("author = %q", got)
		}
		gitNoMarker(t, env)
	})
	for _, author := range []string{"Evil <e@x.example>\nCommitter: x", "no email", "--upload-pack=touch pwned", "<a@b.example>", "A <a@b.example> extra"} {
		t.Run("bad author "+author, func(t *testing.T) {
			gitCode(t, c.Validate(Input{"repo": "repo", "message": "m", "author": author}), warden.CodeInvalidInput)
		})
	}
	t.Run("path injection", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		head := gitT(t, env, "repo", "rev-parse", "HEAD")
		for _, p := range []string{"`touch pwned`", "$(touch pwned)", "\"; touch pwned\"", "--upload-pack=touch pwned"} {
			_, err := c.Execute(bg, env, Input{"repo": "repo", "message": "m", "paths": []any{p}})
			gitCode(t, err, warden.CodeInvalidInput)
		}
		if got := gitT(t, env, "repo", "rev-parse", "HEAD"); got != head {
			t.Error("HEAD moved")
		}
		gitNoMarker(t, env)
	})
	t.Run("a file with an odd name is committed literally", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		name := "--upload-pack=touch pwned `x` $(y).txt"
		writeFile(t, env, "repo/"+name, "odd")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "odd", "paths": []any{name}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{name}, out.Output.(gitCommitOutput).Files); diff != "" {
			t.Error(diff)
		}
		gitNoMarker(t, env)
	})
	t.Run("nothing to commit", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		_, err := c.Execute(bg, env, Input{"repo": "repo", "message": "m"})
		gitCode(t, err, warden.CodeInvalidState)
	})
	t.Run("forbidden file refused and index put back", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/.env", "A=1\n")
		gitT(t, env, "repo", "-c", "core.hooksPath=/dev/null", "add", ".env")
		gitT(t, env, "repo", "commit", "-q", "-m", "env")
		head := gitT(t, env, "repo", "rev-parse", "HEAD")
		writeFile(t, env, "repo/.env", "A=2\n")
		writeFile(t, env, "repo/README.md", "changed\n")
		indexPath := filepath.Join(env.Dir, "repo/.git/index")
		indexBefore, _ := os.ReadFile(indexPath)
		statBefore, _ := os.Stat(indexPath)
		_, err := c.Execute(bg, env, Input{"repo": "repo", "message": "leak", "stageAll": true})
		gitCode(t, err, warden.CodeDenied)
		// The index is back byte for byte and with its time: a newer time
		// would let git take a file changed in the same clock tick for
		// unchanged.
		indexAfter, _ := os.ReadFile(indexPath)
		statAfter, _ := os.Stat(indexPath)
		if !bytes.Equal(indexBefore, indexAfter) || !statBefore.ModTime().Equal(statAfter.ModTime()) {
			t.Errorf("index not put back: time %v → %v, same bytes %v", statBefore.ModTime(), statAfter.ModTime(), bytes.Equal(indexBefore, indexAfter))
		}
		if got := gitT(t, env, "repo", "rev-parse", "HEAD"); got != head {
			t.Error("HEAD moved")
		}
		if staged := gitT(t, env, "repo", "diff", "--cached", "--name-only"); staged != "" {
			t.Errorf("the index kept %q staged", staged)
		}
		// A directory path that holds the forbidden file is refused too.
		_, err = c.Execute(bg, env, Input{"repo": "repo", "message": "leak", "paths": []any{"."}})
		gitCode(t, err, warden.CodeDenied)
		if staged := gitT(t, env, "repo", "diff", "--cached", "--name-only"); staged != "" {
			t.Errorf("the index kept %q staged", staged)
		}
	})
	t.Run("dry run", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/README.md", "changed\n")
		p, err := c.DryRun(bg, env, Input{"repo": "repo", "message": "Update the readme\n\nbody", "stageAll": true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.WouldDo, "Commit") || !strings.Contains(p.WouldDo, "Update the readme") || !slices.Equal(p.Changes, []string{"README.md"}) {
			t.Errorf("plan = %+v", p)
		}
		if staged := gitT(t, env, "repo", "diff", "--cached", "--name-only"); staged != "" {
			t.Errorf("a dry run staged %q", staged)
		}
	})
}

func TestGitCommitRollbackKeepsUncommittedWork(t *testing.T) {
	env, _ := gitTestEnv(t)
	c := gitAdapter(t, "git:commit")
	initial := gitT(t, env, "repo", "rev-parse", "HEAD")
	// The user's own work: a staged file and an unstaged edit.
	writeFile(t, env, "repo/staged.txt", "staged\n")
	gitT(t, env, "repo", "add", "staged.txt")
	writeFile(t, env, "repo/README.md", "# readme\nuser edit, not staged\n")
	writeFile(t, env, "repo/new.txt", "new\n")

	out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "Agent commit", "paths": []any{"new.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	var u gitCommitUndo
	if err := json.Unmarshal(out.Undo, &u); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gitCommitUndo{Repo: "repo", Ref: "refs/heads/main", Previous: strings.TrimSpace(initial), Commit: out.Output.(gitCommitOutput).Commit}, u); diff != "" {
		t.Error(diff)
	}
	for range 2 { // idempotent
		if err := c.Rollback(bg, env, out.Undo); err != nil {
			t.Fatal(err)
		}
	}
	if got := gitT(t, env, "repo", "rev-parse", "HEAD"); got != initial {
		t.Errorf("HEAD = %s, want %s", got, initial)
	}
	if log := gitT(t, env, "repo", "log", "--format=%s"); strings.Contains(log, "Agent commit") {
		t.Errorf("log still has the commit: %q", log)
	}
	if staged := gitT(t, env, "repo", "diff", "--cached", "--name-only"); staged != "new.txt\nstaged.txt\n" {
		t.Errorf("staged = %q", staged)
	}
	if got := readFile(t, env, "repo/README.md"); got != "# readme\nuser edit, not staged\n" {
		t.Errorf("README = %q", got)
	}
	if unstaged := gitT(t, env, "repo", "diff", "--name-only"); unstaged != "README.md\n" {
		t.Errorf("unstaged = %q", unstaged)
	}
}

func TestGitCommitRollbackConflictAndEdges(t *testing.T) {
	c := gitAdapter(t, "git:commit")
	t.Run("moved on", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		writeFile(t, env, "repo/a.txt", "a")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "agent", "paths": []any{"a.txt"}})
		if err != nil {
			t.Fatal(err)
		}
		gitT(t, env, "repo", "commit", "-q", "--allow-empty", "-m", "user on top")
		head := gitT(t, env, "repo", "rev-parse", "HEAD")
		err = c.Rollback(bg, env, out.Undo)
		gitCode(t, err, warden.CodeConflict)
		var u gitCommitUndo
		json.Unmarshal(out.Undo, &u)
		if msg := warden.ErrorMessage(err); !strings.Contains(msg, u.Commit) || !strings.Contains(msg, u.Previous) {
			t.Errorf("message %q does not name both commits", msg)
		}
		if got := gitT(t, env, "repo", "rev-parse", "HEAD"); got != head {
			t.Error("a refused rollback moved HEAD")
		}
	})
	t.Run("unborn branch", func(t *testing.T) {
		env := newTestEnv(t, gitTestPolicy)
		env.Environ = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com"}
		writeFile(t, env, "repo/a.txt", "a")
		gitT(t, env, "repo", "init", "-q", "-b", "main")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "first", "paths": []any{"a.txt"}})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := c.Rollback(bg, env, out.Undo); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := gitTry(env, "repo", "rev-parse", "--verify", "HEAD"); err == nil {
			t.Error("HEAD still resolves after rolling back the first commit")
		}
		if staged := gitT(t, env, "repo", "diff", "--cached", "--name-only"); staged != "a.txt\n" {
			t.Errorf("staged = %q", staged)
		}
	})
	t.Run("detached HEAD", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		gitT(t, env, "repo", "checkout", "-q", "--detach")
		before := gitT(t, env, "repo", "rev-parse", "HEAD")
		writeFile(t, env, "repo/a.txt", "a")
		out, err := c.Execute(bg, env, Input{"repo": "repo", "message": "detached", "paths": []any{"a.txt"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Rollback(bg, env, out.Undo); err != nil {
			t.Fatal(err)
		}
		if got := gitT(t, env, "repo", "rev-parse", "HEAD"); got != before {
			t.Error("detached HEAD not moved back")
		}
		if main := gitT(t, env, "repo", "rev-parse", "main"); main != before {
			t.Error("main moved")
		}
	})
	t.Run("malformed undo", func(t *testing.T) {
		env, _ := gitTestEnv(t)
		for _, u := range []string{`{`, `{"repo":"repo","ref":"--upload-pack=x","previous":"unborn","commit":"` + strings.Repeat("a", 40) + `"}`, `{"repo":"repo","ref":"HEAD","previous":"unborn","commit":"HEAD"}`} {
			gitCode(t, c.Rollback(bg, env, json.RawMessage(u)), warden.CodeInvalidInput)
		}
	})
}

// gitMakePatch turns the work tree's changes into a patch (renames and
// binary content included) and puts the work tree back.
func gitMakePatch(t *testing.T, env *Env, change func()) string {
	t.Helper()
	change()
	gitT(t, env, "repo", "add", "-A")
	patch := gitT(t, env, "repo", "diff", "--cached", "-M", "--binary")
	gitT(t, env, "repo", "reset", "-q", "--hard")
	gitT(t, env, "repo", "clean", "-qfd")
	return patch
}

func TestGitApplyAndRollback(t *testing.T) {
	env, _ := gitTestEnv(t)
	a := gitAdapter(t, "git:apply")
	bin := []byte{0xff, 0x00, 0xfe, 'b', 'i', 'n', 0x80}
	writeFile(t, env, "repo/del.txt", "delete me\n")
	writeFile(t, env, "repo/old-name.txt", "renamed content\nline 2\nline 3\n")
	writeFile(t, env, "repo/bin.dat", string(bin))
	writeFile(t, env, "repo/other.txt", "other\n")
	gitT(t, env, "repo", "add", ".")
	gitT(t, env, "repo", "commit", "-q", "-m", "files")
	patch := gitMakePatch(t, env, func() {
		writeFile(t, env, "repo/README.md", "# readme\npatched\n")
		os.Remove(filepath.Join(env.Dir, "repo/del.txt"))
		os.Rename(filepath.Join(env.Dir, "repo/old-name.txt"), filepath.Join(env.Dir, "repo/new-name.txt"))
		writeFile(t, env, "repo/newdir/deep/new.txt", "brand new\n")
		writeFile(t, env, "repo/bin.dat", string(append(slices.Clone(bin), 0x01, 0x02)))
	})
	// The user's uncommitted work, which the patch does not touch.
	writeFile(t, env, "repo/other.txt", "other\nuser edit\n")
	writeFile(t, env, "repo/untracked.txt", "mine\n")
	before := map[string]string{}
	for _, f := range []string{"README.md", "del.txt", "old-name.txt", "bin.dat", "other.txt", "untracked.txt", "new-name.txt", "newdir/deep/new.txt"} {
		before[f] = readFile(t, env, "repo/"+f)
	}

	out, err := a.Execute(bg, env, Input{"repo": "repo", "patch": patch})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"README.md", "bin.dat", "del.txt", "new-name.txt", "newdir/deep/new.txt", "old-name.txt"}
	if diff := cmp.Diff(wantFiles, out.Output.(gitApplyOutput).Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	var changed []string
	for _, f := range wantFiles {
		changed = append(changed, "repo/"+f)
	}
	if diff := cmp.Diff(changed, out.FilesChanged); diff != "" {
		t.Errorf("FilesChanged (-want +got):\n%s", diff)
	}
	if got := readFile(t, env, "repo/newdir/deep/new.txt"); got != "brand new\n" {
		t.Errorf("new file = %q", got)
	}
	if got := readFile(t, env, "repo/del.txt"); got != "<missing>" {
		t.Errorf("deleted file = %q", got)
	}
	var diffs int
	for _, art := range out.Artifacts {
		if art.Type == "diff" {
			diffs++
			if art.Path == "repo/README.md" && !strings.Contains(art.Value, "+patched") {
				t.Errorf("README diff = %q", art.Value)
			}
		}
	}
	if diffs != len(wantFiles) {
		t.Errorf("%d diff artifacts, want %d", diffs, len(wantFiles))
	}
	// Work after the apply, in files the patch did not touch, survives.
	writeFile(t, env, "repo/other.txt", "other\nuser edit\nlater edit\n")
	before["other.txt"] = "other\nuser edit\nlater edit\n"

	for range 2 { // idempotent
		if err := a.Rollback(bg, env, out.Undo); err != nil {
			t.Fatal(err)
		}
	}
	for f, want := range before {
		if got := readFile(t, env, "repo/"+f); got != want {
			t.Errorf("%s = %q after rollback, want %q", f, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(env.Dir, "repo/newdir")); !os.IsNotExist(err) {
		t.Errorf("the directory the patch created is still there: %v", err)
	}
	if stash := gitT(t, env, "repo", "stash", "list"); stash != "" {
		t.Errorf("stash used: %q", stash)
	}
}

func TestGitApplyKeepsADirectoryThatGotOtherFiles(t *testing.T) {
	env, _ := gitTestEnv(t)
	a := gitAdapter(t, "git:apply")
	patch := "diff --git a/d/new.txt b/d/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/d/new.txt\n@@ -0,0 +1 @@\n+new\n"
	out, err := a.Execute(bg, env, Input{"repo": "repo", "patch": patch})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, env, "repo/d/mine.txt", "mine")
	if err := a.Rollback(bg, env, out.Undo); err != nil {
		t.Fatal(err)
	}
	if readFile(t, env, "repo/d/new.txt") != "<missing>" || readFile(t, env, "repo/d/mine.txt") != "mine" {
		t.Error("rollback removed the wrong things")
	}
}

func TestGitApplyCheckAndRefusals(t *testing.T) {
	env, _ := gitTestEnv(t)
	a := gitAdapter(t, "git:apply")
	good := "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # readme\n+line\n"
	bad := "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # not what is there\n+line\n"
	creates := func(p string) string {
		return "diff --git a/" + p + " b/" + p + "\nnew file mode 100644\n--- /dev/null\n+++ b/" + p + "\n@@ -0,0 +1 @@\n+x\n"
	}

	out, err := a.Execute(bg, env, Input{"repo": "repo", "patch": good, "check": true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gitApplyOutput{Repo: "repo", Check: true, Applies: true, Files: []string{"README.md"}}, out.Output); diff != "" {
		t.Error(diff)
	}
	if out.Undo != nil || readFile(t, env, "repo/README.md") != "# readme\n" {
		t.Error("check changed something")
	}
	out, err = a.Execute(bg, env, Input{"repo": "repo", "patch": bad, "check": true})
	if err != nil {
		t.Fatal(err)
	}
	if o := out.Output.(gitApplyOutput); o.Applies || o.Message == "" {
		t.Errorf("check of a bad patch = %+v", o)
	}

	p, err := a.DryRun(bg, env, Input{"repo": "repo", "patch": bad})
	if err != nil || len(p.Warnings) == 0 || !slices.Equal(p.Changes, []string{"repo/README.md"}) {
		t.Errorf("dry run = %+v, %v", p, err)
	}

	_, err = a.Execute(bg, env, Input{"repo": "repo", "patch": bad})
	gitCode(t, err, warden.CodeConflict)

	tests := []struct {
		name, patch string
		want        warden.Code
	}{
		{"forbidden file", creates(".env"), warden.CodeDenied},
		{"forbidden file in a subdirectory", creates("config/.env"), warden.CodeDenied},
		{"parent directory", creates("../evil.txt"), warden.CodeDenied},
		{"git directory", creates(".git/hooks/pre-commit"), warden.CodeDenied},
		{"git directory, other case", creates(".GIT/config"), warden.CodeDenied},
		{"not a patch", "hello\n", warden.CodeInvalidInput},
		{"good then forbidden", good + creates(".env"), warden.CodeDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, check := range []bool{false, true} {
				_, err := a.Execute(bg, env, Input{"repo": "repo", "patch": tc.patch, "check": check})
				gitCode(t, err, tc.want)
			}
		})
	}
	if st := gitT(t, env, "repo", "status", "--porcelain", "--ignored"); st != "" {
		t.Errorf("a refused patch changed the repository: %q", st)
	}
	if _, err := os.Stat(filepath.Join(env.Dir, "evil.txt")); !os.IsNotExist(err) {
		t.Error("evil.txt written outside the repository")
	}
}
