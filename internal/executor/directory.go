package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/wardenhq/warden/internal/warden"
)

// maxListEntries bounds the entries one directory:list returns.
const maxListEntries = 10000

// errStopDirWalk ends walkDirTree early without failing it.
var errStopDirWalk = errors.New("stop walking")

// A dirTreeEntry is one entry walkDirTree visits.
type dirTreeEntry struct {
	rel   string      // relative to the project root
	sub   string      // relative to the directory walked
	depth int         // 1 for the walked directory's own entries
	info  fs.FileInfo // from Lstat: a link is the link
}

// walkDirTree visits the entries below the open directory dir, named rel,
// depth first and in name order, no deeper than maxDepth levels (no limit
// when maxDepth <= 0). Links are never followed. visit says whether to
// descend into a directory; open opens one to descend into, and returns a
// nil file to skip it.
func walkDirTree(env *Env, dir *os.File, rel, sub string, depth, maxDepth int, open func(rel string) (*os.File, error), visit func(dirTreeEntry) (bool, error)) error {
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return fileError(rel, err)
	}
	slices.Sort(names)
	for _, name := range names {
		e := dirTreeEntry{rel: path.Join(rel, name), sub: path.Join(sub, name), depth: depth}
		fi, err := env.Root.Lstat(e.rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while walking
		}
		if err != nil {
			return fileError(e.rel, err)
		}
		e.info = fi
		descend, err := visit(e)
		if err != nil {
			return err
		}
		if !descend || !fi.IsDir() || maxDepth > 0 && depth >= maxDepth {
			continue
		}
		f, err := open(e.rel)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		err = walkDirTree(env, f, e.rel, e.sub, depth+1, maxDepth, open, visit)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// missingDirsOf returns the directories of rel (root-relative, rel itself
// included) that do not exist yet, parents first. A component that exists
// but is not a directory is a conflict.
func missingDirsOf(env *Env, rel string) ([]string, error) {
	if rel == "." {
		return nil, nil
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		d := strings.Join(parts[:i+1], "/")
		fi, err := env.Root.Stat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if _, lerr := env.Root.Lstat(d); lerr == nil {
				return nil, warden.Errorf(warden.CodeConflict, "%s is a symbolic link to nothing; no directory can be created through it", d)
			}
			var out []string
			for j := i; j < len(parts); j++ {
				out = append(out, strings.Join(parts[:j+1], "/"))
			}
			return out, nil
		case err != nil:
			return nil, fileError(d, err)
		case !fi.IsDir():
			return nil, warden.Errorf(warden.CodeConflict, "%s exists and is not a directory", d)
		}
	}
	return nil, nil
}

// makeDirsChecked creates the missing directories (root-relative, parents first)
// on the way to target, checking each against the policy as input key
// reaching target through it, so that the check sees where target will
// really be. It returns the real root-relative paths of the directories
// it created, parents first; on failure it removes them again.
func makeDirsChecked(ctx context.Context, env *Env, tool string, in Input, key string, missing []string, target string) ([]string, error) {
	var created []string
	for _, d := range missing {
		p, err := pinEntry(env, d)
		if err == nil {
			below := filepath.FromSlash(strings.TrimPrefix(target, d))
			if err = env.Recheck(ctx, tool, in, key, p.phys+below); err == nil {
				err = p.dir.Mkdir(p.name, 0o755)
				switch {
				case err == nil:
					created = append(created, p.rel)
					p.syncDir()
				case errors.Is(err, fs.ErrExist):
					// Made meanwhile by someone else: not ours to remove.
					if fi, serr := p.dir.Stat(p.name); serr == nil && fi.IsDir() {
						err = nil
					} else {
						err = warden.Errorf(warden.CodeConflict, "%s exists and is not a directory", p.rel)
					}
				default:
					err = fileError(p.rel, err)
				}
			}
			p.close()
		}
		if err != nil {
			_ = removeCreatedDirs(env, created)
			return nil, err
		}
	}
	return created, nil
}

