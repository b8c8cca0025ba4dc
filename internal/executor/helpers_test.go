package executor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/policy"
)

// newTestEnv returns an Env over a fresh project root, governed by the
// policy in YAML, with in-memory objects. The root is in env.Dir.
func newTestEnv(t *testing.T, policyYAML string) *Env {
	t.Helper()
	return newTestEnvAt(t, t.TempDir(), policyYAML)
}

// newTestEnvAt is newTestEnv over an existing directory.
func newTestEnvAt(t *testing.T, dir, policyYAML string) *Env {
	t.Helper()
	p, err := policy.Parse([]byte(policyYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(p, engine.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnv(dir, p, NewMemObjects(), PolicyCheck(e, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

// writeFile writes content to rel under the env's root, creating parents.
func writeFile(t *testing.T, env *Env, rel, content string) {
	t.Helper()
	p := filepath.Join(env.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFile reads rel under the env's root; a missing file reads as "<missing>".
func readFile(t *testing.T, env *Env, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Dir, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var bg = context.Background()
