package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/planexec"
	"github.com/wardenhq/warden/internal/warden"
)

// The decision and template routes: nexus-control's approval control plane
// over HTTP, answering with SPEC §5's envelope like the rest of /v1.
//
// Who may do what: an agent requests decisions and reads and executes its
// own (another's answers DECISION_NOT_FOUND, exactly as an unknown id, so
// that ids are not confirmed); an approver reads every decision and
// approves, revokes and rejects; an admin does everything, and alone
// creates templates. The token's identity, never a body field, is the
// requester, approver or executor the decision records.

// Request bodies.

type decisionRequestBody struct {
	Goal                *string         `json:"goal"`
	Mode                decision.Mode   `json:"mode"`
	Plan                json.RawMessage `json:"plan"`
	TemplateName        string          `json:"template_name"`
	MinApprovals        *int            `json:"min_approvals"`
	AllowedModes        []decision.Mode `json:"allowed_modes"`
	RequireCapabilities []string        `json:"require_adapter_capabilities"`
	MaxSteps            *int            `json:"max_steps"`
	Labels              []string        `json:"labels"`
	Approvers           []string        `json:"approvers"`
	AllowSelfApproval   *bool           `json:"allow_self_approval"`
	ExpiresAt           *string         `json:"expires_at"`
}

func (*decisionRequestBody) example() string {
	return `{"goal": "rotate the staging keys", "mode": "dry_run", "min_approvals": 2}`
}

type decisionApproveBody struct {
	Comment   string  `json:"comment"`
	ExpiresAt *string `json:"expires_at"`
}

func (*decisionApproveBody) example() string {
	return `{"comment": "looks right", "expires_at": "2030-01-01T00:00:00Z"}`
}

type decisionReasonBody struct {
	Reason string `json:"reason"`
}

func (*decisionReasonBody) example() string { return `{"reason": "not during the freeze"}` }

type decisionExecuteBody struct {
	Mode      decision.Mode `json:"mode"`
	AdapterID string        `json:"adapter_id"`
}

func (*decisionExecuteBody) example() string { return `{"mode": "dry_run", "adapter_id": "builtin"}` }

// templateBody is a template definition: decision.TemplateSpec's fields.
type templateBody decision.TemplateSpec

func (*templateBody) example() string {
	return `{"name": "prod-deploy", "min_approvals": 2, "allowed_modes": ["dry_run", "apply"], "labels": ["prod"]}`
}

// Response bodies. They are exported so that the command line prints the
// same JSON whether it works on the local database or with --server.

// DecisionStatus is a decision as the API shows it: its recorded fields
// with the state it is in now (approved and expired included), where its
// approvals stand, what blocks it and its progress.
type DecisionStatus struct {
	*decision.Decision
	// State shadows the recorded state with the state now.
	State decision.State `json:"state"`
	// Approvals shadows the map with a list sorted by identity; absent in
	// lists.
	Approvals       []*decision.Approval      `json:"approvals,omitempty"`
	ActiveApprovals int                       `json:"active_approvals"`
	Required        int                       `json:"required_approvals"`
	IsApproved      bool                      `json:"is_approved"`
	BlockingReasons []decision.BlockingReason `json:"blocking_reasons"`
	Progress        decision.Progress         `json:"progress"`
}

// NewDecisionStatus returns decision d's status at time now, with its
// approvals listed when withApprovals.
func NewDecisionStatus(d *decision.Decision, now time.Time, withApprovals bool) *DecisionStatus {
	v := &DecisionStatus{
		Decision: d, State: d.StateAt(now), ActiveApprovals: d.ActiveApprovals(now), Required: d.Required(),
		IsApproved: d.IsApproved(now), BlockingReasons: decision.BlockingReasons(d, now), Progress: decision.ProgressOf(d, now),
	}
	if v.BlockingReasons == nil {
		v.BlockingReasons = []decision.BlockingReason{}
	}
	if withApprovals {
		v.Approvals = d.ApprovalList()
	}
	return v
}

// DecisionList is one page of decisions.
type DecisionList struct {
	Decisions []*DecisionStatus `json:"decisions"`
	// Next is the cursor of the following page; absent on the last.
	Next string `json:"next,omitempty"`
}

