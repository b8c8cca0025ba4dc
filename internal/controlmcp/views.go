package controlmcp

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/decision"
)

// The results of the tools. Keys are nexus-control's where it has them;
// Warden's additions (the requester, expiry, rejection, digests) are
// named in the same style.

// approvalView is where a decision's approvals stand after approve or
// revoke: nexus-control's approve output.
type approvalView struct {
	RequestID string         `json:"request_id"`
	State     decision.State `json:"state"`
	Current   int            `json:"current_approvals"`
	Required  int            `json:"required_approvals"`
	Approved  bool           `json:"is_approved"`
}

func approvalOf(st *decision.ApprovalStatus) *approvalView {
	return &approvalView{RequestID: st.DecisionID, State: st.State, Current: st.Current, Required: st.Required, Approved: st.Approved}
}

// templateView is how a decision names the template it was made from.
type templateView struct {
	Name      string         `json:"name"`
	Digest    string         `json:"digest"`
	Overrides map[string]any `json:"overrides_applied"`
}

func templateOf(d *decision.Decision) *templateView {
	if d.Template == nil {
		return nil
	}
	ov := d.Template.Overrides
	if ov == nil {
		ov = map[string]any{}
	}
	return &templateView{Name: d.Template.Name, Digest: d.Template.Digest, Overrides: ov}
}

// executionView is one execution, as nexus-control's status lists them,
// with Warden's digests and outcome.
type executionView struct {
	*decision.Run
	DryRun  bool   `json:"dry_run"`
	Outcome string `json:"outcome"`
}

// eventView is an event with its derived id, as nexus-control's events
// carry one.
type eventView struct {
	EventID string `json:"event_id"`
	decision.Event
}

func eventsOf(events []decision.Event) []eventView {
	out := make([]eventView, len(events))
	for i, e := range events {
		out[i] = eventView{EventID: e.ID(), Event: e}
	}
	return out
}

// statusView is the status tool's result: the decision's state now.
type statusView struct {
	DecisionID     string               `json:"decision_id"`
	State          decision.State       `json:"state"`
	Goal           string               `json:"goal"`
	Plan           json.RawMessage      `json:"plan"`
	RequestedMode  decision.Mode        `json:"requested_mode"`
	Labels         []string             `json:"labels"`
	Requester      decision.Actor       `json:"requester"`
	Policy         *decision.Policy     `json:"policy"`
	Template       *templateView        `json:"template,omitempty"`
	ActiveApproval int                  `json:"active_approvals"`
	TotalApprovals int                  `json:"total_approvals"`
	Required       int                  `json:"required_approvals"`
	Approved       bool                 `json:"is_approved"`
	Executions     []executionView      `json:"executions"`
	Rejection      *decision.Rejection  `json:"rejection,omitempty"`
	ExpiresAt      *time.Time           `json:"expires_at,omitempty"`
	SessionID      string               `json:"session_id,omitempty"`
	ActionDigest   string               `json:"action_digest,omitempty"`
	CreatedAt      time.Time            `json:"created_at"`
	UpdatedAt      time.Time            `json:"updated_at"`
	EventCount     int64                `json:"event_count"`
	HeadDigest     string               `json:"head_digest"`
	Events         []eventView          `json:"events,omitempty"`
	Approvals      []*decision.Approval `json:"approvals"`
}

func statusOf(d *decision.Decision, now time.Time) *statusView {
	v := &statusView{
		DecisionID: d.ID, State: d.StateAt(now), Goal: d.Goal, Plan: d.Plan, RequestedMode: d.Mode,
		Labels: d.Labels, Requester: d.Requester, Policy: d.Policy, Template: templateOf(d),
		ActiveApproval: d.ActiveApprovals(now), TotalApprovals: len(d.Approvals), Required: d.Required(),
		Approved: d.IsApproved(now), Executions: []executionView{}, Rejection: d.Rejection, ExpiresAt: d.ExpiresAt,
		SessionID: d.SessionID, ActionDigest: d.ActionDigest, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		EventCount: d.EventCount, HeadDigest: d.Head, Approvals: d.ApprovalList(),
	}
	if v.Plan == nil {
		v.Plan = json.RawMessage("null")
	}
	if v.Labels == nil {
		v.Labels = []string{}
	}
	if r := d.Execution; r != nil {
		v.Executions = append(v.Executions, executionView{Run: r, DryRun: r.Mode == decision.DryRun, Outcome: r.Outcome()})
	}
	return v
}

