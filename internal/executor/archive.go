package executor

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/warden"
)

// Bounds on what one extraction may write. The ratio bound applies once
// the content passes archiveRatioFloor, so that a small archive of very
// compressible text still extracts.
const (
	archiveMaxBytes   = 1 << 30
	archiveMaxRatio   = 200
	archiveRatioFloor = 16 << 20
	// archiveListed bounds the file lists an extraction reports.
	archiveListed = 100
)

// archiveMaxEntries bounds the entries of one archive; a variable so that
// a test can lower it.
var archiveMaxEntries = 100_000

// archiveAdapters returns the archive adapters.
func archiveAdapters() []Adapter { return []Adapter{archiveExtractAdapter{}} }

// archiveExtractAdapter unpacks a tar, gzip- or bzip2-compressed tar, or
// zip archive into an existing directory, in Go: no tar or unzip binary.
//
// Input: archive, destination (an existing directory), format (tar,
// tar.gz, tgz, tar.bz2, zip; by default from the archive's extension),
// timeout (milliseconds, default 60000).
//
// Every entry is checked before anything is written, and one bad entry
// refuses the whole archive: absolute names, ".." components (a backslash
// counts as a separator), symbolic and hard links, devices, FIFOs and
// other special entries are refused (DENIED), as are more than
// archiveMaxEntries entries, more than archiveMaxBytes of content or a
// compression ratio above archiveMaxRatio (TOO_LARGE). Each target path is
// checked against the policy as the action's destination before the
// extraction, and again, by where it really leads, when it is opened for
// writing; a link in the destination is never written through. Existing
// files are overwritten, keeping their mode; each is snapshotted first,
// so that rollback restores overwritten files byte for byte and removes
// created files and directories, deepest first.
//
// Output: {archive, destination, format, filesExtracted, files,
// overwritten}, root-relative paths, lists cut at archiveListed entries.
type archiveExtractAdapter struct{}

func (archiveExtractAdapter) Kind() string { return "archive:extract" }

type archiveInput struct {
	archive, destination, format string
	timeout                      time.Duration
}

// archiveFormats are the accepted values of input.format.
var archiveFormats = []string{"tar", "tar.gz", "tgz", "tar.bz2", "zip"}

func parseArchiveInput(in Input) (archiveInput, error) {
	var a archiveInput
	if err := Known(in, "archive", "destination", "format", "timeout"); err != nil {
		return a, err
	}
	var err error
	if a.archive, err = String(in, "archive", true); err != nil {
		return a, err
	}
	if a.destination, err = String(in, "destination", true); err != nil {
		return a, err
	}
	if a.format, err = Enum(in, "format", "", archiveFormats...); err != nil {
		return a, err
	}
	if a.format == "" {
		if a.format = archiveFormatOf(a.archive); a.format == "" {
			return a, warden.Errorf(warden.CodeInvalidInput, "input.format: cannot tell the format of %s from its name; set it to one of %s", a.archive, strings.Join(archiveFormats, ", "))
		}
	}
	if a.format == "tgz" {
		a.format = "tar.gz"
	}
	ms, err := Int(in, "timeout", 60_000, 1, 3_600_000)
	a.timeout = time.Duration(ms) * time.Millisecond
	return a, err
}

// archiveFormatOf tells an archive's format from its name.
func archiveFormatOf(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tar.gz"
	case strings.HasSuffix(n, ".tar.bz2"), strings.HasSuffix(n, ".tbz2"), strings.HasSuffix(n, ".tbz"):
		return "tar.bz2"
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	}
	return ""
}

func (archiveExtractAdapter) Validate(in Input) error {
	_, err := parseArchiveInput(in)
	return err
}

// An archiveEntry is one file or directory of an archive, checked.
type archiveEntry struct {
	// name is clean, slash-separated and relative to the destination.
	name string
	dir  bool
	perm fs.FileMode
	size int64
}

// archiveReader walks an archive's entries in order. next returns io.EOF
// after the last; an entry's content is read before the next call.
type archiveReader interface {
	next() (archiveEntry, io.Reader, error)
}

// archiveJob is one extraction: the archive open and checked, the
// destination's real place, and the entries checked.
type archiveJob struct {
	kind        string
	in          Input
	a           archiveInput
	file        *os.File
	size        int64
	checksum    string
	archiveRel  string
	destRel     string
	entries     []archiveEntry
	overwritten []string
	// dirs caches what the checks found at a directory path: true for a
	// directory.
	dirs map[string]bool
}

