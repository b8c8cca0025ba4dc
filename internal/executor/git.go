package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/warden"
)

// The git adapters run the git binary directly, as an argument vector,
// never through a shell. The agent can write to the repository, .git/config
// included, so every run is hardened against a hostile repository:
//
//   - the repository is named explicitly with --git-dir and --work-tree,
//     after checking that both, with every link resolved, lie inside the
//     project root (a .git file or link pointing elsewhere, or a
//     core.worktree setting, cannot move the work outside it) and that the
//     git directory holds no symbolic link git could write through;
//   - configuration that makes git run a program is overridden on the
//     command line: core.fsmonitor, core.hooksPath (to /dev/null, so no
//     hook runs), core.pager, diff.external, core.sshCommand, core.editor,
//     commit signing, automatic gc, and every filter, diff or merge driver
//     the repository's own configuration defines; protocol.allow=never
//     forbids any transport;
//   - the environment drops every GIT_* variable except the author and
//     committer identity, ignores the system configuration, and never
//     prompts.
//
// input.repo names the repository's top-level directory (the one holding
// .git), root-relative or absolute; input.paths are relative to it. Outputs
// give repo root-relative and file paths relative to the repository, as git
// prints them; Outcome.FilesChanged is root-relative.

// gitAdapters returns the git adapters.
func gitAdapters() []Adapter {
	return []Adapter{gitStatusAdapter{}, gitDiffAdapter{}, gitApplyAdapter{}, gitCommitAdapter{}}
}

// gitOverrides are the settings every git run gets on its command line.
var gitOverrides = []string{
	"core.fsmonitor=false",
	"core.hooksPath=/dev/null",
	"core.pager=cat",
	"diff.external=",
	"core.sshCommand=false",
	"core.editor=false",
	"sequence.editor=false",
	"credential.helper=",
	"protocol.allow=never",
	"commit.gpgSign=false",
	"tag.gpgSign=false",
	"gc.auto=0",
	"maintenance.auto=false",
	"color.ui=false",
}

// gitIdentity are the only GIT_* variables a git run inherits.
var gitIdentity = []string{
	"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
	"GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE",
}

// gitDriverKey matches the repository settings that name a program for a
// filter, diff or merge driver.
var gitDriverKey = `^(filter|diff|merge)\..+\.(clean|smudge|process|required|textconv|command|driver)$`

// gitRefPattern is what a ref may look like: branch and tag names, commit
// ids, and suffixes such as ~1, ^2 or @{1}; never an option, a range, a
// tree path or anything a shell would interpret.
var gitRefPattern = regexp.MustCompile(`^[A-Za-z0-9_@][A-Za-z0-9_./@{}~^+-]{0,254}$`)

// gitAuthorPattern is "Name <email>".
var gitAuthorPattern = regexp.MustCompile(`^[^<>\r\n]*[^<>\s][^<>\r\n]* <[^<>\s@]+@[^<>\s@]+>$`)

// gitSHAPattern is a full commit id, SHA-1 or SHA-256.
var gitSHAPattern = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// gitParseLimit bounds the output of a git command the adapter parses.
const gitParseLimit = 64 << 20

// gitUnborn stands for the commit of a branch that has none yet.
const gitUnborn = "unborn"

// A gitRepo is a repository checked to lie inside the project root.
type gitRepo struct {
	env *Env
	// rel is the work tree relative to the root, with links resolved;
	// named is the same directory as the agent named it.
	rel, named string
	// dir and gitDir are absolute, with every link resolved.
	dir, gitDir string
	// drivers are the repository's own filter, diff and merge driver
	// settings, blanked: name and value.
	drivers [][2]string
}

// openGitRepo checks input.repo and returns the repository it names. With
// in non-nil the directory it really is gets checked against the policy
// as the action's repo.
func openGitRepo(ctx context.Context, env *Env, kind string, in Input, repo string) (*gitRepo, error) {
	named, err := env.Rel(repo)
	if err != nil {
		return nil, err
	}
	var f *os.File
	if in != nil {
		f, _, err = env.OpenChecked(ctx, kind, in, "repo", named, os.O_RDONLY, 0)
	} else {
		f, err = env.Root.Open(named)
		err = fileError(named, err)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.IsDir() {
		err = warden.Errorf(warden.CodeInvalidInput, "input.repo: %s is not a directory", named)
	}
	var dir, rel string
	if err == nil {
		dir, rel, err = realOpenedPath(env, f, named)
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	if _, err := env.Root.Lstat(path.Join(rel, ".git")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, warden.Errorf(warden.CodeNotFound, "input.repo: %s is not the top-level directory of a git repository (it has no .git)", named)
		}
		return nil, fileError(path.Join(rel, ".git"), err)
	}
	r := &gitRepo{env: env, rel: rel, named: named, dir: dir, gitDir: filepath.Join(dir, ".git")}
	res, err := r.run(ctx, nil, gitParseLimit, "rev-parse", "--absolute-git-dir", "--git-common-dir")
	if err != nil {
		return nil, gitFailure(err, warden.CodeInvalidState, "%s is not a usable git repository", named)
	}
	lines := strings.Split(strings.TrimRight(string(res.out), "\n"), "\n")
	if len(lines) != 2 {
		return nil, warden.Errorf(warden.CodeInvalidState, "%s: git rev-parse gave %q", named, res.out)
	}
	var dirs []string
	for _, d := range lines {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			return nil, warden.Errorf(warden.CodeInvalidState, "%s: git directory %s: %v", named, d, err)
		}
		if _, err := physicalRel(env, real); err != nil {
			return nil, warden.Errorf(warden.CodeDenied, "the git directory of %s is %s, outside the project root %s", named, real, env.Dir)
		}
		dirs = append(dirs, real)
	}
	r.gitDir = dirs[0]
	for _, d := range slices.Compact(dirs) {
		if err := r.checkNoLinks(d); err != nil {
			return nil, err
		}
	}
	if err := r.loadDrivers(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// checkNoLinks refuses a git directory holding a symbolic link: git would
// write refs, logs or objects through it, possibly outside the root.
// Loose objects and packs are not listed one by one; their directories
// are checked.
func (r *gitRepo) checkNoLinks(dir string) error {
	rel, err := physicalRel(r.env, dir)
	if err != nil {
		return err
	}
	objects := path.Join(rel, "objects")
	seen := 0
	return fs.WalkDir(r.env.Root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fileError(p, err)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return warden.Errorf(warden.CodeDenied, "%s is a symbolic link inside the git directory; Warden does not run git on a repository whose metadata links elsewhere", p)
		}
		if seen++; seen > 100_000 {
			return fs.SkipAll
		}
		if d.IsDir() && path.Dir(p) == objects && p != objects {
			return fs.SkipDir
		}
		return nil
	})
}

