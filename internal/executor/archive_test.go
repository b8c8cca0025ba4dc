package executor

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

const archiveTestPolicy = `name: t
capabilities:
  - {tool: "archive:extract", scope: {paths: ["**"]}}
forbidden:
  - {pattern: "**/.env"}
`

// archiveTestBz2 is a tar.bz2 of file1.txt ("one\n") and sub/file2.txt
// ("two\n"), made with GNU tar and bzip2: the standard library has no
// bzip2 writer.
const archiveTestBz2 = "QlpoOTFBWSZTWVxnddUAAK/7gMmQAEBAAf+ACIRzJZ7ABCggAJSElExTyJoaMmanqabU0Aiok00eUHpAAAP1SPRStpVbykhWWCCl+y2JdUc7pyE3BRJIT9WcVsmrHGg8ikpJgC00nIFGYoF7HJrQwwgrTMeona9nCxsUxWkOb2yc5MFmvZWpSmxUnv93aMXQQz/EyGziiH8XckU4UJBcZ3XV"

// archiveEnt is one entry of a test archive.
type archiveEnt struct {
	name, body string
	typ        byte // a tar type flag; 0 for a regular file
	link       string
	mode       int64
	size       int64 // a declared size overriding len(body) (tar)
}

func archiveTar(t *testing.T, gz bool, ents ...archiveEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			// Only the header: the reader must refuse it before the
			// missing content matters.
			h.Size = e.size
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func archiveZip(t *testing.T, ents ...archiveEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := fs.FileMode(0o644)
		if e.typ == tar.TypeSymlink {
			mode = fs.ModeSymlink | 0o777
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveZipRaw is a zip of one stored entry whose header declares size
// bytes whatever the data.
func archiveZipRaw(t *testing.T, name, data string, size uint64) []byte {
	t.Helper()
	return archiveZipRawCRC(t, name, data, size, crc32.ChecksumIEEE([]byte(data)))
}

func archiveZipRawCRC(t *testing.T, name, data string, size uint64, crc uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc, CompressedSize64: uint64(len(data)), UncompressedSize64: size})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(data))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveEnv is an env with an empty directory dest under its root.
func archiveEnv(t *testing.T) *Env {
	t.Helper()
	env := newTestEnv(t, archiveTestPolicy)
	if err := os.Mkdir(filepath.Join(env.Dir, "dest"), 0o755); err != nil {
		t.Fatal(err)
	}
	return env
}

func archivePut(t *testing.T, env *Env, rel string, b []byte) {
	t.Helper()
	writeFile(t, env, rel, string(b))
}

// archiveTree maps every path under dir to its content ("<dir>" for a
// directory, "-> target" for a link) and mode.
func archiveTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			tree[rel] = "-> " + l
		case fi.IsDir():
			tree[rel] = "<dir>"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tree[rel] = fi.Mode().Perm().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func archiveCode(t *testing.T, err error, want warden.Code) {
	t.Helper()
	if got := warden.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func TestArchiveValidate(t *testing.T) {
	x := archiveExtractAdapter{}
	if x.Kind() != "archive:extract" || len(archiveAdapters()) != 1 {
		t.Fatal("kind")
	}
	tests := []struct {
		in   Input
		want warden.Code
	}{
		{Input{"archive": "a.tar.gz", "destination": "dest"}, ""},
		{Input{"archive": "a.TGZ", "destination": "dest", "timeout": 1000.0}, ""},
		{Input{"archive": "blob", "destination": "dest", "format": "zip"}, ""},
		{Input{"archive": "", "destination": "dest"}, warden.CodeInvalidInput},
		{Input{"destination": "dest"}, warden.CodeInvalidInput},
		{Input{"archive": "a.tar"}, warden.CodeInvalidInput},
		{Input{"archive": "a.rar", "destination": "dest"}, warden.CodeInvalidInput},
		{Input{"archive": "a.tar", "destination": "dest", "format": "rar"}, warden.CodeInvalidInput},
		{Input{"archive": "a.tar", "destination": "dest", "timeout": -1.0}, warden.CodeInvalidInput},
		{Input{"archive": "a.tar", "destination": "dest", "overwrite": true}, warden.CodeInvalidInput},
	}
	for _, tc := range tests {
		if got := warden.ErrorCode(x.Validate(tc.in)); got != tc.want {
			t.Errorf("Validate(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestArchiveExtractTarGzAndRollback(t *testing.T) {
	env := archiveEnv(t)
	x := archiveExtractAdapter{}
	// As tar czf … -C src . names them.
	data := archiveTar(t, true,
		archiveEnt{name: "./", typ: tar.TypeDir, mode: 0o755},
		archiveEnt{name: "./file1.txt", body: "hello\n"},
		archiveEnt{name: "./sub/", typ: tar.TypeDir, mode: 0o755},
		archiveEnt{name: "./sub/file2.txt", body: "world\n", mode: 0o600},
	)
	archivePut(t, env, "a.tar.gz", data)
	out, err := x.Execute(bg, env, Input{"archive": "a.tar.gz", "destination": "dest"})
	if err != nil {
		t.Fatal(err)
	}
	want := archiveExtractOutput{Archive: "a.tar.gz", Destination: "dest", Format: "tar.gz", FilesExtracted: 2,
		Files: []string{"dest/file1.txt", "dest/sub/file2.txt"}, Overwritten: []string{}}
	if diff := cmp.Diff(want, out.Output); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dest/file1.txt", "dest/sub/file2.txt"}, out.FilesChanged); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(map[string]string{".": "<dir>", "file1.txt": "-rw-r--r-- hello\n", "sub": "<dir>", "sub/file2.txt": "-rw------- world\n"}, archiveTree(t, filepath.Join(env.Dir, "dest"))); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	wantArts := []warden.Artifact{
		{Type: "checksum", Value: Checksum(data), Path: "a.tar.gz", Description: "archive"},
		{Type: "checksum", Value: Checksum([]byte("hello\n")), Path: "dest/file1.txt", Description: "extracted"},
		{Type: "checksum", Value: Checksum([]byte("world\n")), Path: "dest/sub/file2.txt", Description: "extracted"},
	}
	if diff := cmp.Diff(wantArts, out.Artifacts); diff != "" {
		t.Errorf("artifacts (-want +got):\n%s", diff)
	}
	if out.OutputBytes != 12 {
		t.Errorf("OutputBytes = %d", out.OutputBytes)
	}
	for range 2 { // idempotent
		if err := x.Rollback(bg, env, out.Undo); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]string{".": "<dir>"}, archiveTree(t, filepath.Join(env.Dir, "dest"))); diff != "" {
		t.Errorf("after rollback (-want +got):\n%s", diff)
	}
}

func TestArchiveFormats(t *testing.T) {
	bz2, err := base64.StdEncoding.DecodeString(archiveTestBz2)
	if err != nil {
		t.Fatal(err)
	}
	ents := []archiveEnt{{name: "file1.txt", body: "one\n"}, {name: "sub/file2.txt", body: "two\n"}}
	tests := []struct {
		name, format, want string
		data               []byte
	}{
		{"a.tar", "", "tar", archiveTar(t, false, ents...)},
		{"a.tgz", "", "tar.gz", archiveTar(t, true, ents...)},
		{"a.tar.gz", "", "tar.gz", archiveTar(t, true, ents...)},
		{"a.zip", "", "zip", archiveZip(t, ents...)},
		{"a.tar.bz2", "", "tar.bz2", bz2},
		{"blob.bin", "zip", "zip", archiveZip(t, ents...)},
		{"blob.bin", "tgz", "tar.gz", archiveTar(t, true, ents...)},
	}
	for _, tc := range tests {
		t.Run(tc.name+" "+tc.format, func(t *testing.T) {
			env := archiveEnv(t)
			archivePut(t, env, tc.name, tc.data)
			in := Input{"archive": tc.name, "destination": filepath.Join(env.Dir, "dest")}
			if tc.format != "" {
				in["format"] = tc.format
			}
			out, err := archiveExtractAdapter{}.Execute(bg, env, in)
			if err != nil {
				t.Fatal(err)
			}
			if o := out.Output.(archiveExtractOutput); o.Format != tc.want || o.FilesExtracted != 2 {
				t.Errorf("output = %+v", o)
			}
			if got := readFile(t, env, "dest/file1.txt") + readFile(t, env, "dest/sub/file2.txt"); got != "one\ntwo\n" {
				t.Errorf("content = %q", got)
			}
		})
	}
	t.Run("wrong format", func(t *testing.T) {
		env := archiveEnv(t)
		archivePut(t, env, "a.zip", archiveTar(t, true, ents...))
		_, err := archiveExtractAdapter{}.Execute(bg, env, Input{"archive": "a.zip", "destination": "dest"})
		archiveCode(t, err, warden.CodeInvalidInput)
	})
}

func TestArchiveMissingAndOutside(t *testing.T) {
	env := archiveEnv(t)
	archivePut(t, env, "a.tar", archiveTar(t, false, archiveEnt{name: "f", body: "x"}))
	writeFile(t, env, "file", "x")
	writeFile(t, env, ".env", string(archiveTar(t, false, archiveEnt{name: "f", body: "x"})))
	if err := os.Symlink(".env", filepath.Join(env.Dir, "link.tar")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(env.Dir, "up")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		archive, dest string
		want          warden.Code
		msg           string
	}{
		{"missing.tar", "dest", warden.CodeNotFound, "does not exist"},
		{"a.tar", "missing", warden.CodeNotFound, "does not exist"},
		{"a.tar", "file", warden.CodeInvalidInput, "not a directory"},
		{"/etc/passwd.tar", "dest", warden.CodeDenied, "outside"},
		{"a.tar", "../elsewhere", warden.CodeDenied, "leaves"},
		{"a.tar", "up", warden.CodeDenied, ""},
		{"link.tar", "dest", warden.CodeDenied, "forbidden"},
		{"dest", "dest", warden.CodeInvalidInput, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.archive+" "+tc.dest, func(t *testing.T) {
			_, err := archiveExtractAdapter{}.Execute(bg, env, Input{"archive": tc.archive, "destination": tc.dest, "format": "tar"})
			archiveCode(t, err, tc.want)
			if !strings.Contains(warden.ErrorMessage(err), tc.msg) {
				t.Errorf("message %q does not say %q", warden.ErrorMessage(err), tc.msg)
			}
		})
	}
	if diff := cmp.Diff(map[string]string{".": "<dir>"}, archiveTree(t, filepath.Join(env.Dir, "dest"))); diff != "" {
		t.Error(diff)
	}
}

func TestArchiveDryRun(t *testing.T) {
	env := archiveEnv(t)
	writeFile(t, env, "dest/file1.txt", "old")
	archivePut(t, env, "a.zip", archiveZip(t, archiveEnt{name: "file1.txt", body: "new"}, archiveEnt{name: "d/file2.txt", body: "2"}))
	before := archiveTree(t, env.Dir)
	p, err := archiveExtractAdapter{}.DryRun(bg, env, Input{"archive": "a.zip", "destination": "dest"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.WouldDo, "Extract 2 file(s)") || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "overwritten") {
		t.Errorf("plan = %+v", p)
	}
	if diff := cmp.Diff([]string{"dest/file1.txt", "dest/d/file2.txt"}, p.Changes); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(before, archiveTree(t, env.Dir)); diff != "" {
		t.Errorf("a dry run changed files:\n%s", diff)
	}
	// A dry run refuses what the extraction would.
	archivePut(t, env, "bad.tar", archiveTar(t, false, archiveEnt{name: "../evil", body: "x"}))
	_, err = archiveExtractAdapter{}.DryRun(bg, env, Input{"archive": "bad.tar", "destination": "dest"})
	archiveCode(t, err, warden.CodeDenied)
}

func TestArchiveRefusesUnsafeEntries(t *testing.T) {
	ok := archiveEnt{name: "ok.txt", body: "fine"}
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		file string
		want warden.Code
	}{
		{"parent", func(t *testing.T) []byte { return archiveTar(t, false, ok, archiveEnt{name: "../evil", body: "x"}) }, "a.tar", warden.CodeDenied},
		{"parent inside", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "a/../../evil", body: "x"})
		}, "a.tar", warden.CodeDenied},
		{"dot parent", func(t *testing.T) []byte { return archiveTar(t, true, ok, archiveEnt{name: "./../evil", body: "x"}) }, "a.tgz", warden.CodeDenied},
		{"harmless-looking parent", func(t *testing.T) []byte { return archiveTar(t, false, ok, archiveEnt{name: "a/../b", body: "x"}) }, "a.tar", warden.CodeDenied},
		{"absolute", func(t *testing.T) []byte { return archiveTar(t, false, ok, archiveEnt{name: "/tmp/evil", body: "x"}) }, "a.tar", warden.CodeDenied},
		{"symlink out", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "link", typ: tar.TypeSymlink, link: "/etc/passwd"})
		}, "a.tar", warden.CodeDenied},
		{"symlink in", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "link", typ: tar.TypeSymlink, link: "ok.txt"})
		}, "a.tar", warden.CodeDenied},
		{"hard link", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "hl", typ: tar.TypeLink, link: "ok.txt"})
		}, "a.tar", warden.CodeDenied},
		{"char device", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "null", typ: tar.TypeChar})
		}, "a.tar", warden.CodeDenied},
		{"block device", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "sda", typ: tar.TypeBlock})
		}, "a.tar", warden.CodeDenied},
		{"fifo", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "pipe", typ: tar.TypeFifo})
		}, "a.tar", warden.CodeDenied},
		{"zip backslash parent", func(t *testing.T) []byte { return archiveZip(t, ok, archiveEnt{name: `..\evil`, body: "x"}) }, "a.zip", warden.CodeDenied},
		{"zip nested backslash parent", func(t *testing.T) []byte { return archiveZip(t, ok, archiveEnt{name: `a\..\..\evil`, body: "x"}) }, "a.zip", warden.CodeDenied},
		{"zip absolute", func(t *testing.T) []byte { return archiveZip(t, ok, archiveEnt{name: "/tmp/evil", body: "x"}) }, "a.zip", warden.CodeDenied},
		{"zip drive", func(t *testing.T) []byte { return archiveZip(t, ok, archiveEnt{name: `C:\evil`, body: "x"}) }, "a.zip", warden.CodeDenied},
		{"zip symlink", func(t *testing.T) []byte {
			return archiveZip(t, ok, archiveEnt{name: "link", body: "/etc/passwd", typ: tar.TypeSymlink})
		}, "a.zip", warden.CodeDenied},
		{"forbidden by policy", func(t *testing.T) []byte { return archiveTar(t, false, ok, archiveEnt{name: ".env", body: "A=1"}) }, "a.tar", warden.CodeDenied},
		{"forbidden by policy, nested", func(t *testing.T) []byte { return archiveZip(t, ok, archiveEnt{name: "cfg/.env", body: "A=1"}) }, "a.zip", warden.CodeDenied},
		{"file and directory", func(t *testing.T) []byte {
			return archiveTar(t, false, ok, archiveEnt{name: "x", body: "f"}, archiveEnt{name: "x/y", body: "g"})
		}, "a.tar", warden.CodeInvalidInput},
		{"lying zip size", func(t *testing.T) []byte { return archiveZipRaw(t, "big.txt", "hello world", 3) }, "a.zip", warden.CodeInvalidInput},
		{"bad zip checksum", func(t *testing.T) []byte { return archiveZipRawCRC(t, "f.txt", "hello", 5, 1) }, "a.zip", warden.CodeInvalidInput},
		{"not a zip", func(t *testing.T) []byte { return []byte("PK\x03\x04 not really") }, "a.zip", warden.CodeInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := archiveEnv(t)
			archivePut(t, env, tc.file, tc.data(t))
			before := archiveTree(t, filepath.Dir(env.Dir))
			_, err := archiveExtractAdapter{}.Execute(bg, env, Input{"archive": tc.file, "destination": "dest"})
			archiveCode(t, err, tc.want)
			if diff := cmp.Diff(before, archiveTree(t, filepath.Dir(env.Dir))); diff != "" {
				t.Errorf("a refused archive wrote (-before +after):\n%s", diff)
			}
		})
	}
}

