package decision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// Limits on the free text of requests, approvals and rejections.
const (
	// MaxGoalLen bounds a goal, in bytes.
	MaxGoalLen = 16 << 10
	// MaxPlanLen bounds a plan's JSON, in bytes.
	MaxPlanLen = 1 << 20
	// MaxTextLen bounds a comment or a reason, in bytes.
	MaxTextLen = 4096
)

// A Request asks for a decision. Fields left nil take the template's
// value, or without a template the default: min_approvals 1, allowed_modes
// [dry_run] for a dry run and [dry_run, apply] for apply, no required
// capabilities, no step bound, no labels, anyone but the requester may
// approve. With a template, a field that is set overrides the template's
// and may only tighten it (more approvals, fewer modes, more required
// capabilities, fewer steps, fewer approvers, no self-approval) unless the
// template allows loosening; labels are metadata and may always be set.
type Request struct {
	// ID is the decision's id; a random UUID when empty.
	ID    string `json:"decision_id,omitempty"`
	Goal  string `json:"goal"`
	Actor Actor  `json:"actor"`
	// Mode is the requested mode, dry_run when empty.
	Mode Mode `json:"mode,omitempty"`
	// Plan is null, a string, or a list of actions {tool, input}.
	Plan                json.RawMessage `json:"plan,omitempty"`
	Template            string          `json:"template_name,omitempty"`
	MinApprovals        *int            `json:"min_approvals,omitempty"`
	AllowedModes        []Mode          `json:"allowed_modes,omitempty"`
	RequireCapabilities []string        `json:"require_adapter_capabilities,omitempty"`
	MaxSteps            *int            `json:"max_steps,omitempty"`
	Labels              []string        `json:"labels,omitempty"`
	// Approvers is the allow-list of identities that may approve.
	Approvers         []string `json:"approvers,omitempty"`
	AllowSelfApproval *bool    `json:"allow_self_approval,omitempty"`
	// ExpiresAt is when the decision expires unless it has executed; it
	// must be in the future.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// SessionID and Action bind a decision raised by a gate to its session
	// and exact call.
	SessionID string         `json:"session_id,omitempty"`
	Action    *warden.Action `json:"action,omitempty"`
}

// DecodeRequest decodes a JSON request strictly: unknown fields, wrong
// types and trailing data are refused with an INVALID_INPUT error. It
// does not validate the values; Service.Create does.
func DecodeRequest(data []byte) (*Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "request: %v", err)
	}
	if dec.More() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "request: data after the JSON object")
	}
	return &r, nil
}

// Validate checks the request as Service.Create would, against template t
// (nil when the request names none) at time now, and returns an
// INVALID_INPUT error naming every invalid field.
func (r *Request) Validate(t *Template, now time.Time) error {
	_, _, err := r.resolve(t, now)
	return err
}