// loadDrivers finds the filter, diff and merge drivers the repository's
// own configuration defines, so that every run blanks their programs. The
// user's global configuration is trusted: the agent cannot write it.
func (r *gitRepo) loadDrivers(ctx context.Context) error {
	res, err := r.run(ctx, nil, gitParseLimit, "config", "-z", "--show-scope", "--get-regexp", gitDriverKey)
	var ge *gitError
	if errors.As(err, &ge) && ge.status == 1 {
		return nil // no match
	}
	if err != nil {
		return gitFailure(err, warden.CodeInvalidState, "reading the configuration of %s", r.named)
	}
	seen := map[string]bool{}
	recs := strings.Split(string(res.out), "\x00")
	for i := 0; i+1 < len(recs); i += 2 {
		scope, kv := recs[i], recs[i+1]
		if scope == "global" || scope == "system" {
			continue
		}
		key, _, _ := strings.Cut(kv, "\n")
		first, last := strings.Index(key, "."), strings.LastIndex(key, ".")
		if first < 0 || last <= first {
			continue
		}
		section, sub := key[:first], key[first+1:last]
		if seen[section+"."+sub] {
			continue
		}
		seen[section+"."+sub] = true
		var vars [][2]string
		switch section {
		case "filter":
			vars = [][2]string{{"clean", ""}, {"smudge", ""}, {"process", ""}, {"required", "false"}}
		case "diff":
			vars = [][2]string{{"textconv", ""}, {"command", ""}}
		case "merge":
			vars = [][2]string{{"driver", ""}}
		}
		for _, v := range vars {
			r.drivers = append(r.drivers, [2]string{section + "." + sub + "." + v[0], v[1]})
		}
	}
	return nil
}

// environ is the environment of a git run.
func (r *gitRepo) environ() []string {
	base := r.env.Environ
	if base == nil {
		base = os.Environ()
	}
	out := make([]string, 0, len(base)+8+2*len(r.drivers))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToUpper(name), "GIT_") && !slices.Contains(gitIdentity, name):
		case name == "LC_ALL", name == "LANGUAGE":
		default:
			out = append(out, kv)
		}
	}
	out = append(out, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0",
		"GIT_NO_REPLACE_OBJECTS=1", "LC_ALL=C")
	// Driver names are the repository's, so they go through
	// GIT_CONFIG_KEY_n, which takes a name with any character in it,
	// rather than -c name=value, which would split it at an "=".
	if len(r.drivers) > 0 {
		out = append(out, "GIT_CONFIG_COUNT="+strconv.Itoa(len(r.drivers)))
		for i, d := range r.drivers {
			out = append(out, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, d[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, d[1]))
		}
	}
	return out
}

// gitResult is what a git run wrote to its standard output.
type gitResult struct {
	out []byte
	// cut reports output beyond the run's limit, which was dropped.
	cut bool
}

// gitError is a git run that failed.
type gitError struct {
	sub    string
	status int
	stderr string
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s: exit status %d: %s", e.sub, e.status, e.stderr)
}

