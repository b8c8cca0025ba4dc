package nexus

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event types of a decision log. The first eight and TEMPLATE_CREATED are
// nexus-control's; DECISION_REJECTED and DECISION_EXPIRED are Warden's
// additions.
const (
	// EventDecisionCreated opens a decision: goal, plan, requested mode, labels.
	EventDecisionCreated = "DECISION_CREATED"
	// EventPolicyAttached attaches the policy (and template) a decision is approved against.
	EventPolicyAttached = "POLICY_ATTACHED"
	// EventApprovalGranted records an actor's approval.
	EventApprovalGranted = "APPROVAL_GRANTED"
	// EventApprovalRevoked revokes the actor's own approval.
	EventApprovalRevoked = "APPROVAL_REVOKED"
	// EventExecutionRequested records a request to execute: adapter and mode.
	EventExecutionRequested = "EXECUTION_REQUESTED"
	// EventExecutionStarted records the router request digest as execution starts.
	EventExecutionStarted = "EXECUTION_STARTED"
	// EventExecutionCompleted records a completed run: run id, response digest, steps.
	EventExecutionCompleted = "EXECUTION_COMPLETED"
	// EventExecutionFailed records a failed run.
	EventExecutionFailed = "EXECUTION_FAILED"
	// EventTemplateCreated belongs to template logs; it changes no decision.
	EventTemplateCreated = "TEMPLATE_CREATED"
	// EventDecisionRejected is Warden's: the decision was rejected.
	EventDecisionRejected = "DECISION_REJECTED"
	// EventDecisionExpired is Warden's: the decision expired unapproved.
	EventDecisionExpired = "DECISION_EXPIRED"
)

// State is the replayed state of a decision.
type State string

// Decision states. StateRejected and StateExpired are Warden's additions.
const (
	// StateDraft is a decision created without policy.
	StateDraft State = "draft"
	// StatePendingApproval is a decision waiting for approvals.
	StatePendingApproval State = "pending_approval"
	// StateApproved is a decision whose active approvals reach the threshold.
	StateApproved State = "approved"
	// StateExecuting is a decision whose execution started.
	StateExecuting State = "executing"
	// StateCompleted is a decision whose latest execution completed.
	StateCompleted State = "completed"
	// StateFailed is a decision whose latest execution failed.
	StateFailed State = "failed"
	// StateRejected is a rejected decision (Warden).
	StateRejected State = "rejected"
	// StateExpired is a decision that expired (Warden).
	StateExpired State = "expired"
)

// Status returns the state as a bundle header writes it: upper case, such
// as "PENDING_APPROVAL".
func (s State) Status() string { return strings.ToUpper(string(s)) }

// Execution modes.
const (
	// ModeDryRun executes without side effects.
	ModeDryRun = "dry_run"
	// ModeApply executes for real.
	ModeApply = "apply"
)

// Policy is the policy a POLICY_ATTACHED event attaches.
type Policy struct {
	MinApprovals               int64
	AllowedModes               []string
	RequireAdapterCapabilities []string
	MaxSteps                   *int64 // nil is no limit
	Labels                     []string
}

// TemplateRef records the template a policy came from.
type TemplateRef struct {
	Name      string
	Digest    string          // 64 hex, no prefix; "" when the event had none
	Snapshot  json.RawMessage // nil when the event had none
	Overrides json.RawMessage // nil when the event had none
}

// Approval is the latest approval of one actor.
type Approval struct {
	Actor        Actor
	GrantedAt    string
	ExpiresAt    *time.Time // nil never expires
	Comment      *string
	Revoked      bool
	RevokedAt    string
	RevokeReason string
}

// Active reports whether the approval counts at now: not revoked, and not
// expired (it expires when now reaches ExpiresAt).
func (a *Approval) Active(now time.Time) bool {
	return !a.Revoked && (a.ExpiresAt == nil || a.ExpiresAt.After(now))
}

// Execution is one execution attempt of a decision.
type Execution struct {
	AdapterID      string
	DryRun         bool
	RequestedAt    string
	StartedAt      string
	CompletedAt    string
	RequestDigest  *string // 64 hex, no prefix
	ResponseDigest *string // 64 hex, no prefix
	RunID          *string
	StepsExecuted  *int64 // nil when absent or zero, as nexus-control records it
	ErrorCode      *string
	ErrorMessage   *string
}