// prepare opens the archive and the destination and checks every entry;
// nothing is written. The caller closes job.file.
func (x archiveExtractAdapter) prepare(ctx context.Context, env *Env, in Input) (*archiveJob, error) {
	a, err := parseArchiveInput(in)
	if err != nil {
		return nil, err
	}
	job := &archiveJob{kind: x.Kind(), in: in, a: a, dirs: map[string]bool{}}
	if job.archiveRel, err = env.Rel(a.archive); err != nil {
		return nil, err
	}
	if job.destRel, err = env.Rel(a.destination); err != nil {
		return nil, err
	}
	if fi, err := env.Root.Stat(job.destRel); err != nil {
		return nil, fileError(job.destRel, err)
	} else if !fi.IsDir() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.destination: %s is not a directory", job.destRel)
	}
	d, _, err := env.OpenChecked(ctx, x.Kind(), in, "destination", job.destRel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	_, job.destRel, err = realOpenedPath(env, d, job.destRel)
	d.Close()
	if err != nil {
		return nil, err
	}
	f, _, err := env.OpenChecked(ctx, x.Kind(), in, "archive", job.archiveRel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = warden.Errorf(warden.CodeInvalidInput, "input.archive: %s is not a regular file", job.archiveRel)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	job.file, job.size = f, fi.Size()
	if err := job.check(ctx, env); err != nil {
		f.Close()
		return nil, err
	}
	return job, nil
}

// reader opens the archive from its start.
func (j *archiveJob) reader(ctx context.Context) (archiveReader, error) {
	if _, err := j.file.Seek(0, io.SeekStart); err != nil {
		return nil, fileError(j.archiveRel, err)
	}
	var src io.Reader = &archiveCtxReader{ctx: ctx, r: j.file}
	bad := func(err error) error {
		return warden.Errorf(warden.CodeInvalidInput, "input.archive: %s is not a %s archive: %v", j.archiveRel, j.a.format, err)
	}
	switch j.a.format {
	case "zip":
		zr, err := zip.NewReader(j.file, j.size)
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return nil, bad(err)
		}
		return &zipEntries{ctx: ctx, files: zr.File, bad: bad}, nil
	case "tar.gz":
		gz, err := gzip.NewReader(src)
		if err != nil {
			return nil, bad(err)
		}
		src = gz
	case "tar.bz2":
		src = bzip2.NewReader(src)
	}
	// The decompressed stream may hold, besides the content, headers and
	// padding: a few blocks per entry.
	limit := int64(archiveMaxBytes) + int64(archiveMaxEntries)*4*512 + 16<<20
	counted := &archiveLimitReader{r: src, limit: limit, ratioOf: j.size}
	return &tarEntries{tr: tar.NewReader(counted), bad: bad}, nil
}

// check reads every entry and refuses the archive at the first that is
// unsafe, conflicts with what the destination holds, or is refused by the
// policy; it also sums the archive.
func (j *archiveJob) check(ctx context.Context, env *Env) error {
	h := sha256.New()
	if _, err := j.file.Seek(0, io.SeekStart); err != nil {
		return fileError(j.archiveRel, err)
	}
	if _, err := io.Copy(h, &archiveCtxReader{ctx: ctx, r: j.file}); err != nil {
		return archiveReadError(j.archiveRel, err)
	}
	j.checksum = "sha256:" + hex.EncodeToString(h.Sum(nil))
	r, err := j.reader(ctx)
	if err != nil {
		return err
	}
	kinds := map[string]bool{} // name → is a directory
	checked := map[string]bool{}
	var total int64
	for {
		e, content, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return archiveReadError(j.archiveRel, err)
		}
		if len(j.entries) == archiveMaxEntries {
			return warden.Errorf(warden.CodeTooLarge, "%s has more than %d entries", j.archiveRel, archiveMaxEntries)
		}
		if total += e.size; total > archiveMaxBytes {
			return warden.Errorf(warden.CodeTooLarge, "%s holds more than %d bytes", j.archiveRel, archiveMaxBytes)
		}
		if content != nil {
			if _, err := io.Copy(io.Discard, content); err != nil {
				return archiveReadError(j.archiveRel, err)
			}
		}
		if e.name == "." {
			continue // the destination itself
		}
		dir, seen := kinds[e.name]
		if seen && dir != e.dir {
			return warden.Errorf(warden.CodeInvalidInput, "%s names %s both as a file and as a directory", j.archiveRel, e.name)
		}
		kinds[e.name] = e.dir
		for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
			if dir, seen := kinds[p]; seen && !dir {
				return warden.Errorf(warden.CodeInvalidInput, "%s names %s both as a file and as a directory", j.archiveRel, p)
			}
			kinds[p] = true
		}
		if !checked[e.name] {
			checked[e.name] = true
			if err := j.checkTarget(ctx, env, e); err != nil {
				return err
			}
		}
		j.entries = append(j.entries, e)
	}
	if total > archiveRatioFloor && total/max(j.size, 1) > archiveMaxRatio {
		return warden.Errorf(warden.CodeTooLarge, "%s expands %d bytes to %d, a ratio over %d: refused as a likely archive bomb", j.archiveRel, j.size, total, archiveMaxRatio)
	}
	return nil
}