// gitFailure turns a failed run into a domain error with the code, the
// message and git's own explanation.
func gitFailure(err error, code warden.Code, format string, args ...any) error {
	var ge *gitError
	if errors.As(err, &ge) {
		msg := strings.TrimSpace(ge.stderr)
		if msg == "" {
			msg = fmt.Sprintf("git %s exited with status %d", ge.sub, ge.status)
		}
		return &warden.Error{Code: code, Message: fmt.Sprintf(format, args...) + ": " + msg, Err: err}
	}
	var we *warden.Error
	if errors.As(err, &we) {
		return err
	}
	return &warden.Error{Code: warden.CodeInvalidState, Message: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// gitCapture keeps the first limit bytes written to it.
type gitCapture struct {
	buf   bytes.Buffer
	limit int
	cut   bool
}

func (c *gitCapture) Write(p []byte) (int, error) {
	if room := c.limit - c.buf.Len(); room < len(p) {
		c.cut = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.buf.Write(p)
}

// run runs git with args in the work tree, hardened, with stdin as its
// input; it keeps up to limit bytes of the output.
func (r *gitRepo) run(ctx context.Context, stdin []byte, limit int, args ...string) (gitResult, error) {
	argv := []string{"--no-pager"}
	for _, o := range gitOverrides {
		argv = append(argv, "-c", o)
	}
	argv = append(argv, "--git-dir="+r.gitDir, "--work-tree="+r.dir)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, "git", argv...)
	cmd.Dir = r.dir
	cmd.Env = r.environ()
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out := &gitCapture{limit: limit}
	errOut := &gitCapture{limit: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, errOut
	err := cmd.Run()
	res := gitResult{out: out.buf.Bytes(), cut: out.cut}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, warden.Errorf(warden.CodeInvalidState, "git %s: %v", args[0], ctx.Err())
	case errors.As(err, &ee):
		return res, &gitError{sub: args[0], status: ee.ExitCode(), stderr: errOut.buf.String()}
	}
	return res, warden.Errorf(warden.CodeInvalidState, "cannot run git: %v", err)
}

// parse runs a git command whose whole output the adapter parses: output
// past gitParseLimit is an error rather than a silent cut.
func (r *gitRepo) parse(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	res, err := r.run(ctx, stdin, gitParseLimit, args...)
	if err == nil && res.cut {
		err = warden.Errorf(warden.CodeTooLarge, "git %s wrote more than %d bytes", args[0], gitParseLimit)
	}
	return res.out, err
}

// repoPath turns an entry of input.paths into a clean path relative to the
// repository; it must stay inside the repository and out of .git.
func (r *gitRepo) repoPath(p string) (string, error) {
	if p == "" {
		return "", warden.Errorf(warden.CodeInvalidInput, "input.paths: an entry is empty")
	}
	if filepath.IsAbs(p) {
		rel, err := r.env.Rel(p)
		if err != nil {
			return "", err
		}
		for _, base := range []string{r.rel, r.named} {
			if base == "." {
				p = rel
				break
			}
			if rest, ok := strings.CutPrefix(rel, base+"/"); ok {
				p = rest
				break
			}
			if rel == base {
				p = "."
				break
			}
		}
		if filepath.IsAbs(p) {
			return "", warden.Errorf(warden.CodeDenied, "input.paths: %s is outside the repository %s", p, r.named)
		}
	}
	c := path.Clean(filepath.ToSlash(p))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", warden.Errorf(warden.CodeDenied, "input.paths: %s leaves the repository %s", p, r.named)
	}
	if gitInternal(c) {
		return "", warden.Errorf(warden.CodeDenied, "input.paths: %s is inside the .git directory", p)
	}
	return c, nil
}

// gitInternal reports a repository path inside a .git directory.
func gitInternal(p string) bool {
	for c := range strings.SplitSeq(p, "/") {
		if strings.EqualFold(c, ".git") {
			return true
		}
	}
	return false
}

// rootRel returns the root-relative path of a repository path.
func (r *gitRepo) rootRel(p string) string { return path.Join(r.rel, p) }

// gitPathspecs turns repository paths into literal gitPathspecs: no glob or
// magic in an agent's path can widen what git touches.
func gitPathspecs(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = ":(literal)" + p
	}
	return out
}

// gitSplitNUL splits NUL-terminated records.
func gitSplitNUL(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// head returns the commit HEAD points at, or gitUnborn.
func (r *gitRepo) head(ctx context.Context) (string, error) {
	return r.commitOf(ctx, "HEAD")
}

// commitOf resolves a checked ref to its commit id, or gitUnborn when it
// does not exist.
func (r *gitRepo) commitOf(ctx context.Context, ref string) (string, error) {
	out, err := r.parse(ctx, nil, "rev-parse", "-q", "--verify", "--end-of-options", ref+"^{commit}")
	var ge *gitError
	if errors.As(err, &ge) && ge.status == 1 {
		return gitUnborn, nil
	}
	if err != nil {
		return "", gitFailure(err, warden.CodeInvalidState, "resolving %s", ref)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitBranchRef reports HEAD or a well-formed refs/heads/ name: what an
// undo record may name. Whatever it holds, it reaches git as one argument
// that cannot be an option.
func gitBranchRef(ref string) bool {
	if ref == "HEAD" {
		return true
	}
	name, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok || name == "" || strings.Contains(name, "..") || strings.Contains(name, "@{") ||
		strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".lock") {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	return true
}

// gitRepoInput reads input.repo.
func gitRepoInput(in Input) (string, error) { return String(in, "repo", true) }

// ---- git:status ----

// gitStatusAdapter reports the work tree's state. Read-only.
//
// Input: repo. Output: {repo, branch{currentBranch, commit, upstream,
// ahead, behind}, entries[{path, origPath, status, staged}], clean,
// summary{total, staged, unstaged, untracked}, raw}. A file changed both in
// the index and in the work tree gives two entries, one staged.
type gitStatusAdapter struct{}

func (gitStatusAdapter) Kind() string { return "git:status" }

func (gitStatusAdapter) Validate(in Input) error {
	if err := Known(in, "repo"); err != nil {
		return err
	}
	_, err := gitRepoInput(in)
	return err
}

func (a gitStatusAdapter) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	if err := a.Validate(in); err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, in["repo"].(string))
	if err != nil {
		return nil, err
	}
	return &Plan{WouldDo: "git status in " + r.named}, nil
}

type gitBranchInfo struct {
	CurrentBranch string `json:"currentBranch"`
	Commit        string `json:"commit,omitempty"`
	Upstream      string `json:"upstream,omitempty"`
	Ahead         int    `json:"ahead"`
	Behind        int    `json:"behind"`
}

type gitStatusEntry struct {
	Path     string `json:"path"`
	OrigPath string `json:"origPath,omitempty"`
	Status   string `json:"status"`
	Staged   bool   `json:"staged"`
}

type gitStatusSummary struct {
	Total     int `json:"total"`
	Staged    int `json:"staged"`
	Unstaged  int `json:"unstaged"`
	Untracked int `json:"untracked"`
}

type gitStatusOutput struct {
	Repo    string           `json:"repo"`
	Branch  gitBranchInfo    `json:"branch"`
	Entries []gitStatusEntry `json:"entries"`
	Clean   bool             `json:"clean"`
	Summary gitStatusSummary `json:"summary"`
	Raw     string           `json:"raw"`
}

func (a gitStatusAdapter) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	if err := a.Validate(in); err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, in["repo"].(string))
	if err != nil {
		return nil, err
	}
	out, err := r.parse(ctx, nil, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=normal", "--ignore-submodules=all")
	if err != nil {
		return nil, gitFailure(err, warden.CodeInvalidState, "git status in %s", r.named)
	}
	st, err := parseGitStatus(out)
	if err != nil {
		return nil, err
	}
	st.Repo = r.named
	return &Outcome{Output: *st, OutputBytes: int64(len(out))}, nil
}

