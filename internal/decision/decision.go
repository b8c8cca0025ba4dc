package decision

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// State is where a decision is in its life.
type State string

// The states. A decision's recorded State is one of those its events lead
// to; StateApproved and, before its DECISION_EXPIRED event, StateExpired
// are only seen through StateAt, because they depend on the time.
const (
	StateDraft     State = "draft"            // created, no policy yet
	StatePending   State = "pending_approval" // policy attached, waiting for approvals
	StateApproved  State = "approved"         // pending, with enough valid approvals now
	StateExecuting State = "executing"        // execution claimed, not finished
	StateCompleted State = "completed"        // executed successfully
	StateFailed    State = "failed"           // execution failed or was interrupted
	StateRejected  State = "rejected"         // refused by an approver or withdrawn
	StateExpired   State = "expired"          // not executed before its expiry
)

// Terminal reports whether no event can follow in state s.
func (s State) Terminal() bool {
	return s == StateCompleted || s == StateFailed || s == StateRejected || s == StateExpired
}

// A Decision is the state of one decision: the projection of its events.
// It is derived only from the events, never from the clock, so a cached
// Decision always equals a fresh Replay of its history; what depends on
// the time (approvals that have expired, the decision's own expiry) is
// computed by methods that take it.
type Decision struct {
	ID    string `json:"decision_id"`
	State State  `json:"state"`
	Goal  string `json:"goal"`
	// Plan is null, a JSON string, or a JSON list of actions, in canonical
	// form.
	Plan      json.RawMessage `json:"plan,omitempty"`
	Mode      Mode            `json:"requested_mode"`
	Labels    []string        `json:"labels"`
	Requester Actor           `json:"requester"`
	ExpiresAt *time.Time      `json:"expires_at,omitempty"`
	// SessionID, Action and ActionDigest bind a decision raised by a gate
	// to its session and exact call.
	SessionID    string         `json:"session_id,omitempty"`
	Action       *warden.Action `json:"action,omitempty"`
	ActionDigest string         `json:"action_digest,omitempty"`
	Policy       *Policy        `json:"policy,omitempty"`
	Template     *TemplateRef   `json:"template,omitempty"`
	// Approvals holds each identity's latest approval, revoked or not.
	// A Decision loaded for one approver holds only that approver's.
	Approvals map[string]*Approval `json:"approvals,omitempty"`
	// Tally counts the approvals without listing them.
	Tally     Tally      `json:"tally"`
	Rejection *Rejection `json:"rejection,omitempty"`
	// Execution is the decision's one execution, once claimed.
	Execution *Run      `json:"execution,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// EventCount is the number of events, so the next event's seq.
	EventCount int64 `json:"event_count"`
	// Head is the digest of the last event.
	Head string `json:"head"`
}

// Tally counts a decision's approvals in a form that the approve path can
// update without reading every approval: as a decision collects
// thousands, approving stays as cheap as the first time. Only approvals
// given with an expiry are listed, by their expiry.
type Tally struct {
	// Granted counts the approvals not revoked, valid or expired.
	Granted int `json:"granted"`
	// Expiries holds, for each of those that expire, when.
	Expiries map[string]time.Time `json:"expiries,omitempty"`
}

// Expired returns how many of the granted approvals have expired at t.
func (t *Tally) Expired(at time.Time) int {
	n := 0
	for _, e := range t.Expiries {
		if !at.Before(e) {
			n++
		}
	}
	return n
}

// Active returns how many approvals are valid at t: granted, not revoked,
// not expired.
func (t *Tally) Active(at time.Time) int { return t.Granted - t.Expired(at) }

func (t *Tally) remove(id string) {
	t.Granted--
	delete(t.Expiries, id)
	if len(t.Expiries) == 0 {
		t.Expiries = nil
	}
}

func (t *Tally) add(id string, expires *time.Time) {
	t.Granted++
	if expires != nil {
		if t.Expiries == nil {
			t.Expiries = map[string]time.Time{}
		}
		t.Expiries[id] = *expires
	}
}

// An Approval is one identity's approval of a decision.
type Approval struct {
	Actor     Actor      `json:"actor"`
	Seq       int64      `json:"seq"`
	GrantedAt time.Time  `json:"granted_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Comment   string     `json:"comment,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// RevokeReason is the reason given when it was revoked.
	RevokeReason string `json:"revoke_reason,omitempty"`
}