// Decision is a decision as its events replay at a given time.
type Decision struct {
	ID            string
	State         State
	Goal          *string
	Plan          json.RawMessage // nil when absent or null
	RequestedMode *string
	Labels        []string
	Policy        *Policy
	Template      *TemplateRef
	Approvals     map[string]*Approval // by actor id: one per distinct actor
	Executions    []Execution
	EventCount    int
	CreatedAt     string    // ts of the first event, "" when there are none
	Now           time.Time // the time approvals were counted at
}

// ReplayError reports the event that stopped a replay.
type ReplayError struct {
	Index int    // position of the event in the list given to Replay
	Seq   int64  // its seq
	Type  string // its type
	Field string // the payload field at fault, such as "payload.min_approvals"; "" for the event itself
	Msg   string // what is wrong
}

// Error names the event, the field and the problem.
func (e *ReplayError) Error() string {
	where := fmt.Sprintf("events[%d] (seq %d, %s)", e.Index, e.Seq, e.Type)
	if e.Field != "" {
		where += ": " + e.Field
	}
	return where + ": " + e.Msg
}

// Replay derives the state of decision id from its events, applied in seq
// order (ties keep their order in events), counting approvals as of now.
// It follows nexus-control's state machine:
//
//   - DECISION_CREATED sets goal, plan, requested mode and labels; the
//     state becomes draft.
//   - POLICY_ATTACHED validates and attaches the policy (min_approvals ≥ 1,
//     allowed_modes a non-empty subset of dry_run and apply, max_steps null
//     or ≥ 1) and records the template, if any; the state becomes
//     pending_approval whatever it was.
//   - APPROVAL_GRANTED replaces the actor's approval (approvals are kept
//     per distinct actor id); APPROVAL_REVOKED revokes it if there is one.
//     After either, a decision in pending_approval or approved becomes
//     approved when the active approvals (not revoked, not expired at now)
//     reach min_approvals, and pending_approval otherwise. Other states
//     do not change.
//   - EXECUTION_REQUESTED adds an execution; EXECUTION_STARTED,
//     EXECUTION_COMPLETED and EXECUTION_FAILED update the latest one and
//     set the state to executing, completed and failed.
//   - TEMPLATE_CREATED changes nothing; Warden's DECISION_REJECTED and
//     DECISION_EXPIRED set the state to rejected and expired.
//
// As in nexus-control, no order of events is enforced. The replay fails,
// with a [*ReplayError], where nexus-control's load fails: an unknown event
// type, a missing required payload field, an invalid policy, an approval
// expiry without UTC offset. Where nexus-control would coerce a value of
// the wrong JSON type, Replay fails too.
func Replay(id string, events []Event, now time.Time) (*Decision, error) {
	d := &Decision{ID: id, State: StateDraft, Approvals: map[string]*Approval{}, Now: now}
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case events[a].Seq < events[b].Seq:
			return -1
		case events[a].Seq > events[b].Seq:
			return 1
		}
		return 0
	})
	for n, i := range order {
		ev := &events[i]
		if n == 0 {
			d.CreatedAt = ev.TS
		}
		if err := d.apply(ev); err != nil {
			var re *ReplayError
			if errors.As(err, &re) {
				re.Index, re.Seq, re.Type = i, ev.Seq, ev.Type
				return nil, re
			}
			return nil, &ReplayError{Index: i, Seq: ev.Seq, Type: ev.Type, Msg: err.Error()}
		}
		d.EventCount++
	}
	return d, nil
}

// payloadReader reads the fields of an event payload.
type payloadReader struct {
	v *jvalue
}

func fieldErr(key, format string, args ...any) error {
	return &ReplayError{Field: "payload." + key, Msg: fmt.Sprintf(format, args...)}
}

func (p payloadReader) get(key string) *jvalue { return p.v.get(key) }

func (p payloadReader) reqString(key string) (string, error) {
	v := p.get(key)
	if v == nil {
		return "", fieldErr(key, "missing")
	}
	if v.kind != jString {
		return "", fieldErr(key, "want a string, got %s", v.kindName())
	}
	return v.s, nil
}

