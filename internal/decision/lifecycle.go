package decision

import (
	"encoding/json"
	"fmt"
	"time"
)

// The blocking reasons, in triage order: the order in which Lifecycle
// checks them, most fundamental first. At most one is reported.
const (
	BlockNoPolicy         = "NO_POLICY"
	BlockRejected         = "REJECTED"
	BlockExpired          = "EXPIRED"
	BlockAlreadyExecuted  = "ALREADY_EXECUTED"
	BlockExecutionFailed  = "EXECUTION_FAILED"
	BlockApprovalExpired  = "APPROVAL_EXPIRED"
	BlockMissingApprovals = "MISSING_APPROVALS"
)

// BlockingCodes lists the blocking reasons in triage order.
var BlockingCodes = []string{
	BlockNoPolicy, BlockRejected, BlockExpired, BlockAlreadyExecuted,
	BlockExecutionFailed, BlockApprovalExpired, BlockMissingApprovals,
}

// A BlockingReason says why a decision cannot execute now.
type BlockingReason struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// BlockingReasons returns why decision d cannot execute at time now, in
// triage order; none when it can, or while it is executing.
func BlockingReasons(d *Decision, now time.Time) []BlockingReason {
	block := func(code, msg string, details map[string]any) []BlockingReason {
		if details == nil {
			details = map[string]any{}
		}
		return []BlockingReason{{Code: code, Message: msg, Details: details}}
	}
	switch {
	case d.Policy == nil:
		return block(BlockNoPolicy, "no policy is attached to the decision", nil)
	case d.State == StateRejected:
		return block(BlockRejected, fmt.Sprintf("rejected by %s: %s", d.Rejection.By, d.Rejection.Reason),
			map[string]any{"by": d.Rejection.By.ID, "reason": d.Rejection.Reason})
	case d.StateAt(now) == StateExpired:
		return block(BlockExpired, fmt.Sprintf("the decision expired at %s without executing", d.ExpiresAt.Format(time.RFC3339)),
			map[string]any{"expires_at": d.ExpiresAt.Format(time.RFC3339Nano)})
	case d.State == StateCompleted:
		return block(BlockAlreadyExecuted, fmt.Sprintf("the decision has executed (run %s); it executes at most once", d.Execution.RunID),
			map[string]any{"run_id": d.Execution.RunID})
	case d.State == StateFailed:
		msg := "the execution failed"
		if d.Execution.Error != "" {
			msg += ": " + d.Execution.Error
		}
		return block(BlockExecutionFailed, msg,
			map[string]any{"error_code": d.Execution.ErrorCode, "error_message": d.Execution.Error})
	case d.State == StateExecuting:
		return nil
	}
	required, valid := d.Policy.MinApprovals, d.Tally.Active(now)
	if valid >= required {
		return nil
	}
	if expired := d.Tally.Expired(now); expired > 0 && d.Tally.Granted >= required {
		return block(BlockApprovalExpired, fmt.Sprintf("%d approval(s) expired; %d of %d required are valid", expired, valid, required),
			map[string]any{"expired_count": expired, "current_valid": valid, "required": required})
	}
	missing := required - valid
	return block(BlockMissingApprovals, fmt.Sprintf("%d more approval%s needed (%d of %d)", missing, plural(missing), valid, required),
		map[string]any{"required": required, "current": valid, "missing": missing})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Execution outcomes of a Progress.
const (
	ProgressPending = "pending"
	ProgressSuccess = "success"
	ProgressFailed  = "failed"
)

// Progress summarises how far a decision has come.
type Progress struct {
	// Approvals is "valid/required", such as "1/2".
	Approvals string `json:"approvals"`
	Current   int    `json:"approvals_current"`
	Required  int    `json:"approvals_required"`
	// Ready is true when the decision may execute now.
	Ready       bool `json:"ready_to_execute"`
	HasExecuted bool `json:"has_executed"`
	// Outcome is ProgressPending, ProgressSuccess or ProgressFailed once
	// an execution was claimed, else empty.
	Outcome string `json:"execution_outcome,omitempty"`
}

// ProgressOf returns decision d's progress at time now.
func ProgressOf(d *Decision, now time.Time) Progress {
	p := Progress{Current: d.Tally.Active(now), Required: d.Required(), Ready: d.StateAt(now) == StateApproved}
	p.Approvals = fmt.Sprintf("%d/%d", p.Current, p.Required)
	switch d.State {
	case StateExecuting:
		p.HasExecuted, p.Outcome = true, ProgressPending
	case StateCompleted:
		p.HasExecuted, p.Outcome = true, ProgressSuccess
	case StateFailed:
		p.HasExecuted, p.Outcome = true, ProgressFailed
	}
	return p
}

// ThresholdMet is the event type of the timeline entry Warden adds where a
// decision first reached its required approvals.
const ThresholdMet = "THRESHOLD_MET"

// A TimelineEntry is one line of a decision's history, for people.
type TimelineEntry struct {
	TS time.Time `json:"ts"`
	// Category is decision, policy, approval or execution.
	Category string `json:"category"`
	// Label is a short name of what happened: created, policy, approved,
	// revoked, rejected, expired, requested, started, completed, failed.
	Label   string `json:"label"`
	Summary string `json:"summary"`
	// Actor is the actor's id, "system:"-prefixed for a system.
	Actor     string `json:"actor,omitempty"`
	EventType string `json:"event_type"`
	Seq       int64  `json:"seq"`
}

// Timeline returns the timeline of a decision's events, with a
// THRESHOLD_MET entry after the approval that first brought the valid
// approvals to the policy's minimum (counting expiry as of that moment).
func Timeline(id string, events []Event) []TimelineEntry {
	out := make([]TimelineEntry, 0, len(events)+1)
	d := &Decision{ID: id, State: StateDraft}
	met := false
	for i := range events {
		e := &events[i]
		out = append(out, entryOf(e))
		if d.Apply(e) != nil {
			continue // an invalid history still gets its entries
		}
		if !met && e.Type == ApprovalGranted && d.StateAt(e.TS) == StateApproved {
			met = true
			n := d.Policy.MinApprovals
			out = append(out, TimelineEntry{TS: e.TS, Category: "decision", Label: "approved",
				Summary: fmt.Sprintf("approval threshold reached (%d/%d)", n, n), EventType: ThresholdMet, Seq: e.Seq})
		}
	}
	return out
}

func entryOf(e *Event) TimelineEntry {
	t := TimelineEntry{TS: e.TS, Actor: e.Actor.String(), EventType: string(e.Type), Seq: e.Seq}
	var p struct {
		Goal          string `json:"goal"`
		Comment       string `json:"comment"`
		Reason        string `json:"reason"`
		AdapterID     string `json:"adapter_id"`
		Mode          Mode   `json:"mode"`
		RunID         string `json:"run_id"`
		Steps         int    `json:"steps_executed"`
		ErrorMessage  string `json:"error_message"`
		TemplateName  string `json:"template_name"`
		MinApprovals  int    `json:"min_approvals"`
		RequestedMode Mode   `json:"requested_mode"`
	}
	_ = json.Unmarshal(e.Payload, &p) // entries of a bad payload just say less
	quoted := func(s string) string {
		if s == "" {
			return ""
		}
		return fmt.Sprintf(": %q", clip(s, 200))
	}
	switch e.Type {
	case DecisionCreated:
		t.Category, t.Label, t.Summary = "decision", "created", fmt.Sprintf("requested by %s (%s)", e.Actor.ID, p.RequestedMode)
	case PolicyAttached:
		t.Category, t.Label = "policy", "policy"
		t.Summary = fmt.Sprintf("policy attached: %d approval%s required", p.MinApprovals, plural(p.MinApprovals))
		if p.TemplateName != "" {
			t.Summary += fmt.Sprintf(", from template %q", p.TemplateName)
		}
	case ApprovalGranted:
		t.Category, t.Label, t.Summary = "approval", "approved", "approved by "+e.Actor.ID+quoted(p.Comment)
	case ApprovalRevoked:
		t.Category, t.Label, t.Summary = "approval", "revoked", "approval revoked by "+e.Actor.ID+quoted(p.Reason)
	case DecisionRejected:
		t.Category, t.Label, t.Summary = "decision", "rejected", "rejected by "+e.Actor.ID+quoted(p.Reason)
	case DecisionExpired:
		t.Category, t.Label, t.Summary = "decision", "expired", "expired without executing"
	case ExecutionRequested:
		adapter := p.AdapterID
		if adapter == "" {
			adapter = "the default adapter"
		}
		t.Category, t.Label, t.Summary = "execution", "requested", fmt.Sprintf("execution claimed by %s (%s) via %s", e.Actor.ID, p.Mode, adapter)
	case ExecutionStarted:
		t.Category, t.Label, t.Summary = "execution", "started", "executor started"
	case ExecutionCompleted:
		t.Category, t.Label, t.Summary = "execution", "completed", fmt.Sprintf("completed: run %s, %d step%s", p.RunID, p.Steps, plural(p.Steps))
	case ExecutionFailed:
		t.Category, t.Label, t.Summary = "execution", "failed", "failed"+quoted(p.ErrorMessage)
	default:
		t.Category, t.Label, t.Summary = "other", string(e.Type), string(e.Type)
	}
	return t
}

// DefaultTimelineLimit is the number of timeline entries a Lifecycle keeps
// by default: the latest ones.
const DefaultTimelineLimit = 20

// A Lifecycle is where a decision stands: its state now, what blocks it,
// its progress and its latest history.
type Lifecycle struct {
	State           State            `json:"state"`
	Blocked         bool             `json:"is_blocked"`
	BlockingReasons []BlockingReason `json:"blocking_reasons"`
	Progress        Progress         `json:"progress"`
	Timeline        []TimelineEntry  `json:"timeline"`
	// TimelineTotal counts every entry, the THRESHOLD_MET one included.
	TimelineTotal int `json:"timeline_total"`
	// TimelineTruncated says that only the latest entries are shown.
	TimelineTruncated bool `json:"timeline_truncated"`
}

// LifecycleOf returns decision d's lifecycle at time now from its events.
// The timeline keeps the latest limit entries: DefaultTimelineLimit for
// 0, all of them for a negative limit.
func LifecycleOf(d *Decision, events []Event, now time.Time, limit int) *Lifecycle {
	reasons := BlockingReasons(d, now)
	if reasons == nil {
		reasons = []BlockingReason{}
	}
	tl := Timeline(d.ID, events)
	l := &Lifecycle{
		State: d.StateAt(now), Blocked: len(reasons) > 0, BlockingReasons: reasons,
		Progress: ProgressOf(d, now), TimelineTotal: len(tl),
	}
	if limit == 0 {
		limit = DefaultTimelineLimit
	}
	if limit > 0 && len(tl) > limit {
		tl, l.TimelineTruncated = tl[len(tl)-limit:], true
	}
	l.Timeline = tl
	return l
}
