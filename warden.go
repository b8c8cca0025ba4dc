// Package warden is Warden's Go library: the same governance gateway the
// warden command runs, in process. Open a Warden on a database, start a
// session under a policy, and ask it about every action an agent wants to
// take; gated actions wait for approvals by N of M distinct approvers, and
// everything lands in a signed, verifiable ledger.
//
// For a decision without a session or a database, use LoadPolicy and
// NewEngine.
package warden

import (
	"context"
	"io"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/store/sqlite"
	core "github.com/wardenhq/warden/internal/warden"
)

// The vocabulary, shared with the rest of Warden.
type (
	// Action is one thing an agent wants to do: a tool and its input.
	Action = core.Action
	// Decision is allow, deny or gate.
	Decision = core.Decision
	// Verdict is a stateless decision with its reasons and deciding rule.
	Verdict = core.Verdict
	// Error is Warden's error, with a stable Code.
	Error = core.Error
	// Session is one agent's run under one policy.
	Session = gateway.Session
	// Response is the answer to an evaluation in a session.
	Response = gateway.Response
	// Result is what running an allowed action produced.
	Result = gateway.Result
	// Approval is a gate waiting for, or given, approval.
	Approval = gateway.Approval
	// Approver is an identity and its groups.
	Approver = gateway.Approver
	// Report summarises a session.
	Report = gateway.Report
	// Policy is a parsed, validated policy.
	Policy = policy.Policy
	// VerifyReport lists every check of a ledger verification.
	VerifyReport = ledger.Report
	// Advice is the policy's remediation advice for a failed result.
	Advice = gateway.Advice
	// Execution is the answer to Execute: the evaluation and the run.
	Execution = gateway.Execution
	// RollbackReport lists what a rollback undid.
	RollbackReport = gateway.RollbackReport
	// Adapter executes one kind of action: validate, dry run, execute and
	// roll back. Register your own with Options.Adapters.
	Adapter = executor.Adapter
	// Env is what an Adapter executes in: the session's confined root,
	// its policy and the backup store.
	Env = executor.Env
	// Plan is what a dry run reports.
	Plan = executor.Plan
	// Outcome is what an execution produced, with its undo record.
	Outcome = executor.Outcome
)

// The decisions.
const (
	Allow = core.Allow
	Deny  = core.Deny
	Gate  = core.Gate
)

// MemoryDB names a database that lives only in this process.
const MemoryDB = sqlite.MemoryPath

// Options configure Open.
type Options struct {
	// DB is the database file: ".warden/warden.db" when empty, MemoryDB for
	// one in memory.
	DB string
	// Adapters execute kinds of action beyond the built-in ones (or
	// instead of none: a kind registered twice is an error). They are
	// governed exactly like the built-in ones.
	Adapters []Adapter
}

// Warden is an open gateway. It is safe for concurrent use, and several
// processes may open the same database file.
type Warden struct {
	in *instance.Instance
}

// Open opens (creating if needed) a Warden database.
func Open(ctx context.Context, opts Options) (*Warden, error) {
	in, err := instance.Open(ctx, opts.DB, instance.Options{Adapters: opts.Adapters})
	if err != nil {
		return nil, err
	}
	return &Warden{in: in}, nil
}

// Close closes the database.
func (w *Warden) Close() error { return w.in.Close() }

// NewSession starts a session under the policy's YAML source, with paths
// relative to root (the current directory when empty).
func (w *Warden) NewSession(ctx context.Context, policyYAML []byte, root string, metadata map[string]any) (*Session, error) {
	return w.in.Gateway.CreateSession(ctx, gateway.CreateRequest{Policy: policyYAML, Root: root, Metadata: metadata})
}

// Evaluate decides one action in a session, as actor, and records it. A
// gated action carries an ApprovalID; once approved, the identical action
// evaluates to allow.
func (w *Warden) Evaluate(ctx context.Context, sessionID, actor string, a Action) (*Response, error) {
	return w.in.Gateway.Evaluate(ctx, sessionID, a, gateway.EvaluateOptions{Actor: actor})
}

