package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syncWriter hands a goroutine's output for the test to read.
type syncWriter struct{ lines chan string }

func (w syncWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		w.lines <- sc.Text()
	}
	return len(p), nil
}

// TestServeEndToEnd runs warden serve on SQLite and drives it as a user
// would: tokens, a gated action over HTTP, approval from the command line
// against the same database, the retried call allowed, shutdown.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("policy.yaml", []byte(`
name: e2e
capabilities:
  - tool: file:read
    scope: {paths: ["./src/**"]}
  - tool: file:delete
    scope: {paths: ["./src/**"]}
gates:
  - action: file:delete
    approval: human
    risk_level: high
forbidden:
  - pattern: "**/.env"
`), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	out := syncWriter{lines: make(chan string, 100)}
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, Streams{In: strings.NewReader(""), Out: out, Err: io.Discard})
	}()
	var base string
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for base == "" {
		select {
		case line := <-out.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				base = m[1]
			}
		case code := <-exited:
			t.Fatalf("serve exited with %d before listening", code)
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not start")
		}
	}
	admin, err := os.ReadFile(filepath.Join(".warden", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(".warden", "admin.token")); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token mode %v, want 0600", fi.Mode().Perm())
	}

	// An agent token, created from the command line while the server runs.
	text, code := run(t, "token", "create", "--name", "agent-7", "--role", "agent")
	if code != ExitOK {
		t.Fatalf("token create: %d %s", code, text)
	}
	agent := strings.TrimSpace(text[strings.LastIndex(strings.TrimSpace(text), "\n")+1:])

	call := func(token, method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return m
	}
	policy, _ := os.ReadFile("policy.yaml")
	created := call(agent, "POST", "/sessions", map[string]any{"policy": string(policy), "metadata": map[string]any{"agent": "e2e"}})
	sid, _ := created["sessionId"].(string)
	if sid == "" {
		t.Fatalf("create session: %v", created)
	}
	evaluate := func(tool, path string) map[string]any {
		return call(agent, "POST", "/sessions/"+sid+"/evaluate", map[string]any{"action": map[string]any{"tool": tool, "input": map[string]any{"path": path}}})
	}
	if r := evaluate("file:read", "src/../.env"); r["decision"] != "deny" {
		t.Fatalf("forbidden read: %v", r)
	}
	gated := evaluate("file:delete", "src/old.ts")
	if gated["decision"] != "gate" || gated["approvalId"] == nil {
		t.Fatalf("gated delete: %v", gated)
	}
	// The agent cannot approve its own action.
	if r := call(agent, "POST", "/v1/approvals/"+gated["approvalId"].(string)+"/approve", map[string]any{}); r["ok"] != false {
		t.Fatalf("agent approved: %v", r)
	}

	text, code = run(t, "pending")
	if code != ExitOK || !strings.Contains(text, gated["approvalId"].(string)) || !strings.Contains(text, "file:delete") {
		t.Fatalf("pending: %d\n%s", code, text)
	}
	text, code = run(t, "approve", gated["approvalId"].(string), "--as", "alice", "--comment", "old file")
	if code != ExitOK || !strings.Contains(text, "Approved") {
		t.Fatalf("approve: %d\n%s", code, text)
	}
	if r := evaluate("file:delete", "src/old.ts"); r["decision"] != "allow" {
		t.Fatalf("retried after approval: %v", r)
	}
	if r := evaluate("file:delete", "src/old.ts"); r["decision"] != "gate" {
		t.Fatalf("an approval is used once: %v", r)
	}
	// The same, against the server: an approver token, --server.
	text, code = run(t, "token", "create", "--name", "bob", "--role", "approver")
	if code != ExitOK {
		t.Fatalf("token create: %d %s", code, text)
	}
	bob := strings.TrimSpace(text[strings.LastIndex(strings.TrimSpace(text), "\n")+1:])
	gated2 := evaluate("file:delete", "src/older.ts")
	id2, _ := gated2["approvalId"].(string)
	text, code = run(t, "pending", "--server", base, "--token", bob)
	if code != ExitOK || !strings.Contains(text, id2) {
		t.Fatalf("pending --server: %d\n%s", code, text)
	}
	if text, code := run(t, "approve", id2, "--server", base, "--token", "wdn_not-a-token"); code != ExitFailure || !strings.Contains(text, "UNAUTHORIZED") && !strings.Contains(strings.ToLower(text), "token") {
		t.Fatalf("a bad token: %d\n%s", code, text)
	}
	if text, code := run(t, "approve", id2, "--server", base, "--token", bob); code != ExitOK || !strings.Contains(text, "Approved") {
		t.Fatalf("approve --server: %d\n%s", code, text)
	}
	if r := evaluate("file:delete", "src/older.ts"); r["decision"] != "allow" {
		t.Fatalf("approved through the server: %v", r)
	}

	rep := call(string(admin), "GET", "/v1/sessions/"+sid+"/report", nil)
	data, _ := rep["data"].(map[string]any)
	if data == nil || data["approved"] != float64(2) || data["denied"] != float64(1) || data["gated"] != float64(3) {
		t.Fatalf("report: %v", rep)
	}

	// The session's ledger: exported from the live database, verified with
	// the instance's key, summarised.
	if text, code := run(t, "ledger", "export", "--session", sid, "-o", "session.jsonl"); code != ExitOK {
		t.Fatalf("ledger export: %d\n%s", code, text)
	}
	text, code = run(t, "verify", "session.jsonl")
	if code != ExitOK || !strings.Contains(text, "VALID warden-export, session "+sid) {
		t.Fatalf("verify: %d\n%s", code, text)
	}
	text, code = run(t, "report", "--session", sid)
	if code != ExitOK || !strings.Contains(text, "actions evaluated 6") || !strings.Contains(text, "gates requested 3") {
		t.Fatalf("report: %d\n%s", code, text)
	}
	if text, code := run(t, "ledger", "checkpoint"); code != ExitOK || !strings.Contains(text, "warden") {
		t.Fatalf("checkpoint: %d\n%s", code, text)
	}
	if text, code := run(t, "ledger", "prove", "--index", "0"); code != ExitOK || !strings.Contains(text, `"proof"`) {
		t.Fatalf("prove: %d\n%s", code, text)
	}

	cancel()
	select {
	case code := <-exited:
		if code != ExitOK {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeRefusesNoAuthOffLoopback(t *testing.T) {
	t.Chdir(t.TempDir())
	out, code := run(t, "serve", "--no-auth", "--addr", "0.0.0.0:0")
	if code != ExitUsage || !strings.Contains(out, "--no-auth is refused") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
