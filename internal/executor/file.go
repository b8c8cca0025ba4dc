package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/warden"
)

// fileAdapters returns the file and directory adapters. Paths in their
// outputs are relative to the project root, slash-separated, as the agent
// named them; FilesChanged and the evidence name the entries really
// changed (the file a symbolic link led to, for a write). Every path is
// reached through Env.Root and checked again, where it really is, against
// the policy that allowed the action, under the input key it came from.
func fileAdapters() []Adapter {
	return []Adapter{fileRead{}, fileWrite{}, fileDelete{}, fileMove{}, fileCopy{}, dirList{}, dirCreate{}}
}

// maxLinkHops bounds the symbolic links followed to reach one file, as
// the kernel's own limit does.
const maxLinkHops = 40

// fileUndo is the undo record of the file and directory adapters.
// Rollback moves Moved back first, then restores States, last first, then
// removes the Created directories, deepest (last) first.
type fileUndo struct {
	Moved   *movedEntry `json:"moved,omitempty"`
	States  []FileState `json:"states,omitempty"`
	Created []string    `json:"created,omitempty"`
}

// movedEntry records a move from From to To, and what To held before.
type movedEntry struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	Dest FileState `json:"dest"`
}

func encodeUndo(u fileUndo) json.RawMessage {
	b, err := json.Marshal(u)
	if err != nil {
		panic(err) // strings, booleans and numbers always encode
	}
	return b
}

// rollbackFiles undoes what a fileUndo records. Every step tolerates
// having been done already, so a rollback cut short can run again.
func rollbackFiles(ctx context.Context, env *Env, raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var u fileUndo
	if err := json.Unmarshal(raw, &u); err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "undo record: %v", err)
	}
	if m := u.Moved; m != nil {
		if err := moveEntryBack(ctx, env, *m); err != nil {
			return err
		}
		if err := env.Restore(ctx, m.Dest); err != nil {
			return err
		}
	}
	for i := len(u.States) - 1; i >= 0; i-- {
		if err := env.Restore(ctx, u.States[i]); err != nil {
			return err
		}
	}
	return removeCreatedDirs(env, u.Created)
}

// A pinnedEntry is a directory entry an adapter is about to change, held
// by its parent directory: the parent stays open, so that a symbolic link
// swapped in above the entry after the policy check cannot redirect the
// change elsewhere.
type pinnedEntry struct {
	dir  *os.Root // the parent directory; nothing done through it leaves it
	dirf *os.File // the same directory, to sync it
	name string   // the entry's name in dir
	rel  string   // where the entry really is, relative to the project root
	phys string   // the same as an absolute path, as the policy checks it
}

func (p *pinnedEntry) close() {
	p.dirf.Close()
	p.dir.Close()
}

// syncDir makes a rename or removal in the directory durable. It is best
// effort: the change is made whether or not the sync succeeds.
func (p *pinnedEntry) syncDir() { _ = p.dirf.Sync() }

// pinEntry opens rel's parent directory and works out where rel really is.
// It does not check the policy: callers check p.phys under their own key.
func pinEntry(env *Env, rel string) (*pinnedEntry, error) {
	if rel == "." {
		return nil, warden.Errorf(warden.CodeInvalidInput, "the path names the project root itself, not an entry in it")
	}
	dirRel, name := path.Dir(rel), path.Base(rel)
	dir, err := env.Root.OpenRoot(dirRel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, warden.Errorf(warden.CodeNotFound, "directory %s does not exist", dirRel)
		}
		return nil, fileError(dirRel, err)
	}
	dirf, err := dir.Open(".")
	if err != nil {
		dir.Close()
		return nil, fileError(dirRel, err)
	}
	phys := env.Abs(dirRel)
	if runtime.GOOS == "linux" {
		// The kernel says where the directory really is, whatever links
		// the path went through.
		if phys, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(int(dirf.Fd()))); err != nil {
			dirf.Close()
			dir.Close()
			return nil, warden.Errorf(warden.CodeDenied, "%s: cannot tell where the directory is: %v", dirRel, err)
		}
	}
	realDir, err := env.Rel(phys)
	if err != nil {
		dirf.Close()
		dir.Close()
		return nil, err
	}
	return &pinnedEntry{dir: dir, dirf: dirf, name: name, rel: path.Join(realDir, name), phys: filepath.Join(phys, name)}, nil
}