// Execute evaluates an action and, if it is allowed, runs it with the
// executor for its kind and records the result, retrying as the policy's
// remediation says. With dryRun it only evaluates and plans.
func (w *Warden) Execute(ctx context.Context, sessionID, actor string, a Action, dryRun bool) (*Execution, error) {
	return w.in.Gateway.Execute(ctx, sessionID, a, gateway.ExecuteOptions{Actor: actor, DryRun: dryRun})
}

// Rollback undoes what executors did in a session, newest first: one
// action when actionID is set, otherwise all of them.
func (w *Warden) Rollback(ctx context.Context, sessionID, actionID, actor string) (*RollbackReport, error) {
	return w.in.Gateway.Rollback(ctx, sessionID, actionID, actor)
}

// Record records the result of an allowed action. For a failed result it
// returns the policy's remediation advice, if a rule matches.
func (w *Warden) Record(ctx context.Context, sessionID, actionID string, r Result) (*Advice, error) {
	return w.in.Gateway.RecordResult(ctx, sessionID, actionID, r)
}

// Pending lists approvals waiting for votes (all sessions when sessionID is
// empty).
func (w *Warden) Pending(ctx context.Context, sessionID string) ([]*Approval, error) {
	return w.in.Gateway.Pending(ctx, sessionID)
}

// Approve records an approver's vote on an approval.
func (w *Warden) Approve(ctx context.Context, approvalID string, who Approver, comment string) (*Approval, error) {
	return w.in.Gateway.Approve(ctx, approvalID, who, gateway.ApproveOptions{Comment: comment})
}

// Reject refuses an approval, with a reason.
func (w *Warden) Reject(ctx context.Context, approvalID string, who Approver, reason string) (*Approval, error) {
	return w.in.Gateway.Reject(ctx, approvalID, who, reason)
}

// Terminate ends a session and returns its report.
func (w *Warden) Terminate(ctx context.Context, sessionID, reason string) (*Report, error) {
	return w.in.Gateway.Terminate(ctx, sessionID, reason)
}

// Report summarises a session.
func (w *Warden) Report(ctx context.Context, sessionID string) (*Report, error) {
	return w.in.Gateway.Report(ctx, sessionID, false)
}

// Export writes a session's ledger, with a signed checkpoint and inclusion
// proofs, as JSONL that Verify checks.
func (w *Warden) Export(ctx context.Context, out io.Writer, sessionID string) error {
	return w.in.Ledger.Export(ctx, out, sessionID)
}

// VerifierKey is the key that verifies this Warden's ledger signatures.
func (w *Warden) VerifierKey() string { return w.in.Ledger.Signer().VerifierKey() }

// Verify checks a ledger export or det-acp ledger file, trusting keys.
func Verify(r io.Reader, keys ...string) VerifyReport {
	return ledger.Verify(r, ledger.VerifyOptions{Keys: keys})
}

// LoadPolicy reads and validates a policy file.
func LoadPolicy(path string) (*Policy, error) { return policy.LoadFile(path) }

// ParsePolicy validates a policy's YAML source; name appears in messages.
func ParsePolicy(src []byte, name string) (*Policy, error) { return policy.Parse(src, name) }

// Engine decides actions against one policy without a session.
type Engine struct{ e *engine.Engine }

// NewEngine compiles p for the project root (the current directory when
// empty).
func NewEngine(p *Policy, root string) (*Engine, error) {
	e, err := engine.New(p, engine.Options{Root: root})
	if err != nil {
		return nil, err
	}
	return &Engine{e: e}, nil
}

// Decide evaluates one action.
func (e *Engine) Decide(a Action) Verdict {
	return e.e.Evaluate(engine.Request{Action: a})
}
