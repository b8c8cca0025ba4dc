package controlmcp

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/decision"
)

func boolPtr(b bool) *bool { return &b }

// readOnly marks a tool that changes nothing.
func readOnly() *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: boolPtr(false)}
}

// writes marks a tool that records something.
func writes(destructive, idempotent bool) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{DestructiveHint: boolPtr(destructive), IdempotentHint: idempotent, OpenWorldHint: boolPtr(false)}
}

// Schemas shared by several tools.

func decisionIDProp() schema {
	return name("the decision's id, as " + ToolRequest + " returned it (request_id)")
}

func planSchema() schema {
	action := object("an action: an action kind or tool name, and its input", schema{
		"tool":  name("the action kind (file:write, command:run, …) or tool name"),
		"input": typed([]string{"object", "null"}, "the action's input"),
	}, "tool")
	return typed([]string{"string", "array", "null"},
		"what to execute: a description (a string), or a list of actions {tool, input} that the executor runs in order",
		"items", action, "minItems", 1, "maxItems", decision.MaxSteps)
}

func minApprovalsSchema(desc string) schema {
	return typed("integer", desc, "minimum", 1, "maximum", decision.MaxMinApprovals)
}

func maxStepsSchema(desc string) schema {
	return typed([]string{"integer", "null"}, desc, "minimum", 1, "maximum", decision.MaxSteps)
}

func dateTime(desc string) schema {
	return typed([]string{"string", "null"}, desc, "format", "date-time")
}

// The inputs, with nexus-control's field names. Pointers tell a field
// left out (or null) from one given.

type requestIn struct {
	Goal                string          `json:"goal"`
	Actor               *decision.Actor `json:"actor"`
	Mode                decision.Mode   `json:"mode"`
	Plan                json.RawMessage `json:"plan"`
	TemplateName        *string         `json:"template_name"`
	MinApprovals        *int            `json:"min_approvals"`
	AllowedModes        []decision.Mode `json:"allowed_modes"`
	RequireCapabilities []string        `json:"require_adapter_capabilities"`
	MaxSteps            *int            `json:"max_steps"`
	Labels              []string        `json:"labels"`
	Approvers           []string        `json:"approvers"`
	ExpiresAt           *time.Time      `json:"expires_at"`
}

type approveIn struct {
	RequestID string          `json:"request_id"`
	Actor     *decision.Actor `json:"actor"`
	Comment   *string         `json:"comment"`
	ExpiresAt *time.Time      `json:"expires_at"`
}

type executeIn struct {
	RequestID string          `json:"request_id"`
	AdapterID string          `json:"adapter_id"`
	Actor     *decision.Actor `json:"actor"`
	DryRun    *bool           `json:"dry_run"`
}

type statusIn struct {
	RequestID     string `json:"request_id"`
	IncludeEvents bool   `json:"include_events"`
}

type inspectIn struct {
	DecisionID                   string `json:"decision_id"`
	Render                       *bool  `json:"render"`
	IncludeEvents                bool   `json:"include_events"`
	IncludeCompiledRouterRequest *bool  `json:"include_compiled_router_request"`
}

type templateCreateIn struct {
	Name                string          `json:"name"`
	Actor               *decision.Actor `json:"actor"`
	Description         string          `json:"description"`
	MinApprovals        *int            `json:"min_approvals"`
	AllowedModes        []decision.Mode `json:"allowed_modes"`
	RequireCapabilities []string        `json:"require_adapter_capabilities"`
	MaxSteps            *int            `json:"max_steps"`
	Labels              []string        `json:"labels"`
	Approvers           []string        `json:"approvers"`
	AllowLoosening      bool            `json:"allow_loosening"`
}

type templateGetIn struct {
	Name          string `json:"name"`
	IncludeEvents bool   `json:"include_events"`
}

type templateListIn struct {
	Limit       *int    `json:"limit"`
	Offset      int     `json:"offset"`
	LabelFilter *string `json:"label_filter"`
}

type revokeIn struct {
	RequestID string          `json:"request_id"`
	Actor     *decision.Actor `json:"actor"`
	Reason    string          `json:"reason"`
}

