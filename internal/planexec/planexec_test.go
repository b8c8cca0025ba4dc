package planexec_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/planexec"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

const policy = `
name: plans
capabilities:
  - {tool: file:write, scope: {paths: ["./out/**"]}}
  - {tool: file:read, scope: {paths: ["./**"]}}
forbidden:
  - {pattern: "**/.env"}
`

type fixture struct {
	ctx  context.Context
	root string
	gw   *gateway.Gateway
	x    *planexec.Executor
	svc  *decision.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), root: t.TempDir(), gw: gateway.New(gateway.Config{Store: gateway.NewMemStore()})}
	f.x = planexec.New(planexec.Config{Gateway: f.gw})
	if err := f.x.SetTarget("", planexec.Target{Policy: []byte(policy), PolicyName: "plans.yaml", Root: f.root}); err != nil {
		t.Fatal(err)
	}
	f.svc = decision.New(decision.Config{Store: decision.NewMemStore(), Executor: f.x})
	f.x.SetDecisionSession(func(ctx context.Context, id string) (string, error) {
		d, err := f.svc.Get(ctx, id)
		if err != nil {
			return "", err
		}
		return d.SessionID, nil
	})
	return f
}

func human(id string) decision.Actor { return decision.Actor{Type: decision.Human, ID: id} }

// approved creates a decision with plan, approved by bob.
func (f *fixture) approved(t *testing.T, id string, mode decision.Mode, plan string) {
	t.Helper()
	r := &decision.Request{ID: id, Goal: "write then read", Actor: human("alice"), Mode: mode, Plan: json.RawMessage(plan)}
	if _, err := f.svc.Create(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.ctx, id, human("bob"), decision.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
}

const writeThenRead = `[
	{"tool": "file:write", "input": {"path": "out/report.txt", "content": "quarterly\n", "createDirs": true}},
	{"tool": "file:read", "input": {"path": "out/report.txt"}}
]`

func TestApplyRunsEveryStepInASessionOfItsOwn(t *testing.T) {
	f := newFixture(t)
	f.approved(t, "d-1", decision.Apply, writeThenRead)
	run, err := f.svc.Execute(f.ctx, "d-1", decision.ExecuteOptions{Actor: human("alice"), AdapterID: planexec.Builtin})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(f.root, "out/report.txt")); err != nil || string(b) != "quarterly\n" {
		t.Fatalf("file: %q, %v", b, err)
	}
	if run.StepsExecuted != 2 || !run.Steps[0].OK || !run.Steps[1].OK || run.Steps[0].Tool != "file:write" || run.Steps[1].OutputDigest == "" {
		t.Errorf("run: %+v", run)
	}
	// The run id is the session: it holds both actions, allowed and
	// executed, and it is over.
	rep, err := f.gw.Report(f.ctx, run.RunID, true)
	if err != nil {
		t.Fatalf("the run id %q is not a session: %v", run.RunID, err)
	}
	if rep.TotalActions != 2 || rep.Allowed != 2 || rep.State != gateway.Terminated || rep.PolicyName != "plans" {
		t.Errorf("session report: %+v", rep)
	}
	// What was applied can be rolled back like any session.
	if _, err := f.gw.Rollback(f.ctx, run.RunID, "", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "out/report.txt")); !os.IsNotExist(err) {
		t.Errorf("after rollback: %v", err)
	}
	// The decision's run is the one that ran, and its response digest
	// covers the detailed record.
	d, err := f.svc.Get(f.ctx, "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != decision.StateCompleted || d.Execution.RunID != run.RunID || d.Execution.AdapterID != planexec.Builtin {
		t.Errorf("decision: %+v", d.Execution)
	}
}

