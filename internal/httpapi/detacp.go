package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// det-acp's request bodies. As in det-acp, unknown fields are ignored:
// "respondedBy" in particular is accepted and has no effect, because the
// approver is the token's identity.

type detValidateRequest struct {
	YAML *string `json:"yaml"`
}

func (*detValidateRequest) example() string {
	return `{"yaml": "version: \"1.0\"\nname: p\ncapabilities: ..."}`
}

type detCreateRequest struct {
	Policy   *string        `json:"policy"`
	Metadata map[string]any `json:"metadata"`
	Root     string         `json:"root"`
}

func (*detCreateRequest) example() string {
	return `{"policy": "version: \"1.0\"\nname: p\ncapabilities: ..."}`
}

type detAction struct {
	Tool           *string        `json:"tool"`
	Input          map[string]any `json:"input"`
	IdempotencyKey string         `json:"idempotencyKey"`
}

type detEvaluateRequest struct {
	Action *detAction `json:"action"`
}

func (*detEvaluateRequest) example() string {
	return `{"action": {"tool": "file:read", "input": {"path": "src/a.ts"}}}`
}

type detResult struct {
	Success      *bool              `json:"success"`
	Output       any                `json:"output"`
	Artifacts    []gateway.Artifact `json:"artifacts"`
	Error        string             `json:"error"`
	DurationMS   float64            `json:"durationMs"`
	CostUSD      float64            `json:"costUsd"`
	FilesChanged []string           `json:"filesChanged"`
}

type detRecordRequest struct {
	ActionID string     `json:"actionId"`
	Result   *detResult `json:"result"`
}

func (*detRecordRequest) example() string {
	return `{"actionId": "…", "result": {"success": true}}`
}

type detDecideRequest struct {
	ActionID string `json:"actionId"`
	Reason   string `json:"reason"`
}

func (*detDecideRequest) example() string {
	return `{"actionId": "…", "reason": "checked the diff"}`
}

type detTerminateRequest struct {
	Reason string `json:"reason"`
}

// det-acp's response bodies.

type detHealth struct {
	Status         string   `json:"status"`
	Timestamp      string   `json:"timestamp"`
	Tools          []string `json:"tools"`
	ActiveSessions int      `json:"activeSessions"`
	Version        string   `json:"version"`
}

// detBudget is det-acp's BudgetTracker.
type detBudget struct {
	StartedAt        int64   `json:"startedAt"`
	FilesChanged     int     `json:"filesChanged"`
	TotalOutputBytes int64   `json:"totalOutputBytes"`
	Retries          int     `json:"retries"`
	CostUSD          float64 `json:"costUsd"`
	ActionsEvaluated int     `json:"actionsEvaluated"`
	ActionsDenied    int     `json:"actionsDenied"`
}

// detUsage is det-acp's "budgetRemaining", which reports usage.
type detUsage struct {
	RuntimeMS        int64   `json:"runtimeMs"`
	FilesChanged     int     `json:"filesChanged"`
	TotalOutputBytes int64   `json:"totalOutputBytes"`
	ActionsEvaluated int     `json:"actionsEvaluated"`
	ActionsDenied    int     `json:"actionsDenied"`
	CostUSD          float64 `json:"costUsd"`
}

type detEvaluateResponse struct {
	ActionID        string                  `json:"actionId"`
	Decision        warden.Decision         `json:"decision"`
	Reasons         []string                `json:"reasons"`
	Gate            *warden.GateRequirement `json:"gate,omitempty"`
	BudgetRemaining detUsage                `json:"budgetRemaining"`
	Warnings        []string                `json:"warnings,omitempty"`
	Rule            string                  `json:"rule"`
	ApprovalID      string                  `json:"approvalId,omitempty"`
	Digest          string                  `json:"digest"`
}

type detRequest struct {
	Tool  string         `json:"tool"`
	Input map[string]any `json:"input"`
}