type rejectIn struct {
	RequestID string          `json:"request_id"`
	Actor     *decision.Actor `json:"actor"`
	Reason    string          `json:"reason"`
}

type listIn struct {
	Limit        *int             `json:"limit"`
	Cursor       string           `json:"cursor"`
	States       []decision.State `json:"states"`
	Labels       []string         `json:"labels"`
	Requester    string           `json:"requester"`
	TemplateName string           `json:"template_name"`
	SessionID    string           `json:"session_id"`
}

// decisionTools are nexus-control's decision and template tools.
func (s *Server) decisionTools() []*toolDef {
	return []*toolDef{
		define(&mcp.Tool{
			Name:  ToolRequest,
			Title: "Request a decision",
			Description: "Ask for a decision to execute a goal (and optionally a plan of actions), under a policy given here or taken " +
				"from a template: how many distinct identities must approve (min_approvals), which modes may run, which adapter " +
				"capabilities are required, how many steps at most. Every field is validated now, and each invalid one is named. " +
				"With a template, the fields given override its own, and may only tighten it unless the template allows loosening. " +
				"The decision starts pending approval; the requester can never approve it.",
			Annotations: writes(false, false),
		}, s.withActor("", "who asks for the decision", schema{
			"goal":                         typed("string", "what the decision is for", "minLength", 1),
			"mode":                         typed("string", "the mode to execute in (default dry_run)", "enum", []string{"dry_run", "apply"}, "default", "dry_run"),
			"plan":                         planSchema(),
			"template_name":                typed([]string{"string", "null"}, "a template to take the policy from", "minLength", 1),
			"min_approvals":                minApprovalsSchema("approvals by distinct identities needed (default 1, or the template's)"),
			"allowed_modes":                modes("the modes execution may use (default [dry_run] for a dry run, [dry_run, apply] for apply)"),
			"require_adapter_capabilities": names("capabilities the executor's adapter must report"),
			"max_steps":                    maxStepsSchema("the most steps an execution may run; null for no bound"),
			"labels":                       names("labels for finding the decision"),
			"approvers":                    names("Warden: the identities that may approve; empty lets anyone but the requester"),
			"expires_at":                   dateTime("Warden: when the decision expires unless it has executed"),
		}, "goal"), s.request),

		define(&mcp.Tool{
			Name:  ToolApprove,
			Title: "Approve a decision",
			Description: "Approve a pending decision as actor. Approvals count distinct identities; an identity holding a valid " +
				"approval gets ALREADY_APPROVED, the requester gets SELF_APPROVAL, an identity outside the decision's approvers " +
				"gets NOT_AN_APPROVER, and a decision that is no longer pending gets INVALID_STATE.",
			Annotations: writes(false, false),
		}, s.withActor("", "who approves", schema{
			"request_id": decisionIDProp(),
			"comment":    typed([]string{"string", "null"}, "why, shown in the timeline", "maxLength", decision.MaxTextLen),
			"expires_at": dateTime("when this approval stops counting; must be in the future"),
		}, "request_id"), s.approve),

		define(&mcp.Tool{
			Name:  ToolExecute,
			Title: "Execute an approved decision",
			Description: "Run an approved decision through Warden's executor, at most once. The policy is checked again now " +
				"against the approvals still valid, the mode and the adapter's capabilities (POLICY_VIOLATION lists every problem). " +
				"A decision that is executing or has executed gets INVALID_STATE. Returns the run id and the digests of the " +
				"request sent and the response received; a failed run is recorded and returned as ROUTER_ERROR.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(true)},
		}, s.withActor("", "who asks for the execution", schema{
			"request_id": decisionIDProp(),
			"adapter_id": typed("string", "the executor adapter to run with (may be empty for the default)", "maxLength", decision.MaxIDLen),
			"dry_run":    typed([]string{"boolean", "null"}, "true for a dry run, false to apply; null runs in the requested mode"),
		}, "request_id", "adapter_id"), s.execute),

		define(&mcp.Tool{
			Name:        ToolStatus,
			Title:       "Decision status",
			Description: "The decision's state now: goal, plan, policy, approvals valid now and in all, whether it is approved, its execution, and with include_events its hash-chained events.",
			Annotations: readOnly(),
		}, object("", schema{
			"request_id":     decisionIDProp(),
			"include_events": flag("add the decision's events", false),
		}, "request_id"), s.status),

		define(&mcp.Tool{
			Name:  ToolInspect,
			Title: "Inspect a decision",
			Description: "Everything about a decision after verifying its history: a one-line verdict, the lifecycle (blocking " +
				"reasons in triage order, progress, timeline), approvals with their status, policy, template, execution and " +
				"integrity, rendered as Markdown unless render is false.",
			Annotations: readOnly(),
		}, object("", schema{
			"decision_id":                     decisionIDProp(),
			"render":                          flag("add the Markdown rendering (rendered)", true),
			"include_events":                  flag("add the decision's events", false),
			"include_compiled_router_request": flag("add the request an execution sends to the executor, with its digest", true),
		}, "decision_id"), s.inspect),

		define(&mcp.Tool{
			Name:  ToolTemplateCreate,
			Title: "Create a template",
			Description: "Define a named, immutable policy that decisions can be requested from. Its digest covers the policy " +
				"content only. A name is never reused: TEMPLATE_ALREADY_EXISTS.",
			Annotations: writes(false, false),
		}, s.withActor("", "who defines the template", schema{
			"name":                         typed("string", "the template's name", "minLength", 1, "maxLength", decision.MaxIDLen, "pattern", "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"),
			"description":                  typed("string", "what the template is for", "maxLength", decision.MaxDescriptionLen),
			"min_approvals":                minApprovalsSchema("approvals by distinct identities needed (default 1)"),
			"allowed_modes":                modes("the modes execution may use (default [dry_run])"),
			"require_adapter_capabilities": names("capabilities the executor's adapter must report"),
			"max_steps":                    maxStepsSchema("the most steps an execution may run; null for no bound"),
			"labels":                       names("labels of the template and of decisions made from it"),
			"approvers":                    names("Warden: the identities that may approve decisions made from it"),
			"allow_loosening":              flag("Warden: let requests override the template with a weaker policy", false),
		}, "name"), s.templateCreate),

		define(&mcp.Tool{
			Name:        ToolTemplateGet,
			Title:       "Get a template",
			Description: "A template by name: its definition, content digest and the snapshot decisions embed; with include_events its creation event.",
			Annotations: readOnly(),
		}, object("", schema{
			"name":           name("the template's name"),
			"include_events": flag("add the template's creation event", false),
		}, "name"), s.templateGet),

		define(&mcp.Tool{
			Name:        ToolTemplateList,
			Title:       "List templates",
			Description: "Templates by name, a page at a time, optionally only those carrying a label (compared exactly).",
			Annotations: readOnly(),
		}, object("", schema{
			"limit":        typed("integer", "page size", "minimum", 1, "maximum", decision.MaxLimit, "default", decision.DefaultLimit),
			"offset":       typed("integer", "how many templates to skip", "minimum", 0, "default", 0),
			"label_filter": typed([]string{"string", "null"}, "only templates carrying exactly this label"),
		}), s.templateList),
	}
}