// checkTarget checks where an entry would go: the policy must let the
// action write there, no link may lie on the way, and a file cannot
// replace a directory or the reverse.
func (j *archiveJob) checkTarget(ctx context.Context, env *Env, e archiveEntry) error {
	target := path.Join(j.destRel, e.name)
	if err := env.Recheck(ctx, j.kind, j.in, "destination", env.Abs(target)); err != nil {
		return &warden.Error{Code: warden.ErrorCode(err), Message: "entry " + e.name + ": " + warden.ErrorMessage(err), Err: err}
	}
	parts := strings.Split(e.name, "/")
	for i := range parts {
		rel := path.Join(j.destRel, strings.Join(parts[:i+1], "/"))
		last := i == len(parts)-1
		isDir, known := j.dirs[rel]
		if !known || last {
			fi, err := env.Root.Lstat(rel)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil // nothing deeper exists either
			case err != nil:
				return fileError(rel, err)
			case fi.Mode()&fs.ModeSymlink != 0:
				return warden.Errorf(warden.CodeDenied, "entry %s: %s is a symbolic link; extraction does not write through links", e.name, rel)
			case !fi.IsDir() && !fi.Mode().IsRegular():
				return warden.Errorf(warden.CodeDenied, "entry %s: %s is a %s, not a file or directory", e.name, rel, fi.Mode().Type())
			}
			isDir = fi.IsDir()
			j.dirs[rel] = isDir
		}
		switch {
		case !last && !isDir:
			return warden.Errorf(warden.CodeConflict, "entry %s: %s already exists and is not a directory", e.name, rel)
		case last && e.dir && !isDir:
			return warden.Errorf(warden.CodeConflict, "entry %s: %s already exists and is not a directory", e.name, rel)
		case last && !e.dir && isDir:
			return warden.Errorf(warden.CodeConflict, "entry %s: %s already exists as a directory", e.name, rel)
		case last && !e.dir:
			j.overwritten = append(j.overwritten, rel)
		}
	}
	return nil
}

// archiveReadError reports a failure to read the archive; domain errors
// (a limit, a refused entry) pass through.
func archiveReadError(rel string, err error) error {
	var we *warden.Error
	if errors.As(err, &we) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return warden.Errorf(warden.CodeInvalidState, "extracting %s: %v (raise input.timeout)", rel, err)
	}
	return warden.Errorf(warden.CodeInvalidInput, "input.archive: %s cannot be read: %v", rel, err)
}