// optString reads a string that may be absent or null (nil).
func (p payloadReader) optString(key string) (*string, error) {
	v := p.get(key)
	if v == nil || v.kind == jNull {
		return nil, nil
	}
	if v.kind != jString {
		return nil, fieldErr(key, "want a string or null, got %s", v.kindName())
	}
	s := v.s
	return &s, nil
}

// strings reads a list of strings that may be absent or null (nil).
func (p payloadReader) strings(key string, required bool) ([]string, error) {
	v := p.get(key)
	if v == nil && required {
		return nil, fieldErr(key, "missing")
	}
	if v == nil || v.kind == jNull {
		return nil, nil
	}
	if v.kind != jArray {
		return nil, fieldErr(key, "want a list of strings, got %s", v.kindName())
	}
	out := make([]string, 0, len(v.elems))
	for i, e := range v.elems {
		if e.kind != jString {
			return nil, fieldErr(key+"["+strconv.Itoa(i)+"]", "want a string, got %s", e.kindName())
		}
		out = append(out, e.s)
	}
	return out, nil
}

// integer reads an integer; a float with an integral value is accepted as
// Python's comparisons would accept it.
func (p payloadReader) integer(key string, v *jvalue) (int64, error) {
	if v.kind != jNumber {
		return 0, fieldErr(key, "want an integer, got %s", v.kindName())
	}
	if !v.float {
		n, err := strconv.ParseInt(v.s, 10, 64)
		if err != nil {
			return 0, fieldErr(key, "integer %s out of range", v.s)
		}
		return n, nil
	}
	f, _ := strconv.ParseFloat(v.s, 64)
	if f != float64(int64(f)) {
		return 0, fieldErr(key, "want an integer, got %s", v.s)
	}
	return int64(f), nil
}

func (p payloadReader) raw(key string) json.RawMessage {
	v := p.get(key)
	if v == nil || v.kind == jNull {
		return nil
	}
	return json.RawMessage(v.raw)
}

func (d *Decision) apply(ev *Event) error {
	pv, err := parseJSON(payloadOrEmpty(ev.Payload))
	if err != nil {
		return &ReplayError{Field: "payload", Msg: err.Error()}
	}
	if pv.kind != jObject {
		return &ReplayError{Field: "payload", Msg: "want an object, got " + pv.kindName()}
	}
	p := payloadReader{v: pv}
	switch ev.Type {
	case EventDecisionCreated:
		goal, err := p.reqString("goal")
		if err != nil {
			return err
		}
		mode, err := p.reqString("requested_mode")
		if err != nil {
			return err
		}
		labels, err := p.strings("labels", false)
		if err != nil {
			return err
		}
		d.Goal, d.RequestedMode, d.Labels = &goal, &mode, labels
		d.Plan = p.raw("plan")
		d.State = StateDraft
	case EventPolicyAttached:
		pol, tmpl, err := policyFrom(p)
		if err != nil {
			return err
		}
		d.Policy = pol
		if tmpl != nil {
			d.Template = tmpl
		}
		d.State = StatePendingApproval
	case EventApprovalGranted:
		a := &Approval{Actor: ev.Actor, GrantedAt: ev.TS}
		exp, err := p.optString("expires_at")
		if err != nil {
			return err
		}
		if exp != nil && *exp != "" {
			t, err := parseTimestamp(*exp)
			if errors.Is(err, errNaive) {
				return fieldErr("expires_at", "%q has no UTC offset, so it cannot be compared with the clock", *exp)
			}
			if err != nil {
				return fieldErr("expires_at", "%v", err)
			}
			a.ExpiresAt = &t
		}
		if a.Comment, err = p.optString("comment"); err != nil {
			return err
		}
		d.Approvals[ev.Actor.ID] = a
		d.reevaluate()
	case EventApprovalRevoked:
		reason, err := p.optString("reason")
		if err != nil {
			return err
		}
		if a := d.Approvals[ev.Actor.ID]; a != nil {
			a.Revoked, a.RevokedAt = true, ev.TS
			a.RevokeReason = ""
			if reason != nil {
				a.RevokeReason = *reason
			}
		}
		d.reevaluate()
	case EventExecutionRequested:
		adapter, err := p.reqString("adapter_id")
		if err != nil {
			return err
		}
		dv := p.get("dry_run")
		if dv == nil {
			return fieldErr("dry_run", "missing")
		}
		if dv.kind != jBool {
			return fieldErr("dry_run", "want a boolean, got %s", dv.kindName())
		}
		d.Executions = append(d.Executions, Execution{AdapterID: adapter, DryRun: dv.b, RequestedAt: ev.TS})
	case EventExecutionStarted:
		digest, err := p.reqString("router_request_digest")
		if err != nil {
			return err
		}
		if x := d.LatestExecution(); x != nil {
			x.StartedAt, x.RequestDigest = ev.TS, &digest
		}
		d.State = StateExecuting
	case EventExecutionCompleted:
		runID, err := p.reqString("run_id")
		if err != nil {
			return err
		}
		resp, err := p.reqString("response_digest")
		if err != nil {
			return err
		}
		var steps *int64
		if sv := p.get("steps_executed"); sv != nil && sv.kind != jNull {
			n, err := p.integer("steps_executed", sv)
			if err != nil {
				return err
			}
			if n != 0 { // nexus-control records 0 as null
				steps = &n
			}
		}
		if x := d.LatestExecution(); x != nil {
			x.CompletedAt, x.RunID, x.ResponseDigest, x.StepsExecuted = ev.TS, &runID, &resp, steps
		}
		d.State = StateCompleted
	case EventExecutionFailed:
		code, err := p.reqString("error_code")
		if err != nil {
			return err
		}
		msg, err := p.reqString("error_message")
		if err != nil {
			return err
		}
		runID, err := p.optString("run_id")
		if err != nil {
			return err
		}
		if runID != nil && *runID == "" {
			runID = nil
		}
		if x := d.LatestExecution(); x != nil {
			x.CompletedAt, x.ErrorCode, x.ErrorMessage, x.RunID = ev.TS, &code, &msg, runID
		}
		d.State = StateFailed
	case EventTemplateCreated:
	case EventDecisionRejected:
		d.State = StateRejected
	case EventDecisionExpired:
		d.State = StateExpired
	default:
		return &ReplayError{Msg: fmt.Sprintf("unknown event type %q", ev.Type)}
	}
	return nil
}

