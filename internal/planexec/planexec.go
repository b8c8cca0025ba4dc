// Package planexec is Warden's built-in executor of decisions: it runs a
// decision's plan, a list of actions {tool, input}, through the policy
// engine and the executor adapters, in order, bounded by max_steps, and
// stops at the first step that is not allowed or fails.
//
// # Where the policy comes from
//
// Each run gets a gateway session of its own, created for the run under a
// Warden policy and project root (its Target) and terminated when the run
// ends. Every step is evaluated by that session's policy and, when
// applied, executed by the adapter of its kind and recorded in the signed
// ledger with its undo record, so a run can be audited and rolled back
// like any session (warden rollback --session RUN_ID). The run id is the
// session id: it links the decision's run record to the ledger.
//
// The target is chosen by the adapter id given to Execute:
//
//   - "session:<id>": the policy and root of gateway session <id>;
//   - a name registered with SetTarget (or Config.Targets);
//   - "" or "builtin": the policy and root of the session the decision is
//     bound to (a gate's decision), else the target registered as "".
//
// A run that finds no target fails before it starts.
//
// # Steps
//
// A dry run asks each adapter's DryRun what it would do and changes
// nothing; apply executes. A step the policy denies, or one that needs
// an approval of its own (a gate of the plan's policy: the decision's
// approval does not extend to it), stops the run with an error naming the
// step and the policy's reasons, as does a step that fails. Steps already
// applied stay applied and recorded in the session; the error says how to
// roll them back.
package planexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/warden"
)

// Adapter ids with a meaning of their own.
const (
	// Builtin is the adapter id of the default target, like "".
	Builtin = "builtin"
	// SessionPrefix starts an adapter id that names a gateway session whose
	// policy and root a run uses: "session:<id>".
	SessionPrefix = "session:"
)

// Capabilities every run has besides the kinds of its adapters, in
// nexus-router's vocabulary: it can dry-run and apply.
var Capabilities = []string{"apply", "dry_run"}

// A Target is the policy and project root a run's session is created
// under.
type Target struct {
	// Policy is the policy's YAML source; PolicyName names it in messages.
	Policy     []byte
	PolicyName string
	// Root is the project root the actions' paths are relative to.
	Root string
}

// Config configures an Executor.
type Config struct {
	Gateway *gateway.Gateway
	// Registry holds the adapters the gateway runs actions with; their
	// kinds are reported as capabilities. executor.Default() when nil.
	Registry *executor.Registry
	// Targets are the targets by adapter id; "" is the default target.
	Targets map[string]Target
	// DecisionSession returns the id of the gateway session decision id
	// is bound to, "" for none; nil means no decision is bound to one.
	DecisionSession func(ctx context.Context, id string) (string, error)
}

// Executor is the built-in plan executor, a decision.Executor. It is safe
// for concurrent use.
type Executor struct {
	gw        *gateway.Gateway
	caps      []string
	sessionOf func(ctx context.Context, id string) (string, error)

	mu      sync.RWMutex
	targets map[string]Target
}

var _ decision.Executor = (*Executor)(nil)

// New returns an Executor over cfg.Gateway.
func New(cfg Config) *Executor {
	reg := cfg.Registry
	if reg == nil {
		reg = executor.Default()
	}
	caps := slices.Concat(Capabilities, reg.Kinds())
	slices.Sort(caps)
	x := &Executor{gw: cfg.Gateway, caps: slices.Compact(caps), sessionOf: cfg.DecisionSession, targets: map[string]Target{}}
	for id, t := range cfg.Targets {
		x.targets[id] = t
	}
	return x
}

// SetDecisionSession sets Config.DecisionSession after construction, for
// an executor built before the decision service it looks decisions up in.
func (x *Executor) SetDecisionSession(fn func(ctx context.Context, id string) (string, error)) {
	x.mu.Lock()
	x.sessionOf = fn
	x.mu.Unlock()
}

// SetTarget registers (or replaces) the target of adapter id; "" is the
// default target. The adapter id may not start with SessionPrefix.
func (x *Executor) SetTarget(adapterID string, t Target) error {
	if strings.HasPrefix(adapterID, SessionPrefix) || adapterID == Builtin {
		return warden.Errorf(warden.CodeInvalidInput, "adapter id %q is reserved", adapterID)
	}
	if len(t.Policy) == 0 {
		return warden.Errorf(warden.CodeInvalidInput, "target %q has no policy", adapterID)
	}
	x.mu.Lock()
	x.targets[adapterID] = t
	x.mu.Unlock()
	return nil
}