// pinChecked pins rel and checks where it really is against the policy,
// as input key of the action tool.
func pinChecked(ctx context.Context, env *Env, tool string, in Input, key, rel string) (*pinnedEntry, error) {
	p, err := pinEntry(env, rel)
	if err != nil {
		return nil, err
	}
	if err := env.Recheck(ctx, tool, in, key, p.phys); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// pinTarget pins rel as a write reaches it: a symbolic link in the last
// component is followed, within the root, to the entry it names, and each
// hop is checked against the policy. The entry it returns is not a link
// (unless one is swapped in afterwards, which replace then replaces).
func pinTarget(ctx context.Context, env *Env, tool string, in Input, key, rel string) (*pinnedEntry, error) {
	for range maxLinkHops {
		p, err := pinChecked(ctx, env, tool, in, key, rel)
		if err != nil {
			return nil, err
		}
		fi, err := p.dir.Lstat(p.name)
		if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		if err != nil {
			p.close()
			return nil, fileError(p.rel, err)
		}
		target, err := p.dir.Readlink(p.name)
		p.close()
		if err != nil {
			return nil, fileError(p.rel, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p.phys), target)
		}
		if rel, err = env.Rel(target); err != nil {
			return nil, warden.Errorf(warden.CodeDenied, "%s is a symbolic link that leads outside the project root", p.rel)
		}
	}
	return nil, warden.Errorf(warden.CodeInvalidState, "%s: more than %d symbolic links in a row", rel, maxLinkHops)
}

// replace writes r to a new file beside the entry, syncs it, gives it mode
// and renames it over the entry, so that the entry is never seen
// half-written. It returns the number of bytes written.
func (p *pinnedEntry) replace(r io.Reader, mode fs.FileMode) (int64, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + p.name[:min(len(p.name), 64)] + ".warden-" + hex.EncodeToString(rnd[:])
	f, err := p.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fileError(p.rel, err)
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.dir.Chmod(tmp, mode)
	}
	if err == nil {
		err = p.dir.Rename(tmp, p.name)
	}
	if err != nil {
		_ = p.dir.Remove(tmp)
		return 0, fileError(p.rel, err)
	}
	p.syncDir()
	return n, nil
}

// A fileCapture keeps what is written to it up to MaxCapture bytes, and the
// checksum and size of all of it: evidence of content too large to hold.
type fileCapture struct {
	h    hash.Hash
	buf  []byte
	n    int64
	over bool
}

func newFileCapture() *fileCapture { return &fileCapture{h: sha256.New()} }

func (c *fileCapture) Write(b []byte) (int, error) {
	c.h.Write(b)
	c.n += int64(len(b))
	if !c.over && len(c.buf)+len(b) > MaxCapture {
		c.over, c.buf = true, nil
	}
	if !c.over {
		c.buf = append(c.buf, b...)
	}
	return len(b), nil
}

func fileCaptureOf(b []byte) *fileCapture {
	c := newFileCapture()
	_, _ = c.Write(b)
	return c
}

func (c *fileCapture) sum() string { return "sha256:" + hex.EncodeToString(c.h.Sum(nil)) }

// fileEvidence describes the change of the entry rel: before is its
// snapshot, after its new content (nil when it no longer exists). It is
// ChangeEvidence when both sides fit in memory; otherwise the checksums
// alone, and a diff artifact that says why there is no diff.
func fileEvidence(ctx context.Context, env *Env, rel string, before FileState, after *fileCapture) []warden.Artifact {
	var arts []warden.Artifact
	if before.Link != "" {
		arts = append(arts, warden.Artifact{Type: "log", Value: "symbolic link to " + before.Link, Path: rel, Description: "before"})
	}
	existed := before.Exists && before.Object != ""
	if !existed && after == nil {
		return arts
	}
	held := after == nil || !after.over
	var old []byte
	if existed && held {
		var err error
		old, err = readSnapshot(ctx, env, before)
		held = err == nil
	}
	if held {
		var now []byte
		if after != nil {
			now = after.buf
		}
		return append(arts, ChangeEvidence(rel, old, now, existed, after != nil)...)
	}
	from, to, afterSize := "a/"+rel, "b/"+rel, int64(0)
	if existed {
		// A snapshot's object address is the checksum of its content.
		arts = append(arts, warden.Artifact{Type: "checksum", Value: before.Object, Path: rel, Description: "before"})
	} else {
		from = "/dev/null"
	}
	if after != nil {
		arts = append(arts, warden.Artifact{Type: "checksum", Value: after.sum(), Path: rel, Description: "after"})
		afterSize = after.n
	} else {
		to = "/dev/null"
	}
	msg := fmt.Sprintf("Files %s and %s differ (%d → %d bytes); too large to diff\n", from, to, before.Size, afterSize)
	return append(arts, warden.Artifact{Type: "diff", Value: msg, Path: rel})
}

// readSnapshot returns a snapshot's content when it is at most MaxCapture
// bytes.
func readSnapshot(ctx context.Context, env *Env, st FileState) ([]byte, error) {
	if st.Size > MaxCapture {
		return nil, warden.Errorf(warden.CodeTooLarge, "%s is %d bytes", st.Path, st.Size)
	}
	rc, err := env.Objects.Open(ctx, st.Object)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxCapture+1))
	if err == nil && len(b) > MaxCapture {
		err = warden.Errorf(warden.CodeTooLarge, "%s is over %d bytes", st.Path, MaxCapture)
	}
	return b, err
}