type detValidation struct {
	Verdict  warden.Decision         `json:"verdict"`
	Tool     string                  `json:"tool"`
	Reasons  []string                `json:"reasons"`
	Rule     string                  `json:"rule"`
	Gate     *warden.GateRequirement `json:"gate,omitempty"`
	Warnings []string                `json:"warnings,omitempty"`
}

// detSessionAction is det-acp's SessionAction: validation is the raw
// verdict, decision what the caller was told.
type detSessionAction struct {
	ID         string          `json:"id"`
	Index      int             `json:"index"`
	Request    detRequest      `json:"request"`
	Validation detValidation   `json:"validation"`
	Decision   warden.Decision `json:"decision"`
	ApprovalID string          `json:"approvalId,omitempty"`
	Digest     string          `json:"digest"`
	Result     *gateway.Result `json:"result,omitempty"`
	Timestamp  time.Time       `json:"timestamp"`
}

type detSession struct {
	ID                string             `json:"id"`
	Policy            *policy.Policy     `json:"policy"`
	PolicyName        string             `json:"policyName"`
	PolicyDigest      string             `json:"policyDigest"`
	State             string             `json:"state"`
	Budget            detBudget          `json:"budget"`
	Actions           []detSessionAction `json:"actions"`
	Metadata          map[string]any     `json:"metadata,omitempty"`
	Owner             string             `json:"owner,omitempty"`
	Root              string             `json:"root"`
	CreatedAt         time.Time          `json:"createdAt"`
	UpdatedAt         time.Time          `json:"updatedAt"`
	TerminatedAt      *time.Time         `json:"terminatedAt,omitempty"`
	TerminationReason string             `json:"terminationReason,omitempty"`
}