func TestArchiveNeverWritesThroughLinks(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, env *Env)
		ents  []archiveEnt
		want  warden.Code
	}{
		{"directory link", func(t *testing.T, env *Env) {
			writeFile(t, env, "elsewhere/keep", "k")
			os.Symlink("../elsewhere", filepath.Join(env.Dir, "dest/link"))
		}, []archiveEnt{{name: "ok.txt", body: "x"}, {name: "link/x.txt", body: "x"}}, warden.CodeDenied},
		{"file link", func(t *testing.T, env *Env) {
			writeFile(t, env, "target.txt", "target")
			os.Symlink("../target.txt", filepath.Join(env.Dir, "dest/f"))
		}, []archiveEnt{{name: "ok.txt", body: "x"}, {name: "f", body: "overwritten?"}}, warden.CodeDenied},
		{"file over a directory", func(t *testing.T, env *Env) {
			os.MkdirAll(filepath.Join(env.Dir, "dest/d"), 0o755)
		}, []archiveEnt{{name: "ok.txt", body: "x"}, {name: "d", body: "x"}}, warden.CodeConflict},
		{"directory through a file", func(t *testing.T, env *Env) {
			writeFile(t, env, "dest/file", "f")
		}, []archiveEnt{{name: "ok.txt", body: "x"}, {name: "file/x", body: "x"}}, warden.CodeConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := archiveEnv(t)
			tc.setup(t, env)
			archivePut(t, env, "a.tar", archiveTar(t, false, tc.ents...))
			before := archiveTree(t, env.Dir)
			_, err := archiveExtractAdapter{}.Execute(bg, env, Input{"archive": "a.tar", "destination": "dest"})
			archiveCode(t, err, tc.want)
			if diff := cmp.Diff(before, archiveTree(t, env.Dir)); diff != "" {
				t.Errorf("a refused archive wrote (-before +after):\n%s", diff)
			}
		})
	}
}