// entryTypeName names the kind of a directory entry as the outputs do.
func entryTypeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// notRegular refuses an entry that is not a regular file. A named pipe or
// device is refused before it is opened: opening one can block forever.
func notRegular(rel string, m fs.FileMode) error {
	if m.IsDir() {
		return warden.Errorf(warden.CodeInvalidState, "%s is a directory, not a file", rel)
	}
	return warden.Errorf(warden.CodeInvalidState, "%s is not a regular file (%s)", rel, m.Type())
}

// parseOctalMode reads permission bits written in octal: "0644", "644", "0o644".
func parseOctalMode(key, s string) (fs.FileMode, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	v, err := strconv.ParseUint(t, 8, 32)
	if err != nil || v > 0o777 {
		return 0, warden.Errorf(warden.CodeInvalidInput, "input.%s: must be permission bits in octal such as \"0644\", got %q", key, s)
	}
	return fs.FileMode(v), nil
}

// fileRead is file:read. Input: path; encoding utf-8 (default), base64 or
// hex; offset (bytes to skip) and length (bytes to read, at most
// MaxCapture). Output readResult. The content's checksum is an artifact
// without a path, so that a read does not count as a change.
type fileRead struct{}

type readInput struct {
	path, encoding string
	offset, length int64 // length < 0: to the end
}

// readResult is file:read's output. Size is the file's size in bytes;
// Offset and Length delimit the bytes Content holdsState.
type readResult struct {
	Path     string `json:"path"`
	Content  string `json:"content"`
	Size     int64  `json:"size"`
	Encoding string `json:"encoding"`
	Offset   int64  `json:"offset"`
	Length   int64  `json:"length"`
}

func (fileRead) Kind() string { return "file:read" }

func parseRead(in Input) (r readInput, err error) {
	if err = Known(in, "path", "encoding", "offset", "length"); err != nil {
		return r, err
	}
	if r.path, err = String(in, "path", true); err != nil {
		return r, err
	}
	if r.encoding, err = Enum(in, "encoding", "utf-8", "utf-8", "base64", "hex"); err != nil {
		return r, err
	}
	if r.offset, err = Int(in, "offset", 0, 0, 1<<53); err != nil {
		return r, err
	}
	r.length, err = Int(in, "length", -1, 0, MaxCapture)
	return r, err
}

func (fileRead) Validate(in Input) error {
	_, err := parseRead(in)
	return err
}

func (fileRead) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	r, err := parseRead(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(r.path)
	if err != nil {
		return nil, err
	}
	plan := &Plan{WouldDo: fmt.Sprintf("Read file %s as %s", rel, r.encoding)}
	fi, err := env.Root.Stat(rel)
	switch {
	case err != nil:
		plan.Warnings = append(plan.Warnings, fileError(rel, err).Error())
	case !fi.Mode().IsRegular():
		plan.Warnings = append(plan.Warnings, notRegular(rel, fi.Mode()).Error())
	case r.length < 0 && fi.Size()-r.offset > MaxCapture:
		plan.Warnings = append(plan.Warnings, tooLargeToRead(rel, fi.Size()).Error())
	}
	return plan, nil
}

func tooLargeToRead(rel string, size int64) error {
	return warden.Errorf(warden.CodeTooLarge, "%s is %d bytes; file:read returns at most %d bytes at a time: read it in parts with offset and length", rel, size, MaxCapture)
}

func (fileRead) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	r, err := parseRead(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(r.path)
	if err != nil {
		return nil, err
	}
	if fi, err := env.Root.Stat(rel); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, notRegular(rel, fi.Mode())
	}
	f, _, err := env.OpenChecked(ctx, "file:read", in, "path", rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileError(rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(rel, fi.Mode())
	}
	size := fi.Size()
	start := min(r.offset, size)
	n := size - start
	switch {
	case r.length >= 0:
		n = min(n, r.length)
	case n > MaxCapture:
		return nil, tooLargeToRead(rel, size)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, start, n))
	if err != nil {
		return nil, fileError(rel, err)
	}
	var content string
	switch r.encoding {
	case "base64":
		content = base64.StdEncoding.EncodeToString(b)
	case "hex":
		content = hex.EncodeToString(b)
	default:
		if !utf8.Valid(b) {
			return nil, warden.Errorf(warden.CodeInvalidInput, "%s is not valid UTF-8 text (first invalid byte at offset %d); read it with encoding \"base64\" or \"hex\"", rel, start+int64(invalidUTF8At(b)))
		}
		content = string(b)
	}
	desc := "content of " + rel
	if start != 0 || int64(len(b)) != size {
		desc = fmt.Sprintf("bytes %d to %d of %s", start, start+int64(len(b)), rel)
	}
	return &Outcome{
		Output:      readResult{Path: rel, Content: content, Size: size, Encoding: r.encoding, Offset: start, Length: int64(len(b))},
		OutputBytes: int64(len(b)),
		Artifacts:   []warden.Artifact{{Type: "checksum", Value: Checksum(b), Description: desc}},
	}, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func (fileRead) Rollback(context.Context, *Env, json.RawMessage) error { return nil }