type detSessionSummary struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	ActionsCount int       `json:"actionsCount"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

type detReportBody struct {
	SessionID         string             `json:"sessionId"`
	PolicyName        string             `json:"policyName"`
	State             string             `json:"state"`
	TotalActions      int                `json:"totalActions"`
	Allowed           int                `json:"allowed"`
	Denied            int                `json:"denied"`
	Gated             int                `json:"gated"`
	Approved          int                `json:"approved"`
	Rejected          int                `json:"rejected"`
	DurationMS        int64              `json:"durationMs"`
	BudgetUsed        detBudget          `json:"budgetUsed"`
	TerminationReason string             `json:"terminationReason,omitempty"`
	MissingEvidence   []string           `json:"missingEvidence,omitempty"`
	Actions           []detSessionAction `json:"actions"`
}

func budget(started time.Time, c gateway.Counters) detBudget {
	return detBudget{StartedAt: started.UnixMilli(), FilesChanged: c.FilesChanged, TotalOutputBytes: c.OutputBytes,
		Retries: c.Retries, CostUSD: c.CostUSD, ActionsEvaluated: c.ActionsEvaluated, ActionsDenied: c.Denied + c.Rejected}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func detActions(list []*gateway.Action) []detSessionAction {
	out := make([]detSessionAction, len(list))
	for i, a := range list {
		v := a.Verdict
		out[i] = detSessionAction{
			ID: a.ID, Index: a.Index, Request: detRequest{Tool: a.Tool, Input: a.Input},
			Validation: detValidation{Verdict: v.Decision, Tool: v.Tool, Reasons: nonNil(v.Reasons), Rule: v.Rule, Gate: v.Gate, Warnings: v.Warnings},
			Decision:   a.Decision, ApprovalID: a.ApprovalID, Digest: a.Digest, Result: a.Result, Timestamp: a.CreatedAt,
		}
	}
	return out
}

func detSessionOf(s *gateway.Session, actions []*gateway.Action) detSession {
	// The stored policy validated when the session began; it is shown
	// parsed, with defaults, as det-acp shows it.
	pol, _ := policy.Parse([]byte(s.Policy), s.PolicyName)
	return detSession{
		ID: s.ID, Policy: pol, PolicyName: s.PolicyName, PolicyDigest: s.PolicyDigest, State: s.State,
		Budget: budget(s.CreatedAt, s.Counters), Actions: detActions(actions), Metadata: s.Metadata, Owner: s.Owner,
		Root: s.Root, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, TerminatedAt: s.TerminatedAt, TerminationReason: s.TerminationReason,
	}
}

func detReportOf(created time.Time, r *gateway.Report) detReportBody {
	return detReportBody{
		SessionID: r.SessionID, PolicyName: r.PolicyName, State: r.State, TotalActions: r.TotalActions,
		Allowed: r.Allowed, Denied: r.Denied, Gated: r.Gated, Approved: r.Approved, Rejected: r.Rejected,
		DurationMS: r.DurationMS, BudgetUsed: budget(created, r.BudgetUsed), TerminationReason: r.TerminationReason,
		MissingEvidence: r.MissingEvidence, Actions: detActions(r.Actions),
	}
}

func (s *server) detHealth(r *http.Request, _ auth.Principal) (int, any, error) {
	active, err := s.gw.Sessions(r.Context(), gateway.SessionFilter{State: gateway.Active})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, detHealth{Status: "ok", Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		Tools: engine.Kinds, ActiveSessions: len(active), Version: s.version}, nil
}

func (s *server) detValidate(r *http.Request, _ auth.Principal) (int, any, error) {
	var req detValidateRequest
	if err := decode(r, &req, false, required); err != nil {
		return 0, nil, err
	}
	if req.YAML == nil {
		return 0, nil, missing("yaml", req.example())
	}
	pol, err := parsePolicy(*req.YAML)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"valid": true, "policy": pol, "warnings": append(policy.Errors{}, pol.Warnings...)}, nil
}

func (s *server) detCreateSession(r *http.Request, p auth.Principal) (int, any, error) {
	var req detCreateRequest
	if err := decode(r, &req, false, required); err != nil {
		return 0, nil, err
	}
	if req.Policy == nil || strings.TrimSpace(*req.Policy) == "" {
		return 0, nil, missing("policy", req.example())
	}
	inline, path := *req.Policy, ""
	if looksLikePath(inline) {
		inline, path = "", strings.TrimSpace(inline)
	}
	sess, err := s.createSession(r.Context(), p, inline, path, req.Root, req.Metadata)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"sessionId": sess.ID, "state": sess.State, "session": detSessionOf(sess, nil)}, nil
}

func (s *server) detListSessions(r *http.Request, p auth.Principal) (int, any, error) {
	list, err := s.gw.Sessions(r.Context(), gateway.SessionFilter{Owner: ownerFilter(p)})
	if err != nil {
		return 0, nil, err
	}
	out := make([]detSessionSummary, len(list))
	for i, x := range list {
		out[i] = detSessionSummary{ID: x.ID, State: x.State, ActionsCount: x.Counters.ActionsEvaluated, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
	}
	return http.StatusOK, map[string]any{"sessions": out}, nil
}

func (s *server) detGetSession(r *http.Request, p auth.Principal) (int, any, error) {
	id := r.PathValue("id")
	sess, err := s.session(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	rep, err := s.gw.Report(r.Context(), id, true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"session": detSessionOf(sess, rep.Actions)}, nil
}

func (s *server) detEvaluate(r *http.Request, p auth.Principal) (int, any, error) {
	var req detEvaluateRequest
	if err := decode(r, &req, false, required); err != nil {
		return 0, nil, err
	}
	if req.Action == nil {
		return 0, nil, missing("action", req.example())
	}
	if req.Action.Tool == nil || strings.TrimSpace(*req.Action.Tool) == "" {
		return 0, nil, missing("action.tool", req.example())
	}
	id := r.PathValue("id")
	sess, err := s.session(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.gw.Evaluate(r.Context(), id, warden.Action{Tool: *req.Action.Tool, Input: req.Action.Input}, gateway.EvaluateOptions{Actor: p.Name})
	if err != nil {
		return 0, nil, err
	}
	s.metrics.evaluations.WithLabelValues(string(resp.Decision)).Inc()
	c := resp.BudgetUsed
	return http.StatusOK, detEvaluateResponse{
		ActionID: resp.ActionID, Decision: resp.Decision, Reasons: nonNil(resp.Reasons), Gate: resp.Gate,
		BudgetRemaining: detUsage{RuntimeMS: time.Since(sess.CreatedAt).Milliseconds(), FilesChanged: c.FilesChanged,
			TotalOutputBytes: c.OutputBytes, ActionsEvaluated: c.ActionsEvaluated, ActionsDenied: c.Denied + c.Rejected, CostUSD: c.CostUSD},
		Warnings: resp.Warnings, Rule: resp.Rule, ApprovalID: resp.ApprovalID, Digest: resp.Digest,
	}, nil
}

func (s *server) detRecord(r *http.Request, p auth.Principal) (int, any, error) {
	var req detRecordRequest
	if err := decode(r, &req, false, required); err != nil {
		return 0, nil, err
	}
	if req.ActionID == "" {
		return 0, nil, missing("actionId", req.example())
	}
	if req.Result == nil || req.Result.Success == nil {
		return 0, nil, missing("result.success", req.example())
	}
	x := req.Result
	res, err := result(gateway.Result{Success: *x.Success, Output: x.Output, Error: x.Error, DurationMS: int64(x.DurationMS),
		CostUSD: x.CostUSD, Artifacts: x.Artifacts, FilesChanged: x.FilesChanged})
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	if _, err := s.gw.RecordResult(r.Context(), id, req.ActionID, res); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"success": true}, nil
}

// detDecision reads a det-acp approve or reject body (a reject needs a
// reason) and finds the approval its action asked for.
func (s *server) detDecision(r *http.Request, needReason bool) (detDecideRequest, *gateway.Approval, error) {
	var req detDecideRequest
	if err := decode(r, &req, false, required); err != nil {
		return req, nil, err
	}
	if req.ActionID == "" {
		return req, nil, missing("actionId", req.example())
	}
	if needReason && strings.TrimSpace(req.Reason) == "" {
		return req, nil, missing("reason", req.example())
	}
	a, err := s.gw.ApprovalForAction(r.Context(), r.PathValue("id"), req.ActionID)
	return req, a, err
}

func (s *server) detApprove(r *http.Request, p auth.Principal) (int, any, error) {
	req, a, err := s.detDecision(r, false)
	if err != nil {
		return 0, nil, err
	}
	if a, err = s.gw.Approve(r.Context(), a.ID, approver(p), gateway.ApproveOptions{Comment: req.Reason}); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"approved": true, "respondedBy": p.Name, "approvalId": a.ID, "actionId": req.ActionID,
		"state": a.State, "approvals": len(a.Votes), "required": a.Requirement.MinApprovals,
	}, nil
}

func (s *server) detReject(r *http.Request, p auth.Principal) (int, any, error) {
	req, a, err := s.detDecision(r, true)
	if err != nil {
		return 0, nil, err
	}
	if a, err = s.gw.Reject(r.Context(), a.ID, approver(p), req.Reason); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"rejected": true, "respondedBy": p.Name, "approvalId": a.ID, "actionId": req.ActionID, "state": a.State,
	}, nil
}

func (s *server) detTerminate(r *http.Request, p auth.Principal) (int, any, error) {
	var req detTerminateRequest
	if err := decode(r, &req, false, optional); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	sess, err := s.session(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.gw.Terminate(r.Context(), id, req.Reason); err != nil {
		return 0, nil, err
	}
	// det-acp's report lists the actions, which Terminate's does not.
	rep, err := s.gw.Report(r.Context(), id, true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"report": detReportOf(sess.CreatedAt, rep)}, nil
}

func (s *server) detReport(r *http.Request, p auth.Principal) (int, any, error) {
	id := r.PathValue("id")
	sess, err := s.session(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	rep, err := s.gw.Report(r.Context(), id, true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"report": detReportOf(sess.CreatedAt, rep)}, nil
}
