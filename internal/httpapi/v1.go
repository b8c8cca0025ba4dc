package httpapi

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// Request bodies of the /v1 API. Unknown fields are refused.

type v1CreateRequest struct {
	Policy     *string        `json:"policy"`
	PolicyPath *string        `json:"policy_path"`
	Root       string         `json:"root"`
	Metadata   map[string]any `json:"metadata"`
}

func (*v1CreateRequest) example() string {
	return `{"policy": "version: \"1.0\"\nname: p\ncapabilities: ..."}`
}

type v1EvaluateRequest struct {
	Tool  *string        `json:"tool"`
	Input map[string]any `json:"input"`
}

func (*v1EvaluateRequest) example() string {
	return `{"tool": "file:read", "input": {"path": "src/a.ts"}}`
}

type v1Result struct {
	Success      *bool              `json:"success"`
	Output       any                `json:"output"`
	Error        string             `json:"error"`
	DurationMS   int64              `json:"duration_ms"`
	CostUSD      float64            `json:"cost_usd"`
	Artifacts    []gateway.Artifact `json:"artifacts"`
	FilesChanged []string           `json:"files_changed"`
}

type v1RecordRequest struct {
	ActionID string    `json:"action_id"`
	Result   *v1Result `json:"result"`
}

func (*v1RecordRequest) example() string {
	return `{"action_id": "…", "result": {"success": true}}`
}

type v1TerminateRequest struct {
	Reason string `json:"reason"`
}

type v1ApproveRequest struct {
	Comment    string `json:"comment"`
	ForSession bool   `json:"for_session"`
}

type v1RejectRequest struct {
	Reason string `json:"reason"`
}

func (*v1RejectRequest) example() string { return `{"reason": "not during the freeze"}` }

type v1ValidateRequest struct {
	Policy *string `json:"policy"`
}

func (*v1ValidateRequest) example() string {
	return `{"policy": "version: \"1.0\"\nname: p\ncapabilities: ..."}`
}

type v1ExplainRequest struct {
	Policy *string        `json:"policy"`
	Tool   *string        `json:"tool"`
	Input  map[string]any `json:"input"`
	Dir    string         `json:"dir"`
}

func (*v1ExplainRequest) example() string {
	return `{"policy": "…", "tool": "file:read", "input": {"path": "src/a.ts"}}`
}

// Response bodies that are not gateway types.

type sessionList struct {
	Sessions []*gateway.Session `json:"sessions"`
}

type approvalList struct {
	Approvals []*gateway.Approval `json:"approvals"`
}

type recorded struct {
	Recorded    bool            `json:"recorded"`
	ActionID    string          `json:"actionId"`
	Remediation *gateway.Advice `json:"remediation,omitempty"`
}

type validation struct {
	Valid    bool          `json:"valid"`
	Name     string        `json:"name,omitempty"`
	Errors   policy.Errors `json:"errors"`
	Warnings policy.Errors `json:"warnings"`
}

type health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// createSession starts a session owned by p, with a policy given inline or,
// when path is set, read from the policy directory.
func (s *server) createSession(ctx context.Context, p auth.Principal, inline, path, root string, meta map[string]any) (*gateway.Session, error) {
	src, name := []byte(inline), "policy"
	if path != "" {
		var err error
		if src, name, err = s.readPolicyFile(path); err != nil {
			return nil, err
		}
	}
	if err := checkDir("root", root); err != nil {
		return nil, err
	}
	own := path == "" && p.Role == auth.RoleAgent
	return s.gw.CreateSession(ctx, gateway.CreateRequest{Policy: src, PolicyName: name, Root: root, Metadata: meta, Owner: p.Name, OwnPolicy: own})
}

// checkDir accepts an empty dir (the server's working directory) or an
// existing directory.
func checkDir(field, dir string) error {
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return invalid("field %q: %q is not an existing directory on the server; give the project root, or leave it out for the server's working directory", field, dir)
	}
	return nil
}

// result checks a result's numbers and converts it.
func result(r gateway.Result) (gateway.Result, error) {
	if r.DurationMS < 0 || r.CostUSD < 0 {
		return r, invalid("a result's duration and cost must not be negative")
	}
	for i, a := range r.Artifacts {
		if strings.TrimSpace(a.Type) == "" {
			return r, invalid("artifacts[%d]: field \"type\" is required, e.g. {\"type\": \"checksum\", \"value\": \"sha256:…\"}", i)
		}
	}
	return r, nil
}

