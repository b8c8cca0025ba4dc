package fsserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/policy"
)

var bg = context.Background()

func TestMain(m *testing.M) {
	// The goldens were recorded with TZ=UTC; get_file_info prints local
	// times.
	time.Local = time.UTC
	os.Exit(m.Run())
}

// toolPolicy grants the reference server's tools by their own names, as a
// det-acp policy for the proxy does, and forbids .env files.
const toolPolicy = `version: "1.0"
name: fsserver-tools
capabilities:
  - {tool: read_file, scope: {paths: ["./**"]}}
  - {tool: read_text_file, scope: {paths: ["./**"]}}
  - {tool: read_media_file, scope: {paths: ["./**"]}}
  - {tool: read_multiple_files, scope: {paths: ["./**"]}}
  - {tool: write_file, scope: {paths: ["./**"]}}
  - {tool: edit_file, scope: {paths: ["./**"]}}
  - {tool: create_directory, scope: {paths: ["./**"]}}
  - {tool: list_directory, scope: {paths: ["./**"]}}
  - {tool: list_directory_with_sizes, scope: {paths: ["./**"]}}
  - {tool: directory_tree, scope: {paths: ["./**"]}}
  - {tool: move_file, scope: {paths: ["./**"]}}
  - {tool: search_files, scope: {paths: ["./**"]}}
  - {tool: get_file_info, scope: {paths: ["./**"]}}
  - {tool: list_allowed_directories, scope: {}}
  - {tool: run_command, scope: {binaries: [echo, cat, sh, ls, "false"]}}
forbidden:
  - {pattern: "**/.env"}
`

// kindPolicy grants the same by action kind, as a Warden policy does.
const kindPolicy = `version: "1.0"
name: fsserver-kinds
capabilities:
  - {tool: "file:read", scope: {paths: ["./**"]}}
  - {tool: "file:write", scope: {paths: ["./**"]}}
  - {tool: "file:move", scope: {paths: ["./**"]}}
  - {tool: "directory:list", scope: {paths: ["./**"]}}
  - {tool: "directory:create", scope: {paths: ["./**"]}}
  - {tool: "command:run", scope: {binaries: [echo, cat, sh, ls, "false"]}}
forbidden:
  - {pattern: "**/.env"}
`

// newEnv returns an Env over dir governed by the policy in YAML, with
// in-memory backups, as the gateway builds one.
func newEnv(t *testing.T, dir, policyYAML string) *executor.Env {
	t.Helper()
	p, err := policy.Parse([]byte(policyYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(p, engine.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	env, err := executor.NewEnv(dir, p, executor.NewMemObjects(), executor.PolicyCheck(e, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

// fixture is testdata/fixture.json: the project the goldens were
// recorded over.
type fixture struct {
	Files []struct {
		Path   string  `json:"path"`
		Text   *string `json:"text"`
		Base64 *string `json:"base64"`
	} `json:"files"`
	Dirs     []string `json:"dirs"`
	Symlinks []struct {
		Path   string `json:"path"`
		Target string `json:"target"`
	} `json:"symlinks"`
	Mtime time.Time `json:"mtime"`
}

// buildFixture lays testdata/fixture.json out in a new directory, with
// every file and directory's times set to the fixture's.
func buildFixture(t *testing.T) string {
	t.Helper()
	var fx fixture
	readJSON(t, "testdata/fixture.json", &fx)
	dir := t.TempDir()
	for _, d := range fx.Dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fx.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		if f.Base64 != nil {
			var err error
			if b, err = base64.StdEncoding.DecodeString(*f.Base64); err != nil {
				t.Fatal(err)
			}
		} else {
			b = []byte(*f.Text)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range fx.Symlinks {
		if err := os.Symlink(l.Target, filepath.Join(dir, filepath.FromSlash(l.Path))); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir && d.Type()&os.ModeSymlink == 0 {
			all = append(all, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(all) - 1; i >= 0; i-- {
		if err := os.Chtimes(all[i], fx.Mtime, fx.Mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// run runs one call of a built-in tool in env.
func run(t *testing.T, env *executor.Env, tool string, args map[string]any) (*executor.Outcome, error) {
	t.Helper()
	rf, err := Runner(tool, args)
	if err != nil {
		return nil, err
	}
	return rf(bg, env)
}

// mustRun is run that fails the test on an error.
func mustRun(t *testing.T, env *executor.Env, tool string, args map[string]any) *executor.Outcome {
	t.Helper()
	out, err := run(t, env, tool, args)
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return out
}

// resultText is the text of a result's content blocks, joined by newlines.
func resultText(t *testing.T, out *executor.Outcome) string {
	t.Helper()
	res, ok := out.Output.(*mcp.CallToolResult)
	if !ok {
		t.Fatalf("output is %T, not *mcp.CallToolResult", out.Output)
	}
	var parts []string
	for _, c := range res.Content {
		tc, ok := c.(*mcp.TextContent)
		if !ok {
			t.Fatalf("content is %T, not text", c)
		}
		parts = append(parts, tc.Text)
	}
	return strings.Join(parts, "\n")
}

// readFile reads rel under dir; a missing file reads as "<missing>".
func readFile(t *testing.T, dir, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// putFile writes content to rel under dir, creating parents.
func putFile(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