// Revoked reports whether the approval was revoked.
func (a *Approval) Revoked() bool { return a.RevokedAt != nil }

// ValidAt reports whether the approval counts at t: not revoked and not
// expired.
func (a *Approval) ValidAt(t time.Time) bool {
	return a.RevokedAt == nil && (a.ExpiresAt == nil || t.Before(*a.ExpiresAt))
}

// A Rejection records who refused a decision, and why.
type Rejection struct {
	By     Actor     `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// StateAt returns the decision's state at time t: StateApproved for a
// pending decision with enough valid approvals at t, and StateExpired for
// one not yet executed whose expiry has passed.
func (d *Decision) StateAt(t time.Time) State {
	switch d.State {
	case StateDraft, StatePending:
		if d.ExpiresAt != nil && !t.Before(*d.ExpiresAt) {
			return StateExpired
		}
		if d.State == StatePending && d.Tally.Active(t) >= d.Policy.MinApprovals {
			return StateApproved
		}
	}
	return d.State
}

// ActiveApprovals returns the number of approvals valid at t.
func (d *Decision) ActiveApprovals(t time.Time) int { return d.Tally.Active(t) }

// Required returns the number of approvals the policy requires, 1 without
// a policy.
func (d *Decision) Required() int {
	if d.Policy == nil {
		return 1
	}
	return d.Policy.MinApprovals
}

// IsApproved reports whether the decision has enough valid approvals at t
// and is still waiting to execute.
func (d *Decision) IsApproved(t time.Time) bool { return d.StateAt(t) == StateApproved }

// Replay derives a decision's state from its history. It verifies the
// hash chain first (INTEGRITY_MISMATCH) and then applies each event under
// the state machine's rules (REPLAY_INVALID): the same rules that the
// Service enforces when it writes them, so a history that Warden did not
// write, such as an imported one, is held to them too.
func Replay(id string, events []Event) (*Decision, error) {
	if err := VerifyChain(id, events); err != nil {
		return nil, err
	}
	d := &Decision{ID: id, State: StateDraft}
	for i := range events {
		if err := d.Apply(&events[i]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Apply applies the next event of the decision's history to d. It checks
// that the event continues the chain (its seq and prev) and that the state
// machine allows it, but not its digest: Replay does, and the Service
// computes digests itself. On error d is unchanged.
func (d *Decision) Apply(e *Event) error {
	if e.DecisionID != d.ID {
		return replayErr(e.Seq, e.Type, "belongs to decision %q, not %q", e.DecisionID, d.ID)
	}
	if e.Seq != d.EventCount {
		return replayErr(e.Seq, e.Type, "expected seq %d", d.EventCount)
	}
	if e.Prev != d.Head {
		return replayErr(e.Seq, e.Type, "does not follow the previous event")
	}
	if !e.Type.Valid() {
		return replayErr(e.Seq, e.Type, "unknown event type")
	}
	var fe fieldErrors
	e.Actor.check(&fe, "actor")
	if err := fe.err(CodeReplayInvalid); err != nil {
		return replayErr(e.Seq, e.Type, "%v", err)
	}
	if e.TS.IsZero() || e.TS.Before(d.UpdatedAt) {
		return replayErr(e.Seq, e.Type, "timestamp %s is before the previous event's %s", e.TS.Format(TimeFormat), d.UpdatedAt.Format(TimeFormat))
	}
	// Work on a shallow copy; apply replaces, never modifies, the maps and
	// records it changes, so that a refused event leaves d as it was.
	n := *d
	if err := n.apply(e); err != nil {
		return err
	}
	n.EventCount++
	n.Head = e.Digest
	n.UpdatedAt = e.TS
	*d = n
	return nil
}

// apply applies e's effect; d is a shallow copy of the decision whose
// maps and pointed-to records apply must not modify in place.
func (d *Decision) apply(e *Event) error {
	ts := e.TS
	want := func(states ...State) error {
		if !slices.Contains(states, d.State) {
			return replayErr(e.Seq, e.Type, "not allowed in state %s", d.State)
		}
		return nil
	}
	switch e.Type {
	case DecisionCreated:
		if e.Seq != 0 {
			return replayErr(e.Seq, e.Type, "must be the first event")
		}
		var p CreatedPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		if p.Goal == "" || !p.RequestedMode.Valid() {
			return replayErr(e.Seq, e.Type, "goal and a valid requested_mode are required")
		}
		if p.ExpiresAt != nil && !p.ExpiresAt.After(ts) {
			return replayErr(e.Seq, e.Type, "expires_at is not after the creation")
		}
		d.State, d.Goal, d.Mode, d.Labels = StateDraft, p.Goal, p.RequestedMode, p.Labels
		if d.Labels == nil {
			d.Labels = []string{}
		}
		if len(p.Plan) > 0 && string(p.Plan) != "null" {
			d.Plan = p.Plan
		}
		d.Requester, d.ExpiresAt, d.CreatedAt = e.Actor, p.ExpiresAt, ts
		d.SessionID, d.Action, d.ActionDigest = p.SessionID, p.Action, p.ActionDigest

	case PolicyAttached:
		if err := want(StateDraft); err != nil {
			return err
		}
		var p PolicyPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		var fe fieldErrors
		p.Policy.check(&fe, "")
		if !p.Policy.Allows(d.Mode) {
			fe.add("allowed_modes", "does not allow the requested mode %q", d.Mode)
		}
		if err := fe.err(CodeReplayInvalid); err != nil {
			return replayErr(e.Seq, e.Type, "invalid policy: %v", err)
		}
		pol := p.Policy
		d.Policy = &pol
		if p.TemplateName != "" {
			d.Template = &TemplateRef{Name: p.TemplateName, Digest: p.TemplateDigest, Snapshot: p.TemplateSnapshot, Overrides: p.OverridesApplied}
		}
		d.State = StatePending

	case ApprovalGranted:
		if err := want(StatePending); err != nil {
			return err
		}
		var p GrantedPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		id := e.Actor.ID
		if !d.Policy.MayApprove(id, d.Requester.ID) {
			return replayErr(e.Seq, e.Type, "%s may not approve this decision", id)
		}
		if p.ExpiresAt != nil && !p.ExpiresAt.After(ts) {
			return replayErr(e.Seq, e.Type, "expires_at is not after the approval")
		}
		if d.ExpiresAt != nil && !ts.Before(*d.ExpiresAt) {
			return replayErr(e.Seq, e.Type, "the decision expired at %s", d.ExpiresAt.Format(TimeFormat))
		}
		prior := d.Approvals[id]
		if prior != nil && prior.ValidAt(ts) {
			return replayErr(e.Seq, e.Type, "%s already holds a valid approval", id)
		}
		d.Tally.Expiries = maps.Clone(d.Tally.Expiries) // shared with the decision being changed
		if prior != nil && !prior.Revoked() {
			d.Tally.remove(id)
		}
		d.Tally.add(id, p.ExpiresAt)
		d.Approvals = maps.Clone(d.Approvals)
		if d.Approvals == nil {
			d.Approvals = map[string]*Approval{}
		}
		d.Approvals[id] = &Approval{Actor: e.Actor, Seq: e.Seq, GrantedAt: ts, ExpiresAt: p.ExpiresAt, Comment: p.Comment}

	case ApprovalRevoked:
		if err := want(StatePending); err != nil {
			return err
		}
		var p ReasonPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		id := e.Actor.ID
		prior := d.Approvals[id]
		if prior == nil || prior.Revoked() {
			return replayErr(e.Seq, e.Type, "%s holds no approval to revoke", id)
		}
		a := *prior
		a.RevokedAt, a.RevokeReason = &ts, p.Reason
		d.Tally.Expiries = maps.Clone(d.Tally.Expiries)
		d.Tally.remove(id)
		d.Approvals = maps.Clone(d.Approvals)
		d.Approvals[id] = &a

	case DecisionRejected:
		if err := want(StateDraft, StatePending); err != nil {
			return err
		}
		var p ReasonPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		if p.Reason == "" {
			return replayErr(e.Seq, e.Type, "a reason is required")
		}
		if !d.mayReject(e.Actor) {
			return replayErr(e.Seq, e.Type, "%s may not reject this decision", e.Actor.ID)
		}
		d.State = StateRejected
		d.Rejection = &Rejection{By: e.Actor, Reason: p.Reason, At: ts}

	case DecisionExpired:
		if err := want(StateDraft, StatePending); err != nil {
			return err
		}
		var p ExpiredPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		if d.ExpiresAt == nil || !p.ExpiresAt.Equal(*d.ExpiresAt) || ts.Before(*d.ExpiresAt) {
			return replayErr(e.Seq, e.Type, "the decision has not reached its expiry")
		}
		d.State = StateExpired

	case ExecutionRequested:
		if err := want(StatePending); err != nil {
			return err
		}
		var p RequestedPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		if !p.Mode.Valid() || p.DryRun != (p.Mode == DryRun) || !d.Policy.Allows(p.Mode) {
			return replayErr(e.Seq, e.Type, "mode %q is not allowed by the policy", p.Mode)
		}
		if d.StateAt(ts) != StateApproved {
			return replayErr(e.Seq, e.Type, "the decision was not approved at %s (%d of %d approvals valid)",
				ts.Format(TimeFormat), d.Tally.Active(ts), d.Policy.MinApprovals)
		}
		d.State = StateExecuting
		d.Execution = &Run{DecisionID: d.ID, AdapterID: p.AdapterID, Mode: p.Mode, RequestedBy: e.Actor, RequestedAt: ts}

	case ExecutionStarted:
		if err := want(StateExecuting); err != nil {
			return err
		}
		if d.Execution.StartedAt != nil {
			return replayErr(e.Seq, e.Type, "the execution has already started")
		}
		var p StartedPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		if !canon.IsDigest(p.RequestDigest) {
			return replayErr(e.Seq, e.Type, "router_request_digest is not a sha256 digest")
		}
		r := *d.Execution
		r.StartedAt, r.RequestDigest = &ts, p.RequestDigest
		d.Execution = &r

	case ExecutionCompleted:
		if err := want(StateExecuting); err != nil {
			return err
		}
		if d.Execution.StartedAt == nil {
			return replayErr(e.Seq, e.Type, "the execution never started")
		}
		var p CompletedPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		switch {
		case p.RunID == "":
			return replayErr(e.Seq, e.Type, "run_id is required")
		case !canon.IsDigest(p.ResponseDigest):
			return replayErr(e.Seq, e.Type, "response_digest is not a sha256 digest")
		case p.StepsExecuted < 0 || p.Steps != nil && len(p.Steps) != p.StepsExecuted:
			return replayErr(e.Seq, e.Type, "steps_executed %d does not match the %d steps", p.StepsExecuted, len(p.Steps))
		case d.Policy.MaxSteps > 0 && p.StepsExecuted > d.Policy.MaxSteps:
			return replayErr(e.Seq, e.Type, "%d steps exceed max_steps %d", p.StepsExecuted, d.Policy.MaxSteps)
		}
		r := *d.Execution
		r.RunID, r.ResponseDigest, r.StepsExecuted, r.Steps, r.CompletedAt = p.RunID, p.ResponseDigest, p.StepsExecuted, p.Steps, &ts
		d.Execution = &r
		d.State = StateCompleted

	case ExecutionFailed:
		if err := want(StateExecuting); err != nil {
			return err
		}
		var p FailedPayload
		if err := decodePayload(e, &p); err != nil {
			return err
		}
		if p.ErrorCode == "" {
			return replayErr(e.Seq, e.Type, "error_code is required")
		}
		r := *d.Execution
		r.ErrorCode, r.Error, r.CompletedAt = p.ErrorCode, p.ErrorMessage, &ts
		if p.RunID != nil {
			r.RunID = *p.RunID
		}
		d.Execution = &r
		d.State = StateFailed
	}
	return nil
}

// mayReject reports whether actor may reject the decision: its requester
// (a withdrawal), an identity allowed to approve it, or Warden itself.
func (d *Decision) mayReject(a Actor) bool {
	if a.ID == d.Requester.ID || a == SystemActor {
		return true
	}
	return d.Policy != nil && d.Policy.MayApprove(a.ID, d.Requester.ID)
}

// Header returns a copy of d without its approvals: what lists show.
func (d *Decision) Header() *Decision {
	h := *d
	h.Approvals = nil
	return &h
}

// ApprovalList returns the approvals sorted by identity.
func (d *Decision) ApprovalList() []*Approval {
	out := make([]*Approval, 0, len(d.Approvals))
	for _, k := range slices.Sorted(maps.Keys(d.Approvals)) {
		out = append(out, d.Approvals[k])
	}
	return out
}