// gitStatusCodes names the XY letters of git status.
var gitStatusCodes = map[byte]string{
	'M': "modified", 'T': "typechange", 'A': "added", 'D': "deleted",
	'R': "renamed", 'C': "copied", 'U': "unmerged",
}

// parseGitStatus reads `git status --porcelain=v2 --branch -z`.
func parseGitStatus(out []byte) (*gitStatusOutput, error) {
	st := &gitStatusOutput{Entries: []gitStatusEntry{}, Branch: gitBranchInfo{CurrentBranch: "(unknown)"}}
	recs := gitSplitNUL(out)
	bad := func(rec string) error {
		return warden.Errorf(warden.CodeInvalidState, "git status: unexpected line %q", rec)
	}
	xy := func(code, p, orig string) {
		if code[0] != '.' {
			st.Entries = append(st.Entries, gitStatusEntry{Path: p, OrigPath: orig, Status: gitStatusName(code[0]), Staged: true})
		}
		if code[1] != '.' {
			st.Entries = append(st.Entries, gitStatusEntry{Path: p, OrigPath: orig, Status: gitStatusName(code[1])})
		}
	}
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		switch {
		case strings.HasPrefix(rec, "# branch.oid "):
			if oid := strings.TrimPrefix(rec, "# branch.oid "); oid != "(initial)" {
				st.Branch.Commit = oid
			}
		case strings.HasPrefix(rec, "# branch.head "):
			st.Branch.CurrentBranch = strings.TrimPrefix(rec, "# branch.head ")
			if st.Branch.CurrentBranch == "(detached)" {
				st.Branch.CurrentBranch = "(detached HEAD)"
			}
		case strings.HasPrefix(rec, "# branch.upstream "):
			st.Branch.Upstream = strings.TrimPrefix(rec, "# branch.upstream ")
		case strings.HasPrefix(rec, "# branch.ab "):
			if _, err := fmt.Sscanf(strings.TrimPrefix(rec, "# branch.ab "), "+%d -%d", &st.Branch.Ahead, &st.Branch.Behind); err != nil {
				return nil, bad(rec)
			}
		case strings.HasPrefix(rec, "# "):
		case strings.HasPrefix(rec, "1 "):
			f := strings.SplitN(rec, " ", 9)
			if len(f) != 9 || len(f[1]) != 2 {
				return nil, bad(rec)
			}
			xy(f[1], f[8], "")
		case strings.HasPrefix(rec, "2 "):
			f := strings.SplitN(rec, " ", 10)
			if len(f) != 10 || len(f[1]) != 2 || i+1 >= len(recs) {
				return nil, bad(rec)
			}
			i++
			xy(f[1], f[9], recs[i])
		case strings.HasPrefix(rec, "u "):
			f := strings.SplitN(rec, " ", 11)
			if len(f) != 11 {
				return nil, bad(rec)
			}
			st.Entries = append(st.Entries, gitStatusEntry{Path: f[10], Status: "unmerged"})
		case strings.HasPrefix(rec, "? "):
			st.Entries = append(st.Entries, gitStatusEntry{Path: rec[2:], Status: "untracked"})
		case strings.HasPrefix(rec, "! "):
		default:
			return nil, bad(rec)
		}
	}
	for _, e := range st.Entries {
		switch {
		case e.Staged:
			st.Summary.Staged++
		case e.Status == "untracked":
			st.Summary.Untracked++
		default:
			st.Summary.Unstaged++
		}
	}
	st.Summary.Total = len(st.Entries)
	st.Clean = st.Summary.Total == 0
	st.Raw = strings.Join(recs, "\n")
	return st, nil
}

func gitStatusName(c byte) string {
	if s, ok := gitStatusCodes[c]; ok {
		return s
	}
	return "unknown"
}

func (gitStatusAdapter) Rollback(context.Context, *Env, json.RawMessage) error { return nil }

// ---- git:diff ----

// gitDiffAdapter shows changes against a commit. Read-only.
//
// Input: repo, ref (default HEAD; the empty tree while HEAD has no
// commit), paths, staged (compare the index rather than the work tree).
// Output: {repo, ref, commit (the id compared against: the empty tree's
// while HEAD has no commit), diff, linesChanged, files, truncated,
// withheld}. The diff is cut at MaxCapture. A file the policy would not
// let this action name in input.paths (a forbidden .env, say) is left out
// of the diff and listed in withheld.
type gitDiffAdapter struct{}