// removeCreatedDirs removes directories an action created, deepest (last)
// first, each only when empty. A directory already gone is fine, so that
// a rollback can run again.
func removeCreatedDirs(env *Env, dirs []string) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		fi, err := env.Root.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fileError(d, err)
		}
		if !fi.IsDir() {
			return warden.Errorf(warden.CodeConflict, "%s is no longer a directory; it was left in place", d)
		}
		if err := env.Root.Remove(d); err != nil {
			if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
				return warden.Errorf(warden.CodeInvalidState, "directory %s is not empty, so it was not removed: it holdsState entries the action did not create; move or delete them, then roll back again", d)
			}
			return fileError(d, err)
		}
	}
	return nil
}

// dirList is directory:list. Input: path; recursive (default false);
// maxDepth 1–20 (default 5) when recursive; pattern, a doublestar glob
// matched against an entry's path relative to the listed directory, or
// against its name when the pattern has no "/". Output listResult, entries
// depth first in name order. Links are listed, never followed. An entry
// is listed only when the policy would let the agent list it by its own
// path (the directory:list action with path set to the entry): a
// forbidden file is not disclosed, even by name, and a hidden directory
// is not descended into.
type dirList struct{}

type listInput struct {
	path, pattern string
	recursive     bool
	maxDepth      int
}

// listEntry is one entry of a listing. Path is relative to the project
// root; Size is a regular file's size, 0 for anything else.
type listEntry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// listResult is directory:list's output. Truncated says that more than
// maxListEntries entries matched and the rest were left out.
type listResult struct {
	Path      string      `json:"path"`
	Entries   []listEntry `json:"entries"`
	Count     int         `json:"count"`
	Truncated bool        `json:"truncated"`
}

func (dirList) Kind() string { return "directory:list" }

func parseList(in Input) (l listInput, err error) {
	if err = Known(in, "path", "recursive", "maxDepth", "pattern"); err != nil {
		return l, err
	}
	if l.path, err = String(in, "path", true); err != nil {
		return l, err
	}
	if l.recursive, err = Bool(in, "recursive", false); err != nil {
		return l, err
	}
	depth, err := Int(in, "maxDepth", 5, 1, 20)
	if err != nil {
		return l, err
	}
	l.maxDepth = int(depth)
	if !l.recursive {
		l.maxDepth = 1
	}
	if l.pattern, err = String(in, "pattern", false); err != nil {
		return l, err
	}
	if l.pattern != "" && !doublestar.ValidatePattern(l.pattern) {
		return l, warden.Errorf(warden.CodeInvalidInput, "input.pattern: %q is not a valid glob; check for an unclosed [ or {", l.pattern)
	}
	return l, nil
}

func (dirList) Validate(in Input) error {
	_, err := parseList(in)
	return err
}

func (l listInput) describe(rel string) string {
	s := "List directory " + rel
	if l.recursive {
		s += fmt.Sprintf(" recursively, %d levels deep", l.maxDepth)
	}
	if l.pattern != "" {
		s += fmt.Sprintf(", entries matching %q", l.pattern)
	}
	return s
}

func (dirList) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	l, err := parseList(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(l.path)
	if err != nil {
		return nil, err
	}
	plan := &Plan{WouldDo: l.describe(rel)}
	if fi, err := env.Root.Stat(rel); err != nil {
		plan.Warnings = append(plan.Warnings, fileError(rel, err).Error())
	} else if !fi.IsDir() {
		plan.Warnings = append(plan.Warnings, rel+" is not a directory")
	}
	return plan, nil
}

// matches reports whether a listing's pattern selects e.
func (l listInput) matches(e dirTreeEntry) bool {
	if l.pattern == "" {
		return true
	}
	subject := e.sub
	if !strings.Contains(l.pattern, "/") {
		subject = path.Base(e.sub)
	}
	ok, _ := doublestar.Match(l.pattern, subject)
	return ok
}

