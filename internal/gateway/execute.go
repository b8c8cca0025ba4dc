package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// ExecuteOptions qualify one execution.
type ExecuteOptions struct {
	// Actor is the identity asking.
	Actor string
	// DryRun evaluates and plans without changing anything or recording.
	DryRun bool
}

// Execution is the answer to Execute: the evaluation, and what running
// the action did.
type Execution struct {
	*Response
	// Executed reports whether an executor ran the action.
	Executed bool `json:"executed"`
	// Plan is what a dry run would do.
	Plan *executor.Plan `json:"plan,omitempty"`
	// Result is what the last attempt produced.
	Result *Result `json:"result,omitempty"`
	// Attempts counts executions, retries included.
	Attempts int `json:"attempts,omitempty"`
}

// Retry backoff: the first retry waits retryBase, each next one twice as
// long, never more than retryMax.
const (
	retryBase = 100 * time.Millisecond
	retryMax  = 5 * time.Second
)

// Execute evaluates an action and, when it is allowed, runs it with the
// executor for its kind and records the result: one call instead of
// evaluate, run, record. A failed run that the policy's remediation says
// to retry is evaluated and run again, with backoff, as long as
// limits.max_retries allows. A denied or gated action is returned as
// evaluated, not run; the same call made again after approval runs.
func (g *Gateway) Execute(ctx context.Context, sessionID string, a warden.Action, opts ExecuteOptions) (*Execution, error) {
	if opts.DryRun {
		if a.Input == nil {
			a.Input = map[string]any{}
		}
		return g.dryRun(ctx, sessionID, a)
	}
	return g.ExecuteWith(ctx, sessionID, a, opts, nil)
}

// RunFunc performs an allowed action in env. It is how a caller with its
// own way of running a kind of action (a composite MCP tool built from
// executor primitives) keeps the gateway's evaluation, re-checks,
// recording, retries and rollback: the undo record it returns must be one
// the registered adapter for the action's kind can roll back.
type RunFunc func(ctx context.Context, env *executor.Env) (*executor.Outcome, error)

// ExecuteWith is Execute with run in place of the registered adapter's
// Execute; a nil run uses the adapter. A dry run is not available here.
func (g *Gateway) ExecuteWith(ctx context.Context, sessionID string, a warden.Action, opts ExecuteOptions, run RunFunc) (*Execution, error) {
	if a.Input == nil {
		a.Input = map[string]any{}
	}
	retry := false
	for attempt := 1; ; attempt++ {
		resp, err := g.Evaluate(ctx, sessionID, a, EvaluateOptions{Actor: opts.Actor, Retry: retry})
		if err != nil {
			return nil, err
		}
		x := &Execution{Response: resp, Attempts: attempt - 1}
		if resp.Decision != warden.Allow {
			return x, nil
		}
		x.Executed, x.Attempts = true, attempt
		if x.Result, err = g.Run(ctx, sessionID, resp, a, run); err != nil {
			return x, err
		}
		adv := x.Result.Remediation
		if x.Result.Success || adv == nil || adv.Action != "retry" {
			return x, nil
		}
		wait := min(retryBase<<(attempt-1), retryMax)
		select {
		case <-ctx.Done():
			return x, ctx.Err()
		case <-time.After(wait):
		}
		retry = true
	}
}