// Capabilities implements decision.Executor: "apply", "dry_run" and the
// action kinds of the adapters, for every adapter id the executor can
// resolve; an error for one it cannot.
func (x *Executor) Capabilities(ctx context.Context, adapterID string) ([]string, bool, error) {
	switch {
	case adapterID == "" || adapterID == Builtin:
	case strings.HasPrefix(adapterID, SessionPrefix):
		if _, err := x.gw.Session(ctx, strings.TrimPrefix(adapterID, SessionPrefix)); err != nil {
			return nil, false, fmt.Errorf("adapter %q: %w", adapterID, err)
		}
	default:
		x.mu.RLock()
		_, ok := x.targets[adapterID]
		x.mu.RUnlock()
		if !ok {
			return nil, false, fmt.Errorf("unknown adapter %q: use %q, %q or a registered target (%s)",
				adapterID, Builtin, SessionPrefix+"<session id>", strings.Join(x.targetNames(), ", "))
		}
	}
	return slices.Clone(x.caps), true, nil
}

func (x *Executor) targetNames() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var names []string
	for n := range x.targets {
		if n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return []string{"none registered"}
	}
	return names
}

// target returns the policy and root a run of req uses, and how they were
// chosen.
func (x *Executor) target(ctx context.Context, req *decision.ExecRequest) (Target, string, error) {
	id := req.AdapterID
	if strings.HasPrefix(id, SessionPrefix) {
		return x.sessionTarget(ctx, strings.TrimPrefix(id, SessionPrefix))
	}
	x.mu.RLock()
	t, ok := x.targets[id]
	def, hasDef := x.targets[""]
	sessionOf := x.sessionOf
	x.mu.RUnlock()
	if ok && id != "" {
		return t, "target " + id, nil
	}
	if id != "" && id != Builtin {
		return Target{}, "", fmt.Errorf("unknown adapter %q", id)
	}
	if sessionOf != nil {
		sid, err := sessionOf(ctx, req.DecisionID)
		if err != nil {
			return Target{}, "", fmt.Errorf("the session of decision %s: %w", req.DecisionID, err)
		}
		if sid != "" {
			return x.sessionTarget(ctx, sid)
		}
	}
	if hasDef {
		return def, "the default target", nil
	}
	return Target{}, "", fmt.Errorf("no policy to run decision %s's plan under: the decision is bound to no session and no default target is registered; execute with adapter %q or a registered target",
		req.DecisionID, SessionPrefix+"<session id>")
}

func (x *Executor) sessionTarget(ctx context.Context, sid string) (Target, string, error) {
	s, err := x.gw.Session(ctx, sid)
	if err != nil {
		return Target{}, "", fmt.Errorf("session %s: %w", sid, err)
	}
	return Target{Policy: []byte(s.Policy), PolicyName: s.PolicyName, Root: s.Root}, "the policy of session " + sid, nil
}

// StepRecord is one step of a run as its record (RunResult.Output)
// details it.
type StepRecord struct {
	Index int    `json:"index"`
	Tool  string `json:"tool"`
	// InputDigest is the action's digest, sha256(JCS({tool, input})), as
	// the ledger records it.
	InputDigest string `json:"input_digest"`
	// ActionID is the session's id of the action (apply only).
	ActionID string `json:"action_id,omitempty"`
	// Verdict is the policy's decision: allow, deny or gate.
	Verdict warden.Decision `json:"verdict"`
	Reasons []string        `json:"reasons,omitempty"`
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	// OutputDigest is the digest of the output (apply) or of the plan a
	// dry run reported.
	OutputDigest string `json:"output_digest,omitempty"`
	// WouldDo is what a dry run reports the step would do.
	WouldDo string `json:"would_do,omitempty"`
}

// Record is a run's record, the RunResult.Output whose digest the
// decision records as the run's response digest.
type Record struct {
	SessionID    string        `json:"session_id"`
	PolicyDigest string        `json:"policy_digest"`
	Target       string        `json:"target"`
	Mode         decision.Mode `json:"mode"`
	Steps        []StepRecord  `json:"steps"`
}

