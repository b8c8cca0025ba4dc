package decision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// ExecuteOptions say how to execute a decision.
type ExecuteOptions struct {
	// Actor is who asks for the execution.
	Actor Actor `json:"actor"`
	// Mode overrides the decision's requested mode; it must be allowed by
	// the policy.
	Mode Mode `json:"mode,omitempty"`
	// AdapterID selects the executor's adapter.
	AdapterID string `json:"adapter_id,omitempty"`
}

// Execute runs approved decision id through the Service's executor, at
// most once. In one write it re-checks the policy against the approvals
// valid now (expired and revoked ones do not count), the mode and the
// adapter's capabilities (POLICY_VIOLATION, listing every problem), and
// claims the execution by appending EXECUTION_REQUESTED and
// EXECUTION_STARTED; a concurrent second Execute, in this process or
// another, finds the claim and gets INVALID_STATE. Only then does the
// executor run. Its outcome is recorded as EXECUTION_COMPLETED or
// EXECUTION_FAILED even if ctx is cancelled meanwhile; a failure returns
// the run with a ROUTER_ERROR error. A crash before the outcome is
// recorded leaves the decision executing until Recover marks it failed.
func (s *Service) Execute(ctx context.Context, id string, opts ExecuteOptions) (*Run, error) {
	if s.exec == nil {
		return nil, warden.Errorf(warden.CodeNoExecutor, "no executor is configured to run decisions")
	}
	var fe fieldErrors
	opts.Actor.check(&fe, "actor")
	if opts.Mode != "" && !opts.Mode.Valid() {
		fe.add("mode", "must be %q or %q, got %q", DryRun, Apply, opts.Mode)
	}
	if len(opts.AdapterID) > MaxIDLen || !utf8.ValidString(opts.AdapterID) {
		fe.add("adapter_id", "must be valid UTF-8 of at most %d bytes", MaxIDLen)
	}
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	// Mark the execution in flight before claiming it, so that Recover in
	// this process never takes the claim for an interrupted one.
	s.setInflight(id, true)
	defer s.setInflight(id, false)
	caps, known, err := s.exec.Capabilities(ctx, opts.AdapterID)
	if err != nil {
		return nil, &warden.Error{Code: CodeRouterError, Message: fmt.Sprintf("capabilities of adapter %q: %v", opts.AdapterID, err), Err: err}
	}

	var req *ExecRequest
	claimed, err := s.update(ctx, id, []string{}, func(d *Decision, now time.Time) ([]draft, error) {
		if err := executable(d, now); err != nil {
			return nil, err
		}
		mode := opts.Mode
		if mode == "" {
			mode = d.Mode
		}
		var fe fieldErrors
		if !d.Policy.Allows(mode) {
			fe.add("mode", "%q is not allowed by the policy (allowed: %s)", mode, joinModes(d.Policy.AllowedModes))
		}
		if active, n := d.Tally.Active(now), d.Policy.MinApprovals; active < n {
			msg := fmt.Sprintf("%d of the %d required approvals are valid now", active, n)
			if exp := d.Tally.Expired(now); exp > 0 {
				msg += fmt.Sprintf(" (%d expired)", exp)
			}
			fe.add("approvals", "%s", msg)
		}
		if need := d.Policy.RequireCapabilities; len(need) > 0 {
			if !known {
				fe.add("capabilities", "adapter %q cannot report its capabilities, and the policy requires %s", opts.AdapterID, strings.Join(need, ", "))
			} else if missing := missingCaps(need, caps); len(missing) > 0 {
				fe.add("capabilities", "adapter %q lacks %s", opts.AdapterID, strings.Join(missing, ", "))
			}
		}
		if err := fe.err(CodePolicyViolation); err != nil {
			return nil, err
		}
		req = &ExecRequest{
			DecisionID: d.ID, Goal: d.Goal, Plan: d.Plan, Mode: mode, AdapterID: opts.AdapterID,
			MaxSteps: d.Policy.MaxSteps, RequireCapabilities: d.Policy.RequireCapabilities, ActionDigest: d.ActionDigest,
		}
		digest, err := canon.DigestJSON(req)
		if err != nil {
			return nil, fmt.Errorf("digest of the execution request: %w", err)
		}
		return []draft{
			{ExecutionRequested, opts.Actor, RequestedPayload{AdapterID: opts.AdapterID, DryRun: mode == DryRun, Mode: mode}},
			{ExecutionStarted, SystemActor, StartedPayload{RequestDigest: digest}},
		}, nil
	})
	if err != nil {
		return nil, err
	}

	res, runErr := s.run(ctx, req)
	outcome := s.outcome(claimed, res, runErr)
	done, err := s.update(context.WithoutCancel(ctx), id, []string{}, func(d *Decision, now time.Time) ([]draft, error) {
		if d.State != StateExecuting || d.Execution.RequestDigest != claimed.Execution.RequestDigest {
			return nil, warden.Errorf(warden.CodeInvalidState, "the outcome of decision %s's execution could not be recorded: the decision is now %s", d.ID, d.State)
		}
		return []draft{outcome}, nil
	})
	if err != nil {
		return nil, err
	}
	run := done.Execution
	if run.Outcome() == OutcomeFailed {
		return run, &warden.Error{Code: CodeRouterError,
			Message: fmt.Sprintf("execution of decision %s failed: %s", id, run.Error),
			Details: map[string]any{"run_id": run.RunID, "error_code": run.ErrorCode}}
	}
	return run, nil
}

