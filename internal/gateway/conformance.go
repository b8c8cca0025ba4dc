package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

// StoreConformance runs the gateway's behaviour — det-acp's runtime and
// session suites, every approval rule, limits and escalation, concurrency —
// over stores made by newStore. Every Store implementation runs it. A store
// that also offers LedgerTypes(t, sessionID) []string has its ledger
// entries checked too.
func StoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	su := suite{newStore: newStore}
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"RuntimeAndSessionSuites", su.testRuntimeAndSessionSuites},
		{"InvalidPolicy", su.testInvalidPolicy},
		{"ResultOnlyForAllowed", su.testResultOnlyForAllowed},
		{"NofMApprovals", su.testNofMApprovals},
		{"RejectTimeoutTTLAndForSession", su.testRejectTimeoutTTLAndForSession},
		{"SelfApprovalAllowedByPolicy", su.testSelfApprovalAllowedByPolicy},
		{"AutoGate", su.testAutoGate},
		{"LimitsAndEscalation", su.testLimitsAndEscalation},
		{"MissingEvidence", su.testMissingEvidence},
		{"ConcurrentSessionsAndApprovals", su.testConcurrentSessionsAndApprovals},
		{"ApprovalForAction", su.testApprovalForAction},
		{"TerminateExpiresPending", su.testTerminateExpiresPending},
		{"ResultsWithNextEvaluation", su.testResultsWithNextEvaluation},
	} {
		t.Run(c.name, c.run)
	}
}

// The policy of det-acp's runtime and session suites.
const suitePolicy = `
version: "1.0"
name: runtime-suite
capabilities:
  - tool: file:read
    scope: {paths: ["/data/**"]}
  - tool: file:write
    scope: {paths: ["/data/out/**"]}
  - tool: command:run
    scope: {binaries: [echo, ls]}
limits:
  max_runtime_ms: 60000
  max_files_changed: 50
forbidden:
  - pattern: "**/.env"
  - pattern: "rm -rf"
session:
  max_actions: 100
  max_denials: 10
`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// suite runs against one store implementation.
type suite struct {
	newStore func(t *testing.T) Store
}

func (su suite) newGateway(t *testing.T) (*Gateway, ledgerReader, *clock) {
	t.Helper()
	st := su.newStore(t)
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	lr, _ := st.(ledgerReader)
	return New(Config{Store: st, Now: clk.now, Home: "/home/agent"}), lr, clk
}

// ledgerReader is a store whose ledger the suite can read back.
type ledgerReader interface {
	LedgerTypes(t *testing.T, sessionID string) []string
}

func create(t *testing.T, g *Gateway, src string) *Session {
	t.Helper()
	s, err := g.CreateSession(context.Background(), CreateRequest{Policy: []byte(src), Root: t.TempDir(), Metadata: map[string]any{"agent": "test"}, Owner: "agent-1"})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

func eval(t *testing.T, g *Gateway, sid, tool string, kv ...any) *Response {
	t.Helper()
	in := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		in[kv[i].(string)] = kv[i+1]
	}
	r, err := g.Evaluate(context.Background(), sid, warden.Action{Tool: tool, Input: in}, EvaluateOptions{Actor: "agent-1"})
	if err != nil {
		t.Fatalf("Evaluate(%s %v): %v", tool, in, err)
	}
	return r
}