// policyFrom builds and validates the policy of a POLICY_ATTACHED payload.
func policyFrom(p payloadReader) (*Policy, *TemplateRef, error) {
	pol := &Policy{}
	mv := p.get("min_approvals")
	if mv == nil {
		return nil, nil, fieldErr("min_approvals", "missing")
	}
	n, err := p.integer("min_approvals", mv)
	if err != nil {
		return nil, nil, err
	}
	if n < 1 {
		return nil, nil, fieldErr("min_approvals", "must be at least 1, got %d", n)
	}
	pol.MinApprovals = n
	if pol.AllowedModes, err = p.strings("allowed_modes", true); err != nil {
		return nil, nil, err
	}
	if len(pol.AllowedModes) == 0 {
		return nil, nil, fieldErr("allowed_modes", "cannot be empty")
	}
	for _, m := range pol.AllowedModes {
		if m != ModeDryRun && m != ModeApply {
			return nil, nil, fieldErr("allowed_modes", "invalid mode %q (want dry_run or apply)", m)
		}
	}
	if pol.RequireAdapterCapabilities, err = p.strings("require_adapter_capabilities", false); err != nil {
		return nil, nil, err
	}
	if sv := p.get("max_steps"); sv != nil && sv.kind != jNull {
		s, err := p.integer("max_steps", sv)
		if err != nil {
			return nil, nil, err
		}
		if s < 1 {
			return nil, nil, fieldErr("max_steps", "must be at least 1 if specified, got %d", s)
		}
		pol.MaxSteps = &s
	}
	if pol.Labels, err = p.strings("labels", false); err != nil {
		return nil, nil, err
	}
	name, err := p.optString("template_name")
	if err != nil || name == nil || *name == "" {
		return pol, nil, err
	}
	t := &TemplateRef{Name: *name}
	dg, err := p.optString("template_digest")
	if err != nil {
		return nil, nil, err
	}
	if dg != nil {
		t.Digest = *dg
	}
	t.Snapshot = p.raw("template_snapshot")
	t.Overrides = p.raw("overrides_applied")
	return pol, t, nil
}