// executable checks that decision d's state at now allows an execution:
// approved, or pending (whose missing approvals are then reported with the
// other policy problems).
func executable(d *Decision, now time.Time) error {
	st := d.StateAt(now)
	var msg string
	switch st {
	case StateApproved, StatePending:
		return nil
	case StateExpired:
		return warden.Errorf(warden.CodeExpired, "decision %s expired at %s", d.ID, d.ExpiresAt.Format(time.RFC3339))
	case StateDraft:
		msg = "it has no policy"
	case StateExecuting:
		msg = fmt.Sprintf("it is already executing (claimed by %s at %s)", d.Execution.RequestedBy, d.Execution.RequestedAt.Format(time.RFC3339))
	case StateCompleted:
		msg = fmt.Sprintf("it has already executed (run %s); a decision executes at most once", d.Execution.RunID)
	case StateFailed:
		msg = "its execution failed; a decision executes at most once, request a new one"
	case StateRejected:
		msg = fmt.Sprintf("it was rejected by %s", d.Rejection.By)
	}
	return &warden.Error{Code: warden.CodeInvalidState,
		Message: fmt.Sprintf("cannot execute decision %s: %s", d.ID, msg),
		Details: map[string]any{"state": string(st)}}
}

func missingCaps(need, have []string) []string {
	var out []string
	for _, c := range need {
		if !slices.Contains(have, c) {
			out = append(out, c)
		}
	}
	return out
}

// run calls the executor, turning a panic into an error.
func (s *Service) run(ctx context.Context, req *ExecRequest) (res *RunResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("executor panicked: %v", r)
		}
	}()
	return s.exec.Execute(ctx, req)
}

// outcome returns the event that records an executor's result on claimed
// decision d: EXECUTION_COMPLETED, or EXECUTION_FAILED for an error, a
// missing or oversized result, or one that cannot be hashed.
func (s *Service) outcome(d *Decision, res *RunResult, runErr error) draft {
	fail := func(format string, args ...any) draft {
		var runID *string
		if res != nil && res.RunID != "" {
			runID = &res.RunID
		}
		return draft{ExecutionFailed, SystemActor, FailedPayload{
			ErrorCode: string(CodeRouterError), ErrorMessage: clip(fmt.Sprintf(format, args...), MaxTextLen), RunID: runID}}
	}
	switch {
	case runErr != nil:
		return fail("%v", runErr)
	case res == nil:
		return fail("the executor returned no result")
	case d.Policy.MaxSteps > 0 && len(res.Steps) > d.Policy.MaxSteps:
		return fail("the executor ran %d steps, more than max_steps %d", len(res.Steps), d.Policy.MaxSteps)
	}
	r := *res
	if r.RunID == "" {
		r.RunID = "run-" + s.newID()
	}
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	digest, err := canon.DigestJSON(&r)
	if err != nil {
		return fail("the executor's response cannot be hashed: %v", err)
	}
	steps := make([]Step, len(r.Steps))
	for i, st := range r.Steps {
		st.Error = clip(st.Error, MaxTextLen)
		steps[i] = st
	}
	return draft{ExecutionCompleted, SystemActor, CompletedPayload{
		RunID: r.RunID, ResponseDigest: digest, StepsExecuted: len(steps), Steps: steps}}
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Service) setInflight(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.inflight[id]++
	} else if s.inflight[id]--; s.inflight[id] == 0 {
		delete(s.inflight, id)
	}
}

func (s *Service) isInflight(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[id] > 0
}

// RecoverOptions select the executions Recover marks failed.
type RecoverOptions struct {
	// ClaimedBefore, when set, limits recovery to executions claimed
	// before it, so that a process starting beside others sharing the
	// store does not fail their executions in progress.
	ClaimedBefore time.Time
}

// Recover marks failed every execution that was claimed but never
// finished, as after a crash: each such decision gets EXECUTION_FAILED
// with error code INTERRUPTED and a message saying that the executor may
// have run partly. Executions this Service is running are left alone. It
// returns the ids of the decisions it marked.
func (s *Service) Recover(ctx context.Context, opts RecoverOptions) ([]string, error) {
	var ids []string
	f := Filter{States: []State{StateExecuting}, Limit: MaxLimit}
	for {
		page, err := s.store.List(ctx, f)
		if err != nil {
			return ids, err
		}
		for _, h := range page.Decisions {
			if s.isInflight(h.ID) || !opts.ClaimedBefore.IsZero() && !h.Execution.RequestedAt.Before(opts.ClaimedBefore) {
				continue
			}
			marked := false
			_, err := s.update(ctx, h.ID, []string{}, func(d *Decision, now time.Time) ([]draft, error) {
				marked = false
				if d.State != StateExecuting || s.isInflight(d.ID) {
					return nil, nil
				}
				marked = true
				msg := "the execution was interrupted before its outcome was recorded (the process stopped); the executor may have run partly"
				if d.Execution.StartedAt == nil {
					msg = "the execution was interrupted before the executor started (the process stopped)"
				}
				return []draft{{ExecutionFailed, SystemActor, FailedPayload{ErrorCode: ErrorInterrupted, ErrorMessage: msg}}}, nil
			})
			if err != nil {
				return ids, err
			}
			if marked {
				ids = append(ids, h.ID)
			}
		}
		if page.Next == "" {
			return ids, nil
		}
		f.Cursor = page.Next
	}
}