func (gitDiffAdapter) Kind() string { return "git:diff" }

type gitDiffInput struct {
	repo, ref string
	paths     []string
	staged    bool
}

func parseGitDiff(in Input) (gitDiffInput, error) {
	var d gitDiffInput
	if err := Known(in, "repo", "ref", "paths", "staged"); err != nil {
		return d, err
	}
	var err error
	if d.repo, err = gitRepoInput(in); err != nil {
		return d, err
	}
	if d.ref, err = String(in, "ref", false); err != nil {
		return d, err
	}
	if d.ref != "" {
		if err := checkGitRef(d.ref); err != nil {
			return d, err
		}
	}
	if d.paths, err = Strings(in, "paths"); err != nil {
		return d, err
	}
	d.staged, err = Bool(in, "staged", false)
	return d, err
}

// checkGitRef refuses a ref that is not plainly a ref.
func checkGitRef(ref string) error {
	if !gitRefPattern.MatchString(ref) || strings.Contains(ref, "..") || strings.Contains(ref, "@{-") {
		return warden.Errorf(warden.CodeInvalidInput, "input.ref: %q is not a branch, tag or commit name (letters, digits and . _ / @ { } ~ ^ + -, not starting with - and without ..)", ref)
	}
	return nil
}

func (a gitDiffAdapter) Validate(in Input) error {
	_, err := parseGitDiff(in)
	return err
}

func (a gitDiffAdapter) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	d, err := parseGitDiff(in)
	if err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, d.repo)
	if err != nil {
		return nil, err
	}
	ref := gitOr(d.ref, "HEAD")
	what := "git diff " + ref
	if d.staged {
		what = "git diff --cached " + ref
	}
	what += " in " + r.named
	if len(d.paths) > 0 {
		what += " -- " + strings.Join(d.paths, " ")
	}
	return &Plan{WouldDo: what}, nil
}

// cmp returns s, or def when s is empty.
func gitOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type gitDiffOutput struct {
	Repo         string   `json:"repo"`
	Ref          string   `json:"ref"`
	Commit       string   `json:"commit"`
	Diff         string   `json:"diff"`
	LinesChanged int      `json:"linesChanged"`
	Files        []string `json:"files"`
	Truncated    bool     `json:"truncated,omitempty"`
	Withheld     []string `json:"withheld,omitempty"`
}

func (a gitDiffAdapter) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	d, err := parseGitDiff(in)
	if err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, d.repo)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(d.paths))
	for i, p := range d.paths {
		if paths[i], err = r.repoPath(p); err != nil {
			return nil, err
		}
	}
	ref := gitOr(d.ref, "HEAD")
	commit, err := r.commitOf(ctx, ref)
	if err != nil {
		return nil, err
	}
	if commit == gitUnborn {
		if d.ref != "" {
			return nil, warden.Errorf(warden.CodeNotFound, "input.ref: %q does not name a commit in %s", d.ref, r.named)
		}
		// No commit yet: everything is new against the empty tree.
		out, err := r.parse(ctx, []byte{}, "hash-object", "-t", "tree", "--stdin")
		if err != nil {
			return nil, gitFailure(err, warden.CodeInvalidState, "naming the empty tree")
		}
		commit = strings.TrimSpace(string(out))
	}
	base := []string{"diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--ignore-submodules=all"}
	if d.staged {
		base = append(base, "--cached")
	}
	base = append(base, commit)
	spec := append([]string{"--"}, gitPathspecs(paths)...)
	ns, err := r.parse(ctx, nil, slices.Concat(base, []string{"--numstat", "-z"}, spec)...)
	if err != nil {
		return nil, gitFailure(err, warden.CodeInvalidState, "git diff in %s", r.named)
	}
	stats, err := parseGitNumstat(ns)
	if err != nil {
		return nil, err
	}
	o := gitDiffOutput{Repo: r.named, Ref: ref, Commit: commit, Files: []string{}}
	for _, s := range stats {
		err := env.Recheck(ctx, a.Kind(), in, "paths", env.Abs(r.rootRel(s.path)))
		if warden.ErrorCode(err) == warden.CodeDenied {
			o.Withheld = append(o.Withheld, s.path)
			spec = append(spec, ":(exclude,literal)"+s.path)
			continue
		}
		if err != nil {
			return nil, err
		}
		o.Files = append(o.Files, s.path)
		o.LinesChanged += s.added + s.deleted
	}
	if len(o.Files) > 0 {
		res, err := r.run(ctx, nil, MaxCapture, slices.Concat(base, []string{"--patch", "--src-prefix=a/", "--dst-prefix=b/"}, spec)...)
		if err != nil {
			return nil, gitFailure(err, warden.CodeInvalidState, "git diff in %s", r.named)
		}
		o.Diff, o.Truncated = string(res.out), res.cut
	}
	return &Outcome{
		Output:      o,
		OutputBytes: int64(len(o.Diff)),
		Artifacts:   []warden.Artifact{{Type: "checksum", Value: Checksum([]byte(o.Diff)), Path: r.named, Description: "diff"}},
	}, nil
}

func (gitDiffAdapter) Rollback(context.Context, *Env, json.RawMessage) error { return nil }

// gitNumstat is one line of `--numstat -z`: lines added and deleted (0 for a
// binary file) in one path.
type gitNumstat struct {
	path           string
	added, deleted int
}