// resolve validates the request and returns the payloads of its first two
// events.
func (r *Request) resolve(t *Template, now time.Time) (*CreatedPayload, *PolicyPayload, error) {
	var fe fieldErrors
	if r.ID != "" {
		checkName(&fe, "decision_id", r.ID)
	}
	switch {
	case strings.TrimSpace(r.Goal) == "":
		fe.add("goal", "is required")
	case len(r.Goal) > MaxGoalLen:
		fe.add("goal", "is %d bytes, more than %d", len(r.Goal), MaxGoalLen)
	case !utf8.ValidString(r.Goal):
		fe.add("goal", "is not valid UTF-8")
	}
	r.Actor.check(&fe, "actor")
	mode := r.Mode
	if mode == "" {
		mode = DryRun
	} else if !mode.Valid() {
		fe.add("mode", "must be %q or %q, got %q", DryRun, Apply, mode)
	}
	plan, steps := checkPlan(&fe, r.Plan)
	if r.MinApprovals != nil && *r.MinApprovals < 1 {
		fe.add("min_approvals", "must be at least 1, got %d", *r.MinApprovals)
	}
	if r.AllowedModes != nil && len(r.AllowedModes) == 0 {
		fe.add("allowed_modes", "must list at least one mode (%q or %q)", DryRun, Apply)
	}
	if r.MaxSteps != nil && *r.MaxSteps < 1 {
		fe.add("max_steps", "must be at least 1, got %d", *r.MaxSteps)
	}
	// Values refused above are left out of the policy, so that its own
	// checks do not report them again.
	q := *r
	if q.MinApprovals != nil && *q.MinApprovals < 1 {
		q.MinApprovals = nil
	}
	if q.AllowedModes != nil && len(q.AllowedModes) == 0 {
		q.AllowedModes = nil
	}
	if q.MaxSteps != nil && *q.MaxSteps < 1 {
		q.MaxSteps = nil
	}
	r = &q

	var pol Policy
	var labels []string
	var overrides map[string]any
	if t != nil {
		pol, labels, overrides = override(&fe, t, r)
	} else {
		if r.Template != "" {
			fe.add("template_name", "names template %q, which was not given", r.Template)
		}
		pol = Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}, RequireCapabilities: []string{}}
		if mode == Apply {
			pol.AllowedModes = []Mode{DryRun, Apply}
		}
		if r.MinApprovals != nil {
			pol.MinApprovals = *r.MinApprovals
		}
		if r.AllowedModes != nil {
			pol.AllowedModes = slices.Clone(r.AllowedModes)
		}
		if r.RequireCapabilities != nil {
			pol.RequireCapabilities = slices.Clone(r.RequireCapabilities)
		}
		if r.MaxSteps != nil {
			pol.MaxSteps = *r.MaxSteps
		}
		pol.Approvers = slices.Clone(r.Approvers)
		if r.AllowSelfApproval != nil {
			pol.AllowSelfApproval = *r.AllowSelfApproval
		}
		labels = slices.Clone(r.Labels)
	}
	if labels == nil {
		labels = []string{}
	}
	if len(pol.Approvers) == 0 {
		pol.Approvers = nil
	}
	pol.check(&fe, "")
	checkList(&fe, "labels", labels)
	if mode.Valid() && len(pol.AllowedModes) > 0 && !pol.Allows(mode) {
		fe.add("mode", "%q is not among the allowed modes %s", mode, joinModes(pol.AllowedModes))
	}
	if pol.MaxSteps > 0 && steps > pol.MaxSteps {
		fe.add("plan", "lists %d actions, more than max_steps %d", steps, pol.MaxSteps)
	}
	if len(pol.Approvers) > 0 {
		eligible := 0
		for _, a := range pol.Approvers {
			if pol.MayApprove(a, r.Actor.ID) {
				eligible++
			}
		}
		if pol.MinApprovals > eligible {
			fe.add("min_approvals", "is %d but only %d of the approvers may approve (the requester may not approve its own decision)", pol.MinApprovals, eligible)
		}
	}
	var expires *time.Time
	if r.ExpiresAt != nil {
		e := Stamp(*r.ExpiresAt)
		if !e.After(now) {
			fe.add("expires_at", "%s is not in the future", e.Format(time.RFC3339))
		}
		expires = &e
	}
	if r.SessionID != "" {
		checkName(&fe, "session_id", r.SessionID)
	}
	var action *warden.Action
	var actionDigest string
	if r.Action != nil {
		checkName(&fe, "action.tool", r.Action.Tool)
		a := warden.Action{Tool: r.Action.Tool, Input: r.Action.Input}
		d, err := canon.DigestJSON(a)
		if err != nil {
			fe.add("action.input", "%v", err)
		}
		action, actionDigest = &a, d
	}
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, nil, err
	}
	created := &CreatedPayload{
		Goal: r.Goal, Plan: plan, RequestedMode: mode, Labels: labels, ExpiresAt: expires,
		SessionID: r.SessionID, Action: action, ActionDigest: actionDigest,
	}
	pp := &PolicyPayload{Policy: pol}
	if t != nil {
		pp.TemplateName, pp.TemplateDigest, pp.TemplateSnapshot, pp.OverridesApplied = t.Name, t.Digest, t.Snapshot(), overrides
	}
	return created, pp, nil
}