// wardenTools are Warden's additions: revoke, reject and list.
func (s *Server) wardenTools() []*toolDef {
	states := make([]string, 0, 8)
	for _, st := range []decision.State{decision.StateDraft, decision.StatePending, decision.StateApproved, decision.StateExecuting,
		decision.StateCompleted, decision.StateFailed, decision.StateRejected, decision.StateExpired} {
		states = append(states, string(st))
	}
	return []*toolDef{
		define(&mcp.Tool{
			Name:        ToolRevoke,
			Title:       "Revoke an approval",
			Description: "Withdraw actor's own approval of a decision before it executes. An identity without an approval to revoke gets NOT_APPROVED.",
			Annotations: writes(false, false),
		}, s.withActor("", "whose approval to revoke", schema{
			"request_id": decisionIDProp(),
			"reason":     typed("string", "why", "maxLength", decision.MaxTextLen),
		}, "request_id"), s.revoke),

		define(&mcp.Tool{
			Name:  ToolReject,
			Title: "Reject a decision",
			Description: "Refuse a decision for good, with a reason. An approver may reject it, and its requester may withdraw " +
				"it; others get NOT_AN_APPROVER. A rejected decision never executes.",
			Annotations: writes(true, false),
		}, s.withActor("", "who rejects", schema{
			"request_id": decisionIDProp(),
			"reason":     typed("string", "why; shown to the requester", "minLength", 1, "maxLength", decision.MaxTextLen),
		}, "request_id", "reason"), s.reject),

		define(&mcp.Tool{
			Name:  ToolList,
			Title: "List decisions",
			Description: "Decisions, newest first, a page at a time, filtered by state now (approved and expired included), " +
				"labels (all of them, exactly), requester, template or session. Continue with next_cursor.",
			Annotations: readOnly(),
		}, object("", schema{
			"limit":         typed("integer", "page size", "minimum", 1, "maximum", decision.MaxLimit, "default", decision.DefaultLimit),
			"cursor":        typed("string", "next_cursor of the previous page"),
			"states":        typed("array", "only decisions in one of these states now", "items", schema{"type": "string", "enum": states}, "uniqueItems", true),
			"labels":        names("only decisions carrying every one of these labels"),
			"requester":     name("only decisions requested by this identity"),
			"template_name": name("only decisions made from this template"),
			"session_id":    name("only decisions raised by this session's gates"),
		}), s.list),
	}
}

