package executor

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/wardenhq/warden/internal/warden"
)

// A FileState is what one path held before an adapter changed it.
type FileState struct {
	// Path is relative to the project root, slash-separated.
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Dir    bool   `json:"dir,omitempty"`
	// Link is the target when the path was a symbolic link.
	Link string      `json:"link,omitempty"`
	Mode fs.FileMode `json:"mode,omitempty"`
	// Object addresses a regular file's content in Objects.
	Object string `json:"object,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// Snapshot records what rel holds now, saving a regular file's content to
// Objects. A directory is recorded as existing, not with its content.
func (e *Env) Snapshot(ctx context.Context, rel string) (FileState, error) {
	st := FileState{Path: rel}
	fi, err := e.Root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fileError(rel, err)
	}
	st.Exists, st.Mode = true, fi.Mode().Perm()
	switch {
	case fi.IsDir():
		st.Dir = true
	case fi.Mode()&fs.ModeSymlink != 0:
		if st.Link, err = e.Root.Readlink(rel); err != nil {
			return st, fileError(rel, err)
		}
	case fi.Mode().IsRegular():
		f, err := e.Root.OpenFile(rel, os.O_RDONLY|noFollow, 0)
		if err != nil {
			return st, fileError(rel, err)
		}
		defer f.Close()
		if st.Object, err = e.Objects.Put(ctx, f); err != nil {
			return st, err
		}
		st.Size = fi.Size()
	default:
		return st, warden.Errorf(warden.CodeInvalidState, "%s is a %s, which cannot be backed up", rel, fi.Mode().Type())
	}
	return st, nil
}

// Restore puts rel back the way st recorded it. It is idempotent: restoring
// twice leaves the same result. A path that did not exist is removed (a
// directory only when empty).
func (e *Env) Restore(ctx context.Context, st FileState) error {
	rel := st.Path
	cur, err := e.Root.Lstat(rel)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError(rel, err)
	}
	if !st.Exists {
		if !exists {
			return nil
		}
		if err := e.Root.Remove(rel); err != nil {
			return fileError(rel, err)
		}
		return nil
	}
	if dir := path.Dir(rel); dir != "." {
		if err := e.Root.MkdirAll(dir, 0o755); err != nil {
			return fileError(dir, err)
		}
	}
	switch {
	case st.Dir:
		if exists && cur.IsDir() {
			return nil
		}
		if exists {
			if err := e.Root.Remove(rel); err != nil {
				return fileError(rel, err)
			}
		}
		return fileError(rel, e.Root.Mkdir(rel, st.Mode|0o700))
	case st.Link != "":
		if exists {
			if err := e.Root.Remove(rel); err != nil {
				return fileError(rel, err)
			}
		}
		return fileError(rel, e.Root.Symlink(st.Link, rel))
	}
	src, err := e.Objects.Open(ctx, st.Object)
	if err != nil {
		return err
	}
	defer src.Close()
	if exists && cur.IsDir() {
		if err := e.Root.Remove(rel); err != nil {
			return fileError(rel, err)
		}
	}
	return e.replace(rel, src, st.Mode)
}

// replace writes r to a temporary file beside rel, syncs it and renames
// it over rel, so that rel is never seen half-written.
func (e *Env) replace(rel string, r io.Reader, mode fs.FileMode) error {
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+".warden-restore")
	f, err := e.Root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, mode|0o600)
	if err != nil {
		return fileError(tmp, err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = e.Root.Chmod(tmp, mode)
	}
	if err == nil {
		err = e.Root.Rename(tmp, rel)
	}
	if err != nil {
		_ = e.Root.Remove(tmp)
		return fileError(rel, err)
	}
	return nil
}
