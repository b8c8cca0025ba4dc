package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/planexec"
)

// decisionServer is an httptest server over the instance at db, whose
// plans run under policy in the current directory, with tokens for an
// agent (dev), two approvers (alice, bob) and an admin.
func decisionServer(t *testing.T, db, policy string) (url string, tokens map[string]string) {
	t.Helper()
	ctx := context.Background()
	in, err := instance.Open(ctx, db, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	root, _ := os.Getwd()
	if err := in.Plans.SetTarget("", planexec.Target{Policy: []byte(policy), PolicyName: "policy", Root: root}); err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{Gateway: in.Gateway, Tokens: in.Tokens, Decisions: in.Decisions, Ledger: in.Ledger,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tokens = map[string]string{}
	for name, role := range map[string]auth.Role{"dev": auth.RoleAgent, "alice": auth.RoleApprover, "bob": auth.RoleApprover, "root": auth.RoleAdmin} {
		secret, _, err := auth.Issue(ctx, in.Tokens, name, role, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = secret
	}
	return srv.URL, tokens
}

// The decision and template commands with --server: the whole flow as the
// tokens' identities, the same output as the same command on the server's
// database, and the server's errors with exit 1.
func TestDecisionServerFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("WARDEN_TOKEN", "")
	db := filepath.Join(dir, "w.db")
	base, tok := decisionServer(t, db, "name: deploys\ncapabilities:\n  - {tool: file:write, scope: {paths: [\"./out/**\"]}}\n")
	remote := func(who string, args ...string) []string {
		return append(args, "--server", base, "--token", tok[who])
	}
	must := func(want string, args ...string) string {
		t.Helper()
		out, code := run(t, args...)
		if code != ExitOK || !strings.Contains(out, want) {
			t.Fatalf("warden %s: exit %d, want 0 and %q in\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}
	fails := func(exit int, want string, args ...string) {
		t.Helper()
		out, code := run(t, args...)
		if code != exit || !strings.Contains(out, want) {
			t.Errorf("warden %s: exit %d, want %d and %q in\n%s", strings.Join(args, " "), code, exit, want, out)
		}
	}

	os.WriteFile("plan.json", []byte(`[{"tool": "file:write", "input": {"path": "out/v2.txt", "content": "v2", "createDirs": true}}]`), 0o644)
	os.WriteFile("prod.json", []byte(`{"description": "production", "min_approvals": 2, "allowed_modes": ["dry_run", "apply"], "labels": ["env=prod"]}`), 0o644)
	must("Created template prod (sha256:", remote("root", "template", "create", "--name", "prod", "--file", "prod.json")...)
	fails(ExitFailure, "needs an admin token", remote("dev", "template", "create", "--name", "x")...)
	fails(ExitFailure, `template "prod" already exists`, remote("root", "template", "create", "--name", "prod", "--file", "prod.json")...)

	var st struct {
		ID        string `json:"decision_id"`
		Requester struct{ Type, ID string }
		State     string
	}
	out := must(`"decision_id"`, remote("dev", "decision", "request", "--goal", "deploy v2", "--template", "prod", "--mode", "apply", "--plan", "plan.json", "--expires", "1h", "--json")...)
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Requester.ID != "dev" || st.Requester.Type != "system" || st.State != "pending_approval" {
		t.Fatalf("request --json: %v %+v\n%s", err, st, out)
	}
	id := st.ID

	fails(ExitFailure, "needs an approver or admin token", remote("dev", "decision", "approve", id)...)
	fails(ExitFailure, "0 of the 2 required approvals", remote("dev", "decision", "execute", id)...)
	must("Recorded your approval of "+id+": 1 of 2 approvals.", remote("alice", "decision", "approve", id, "--comment", "ok")...)
	fails(ExitFailure, "alice has already approved", remote("alice", "decision", "approve", id)...)
	must("Revoked the approval of "+id+": 0 of 2 approvals.", remote("alice", "decision", "revoke", id, "--reason", "re-check")...)
	fails(ExitFailure, "bob has not approved", remote("bob", "decision", "revoke", id)...)
	must("1 of 2", remote("alice", "decision", "approve", id)...)
	must("Approved "+id+": 2 of 2 approvals.", remote("bob", "decision", "approve", id, "--expires", "30m")...)
	fails(ExitFailure, `decision "nope" not found`, remote("root", "decision", "show", "nope")...)
	fails(ExitUsage, "--policy works on the local database only", remote("dev", "decision", "execute", id, "--policy", "p.yaml")...)
	must("Executed "+id+" (apply): run ", remote("dev", "decision", "execute", id)...)
	if b, err := os.ReadFile("out/v2.txt"); err != nil || string(b) != "v2" {
		t.Errorf("the plan did not run: %q %v", b, err)
	}
	fails(ExitFailure, "executes at most once", remote("dev", "decision", "execute", id)...)

	// same runs a command locally, on the server's database, and with
	// --server, and checks that both print the same.
	same := func(want string, args ...string) {
		t.Helper()
		local := must(want, append(args, "--db", db)...)
		served := must(want, remote("root", args...)...)
		if d := cmp.Diff(local, served); d != "" {
			t.Errorf("warden %s (-local +server):\n%s", strings.Join(args, " "), d)
		}
	}
	same(", ok, 1 step", "decision", "show", id)
	same(`"state": "completed"`, "decision", "show", id, "--json")
	same(`"verified": true`, "decision", "inspect", id, "--json", "--events")
	same("# Decision "+id, "decision", "inspect", id)
	same(id+"  completed", "decision", "list")
	same(`"decisions": [`, "decision", "list", "--label", "env=prod", "--json")
	same("Template     prod", "template", "get", "prod")
	same(`"digest": "sha256:`, "template", "list", "--label", "env=prod", "--json")
	same("No templates.", "template", "list", "--label", "env=PROD")

	// An agent sees only its own decisions.
	must("No decisions.", remote("dev", "decision", "list", "--requester", "alice")...)

	// Reject, with a reason, as an approver.
	out = must(`"decision_id"`, remote("dev", "decision", "request", "--goal", "second", "--json")...)
	json.Unmarshal([]byte(out), &st)
	must("Rejected "+st.ID+": no", remote("alice", "decision", "reject", st.ID, "--reason", "no")...)
	same(st.ID+"  rejected", "decision", "list", "--state", "rejected")

	// Tokens and flags.
	fails(ExitUsage, "--server needs a token", "decision", "list", "--server", base)
	fails(ExitFailure, "invalid token", "decision", "list", "--server", base, "--token", "wdn_"+strings.Repeat("A", 32))
	t.Setenv("WARDEN_TOKEN", tok["alice"])
	must("rejected", "decision", "list", "--server", base)
}
