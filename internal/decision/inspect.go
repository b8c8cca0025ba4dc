package decision

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// Lifecycle returns decision id's lifecycle now; see LifecycleOf for
// limit.
func (s *Service) Lifecycle(ctx context.Context, id string, limit int) (*Lifecycle, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	d, err := s.load(ctx, id, []string{}) // the tally is enough
	if err != nil {
		return nil, err
	}
	events, err := s.store.Events(ctx, id, 0, int(d.EventCount))
	if err != nil {
		return nil, s.storeErr(err, id)
	}
	return LifecycleOf(d, events, s.now(), limit), nil
}

// InspectOptions shape an Inspection.
type InspectOptions struct {
	// TimelineLimit is as for LifecycleOf.
	TimelineLimit int `json:"timeline_limit,omitempty"`
	// IncludeEvents adds the events themselves.
	IncludeEvents bool `json:"include_events,omitempty"`
}

// Inspect returns everything about decision id, after replaying its
// history to check every digest and that the cached state matches: an
// inconsistency is reported in Integrity rather than as an error, so a
// damaged decision can still be looked at.
func (s *Service) Inspect(ctx context.Context, id string, opts InspectOptions) (*Inspection, error) {
	events, replayed, verr := s.verified(ctx, id)
	if events == nil && verr != nil {
		return nil, verr
	}
	d := replayed
	if d == nil {
		var err error
		if d, err = s.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	in := NewInspection(d, events, s.now(), opts)
	if verr != nil {
		in.Integrity.Verified, in.Integrity.Problem = false, warden.ErrorMessage(verr)
	}
	return in, nil
}

// An Inspection is a full view of one decision, for people (Markdown) and
// programs (JSON).
type Inspection struct {
	Verdict   Verdict             `json:"verdict"`
	Decision  InspectedDecision   `json:"decision"`
	Lifecycle *Lifecycle          `json:"lifecycle"`
	Approval  InspectedApprovals  `json:"approval"`
	Policy    *Policy             `json:"policy"`
	Template  *InspectedTemplate  `json:"template"`
	Execution *InspectedExecution `json:"execution"`
	Integrity Integrity           `json:"integrity"`
	Events    []Event             `json:"events,omitempty"`
}

// A Verdict is the one-line answer to "can this decision execute, and if
// not, why?".
type Verdict struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// InspectedDecision is the decision's identity and request.
type InspectedDecision struct {
	ID           string          `json:"decision_id"`
	State        State           `json:"state"`
	Goal         string          `json:"goal"`
	Mode         Mode            `json:"mode"`
	Plan         json.RawMessage `json:"plan,omitempty"`
	Requester    Actor           `json:"requester"`
	Labels       []string        `json:"labels"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	ExpiresAt    *time.Time      `json:"expires_at,omitempty"`
	SessionID    string          `json:"session_id,omitempty"`
	ActionDigest string          `json:"action_digest,omitempty"`
}

// InspectedApprovals is where the approvals stand.
type InspectedApprovals struct {
	Required int  `json:"min_approvals"`
	Valid    int  `json:"approved_count"`
	Missing  int  `json:"missing"`
	Approved bool `json:"is_approved"`
	// AllowList is the policy's approvers; empty means anyone but the
	// requester.
	AllowList []string `json:"allow_list,omitempty"`
	// Approvers lists every approval given, by identity, with its status
	// now: valid, expired or revoked.
	Approvers []InspectedApprover `json:"approvers"`
}

// Approval statuses of an InspectedApprover.
const (
	ApproverValid   = "valid"
	ApproverExpired = "expired"
	ApproverRevoked = "revoked"
)

// InspectedApprover is one approval.
type InspectedApprover struct {
	ID           string     `json:"actor"`
	Type         string     `json:"actor_type"`
	Status       string     `json:"status"`
	GrantedAt    time.Time  `json:"ts"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	Comment      string     `json:"comment,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

// InspectedTemplate is the template the decision was made from.
type InspectedTemplate struct {
	Name      string         `json:"name"`
	Digest    string         `json:"digest"`
	Overrides map[string]any `json:"overrides_applied"`
}

// InspectedExecution is the decision's execution, if claimed.
type InspectedExecution struct {
	Requested bool `json:"requested"`
	*Run
	Outcome string `json:"outcome,omitempty"`
}

// Integrity is what the inspection verified.
type Integrity struct {
	EventCount int64 `json:"event_count"`
	// HeadDigest is the last event's digest: it commits to the whole
	// history.
	HeadDigest string `json:"head_digest"`
	// StateDigest is the digest of the decision's state. The state
	// depends only on the events, so the digest is stable over time.
	StateDigest string `json:"state_digest"`
	// Verified says that every event digest and link checked, the history
	// replayed, and the cached state equals the replay.
	Verified bool `json:"verified"`
	// Problem says what did not verify.
	Problem string `json:"problem,omitempty"`
}

// NewInspection builds the inspection of decision d with events at time
// now; it assumes the events verified.
func NewInspection(d *Decision, events []Event, now time.Time, opts InspectOptions) *Inspection {
	in := &Inspection{
		Verdict: verdictOf(d, now),
		Decision: InspectedDecision{
			ID: d.ID, State: d.StateAt(now), Goal: d.Goal, Mode: d.Mode, Plan: d.Plan, Requester: d.Requester,
			Labels: d.Labels, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ExpiresAt: d.ExpiresAt,
			SessionID: d.SessionID, ActionDigest: d.ActionDigest,
		},
		Lifecycle: LifecycleOf(d, events, now, opts.TimelineLimit),
		Policy:    d.Policy,
		Execution: &InspectedExecution{},
		Integrity: Integrity{EventCount: d.EventCount, HeadDigest: d.Head, Verified: true},
	}
	valid := d.Tally.Active(now)
	in.Approval = InspectedApprovals{
		Required: d.Required(), Valid: valid, Missing: max(0, d.Required()-valid),
		Approved: d.IsApproved(now), Approvers: []InspectedApprover{},
	}
	if d.Policy != nil {
		in.Approval.AllowList = d.Policy.Approvers
	}
	for _, a := range d.ApprovalList() {
		st := ApproverValid
		if a.Revoked() {
			st = ApproverRevoked
		} else if !a.ValidAt(now) {
			st = ApproverExpired
		}
		in.Approval.Approvers = append(in.Approval.Approvers, InspectedApprover{
			ID: a.Actor.ID, Type: a.Actor.Type, Status: st, GrantedAt: a.GrantedAt, ExpiresAt: a.ExpiresAt,
			Comment: a.Comment, RevokedAt: a.RevokedAt, RevokeReason: a.RevokeReason,
		})
	}
	if t := d.Template; t != nil {
		ov := t.Overrides
		if ov == nil {
			ov = map[string]any{}
		}
		in.Template = &InspectedTemplate{Name: t.Name, Digest: t.Digest, Overrides: ov}
	}
	if r := d.Execution; r != nil {
		in.Execution = &InspectedExecution{Requested: true, Run: r, Outcome: r.Outcome()}
	}
	if dg, err := canon.DigestJSON(d); err == nil {
		in.Integrity.StateDigest = dg
	}
	if opts.IncludeEvents {
		in.Events = events
	}
	return in
}

func verdictOf(d *Decision, now time.Time) Verdict {
	switch st := d.StateAt(now); st {
	case StateDraft:
		return Verdict{false, "Not executable: no policy is attached"}
	case StatePending:
		missing := d.Policy.MinApprovals - d.Tally.Active(now)
		return Verdict{false, fmt.Sprintf("Not executable: waiting for %d more approval%s", missing, plural(missing))}
	case StateApproved:
		return Verdict{true, "Approved: ready to execute"}
	case StateExecuting:
		return Verdict{true, "Executing now"}
	case StateCompleted:
		return Verdict{true, "Executed: run " + d.Execution.RunID}
	case StateFailed:
		t := "Execution failed"
		if d.Execution.Error != "" {
			t += ": " + d.Execution.Error
		}
		return Verdict{false, t}
	case StateRejected:
		return Verdict{false, fmt.Sprintf("Rejected by %s: %s", d.Rejection.By, d.Rejection.Reason)}
	case StateExpired:
		return Verdict{false, "Expired at " + d.ExpiresAt.Format(time.RFC3339) + " without executing"}
	}
	return Verdict{false, "Unknown state"}
}

// JSON returns the inspection as indented JSON.
func (in *Inspection) JSON() ([]byte, error) { return json.MarshalIndent(in, "", "  ") }

// Markdown renders the inspection for people.
func (in *Inspection) Markdown() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	item := func(k, v string) { line("- **%s:** %s", k, v) }
	or := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	when := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	}
	code := func(s string) string {
		if s == "" {
			return "—"
		}
		return "`" + s + "`"
	}
	mark := "✗"
	if in.Verdict.OK {
		mark = "✓"
	}
	line("# Decision %s", in.Decision.ID)
	line("")
	line("%s %s", mark, in.Verdict.Text)
	line("")

	d := in.Decision
	line("## Decision")
	line("")
	item("State", string(d.State))
	item("Goal", or(oneLine(d.Goal)))
	item("Mode", string(d.Mode))
	item("Requested by", d.Requester.String())
	item("Created", when(&d.CreatedAt))
	item("Last update", when(&d.UpdatedAt))
	if d.ExpiresAt != nil {
		item("Expires", when(d.ExpiresAt))
	}
	if len(d.Labels) > 0 {
		item("Labels", strings.Join(d.Labels, ", "))
	}
	if d.SessionID != "" {
		item("Session", code(d.SessionID))
	}
	if d.ActionDigest != "" {
		item("Action digest", code(d.ActionDigest))
	}
	line("")

	l := in.Lifecycle
	line("## Lifecycle")
	line("")
	item("Progress", l.Progress.Approvals+" approvals")
	item("Ready to execute", yesNo(l.Progress.Ready))
	if l.Blocked {
		item("Blocked", "yes")
		for _, r := range l.BlockingReasons {
			line("  - `%s` %s", r.Code, r.Message)
		}
	} else {
		item("Blocked", "no")
	}
	line("")

	a := in.Approval
	line("## Approvals")
	line("")
	if in.Policy == nil {
		line("No policy is attached.")
	} else {
		status := "threshold met"
		if a.Missing > 0 {
			status = fmt.Sprintf("%d missing", a.Missing)
		}
		item("Valid", fmt.Sprintf("%d of %d required (%s)", a.Valid, a.Required, status))
		if len(a.AllowList) > 0 {
			item("Allowed approvers", strings.Join(a.AllowList, ", "))
		}
		const show = 10
		for i, ap := range a.Approvers {
			if i == show {
				line("- … and %d more", len(a.Approvers)-show)
				break
			}
			s := fmt.Sprintf("- %s — %s, %s", ap.ID, ap.Status, when(&ap.GrantedAt))
			if ap.ExpiresAt != nil {
				s += ", expires " + when(ap.ExpiresAt)
			}
			if ap.Comment != "" {
				s += fmt.Sprintf(": %q", clip(oneLine(ap.Comment), 200))
			}
			if ap.RevokeReason != "" {
				s += fmt.Sprintf(" (revoked: %q)", clip(oneLine(ap.RevokeReason), 200))
			}
			line("%s", s)
		}
	}
	line("")

	if p := in.Policy; p != nil {
		line("## Policy")
		line("")
		item("min_approvals", fmt.Sprint(p.MinApprovals))
		item("allowed_modes", joinModes(p.AllowedModes))
		item("require_adapter_capabilities", or(strings.Join(p.RequireCapabilities, ", ")))
		steps := "—"
		if p.MaxSteps > 0 {
			steps = fmt.Sprint(p.MaxSteps)
		}
		item("max_steps", steps)
		item("self-approval", map[bool]string{true: "allowed", false: "not allowed"}[p.AllowSelfApproval])
		line("")
	}

	if t := in.Template; t != nil {
		line("## Template")
		line("")
		item("Name", t.Name)
		item("Digest", code(t.Digest))
		ov := "none"
		if len(t.Overrides) > 0 {
			ov = strings.Join(slices.Sorted(maps.Keys(t.Overrides)), ", ")
		}
		item("Overrides", ov)
		line("")
	}

	line("## Execution")
	line("")
	if x := in.Execution; x.Requested {
		item("Outcome", strings.ReplaceAll(x.Outcome, "_", " "))
		item("Claimed", fmt.Sprintf("%s by %s (%s)", when(&x.RequestedAt), x.RequestedBy, x.Mode))
		item("Adapter", or(x.AdapterID))
		item("Run", code(x.RunID))
		item("Steps", fmt.Sprint(x.StepsExecuted))
		item("Request digest", code(x.RequestDigest))
		item("Response digest", code(x.ResponseDigest))
		if x.Error != "" {
			item("Error", fmt.Sprintf("%s: %s", x.ErrorCode, oneLine(x.Error)))
		}
	} else {
		line("Not executed.")
	}
	line("")

	line("## Timeline")
	line("")
	if l.TimelineTruncated {
		line("(the latest %d of %d entries)", len(l.Timeline), l.TimelineTotal)
		line("")
	}
	for _, e := range l.Timeline {
		by := ""
		if e.Actor != "" {
			by = " — " + e.Actor
		}
		line("- %s `%s` %s%s", e.TS.UTC().Format("2006-01-02 15:04:05Z"), e.Label, oneLine(e.Summary), by)
	}
	line("")

	g := in.Integrity
	line("## Integrity")
	line("")
	item("Events", fmt.Sprint(g.EventCount))
	item("Head digest", code(g.HeadDigest))
	item("State digest", code(g.StateDigest))
	if g.Verified {
		item("Verified", "yes: every event digest and link checks, and the state equals a replay")
	} else {
		item("Verified", "NO: "+g.Problem)
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneLine replaces line breaks, so that a value cannot forge Markdown
// structure.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