// DecisionEvents is a decision's history.
type DecisionEvents struct {
	DecisionID string           `json:"decision_id"`
	Events     []decision.Event `json:"events"`
}

// TemplateList is one page of templates.
type TemplateList struct {
	Templates []*decision.Template `json:"templates"`
	Next      string               `json:"next,omitempty"`
}

// decisions returns the decision service, or an error saying the server
// has none.
func (s *server) decisions() (*decision.Service, error) {
	if s.decs == nil {
		return nil, warden.Errorf(warden.CodeNotFound, "this server serves no decisions")
	}
	return s.decs, nil
}

// actorOf is the decision actor a principal acts as: an agent is a system
// actor, people (approvers and admins) are human ones. Identity is the
// name alone, so an agent and an approver token of one name are one
// identity, which cannot approve what it requested.
func actorOf(p auth.Principal) (decision.Actor, error) {
	a := decision.Actor{Type: decision.Human, ID: p.Name}
	if p.Role == auth.RoleAgent {
		a.Type = decision.System
	}
	if a.ID == decision.SystemActor.ID && a.Type == decision.SystemActor.Type {
		return a, warden.Errorf(warden.CodeForbidden, "the identity %q is reserved for Warden itself; issue the agent's token under another name", a.ID)
	}
	return a, nil
}

// loadDecision loads decision id for p: an agent sees only the decisions it
// requested; another's is "not found", exactly as an unknown id is.
func (s *server) loadDecision(r *http.Request, p auth.Principal, id string) (*decision.Service, *decision.Decision, error) {
	svc, err := s.decisions()
	if err != nil {
		return nil, nil, err
	}
	d, err := svc.Get(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if !ownerOK(p, d.Requester.ID) {
		return nil, nil, warden.Errorf(warden.CodeDecisionNotFound, "decision %q not found", id)
	}
	return svc, d, nil
}

// parseTime parses an RFC 3339 time given in field.
func parseTime(field, s string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, &warden.Error{Code: warden.CodeInvalidInput,
			Message: "field \"" + field + "\" must be an RFC 3339 time such as 2030-01-01T12:00:00Z, not " + strconv.Quote(s),
			Details: map[string]any{"errors": []any{map[string]any{"field": field, "message": "is not an RFC 3339 time"}}}}
	}
	return &t, nil
}

// query parses the request's query string, refusing malformed escapes,
// parameters that are not among allowed, and a repeated parameter not in
// repeatable.
func query(r *http.Request, allowed, repeatable []string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("malformed query string: %v", err)
	}
	for k, vs := range q {
		switch {
		case !slices.Contains(allowed, k) && !slices.Contains(repeatable, k):
			names := append(slices.Clone(allowed), repeatable...)
			slices.Sort(names)
			return nil, invalid("unknown query parameter %q; the parameters of this request are: %s", k, strings.Join(names, ", "))
		case len(vs) > 1 && !slices.Contains(repeatable, k):
			return nil, invalid("query parameter %q is given %d times; give it once", k, len(vs))
		}
		for _, v := range vs {
			if !utf8.ValidString(v) || len(v) > 4096 {
				return nil, invalid("query parameter %q must be valid UTF-8 of at most 4096 bytes", k)
			}
		}
	}
	return q, nil
}

// pageLimit parses the limit parameter: 0 (the default page) when absent.
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > decision.MaxLimit {
		return 0, invalid("query parameter limit must be an integer from 1 to %d, not %q", decision.MaxLimit, v)
	}
	return n, nil
}

func (s *server) v1RequestDecision(r *http.Request, p auth.Principal) (int, any, error) {
	var req decisionRequestBody
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	if req.Goal == nil {
		return 0, nil, missing("goal", req.example())
	}
	actor, err := actorOf(p)
	if err != nil {
		return 0, nil, err
	}
	if req.AllowSelfApproval != nil && *req.AllowSelfApproval && p.Role != auth.RoleAdmin {
		return 0, nil, warden.Errorf(warden.CodeForbidden, "only an admin may allow self-approval; leave allow_self_approval out, or use a template that allows it")
	}
	dr := &decision.Request{
		Goal: *req.Goal, Actor: actor, Mode: req.Mode, Plan: req.Plan, Template: req.TemplateName,
		MinApprovals: req.MinApprovals, AllowedModes: req.AllowedModes, RequireCapabilities: req.RequireCapabilities,
		MaxSteps: req.MaxSteps, Labels: req.Labels, Approvers: req.Approvers, AllowSelfApproval: req.AllowSelfApproval,
	}
	if req.ExpiresAt != nil {
		if dr.ExpiresAt, err = parseTime("expires_at", *req.ExpiresAt); err != nil {
			return 0, nil, err
		}
	}
	d, err := svc.Create(r.Context(), dr)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, NewDecisionStatus(d, time.Now(), true), nil
}