// parseGitNumstat reads `git diff|apply --numstat -z` output without renames.
func parseGitNumstat(out []byte) ([]gitNumstat, error) {
	var stats []gitNumstat
	for _, rec := range gitSplitNUL(out) {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) != 3 || f[2] == "" {
			return nil, warden.Errorf(warden.CodeInvalidState, "git --numstat: unexpected record %q", rec)
		}
		a, _ := strconv.Atoi(f[0]) // "-" for a binary file
		d, _ := strconv.Atoi(f[1])
		stats = append(stats, gitNumstat{path: f[2], added: a, deleted: d})
	}
	return stats, nil
}

// ---- git:apply ----

// gitApplyAdapter applies a patch to the work tree (not the index).
//
// Input: repo, patch, check (only test that the patch applies). Before
// applying it snapshots every file the patch touches, both sides of a
// rename included, and rollback restores exactly those files, removing
// the ones the patch created and the directories created for them; the
// user's other uncommitted work is never touched (no stash). Each touched
// path is checked again as input.paths of this git:apply action, so a
// patch cannot reach a path the policy forbids even though the action
// itself named only the repository. Output: {repo, check, applies, files,
// message}; files are repository-relative.
type gitApplyAdapter struct{}

func (gitApplyAdapter) Kind() string { return "git:apply" }

type gitApplyInput struct {
	repo, patch string
	check       bool
}

func parseGitApply(in Input) (gitApplyInput, error) {
	var g gitApplyInput
	if err := Known(in, "repo", "patch", "check"); err != nil {
		return g, err
	}
	var err error
	if g.repo, err = gitRepoInput(in); err != nil {
		return g, err
	}
	if g.patch, err = String(in, "patch", true); err != nil {
		return g, err
	}
	g.check, err = Bool(in, "check", false)
	return g, err
}

func (gitApplyAdapter) Validate(in Input) error {
	_, err := parseGitApply(in)
	return err
}

// touched lists the repository paths a patch touches, checked against the
// repository's bounds and the policy. A forward --numstat names the
// result of each change; a reversed one the original, so a rename gives
// both of its sides.
func (a gitApplyAdapter) touched(ctx context.Context, env *Env, in Input, r *gitRepo, patch []byte) ([]string, error) {
	var paths []string
	for _, dir := range [][]string{nil, {"-R"}} {
		out, err := r.parse(ctx, patch, slices.Concat([]string{"apply"}, dir, []string{"--numstat", "-z"})...)
		if err != nil {
			return nil, gitFailure(err, warden.CodeInvalidInput, "input.patch: git cannot read it as a patch")
		}
		stats, err := parseGitNumstat(out)
		if err != nil {
			return nil, err
		}
		for _, s := range stats {
			paths = append(paths, s.path)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if len(paths) == 0 {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.patch: it changes no file")
	}
	for _, p := range paths {
		c := path.Clean(p)
		if path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") || gitInternal(c) {
			return nil, warden.Errorf(warden.CodeDenied, "input.patch: it touches %s, outside the repository's work tree", p)
		}
		if err := env.Recheck(ctx, a.Kind(), in, "paths", env.Abs(r.rootRel(c))); err != nil {
			return nil, &warden.Error{Code: warden.ErrorCode(err), Message: "input.patch: it touches " + p + ": " + warden.ErrorMessage(err), Err: err}
		}
	}
	return paths, nil
}

func (a gitApplyAdapter) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	g, err := parseGitApply(in)
	if err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, g.repo)
	if err != nil {
		return nil, err
	}
	paths, err := a.touched(ctx, env, in, r, []byte(g.patch))
	if err != nil {
		return nil, err
	}
	p := &Plan{WouldDo: fmt.Sprintf("Apply a patch to %d file(s) in %s", len(paths), r.named)}
	if g.check {
		p.WouldDo = fmt.Sprintf("Check that a patch to %d file(s) applies in %s", len(paths), r.named)
	} else {
		for _, f := range paths {
			p.Changes = append(p.Changes, r.rootRel(f))
		}
	}
	if _, err := r.run(ctx, []byte(g.patch), 0, "apply", "--check"); err != nil {
		p.Warnings = append(p.Warnings, warden.ErrorMessage(gitFailure(err, warden.CodeConflict, "the patch does not apply")))
	}
	return p, nil
}

type gitApplyOutput struct {
	Repo    string   `json:"repo"`
	Check   bool     `json:"check"`
	Applies bool     `json:"applies"`
	Files   []string `json:"files"`
	Message string   `json:"message,omitempty"`
}

func (a gitApplyAdapter) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	g, err := parseGitApply(in)
	if err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, g.repo)
	if err != nil {
		return nil, err
	}
	patch := []byte(g.patch)
	paths, err := a.touched(ctx, env, in, r, patch)
	if err != nil {
		return nil, err
	}
	if g.check {
		o := gitApplyOutput{Repo: r.named, Check: true, Applies: true, Files: paths}
		if _, err := r.run(ctx, patch, 0, "apply", "--check"); err != nil {
			var ge *gitError
			if !errors.As(err, &ge) {
				return nil, err
			}
			o.Applies, o.Message = false, strings.TrimSpace(ge.stderr)
		}
		return &Outcome{Output: o}, nil
	}
	var set undoSnapshots
	for _, p := range paths {
		rel := r.rootRel(p)
		if err := set.noteMissingDirs(env, r.rel, rel); err != nil {
			return nil, err
		}
		if err := set.snapshot(ctx, env, rel); err != nil {
			return nil, err
		}
	}
	if _, err := r.run(ctx, patch, 0, "apply", "--whitespace=nowarn"); err != nil {
		failure := gitFailure(err, warden.CodeConflict, "the patch does not apply to %s", r.named)
		if rerr := set.restore(ctx, env); rerr != nil {
			return set.outcome(), undoFailed(failure, rerr)
		}
		return nil, failure
	}
	out := set.outcome()
	out.Output = gitApplyOutput{Repo: r.named, Applies: true, Files: paths}
	for _, st := range set.Files {
		out.FilesChanged = append(out.FilesChanged, st.Path)
		arts, n, err := snapshotEvidence(ctx, env, st)
		if err != nil {
			return out, err
		}
		out.Artifacts = append(out.Artifacts, arts...)
		out.OutputBytes += n
	}
	return out, nil
}