// archiveEntryName checks an entry's name and returns it clean. A
// backslash counts as a separator, as the archive may come from Windows.
func archiveEntryName(raw string) (string, error) {
	n := strings.ReplaceAll(raw, `\`, "/")
	switch {
	case n == "":
		return "", warden.Errorf(warden.CodeDenied, "an entry has an empty name")
	case strings.ContainsRune(n, 0):
		return "", warden.Errorf(warden.CodeDenied, "entry %q: the name holds a NUL byte", raw)
	case strings.HasPrefix(n, "/"), len(n) >= 2 && n[1] == ':' && (n[0]|0x20 >= 'a' && n[0]|0x20 <= 'z'):
		return "", warden.Errorf(warden.CodeDenied, "entry %q: absolute names are refused", raw)
	}
	for c := range strings.SplitSeq(n, "/") {
		if c == ".." {
			return "", warden.Errorf(warden.CodeDenied, "entry %q: names with .. are refused", raw)
		}
	}
	return path.Clean(n), nil
}

// tarEntries reads a tar stream.
type tarEntries struct {
	tr  *tar.Reader
	bad func(error) error
}

func (t *tarEntries) next() (archiveEntry, io.Reader, error) {
	for {
		h, err := t.tr.Next()
		if err == io.EOF {
			return archiveEntry{}, nil, io.EOF
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			var we *warden.Error
			if errors.As(err, &we) {
				return archiveEntry{}, nil, err
			}
			return archiveEntry{}, nil, t.bad(err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue // PAX defaults, not an entry
		}
		name, err := archiveEntryName(h.Name)
		if err != nil {
			return archiveEntry{}, nil, err
		}
		e := archiveEntry{name: name, perm: fs.FileMode(h.Mode) & fs.ModePerm, size: h.Size}
		switch h.Typeflag {
		case tar.TypeReg:
			return e, t.tr, nil
		case tar.TypeDir:
			e.dir, e.size = true, 0
			return e, nil, nil
		case tar.TypeSymlink:
			return e, nil, warden.Errorf(warden.CodeDenied, "entry %q is a symbolic link (to %q); links are refused", h.Name, h.Linkname)
		case tar.TypeLink:
			return e, nil, warden.Errorf(warden.CodeDenied, "entry %q is a hard link (to %q); links are refused", h.Name, h.Linkname)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return e, nil, warden.Errorf(warden.CodeDenied, "entry %q is a device or FIFO; only files and directories are extracted", h.Name)
		}
		return e, nil, warden.Errorf(warden.CodeDenied, "entry %q has type %q, which is not extracted; only files and directories are", h.Name, h.Typeflag)
	}
}

// zipEntries reads a zip archive's central directory in order.
type zipEntries struct {
	ctx   context.Context
	files []*zip.File
	i     int
	open  io.ReadCloser
	bad   func(error) error
}

func (z *zipEntries) next() (archiveEntry, io.Reader, error) {
	if z.open != nil {
		z.open.Close()
		z.open = nil
	}
	if z.i == len(z.files) {
		return archiveEntry{}, nil, io.EOF
	}
	f := z.files[z.i]
	z.i++
	name, err := archiveEntryName(f.Name)
	if err != nil {
		return archiveEntry{}, nil, err
	}
	m := f.Mode()
	e := archiveEntry{name: name, perm: m.Perm()}
	switch {
	case m&fs.ModeSymlink != 0:
		return e, nil, warden.Errorf(warden.CodeDenied, "entry %q is a symbolic link; links are refused", f.Name)
	case m.IsDir() || strings.HasSuffix(f.Name, "/"):
		e.dir = true
		return e, nil, nil
	case !m.IsRegular():
		return e, nil, warden.Errorf(warden.CodeDenied, "entry %q is a %s; only files and directories are extracted", f.Name, m.Type())
	case f.Flags&0x1 != 0:
		return e, nil, warden.Errorf(warden.CodeInvalidInput, "entry %q is encrypted, which is not supported", f.Name)
	case f.UncompressedSize64 > archiveMaxBytes:
		return e, nil, warden.Errorf(warden.CodeTooLarge, "entry %q holds %d bytes, over the %d limit", f.Name, f.UncompressedSize64, archiveMaxBytes)
	}
	e.size = int64(f.UncompressedSize64)
	rc, err := f.Open()
	if err != nil {
		return e, nil, z.bad(fmt.Errorf("entry %q: %w", f.Name, err))
	}
	z.open = rc
	// The declared size bounds the read: a lying header gets no further.
	return e, &archiveSizedReader{r: &archiveCtxReader{ctx: z.ctx, r: rc}, left: e.size, name: f.Name}, nil
}

// archiveSizedReader fails when an entry holds more than its header said.
type archiveSizedReader struct {
	r    io.Reader
	left int64
	name string
}

func (s *archiveSizedReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		// One more read: it finds content beyond the declared size, or
		// reaches the end, where the zip reader verifies the checksum.
		var one [1]byte
		n, err := s.r.Read(one[:])
		switch {
		case n > 0, errors.Is(err, zip.ErrFormat):
			return 0, warden.Errorf(warden.CodeInvalidInput, "entry %q holds more than its header says", s.name)
		case err != nil && err != io.EOF:
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if err == io.EOF && s.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// archiveCtxReader stops reading once the context is done: the timeout.
type archiveCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *archiveCtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// archiveLimitReader bounds a decompressed stream, absolutely and
// relative to the size of the archive it came from.
type archiveLimitReader struct {
	r        io.Reader
	n, limit int64
	ratioOf  int64
}

func (l *archiveLimitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return n, warden.Errorf(warden.CodeTooLarge, "the archive decompresses to more than %d bytes", l.limit)
	}
	if l.n > archiveRatioFloor && l.n/max(l.ratioOf, 1) > archiveMaxRatio {
		return n, warden.Errorf(warden.CodeTooLarge, "the archive expands %d bytes to over %d, a ratio over %d: refused as a likely archive bomb", l.ratioOf, l.n, archiveMaxRatio)
	}
	return n, err
}

func (x archiveExtractAdapter) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	a, err := parseArchiveInput(in)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	job, err := x.prepare(ctx, env, in)
	if err != nil {
		return nil, err
	}
	defer job.file.Close()
	files := 0
	for _, e := range job.entries {
		if !e.dir {
			files++
		}
	}
	p := &Plan{WouldDo: fmt.Sprintf("Extract %d file(s) from %s (%s) into %s", files, job.archiveRel, a.format, job.destRel)}
	for _, e := range job.entries {
		if len(p.Changes) == archiveListed {
			p.Warnings = append(p.Warnings, fmt.Sprintf("only the first %d changes are listed", archiveListed))
			break
		}
		if !e.dir {
			p.Changes = append(p.Changes, path.Join(job.destRel, e.name))
		}
	}
	if n := len(job.overwritten); n > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d existing file(s) would be overwritten, such as %s", n, job.overwritten[0]))
	}
	return p, nil
}

type archiveExtractOutput struct {
	Archive        string   `json:"archive"`
	Destination    string   `json:"destination"`
	Format         string   `json:"format"`
	FilesExtracted int      `json:"filesExtracted"`
	Files          []string `json:"files"`
	Overwritten    []string `json:"overwritten"`
}

func (x archiveExtractAdapter) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	a, err := parseArchiveInput(in)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	job, err := x.prepare(ctx, env, in)
	if err != nil {
		return nil, err
	}
	defer job.file.Close()
	var set undoSnapshots
	out, err := job.extract(ctx, env, &set)
	if err != nil {
		// Leave nothing half-extracted behind.
		if rerr := set.restore(ctx, env); rerr != nil {
			return set.outcome(), undoFailed(err, rerr)
		}
		return nil, err
	}
	return out, nil
}

// extract writes the checked entries, reading the archive a second time;
// an entry that differs from the one checked (the file changed meanwhile)
// stops it.
func (j *archiveJob) extract(ctx context.Context, env *Env, set *undoSnapshots) (*Outcome, error) {
	r, err := j.reader(ctx)
	if err != nil {
		return nil, err
	}
	o := archiveExtractOutput{Archive: j.archiveRel, Destination: j.destRel, Format: j.a.format, Files: []string{}, Overwritten: []string{}}
	arts := []warden.Artifact{{Type: "checksum", Value: j.checksum, Path: j.archiveRel, Description: "archive"}}
	var written int64
	var changed []string
	i := 0
	for {
		e, content, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, archiveReadError(j.archiveRel, err)
		}
		if e.name == "." {
			continue
		}
		if i >= len(j.entries) || j.entries[i] != e {
			return nil, warden.Errorf(warden.CodeConflict, "%s changed while it was being extracted", j.archiveRel)
		}
		i++
		target := path.Join(j.destRel, e.name)
		if e.dir {
			if err := set.ensureDirs(env, j.destRel, target); err != nil {
				return nil, err
			}
			continue
		}
		if err := set.ensureDirs(env, j.destRel, path.Dir(target)); err != nil {
			return nil, err
		}
		st, first, err := set.snapshotOnce(ctx, env, target)
		if err != nil {
			return nil, err
		}
		perm := e.perm
		if perm == 0 {
			perm = 0o644
		}
		f, _, err := env.OpenChecked(ctx, j.kind, j.in, "destination", target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, perm)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, archiveReadError(j.archiveRel, err)
		}
		written += n
		if first {
			changed = append(changed, target)
			if len(o.Files) < archiveListed {
				o.Files = append(o.Files, target)
			}
			if st.Exists {
				if len(o.Overwritten) < archiveListed {
					o.Overwritten = append(o.Overwritten, target)
				}
				arts = append(arts, warden.Artifact{Type: "checksum", Value: st.Object, Path: target, Description: "before"})
			}
		}
		arts = append(arts, warden.Artifact{Type: "checksum", Value: "sha256:" + hex.EncodeToString(h.Sum(nil)), Path: target, Description: "extracted"})
	}
	if i != len(j.entries) {
		return nil, warden.Errorf(warden.CodeConflict, "%s changed while it was being extracted", j.archiveRel)
	}
	o.FilesExtracted = len(changed)
	out := set.outcome()
	out.Output, out.FilesChanged, out.OutputBytes, out.Artifacts = o, changed, written, arts
	return out, nil
}

func (archiveExtractAdapter) Rollback(ctx context.Context, env *Env, undo json.RawMessage) error {
	var set undoSnapshots
	if err := json.Unmarshal(undo, &set); err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "archive:extract undo record: %v", err)
	}
	return set.restore(ctx, env)
}

// undoSnapshots is the undo record of an adapter that writes many files:
// each file's state before its first change, in order, and the
// directories created for them, parents first.
type undoSnapshots struct {
	Files []FileState `json:"files"`
	Dirs  []string    `json:"dirs,omitempty"`
	seen  map[string]bool
}

// snapshotOnce records rel's state unless it already was; first reports
// a first record, st the state recorded for rel either way.
func (s *undoSnapshots) snapshotOnce(ctx context.Context, env *Env, rel string) (st FileState, first bool, err error) {
	if s.seen[rel] {
		for _, f := range s.Files {
			if f.Path == rel {
				return f, false, nil
			}
		}
	}
	if st, err = env.Snapshot(ctx, rel); err != nil {
		return st, false, err
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[rel] = true
	s.Files = append(s.Files, st)
	return st, true, nil
}

// snapshot records rel's state unless it already was.
func (s *undoSnapshots) snapshot(ctx context.Context, env *Env, rel string) error {
	_, _, err := s.snapshotOnce(ctx, env, rel)
	return err
}

// noteMissingDirs records the directories between base and rel's parent
// that do not exist, for a tool (git) that will create them.
func (s *undoSnapshots) noteMissingDirs(env *Env, base, rel string) error {
	var missing []string
	for d := path.Dir(rel); d != base && d != "." && d != "/"; d = path.Dir(d) {
		_, err := env.Root.Lstat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fileError(d, err)
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		s.addDir(missing[i])
	}
	return nil
}

func (s *undoSnapshots) addDir(d string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[d+"/"] {
		s.seen[d+"/"] = true
		s.Dirs = append(s.Dirs, d)
	}
}

// ensureDirs creates the missing directories from base down to dir,
// recording each.
func (s *undoSnapshots) ensureDirs(env *Env, base, dir string) error {
	if dir == base || dir == "." {
		return nil
	}
	rest := dir
	if base != "." {
		rest = strings.TrimPrefix(dir, base+"/")
	}
	cur := base
	for c := range strings.SplitSeq(rest, "/") {
		cur = path.Join(cur, c)
		if s.seen[cur+"/"] {
			continue
		}
		fi, err := env.Root.Lstat(cur)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return warden.Errorf(warden.CodeConflict, "%s is no longer a directory", cur)
		case !errors.Is(err, fs.ErrNotExist):
			return fileError(cur, err)
		}
		if err := env.Root.Mkdir(cur, 0o755); err != nil {
			return fileError(cur, err)
		}
		s.addDir(cur)
	}
	return nil
}

// outcome is an Outcome whose Undo is the record.
func (s *undoSnapshots) outcome() *Outcome {
	undo, err := json.Marshal(s)
	if err != nil {
		panic(err) // plain strings and numbers always encode
	}
	return &Outcome{Undo: undo}
}

// restore puts every file back, last first, then removes the recorded
// directories, deepest first. A directory that has meanwhile received
// other files is kept: removing it would destroy them. It is idempotent.
func (s *undoSnapshots) restore(ctx context.Context, env *Env) error {
	for i := len(s.Files) - 1; i >= 0; i-- {
		if err := env.Restore(ctx, s.Files[i]); err != nil {
			return err
		}
	}
	for i := len(s.Dirs) - 1; i >= 0; i-- {
		d := s.Dirs[i]
		if err := env.Root.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if _, serr := env.Root.Lstat(d); serr != nil && !errors.Is(serr, fs.ErrNotExist) {
				return fileError(d, err)
			}
		}
	}
	return nil
}

// snapshotEvidence is the change evidence of one file: its recorded state
// against what it holds now. Contents over MaxCapture are summed rather
// than diffed. It also returns the bytes the file now holds.
func snapshotEvidence(ctx context.Context, env *Env, st FileState) ([]warden.Artifact, int64, error) {
	before, err := stateContent(ctx, env, st)
	if err != nil {
		return nil, 0, err
	}
	after, afterSum, size, exists, err := currentContent(env, st.Path)
	if err != nil {
		return nil, 0, err
	}
	existed := st.Exists && !st.Dir
	if len(before) <= MaxCapture && !after.cut {
		return ChangeEvidence(st.Path, before, after.buf.Bytes(), existed, exists), size, nil
	}
	var arts []warden.Artifact
	if existed {
		arts = append(arts, warden.Artifact{Type: "checksum", Value: gitOr(st.Object, Checksum([]byte(st.Link))), Path: st.Path, Description: "before"})
	}
	if exists {
		arts = append(arts, warden.Artifact{Type: "checksum", Value: afterSum, Path: st.Path, Description: "after"})
	}
	arts = append(arts, warden.Artifact{Type: "diff", Value: fmt.Sprintf("%s: too large to diff (%d bytes before)\n", st.Path, st.Size), Path: st.Path})
	return arts, size, nil
}

// currentContent reads what rel holds now, without following a link: up
// to MaxCapture bytes of it (cut beyond), the checksum and size of all of
// it.
func currentContent(env *Env, rel string) (content *gitCapture, sum string, size int64, exists bool, err error) {
	content = &gitCapture{limit: MaxCapture}
	fi, err := env.Root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return content, "", 0, false, nil
	case err != nil:
		return nil, "", 0, false, fileError(rel, err)
	case fi.IsDir():
		return content, "", 0, false, nil
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := env.Root.Readlink(rel)
		if err != nil {
			return nil, "", 0, false, fileError(rel, err)
		}
		content.Write([]byte(link))
		return content, Checksum([]byte(link)), int64(len(link)), true, nil
	}
	f, err := env.Root.OpenFile(rel, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, "", 0, false, fileError(rel, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, content), f)
	if err != nil {
		return nil, "", 0, false, fileError(rel, err)
	}
	return content, "sha256:" + hex.EncodeToString(h.Sum(nil)), n, true, nil
}

// stateContent is what a recorded state held, up to MaxCapture+1 bytes: a
// file's bytes, a link's target, nothing for a directory or an absent
// path.
func stateContent(ctx context.Context, env *Env, st FileState) ([]byte, error) {
	switch {
	case !st.Exists || st.Dir:
		return nil, nil
	case st.Link != "":
		return []byte(st.Link), nil
	}
	rc, err := env.Objects.Open(ctx, st.Object)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, MaxCapture+1))
}

// undoFailed is err, the failure of an action, when undoing what the
// action had done before failing failed too: the message says both.
func undoFailed(err, undoErr error) error {
	return &warden.Error{
		Code:    warden.ErrorCode(err),
		Message: warden.ErrorMessage(err) + " (and undoing what was done before the failure failed: " + warden.ErrorMessage(undoErr) + ")",
		Err:     err,
	}
}

// realOpenedPath returns where an opened file really is: its absolute
// path with links resolved, and that path relative to the root. Where the
// kernel cannot say (outside Linux), the path it was opened by stands.
func realOpenedPath(env *Env, f *os.File, rel string) (abs, physical string, err error) {
	abs = filepath.Join(env.Physical, filepath.FromSlash(rel))
	if runtime.GOOS == "linux" {
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			return "", "", warden.Errorf(warden.CodeDenied, "%s: cannot tell where the opened file is: %v", rel, err)
		}
		abs = p
	}
	physical, err = physicalRel(env, abs)
	return abs, physical, err
}

// physicalRel returns an absolute path, links resolved, relative to the
// root's physical path; one outside the root is refused.
func physicalRel(env *Env, abs string) (string, error) {
	r, err := filepath.Rel(env.Physical, abs)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", warden.Errorf(warden.CodeDenied, "%s is outside the project root %s", abs, env.Dir)
	}
	return filepath.ToSlash(r), nil
}