func (s *server) v1ListDecisions(r *http.Request, p auth.Principal) (int, any, error) {
	q, err := query(r, []string{"requester", "template", "session", "limit", "cursor"}, []string{"state", "label"})
	if err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	f := decision.Filter{Labels: q["label"], Requester: q.Get("requester"), Template: q.Get("template"), SessionID: q.Get("session"), Cursor: q.Get("cursor")}
	for _, st := range q["state"] {
		f.States = append(f.States, decision.State(st))
	}
	if f.Limit, err = pageLimit(q); err != nil {
		return 0, nil, err
	}
	if f.Cursor != "" {
		at, id, ok := strings.Cut(f.Cursor, " ")
		if _, terr := time.Parse(decision.TimeFormat, at); !ok || terr != nil || id == "" {
			return 0, nil, invalid("query parameter cursor %q is not a cursor; pass the \"next\" of the previous page unchanged", f.Cursor)
		}
	}
	// An agent lists only the decisions it requested.
	if p.Role == auth.RoleAgent {
		if f.Requester != "" && f.Requester != p.Name {
			return http.StatusOK, DecisionList{Decisions: []*DecisionStatus{}}, nil
		}
		f.Requester = p.Name
	}
	page, err := svc.List(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	now := time.Now()
	out := DecisionList{Decisions: make([]*DecisionStatus, len(page.Decisions)), Next: page.Next}
	for i, d := range page.Decisions {
		out.Decisions[i] = NewDecisionStatus(d, now, false)
	}
	return http.StatusOK, out, nil
}

func (s *server) v1GetDecision(r *http.Request, p auth.Principal) (int, any, error) {
	if _, err := query(r, nil, nil); err != nil {
		return 0, nil, err
	}
	_, d, err := s.loadDecision(r, p, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, NewDecisionStatus(d, time.Now(), true), nil
}

func (s *server) v1InspectDecision(r *http.Request, p auth.Principal) (int, any, error) {
	q, err := query(r, []string{"format", "events", "timeline_limit"}, nil)
	if err != nil {
		return 0, nil, err
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "markdown" {
		return 0, nil, invalid("query parameter format must be json or markdown, not %q", format)
	}
	var opts decision.InspectOptions
	if v := q.Get("events"); v != "" {
		if opts.IncludeEvents, err = strconv.ParseBool(v); err != nil {
			return 0, nil, invalid("query parameter events must be true or false, not %q", v)
		}
	}
	if v := q.Get("timeline_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 || n > decision.MaxLimit {
			return 0, nil, invalid("query parameter timeline_limit must be an integer from 1 to %d, or -1 for the whole timeline, not %q", decision.MaxLimit, v)
		}
		opts.TimelineLimit = n
	}
	id := r.PathValue("id")
	svc, _, err := s.loadDecision(r, p, id)
	if err != nil {
		return 0, nil, err
	}
	in, err := svc.Inspect(r.Context(), id, opts)
	if err != nil {
		return 0, nil, err
	}
	if format == "markdown" {
		return http.StatusOK, blob{contentType: "text/markdown; charset=utf-8", data: []byte(in.Markdown())}, nil
	}
	return http.StatusOK, in, nil
}

func (s *server) v1DecisionEvents(r *http.Request, p auth.Principal) (int, any, error) {
	if _, err := query(r, nil, nil); err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	svc, _, err := s.loadDecision(r, p, id)
	if err != nil {
		return 0, nil, err
	}
	events, err := svc.Events(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	if events == nil {
		events = []decision.Event{}
	}
	return http.StatusOK, DecisionEvents{DecisionID: id, Events: events}, nil
}

func (s *server) v1ApproveDecision(r *http.Request, p auth.Principal) (int, any, error) {
	var req decisionApproveBody
	if err := decode(r, &req, true, optional); err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	actor, err := actorOf(p)
	if err != nil {
		return 0, nil, err
	}
	opts := decision.ApproveOptions{Comment: req.Comment}
	if req.ExpiresAt != nil {
		if opts.ExpiresAt, err = parseTime("expires_at", *req.ExpiresAt); err != nil {
			return 0, nil, err
		}
	}
	st, err := svc.Approve(r.Context(), r.PathValue("id"), actor, opts)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, st, nil
}

func (s *server) v1RevokeDecision(r *http.Request, p auth.Principal) (int, any, error) {
	var req decisionReasonBody
	if err := decode(r, &req, true, optional); err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	actor, err := actorOf(p)
	if err != nil {
		return 0, nil, err
	}
	st, err := svc.Revoke(r.Context(), r.PathValue("id"), actor, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, st, nil
}

func (s *server) v1RejectDecision(r *http.Request, p auth.Principal) (int, any, error) {
	var req decisionReasonBody
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return 0, nil, missing("reason", req.example())
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	actor, err := actorOf(p)
	if err != nil {
		return 0, nil, err
	}
	d, err := svc.Reject(r.Context(), r.PathValue("id"), actor, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, NewDecisionStatus(d, time.Now(), false), nil
}

func (s *server) v1ExecuteDecision(r *http.Request, p auth.Principal) (int, any, error) {
	var req decisionExecuteBody
	if err := decode(r, &req, true, optional); err != nil {
		return 0, nil, err
	}
	actor, err := actorOf(p)
	if err != nil {
		return 0, nil, err
	}
	id := r.PathValue("id")
	svc, d, err := s.loadDecision(r, p, id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.mayRunPlan(r, p, d, req.AdapterID); err != nil {
		return 0, nil, err
	}
	run, err := svc.Execute(r.Context(), id, decision.ExecuteOptions{Actor: actor, Mode: req.Mode, AdapterID: req.AdapterID})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, run, nil
}

// mayRunPlan refuses to run decision d's plan in a gateway session that
// p may not see or that this server would not execute actions in (see
// mayExecute): the session the built-in executor's adapter id names
// ("session:<id>"), or the one a gate's decision is bound to. A plan run
// under a target the server registered is not checked here.
func (s *server) mayRunPlan(r *http.Request, p auth.Principal, d *decision.Decision, adapterID string) error {
	sid, named := strings.CutPrefix(adapterID, planexec.SessionPrefix)
	if !named {
		if adapterID != "" && adapterID != planexec.Builtin || d.SessionID == "" {
			return nil
		}
		sid = d.SessionID
	}
	sess, err := s.session(r.Context(), p, sid)
	if err != nil {
		return err
	}
	return s.mayExecute(sess)
}

func (s *server) v1CreateTemplate(r *http.Request, p auth.Principal) (int, any, error) {
	var req templateBody
	if err := decode(r, &req, true, required); err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	actor, err := actorOf(p)
	if err != nil {
		return 0, nil, err
	}
	spec := decision.TemplateSpec(req)
	t, err := svc.CreateTemplate(r.Context(), &spec, actor)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, t, nil
}

func (s *server) v1ListTemplates(r *http.Request, _ auth.Principal) (int, any, error) {
	q, err := query(r, []string{"limit", "cursor"}, []string{"label"})
	if err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	f := decision.TemplateFilter{Labels: q["label"], Cursor: q.Get("cursor")}
	if f.Limit, err = pageLimit(q); err != nil {
		return 0, nil, err
	}
	page, err := svc.Templates(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	list := page.Templates
	if list == nil {
		list = []*decision.Template{}
	}
	return http.StatusOK, TemplateList{Templates: list, Next: page.Next}, nil
}

func (s *server) v1GetTemplate(r *http.Request, _ auth.Principal) (int, any, error) {
	if _, err := query(r, nil, nil); err != nil {
		return 0, nil, err
	}
	svc, err := s.decisions()
	if err != nil {
		return 0, nil, err
	}
	t, err := svc.Template(r.Context(), r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, t, nil
}
