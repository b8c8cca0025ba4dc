package httpapi_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/httpapi"
)

const execPolicy = `name: exec
capabilities:
  - tool: file:write
    scope: {paths: ["src/**"]}
  - tool: file:read
    scope: {paths: ["src/**"]}
forbidden:
  - {pattern: "**/.env"}
`

// execEnv is a server that executes for sessions under root, with the
// execution policy in its policy directory.
func execEnv(t *testing.T) (*env, string) {
	t.Helper()
	root, policies := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "src"), 0o755)
	os.WriteFile(filepath.Join(policies, "exec.yaml"), []byte(execPolicy), 0o644)
	e := newEnv(t, func(c *httpapi.Config) { c.ExecRoot, c.PolicyDir = root, policies })
	return e, root
}

func TestExecuteAndRollback(t *testing.T) {
	e, root := execEnv(t)
	s := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(),
		body: map[string]any{"policy_path": "exec.yaml", "root": root}})
	sid := str(s, "data", "id")
	path := "/v1/sessions/" + sid

	plan := e.must(200, request{method: "POST", path: path + "/execute", token: e.agent(),
		body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "src/a.txt", "content": "hello"}, "dry_run": true}})
	if str(plan, "data", "plan", "wouldDo") == "" || get(plan, "data", "executed") != false {
		t.Fatalf("dry run: %v", plan)
	}
	if _, err := os.Stat(filepath.Join(root, "src/a.txt")); err == nil {
		t.Fatal("a dry run wrote the file")
	}

	x := e.must(200, request{method: "POST", path: path + "/execute", token: e.agent(),
		body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "src/a.txt", "content": "hello"}}})
	if get(x, "data", "executed") != true || get(x, "data", "result", "success") != true {
		t.Fatalf("execute: %v", x)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "src/a.txt")); string(b) != "hello" {
		t.Fatalf("file = %q", b)
	}
	denied := e.must(200, request{method: "POST", path: path + "/execute", token: e.agent(),
		body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "src/.env", "content": "x"}}})
	if get(denied, "data", "executed") != false || str(denied, "data", "decision") != "deny" {
		t.Fatalf("denied: %v", denied)
	}
	if _, err := os.Stat(filepath.Join(root, "src/.env")); err == nil {
		t.Fatal("a denied write happened")
	}

	// Another agent cannot see the session, let alone roll it back.
	other := e.send(request{method: "POST", path: path + "/rollback", token: e.agent2(), body: map[string]any{}})
	if other.status != 404 {
		t.Fatalf("other agent: %d %s", other.status, other.raw)
	}
	rep := e.must(200, request{method: "POST", path: path + "/rollback", token: e.alice(), body: map[string]any{}})
	got := map[string]any{"rolledBack": get(rep, "data", "rolledBack"), "failed": get(rep, "data", "failed"), "status": get(rep, "data", "steps", 0, "status")}
	if diff := cmp.Diff(map[string]any{"rolledBack": 1.0, "failed": 0.0, "status": "rolled_back"}, got); diff != "" {
		t.Fatalf("rollback (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(root, "src/a.txt")); !os.IsNotExist(err) {
		t.Fatal("the created file survived the rollback")
	}
}

func TestExecuteRefused(t *testing.T) {
	e, root := execEnv(t)
	outside := t.TempDir()
	inline := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(),
		body: map[string]any{"policy": execPolicy, "root": root}})
	byAdmin := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.admin(),
		body: map[string]any{"policy": execPolicy, "root": root}})
	away := e.must(201, request{method: "POST", path: "/v1/sessions", token: e.agent(),
		body: map[string]any{"policy_path": "exec.yaml", "root": outside}})
	write := map[string]any{"tool": "file:write", "input": map[string]any{"path": "src/b.txt", "content": "x"}}
	for _, c := range []struct {
		name, sid, token string
		status           int
		code             string
	}{
		{"an agent's own policy", str(inline, "data", "id"), e.agent(), 403, "FORBIDDEN"},
		{"a root outside the execution root", str(away, "data", "id"), e.agent(), 403, "FORBIDDEN"},
		{"an approver cannot execute", str(byAdmin, "data", "id"), e.alice(), 403, "FORBIDDEN"},
		{"an unknown session", "nope", e.agent(), 404, "NOT_FOUND"},
	} {
		res := e.send(request{method: "POST", path: "/v1/sessions/" + c.sid + "/execute", token: c.token, body: write})
		if res.status != c.status || codeOf(res) != c.code {
			t.Errorf("%s: %d %s", c.name, res.status, res.raw)
		}
	}
	res := e.send(request{method: "POST", path: "/v1/sessions/" + str(byAdmin, "data", "id") + "/execute", token: e.admin(), body: write})
	if res.status != 200 || get(res.json, "data", "executed") != true {
		t.Fatalf("an admin's session: %d %s", res.status, res.raw)
	}
	// Without --exec-root the server executes nothing.
	plain := newEnv(t)
	s := plain.must(201, request{method: "POST", path: "/v1/sessions", token: plain.admin(), body: map[string]any{"policy": execPolicy, "root": root}})
	res = plain.send(request{method: "POST", path: "/v1/sessions/" + str(s, "data", "id") + "/execute", token: plain.admin(), body: write})
	if res.status != 403 || codeOf(res) != "FORBIDDEN" {
		t.Fatalf("no exec root: %d %s", res.status, res.raw)
	}
}