// Execute implements decision.Executor: it runs req's plan in a session
// created for the run, step by step, and returns the run, whose id is the
// session's. A run that stops early returns its result with the error, so
// the decision records the session as the failed run's id.
func (x *Executor) Execute(ctx context.Context, req *decision.ExecRequest) (*decision.RunResult, error) {
	actions, err := planActions(req.Plan)
	if err != nil {
		return nil, err
	}
	if len(actions) == 0 {
		return &decision.RunResult{Steps: []decision.Step{}}, nil
	}
	if req.MaxSteps > 0 && len(actions) > req.MaxSteps {
		return nil, fmt.Errorf("the plan has %d actions, more than max_steps %d; nothing was run", len(actions), req.MaxSteps)
	}
	t, how, err := x.target(ctx, req)
	if err != nil {
		return nil, err
	}
	s, err := x.gw.CreateSession(ctx, gateway.CreateRequest{
		Policy: t.Policy, PolicyName: t.PolicyName, Root: t.Root, Owner: "decision:" + req.DecisionID,
		Metadata: map[string]any{"decision_id": req.DecisionID, "mode": string(req.Mode), "adapter_id": req.AdapterID, "goal": req.Goal},
	})
	if err != nil {
		return nil, fmt.Errorf("session for the run (%s): %w", how, err)
	}
	rec := &Record{SessionID: s.ID, PolicyDigest: s.PolicyDigest, Target: how, Mode: req.Mode, Steps: []StepRecord{}}
	res := &decision.RunResult{RunID: s.ID, Steps: []decision.Step{}}
	ended := "run completed"
	defer func() {
		_, _ = x.gw.Terminate(context.WithoutCancel(ctx), s.ID, ended)
	}()
	actor := "decision:" + req.DecisionID
	var runErr error
	for i, a := range actions {
		if err := ctx.Err(); err != nil {
			runErr = fmt.Errorf("the run was cancelled before step %d: %w", i, err)
			break
		}
		sr, err := x.step(ctx, s.ID, i, a, req.Mode == decision.DryRun, actor)
		rec.Steps = append(rec.Steps, sr)
		res.Steps = append(res.Steps, decision.Step{Index: i, Tool: a.Tool, OK: sr.OK, Error: sr.Error, OutputDigest: sr.OutputDigest})
		if err != nil {
			runErr = err
			break
		}
	}
	if runErr != nil {
		ended = "run stopped: " + runErr.Error()
		if req.Mode == decision.Apply && len(rec.Steps) > 1 {
			runErr = fmt.Errorf("%w (steps before it were applied; undo them with: warden rollback --session %s)", runErr, s.ID)
		}
	}
	out, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	res.Output = out
	return res, runErr
}

// step runs action a, the plan's index i, in session sid.
func (x *Executor) step(ctx context.Context, sid string, i int, a warden.Action, dryRun bool, actor string) (StepRecord, error) {
	sr := StepRecord{Index: i, Tool: a.Tool}
	sr.InputDigest, _ = gateway.ActionDigest(a)
	fail := func(err error) (StepRecord, error) {
		sr.OK, sr.Error = false, err.Error()
		return sr, err
	}
	xe, err := x.gw.Execute(ctx, sid, a, gateway.ExecuteOptions{Actor: actor, DryRun: dryRun})
	if xe != nil && xe.Response != nil {
		sr.ActionID, sr.Verdict, sr.Reasons = xe.ActionID, xe.Decision, xe.Reasons
		if xe.Digest != "" {
			sr.InputDigest = xe.Digest
		}
	}
	if err != nil {
		return fail(fmt.Errorf("step %d (%s): %w", i, a.Tool, err))
	}
	switch xe.Decision {
	case warden.Deny:
		return fail(fmt.Errorf("step %d (%s) is denied by the policy: %s", i, a.Tool, strings.Join(xe.Reasons, "; ")))
	case warden.Gate:
		return fail(fmt.Errorf("step %d (%s) needs an approval of its own under the policy (%s); the decision's approval does not extend to the plan's gates",
			i, a.Tool, strings.Join(xe.Reasons, "; ")))
	}
	if dryRun {
		if xe.Plan != nil {
			sr.WouldDo = xe.Plan.WouldDo
			sr.OutputDigest, _ = canon.DigestJSON(xe.Plan)
		}
		sr.OK = true
		return sr, nil
	}
	if xe.Result == nil {
		return fail(fmt.Errorf("step %d (%s) was allowed but did not run", i, a.Tool))
	}
	if xe.Result.Output != nil {
		sr.OutputDigest, _ = canon.DigestJSON(xe.Result.Output)
	}
	if !xe.Result.Success {
		return fail(fmt.Errorf("step %d (%s) failed: %s", i, a.Tool, xe.Result.Error))
	}
	sr.OK = true
	return sr, nil
}

// planActions decodes a plan: nil or null is no action; a list of
// actions is what the executor runs; a string is a description, not
// something it can run.
func planActions(plan json.RawMessage) ([]warden.Action, error) {
	p := strings.TrimSpace(string(plan))
	if p == "" || p == "null" {
		return nil, nil
	}
	if p[0] != '[' {
		return nil, errors.New("the built-in executor runs a plan that is a list of actions {tool, input}; this plan is a description, which it cannot run")
	}
	var actions []warden.Action
	if err := json.Unmarshal(plan, &actions); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	for i, a := range actions {
		if a.Tool == "" {
			return nil, fmt.Errorf("plan[%d]: no tool", i)
		}
		if a.Input == nil {
			actions[i].Input = map[string]any{}
		}
	}
	return actions, nil
}