// fileWrite is file:write. Input: path; content; encoding of content,
// utf-8 (default), base64 or hex; createDirs (default false) to create
// missing parent directories; mode, octal permission bits (default: the
// replaced file's, or 0644). A symbolic link is written through, to the
// file it names inside the root. The file is replaced atomically. Output
// writeResult; Undo restores the previous content and removes the
// directories created.
type fileWrite struct{}

type writeInput struct {
	path       string
	data       []byte
	createDirs bool
	mode       fs.FileMode
	hasMode    bool
}

// writeResult is file:write's output. Target is the file written when
// path is a symbolic link.
type writeResult struct {
	Path         string `json:"path"`
	Target       string `json:"target,omitempty"`
	BytesWritten int64  `json:"bytesWritten"`
	Created      bool   `json:"created"`
}

func (fileWrite) Kind() string { return "file:write" }

func parseWrite(in Input) (w writeInput, err error) {
	if err = Known(in, "path", "content", "encoding", "createDirs", "mode"); err != nil {
		return w, err
	}
	if w.path, err = String(in, "path", true); err != nil {
		return w, err
	}
	if v, ok := in["content"]; !ok || v == nil {
		return w, warden.Errorf(warden.CodeInvalidInput, "input.content: required (\"\" writes an empty file)")
	}
	content, err := String(in, "content", false)
	if err != nil {
		return w, err
	}
	enc, err := Enum(in, "encoding", "utf-8", "utf-8", "base64", "hex")
	if err != nil {
		return w, err
	}
	if w.data, err = decodeContent("content", content, enc); err != nil {
		return w, err
	}
	if w.createDirs, err = Bool(in, "createDirs", false); err != nil {
		return w, err
	}
	mode, err := String(in, "mode", false)
	if err == nil && mode != "" {
		w.hasMode = true
		w.mode, err = parseOctalMode("mode", mode)
	}
	return w, err
}

func decodeContent(key, s, enc string) ([]byte, error) {
	var b []byte
	var err error
	switch enc {
	case "base64":
		b, err = base64.StdEncoding.DecodeString(s)
	case "hex":
		b, err = hex.DecodeString(s)
	default:
		return []byte(s), nil
	}
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.%s: not valid %s: %v", key, enc, err)
	}
	return b, nil
}

func (fileWrite) Validate(in Input) error {
	_, err := parseWrite(in)
	return err
}

func (fileWrite) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	w, err := parseWrite(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(w.path)
	if err != nil {
		return nil, err
	}
	plan := &Plan{}
	missing, err := missingDirsOf(env, path.Dir(rel))
	switch {
	case err != nil:
		plan.Warnings = append(plan.Warnings, err.Error())
	case len(missing) > 0 && !w.createDirs:
		plan.Warnings = append(plan.Warnings, missingParent(missing[0]).Error())
	default:
		plan.Changes = append(plan.Changes, missing...)
	}
	plan.Changes = append(plan.Changes, rel)
	fi, err := env.Root.Lstat(rel)
	switch {
	case err != nil:
		plan.WouldDo = fmt.Sprintf("Create new file %s (%d bytes)", rel, len(w.data))
	case fi.IsDir():
		plan.WouldDo = fmt.Sprintf("Write %s (%d bytes)", rel, len(w.data))
		plan.Warnings = append(plan.Warnings, rel+" is a directory; the write would fail")
	default:
		plan.WouldDo = fmt.Sprintf("Overwrite file %s (%d bytes, was %d)", rel, len(w.data), fi.Size())
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := env.Root.Readlink(rel)
			plan.WouldDo = fmt.Sprintf("Write %s (%d bytes) through the symbolic link to %s", rel, len(w.data), target)
		}
	}
	return plan, nil
}

func missingParent(dir string) error {
	return warden.Errorf(warden.CodeNotFound, "parent directory %s does not exist; set createDirs to true to create it", dir)
}

func (fileWrite) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	w, err := parseWrite(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(w.path)
	if err != nil {
		return nil, err
	}
	missing, err := missingDirsOf(env, path.Dir(rel))
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 && !w.createDirs {
		return nil, missingParent(missing[0])
	}
	created, err := makeDirsChecked(ctx, env, "file:write", in, "path", missing, rel)
	if err != nil {
		return nil, err
	}
	out, err := writeTo(ctx, env, in, rel, w, created)
	if err != nil {
		_ = removeCreatedDirs(env, created)
		return nil, err
	}
	return out, nil
}