func (dirList) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	l, err := parseList(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(l.path)
	if err != nil {
		return nil, err
	}
	dir, _, err := env.OpenChecked(ctx, "directory:list", in, "path", rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	if fi, err := dir.Stat(); err != nil {
		return nil, fileError(rel, err)
	} else if !fi.IsDir() {
		return nil, warden.Errorf(warden.CodeInvalidState, "%s is not a directory; file:read reads a file", rel)
	}
	res := listResult{Path: rel, Entries: []listEntry{}}
	// A subdirectory is opened checked, where it really is: one swapped
	// for a link after its entry was checked is refused, and skipped.
	open := func(sub string) (*os.File, error) {
		f, _, err := env.OpenChecked(ctx, "directory:list", in, "path", sub, os.O_RDONLY, 0)
		switch warden.ErrorCode(err) {
		case "":
			return f, nil
		case warden.CodeDenied, warden.CodeNotFound:
			return nil, nil
		}
		return nil, err
	}
	visit := func(e dirTreeEntry) (bool, error) {
		if err := env.Recheck(ctx, "directory:list", in, "path", env.Abs(e.rel)); err != nil {
			if warden.ErrorCode(err) == warden.CodeDenied {
				return false, nil // hidden by the policy
			}
			return false, err
		}
		if !l.matches(e) {
			return true, nil
		}
		if len(res.Entries) == maxListEntries {
			res.Truncated = true
			return false, errStopDirWalk
		}
		le := listEntry{Name: path.Base(e.rel), Path: e.rel, Type: entryTypeName(e.info.Mode())}
		if e.info.Mode().IsRegular() {
			le.Size = e.info.Size()
		}
		res.Entries = append(res.Entries, le)
		return true, nil
	}
	if err := walkDirTree(env, dir, rel, "", 1, l.maxDepth, open, visit); err != nil && !errors.Is(err, errStopDirWalk) {
		return nil, err
	}
	res.Count = len(res.Entries)
	return &Outcome{Output: res}, nil
}

func (dirList) Rollback(context.Context, *Env, json.RawMessage) error { return nil }

// dirCreate is directory:create. Input: path; recursive (default true)
// creates missing parents too. An existing directory is a success that
// creates nothing. Output createResult; Undo removes the directories
// created, deepest first, each only if empty.
type dirCreate struct{}

// createResult is directory:create's output; Directories lists those
// created, parents first, and Reason says why none was.
type createResult struct {
	Path        string   `json:"path"`
	Created     bool     `json:"created"`
	Directories []string `json:"directories,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

func (dirCreate) Kind() string { return "directory:create" }

func parseCreate(in Input) (p string, recursive bool, err error) {
	if err = Known(in, "path", "recursive"); err != nil {
		return "", false, err
	}
	if p, err = String(in, "path", true); err != nil {
		return "", false, err
	}
	recursive, err = Bool(in, "recursive", true)
	return p, recursive, err
}

func (dirCreate) Validate(in Input) error {
	_, _, err := parseCreate(in)
	return err
}

func (dirCreate) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	p, recursive, err := parseCreate(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(p)
	if err != nil {
		return nil, err
	}
	plan := &Plan{WouldDo: "Create directory " + rel}
	if recursive {
		plan.WouldDo += " and any missing parents"
	}
	missing, err := missingDirsOf(env, rel)
	switch {
	case err != nil:
		plan.Warnings = append(plan.Warnings, err.Error())
	case len(missing) == 0:
		plan.Warnings = append(plan.Warnings, rel+" already exists; nothing would be created")
	case len(missing) > 1 && !recursive:
		plan.Warnings = append(plan.Warnings, noParentDir(missing).Error())
	default:
		plan.Changes = missing
	}
	return plan, nil
}

func noParentDir(missing []string) error {
	return warden.Errorf(warden.CodeNotFound, "parent directory %s does not exist; set recursive to true to create it", missing[len(missing)-2])
}

func (dirCreate) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	p, recursive, err := parseCreate(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(p)
	if err != nil {
		return nil, err
	}
	missing, err := missingDirsOf(env, rel)
	if err != nil {
		return nil, err
	}
	if len(missing) == 0 {
		return &Outcome{Output: createResult{Path: rel, Reason: "directory already exists"}}, nil
	}
	if len(missing) > 1 && !recursive {
		return nil, noParentDir(missing)
	}
	created, err := makeDirsChecked(ctx, env, "directory:create", in, "path", missing, rel)
	if err != nil {
		return nil, err
	}
	if len(created) == 0 {
		return &Outcome{Output: createResult{Path: rel, Reason: "directory already exists"}}, nil
	}
	return &Outcome{
		Output:       createResult{Path: rel, Created: true, Directories: created},
		FilesChanged: created,
		Artifacts:    []warden.Artifact{{Type: "log", Value: "created directories " + strings.Join(created, ", ")}},
		Undo:         encodeUndo(fileUndo{Created: created}),
	}, nil
}

func (dirCreate) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	return rollbackFiles(ctx, env, undo)
}
