package nodeclient

import (
	"os"
	"path/filepath"
	"testing"
)

// The harness itself, against the reference filesystem server alone.
func TestReferenceServer(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Start(t, dir, nil, "node", filepath.Join(Package("@modelcontextprotocol/server-filesystem"), "dist", "index.js"), dir)
	r, err := c.Call("read_text_file", map[string]any{"path": filepath.Join(dir, "a.txt")})
	if err != nil || r.IsError || r.Text() != "hello\n" {
		t.Fatalf("read: %+v %v", r, err)
	}
	r, err = c.Call("read_text_file", map[string]any{"path": "/etc/passwd"})
	if err != nil || !r.IsError {
		t.Fatalf("outside the allowed directory: %+v %v", r, err)
	}
}