// writeTo writes w's content over the file rel leads to, once its
// directory exists; created are the directories made for it.
func writeTo(ctx context.Context, env *Env, in Input, rel string, w writeInput, created []string) (*Outcome, error) {
	p, err := pinTarget(ctx, env, "file:write", in, "path", rel)
	if err != nil {
		return nil, err
	}
	defer p.close()
	fi, err := p.dir.Lstat(p.name)
	existed := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fileError(p.rel, err)
	case existed && fi.Mode()&fs.ModeSymlink != 0:
		return nil, warden.Errorf(warden.CodeDenied, "%s became a symbolic link while being written; nothing was written", p.rel)
	case existed && fi.IsDir():
		return nil, warden.Errorf(warden.CodeConflict, "%s is a directory; file:write writes files", p.rel)
	case existed && !fi.Mode().IsRegular():
		return nil, notRegular(p.rel, fi.Mode())
	}
	mode := fs.FileMode(0o644)
	switch {
	case w.hasMode:
		mode = w.mode
	case existed:
		mode = fi.Mode().Perm()
	}
	before, err := env.Snapshot(ctx, p.rel)
	if err != nil {
		return nil, err
	}
	n, err := p.replace(bytes.NewReader(w.data), mode)
	if err != nil {
		return nil, err
	}
	res := writeResult{Path: rel, BytesWritten: n, Created: !existed}
	if p.rel != rel {
		res.Target = p.rel
	}
	return &Outcome{
		Output:       res,
		FilesChanged: append(slices.Clone(created), p.rel),
		OutputBytes:  n,
		Artifacts:    fileEvidence(ctx, env, p.rel, before, fileCaptureOf(w.data)),
		Undo:         encodeUndo(fileUndo{States: []FileState{before}, Created: created}),
	}, nil
}

func (fileWrite) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	return rollbackFiles(ctx, env, undo)
}

// fileDelete is file:delete. Input: path; force (default false) makes a
// missing file a success that deletes nothing. A symbolic link is deleted
// as a link; a directory is refused. Output deleteResult; Undo restores
// the file with its content and mode, or the link.
type fileDelete struct{}