func (gitApplyAdapter) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	var set undoSnapshots
	if err := json.Unmarshal(undo, &set); err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "git:apply undo record: %v", err)
	}
	return set.restore(ctx, env)
}

// ---- git:commit ----

// gitCommitAdapter records a commit.
//
// Input: repo, message, paths (staged with git add), stageAll (git add -u),
// author ("Name <email>"). The commit holds the whole index: what was
// staged before plus what the action stages. Every file the commit would
// record is checked again as input.paths of this action; if one is
// refused, the index is put back as it was and nothing is committed. The
// message goes to git on standard input, verbatim. Output: {repo, commit,
// branch, message, files}; files are repository-relative.
//
// Rollback moves the branch back to the commit it was on (a soft reset:
// index and work tree keep everything, so no uncommitted work is lost)
// when the branch still is at the new commit, succeeds when it already is
// back, and otherwise reports a conflict naming both commits.
type gitCommitAdapter struct{}

func (gitCommitAdapter) Kind() string { return "git:commit" }

type gitCommitInput struct {
	repo, message, author string
	paths                 []string
	stageAll              bool
}

func parseGitCommit(in Input) (gitCommitInput, error) {
	var c gitCommitInput
	if err := Known(in, "repo", "message", "paths", "stageAll", "author"); err != nil {
		return c, err
	}
	var err error
	if c.repo, err = gitRepoInput(in); err != nil {
		return c, err
	}
	if c.message, err = String(in, "message", true); err != nil {
		return c, err
	}
	if c.paths, err = Strings(in, "paths"); err != nil {
		return c, err
	}
	if c.stageAll, err = Bool(in, "stageAll", false); err != nil {
		return c, err
	}
	if c.author, err = String(in, "author", false); err != nil {
		return c, err
	}
	if c.author != "" && !gitAuthorPattern.MatchString(c.author) {
		return c, warden.Errorf(warden.CodeInvalidInput, "input.author: %q must look like \"Name <email@example.com>\" on one line", c.author)
	}
	return c, nil
}

func (gitCommitAdapter) Validate(in Input) error {
	_, err := parseGitCommit(in)
	return err
}

// gitFirstLine is the message's first line, cut at 72 characters.
func gitFirstLine(msg string) string {
	l, _, _ := strings.Cut(msg, "\n")
	if r := []rune(l); len(r) > 72 {
		l = string(r[:72]) + "…"
	}
	return l
}

func (a gitCommitAdapter) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	c, err := parseGitCommit(in)
	if err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, c.repo)
	if err != nil {
		return nil, err
	}
	staged, err := r.parse(ctx, nil, "diff", "--cached", "--name-only", "-z", "--no-renames", "--ignore-submodules=all")
	if err != nil {
		return nil, gitFailure(err, warden.CodeInvalidState, "listing staged files in %s", r.named)
	}
	files := gitSplitNUL(staged)
	if c.stageAll {
		tracked, err := r.parse(ctx, nil, "diff", "--name-only", "-z", "--no-renames", "--ignore-submodules=all")
		if err != nil {
			return nil, gitFailure(err, warden.CodeInvalidState, "listing changed files in %s", r.named)
		}
		files = append(files, gitSplitNUL(tracked)...)
	}
	for _, p := range c.paths {
		rp, err := r.repoPath(p)
		if err != nil {
			return nil, err
		}
		files = append(files, rp)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	p := &Plan{WouldDo: fmt.Sprintf("Commit to %s: %q", r.named, gitFirstLine(c.message)), Changes: files}
	if len(files) == 0 {
		p.Warnings = append(p.Warnings, "nothing is staged and nothing would be: the commit would fail")
	}
	return p, nil
}

type gitCommitOutput struct {
	Repo    string   `json:"repo"`
	Commit  string   `json:"commit"`
	Branch  string   `json:"branch"`
	Message string   `json:"message"`
	Files   []string `json:"files"`
}

// gitCommitUndo is what a commit's rollback needs.
type gitCommitUndo struct {
	// Repo is the work tree, root-relative.
	Repo string `json:"repo"`
	// Ref is the branch the commit moved (refs/heads/…), or HEAD when
	// detached.
	Ref string `json:"ref"`
	// Previous is the commit the ref was at, or "unborn".
	Previous string `json:"previous"`
	Commit   string `json:"commit"`
}

