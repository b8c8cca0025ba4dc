package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/ledger"
)

// TestServerFlag runs report, token and ledger against a warden serve
// process with --server, and compares each output with that of the same
// command on the server's database: they must be identical, in text and
// in JSON.
func TestServerFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("WARDEN_TOKEN", "")
	addr, admin, _ := startServer(t, dir)
	base := "http://" + addr
	remote := func(token string, args ...string) []string {
		return append(args, "--server", base, "--token", token)
	}
	lastLine := func(s string) string {
		s = strings.TrimSpace(s)
		return s[strings.LastIndex(s, "\n")+1:]
	}

	// Tokens created through the server work at once.
	text, code := run(t, remote(admin, "token", "create", "--name", "bob", "--role", "approver", "--group", "release")...)
	if code != ExitOK || !strings.Contains(text, "for bob (approver). Its secret, shown only now:") {
		t.Fatalf("token create --server: %d\n%s", code, text)
	}
	bob := lastLine(text)
	text, code = run(t, remote(admin, "token", "create", "--name", "carol", "--role", "agent", "--json")...)
	var carol issuedToken
	if err := json.Unmarshal([]byte(text), &carol); code != ExitOK || err != nil || !strings.HasPrefix(carol.Secret, auth.SecretPrefix) ||
		carol.Token.Name != "carol" || carol.Token.Role != auth.RoleAgent || carol.Token.Revoked {
		t.Fatalf("token create --server --json: %d %v\n%s", code, err, text)
	}

	// A session with an allowed, a denied, an approved and a recorded action.
	policy := "name: remote\ncapabilities:\n  - {tool: file:read, scope: {paths: [\"./src/**\"]}}\n  - {tool: file:delete, scope: {paths: [\"./src/**\"]}}\n" +
		"gates: [{action: file:delete, approval: human}]\nforbidden: [{pattern: \"**/.env\"}]\n"
	m, err := postJSON(http.DefaultClient, base+"/v1/sessions", carol.Secret, map[string]any{"policy": policy})
	if err != nil {
		t.Fatal(err)
	}
	sid := m["data"].(map[string]any)["id"].(string)
	evaluate := func(tool, path string) map[string]any {
		t.Helper()
		m, err := postJSON(http.DefaultClient, base+"/v1/sessions/"+sid+"/evaluate", carol.Secret, map[string]any{"tool": tool, "input": map[string]any{"path": path}})
		if err != nil {
			t.Fatal(err)
		}
		return m["data"].(map[string]any)
	}
	read := evaluate("file:read", "src/a.ts")
	evaluate("file:read", ".env")
	gated := evaluate("file:delete", "src/old.ts")
	if text, code := run(t, remote(bob, "approve", gated["approvalId"].(string))...); code != ExitOK || !strings.Contains(text, "Approved") {
		t.Fatalf("approve with a token made through the server: %d\n%s", code, text)
	}
	if r := evaluate("file:delete", "src/old.ts"); r["decision"] != "allow" {
		t.Fatalf("retried after approval: %v", r)
	}
	if _, err := postJSON(http.DefaultClient, base+"/v1/sessions/"+sid+"/record", carol.Secret, map[string]any{"action_id": read["actionId"], "result": map[string]any{"success": true}}); err != nil {
		t.Fatal(err)
	}

	// same runs a command locally and against the server, and checks that
	// both succeed with identical output containing want.
	same := func(want string, args ...string) string {
		t.Helper()
		local, lcode := run(t, args...)
		served, rcode := run(t, remote(admin, args...)...)
		if lcode != ExitOK || rcode != ExitOK {
			t.Fatalf("warden %s: exit %d locally, %d with --server\n%s\n%s", strings.Join(args, " "), lcode, rcode, local, served)
		}
		if d := cmp.Diff(local, served); d != "" {
			t.Errorf("warden %s (-local +server):\n%s", strings.Join(args, " "), d)
		}
		if !strings.Contains(local, want) {
			t.Errorf("warden %s: no %q in\n%s", strings.Join(args, " "), want, local)
		}
		return served
	}
	// The ledger counts the approved retry as gated, then a gate:used entry.
	same("actions evaluated 4: allowed 2, denied 1, gated 1", "report", "--session", sid)
	same(`"gatesApproved": 1`, "report", "--session", sid, "--json")
	same("carol", "token", "list")
	same(`"name": "bob"`, "token", "list", "--json")
	same("warden\n", "ledger", "checkpoint")
	same(`"verifierKey": "warden+`, "ledger", "checkpoint", "--json")
	same(`"proof": [`, "ledger", "prove", "--index", "0")
	same(`"size": 3`, "ledger", "prove", "--index", "2", "--size", "3")
	same("session "+sid+": VALID warden-export, session "+sid, "ledger", "verify", "--session", sid)
	same(`"Valid": true`, "verify", "--session", sid, "--json")
	export := same(`{"warden":{"version":1,"sessionId":"`+sid+`"`, "ledger", "export", "--session", sid)

	// Exported to a file from the server: the same bytes as the local
	// export, and warden verify accepts it.
	if text, code := run(t, remote(admin, "ledger", "export", "--session", sid, "-o", "served.jsonl")...); code != ExitOK || !strings.Contains(text, "Wrote served.jsonl") {
		t.Fatalf("ledger export --server -o: %d\n%s", code, text)
	}
	if text, code := run(t, "ledger", "export", "--session", sid, "-o", "local.jsonl"); code != ExitOK {
		t.Fatalf("ledger export -o: %d\n%s", code, text)
	}
	served, _ := os.ReadFile("served.jsonl")
	local, _ := os.ReadFile("local.jsonl")
	if !bytes.Equal(served, local) || string(served) != export {
		t.Fatalf("the server's export differs from the local one:\n%s", cmp.Diff(string(local), string(served)))
	}
	if text, code := run(t, "verify", "served.jsonl"); code != ExitOK || !strings.Contains(text, "VALID warden-export, session "+sid+", 10 entries") {
		t.Fatalf("verify the served export: %d\n%s", code, text)
	}

	// Elsewhere, without the instance's key, the server's key is trusted
	// with --server, and --key still overrides it.
	servedPath, _ := filepath.Abs("served.jsonl")
	t.Chdir(t.TempDir())
	if text, code := run(t, "verify", servedPath); code != ExitFailure || !strings.Contains(text, "no trusted key") {
		t.Fatalf("verify without a key: %d\n%s", code, text)
	}
	if text, code := run(t, remote(admin, "verify", servedPath)...); code != ExitOK || !strings.Contains(text, "VALID") {
		t.Fatalf("verify with the server's key: %d\n%s", code, text)
	}
	_, _, other, err := ledger.GenerateSigner("other")
	if err != nil {
		t.Fatal(err)
	}
	if text, code := run(t, remote(admin, "ledger", "verify", "--session", sid, "--key", other)...); code != ExitFailure || !strings.Contains(text, "FAIL") {
		t.Fatalf("verify --key with --server: %d\n%s", code, text)
	}
	// $WARDEN_TOKEN stands for --token.
	t.Setenv("WARDEN_TOKEN", admin)
	if text, code := run(t, "ledger", "verify", "--session", sid, "--server", base); code != ExitOK || !strings.Contains(text, "VALID") {
		t.Fatalf("ledger verify with $WARDEN_TOKEN: %d\n%s", code, text)
	}
	t.Setenv("WARDEN_TOKEN", "")
	t.Chdir(dir)

	// Revoking through the server: the token stops working at once.
	if text, code := run(t, remote(admin, "token", "revoke", carol.Token.ID)...); code != ExitOK || text != "Revoked "+carol.Token.ID+".\n" {
		t.Fatalf("token revoke --server: %d\n%s", code, text)
	}
	if text, code := run(t, remote(carol.Secret, "report", "--session", sid)...); code != ExitFailure || !strings.Contains(text, "revoked") {
		t.Fatalf("a revoked token: %d\n%s", code, text)
	}
	text = same(`"revoked": true`, "token", "list", "--json")
	var tokens []auth.Token
	if err := json.Unmarshal([]byte(text), &tokens); err != nil || len(tokens) != 3 {
		t.Fatalf("token list: %v\n%s", err, text)
	}
	// A token made locally, revoked through the server.
	text, code = run(t, "token", "create", "--name", "dave", "--role", "agent", "--json")
	var dave issuedToken
	if err := json.Unmarshal([]byte(text), &dave); code != ExitOK || err != nil {
		t.Fatalf("token create --json: %d %v\n%s", code, err, text)
	}
	text, code = run(t, remote(admin, "token", "revoke", dave.Token.ID, "--json")...)
	var revoked auth.Token
	if err := json.Unmarshal([]byte(text), &revoked); code != ExitOK || err != nil || revoked.ID != dave.Token.ID || revoked.Name != "dave" || !revoked.Revoked {
		t.Fatalf("token revoke --server --json: %d %v\n%s", code, err, text)
	}
	same(`"name": "dave"`, "token", "list", "--json")

	// Failures: the server's refusals, and the command line's own checks,
	// which come first.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{remote(bob, "token", "list"), ExitFailure, "bob (approver) may not do this; it needs an admin token"},
		{remote(bob, "token", "create", "--name", "x", "--role", "agent"), ExitFailure, "needs an admin token"},
		{remote(bob, "token", "revoke", tokens[0].ID), ExitFailure, "needs an admin token"},
		{remote(admin, "token", "revoke", "tok_nope"), ExitFailure, `token "tok_nope" not found`},
		{remote(admin, "token", "create", "--name", " x", "--role", "agent"), ExitFailure, "name"},
		{remote(admin, "token", "create", "--name", "x", "--role", "root"), ExitUsage, `--role "root"`},
		{remote(admin, "token", "create", "--role", "agent"), ExitUsage, "--name is required"},
		{remote(admin, "report", "--session", "nope"), ExitFailure, "not found"},
		{remote(admin, "report", "served.jsonl"), ExitUsage, "--session"},
		{remote(admin, "ledger", "prove", "--index", "99"), ExitFailure, "outside the tree"},
		{remote(admin, "ledger", "export", "--session", "nope", "-o", "nope.jsonl"), ExitFailure, "not found"},
		{remote(admin, "ledger", "verify", "--session", "nope"), ExitFailure, "not found"},
		{remote(admin, "ledger", "verify", "served.jsonl", "--session", sid), ExitUsage, "either"},
		{remote("wdn_not-a-token", "ledger", "checkpoint"), ExitFailure, "invalid token"},
		{[]string{"token", "list", "--server", base}, ExitUsage, "--server needs a token"},
	} {
		text, code := run(t, tc.args...)
		if code != tc.code || !strings.Contains(text, tc.want) {
			t.Errorf("warden %s: exit %d, want %d with %q\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, text)
		}
	}
	if _, err := os.Stat("nope.jsonl"); !os.IsNotExist(err) {
		t.Errorf("a failed export left its file: %v", err)
	}
}