// summaryView is one decision in a list.
type summaryView struct {
	DecisionID    string         `json:"decision_id"`
	State         decision.State `json:"state"`
	Goal          string         `json:"goal"`
	RequestedMode decision.Mode  `json:"requested_mode"`
	Requester     decision.Actor `json:"requester"`
	Labels        []string       `json:"labels"`
	Approvals     string         `json:"approvals"`
	Current       int            `json:"current_approvals"`
	Required      int            `json:"required_approvals"`
	Approved      bool           `json:"is_approved"`
	TemplateName  string         `json:"template_name,omitempty"`
	SessionID     string         `json:"session_id,omitempty"`
	RunID         string         `json:"run_id,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	ExpiresAt     *time.Time     `json:"expires_at,omitempty"`
}

func summaryOf(d *decision.Decision, now time.Time) *summaryView {
	v := &summaryView{
		DecisionID: d.ID, State: d.StateAt(now), Goal: d.Goal, RequestedMode: d.Mode, Requester: d.Requester,
		Labels: d.Labels, Current: d.ActiveApprovals(now), Required: d.Required(), Approved: d.IsApproved(now),
		SessionID: d.SessionID, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ExpiresAt: d.ExpiresAt,
	}
	v.Approvals = fmt.Sprintf("%d/%d", v.Current, v.Required)
	if v.Labels == nil {
		v.Labels = []string{}
	}
	if d.Template != nil {
		v.TemplateName = d.Template.Name
	}
	if d.Execution != nil {
		v.RunID = d.Execution.RunID
	}
	return v
}

// routerRequestView is what an execution of the decision sends, or sent,
// to the executor (nexus-control's compiled router request): after an
// execution, the request that ran and its recorded digest; before, the
// request an execution in the requested mode without an adapter would
// send, and its digest.
type routerRequestView struct {
	Digest              string        `json:"digest"`
	Recorded            bool          `json:"recorded"`
	AdapterID           *string       `json:"adapter_id"`
	Mode                decision.Mode `json:"mode"`
	RequireCapabilities []string      `json:"require_capabilities"`
	AllowApply          bool          `json:"allow_apply"`
	MaxSteps            *int          `json:"max_steps"`
}

func routerRequestOf(d *decision.Decision) *routerRequestView {
	if d.Policy == nil {
		return nil
	}
	v := &routerRequestView{
		Mode: d.Mode, RequireCapabilities: d.Policy.RequireCapabilities, AllowApply: d.Policy.Allows(decision.Apply),
	}
	if v.RequireCapabilities == nil {
		v.RequireCapabilities = []string{}
	}
	if d.Policy.MaxSteps > 0 {
		n := d.Policy.MaxSteps
		v.MaxSteps = &n
	}
	if r := d.Execution; r != nil && r.RequestDigest != "" {
		v.Digest, v.Recorded, v.Mode = r.RequestDigest, true, r.Mode
		a := r.AdapterID
		v.AdapterID = &a
		return v
	}
	req := &decision.ExecRequest{
		DecisionID: d.ID, Goal: d.Goal, Plan: d.Plan, Mode: d.Mode,
		MaxSteps: d.Policy.MaxSteps, RequireCapabilities: d.Policy.RequireCapabilities, ActionDigest: d.ActionDigest,
	}
	if dg, err := canon.DigestJSON(req); err == nil {
		v.Digest = dg
	}
	return v
}

// templateSummary is one template in a list: nexus-control's summary
// with Warden's digest and the rest of the policy.
type templateSummary struct {
	Name                string          `json:"name"`
	Description         string          `json:"description"`
	MinApprovals        int             `json:"min_approvals"`
	AllowedModes        []decision.Mode `json:"allowed_modes"`
	RequireCapabilities []string        `json:"require_adapter_capabilities"`
	MaxSteps            *int            `json:"max_steps"`
	Labels              []string        `json:"labels"`
	Digest              string          `json:"digest"`
	CreatedAt           time.Time       `json:"created_at"`
	CreatedBy           decision.Actor  `json:"created_by"`
}

func templateSummaryOf(t *decision.Template) *templateSummary {
	v := &templateSummary{
		Name: t.Name, Description: t.Description, MinApprovals: t.MinApprovals, AllowedModes: t.AllowedModes,
		RequireCapabilities: t.RequireCapabilities, Labels: t.Labels, Digest: t.Digest, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy,
	}
	if t.MaxSteps > 0 {
		n := t.MaxSteps
		v.MaxSteps = &n
	}
	return v
}

// templateEvent is a template's history as nexus-control shows it: a
// template is immutable, so its creation is its only event.
type templateEvent struct {
	TemplateName string                   `json:"template_name"`
	Seq          int                      `json:"seq"`
	EventType    string                   `json:"event_type"`
	TS           time.Time                `json:"ts"`
	Actor        decision.Actor           `json:"actor"`
	Payload      decision.TemplateContent `json:"payload"`
	Digest       string                   `json:"digest"`
}