func TestArchiveOverwriteThenRollback(t *testing.T) {
	env := archiveEnv(t)
	x := archiveExtractAdapter{}
	oldBin := string([]byte{0xff, 0x00, 0xfe, 0x80, 'o', 'l', 'd'})
	writeFile(t, env, "dest/keep.bin", oldBin)
	os.Chmod(filepath.Join(env.Dir, "dest/keep.bin"), 0o600)
	writeFile(t, env, "dest/sub/existing.txt", "existing\n")
	writeFile(t, env, "dest/untouched.txt", "untouched\n")
	before := archiveTree(t, env.Dir)
	archivePut(t, env, "a.zip", archiveZip(t,
		archiveEnt{name: "keep.bin", body: "first"},
		archiveEnt{name: "sub/existing.txt", body: "replaced\n"},
		archiveEnt{name: "new.txt", body: "new\n"},
		archiveEnt{name: "newdir/deep/n.txt", body: "n\n"},
		archiveEnt{name: "keep.bin", body: "second"},
	))
	before["a.zip"] = archiveTree(t, env.Dir)["a.zip"]
	out, err := x.Execute(bg, env, Input{"archive": "a.zip", "destination": "dest"})
	if err != nil {
		t.Fatal(err)
	}
	o := out.Output.(archiveExtractOutput)
	if diff := cmp.Diff([]string{"dest/keep.bin", "dest/sub/existing.txt"}, o.Overwritten); diff != "" {
		t.Error(diff)
	}
	if o.FilesExtracted != 4 || readFile(t, env, "dest/keep.bin") != "second" || readFile(t, env, "dest/sub/existing.txt") != "replaced\n" {
		t.Errorf("output = %+v", o)
	}
	var befores []string
	for _, a := range out.Artifacts {
		if a.Description == "before" {
			befores = append(befores, a.Path+" "+a.Value)
		}
	}
	if diff := cmp.Diff([]string{"dest/keep.bin " + Checksum([]byte(oldBin)), "dest/sub/existing.txt " + Checksum([]byte("existing\n"))}, befores); diff != "" {
		t.Error(diff)
	}
	var undo undoSnapshots
	if err := json.Unmarshal(out.Undo, &undo); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dest/newdir", "dest/newdir/deep"}, undo.Dirs); diff != "" {
		t.Error(diff)
	}
	for range 2 {
		if err := x.Rollback(bg, env, out.Undo); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(before, archiveTree(t, env.Dir)); diff != "" {
		t.Errorf("rollback did not restore (-before +after):\n%s", diff)
	}
}