// deleteResult is file:delete's output; Reason says why nothing was
// deleted.
type deleteResult struct {
	Path    string `json:"path"`
	Deleted bool   `json:"deleted"`
	Size    int64  `json:"size,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (fileDelete) Kind() string { return "file:delete" }

func parseDelete(in Input) (p string, force bool, err error) {
	if err = Known(in, "path", "force"); err != nil {
		return "", false, err
	}
	if p, err = String(in, "path", true); err != nil {
		return "", false, err
	}
	force, err = Bool(in, "force", false)
	return p, force, err
}

func (fileDelete) Validate(in Input) error {
	_, _, err := parseDelete(in)
	return err
}

func (fileDelete) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	p, force, err := parseDelete(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(p)
	if err != nil {
		return nil, err
	}
	fi, err := env.Root.Lstat(rel)
	switch {
	case err != nil && force:
		return &Plan{WouldDo: "Nothing to delete: " + fileError(rel, err).Error(), Warnings: []string{fileError(rel, err).Error()}}, nil
	case err != nil:
		return &Plan{WouldDo: "Delete file " + rel, Changes: []string{rel}, Warnings: []string{fileError(rel, err).Error() + "; the delete would fail"}}, nil
	case fi.IsDir():
		return &Plan{WouldDo: "Delete file " + rel, Changes: []string{rel}, Warnings: []string{rel + " is a directory; file:delete would refuse it"}}, nil
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := env.Root.Readlink(rel)
		return &Plan{WouldDo: fmt.Sprintf("Delete file %s (a symbolic link to %s; the link only)", rel, target), Changes: []string{rel}}, nil
	}
	return &Plan{WouldDo: fmt.Sprintf("Delete file %s (%d bytes)", rel, fi.Size()), Changes: []string{rel}}, nil
}

func (fileDelete) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	ps, force, err := parseDelete(in)
	if err != nil {
		return nil, err
	}
	rel, err := env.Rel(ps)
	if err != nil {
		return nil, err
	}
	absent := func(err error) (*Outcome, error) {
		if force && warden.ErrorCode(err) == warden.CodeNotFound {
			return &Outcome{Output: deleteResult{Path: rel, Reason: warden.ErrorMessage(err)}}, nil
		}
		return nil, err
	}
	p, err := pinChecked(ctx, env, "file:delete", in, "path", rel)
	if err != nil {
		return absent(err)
	}
	defer p.close()
	fi, err := p.dir.Lstat(p.name)
	if err != nil {
		return absent(fileError(rel, err))
	}
	if fi.IsDir() {
		return nil, warden.Errorf(warden.CodeInvalidState, "%s is a directory, not a file; file:delete removes files and symbolic links", rel)
	}
	before, err := env.Snapshot(ctx, p.rel)
	if err != nil {
		return nil, err
	}
	if err := p.dir.Remove(p.name); err != nil {
		return nil, fileError(p.rel, err)
	}
	p.syncDir()
	return &Outcome{
		Output:       deleteResult{Path: rel, Deleted: true, Size: before.Size},
		FilesChanged: []string{p.rel},
		Artifacts:    fileEvidence(ctx, env, p.rel, before, nil),
		Undo:         encodeUndo(fileUndo{States: []FileState{before}}),
	}, nil
}

func (fileDelete) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	return rollbackFiles(ctx, env, undo)
}

// fileMove is file:move. Input: source, destination; overwrite (default
// false) to replace an existing destination file. A file, a symbolic link
// (as a link) or a directory moves; a directory only to a path that does
// not exist, and only when the policy allows moving every entry in it.
// Output moveResult; Undo moves the entry back and restores what the
// destination held.
type fileMove struct{}

// moveResult is file:move's output.
type moveResult struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Type        string `json:"type"`
	Overwritten bool   `json:"overwritten"`
}

// maxMoveEntries bounds the entries of a directory that a move checks one
// by one against the policy.
const maxMoveEntries = 10000

type moveInput struct {
	source, destination string
	overwrite           bool
}

func (fileMove) Kind() string { return "file:move" }

func parseMove(in Input) (m moveInput, err error) {
	if err = Known(in, "source", "destination", "overwrite"); err != nil {
		return m, err
	}
	if m.source, err = String(in, "source", true); err != nil {
		return m, err
	}
	if m.destination, err = String(in, "destination", true); err != nil {
		return m, err
	}
	m.overwrite, err = Bool(in, "overwrite", false)
	return m, err
}

func (fileMove) Validate(in Input) error {
	_, err := parseMove(in)
	return err
}

// movePlan is the dry run shared by move and copy.
func movePlan(env *Env, verb string, m moveInput, changesSource bool) (*Plan, error) {
	src, err := env.Rel(m.source)
	if err != nil {
		return nil, err
	}
	dst, err := env.Rel(m.destination)
	if err != nil {
		return nil, err
	}
	plan := &Plan{WouldDo: fmt.Sprintf("%s %s → %s", verb, src, dst)}
	if changesSource {
		plan.Changes = append(plan.Changes, src)
	}
	plan.Changes = append(plan.Changes, dst)
	if _, err := env.Root.Lstat(src); err != nil {
		plan.Warnings = append(plan.Warnings, "source "+fileError(src, err).Error())
	}
	if fi, err := env.Root.Lstat(dst); err == nil {
		switch {
		case fi.IsDir():
			plan.Warnings = append(plan.Warnings, "destination "+dst+" is a directory; the action would fail")
		case m.overwrite:
			plan.Warnings = append(plan.Warnings, "destination "+dst+" exists and would be replaced")
		default:
			plan.Warnings = append(plan.Warnings, "destination "+dst+" already exists; without overwrite the action would fail")
		}
	}
	if d := path.Dir(dst); d != "." {
		if fi, err := env.Root.Stat(d); err != nil || !fi.IsDir() {
			plan.Warnings = append(plan.Warnings, "destination directory "+d+" does not exist")
		}
	}
	return plan, nil
}

func (fileMove) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	m, err := parseMove(in)
	if err != nil {
		return nil, err
	}
	return movePlan(env, "Move", m, true)
}

func (fileMove) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	m, err := parseMove(in)
	if err != nil {
		return nil, err
	}
	srcRel, err := env.Rel(m.source)
	if err != nil {
		return nil, err
	}
	dstRel, err := env.Rel(m.destination)
	if err != nil {
		return nil, err
	}
	src, err := pinChecked(ctx, env, "file:move", in, "source", srcRel)
	if err != nil {
		return nil, err
	}
	defer src.close()
	sfi, err := src.dir.Lstat(src.name)
	if err != nil {
		return nil, prefixErr("source: ", fileError(srcRel, err))
	}
	dst, err := pinChecked(ctx, env, "file:move", in, "destination", dstRel)
	if err != nil {
		return nil, prefixErr("destination: ", err)
	}
	defer dst.close()
	switch {
	case src.rel == dst.rel:
		return nil, warden.Errorf(warden.CodeInvalidInput, "source and destination are the same path, %s", src.rel)
	case sfi.IsDir() && strings.HasPrefix(dst.rel, src.rel+"/"):
		return nil, warden.Errorf(warden.CodeInvalidInput, "cannot move the directory %s into itself (%s)", src.rel, dst.rel)
	}
	dfi, err := dst.dir.Lstat(dst.name)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fileError(dst.rel, err)
	case exists && os.SameFile(sfi, dfi):
		return nil, warden.Errorf(warden.CodeInvalidInput, "%s and %s are the same file", srcRel, dstRel)
	case exists && dfi.IsDir():
		return nil, warden.Errorf(warden.CodeConflict, "destination %s is a directory; name the path to move to, inside it", dstRel)
	case exists && sfi.IsDir():
		return nil, warden.Errorf(warden.CodeConflict, "destination %s already exists; a directory moves only to a path that does not exist", dstRel)
	case exists && !m.overwrite:
		return nil, warden.Errorf(warden.CodeConflict, "destination %s already exists; set overwrite to true to replace it", dstRel)
	}
	if sfi.IsDir() {
		if err := checkMoveTree(ctx, env, in, src.rel, dst.rel); err != nil {
			return nil, err
		}
	}
	var moved *fileCapture
	if sfi.Mode().IsRegular() {
		// The content's checksum is the move's evidence.
		f, err := src.dir.Open(src.name)
		if err != nil {
			return nil, fileError(src.rel, err)
		}
		moved = newFileCapture()
		_, err = io.Copy(moved, f)
		f.Close()
		if err != nil {
			return nil, fileError(src.rel, err)
		}
	}
	before, err := env.Snapshot(ctx, dst.rel)
	if err != nil {
		return nil, err
	}
	if err := moveDirEntry(env, src.rel, dst.rel); err != nil {
		return nil, err
	}
	if _, err := dst.dir.Lstat(dst.name); err != nil {
		// A directory on the way was swapped for a link after the check:
		// the entry went elsewhere. Put it back.
		_ = moveDirEntry(env, dst.rel, src.rel)
		return nil, warden.Errorf(warden.CodeDenied, "%s or %s changed while being moved; the move was undone", srcRel, dstRel)
	}
	src.syncDir()
	dst.syncDir()
	arts := []warden.Artifact{{Type: "log", Value: fmt.Sprintf("moved %s %s → %s", entryTypeName(sfi.Mode()), src.rel, dst.rel), Path: dst.rel}}
	if moved != nil {
		arts = append(arts, fileEvidence(ctx, env, dst.rel, before, moved)...)
	}
	return &Outcome{
		Output:       moveResult{Source: srcRel, Destination: dstRel, Type: entryTypeName(sfi.Mode()), Overwritten: exists},
		FilesChanged: []string{src.rel, dst.rel},
		Artifacts:    arts,
		Undo:         encodeUndo(fileUndo{Moved: &movedEntry{From: src.rel, To: dst.rel, Dest: before}}),
	}, nil
}

func prefixErr(what string, err error) error {
	var we *warden.Error
	if errors.As(err, &we) && !strings.HasPrefix(we.Message, what) {
		return &warden.Error{Code: we.Code, Message: what + we.Message, Details: we.Details, Err: we.Err}
	}
	return err
}

// checkMoveTree checks every entry under the directory src as moved to
// dst: a forbidden file inside a directory must not leave its place by
// moving the directory.
func checkMoveTree(ctx context.Context, env *Env, in Input, src, dst string) error {
	dir, err := env.Root.Open(src)
	if err != nil {
		return fileError(src, err)
	}
	defer dir.Close()
	count := 0
	open := func(rel string) (*os.File, error) { return env.Root.Open(rel) }
	return walkDirTree(env, dir, src, "", 1, 0, open, func(e dirTreeEntry) (bool, error) {
		if count++; count > maxMoveEntries {
			return false, warden.Errorf(warden.CodeTooLarge, "%s holdsState more than %d entries; a directory that large cannot be checked entry by entry against the policy, so it is not moved", src, maxMoveEntries)
		}
		if err := env.Recheck(ctx, "file:move", in, "source", env.Abs(e.rel)); err != nil {
			return false, prefixErr("an entry of "+src+" cannot be moved: ", err)
		}
		if err := env.Recheck(ctx, "file:move", in, "destination", env.Abs(path.Join(dst, e.sub))); err != nil {
			return false, prefixErr("an entry of "+src+" cannot be moved: ", err)
		}
		return true, nil
	})
}

// moveDirEntry renames from to to under the root. Across file systems (a
// mount inside the project) a file or link is copied and the original
// removed instead.
func moveDirEntry(env *Env, from, to string) error {
	err := env.Root.Rename(from, to)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EXDEV) {
		return fileError(from, err)
	}
	return copyAcrossDevices(env, from, to)
}

// copyAcrossDevices moves the file or link from to to by copying it and removing
// the original.
func copyAcrossDevices(env *Env, from, to string) error {
	fi, err := env.Root.Lstat(from)
	if err != nil {
		return fileError(from, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := env.Root.Readlink(from)
		if err != nil {
			return fileError(from, err)
		}
		if err := env.Root.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fileError(to, err)
		}
		if err := env.Root.Symlink(target, to); err != nil {
			return fileError(to, err)
		}
	case fi.Mode().IsRegular():
		f, err := env.Root.Open(from)
		if err != nil {
			return fileError(from, err)
		}
		err = env.replace(to, f, fi.Mode().Perm())
		f.Close()
		if err != nil {
			return err
		}
	default:
		return warden.Errorf(warden.CodeInvalidState, "%s is a %s on another file system than %s; only files and links are moved across file systems", from, entryTypeName(fi.Mode()), path.Dir(to))
	}
	return fileError(from, env.Root.Remove(from))
}

// moveEntryBack undoes a move. It is done already when From exists and To is
// gone or holdsState again what it held before the move; From existing beside
// a To that still holdsState something else is a conflict, left alone.
func moveEntryBack(ctx context.Context, env *Env, m movedEntry) error {
	_, err := env.Root.Lstat(m.From)
	fromExists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError(m.From, err)
	}
	_, err = env.Root.Lstat(m.To)
	toExists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileError(m.To, err)
	}
	switch {
	case fromExists && !toExists:
		return nil
	case fromExists:
		same, err := holdsState(ctx, env, m.Dest)
		if err != nil || same {
			return err
		}
		return warden.Errorf(warden.CodeConflict, "cannot move %s back to %s: %s exists again", m.To, m.From, m.From)
	case !toExists:
		return warden.Errorf(warden.CodeInvalidState, "cannot move %s back to %s: %s no longer exists", m.To, m.From, m.To)
	}
	if d := path.Dir(m.From); d != "." {
		if err := env.Root.MkdirAll(d, 0o755); err != nil {
			return fileError(d, err)
		}
	}
	return moveDirEntry(env, m.To, m.From)
}

// holdsState reports whether st.Path holdsState what st recorded: the same link or
// the same content.
func holdsState(ctx context.Context, env *Env, st FileState) (bool, error) {
	if !st.Exists {
		return false, nil
	}
	fi, err := env.Root.Lstat(st.Path)
	if err != nil {
		return false, fileError(st.Path, err)
	}
	switch {
	case st.Link != "":
		target, err := env.Root.Readlink(st.Path)
		return err == nil && target == st.Link, nil
	case st.Object == "" || !fi.Mode().IsRegular():
		return false, nil
	}
	f, err := env.Root.Open(st.Path)
	if err != nil {
		return false, fileError(st.Path, err)
	}
	defer f.Close()
	c := newFileCapture()
	if _, err := io.Copy(c, f); err != nil {
		return false, fileError(st.Path, err)
	}
	return c.sum() == st.Object, nil
}

func (fileMove) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	return rollbackFiles(ctx, env, undo)
}

// fileCopy is file:copy. Input: source, destination; overwrite (default
// false) to replace an existing destination. The source is a file (a link
// is read through); the copy streams, binary-safe, and replaces the
// destination atomically. A new copy gets the source's permissions, an
// overwritten destination keeps its own. Output copyResult; Undo restores
// the destination's previous state.
type fileCopy struct{}

// copyResult is file:copy's output. Target is the file written when
// destination is a symbolic link.
type copyResult struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Target      string `json:"target,omitempty"`
	BytesCopied int64  `json:"bytesCopied"`
	Overwritten bool   `json:"overwritten"`
}

func (fileCopy) Kind() string { return "file:copy" }

func (fileCopy) Validate(in Input) error {
	_, err := parseMove(in)
	return err
}

func (fileCopy) DryRun(_ context.Context, env *Env, in Input) (*Plan, error) {
	m, err := parseMove(in)
	if err != nil {
		return nil, err
	}
	return movePlan(env, "Copy", m, false)
}

func (fileCopy) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	m, err := parseMove(in)
	if err != nil {
		return nil, err
	}
	srcRel, err := env.Rel(m.source)
	if err != nil {
		return nil, err
	}
	dstRel, err := env.Rel(m.destination)
	if err != nil {
		return nil, err
	}
	if fi, err := env.Root.Stat(srcRel); err == nil && !fi.Mode().IsRegular() {
		return nil, prefixErr("source: ", notRegular(srcRel, fi.Mode()))
	}
	src, _, err := env.OpenChecked(ctx, "file:copy", in, "source", srcRel, os.O_RDONLY, 0)
	if err != nil {
		return nil, prefixErr("source: ", err)
	}
	defer src.Close()
	sfi, err := src.Stat()
	if err != nil {
		return nil, fileError(srcRel, err)
	}
	if !sfi.Mode().IsRegular() {
		return nil, prefixErr("source: ", notRegular(srcRel, sfi.Mode()))
	}
	dst, err := pinTarget(ctx, env, "file:copy", in, "destination", dstRel)
	if err != nil {
		return nil, prefixErr("destination: ", err)
	}
	defer dst.close()
	dfi, err := dst.dir.Lstat(dst.name)
	exists := err == nil
	mode := sfi.Mode().Perm()
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fileError(dst.rel, err)
	case exists && os.SameFile(sfi, dfi):
		return nil, warden.Errorf(warden.CodeInvalidInput, "%s and %s are the same file", srcRel, dstRel)
	case exists && dfi.IsDir():
		return nil, warden.Errorf(warden.CodeConflict, "destination %s is a directory; name the file to copy to, inside it", dstRel)
	case exists && !dfi.Mode().IsRegular():
		return nil, prefixErr("destination: ", notRegular(dst.rel, dfi.Mode()))
	case exists && !m.overwrite:
		return nil, warden.Errorf(warden.CodeConflict, "destination %s already exists; set overwrite to true to replace it", dstRel)
	case exists:
		mode = dfi.Mode().Perm()
	}
	before, err := env.Snapshot(ctx, dst.rel)
	if err != nil {
		return nil, err
	}
	copied := newFileCapture()
	n, err := dst.replace(io.TeeReader(src, copied), mode)
	if err != nil {
		return nil, err
	}
	res := copyResult{Source: srcRel, Destination: dstRel, BytesCopied: n, Overwritten: exists}
	if dst.rel != dstRel {
		res.Target = dst.rel
	}
	return &Outcome{
		Output:       res,
		FilesChanged: []string{dst.rel},
		OutputBytes:  n,
		Artifacts:    fileEvidence(ctx, env, dst.rel, before, copied),
		Undo:         encodeUndo(fileUndo{States: []FileState{before}}),
	}, nil
}

func (fileCopy) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	return rollbackFiles(ctx, env, undo)
}
