package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// noteAdapter is a user-defined executor, "note:set": it writes text to a
// file, snapshotting first, and fails while fails > 0.
type noteAdapter struct {
	runs  int
	fails int
}

func (*noteAdapter) Kind() string { return "note:set" }

func (*noteAdapter) Validate(in executor.Input) error {
	if err := executor.Known(in, "path", "text"); err != nil {
		return err
	}
	_, err := executor.String(in, "path", true)
	return err
}

func (*noteAdapter) DryRun(_ context.Context, env *executor.Env, in executor.Input) (*executor.Plan, error) {
	rel, err := env.Rel(in["path"].(string))
	if err != nil {
		return nil, err
	}
	return &executor.Plan{WouldDo: "Set note " + rel, Changes: []string{rel}}, nil
}

func (n *noteAdapter) Execute(ctx context.Context, env *executor.Env, in executor.Input) (*executor.Outcome, error) {
	n.runs++
	if n.fails > 0 {
		n.fails--
		return nil, errors.New("temporary failure: disk busy")
	}
	rel, err := env.Rel(in["path"].(string))
	if err != nil {
		return nil, err
	}
	st, err := env.Snapshot(ctx, rel)
	if err != nil {
		return nil, err
	}
	undo, _ := json.Marshal([]executor.FileState{st})
	f, _, err := env.OpenChecked(ctx, "note:set", in, "path", rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	text, _ := in["text"].(string)
	_, err = f.WriteString(text)
	f.Close()
	return &executor.Outcome{Output: map[string]any{"path": rel}, FilesChanged: []string{rel}, Undo: undo,
		Artifacts: executor.ChangeEvidence(rel, nil, []byte(text), st.Exists, true)}, err
}

func (*noteAdapter) Rollback(ctx context.Context, env *executor.Env, undo json.RawMessage) error {
	var sts []executor.FileState
	if err := json.Unmarshal(undo, &sts); err != nil {
		return err
	}
	for i := len(sts) - 1; i >= 0; i-- {
		if err := env.Restore(ctx, sts[i]); err != nil {
			return err
		}
	}
	return nil
}

const notePolicy = `
name: notes
capabilities:
  - tool: note:set
    scope: {paths: ["notes/**"]}
gates:
  - {action: note:set, approval: human, when: 'input.path.endsWith(".lock")'}
forbidden:
  - {path: "**/.env"}
limits: {max_retries: 2}
evidence: {require: [checksums, diffs]}
remediation:
  rules:
    - {match: "temporary failure", action: retry}
`

func newExecGateway(t *testing.T, ad executor.Adapter) (*Gateway, *MemStore, *Session) {
	t.Helper()
	reg, err := executor.NewRegistry(ad)
	if err != nil {
		t.Fatal(err)
	}
	ms := NewMemStore()
	g := New(Config{Store: ms, Executors: reg})
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := g.CreateSession(context.Background(), CreateRequest{Policy: []byte(notePolicy), Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return g, ms, s
}

func note(path, text string) warden.Action {
	return warden.Action{Tool: "note:set", Input: map[string]any{"path": path, "text": text}}
}

func TestExecuteGovernsUserAdapters(t *testing.T) {
	ctx := context.Background()
	ad := &noteAdapter{}
	g, ms, s := newExecGateway(t, ad)

	x, err := g.Execute(ctx, s.ID, note("notes/a.txt", "one"), ExecuteOptions{})
	if err != nil || !x.Executed || !x.Result.Success {
		t.Fatalf("allowed: %+v, %v", x, err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Root, "notes/a.txt")); string(got) != "one" {
		t.Fatalf("file = %q", got)
	}
	for _, a := range []warden.Action{note("notes/.env", "x"), note("../outside", "x"), note("src/a.txt", "x")} {
		x, err := g.Execute(ctx, s.ID, a, ExecuteOptions{})
		if err != nil || x.Executed || x.Decision != warden.Deny {
			t.Fatalf("%v: %+v, %v", a.Input, x, err)
		}
	}
	if ad.runs != 1 {
		t.Fatalf("adapter ran %d times, want 1: denied actions must never reach it", ad.runs)
	}

	// A gated call is not run; once approved, the identical call runs once.
	x, err = g.Execute(ctx, s.ID, note("notes/b.lock", "held"), ExecuteOptions{Actor: "agent"})
	if err != nil || x.Executed || x.Decision != warden.Gate || x.ApprovalID == "" {
		t.Fatalf("gated: %+v, %v", x, err)
	}
	if _, err := g.Approve(ctx, x.ApprovalID, Approver{ID: "alice"}, ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	x, err = g.Execute(ctx, s.ID, note("notes/b.lock", "held"), ExecuteOptions{Actor: "agent"})
	if err != nil || !x.Executed || x.Decision != warden.Allow {
		t.Fatalf("approved: %+v, %v", x, err)
	}
	x, _ = g.Execute(ctx, s.ID, note("notes/b.lock", "held"), ExecuteOptions{Actor: "agent"})
	if x.Executed {
		t.Fatal("a single-use approval ran twice")
	}

	// Required evidence lands in the ledger with the result.
	var evidence []Artifact
	for _, e := range ms.Ledger() {
		if m, ok := e.Data.(map[string]any); ok && e.Type == "action:result" && evidence == nil {
			evidence, _ = m["evidence"].([]Artifact)
		}
	}
	if len(evidence) != 2 || evidence[0].Type != "checksum" || evidence[1].Type != "diff" {
		t.Fatalf("ledger evidence = %+v", evidence)
	}
	rep, err := g.Report(ctx, s.ID, false)
	if err != nil || len(rep.MissingEvidence) != 0 {
		t.Fatalf("report: %+v %v", rep, err)
	}
}

func TestExecuteRetriesWithinMaxRetries(t *testing.T) {
	ctx := context.Background()
	ad := &noteAdapter{fails: 2}
	g, _, s := newExecGateway(t, ad)
	x, err := g.Execute(ctx, s.ID, note("notes/r.txt", "ok"), ExecuteOptions{})
	if err != nil || !x.Result.Success || x.Attempts != 3 {
		t.Fatalf("retried: %+v %+v, %v", x, x.Result, err)
	}
	got, _ := g.Session(ctx, s.ID)
	if got.Counters.Retries != 2 {
		t.Fatalf("retries = %d, want 2", got.Counters.Retries)
	}

	// Past max_retries the retry is denied by the policy and not run.
	ad.fails, ad.runs = 10, 0
	x, err = g.Execute(ctx, s.ID, note("notes/r.txt", "again"), ExecuteOptions{})
	if err != nil || x.Executed || x.Decision != warden.Deny {
		t.Fatalf("over the limit: %+v, %v", x, err)
	}
	if ad.runs != 1 {
		t.Fatalf("runs = %d, want 1 (the first attempt; both retries are over max_retries 2)", ad.runs)
	}
}

func TestAdvise(t *testing.T) {
	p := mustPolicy(t, `
name: r
capabilities: [{tool: "command:run", scope: {}}]
remediation:
  rules:
    - {match: "CUDA out of memory", action: "fallback:vulkan"}
    - {match: "/exit code [0-9]+/", action: fallback}
    - {match: "permission denied", action: abort}
  fallback_chain: [cuda, vulkan, cpu]
`)
	for _, c := range []struct {
		msg  string
		so   int
		want *Advice
	}{
		{"RuntimeError: CUDA out of memory", 0, &Advice{Action: "fallback", Next: "vulkan", Rule: "remediation.rules[0]"}},
		{"exit code 3", 1, &Advice{Action: "fallback", Next: "vulkan", Rule: "remediation.rules[1]"}},
		{"exit code 3", 3, &Advice{Action: "abort", Rule: "remediation.rules[1]"}},
		{"open x: Permission Denied", 0, &Advice{Action: "abort", Rule: "remediation.rules[2]"}},
		{"something else", 0, nil},
	} {
		if diff := cmp.Diff(c.want, advise(p, c.msg, c.so)); diff != "" {
			t.Errorf("%q: %s", c.msg, diff)
		}
	}
}

func TestRollbackReverseOrderAndConflicts(t *testing.T) {
	ctx := context.Background()
	g, ms, s := newExecGateway(t, &noteAdapter{})
	path := filepath.Join(s.Root, "notes/n.txt")
	if err := os.WriteFile(path, []byte("original"), 0o640); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, text := range []string{"v1", "v2", "v3"} {
		x, err := g.Execute(ctx, s.ID, note("notes/n.txt", text), ExecuteOptions{})
		if err != nil || !x.Result.Success {
			t.Fatal(x, err)
		}
		ids = append(ids, x.ActionID)
	}
	x, _ := g.Execute(ctx, s.ID, note("notes/new.txt", "new"), ExecuteOptions{})

	// The middle write cannot go alone: a later one changed the same file.
	_, err := g.Rollback(ctx, s.ID, ids[1], "alice")
	wantCode(t, err, warden.CodeConflict)
	// The newest write of another file can.
	rep, err := g.Rollback(ctx, s.ID, x.ActionID, "alice")
	if err != nil || rep.RolledBack != 1 {
		t.Fatalf("one action: %+v %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "notes/new.txt")); !os.IsNotExist(err) {
		t.Fatal("a created file survived its rollback")
	}
	_, err = g.Rollback(ctx, s.ID, x.ActionID, "alice")
	wantCode(t, err, warden.CodeConflict)

	if _, err := g.Terminate(ctx, s.ID, "done"); err != nil {
		t.Fatal(err)
	}
	rep, err = g.Rollback(ctx, s.ID, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, st := range rep.Steps {
		order = append(order, st.ActionID)
	}
	if diff := cmp.Diff([]string{ids[2], ids[1], ids[0]}, order); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(got) != "original" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("after rollback: %q %v", got, fi.Mode())
	}
	n := 0
	for _, e := range ms.Ledger() {
		if e.Type == "action:rollback" {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d rollback ledger entries, want 4", n)
	}
	if rep, _ := g.Rollback(ctx, s.ID, "", "alice"); len(rep.Steps) != 0 {
		t.Fatalf("a second session rollback redid %d steps", len(rep.Steps))
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	ad := &noteAdapter{}
	g, ms, s := newExecGateway(t, ad)
	before := len(ms.Ledger())
	x, err := g.Execute(ctx, s.ID, note("notes/d.txt", "x"), ExecuteOptions{DryRun: true})
	if err != nil || x.Plan == nil || x.Plan.WouldDo != "Set note notes/d.txt" || x.Executed {
		t.Fatalf("%+v %v", x, err)
	}
	if ad.runs != 0 || len(ms.Ledger()) != before {
		t.Fatal("a dry run ran or recorded something")
	}
	x, err = g.Execute(ctx, s.ID, note("notes/.env", "x"), ExecuteOptions{DryRun: true})
	if err != nil || x.Decision != warden.Deny || x.Plan != nil {
		t.Fatalf("denied dry run: %+v %v", x, err)
	}
}

func TestExecuteWithoutExecutor(t *testing.T) {
	ctx := context.Background()
	reg, _ := executor.NewRegistry()
	g := New(Config{Store: NewMemStore(), Executors: reg})
	s, err := g.CreateSession(ctx, CreateRequest{Policy: []byte("name: x\ncapabilities: [{tool: \"deploy:run\", scope: {}}]\n"), Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	x, err := g.Execute(ctx, s.ID, warden.Action{Tool: "deploy:run"}, ExecuteOptions{})
	wantCode(t, err, warden.CodeNoExecutor)
	if x == nil || x.Result == nil || x.Result.Success {
		t.Fatalf("the failure must be recorded: %+v", x)
	}
}

func mustPolicy(t *testing.T, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