func (s *Server) request(ctx context.Context, in *requestIn) (any, error) {
	who, err := s.actor(in.Actor)
	if err != nil {
		return nil, err
	}
	r := &decision.Request{
		Goal: in.Goal, Actor: who, Mode: in.Mode, Plan: in.Plan, MinApprovals: in.MinApprovals,
		AllowedModes: in.AllowedModes, RequireCapabilities: in.RequireCapabilities, MaxSteps: in.MaxSteps,
		Labels: in.Labels, Approvers: in.Approvers, ExpiresAt: in.ExpiresAt,
	}
	if in.TemplateName != nil {
		r.Template = *in.TemplateName
		// Warden's rule over MCP: the requester never approves its own
		// decision. A template defined elsewhere may allow it; a request
		// made here tightens that away (and says so in its overrides).
		if t, err := s.svc.Template(ctx, r.Template); err == nil && t.AllowSelfApproval {
			no := false
			r.AllowSelfApproval = &no
		}
	}
	d, err := s.svc.Create(ctx, r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := struct {
		RequestID        string         `json:"request_id"`
		State            decision.State `json:"state"`
		MinApprovals     int            `json:"min_approvals"`
		CurrentApprovals int            `json:"current_approvals"`
		TemplateName     string         `json:"template_name,omitempty"`
		TemplateDigest   string         `json:"template_digest,omitempty"`
		OverridesApplied map[string]any `json:"overrides_applied,omitempty"`
		ExpiresAt        *time.Time     `json:"expires_at,omitempty"`
	}{RequestID: d.ID, State: d.StateAt(now), MinApprovals: d.Required(), CurrentApprovals: d.ActiveApprovals(now), ExpiresAt: d.ExpiresAt}
	if t := d.Template; t != nil {
		out.TemplateName, out.TemplateDigest, out.OverridesApplied = t.Name, t.Digest, t.Overrides
	}
	return out, nil
}

func (s *Server) approve(ctx context.Context, in *approveIn) (any, error) {
	who, err := s.actor(in.Actor)
	if err != nil {
		return nil, err
	}
	opts := decision.ApproveOptions{ExpiresAt: in.ExpiresAt}
	if in.Comment != nil {
		opts.Comment = *in.Comment
	}
	st, err := s.svc.Approve(ctx, in.RequestID, who, opts)
	if err != nil {
		return nil, err
	}
	return approvalOf(st), nil
}

func (s *Server) revoke(ctx context.Context, in *revokeIn) (any, error) {
	who, err := s.actor(in.Actor)
	if err != nil {
		return nil, err
	}
	st, err := s.svc.Revoke(ctx, in.RequestID, who, in.Reason)
	if err != nil {
		return nil, err
	}
	return approvalOf(st), nil
}

func (s *Server) reject(ctx context.Context, in *rejectIn) (any, error) {
	who, err := s.actor(in.Actor)
	if err != nil {
		return nil, err
	}
	d, err := s.svc.Reject(ctx, in.RequestID, who, in.Reason)
	if err != nil {
		return nil, err
	}
	out := struct {
		RequestID  string         `json:"request_id"`
		State      decision.State `json:"state"`
		RejectedBy decision.Actor `json:"rejected_by"`
		Reason     string         `json:"reason"`
		RejectedAt time.Time      `json:"rejected_at"`
	}{RequestID: d.ID, State: d.StateAt(s.now())}
	if r := d.Rejection; r != nil {
		out.RejectedBy, out.Reason, out.RejectedAt = r.By, r.Reason, r.At
	}
	return out, nil
}

func (s *Server) execute(ctx context.Context, in *executeIn) (any, error) {
	who, err := s.actor(in.Actor)
	if err != nil {
		return nil, err
	}
	opts := decision.ExecuteOptions{Actor: who, AdapterID: in.AdapterID}
	if in.DryRun != nil {
		opts.Mode = decision.Apply
		if *in.DryRun {
			opts.Mode = decision.DryRun
		}
	}
	run, err := s.svc.Execute(ctx, in.RequestID, opts)
	if err != nil {
		return nil, err
	}
	return struct {
		RequestID      string          `json:"request_id"`
		RunID          string          `json:"run_id"`
		Mode           decision.Mode   `json:"mode"`
		StepsExecuted  int             `json:"steps_executed"`
		RequestDigest  string          `json:"request_digest"`
		ResponseDigest string          `json:"response_digest"`
		State          decision.State  `json:"state"`
		Outcome        string          `json:"outcome"`
		AdapterID      string          `json:"adapter_id"`
		Steps          []decision.Step `json:"steps"`
	}{
		RequestID: in.RequestID, RunID: run.RunID, Mode: run.Mode, StepsExecuted: run.StepsExecuted,
		RequestDigest: run.RequestDigest, ResponseDigest: run.ResponseDigest, State: decision.StateCompleted,
		Outcome: run.Outcome(), AdapterID: run.AdapterID, Steps: nonNil(run.Steps),
	}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) status(ctx context.Context, in *statusIn) (any, error) {
	d, err := s.svc.Get(ctx, in.RequestID)
	if err != nil {
		return nil, err
	}
	v := statusOf(d, s.now())
	if in.IncludeEvents {
		events, err := s.svc.Events(ctx, in.RequestID)
		if err != nil {
			return nil, err
		}
		v.Events = eventsOf(events)
	}
	return v, nil
}

func (s *Server) inspect(ctx context.Context, in *inspectIn) (any, error) {
	insp, err := s.svc.Inspect(ctx, in.DecisionID, decision.InspectOptions{IncludeEvents: in.IncludeEvents})
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(insp)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	if in.IncludeEvents {
		b, err := json.Marshal(eventsOf(insp.Events))
		if err != nil {
			return nil, err
		}
		out["events"] = b
	}
	if boolOr(in.IncludeCompiledRouterRequest, true) {
		d, err := s.svc.Get(ctx, in.DecisionID)
		if err != nil {
			return nil, err
		}
		if rr := routerRequestOf(d); rr != nil {
			b, err := json.Marshal(rr)
			if err != nil {
				return nil, err
			}
			out["compiled_router_request"] = b
		}
	}
	if boolOr(in.Render, true) {
		b, err := json.Marshal(insp.Markdown())
		if err != nil {
			return nil, err
		}
		out["rendered"] = b
	}
	return out, nil
}

func (s *Server) templateCreate(ctx context.Context, in *templateCreateIn) (any, error) {
	who, err := s.actor(in.Actor)
	if err != nil {
		return nil, err
	}
	spec := &decision.TemplateSpec{
		Name: in.Name, Description: in.Description, MinApprovals: in.MinApprovals, AllowedModes: in.AllowedModes,
		RequireCapabilities: in.RequireCapabilities, MaxSteps: in.MaxSteps, Labels: in.Labels, Approvers: in.Approvers,
		AllowLoosening: in.AllowLoosening,
	}
	t, err := s.svc.CreateTemplate(ctx, spec, who)
	if err != nil {
		return nil, err
	}
	return struct {
		TemplateName string    `json:"template_name"`
		Description  string    `json:"description"`
		Digest       string    `json:"digest"`
		CreatedAt    time.Time `json:"created_at"`
	}{t.Name, t.Description, t.Digest, t.CreatedAt}, nil
}

func (s *Server) templateGet(ctx context.Context, in *templateGetIn) (any, error) {
	t, err := s.svc.Template(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	out := struct {
		Template *decision.Template         `json:"template"`
		Digest   string                     `json:"digest"`
		Snapshot *decision.TemplateSnapshot `json:"snapshot"`
		Events   []templateEvent            `json:"events,omitempty"`
	}{Template: t, Digest: t.Digest, Snapshot: t.Snapshot()}
	if in.IncludeEvents {
		out.Events = []templateEvent{{
			TemplateName: t.Name, EventType: "TEMPLATE_CREATED", TS: t.CreatedAt, Actor: t.CreatedBy,
			Payload: t.TemplateContent, Digest: t.Digest,
		}}
	}
	return out, nil
}

func (s *Server) templateList(ctx context.Context, in *templateListIn) (any, error) {
	limit := decision.DefaultLimit
	if in.Limit != nil {
		limit = *in.Limit
	}
	f := decision.TemplateFilter{Limit: decision.MaxLimit}
	if in.LabelFilter != nil && *in.LabelFilter != "" {
		f.Labels = []string{*in.LabelFilter}
	}
	skip := in.Offset
	list := []*templateSummary{}
	more := false
pages:
	for {
		page, err := s.svc.Templates(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Templates {
			switch {
			case skip > 0:
				skip--
			case len(list) == limit:
				more = true
				break pages
			default:
				list = append(list, templateSummaryOf(t))
			}
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	out := struct {
		Templates  []*templateSummary `json:"templates"`
		Count      int                `json:"count"`
		Offset     int                `json:"offset"`
		Limit      int                `json:"limit"`
		NextOffset *int               `json:"next_offset,omitempty"`
	}{Templates: list, Count: len(list), Offset: in.Offset, Limit: limit}
	if more {
		n := in.Offset + len(list)
		out.NextOffset = &n
	}
	return out, nil
}

// list pages through decisions whose state now is one of in.States. The
// store filters by recorded state, so the states asked for are widened to
// the recorded states that can show as them (approved is recorded as
// pending; expired may still be recorded as draft or pending) and the
// page is narrowed again by the state now: a page may then hold fewer
// decisions than the limit while next_cursor goes on.
func (s *Server) list(ctx context.Context, in *listIn) (any, error) {
	f := decision.Filter{Labels: in.Labels, Requester: in.Requester, Template: in.TemplateName, SessionID: in.SessionID, Cursor: in.Cursor}
	if in.Limit != nil {
		f.Limit = *in.Limit
	}
	for _, st := range in.States {
		var recorded []decision.State
		switch st {
		case decision.StateApproved:
			recorded = []decision.State{decision.StatePending}
		case decision.StateExpired:
			recorded = []decision.State{decision.StateDraft, decision.StatePending, decision.StateExpired}
		default:
			recorded = []decision.State{st}
		}
		for _, r := range recorded {
			if !slices.Contains(f.States, r) {
				f.States = append(f.States, r)
			}
		}
	}
	page, err := s.svc.List(ctx, f)
	if err != nil {
		return nil, err
	}
	now := s.now()
	list := []*summaryView{}
	for _, d := range page.Decisions {
		v := summaryOf(d, now)
		if len(in.States) > 0 && !slices.Contains(in.States, v.State) {
			continue
		}
		list = append(list, v)
	}
	return struct {
		Decisions  []*summaryView `json:"decisions"`
		Count      int            `json:"count"`
		NextCursor string         `json:"next_cursor,omitempty"`
	}{list, len(list), page.Next}, nil
}
