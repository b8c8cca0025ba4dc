package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// EvaluateOptions qualify one evaluation.
type EvaluateOptions struct {
	// Actor is the identity asking; it becomes the requester of any gate.
	Actor string
	// Retry marks a retry performed by remediation.
	Retry bool
	// Results are results of the session's earlier actions, recorded
	// first in the same transaction, so that the evaluation counts them
	// and one durable commit holds both. A result that cannot be recorded
	// (its action already has one, or was not allowed) goes to
	// OnRecordError and stops nothing.
	Results       []PendingResult
	OnRecordError func(actionID string, err error)
}

// PendingResult is a result to record with a later evaluation.
type PendingResult struct {
	ActionID string
	Result   Result
}

// Response is the answer to an evaluation.
type Response struct {
	ActionID string                  `json:"actionId"`
	Decision warden.Decision         `json:"decision"`
	Reasons  []string                `json:"reasons"`
	Rule     string                  `json:"rule"`
	Tool     string                  `json:"tool"`
	Gate     *warden.GateRequirement `json:"gate,omitempty"`
	// ApprovalID names the approval a gated action waits for, or the one
	// that let it through.
	ApprovalID string   `json:"approvalId,omitempty"`
	Shadowed   string   `json:"shadowed,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Digest     string   `json:"digest"`
	// BudgetUsed is the session's usage after this action.
	BudgetUsed Counters `json:"budgetUsed"`
}

// Evaluate decides one action in a session and records it.
func (g *Gateway) Evaluate(ctx context.Context, sessionID string, a warden.Action, opts EvaluateOptions) (*Response, error) {
	if a.Input == nil {
		a.Input = map[string]any{}
	}
	digest, err := ActionDigest(a)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "action input: %v", err)
	}
	var resp *Response
	var requested *Approval
	var refused []error
	err = g.store.Update(ctx, func(tx Tx) error {
		var err error
		requested, refused = nil, make([]error, len(opts.Results))
		for i, pr := range opts.Results {
			pr.Result.Remediation = nil
			if _, err := g.recordTx(tx, sessionID, pr.ActionID, pr.Result, nil, -1); err != nil {
				if warden.ErrorCode(err) == warden.CodeInternal {
					return err // the store failed: nothing commits
				}
				refused[i] = err
			}
		}
		resp, err = g.evaluate(tx, sessionID, a, digest, opts, &requested)
		return err
	})
	if err == nil && opts.OnRecordError != nil {
		for i, rerr := range refused {
			if rerr != nil {
				opts.OnRecordError(opts.Results[i].ActionID, rerr)
			}
		}
	}
	if err == nil && requested != nil && requested.Requirement.Webhook != nil && g.onApproval != nil {
		g.onApproval(requested)
	}
	return resp, err
}

// ActionDigest is sha256 over the RFC 8785 form of {tool, input}: what an
// approval is bound to.
func ActionDigest(a warden.Action) (string, error) {
	return canon.DigestJSON(map[string]any{"tool": a.Tool, "input": a.Input})
}

func (g *Gateway) evaluate(tx Tx, sessionID string, a warden.Action, digest string, opts EvaluateOptions, requested **Approval) (*Response, error) {
	s, err := activeSession(tx, sessionID)
	if err != nil {
		return nil, err
	}
	e, err := g.sessionEngine(s)
	if err != nil {
		return nil, err
	}
	now := g.now().UTC()
	state, err := sessionState(tx, s, e, now)
	if err != nil {
		return nil, err
	}
	v := e.Evaluate(engine.Request{Action: a, Retry: opts.Retry, Now: now, Session: state})
	c := &s.Counters
	act := &Action{
		ID: newID(12), SessionID: s.ID, Index: c.ActionsEvaluated, Tool: a.Tool, Input: a.Input,
		Digest: digest, Actor: opts.Actor, Verdict: v, Decision: v.Decision, CreatedAt: now,
	}
	resp := &Response{ActionID: act.ID, Decision: v.Decision, Reasons: v.Reasons, Rule: v.Rule, Tool: v.Tool,
		Gate: v.Gate, Shadowed: v.Shadowed, Warnings: v.Warnings, Digest: digest}
	c.ActionsEvaluated++
	if opts.Retry {
		c.Retries++
	}
	switch v.Decision {
	case warden.Allow:
		c.Allowed++
	case warden.Deny:
		c.Denied++
	case warden.Gate:
		// The gate's own entries follow the evaluation's, which needs the
		// gate settled first to say what the caller was told.
		later := &heldAppends{Tx: tx}
		if err := g.gate(later, s, act, e.Policy().AllowSelfApproval, resp, now, requested); err != nil {
			return nil, err
		}
		if err := appendEvaluation(tx, act, a, v, resp); err != nil {
			return nil, err
		}
		if err := later.flush(); err != nil {
			return nil, err
		}
	}
	if v.Decision != warden.Gate {
		if err := appendEvaluation(tx, act, a, v, resp); err != nil {
			return nil, err
		}
	}
	act.Decision = resp.Decision
	act.ApprovalID = resp.ApprovalID
	if err := tx.PutAction(act); err != nil {
		return nil, err
	}
	if m := e.Policy().Session; m != nil && m.MaxDenials != nil && c.Denied+c.Rejected >= *m.MaxDenials && resp.Decision == warden.Deny {
		reason := fmt.Sprintf("Maximum denial limit reached (%d)", c.Denied+c.Rejected)
		resp.Warnings = append(resp.Warnings, "Session terminated: "+reason)
		s.Version++
		resp.BudgetUsed = *c
		return resp, g.terminate(tx, s, reason)
	}
	s.UpdatedAt = now
	s.Version++
	resp.BudgetUsed = *c
	return resp, tx.PutSession(s)
}

// appendEvaluation writes the action:evaluate entry: "verdict" is what the
// caller was told (an approved gate is an allow, a rejected one a deny), and
// "policyVerdict" the policy's own verdict when that differs.
func appendEvaluation(tx Tx, act *Action, a warden.Action, v warden.Verdict, resp *Response) error {
	entry := map[string]any{
		"actionId": act.ID, "actionIndex": act.Index, "tool": a.Tool, "kind": v.Tool, "input": a.Input,
		"digest": act.Digest, "verdict": resp.Decision, "reasons": resp.Reasons, "rule": v.Rule, "shadowed": v.Shadowed,
	}
	if resp.Decision != v.Decision {
		entry["policyVerdict"] = v.Decision
	}
	return tx.Append(act.SessionID, "action:evaluate", entry)
}

// heldAppends holds ledger entries back until flush, so that they land
// after an entry written later.
type heldAppends struct {
	Tx
	held []heldAppend
}

type heldAppend struct {
	sessionID, typ string
	data           any
}

// Append holds the entry.
func (h *heldAppends) Append(sessionID, typ string, data any) error {
	h.held = append(h.held, heldAppend{sessionID, typ, data})
	return nil
}

func (h *heldAppends) flush() error {
	for _, e := range h.held {
		if err := h.Tx.Append(e.sessionID, e.typ, e.data); err != nil {
			return err
		}
	}
	return nil
}

// sessionState is what the engine needs to know of a session.
func sessionState(tx Tx, s *Session, e *engine.Engine, now time.Time) (*engine.State, error) {
	// Only a rate limit needs the window, and only up to its limit.
	lastMinute := 0
	if m := e.Policy().Session; m != nil && m.RateLimit != nil {
		var err error
		if lastMinute, err = tx.CountActionsSince(s.ID, now.Add(-time.Minute), m.RateLimit.MaxPerMinute); err != nil {
			return nil, err
		}
	}
	c := &s.Counters
	return &engine.State{
		StartedAt: s.CreatedAt, ActionsEvaluated: c.ActionsEvaluated, ActionsDenied: c.Denied + c.Rejected,
		FilesChanged: c.FilesChanged, OutputBytes: c.OutputBytes, Retries: c.Retries, CostUSD: c.CostUSD,
		ActionsLastMinute: lastMinute, CheckedIn: c.CheckedIn,
	}, nil
}

// gate settles a gate verdict: an approval already given for this exact
// action lets it through (once, unless granted for the session), one still
// pending is waited for, a rejected one denies, and otherwise a new
// approval is requested. An auto gate approves itself.
func (g *Gateway) gate(tx Tx, s *Session, act *Action, selfApproval bool, resp *Response, now time.Time, requested **Approval) error {
	c := &s.Counters
	prev, err := tx.ApprovalFor(s.ID, act.Digest)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if prev != nil && expire(prev, now) {
		if err := tx.PutApproval(prev); err != nil {
			return err
		}
	}
	if prev != nil {
		switch prev.State {
		case Approved:
			resp.ApprovalID = prev.ID
			if !prev.ForSession {
				prev.State = Consumed
				if err := tx.PutApproval(prev); err != nil {
					return err
				}
			}
			c.Approved++
			resp.Decision = warden.Allow
			resp.Reasons = append(resp.Reasons, fmt.Sprintf("Approved by %s", voters(prev)))
			return tx.Append(s.ID, "gate:used", map[string]any{"approvalId": prev.ID, "actionId": act.ID, "digest": act.Digest, "consumed": !prev.ForSession})
		case Pending:
			resp.ApprovalID = prev.ID
			resp.Reasons = append(resp.Reasons, fmt.Sprintf("Waiting for approval %s (%d of %d)", prev.ID, len(prev.Votes), prev.Requirement.MinApprovals))
			c.Gated++
			return nil
		case Rejected:
			c.Rejected++
			resp.Decision = warden.Deny
			resp.ApprovalID = prev.ID
			resp.Reasons = []string{fmt.Sprintf("Gate rejected: %s", prev.Reason)}
			return nil
		}
	}
	ap := &Approval{
		ID: "apr_" + newID(16), SessionID: s.ID, ActionID: act.ID, Digest: act.Digest, Tool: act.Tool,
		Input: act.Input, Rule: act.Verdict.Rule, Requirement: *act.Verdict.Gate, Reasons: act.Verdict.Reasons,
		Requester: act.Actor, SelfApproval: selfApproval, State: Pending, CreatedAt: now,
	}
	if t := ap.Requirement.Timeout; t > 0 {
		exp := now.Add(t)
		ap.ExpiresAt = &exp
	}
	resp.ApprovalID = ap.ID
	if err := tx.Append(s.ID, "gate:requested", map[string]any{"approvalId": ap.ID, "actionId": act.ID, "digest": act.Digest, "gate": ap.Requirement, "requester": ap.Requester}); err != nil {
		return err
	}
	if ap.Requirement.Approval == "auto" {
		ap.State, ap.DecidedAt = Consumed, &now
		ap.Votes = []Vote{{Approver: "auto", Comment: "Auto-approved by policy", At: now}}
		c.Approved++
		resp.Decision = warden.Allow
		resp.Reasons = append(resp.Reasons, "Auto-approved by policy")
		if err := tx.Append(s.ID, "gate:approved", map[string]any{"approvalId": ap.ID, "actionId": act.ID, "respondedBy": "auto", "reason": "Auto-approved by policy"}); err != nil {
			return err
		}
	} else {
		c.Gated++
		*requested = ap
	}
	return tx.PutApproval(ap)
}

// expire marks a pending approval past its timeout, or an approved one
// past its TTL, as expired; it reports whether it changed anything.
func expire(a *Approval, now time.Time) bool {
	switch {
	case a.State == Pending && a.ExpiresAt != nil && now.After(*a.ExpiresAt),
		a.State == Approved && a.ValidUntil != nil && now.After(*a.ValidUntil):
		a.State = Expired
		return true
	}
	return false
}

func voters(a *Approval) string {
	names := make([]string, len(a.Votes))
	for i, v := range a.Votes {
		names[i] = v.Approver
	}
	return strings.Join(names, ", ")
}

// RecordResult records what running an allowed action produced. Only
// actions the caller was told to run (allowed or approved) take a result,
// and only once. A failed result gets the policy's remediation advice, which
// is returned and recorded with it.
func (g *Gateway) RecordResult(ctx context.Context, sessionID, actionID string, r Result) (*Advice, error) {
	r.Remediation = nil
	return g.recordResult(ctx, sessionID, actionID, r, nil, -1)
}

// recordResult is RecordResult for executors too: undo is stored with the
// action, and outBytes, when not negative, is what the action produced or
// wrote instead of the size of its output.
func (g *Gateway) recordResult(ctx context.Context, sessionID, actionID string, r Result, undo *Undo, outBytes int64) (*Advice, error) {
	var advice *Advice
	err := g.store.Update(ctx, func(tx Tx) error {
		var err error
		advice, err = g.recordTx(tx, sessionID, actionID, r, undo, outBytes)
		return err
	})
	return advice, err
}

// recordTx records a result inside tx. It checks everything before it
// writes anything, so that an error it returns for the result (not for
// the store) leaves tx as it was.
func (g *Gateway) recordTx(tx Tx, sessionID, actionID string, r Result, undo *Undo, outBytes int64) (advice *Advice, err error) {
	err = func() error {
		s, err := activeSession(tx, sessionID)
		if err != nil {
			return err
		}
		act, err := tx.Action(sessionID, actionID)
		if errors.Is(err, ErrNotFound) {
			return warden.Errorf(warden.CodeNotFound, "action %q not found in session %q", actionID, sessionID)
		} else if err != nil {
			return err
		}
		if act.Decision != warden.Allow {
			return warden.Errorf(warden.CodeInvalidState, "action %q was %s, not allowed; only allowed or approved actions take a result", actionID, act.Decision)
		}
		if act.Result != nil {
			return warden.Errorf(warden.CodeConflict, "result already recorded for action %q", actionID)
		}
		e, err := g.sessionEngine(s)
		if err != nil {
			return err
		}
		if !r.Success {
			msg := r.Error
			if msg == "" {
				msg, _ = r.Output.(string)
			}
			if e.Policy().Remediation != nil {
				actions, err := tx.Actions(sessionID)
				if err != nil {
					return err
				}
				advice = advise(e.Policy(), msg, fallbacksAdvised(actions))
			}
			r.Remediation = advice
		}
		stored := r
		if outputBytes(r.Output) > maxStoredOutput {
			// The ledger has the output's digest; the action keeps a stub
			// rather than every large file read in full.
			d, _ := canon.DigestJSON(r.Output)
			stored.Output = map[string]any{"omitted": true, "digest": d}
		}
		act.Result = &stored
		act.Undo = undo
		c := &s.Counters
		c.Results++
		c.CostUSD += r.CostUSD
		if outBytes < 0 {
			outBytes = outputBytes(r.Output)
		}
		c.OutputBytes += outBytes
		changed := append([]string(nil), r.FilesChanged...)
		for _, art := range r.Artifacts {
			if art.Path != "" && (art.Type == "diff" || art.Type == "checksum") {
				changed = append(changed, art.Path)
			}
		}
		if r.Success && len(changed) == 0 {
			// A tool that reports no files (an MCP server behind the
			// proxy, an HTTP client) changed those its action names.
			changed = e.ChangedPaths(warden.Action{Tool: act.Tool, Input: act.Input})
		}
		for _, p := range changed {
			isNew, err := tx.AddChangedFile(s.ID, p)
			if err != nil {
				return err
			}
			if isNew {
				c.FilesChanged++
			}
		}
		if err := tx.PutAction(act); err != nil {
			return err
		}
		s.UpdatedAt = g.now().UTC()
		s.Version++
		if err := tx.PutSession(s); err != nil {
			return err
		}
		entry := map[string]any{"actionId": actionID, "tool": act.Tool, "success": r.Success, "durationMs": r.DurationMS}
		if r.Error != "" {
			entry["error"] = r.Error
		}
		if r.Output != nil {
			if d, err := canon.DigestJSON(r.Output); err == nil {
				entry["outputDigest"] = d
			}
		}
		if len(r.FilesChanged) > 0 {
			entry["filesChanged"] = r.FilesChanged
		}
		if ev := requiredEvidence(e.Policy(), r.Artifacts); len(ev) > 0 {
			entry["evidence"] = ev
		}
		if advice != nil {
			entry["remediation"] = advice
		}
		return tx.Append(s.ID, "action:result", entry)
	}()
	return advice, err
}

// maxStoredOutput bounds the output kept with an action.
const maxStoredOutput = 64 << 10

// requiredEvidence picks the artifacts the policy's evidence.require asks
// for, to be stored in the ledger with the result.
func requiredEvidence(p *policy.Policy, arts []Artifact) []Artifact {
	var out []Artifact
	for _, a := range arts {
		for _, kind := range p.Evidence.Require {
			if evidenceType[kind] == a.Type {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// evidenceType maps evidence.require's words to artifact types.
var evidenceType = map[string]string{"checksums": "checksum", "diffs": "diff", "logs": "log", "exit_codes": "exit_code", "snapshots": "snapshot"}

// outputBytes counts an output's bytes: a string's own, anything else's
// JSON encoding.
func outputBytes(v any) int64 {
	switch t := v.(type) {
	case nil:
		return 0
	case string:
		return int64(len(t))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return int64(len(b))
}

// escalationIndex returns i for a rule "session.escalation[i]".
func escalationIndex(rule string) (int, bool) {
	s, ok := strings.CutPrefix(rule, "session.escalation[")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(s, "]"))
	return n, err == nil
}