func (s *server) v1CreateSession(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1CreateRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if (req.Policy == nil) == (req.PolicyPath == nil) {
		return 0, nil, invalid("send exactly one of \"policy\" (the policy's YAML text) and \"policy_path\" (a file in the server's policy directory)")
	}
	var inline, path string
	if req.Policy != nil {
		inline = *req.Policy
	} else {
		path = *req.PolicyPath
	}
	sess, err := s.createSession(r.Context(), p, inline, path, req.Root, req.Metadata)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, sess, nil
}

func (s *server) v1ListSessions(r *http.Request, p auth.Principal) (int, any, error) {
	state := r.URL.Query().Get("state")
	if state != "" && state != gateway.Active && state != gateway.Terminated {
		return 0, nil, invalid("query parameter state must be active or terminated, not %q", state)
	}
	list, err := s.gw.Sessions(r.Context(), gateway.SessionFilter{Owner: ownerFilter(p), State: state})
	if err != nil {
		return 0, nil, err
	}
	if list == nil {
		list = []*gateway.Session{}
	}
	return http.StatusOK, sessionList{Sessions: list}, nil
}

func (s *server) v1GetSession(r *http.Request, p auth.Principal) (int, any, error) {
	sess, err := s.session(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sess, nil
}

func (s *server) v1Evaluate(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1EvaluateRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if req.Tool == nil || strings.TrimSpace(*req.Tool) == "" {
		return 0, nil, missing("tool", req.example())
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	resp, err := s.gw.Evaluate(r.Context(), id, warden.Action{Tool: *req.Tool, Input: req.Input}, gateway.EvaluateOptions{Actor: p.Name})
	if err != nil {
		return 0, nil, err
	}
	s.metrics.evaluations.WithLabelValues(string(resp.Decision)).Inc()
	return http.StatusOK, resp, nil
}

type v1ExecuteRequest struct {
	Tool   *string        `json:"tool"`
	Input  map[string]any `json:"input"`
	DryRun bool           `json:"dry_run"`
}

func (*v1ExecuteRequest) example() string {
	return `{"tool": "file:write", "input": {"path": "src/a.ts", "content": "…"}, "dry_run": false}`
}

// v1Execute evaluates an action and, when allowed, runs it with Warden's
// executor for its kind and records the result.
func (s *server) v1Execute(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1ExecuteRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if req.Tool == nil || strings.TrimSpace(*req.Tool) == "" {
		return 0, nil, missing("tool", req.example())
	}
	id := r.PathValue("id")
	sess, err := s.session(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.mayExecute(sess); err != nil {
		return 0, nil, err
	}
	x, err := s.gw.Execute(r.Context(), id, warden.Action{Tool: *req.Tool, Input: req.Input}, gateway.ExecuteOptions{Actor: p.Name, DryRun: req.DryRun})
	if err != nil {
		return 0, nil, err
	}
	if !req.DryRun {
		s.metrics.evaluations.WithLabelValues(string(x.Decision)).Inc()
	}
	return http.StatusOK, x, nil
}

// mayExecute refuses execution this server was not set up for: outside
// its execution root, or under a policy the session's own agent wrote.
func (s *server) mayExecute(sess *gateway.Session) error {
	if s.execRoot == "" {
		return warden.Errorf(warden.CodeForbidden, "this server does not execute actions; start it with --exec-root DIR to execute for sessions whose root is inside DIR")
	}
	if sess.OwnPolicy {
		return warden.Errorf(warden.CodeForbidden, "session %q runs under a policy its agent supplied; to execute, create the session with policy_path (a policy from the server's policy directory) or with an admin token", sess.ID)
	}
	root := sess.Root
	if root == "" {
		root = "."
	}
	phys, err := filepath.Abs(root)
	if err == nil {
		phys, err = filepath.EvalSymlinks(phys)
	}
	if err != nil || !within(phys, s.execRoot) {
		return warden.Errorf(warden.CodeForbidden, "session root %q is outside the server's execution root %s", sess.Root, s.execRoot)
	}
	return nil
}

// within reports whether path is dir or inside it; both are clean.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

type v1RollbackRequest struct {
	ActionID string `json:"action_id"`
}

// v1Rollback undoes what executors did in a session: one action, or all.
func (s *server) v1Rollback(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1RollbackRequest
	if err := decode(r, &req, true, optional); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	rep, err := s.gw.Rollback(r.Context(), id, req.ActionID, p.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}

func (s *server) v1Record(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1RecordRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if req.ActionID == "" {
		return 0, nil, missing("action_id", req.example())
	}
	if req.Result == nil || req.Result.Success == nil {
		return 0, nil, missing("result.success", req.example())
	}
	res, err := result(gateway.Result{Success: *req.Result.Success, Output: req.Result.Output, Error: req.Result.Error,
		DurationMS: req.Result.DurationMS, CostUSD: req.Result.CostUSD, Artifacts: req.Result.Artifacts, FilesChanged: req.Result.FilesChanged})
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	advice, err := s.gw.RecordResult(r.Context(), id, req.ActionID, res)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, recorded{Recorded: true, ActionID: req.ActionID, Remediation: advice}, nil
}

func (s *server) v1Terminate(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1TerminateRequest
	if err := decode(r, &req, true, optional); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	rep, err := s.gw.Terminate(r.Context(), id, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}

func (s *server) v1Report(r *http.Request, p auth.Principal) (int, any, error) {
	withActions := false
	if v := r.URL.Query().Get("actions"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return 0, nil, invalid("query parameter actions must be true or false, not %q", v)
		}
		withActions = b
	}
	id := r.PathValue("id")
	if _, err := s.session(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	rep, err := s.gw.Report(r.Context(), id, withActions)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}

func (s *server) v1ListApprovals(r *http.Request, p auth.Principal) (int, any, error) {
	list, err := s.gw.Pending(r.Context(), r.URL.Query().Get("session"))
	if err != nil {
		return 0, nil, err
	}
	if list == nil {
		list = []*gateway.Approval{}
	}
	return http.StatusOK, approvalList{Approvals: list}, nil
}

func (s *server) v1GetApproval(r *http.Request, p auth.Principal) (int, any, error) {
	id := r.PathValue("id")
	a, err := s.gw.Approval(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	// An agent may follow the approvals it asked for, and no others.
	if !ownerOK(p, a.Requester) {
		return 0, nil, warden.Errorf(warden.CodeNotFound, "approval %q not found", id)
	}
	return http.StatusOK, a, nil
}

func (s *server) v1Approve(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1ApproveRequest
	if err := decode(r, &req, true, optional); err != nil {
		return 0, nil, err
	}
	a, err := s.gw.Approve(r.Context(), r.PathValue("id"), approver(p), gateway.ApproveOptions{Comment: req.Comment, ForSession: req.ForSession})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a, nil
}

func (s *server) v1Reject(r *http.Request, p auth.Principal) (int, any, error) {
	var req v1RejectRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return 0, nil, missing("reason", req.example())
	}
	a, err := s.gw.Reject(r.Context(), r.PathValue("id"), approver(p), req.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a, nil
}

func (s *server) v1Validate(r *http.Request, _ auth.Principal) (int, any, error) {
	var req v1ValidateRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if req.Policy == nil {
		return 0, nil, missing("policy", req.example())
	}
	pol, err := policy.Parse([]byte(*req.Policy), "policy")
	out := validation{Errors: policy.Errors{}, Warnings: policy.Errors{}}
	var pe policy.Errors
	switch {
	case errors.As(err, &pe):
		out.Errors = pe
	case err != nil:
		return 0, nil, err
	default:
		out.Valid, out.Name = true, pol.Name
		out.Warnings = append(out.Warnings, pol.Warnings...)
	}
	return http.StatusOK, out, nil
}

func (s *server) v1Explain(r *http.Request, _ auth.Principal) (int, any, error) {
	var req v1ExplainRequest
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if req.Policy == nil {
		return 0, nil, missing("policy", req.example())
	}
	if req.Tool == nil || strings.TrimSpace(*req.Tool) == "" {
		return 0, nil, missing("tool", req.example())
	}
	if err := checkDir("dir", req.Dir); err != nil {
		return 0, nil, err
	}
	pol, err := parsePolicy(*req.Policy)
	if err != nil {
		return 0, nil, err
	}
	eng, err := engine.New(pol, engine.Options{Root: req.Dir})
	if err != nil {
		return 0, nil, invalid("the policy cannot be compiled for dir %q: %v", req.Dir, err)
	}
	input := req.Input
	if input == nil {
		input = map[string]any{}
	}
	v := eng.Evaluate(engine.Request{Action: warden.Action{Tool: *req.Tool, Input: input}, Trace: true})
	return http.StatusOK, v, nil
}

// parsePolicy parses inline YAML, reporting problems as INVALID_POLICY
// with each one's line and column in the details.
func parsePolicy(src string) (*policy.Policy, error) {
	pol, err := policy.Parse([]byte(src), "policy")
	var pe policy.Errors
	if errors.As(err, &pe) {
		return nil, &warden.Error{Code: warden.CodeInvalidPolicy,
			Message: "the policy does not validate:\n" + pe.Error(),
			Details: map[string]any{"valid": false, "errors": pe}}
	}
	return pol, err
}

func (s *server) v1Healthz(*http.Request, auth.Principal) (int, any, error) {
	return http.StatusOK, health{Status: "ok", Version: s.version}, nil
}