// reevaluate applies the approval rule after an approval event.
func (d *Decision) reevaluate() {
	if d.State != StatePendingApproval && d.State != StateApproved {
		return
	}
	if d.IsApproved(d.Now) {
		d.State = StateApproved
	} else {
		d.State = StatePendingApproval
	}
}

// ActiveApprovals counts the distinct actors whose approval is active at
// now.
func (d *Decision) ActiveApprovals(now time.Time) int {
	n := 0
	for _, a := range d.Approvals {
		if a.Active(now) {
			n++
		}
	}
	return n
}

// IsApproved reports whether a policy is attached and the active
// approvals at now reach its min_approvals.
func (d *Decision) IsApproved(now time.Time) bool {
	return d.Policy != nil && int64(d.ActiveApprovals(now)) >= d.Policy.MinApprovals
}

// LatestExecution returns the latest execution, or nil.
func (d *Decision) LatestExecution() *Execution {
	if len(d.Executions) == 0 {
		return nil
	}
	return &d.Executions[len(d.Executions)-1]
}

// Header returns the header a bundle of the decision carries.
func (d *Decision) Header() BundleDecision {
	h := BundleDecision{DecisionID: d.ID, Goal: d.Goal, Mode: ModeDryRun, CreatedAt: d.CreatedAt, Status: d.State.Status()}
	if d.RequestedMode != nil && *d.RequestedMode != "" {
		h.Mode = *d.RequestedMode
	}
	return h
}

// RouterLink returns the router link a bundle of the decision carries: the
// latest execution's run id, adapter and digests (prefixed), and the link
// digest when there is a run id. It is empty without executions.
func (d *Decision) RouterLink() RouterLink {
	var l RouterLink
	x := d.LatestExecution()
	if x == nil {
		return l
	}
	adapter := x.AdapterID
	l.RunID, l.AdapterID = x.RunID, &adapter
	if x.RequestDigest != nil {
		s := PrefixDigest(*x.RequestDigest)
		l.RouterRequestDigest = &s
	}
	if x.ResponseDigest != nil {
		s := PrefixDigest(*x.ResponseDigest)
		l.RouterResultDigest = &s
	}
	if x.RunID != nil {
		s := PrefixDigest(RouterLinkDigest(d.ID, *x.RunID, x.RequestDigest, x.ResponseDigest))
		l.ControlRouterLinkDigest = &s
	}
	return l
}

// TemplateSnapshot returns the template section a bundle of the decision
// carries: {present: false} without a template.
func (d *Decision) TemplateSnapshot() TemplateSnapshot {
	t := d.Template
	if t == nil {
		return TemplateSnapshot{Present: false}
	}
	name, digest := t.Name, PrefixDigest(t.Digest)
	s := TemplateSnapshot{Present: true, Name: &name, Digest: &digest,
		Snapshot: json.RawMessage("null"), Overrides: json.RawMessage("null")}
	if t.Snapshot != nil {
		s.Snapshot = t.Snapshot
	}
	if t.Overrides != nil {
		if c, err := Canonical(t.Overrides); err == nil && string(c) != "{}" {
			s.Overrides = t.Overrides
		}
	}
	return s
}

// RouterLinkDigest returns the unprefixed link digest binding a decision to
// a router run: the SHA-256 of the canonical JSON of {decision_id, run_id,
// router_request_digest, router_result_digest}, where the two digests are
// unprefixed hex, or null when nil.
func RouterLinkDigest(decisionID, runID string, requestDigest, resultDigest *string) string {
	buf := []byte(`{"decision_id":`)
	buf = appendString(buf, decisionID)
	buf = append(buf, `,"router_request_digest":`...)
	buf = appendNullString(buf, requestDigest)
	buf = append(buf, `,"router_result_digest":`...)
	buf = appendNullString(buf, resultDigest)
	buf = append(buf, `,"run_id":`...)
	buf = appendString(buf, runID)
	buf = append(buf, '}')
	return SHA256Hex(buf)
}

func appendNullString(buf []byte, s *string) []byte {
	if s == nil {
		return append(buf, "null"...)
	}
	return appendString(buf, *s)
}