func wantCode(t *testing.T, err error, code warden.Code) {
	t.Helper()
	if got := warden.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

// det-acp runtime suite (tests/engine/runtime.test.ts) and session suite
// (tests/engine/session.test.ts), with Warden's outcomes.
func (su suite) testRuntimeAndSessionSuites(t *testing.T) {
	ctx := context.Background()
	g, st, _ := su.newGateway(t)
	s := create(t, g, suitePolicy)
	if s.ID == "" || s.State != Active || s.PolicyName != "runtime-suite" || s.Metadata["agent"] != "test" {
		t.Fatalf("session: %+v", s)
	}
	r := eval(t, g, s.ID, "file:read", "path", "/data/test.txt")
	if r.Decision != warden.Allow || r.ActionID == "" || r.BudgetUsed.ActionsEvaluated != 1 {
		t.Fatalf("allowed read: %+v", r)
	}
	if r := eval(t, g, s.ID, "file:read", "path", "/etc/passwd"); r.Decision != warden.Deny || !strings.Contains(r.Reasons[0], "outside allowed scope") {
		t.Fatalf("out of scope: %+v", r)
	}
	if r := eval(t, g, s.ID, "command:run", "command", "rm -rf /tmp"); r.Decision != warden.Deny {
		t.Fatalf("forbidden command: %+v", r)
	}
	if _, err := g.RecordResult(ctx, s.ID, r.ActionID, Result{Success: true, Output: "hello"}); err != nil {
		t.Fatal(err)
	}
	_, err := g.RecordResult(ctx, s.ID, r.ActionID, Result{Success: true})
	wantCode(t, err, warden.CodeConflict) // session suite 6: a second result
	w := eval(t, g, s.ID, "file:write", "path", "/data/out/b.txt")
	if w.Decision != warden.Allow {
		t.Fatalf("write: %+v", w)
	}
	rep, err := g.Report(ctx, s.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TotalActions != 4 || rep.Allowed != 2 || rep.Denied != 2 || len(rep.Actions) != 4 || rep.Actions[0].Result == nil || !rep.Actions[0].Result.Success {
		t.Fatalf("report: %+v", rep)
	}
	final, err := g.Terminate(ctx, s.ID, "test complete")
	if err != nil {
		t.Fatal(err)
	}
	if final.State != Terminated || final.TerminationReason != "test complete" || final.DurationMS < 0 {
		t.Fatalf("final report: %+v", final)
	}
	// Warden: a terminated session answers with a clear error, never a crash.
	_, err = g.Evaluate(ctx, s.ID, warden.Action{Tool: "file:read", Input: map[string]any{"path": "/data/x"}}, EvaluateOptions{})
	wantCode(t, err, warden.CodeInvalidState)
	_, err = g.Terminate(ctx, s.ID, "again")
	wantCode(t, err, warden.CodeInvalidState)
	_, err = g.RecordResult(ctx, s.ID, w.ActionID, Result{Success: true})
	wantCode(t, err, warden.CodeInvalidState)

	create(t, g, suitePolicy)
	if list, _ := g.Sessions(ctx, SessionFilter{}); len(list) != 2 {
		t.Fatalf("sessions: %d", len(list))
	}
	if st != nil {
		want := []string{"session:start", "action:evaluate", "action:evaluate", "action:evaluate", "action:result", "action:evaluate", "session:terminate"}
		if diff := cmp.Diff(want, st.LedgerTypes(t, s.ID)); diff != "" {
			t.Errorf("ledger (-want +got):\n%s", diff)
		}
	}
	_, err = g.Evaluate(ctx, "nope", warden.Action{Tool: "file:read"}, EvaluateOptions{})
	wantCode(t, err, warden.CodeNotFound)
}

func (su suite) testInvalidPolicy(t *testing.T) {
	g, _, _ := su.newGateway(t)
	_, err := g.CreateSession(context.Background(), CreateRequest{Policy: []byte("name: x\ncapabilities: []\n")})
	wantCode(t, err, warden.CodeInvalidPolicy)
	if !strings.Contains(err.Error(), "at least one capability") {
		t.Errorf("message: %v", err)
	}
	// Inline YAML with colons (runtime suite 12) is just YAML.
	create(t, g, "name: 'a: b'\ncapabilities: [{tool: 'x:y', scope: {}}]\n")
}

func (su suite) testResultOnlyForAllowed(t *testing.T) {
	ctx := context.Background()
	g, _, _ := su.newGateway(t)
	s := create(t, g, suitePolicy+"gates: [{action: file:write, approval: human}]\n")
	d := eval(t, g, s.ID, "file:read", "path", "/etc/passwd")
	wantCode(t, second(g.RecordResult(ctx, s.ID, d.ActionID, Result{Success: true})), warden.CodeInvalidState)
	gt := eval(t, g, s.ID, "file:write", "path", "/data/out/x")
	if gt.Decision != warden.Gate {
		t.Fatalf("%+v", gt)
	}
	wantCode(t, second(g.RecordResult(ctx, s.ID, gt.ActionID, Result{Success: true})), warden.CodeInvalidState)
	wantCode(t, second(g.RecordResult(ctx, s.ID, "missing", Result{Success: true})), warden.CodeNotFound)
	// A pending gate freezes nothing.
	if r := eval(t, g, s.ID, "file:read", "path", "/data/a"); r.Decision != warden.Allow {
		t.Fatalf("session frozen by a pending gate: %+v", r)
	}
}

const approvalPolicy = `
name: approvals
capabilities:
  - tool: file:write
    scope: {paths: ["/data/**"]}
gates:
  - action: file:write
    approval: human
    min_approvals: 2
    approvers: [alice, bob, group:ops]
    timeout: 10m
    approval_ttl: 1h
`

func (su suite) testNofMApprovals(t *testing.T) {
	ctx := context.Background()
	g, _, _ := su.newGateway(t)
	s := create(t, g, approvalPolicy)
	r := eval(t, g, s.ID, "file:write", "path", "/data/a", "content", "x")
	if r.Decision != warden.Gate || r.ApprovalID == "" {
		t.Fatalf("gate: %+v", r)
	}
	id := r.ApprovalID
	if p, _ := g.Pending(ctx, ""); len(p) != 1 || p[0].ID != id {
		t.Fatalf("pending: %+v", p)
	}

	_, err := g.Approve(ctx, id, Approver{ID: "agent-1"}, ApproveOptions{})
	wantCode(t, err, warden.CodeSelfApproval)
	_, err = g.Approve(ctx, id, Approver{ID: "mallory"}, ApproveOptions{})
	wantCode(t, err, warden.CodeNotAnApprover)
	if a, err := g.Approve(ctx, id, Approver{ID: "alice"}, ApproveOptions{Comment: "looks fine"}); err != nil || a.State != Pending {
		t.Fatalf("first vote: %+v %v", a, err)
	}
	_, err = g.Approve(ctx, id, Approver{ID: "alice"}, ApproveOptions{})
	wantCode(t, err, warden.CodeAlreadyApproved)

	// The retried call waits on the same approval; nothing new is requested.
	if r2 := eval(t, g, s.ID, "file:write", "path", "/data/a", "content", "x"); r2.Decision != warden.Gate || r2.ApprovalID != id {
		t.Fatalf("retry while pending: %+v", r2)
	}
	if a, err := g.Approve(ctx, id, Approver{ID: "carol", Groups: []string{"ops"}}, ApproveOptions{}); err != nil || a.State != Approved || a.ValidUntil == nil {
		t.Fatalf("second vote: %+v %v", a, err)
	}
	// A changed input is another action and needs its own approval.
	if r3 := eval(t, g, s.ID, "file:write", "path", "/data/a", "content", "y"); r3.Decision != warden.Gate || r3.ApprovalID == id {
		t.Fatalf("changed input: %+v", r3)
	}
	// The identical call runs, once.
	if r4 := eval(t, g, s.ID, "file:write", "path", "/data/a", "content", "x"); r4.Decision != warden.Allow || r4.ApprovalID != id {
		t.Fatalf("approved retry: %+v", r4)
	}
	if r5 := eval(t, g, s.ID, "file:write", "path", "/data/a", "content", "x"); r5.Decision != warden.Gate || r5.ApprovalID == id {
		t.Fatalf("approval used twice: %+v", r5)
	}
	_, err = g.Approve(ctx, id, Approver{ID: "bob"}, ApproveOptions{})
	wantCode(t, err, warden.CodeInvalidState)

	rep, _ := g.Report(ctx, s.ID, false)
	if rep.Approved != 1 || rep.Gated != 4 || rep.Allowed != 0 {
		t.Errorf("report counts: %+v", rep)
	}
}

// testResultsWithNextEvaluation: results handed to an evaluation are
// recorded before it, in the same commit, and count in its budget; one
// that cannot be recorded is reported and stops nothing.
func (su suite) testResultsWithNextEvaluation(t *testing.T) {
	ctx := context.Background()
	g, lr, _ := su.newGateway(t)
	s := create(t, g, suitePolicy)
	w := eval(t, g, s.ID, "file:write", "path", "/data/out/a.txt", "content", "x")
	r := eval(t, g, s.ID, "file:read", "path", "/data/in/b.txt")
	if w.Decision != warden.Allow || r.Decision != warden.Allow {
		t.Fatalf("setup: %+v %+v", w, r)
	}
	if _, err := g.RecordResult(ctx, s.ID, r.ActionID, Result{Success: true, Output: "once"}); err != nil {
		t.Fatal(err)
	}
	var refused []string
	next, err := g.Evaluate(ctx, s.ID, warden.Action{Tool: "file:read", Input: map[string]any{"path": "/data/in/c.txt"}}, EvaluateOptions{
		Actor: "agent-1",
		Results: []PendingResult{
			{ActionID: w.ActionID, Result: Result{Success: true, Output: "wrote"}},
			{ActionID: r.ActionID, Result: Result{Success: true, Output: "twice"}},
		},
		OnRecordError: func(id string, err error) { refused = append(refused, id+" "+string(warden.ErrorCode(err))) },
	})
	if err != nil || next.Decision != warden.Allow {
		t.Fatalf("evaluate with results: %+v %v", next, err)
	}
	if diff := cmp.Diff([]string{r.ActionID + " CONFLICT"}, refused); diff != "" {
		t.Errorf("refused results: %s", diff)
	}
	if next.BudgetUsed.FilesChanged != 1 || next.BudgetUsed.Results != 2 {
		t.Errorf("budget seen by the evaluation: %+v", next.BudgetUsed)
	}
	types := lr.LedgerTypes(t, s.ID)
	if n := len(types); n < 2 || types[n-2] != "action:result" || types[n-1] != "action:evaluate" {
		t.Errorf("ledger ends with %v, want action:result then action:evaluate", types)
	}
}

// testTerminateExpiresPending: a session's pending approvals end with it,
// leave the pending list, and cannot be voted on.
func (su suite) testTerminateExpiresPending(t *testing.T) {
	ctx := context.Background()
	g, lr, _ := su.newGateway(t)
	s := create(t, g, approvalPolicy)
	id := eval(t, g, s.ID, "file:write", "path", "/data/t").ApprovalID
	if _, err := g.Terminate(ctx, s.ID, "proxy stopped"); err != nil {
		t.Fatal(err)
	}
	if p, err := g.Pending(ctx, ""); err != nil || len(p) != 0 {
		t.Fatalf("pending after terminate: %+v %v", p, err)
	}
	a, err := g.Approval(ctx, id)
	if err != nil || a.State != Expired || a.Reason != "session ended: proxy stopped" {
		t.Fatalf("approval after terminate: %+v %v", a, err)
	}
	_, err = g.Approve(ctx, id, Approver{ID: "alice"}, ApproveOptions{})
	wantCode(t, err, warden.CodeInvalidState)
	types := lr.LedgerTypes(t, s.ID)
	if n := len(types); n < 2 || types[n-2] != "gate:expired" || types[n-1] != "session:terminate" {
		t.Errorf("ledger ends with %v, want gate:expired then session:terminate", types)
	}
}

func (su suite) testRejectTimeoutTTLAndForSession(t *testing.T) {
	ctx := context.Background()
	g, _, clk := su.newGateway(t)
	s := create(t, g, approvalPolicy)

	r := eval(t, g, s.ID, "file:write", "path", "/data/r")
	_, err := g.Reject(ctx, r.ApprovalID, Approver{ID: "bob"}, " ")
	wantCode(t, err, warden.CodeInvalidInput)
	if a, err := g.Reject(ctx, r.ApprovalID, Approver{ID: "bob"}, "not during the freeze"); err != nil || a.State != Rejected {
		t.Fatalf("reject: %+v %v", a, err)
	}
	if d := eval(t, g, s.ID, "file:write", "path", "/data/r"); d.Decision != warden.Deny || !strings.Contains(d.Reasons[0], "not during the freeze") {
		t.Fatalf("retry after reject: %+v", d)
	}

	// A pending approval expires after the gate's timeout.
	e := eval(t, g, s.ID, "file:write", "path", "/data/e")
	clk.advance(11 * time.Minute)
	_, err = g.Approve(ctx, e.ApprovalID, Approver{ID: "alice"}, ApproveOptions{})
	wantCode(t, err, warden.CodeExpired)
	if again := eval(t, g, s.ID, "file:write", "path", "/data/e"); again.Decision != warden.Gate || again.ApprovalID == e.ApprovalID {
		t.Fatalf("after expiry a new approval is needed: %+v", again)
	}

	// An approval granted for the session is not used up; the TTL ends it.
	f := eval(t, g, s.ID, "file:write", "path", "/data/f")
	g.Approve(ctx, f.ApprovalID, Approver{ID: "alice"}, ApproveOptions{})
	if _, err := g.Approve(ctx, f.ApprovalID, Approver{ID: "bob"}, ApproveOptions{ForSession: true}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := eval(t, g, s.ID, "file:write", "path", "/data/f"); r.Decision != warden.Allow {
			t.Fatalf("for-session approval: %+v", r)
		}
	}
	clk.advance(61 * time.Minute)
	if r := eval(t, g, s.ID, "file:write", "path", "/data/f"); r.Decision != warden.Gate {
		t.Fatalf("past the TTL: %+v", r)
	}
}

func (su suite) testSelfApprovalAllowedByPolicy(t *testing.T) {
	g, _, _ := su.newGateway(t)
	s := create(t, g, "name: s\nallow_self_approval: true\ncapabilities: [{tool: file:delete, scope: {}}]\ngates: [{action: file:delete, approval: human}]\n")
	r := eval(t, g, s.ID, "file:delete", "path", "x")
	if a, err := g.Approve(context.Background(), r.ApprovalID, Approver{ID: "agent-1"}, ApproveOptions{}); err != nil || a.State != Approved {
		t.Fatalf("%+v %v", a, err)
	}
}

func (su suite) testAutoGate(t *testing.T) {
	g, st, _ := su.newGateway(t)
	s := create(t, g, "name: a\ncapabilities: [{tool: file:write, scope: {}}]\ngates: [{action: file:write, approval: auto, risk_level: medium}]\n")
	r := eval(t, g, s.ID, "file:write", "path", "x")
	if r.Decision != warden.Allow || r.ApprovalID == "" || r.BudgetUsed.Approved != 1 {
		t.Fatalf("auto gate: %+v", r)
	}
	if st != nil {
		if types := st.LedgerTypes(t, s.ID); !strings.Contains(strings.Join(types, " "), "gate:requested gate:approved") {
			t.Errorf("ledger: %v", types)
		}
	}
}

func (su suite) testLimitsAndEscalation(t *testing.T) {
	ctx := context.Background()
	g, _, clk := su.newGateway(t)
	s := create(t, g, `
name: l
capabilities: [{tool: file:read, scope: {}}, {tool: file:write, scope: {}}]
limits: {max_cost_usd: 1, max_files_changed: 2}
session:
  max_actions: 9
  max_denials: 3
  rate_limit: {max_per_minute: 6}
  escalation: [{after_actions: 3, require: human_checkin}]
`)
	for range 3 {
		r := eval(t, g, s.ID, "file:write", "path", "a")
		_, _ = g.RecordResult(ctx, s.ID, r.ActionID, Result{Success: true, CostUSD: 0.2, FilesChanged: []string{"/p/a"}})
	}
	esc := eval(t, g, s.ID, "file:read", "path", "x")
	if esc.Decision != warden.Gate || esc.Rule != "session.escalation[0]" {
		t.Fatalf("escalation: %+v", esc)
	}
	if _, err := g.Approve(ctx, esc.ApprovalID, Approver{ID: "lead"}, ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, g, s.ID, "file:read", "path", "y"); r.Decision != warden.Allow {
		t.Fatalf("after check-in: %+v", r)
	}
	// The same file three times is one changed file.
	if got, _ := g.Session(ctx, s.ID); got.Counters.FilesChanged != 1 || got.Counters.CostUSD < 0.59 {
		t.Fatalf("counters: %+v", got.Counters)
	}
	// Five actions so far: the sixth in the minute passes, the seventh not.
	if r := eval(t, g, s.ID, "file:read", "path", "z"); r.Decision != warden.Allow {
		t.Fatalf("sixth action: %+v", r)
	}
	if r := eval(t, g, s.ID, "file:read", "path", "z"); r.Decision != warden.Deny || r.Rule != "session.rate_limit" {
		t.Fatalf("rate limit: %+v", r)
	}
	clk.advance(2 * time.Minute)
	eval(t, g, s.ID, "file:read", "path", "z")
	eval(t, g, s.ID, "file:read", "path", "z")
	if r := eval(t, g, s.ID, "file:read", "path", "z"); r.Decision != warden.Deny || r.Rule != "session.max_actions" {
		t.Fatalf("max actions: %+v", r)
	}
	// The third denial terminates the session (det-acp's max_denials).
	if r := eval(t, g, s.ID, "file:read", "path", "z"); r.Decision != warden.Deny || !strings.Contains(strings.Join(r.Warnings, " "), "Session terminated") {
		t.Fatalf("max denials: %+v", r)
	}
	got, _ := g.Session(ctx, s.ID)
	if got.State != Terminated || got.TerminationReason != "Maximum denial limit reached (3)" {
		t.Fatalf("session: %+v", got)
	}
}

func (su suite) testMissingEvidence(t *testing.T) {
	ctx := context.Background()
	g, _, _ := su.newGateway(t)
	s := create(t, g, "name: e\ncapabilities: [{tool: file:write, scope: {}}]\nevidence: {require: [checksums]}\n")
	a := eval(t, g, s.ID, "file:write", "path", "a")
	b := eval(t, g, s.ID, "file:write", "path", "b")
	_, _ = g.RecordResult(ctx, s.ID, a.ActionID, Result{Success: true, Artifacts: []Artifact{{Type: "checksum", Value: "sha256:00", Path: "a"}}})
	_, _ = g.RecordResult(ctx, s.ID, b.ActionID, Result{Success: true})
	rep, _ := g.Report(ctx, s.ID, false)
	if diff := cmp.Diff([]string{b.ActionID + ": no checksum artifact"}, rep.MissingEvidence); diff != "" {
		t.Error(diff)
	}
}

// Many sessions evaluate and many approvers vote at once: every identity
// is counted once and every approval reaches exactly its threshold.
func (su suite) testConcurrentSessionsAndApprovals(t *testing.T) {
	ctx := context.Background()
	g, _, _ := su.newGateway(t)
	var ids []string
	var sessions []*Session
	for i := range 4 {
		s := create(t, g, approvalPolicy)
		sessions = append(sessions, s)
		r := eval(t, g, s.ID, "file:write", "path", fmt.Sprintf("/data/%d", i))
		ids = append(ids, r.ApprovalID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		for _, who := range []string{"alice", "alice", "bob", "bob", "carol"} {
			wg.Go(func() {
				g.Approve(ctx, id, Approver{ID: who, Groups: []string{"ops"}}, ApproveOptions{})
			})
		}
	}
	for _, s := range sessions {
		wg.Go(func() {
			for i := range 50 {
				g.Evaluate(ctx, s.ID, warden.Action{Tool: "file:write", Input: map[string]any{"path": fmt.Sprintf("/data/x%d", i)}}, EvaluateOptions{Actor: "agent-1"})
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		a, err := g.Approval(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, v := range a.Votes {
			if seen[v.Approver] {
				t.Fatalf("%s counted twice in %s", v.Approver, id)
			}
			seen[v.Approver] = true
		}
		if a.State != Approved || len(a.Votes) != 2 {
			t.Errorf("approval %s: state %s with %d votes", id, a.State, len(a.Votes))
		}
	}
	for _, s := range sessions {
		got, _ := g.Session(ctx, s.ID)
		if got.Counters.ActionsEvaluated != 51 {
			t.Errorf("session %s evaluated %d", s.ID, got.Counters.ActionsEvaluated)
		}
	}
}

func (su suite) testApprovalForAction(t *testing.T) {
	ctx := context.Background()
	g, _, _ := su.newGateway(t)
	s := create(t, g, approvalPolicy)
	r := eval(t, g, s.ID, "file:write", "path", "/data/a")
	a, err := g.ApprovalForAction(ctx, s.ID, r.ActionID)
	if err != nil || a.ID != r.ApprovalID {
		t.Fatalf("%+v %v", a, err)
	}
	d := eval(t, g, s.ID, "file:read", "path", "/data/a")
	_, err = g.ApprovalForAction(ctx, s.ID, d.ActionID)
	wantCode(t, err, warden.CodeNotFound)
}

// second returns a call's error, dropping its value.
func second[T any](_ T, err error) error { return err }