// Run executes an action that Evaluate allowed (resp is its answer) with
// run, or the registered adapter for its kind when run is nil, and records
// the result with its undo record. A proxy that evaluates, holds gated
// calls and only then runs uses it; Execute does all of it in one call.
func (g *Gateway) Run(ctx context.Context, sessionID string, resp *Response, a warden.Action, run RunFunc) (*Result, error) {
	if resp.Decision != warden.Allow {
		return nil, warden.Errorf(warden.CodeInvalidState, "action %q was %s, not allowed; only allowed or approved actions run", resp.ActionID, resp.Decision)
	}
	s, e, err := g.sessionAndEngine(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	ad, ok := g.executors.Lookup(resp.Tool)
	if !ok && run == nil {
		r := Result{Error: "no executor for " + resp.Tool + "; known: " + strings.Join(g.executors.Kinds(), ", ")}
		_, err := g.recordResult(ctx, sessionID, resp.ActionID, r, nil, -1)
		if err != nil {
			return nil, err
		}
		return &r, warden.Errorf(warden.CodeNoExecutor, "%s", r.Error)
	}
	start := g.now()
	out, runErr := g.runAdapter(ctx, ad, run, s, e, resp.ApprovalID != "", a.Input)
	r := Result{Success: runErr == nil, DurationMS: g.now().Sub(start).Milliseconds()}
	var undo *Undo
	outBytes := int64(-1)
	if out != nil {
		r.Output, r.Artifacts, r.FilesChanged = out.Output, out.Artifacts, out.FilesChanged
		if out.OutputBytes > 0 {
			outBytes = out.OutputBytes
		}
		if out.Undo != nil || out.Irreversible {
			undo = &Undo{Data: out.Undo, Irreversible: out.Irreversible}
		}
	}
	if runErr != nil {
		r.Error = runErr.Error()
	}
	adv, err := g.recordResult(ctx, sessionID, resp.ActionID, r, undo, outBytes)
	if err != nil {
		return nil, err
	}
	r.Remediation = adv
	return &r, nil
}

// runAdapter validates and executes in an Env over the session's root,
// whose re-checks use the session's engine: approved says the action got
// through a gate a human approved.
func (g *Gateway) runAdapter(ctx context.Context, ad executor.Adapter, run RunFunc, s *Session, e *engine.Engine, approved bool, in executor.Input) (*executor.Outcome, error) {
	if run == nil {
		if err := ad.Validate(in); err != nil {
			return nil, err
		}
		run = func(ctx context.Context, env *executor.Env) (*executor.Outcome, error) {
			return ad.Execute(ctx, env, in)
		}
	}
	env, err := executor.NewEnv(s.Root, e.Policy(), g.objects, executor.PolicyCheck(e, approved))
	if err != nil {
		return nil, err
	}
	defer env.Close()
	return run(ctx, env)
}

// dryRun evaluates against the session's state without recording, and
// asks the executor what it would do.
func (g *Gateway) dryRun(ctx context.Context, sessionID string, a warden.Action) (*Execution, error) {
	digest, err := ActionDigest(a)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "action input: %v", err)
	}
	var v warden.Verdict
	var s *Session
	var e *engine.Engine
	err = g.store.View(ctx, func(tx Tx) error {
		if s, err = activeSession(tx, sessionID); err != nil {
			return err
		}
		if e, err = g.sessionEngine(s); err != nil {
			return err
		}
		now := g.now().UTC()
		state, err := sessionState(tx, s, e, now)
		if err != nil {
			return err
		}
		v = e.Evaluate(engine.Request{Action: a, Now: now, Session: state})
		return nil
	})
	if err != nil {
		return nil, err
	}
	x := &Execution{Response: &Response{Decision: v.Decision, Reasons: v.Reasons, Rule: v.Rule, Tool: v.Tool,
		Gate: v.Gate, Shadowed: v.Shadowed, Warnings: v.Warnings, Digest: digest, BudgetUsed: s.Counters}}
	if v.Decision == warden.Deny {
		return x, nil
	}
	ad, ok := g.executors.Lookup(v.Tool)
	if !ok {
		return x, warden.Errorf(warden.CodeNoExecutor, "no executor for %s; known: %s", v.Tool, strings.Join(g.executors.Kinds(), ", "))
	}
	if err := ad.Validate(a.Input); err != nil {
		return x, err
	}
	env, err := executor.NewEnv(s.Root, e.Policy(), g.objects, executor.PolicyCheck(e, v.Decision == warden.Gate))
	if err != nil {
		return nil, err
	}
	defer env.Close()
	x.Plan, err = ad.DryRun(ctx, env, a.Input)
	return x, err
}

// sessionAndEngine loads a session and its engine.
func (g *Gateway) sessionAndEngine(ctx context.Context, id string) (*Session, *engine.Engine, error) {
	var s *Session
	err := g.store.View(ctx, func(tx Tx) error {
		var err error
		s, err = loadSession(tx, id)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	e, err := g.sessionEngine(s)
	return s, e, err
}