// override applies the request's fields to template t's content, adding an
// error for each that loosens a template that does not allow it, and
// returns the effective policy, the labels and the overrides applied.
func override(fe *fieldErrors, t *Template, r *Request) (Policy, []string, map[string]any) {
	pol := *t.Policy.clone()
	labels := slices.Clone(t.Labels)
	ov := map[string]any{}
	loosens := func(field, format string, args ...any) {
		if !t.AllowLoosening {
			fe.add(field, "%s; template %q only allows tightening", fmt.Sprintf(format, args...), t.Name)
		}
	}
	if r.MinApprovals != nil {
		v := *r.MinApprovals
		if v < pol.MinApprovals {
			loosens("min_approvals", "%d is fewer than the template's %d", v, pol.MinApprovals)
		}
		pol.MinApprovals, ov["min_approvals"] = v, v
	}
	if r.AllowedModes != nil {
		for _, m := range r.AllowedModes {
			if !pol.Allows(m) && m.Valid() {
				loosens("allowed_modes", "%q is not among the template's modes %s", m, joinModes(pol.AllowedModes))
			}
		}
		pol.AllowedModes, ov["allowed_modes"] = slices.Clone(r.AllowedModes), slices.Clone(r.AllowedModes)
	}
	if r.RequireCapabilities != nil {
		for _, c := range pol.RequireCapabilities {
			if !slices.Contains(r.RequireCapabilities, c) {
				loosens("require_adapter_capabilities", "drops %q, which the template requires", c)
			}
		}
		pol.RequireCapabilities, ov["require_adapter_capabilities"] = slices.Clone(r.RequireCapabilities), slices.Clone(r.RequireCapabilities)
	}
	if r.MaxSteps != nil {
		v := *r.MaxSteps
		if pol.MaxSteps > 0 && v > pol.MaxSteps {
			loosens("max_steps", "%d is more than the template's %d", v, pol.MaxSteps)
		}
		pol.MaxSteps, ov["max_steps"] = v, v
	}
	if r.Approvers != nil {
		if len(pol.Approvers) > 0 {
			if len(r.Approvers) == 0 {
				loosens("approvers", "an empty list lets anyone approve, the template allows only %s", strings.Join(pol.Approvers, ", "))
			}
			for _, a := range r.Approvers {
				if !slices.Contains(pol.Approvers, a) {
					loosens("approvers", "%q is not among the template's approvers", a)
				}
			}
		}
		pol.Approvers, ov["approvers"] = slices.Clone(r.Approvers), slices.Clone(r.Approvers)
	}
	if r.AllowSelfApproval != nil {
		v := *r.AllowSelfApproval
		if v && !pol.AllowSelfApproval {
			loosens("allow_self_approval", "the template does not allow self-approval")
		}
		pol.AllowSelfApproval, ov["allow_self_approval"] = v, v
	}
	if r.Labels != nil {
		labels, ov["labels"] = slices.Clone(r.Labels), slices.Clone(r.Labels)
	}
	if len(ov) == 0 {
		ov = nil
	}
	return pol, labels, ov
}

// checkPlan checks a plan and returns its canonical form (nil for none)
// and its number of steps: 1 for a string, one per action for a list.
func checkPlan(fe *fieldErrors, raw json.RawMessage) (json.RawMessage, int) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, 0
	}
	if len(t) > MaxPlanLen {
		fe.add("plan", "is %d bytes, more than %d", len(t), MaxPlanLen)
		return nil, 0
	}
	c, err := canon.JCS(t)
	if err != nil {
		fe.add("plan", "is not valid JSON: %v", err)
		return nil, 0
	}
	switch c[0] {
	case '"':
		return c, 1
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(c, &items); err != nil {
			fe.add("plan", "%v", err)
			return nil, 0
		}
		if len(items) == 0 {
			fe.add("plan", "lists no actions; leave it out instead")
		}
		if len(items) > MaxSteps {
			fe.add("plan", "lists %d actions, more than %d", len(items), MaxSteps)
			return nil, 0
		}
		for i, it := range items {
			f := "plan[" + strconv.Itoa(i) + "]"
			var a struct {
				Tool  string          `json:"tool"`
				Input json.RawMessage `json:"input"`
			}
			dec := json.NewDecoder(bytes.NewReader(it))
			dec.DisallowUnknownFields()
			if it[0] != '{' || dec.Decode(&a) != nil {
				fe.add(f, "must be an action {tool, input}, got %s", canon.KindOf(it[0]))
				continue
			}
			checkName(fe, f+".tool", a.Tool)
			if len(a.Input) > 0 && a.Input[0] != '{' && string(a.Input) != "null" {
				fe.add(f+".input", "must be an object, got %s", canon.KindOf(a.Input[0]))
			}
		}
		return c, len(items)
	}
	fe.add("plan", "must be a string or a list of actions {tool, input}, got %s", canon.KindOf(c[0]))
	return nil, 0
}

func joinModes(ms []Mode) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