func TestArchiveLimits(t *testing.T) {
	tests := []struct {
		name, file string
		data       func(t *testing.T) []byte
	}{
		{"bomb ratio", "a.tar.gz", func(t *testing.T) []byte {
			return archiveTar(t, true, archiveEnt{name: "ok.txt", body: "x"}, archiveEnt{name: "zeros", body: strings.Repeat("\x00", 24<<20)})
		}},
		{"declared tar size", "a.tar", func(t *testing.T) []byte {
			return archiveTar(t, false, archiveEnt{name: "ok.txt", body: "x"}, archiveEnt{name: "huge", size: archiveMaxBytes + 1})
		}},
		{"declared zip size", "a.zip", func(t *testing.T) []byte { return archiveZipRaw(t, "huge", "tiny", archiveMaxBytes+1) }},
		{"entries", "a.tar", func(t *testing.T) []byte {
			var ents []archiveEnt
			for i := range 12 {
				ents = append(ents, archiveEnt{name: "f" + strings.Repeat("x", i), body: "x"})
			}
			return archiveTar(t, false, ents...)
		}},
	}
	defer func(n int) { archiveMaxEntries = n }(archiveMaxEntries)
	archiveMaxEntries = 10
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := archiveEnv(t)
			archivePut(t, env, tc.file, tc.data(t))
			_, err := archiveExtractAdapter{}.Execute(bg, env, Input{"archive": tc.file, "destination": "dest"})
			archiveCode(t, err, warden.CodeTooLarge)
			if diff := cmp.Diff(map[string]string{".": "<dir>"}, archiveTree(t, filepath.Join(env.Dir, "dest"))); diff != "" {
				t.Errorf("wrote (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArchiveTimeout(t *testing.T) {
	env := archiveEnv(t)
	archivePut(t, env, "a.tar", archiveTar(t, false, archiveEnt{name: "f", body: "x"}))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err := archiveExtractAdapter{}.Execute(ctx, env, Input{"archive": "a.tar", "destination": "dest"})
	if err == nil || readFile(t, env, "dest/f") != "<missing>" {
		t.Errorf("a cancelled extraction: %v", err)
	}
}

func TestArchiveRefusedMidwayLeavesNothing(t *testing.T) {
	env := archiveEnv(t)
	writeFile(t, env, "dest/a.txt", "old a")
	before := archiveTree(t, env.Dir)
	archivePut(t, env, "a.tar", archiveTar(t, false, archiveEnt{name: "a.txt", body: "new a"}, archiveEnt{name: "d/b.txt", body: "b"}, archiveEnt{name: "d/c.txt", body: "c"}))
	before["a.tar"] = archiveTree(t, env.Dir)["a.tar"]
	// The policy lets d/c.txt through when the entries are checked, then
	// refuses it when the file is opened: as if a link had been swapped in
	// meanwhile. a.txt and d/b.txt are written by then.
	check, seen := env.Check, 0
	env.Check = func(ctx context.Context, tool string, in Input) error {
		if d, _ := in["destination"].(string); strings.HasSuffix(d, "/d/c.txt") {
			if seen++; seen > 1 {
				return warden.Errorf(warden.CodeDenied, "refused at execution: test")
			}
		}
		return check(ctx, tool, in)
	}
	out, err := archiveExtractAdapter{}.Execute(bg, env, Input{"archive": "a.tar", "destination": "dest"})
	archiveCode(t, err, warden.CodeDenied)
	if out != nil {
		t.Errorf("outcome = %+v", out)
	}
	if diff := cmp.Diff(before, archiveTree(t, env.Dir)); diff != "" {
		t.Errorf("a failed extraction left (-before +after):\n%s", diff)
	}
}
