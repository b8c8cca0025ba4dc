package executor

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// MaxCapture bounds what an adapter keeps of a stream or body it returns:
// command output, an HTTP response, a file read.
const MaxCapture = 10 << 20

// An Env is what an adapter executes in: one session's project root, its
// policy, and the store that keeps its backups.
type Env struct {
	// Root confines file access to the project root.
	Root *os.Root
	// Dir is the project root as the session names it; Physical is the same
	// directory with every symbolic link resolved.
	Dir, Physical string
	// Policy is the session's policy: commands read scope.env and
	// scope.shell from it, network adapters scope.hosts.
	Policy *policy.Policy
	// Objects keeps the content of every file an adapter is about to change.
	Objects Objects
	// Check evaluates an action derived from the one being executed: the
	// same input with a path replaced by where it really leads, or a
	// redirect's target. It returns a DENIED error unless the policy lets
	// the derived action through as it let the original one.
	Check func(ctx context.Context, tool string, in Input) error
	// Environ is the environment commands start from; nil means the
	// process's own.
	Environ []string
}

// NewEnv opens the project root dir for one execution. Close releases it.
func NewEnv(dir string, p *policy.Policy, objects Objects, check func(context.Context, string, Input) error) (*Env, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	phys, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidState, "project root %s: %v", dir, err)
	}
	root, err := os.OpenRoot(phys)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidState, "project root %s: %v", dir, err)
	}
	if check == nil {
		check = func(context.Context, string, Input) error { return nil }
	}
	return &Env{Root: root, Dir: abs, Physical: phys, Policy: p, Objects: objects, Check: check}, nil
}

// Close releases the root.
func (e *Env) Close() error { return e.Root.Close() }

// Rel turns an agent's path, absolute or relative to the project root, into
// a clean path relative to the root ("." for the root itself). A path that
// leaves the root lexically is refused here; os.Root refuses any that
// leaves it through a link.
func (e *Env) Rel(p string) (string, error) {
	if p == "" {
		return "", warden.Errorf(warden.CodeInvalidInput, "path is empty")
	}
	if strings.HasPrefix(p, "~") {
		if home, err := os.UserHomeDir(); err == nil && (p == "~" || strings.HasPrefix(p, "~/")) {
			p = filepath.Join(home, p[1:])
		}
	}
	if filepath.IsAbs(p) {
		c := filepath.Clean(p)
		for _, base := range []string{e.Dir, e.Physical} {
			if r, err := filepath.Rel(base, c); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
				return filepath.ToSlash(r), nil
			}
		}
		return "", warden.Errorf(warden.CodeDenied, "%s is outside the project root %s", p, e.Dir)
	}
	c := filepath.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", warden.Errorf(warden.CodeDenied, "%s leaves the project root %s", p, e.Dir)
	}
	return filepath.ToSlash(c), nil
}

// Abs returns the absolute path of a root-relative one, as the session
// names the root.
func (e *Env) Abs(rel string) string { return filepath.Join(e.Dir, filepath.FromSlash(rel)) }

// Recheck evaluates the action again with input key set to value: where a
// path really led, or a redirect's target.
func (e *Env) Recheck(ctx context.Context, tool string, in Input, key, value string) error {
	derived := maps.Clone(in)
	derived[key] = value
	return e.Check(ctx, tool, derived)
}

// OpenChecked opens rel under the root and checks the file it really
// opened against the policy, as input key of the action: a link swapped in
// after the evaluation cannot redirect the access. O_TRUNC is applied only
// after the check passes, and a file created for a refused access is
// removed. created reports whether the file was created.
func (e *Env) OpenChecked(ctx context.Context, tool string, in Input, key, rel string, flag int, perm fs.FileMode) (f *os.File, created bool, err error) {
	trunc := flag&os.O_TRUNC != 0
	flag &^= os.O_TRUNC
	if flag&os.O_CREATE != 0 && flag&os.O_EXCL == 0 {
		f, err = e.Root.OpenFile(rel, flag|os.O_EXCL, perm)
		if err == nil {
			created = true
		} else if errors.Is(err, fs.ErrExist) {
			f, err = e.Root.OpenFile(rel, flag&^os.O_CREATE, perm)
		}
	} else {
		f, err = e.Root.OpenFile(rel, flag, perm)
		created = err == nil && flag&os.O_CREATE != 0
	}
	if err != nil {
		return nil, false, fileError(rel, err)
	}
	if err := e.checkOpened(ctx, tool, in, key, rel, f); err != nil {
		f.Close()
		if created {
			_ = e.Root.Remove(rel)
		}
		return nil, false, err
	}
	if trunc {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, false, fileError(rel, err)
		}
	}
	return f, created, nil
}

// checkOpened checks where an open file really is. Where the kernel cannot
// say (outside Linux), the root's confinement is the guarantee.
func (e *Env) checkOpened(ctx context.Context, tool string, in Input, key, rel string, f *os.File) error {
	phys := e.Abs(rel)
	if runtime.GOOS == "linux" {
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			return warden.Errorf(warden.CodeDenied, "%s: cannot tell where the opened file is: %v", rel, err)
		}
		phys = p
	}
	return e.Recheck(ctx, tool, in, key, phys)
}

// fileError turns a file system error into a domain error that names the
// path relative to the root; nil stays nil.
func fileError(rel string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return warden.Errorf(warden.CodeNotFound, "%s does not exist", rel)
	case errors.Is(err, fs.ErrExist):
		return warden.Errorf(warden.CodeConflict, "%s already exists", rel)
	case errors.Is(err, fs.ErrPermission):
		return warden.Errorf(warden.CodeForbidden, "%s: permission denied", rel)
	case strings.Contains(err.Error(), "escapes from parent"), strings.Contains(err.Error(), "path escapes"):
		return warden.Errorf(warden.CodeDenied, "%s leads outside the project root", rel)
	}
	return &warden.Error{Code: warden.CodeInvalidState, Message: rel + ": " + err.Error(), Err: err}
}