func (a gitCommitAdapter) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	c, err := parseGitCommit(in)
	if err != nil {
		return nil, err
	}
	r, err := openGitRepo(ctx, env, a.Kind(), in, c.repo)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(c.paths))
	for i, p := range c.paths {
		if paths[i], err = r.repoPath(p); err != nil {
			return nil, err
		}
	}
	indexRel, err := physicalRel(env, filepath.Join(r.gitDir, "index"))
	if err != nil {
		return nil, err
	}
	// The index's modification time matters to git: an entry whose file
	// changed in the same clock tick as the index was written is compared
	// by content only while the index is not newer than it. So the index
	// is put back with its time as well as its bytes.
	var indexTime time.Time
	if fi, err := env.Root.Lstat(indexRel); err == nil {
		indexTime = fi.ModTime()
	}
	index, err := env.Snapshot(ctx, indexRel)
	if err != nil {
		return nil, err
	}
	// putBack undoes the staging when the commit does not happen.
	putBack := func(failure error) error {
		rerr := env.Restore(ctx, index)
		if rerr == nil && index.Exists {
			rerr = fileError(indexRel, env.Root.Chtimes(indexRel, indexTime, indexTime))
		}
		if rerr != nil {
			return undoFailed(failure, rerr)
		}
		return failure
	}
	if c.stageAll {
		if _, err := r.run(ctx, nil, 0, "add", "-u"); err != nil {
			return nil, putBack(gitFailure(err, warden.CodeInvalidState, "git add -u in %s", r.named))
		}
	}
	if len(paths) > 0 {
		if _, err := r.run(ctx, nil, 0, slices.Concat([]string{"add", "--"}, gitPathspecs(paths))...); err != nil {
			return nil, putBack(gitFailure(err, warden.CodeInvalidInput, "input.paths: git add in %s", r.named))
		}
	}
	out, err := r.parse(ctx, nil, "diff", "--cached", "--name-only", "-z", "--no-renames", "--ignore-submodules=all")
	if err != nil {
		return nil, putBack(gitFailure(err, warden.CodeInvalidState, "listing staged files in %s", r.named))
	}
	files := gitSplitNUL(out)
	if len(files) == 0 {
		return nil, putBack(warden.Errorf(warden.CodeInvalidState, "nothing to commit in %s: stage files with input.paths or input.stageAll", r.named))
	}
	for _, f := range files {
		if err := env.Recheck(ctx, a.Kind(), in, "paths", env.Abs(r.rootRel(f))); err != nil {
			return nil, putBack(&warden.Error{Code: warden.ErrorCode(err), Message: "the commit would record " + f + ": " + warden.ErrorMessage(err), Err: err})
		}
	}
	prev, err := r.head(ctx)
	if err != nil {
		return nil, putBack(err)
	}
	ref := "HEAD"
	if sym, err := r.parse(ctx, nil, "symbolic-ref", "-q", "HEAD"); err == nil {
		ref = strings.TrimSpace(string(sym))
	}
	args := []string{"commit", "--quiet", "--no-verify", "--no-gpg-sign", "--cleanup=verbatim", "-F", "-"}
	if c.author != "" {
		args = append(args, "--author="+c.author)
	}
	if _, err := r.run(ctx, []byte(c.message), 0, args...); err != nil {
		return nil, putBack(gitFailure(err, warden.CodeInvalidState, "git commit in %s", r.named))
	}
	sha, err := r.head(ctx)
	if err != nil {
		return nil, err
	}
	undo, err := json.Marshal(gitCommitUndo{Repo: r.rel, Ref: ref, Previous: prev, Commit: sha})
	if err != nil {
		return nil, err
	}
	o := gitCommitOutput{Repo: r.named, Commit: sha, Branch: strings.TrimPrefix(ref, "refs/heads/"), Message: c.message, Files: files}
	if tree, err := r.parse(ctx, nil, "diff-tree", "-r", "--root", "--no-commit-id", "--name-only", "-z", "--no-renames", sha); err == nil {
		o.Files = gitSplitNUL(tree)
	}
	return &Outcome{
		Output: o,
		Artifacts: []warden.Artifact{
			{Type: "checksum", Value: "commit:" + sha, Path: r.named, Description: "commit"},
			{Type: "checksum", Value: "message:" + Checksum([]byte(c.message)), Path: r.named, Description: "commit message"},
		},
		Undo: undo,
	}, nil
}

func (gitCommitAdapter) Rollback(ctx context.Context, env *Env, raw json.RawMessage) error {
	var u gitCommitUndo
	if err := json.Unmarshal(raw, &u); err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "git:commit undo record: %v", err)
	}
	if !gitBranchRef(u.Ref) || !gitSHAPattern.MatchString(u.Commit) || (u.Previous != gitUnborn && !gitSHAPattern.MatchString(u.Previous)) || u.Repo == "" {
		return warden.Errorf(warden.CodeInvalidInput, "git:commit undo record is malformed: %+v", u)
	}
	r, err := openGitRepo(ctx, env, "git:commit", nil, u.Repo)
	if err != nil {
		return err
	}
	cur, err := r.commitOf(ctx, u.Ref)
	if err != nil {
		return err
	}
	switch cur {
	case u.Previous:
		return nil // already undone
	case u.Commit:
	default:
		return warden.Errorf(warden.CodeConflict, "%s is now at %s, neither the commit %s made by this action nor the %s before it; it has moved since, so it is left alone", u.Ref, cur, u.Commit, u.Previous)
	}
	msg := "warden: roll back commit " + u.Commit
	var args []string
	switch {
	case u.Previous == gitUnborn:
		args = []string{"update-ref", "-m", msg, "-d", u.Ref, u.Commit}
	case u.Ref == "HEAD":
		args = []string{"update-ref", "-m", msg, "--no-deref", "HEAD", u.Previous, u.Commit}
	default:
		args = []string{"update-ref", "-m", msg, u.Ref, u.Previous, u.Commit}
	}
	if _, err := r.run(ctx, nil, 0, args...); err != nil {
		return gitFailure(err, warden.CodeConflict, "moving %s back from %s to %s", u.Ref, u.Commit, u.Previous)
	}
	return nil
}