func TestDeniedStepStopsTheRun(t *testing.T) {
	f := newFixture(t)
	f.approved(t, "d-1", decision.Apply, `[
		{"tool": "file:write", "input": {"path": "out/a.txt", "content": "a", "createDirs": true}},
		{"tool": "file:write", "input": {"path": "src/main.go", "content": "package evil", "createDirs": true}},
		{"tool": "file:write", "input": {"path": "out/c.txt", "content": "c", "createDirs": true}}
	]`)
	run, err := f.svc.Execute(f.ctx, "d-1", decision.ExecuteOptions{Actor: human("alice")})
	if warden.ErrorCode(err) != decision.CodeRouterError {
		t.Fatalf("execute: %v", err)
	}
	for _, want := range []string{"step 1 (file:write) is denied by the policy", "warden rollback --session"} {
		if !strings.Contains(run.Error, want) {
			t.Errorf("error %q does not say %q", run.Error, want)
		}
	}
	if _, err := os.Stat(filepath.Join(f.root, "out/a.txt")); err != nil {
		t.Errorf("step 0: %v", err)
	}
	for _, p := range []string{"src/main.go", "out/c.txt"} {
		if _, err := os.Stat(filepath.Join(f.root, p)); !os.IsNotExist(err) {
			t.Errorf("%s was written: %v", p, err)
		}
	}
	// The failed run still names its session.
	rep, err := f.gw.Report(f.ctx, run.RunID, false)
	if err != nil || rep.Allowed != 1 || rep.Denied != 1 {
		t.Errorf("session of the failed run %q: %+v, %v", run.RunID, rep, err)
	}
	if d, _ := f.svc.Get(f.ctx, "d-1"); d.State != decision.StateFailed {
		t.Errorf("state %s", d.State)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.approved(t, "d-1", decision.DryRun, writeThenRead)
	// file:read of a file the dry run did not write: an adapter's dry run
	// may fail on it, so plan a read of an existing file instead.
	os.MkdirAll(filepath.Join(f.root, "out"), 0o755)
	os.WriteFile(filepath.Join(f.root, "out/report.txt"), []byte("old\n"), 0o644)
	run, err := f.svc.Execute(f.ctx, "d-1", decision.ExecuteOptions{Actor: human("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.root, "out/report.txt")); string(b) != "old\n" {
		t.Errorf("the dry run changed the file: %q", b)
	}
	if run.Mode != decision.DryRun || run.StepsExecuted != 2 || !run.Steps[0].OK || run.Steps[0].OutputDigest == "" {
		t.Errorf("run: %+v", run)
	}
	rep, err := f.gw.Report(f.ctx, run.RunID, false)
	if err != nil || rep.TotalActions != 0 {
		t.Errorf("a dry run recorded actions: %+v, %v", rep, err)
	}
}

func TestPlansThatDoNotRun(t *testing.T) {
	f := newFixture(t)
	x := f.x
	ctx := f.ctx
	// More actions than max_steps: nothing runs.
	_, err := x.Execute(ctx, &decision.ExecRequest{DecisionID: "d", Plan: json.RawMessage(writeThenRead), Mode: decision.Apply, MaxSteps: 1})
	if err == nil || !strings.Contains(err.Error(), "more than max_steps 1") {
		t.Errorf("max_steps: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "out")); !os.IsNotExist(err) {
		t.Error("a refused plan ran")
	}
	// A description is not a plan it can run.
	if _, err := x.Execute(ctx, &decision.ExecRequest{DecisionID: "d", Plan: json.RawMessage(`"rotate the keys"`), Mode: decision.Apply}); err == nil {
		t.Error("a string plan ran")
	}
	// No plan: nothing to do, no session.
	res, err := x.Execute(ctx, &decision.ExecRequest{DecisionID: "d", Mode: decision.Apply})
	if err != nil || len(res.Steps) != 0 || res.RunID != "" {
		t.Errorf("no plan: %+v, %v", res, err)
	}
	// An unknown adapter is refused before anything is claimed.
	f.approved(t, "d-2", decision.Apply, writeThenRead)
	_, err = f.svc.Execute(ctx, "d-2", decision.ExecuteOptions{Actor: human("alice"), AdapterID: "elsewhere"})
	if warden.ErrorCode(err) != decision.CodeRouterError || !strings.Contains(err.Error(), `unknown adapter "elsewhere"`) {
		t.Errorf("unknown adapter: %v", err)
	}
	if d, _ := f.svc.Get(ctx, "d-2"); d.Execution != nil {
		t.Error("the execution was claimed")
	}
	// Without any target a decision bound to no session cannot run.
	bare := planexec.New(planexec.Config{Gateway: f.gw})
	if _, err := bare.Execute(ctx, &decision.ExecRequest{DecisionID: "d", Plan: json.RawMessage(writeThenRead), Mode: decision.Apply}); err == nil || !strings.Contains(err.Error(), "no policy") {
		t.Errorf("no target: %v", err)
	}
	if err := x.SetTarget("session:x", planexec.Target{Policy: []byte(policy)}); err == nil {
		t.Error("a reserved adapter id was registered")
	}
}

func TestCapabilitiesAndTargets(t *testing.T) {
	f := newFixture(t)
	caps, known, err := f.x.Capabilities(f.ctx, "")
	if err != nil || !known {
		t.Fatal(known, err)
	}
	for _, c := range []string{"apply", "dry_run", "file:write", "file:read", "command:run", "git:commit"} {
		if !slices.Contains(caps, c) {
			t.Errorf("capabilities lack %s: %v", c, caps)
		}
	}
	if _, _, err := f.x.Capabilities(f.ctx, "nope"); err == nil {
		t.Error("an unknown adapter has capabilities")
	}
	if _, _, err := f.x.Capabilities(f.ctx, "session:nope"); err == nil {
		t.Error("an unknown session has capabilities")
	}

	// A decision bound to a session runs under that session's policy,
	// which here allows writing under docs/ only.
	other := t.TempDir()
	s, err := f.gw.CreateSession(f.ctx, gateway.CreateRequest{Root: other, Policy: []byte("name: docs\ncapabilities:\n  - {tool: file:write, scope: {paths: [\"./docs/**\"]}}\n")})
	if err != nil {
		t.Fatal(err)
	}
	plan := `[{"tool": "file:write", "input": {"path": "docs/a.md", "content": "# a", "createDirs": true}}]`
	r := &decision.Request{ID: "bound", Goal: "write docs", Actor: human("alice"), Mode: decision.Apply, SessionID: s.ID, Plan: json.RawMessage(plan)}
	if _, err := f.svc.Create(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.ctx, "bound", human("bob"), decision.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	run, err := f.svc.Execute(f.ctx, "bound", decision.ExecuteOptions{Actor: human("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "docs/a.md")); err != nil {
		t.Errorf("not written under the session's root: %v", err)
	}
	if run.RunID == s.ID {
		t.Error("the run reused the bound session instead of its own")
	}
	// session:<id> names the policy explicitly.
	f.approved(t, "explicit", decision.Apply, `[{"tool": "file:write", "input": {"path": "docs/b.md", "content": "# b", "createDirs": true}}]`)
	if _, err := f.svc.Execute(f.ctx, "explicit", decision.ExecuteOptions{Actor: human("alice"), AdapterID: planexec.SessionPrefix + s.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "docs/b.md")); err != nil {
		t.Errorf("session: adapter: %v", err)
	}
}

// The instance wires the executor, the SQLite decision store and the
// ledger's key: a plan runs, and its audit package is signed with the
// ledger key and proves the run's session in the ledger.
func TestInstanceRunsAndAuditsPlans(t *testing.T) {
	ctx := context.Background()
	in, err := instance.Open(ctx, sqlite.MemoryPath, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	root := t.TempDir()
	if err := in.Plans.SetTarget("", planexec.Target{Policy: []byte(policy), Root: root}); err != nil {
		t.Fatal(err)
	}
	r := &decision.Request{ID: "d-1", Goal: "write then read", Actor: human("alice"), Mode: decision.Apply, Plan: json.RawMessage(writeThenRead)}
	if _, err := in.Decisions.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Decisions.Approve(ctx, "d-1", human("bob"), decision.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	run, err := in.Decisions.Execute(ctx, "d-1", decision.ExecuteOptions{Actor: human("alice")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := in.Decisions.ExportAuditPackage(ctx, "d-1", decision.AuditOptions{Signer: in.SigningKey, KeyName: in.Ledger.Signer().Name(), Ledger: in.Ledger})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := decision.VerifierPublicKey(in.Ledger.Signer().VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := decision.VerifyExport(data, nexus.VerifyOptions{PublicKey: pub})
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", err, rep.Err())
	}
	c, _ := rep.Get(decision.CheckLedger)
	if !strings.Contains(c.Message, "signed by the given key") {
		t.Errorf("ledger check: %+v", c)
	}
	var proofs []decision.LedgerProof
	if err := json.Unmarshal(p.Warden.InclusionProofs, &proofs); err != nil {
		t.Fatal(err)
	}
	if len(proofs) == 0 || proofs[0].Entry.SessionID != run.RunID {
		t.Errorf("proofs do not cover the run's session %s: %d", run.RunID, len(proofs))
	}
}
