package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wardenhq/warden/internal/warden"
)

// Objects is a content-addressed store of file contents: what an adapter
// saves before changing a file, so that a rollback can restore it byte for
// byte. Put is durable before it returns.
type Objects interface {
	// Put stores content and returns its address, "sha256:<hex>".
	Put(ctx context.Context, r io.Reader) (string, error)
	// Open returns the content at an address.
	Open(ctx context.Context, addr string) (io.ReadCloser, error)
}

// DirObjects keeps objects as files under a directory, one per address,
// written to a temporary file, synced and renamed into place.
type DirObjects struct{ dir string }

// NewDirObjects returns the object store in dir, creating it if needed.
func NewDirObjects(dir string) (*DirObjects, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	return &DirObjects{dir: dir}, nil
}

func (d *DirObjects) path(addr string) (string, error) {
	h, ok := strings.CutPrefix(addr, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", warden.Errorf(warden.CodeInvalidInput, "object address %q: want sha256:<64 hex digits>", addr)
	}
	return filepath.Join(d.dir, "sha256", h[:2], h[2:]), nil
}

// Put implements Objects.
func (d *DirObjects) Put(_ context.Context, r io.Reader) (string, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), "obj-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
		return "", err
	}
	addr := "sha256:" + hex.EncodeToString(h.Sum(nil))
	dst, _ := d.path(addr)
	if _, err := os.Stat(dst); err == nil {
		return addr, nil
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", err
	}
	return addr, syncDir(filepath.Dir(dst))
}

// Open implements Objects.
func (d *DirObjects) Open(_ context.Context, addr string) (io.ReadCloser, error) {
	p, err := d.path(addr)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, warden.Errorf(warden.CodeNotFound, "backup %s is missing from %s", addr, d.dir)
	}
	return f, err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// MemObjects keeps objects in memory, for tests and in-memory gateways.
type MemObjects struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemObjects returns an empty in-memory object store.
func NewMemObjects() *MemObjects { return &MemObjects{m: map[string][]byte{}} }

// Put implements Objects.
func (m *MemObjects) Put(_ context.Context, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	addr := "sha256:" + hex.EncodeToString(sum[:])
	m.mu.Lock()
	m.m[addr] = b
	m.mu.Unlock()
	return addr, nil
}

// Open implements Objects.
func (m *MemObjects) Open(_ context.Context, addr string) (io.ReadCloser, error) {
	m.mu.Lock()
	b, ok := m.m[addr]
	m.mu.Unlock()
	if !ok {
		return nil, warden.Errorf(warden.CodeNotFound, "backup %s is missing", addr)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
