package nexus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// ev builds an event; seq is assigned by events().
func ev(typ, actor, payload string) Event {
	return Event{Type: typ, Actor: Actor{Type: "human", ID: actor}, Payload: []byte(payload), TS: "2025-06-01T11:00:00+00:00"}
}

func events(list ...Event) []Event {
	for i := range list {
		list[i].Seq = int64(i)
	}
	return list
}

const (
	created = `{"goal":"g","plan":null,"requested_mode":"apply","labels":["x"]}`
	policy2 = `{"min_approvals":2,"allowed_modes":["dry_run","apply"],"require_adapter_capabilities":[],"max_steps":null,"labels":[]}`
	grant   = `{"expires_at":null}`
)

func TestReplayStates(t *testing.T) {
	base := []Event{ev(EventDecisionCreated, "alice", created), ev(EventPolicyAttached, "alice", policy2)}
	with := func(more ...Event) []Event { return events(append(append([]Event{}, base...), more...)...) }
	tests := []struct {
		name   string
		events []Event
		state  State
		active int
	}{
		{"no events", nil, StateDraft, 0},
		{"created only", events(ev(EventDecisionCreated, "alice", created)), StateDraft, 0},
		{"policy attached", with(), StatePendingApproval, 0},
		{"one of two", with(ev(EventApprovalGranted, "bob", grant)), StatePendingApproval, 1},
		{"two distinct actors", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant)), StateApproved, 2},
		{"same actor twice counts once", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "bob", grant)), StatePendingApproval, 1},
		{"same id other type counts once", with(ev(EventApprovalGranted, "bob", grant),
			Event{Type: EventApprovalGranted, Actor: Actor{Type: "system", ID: "bob"}, Payload: []byte(grant)}), StatePendingApproval, 1},
		{"revocation drops below threshold", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant),
			ev(EventApprovalRevoked, "carol", `{"reason":"no"}`)), StatePendingApproval, 1},
		{"revocation by a non-approver is ignored", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant),
			ev(EventApprovalRevoked, "mallory", `{}`)), StateApproved, 2},
		{"re-approval after revocation", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant),
			ev(EventApprovalRevoked, "carol", `{}`), ev(EventApprovalGranted, "carol", grant)), StateApproved, 2},
		{"expired approval does not count", with(ev(EventApprovalGranted, "bob", grant),
			ev(EventApprovalGranted, "carol", `{"expires_at":"2025-06-01T12:00:00+00:00"}`)), StatePendingApproval, 1},
		{"future expiry counts", with(ev(EventApprovalGranted, "bob", grant),
			ev(EventApprovalGranted, "carol", `{"expires_at":"2025-06-01T13:00:00.5+01:00"}`)), StateApproved, 2},
		{"policy re-attached resets to pending", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant),
			ev(EventPolicyAttached, "alice", policy2)), StatePendingApproval, 2},
		{"executing", with(ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant),
			ev(EventExecutionRequested, "alice", `{"adapter_id":"a","dry_run":true}`),
			ev(EventExecutionStarted, "nexus-control", `{"router_request_digest":"aa"}`)), StateExecuting, 2},
		{"approval in failed state keeps failed", with(ev(EventExecutionFailed, "nexus-control", `{"error_code":"ROUTER_ERROR","error_message":"x","run_id":null}`),
			ev(EventApprovalGranted, "bob", grant), ev(EventApprovalGranted, "carol", grant)), StateFailed, 2},
		{"completed without request", with(ev(EventExecutionCompleted, "nexus-control", `{"run_id":"r","response_digest":"bb"}`)), StateCompleted, 0},
		{"template created is a no-op", with(ev(EventTemplateCreated, "alice", `{}`)), StatePendingApproval, 0},
		{"rejected (Warden)", with(ev(EventDecisionRejected, "bob", `{"reason":"no"}`), ev(EventApprovalGranted, "bob", grant)), StateRejected, 1},
		{"expired (Warden)", with(ev(EventDecisionExpired, "warden", `{}`)), StateExpired, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Replay("d", tt.events, t0)
			if err != nil {
				t.Fatal(err)
			}
			if d.State != tt.state || d.ActiveApprovals(t0) != tt.active {
				t.Errorf("state %s with %d active approvals, want %s with %d", d.State, d.ActiveApprovals(t0), tt.state, tt.active)
			}
		})
	}
}

func TestReplayExecutions(t *testing.T) {
	list := events(
		ev(EventDecisionCreated, "alice", `{"goal":"g","requested_mode":""}`),
		ev(EventPolicyAttached, "alice", `{"min_approvals":1,"allowed_modes":["apply"],"template_name":"t","template_digest":"ab","template_snapshot":{"k":1},"overrides_applied":{}}`),
		ev(EventExecutionRequested, "alice", `{"adapter_id":"a1","dry_run":false}`),
		ev(EventExecutionStarted, "nexus-control", `{"router_request_digest":"11"}`),
		ev(EventExecutionFailed, "nexus-control", `{"error_code":"ROUTER_ERROR","error_message":"boom","run_id":""}`),
		ev(EventExecutionRequested, "alice", `{"adapter_id":"a2","dry_run":true}`),
		ev(EventExecutionStarted, "nexus-control", `{"router_request_digest":"22"}`),
		ev(EventExecutionCompleted, "nexus-control", `{"run_id":"run","response_digest":"33","steps_executed":0}`),
	)
	list[0].TS = "first"
	d, err := Replay("d", list, t0)
	if err != nil {
		t.Fatal(err)
	}
	s := func(v string) *string { return &v }
	want := []Execution{
		{AdapterID: "a1", RequestedAt: list[2].TS, StartedAt: list[3].TS, CompletedAt: list[4].TS, RequestDigest: s("11"),
			ErrorCode: s("ROUTER_ERROR"), ErrorMessage: s("boom")},
		{AdapterID: "a2", DryRun: true, RequestedAt: list[5].TS, StartedAt: list[6].TS, CompletedAt: list[7].TS,
			RequestDigest: s("22"), ResponseDigest: s("33"), RunID: s("run")}, // steps 0 becomes null, as in nexus-control
	}
	if diff := cmp.Diff(want, d.Executions); diff != "" {
		t.Errorf("executions (-want +got):\n%s", diff)
	}
	h := d.Header()
	if h.Mode != ModeDryRun || h.CreatedAt != "first" || h.Status != "COMPLETED" || *h.Goal != "g" {
		t.Errorf("header %+v", h)
	}
	ts := d.TemplateSnapshot()
	if !ts.Present || *ts.Name != "t" || *ts.Digest != "sha256:ab" || string(ts.Snapshot) != `{"k":1}` || string(ts.Overrides) != "null" {
		t.Errorf("template snapshot %+v (overrides %s)", ts, ts.Overrides)
	}
	l := d.RouterLink()
	if *l.RunID != "run" || *l.AdapterID != "a2" || *l.RouterRequestDigest != "sha256:22" || *l.RouterResultDigest != "sha256:33" ||
		*l.ControlRouterLinkDigest != "sha256:"+RouterLinkDigest("d", "run", s("22"), s("33")) {
		t.Errorf("router link %+v", l)
	}
	// After a failed execution, the link has the adapter and request digest only.
	d, _ = Replay("d", list[:5], t0)
	l = d.RouterLink()
	if l.RunID != nil || l.ControlRouterLinkDigest != nil || l.RouterResultDigest != nil || *l.AdapterID != "a1" || *l.RouterRequestDigest != "sha256:11" {
		t.Errorf("router link after failure %+v", l)
	}
	if e := (&Decision{}).RouterLink(); !e.IsEmpty() {
		t.Errorf("link without execution %+v", e)
	}
}

func TestReplayErrors(t *testing.T) {
	start := ev(EventDecisionCreated, "alice", created)
	tests := []struct {
		name, payload, typ, want string
	}{
		{"unknown type", `{}`, "DECISION_PONDERED", `unknown event type "DECISION_PONDERED"`},
		{"payload not an object", `[]`, EventApprovalGranted, "payload: want an object"},
		{"goal missing", `{"requested_mode":"apply"}`, EventDecisionCreated, "payload.goal: missing"},
		{"goal not a string", `{"goal":1,"requested_mode":"apply"}`, EventDecisionCreated, "payload.goal: want a string, got an integer"},
		{"labels not strings", `{"goal":"g","requested_mode":"apply","labels":[1]}`, EventDecisionCreated, "payload.labels[0]: want a string"},
		{"min_approvals missing", `{"allowed_modes":["apply"]}`, EventPolicyAttached, "payload.min_approvals: missing"},
		{"min_approvals zero", `{"min_approvals":0,"allowed_modes":["apply"]}`, EventPolicyAttached, "must be at least 1, got 0"},
		{"min_approvals fractional", `{"min_approvals":1.5,"allowed_modes":["apply"]}`, EventPolicyAttached, "want an integer, got 1.5"},
		{"allowed_modes empty", `{"min_approvals":1,"allowed_modes":[]}`, EventPolicyAttached, "payload.allowed_modes: cannot be empty"},
		{"allowed_modes invalid", `{"min_approvals":1,"allowed_modes":["foo"]}`, EventPolicyAttached, `invalid mode "foo"`},
		{"max_steps zero", `{"min_approvals":1,"allowed_modes":["apply"],"max_steps":0}`, EventPolicyAttached, "payload.max_steps: must be at least 1 if specified"},
		{"expiry naive", `{"expires_at":"2025-06-01T12:00:00"}`, EventApprovalGranted, "has no UTC offset"},
		{"expiry date only", `{"expires_at":"2025-06-01"}`, EventApprovalGranted, "has no UTC offset"},
		{"expiry garbage", `{"expires_at":"soon"}`, EventApprovalGranted, "not an ISO 8601 timestamp"},
		{"adapter missing", `{"dry_run":true}`, EventExecutionRequested, "payload.adapter_id: missing"},
		{"dry_run not a bool", `{"adapter_id":"a","dry_run":"yes"}`, EventExecutionRequested, "payload.dry_run: want a boolean"},
		{"request digest missing", `{}`, EventExecutionStarted, "payload.router_request_digest: missing"},
		{"run id missing", `{"response_digest":"x"}`, EventExecutionCompleted, "payload.run_id: missing"},
		{"error code missing", `{"error_message":"x"}`, EventExecutionFailed, "payload.error_code: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Replay("d", events(start, ev(tt.typ, "bob", tt.payload)), t0)
			var re *ReplayError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a *ReplayError containing %q", err, tt.want)
			}
			if re.Index != 1 || re.Seq != 1 || re.Type != tt.typ || !strings.HasPrefix(err.Error(), "events[1] (seq 1, "+tt.typ+")") {
				t.Errorf("error does not name the event: %v", err)
			}
		})
	}
}

// TestReplaySeqOrder: events apply in seq order whatever their order in
// the list, ties in list order.
func TestReplaySeqOrder(t *testing.T) {
	list := events(ev(EventDecisionCreated, "alice", created), ev(EventPolicyAttached, "alice", policy2),
		ev(EventApprovalGranted, "bob", grant), ev(EventApprovalRevoked, "bob", `{}`))
	list[2].Seq, list[3].Seq = 3, 2 // revoke before grant
	d, err := Replay("d", list, t0)
	if err != nil {
		t.Fatal(err)
	}
	if d.ActiveApprovals(t0) != 1 || d.CreatedAt != list[0].TS {
		t.Errorf("revocation applied after the grant: %d active", d.ActiveApprovals(t0))
	}
}

func TestTimestamps(t *testing.T) {
	if got := FormatTimestamp(time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)); got != "2025-01-15T10:00:00+00:00" {
		t.Errorf("whole seconds: %s", got)
	}
	if got := FormatTimestamp(time.Date(2025, 1, 15, 11, 0, 0, 123456789, time.FixedZone("x", 3600))); got != "2025-01-15T10:00:00.123456+00:00" {
		t.Errorf("fraction: %s", got)
	}
	if got := FormatTimestamp(time.Date(2025, 1, 15, 10, 0, 0, 500, time.UTC)); got != "2025-01-15T10:00:00+00:00" {
		t.Errorf("sub-microsecond: %s", got)
	}
	utc := func(y, mo, d, h, mi, s, us int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, us*1000, time.UTC)
	}
	// Expected values from Python 3.11's datetime.fromisoformat.
	ok := map[string]time.Time{
		"2025-01-01T00:00:00.1234567+00:00": utc(2025, 1, 1, 0, 0, 0, 123456),
		"2025-01-01T00:00:00Z":              utc(2025, 1, 1, 0, 0, 0, 0),
		"2025-01-01 00:00+01:00":            utc(2024, 12, 31, 23, 0, 0, 0),
		"2025-01-01T00:00:00.1+00:00":       utc(2025, 1, 1, 0, 0, 0, 100000),
		"2025-01-01T00+00:00":               utc(2025, 1, 1, 0, 0, 0, 0),
		"2025-01-01T00:00:00,5Z":            utc(2025, 1, 1, 0, 0, 0, 500000),
		"2025-01-01T00:00:00+0100":          utc(2024, 12, 31, 23, 0, 0, 0),
		"2025-01-01T00:00:00+01":            utc(2024, 12, 31, 23, 0, 0, 0),
		"2025-01-01T00:00:00+01:00:30.5":    utc(2024, 12, 31, 22, 59, 29, 500000),
		"2025-01-01x00:00:00Z":              utc(2025, 1, 1, 0, 0, 0, 0),
		"2025-01-01T00:00:00-00:00":         utc(2025, 1, 1, 0, 0, 0, 0),
		"2024-02-29T23:59:59.999999-05:30":  utc(2024, 3, 1, 5, 29, 59, 999999),
	}
	for in, want := range ok {
		got, err := parseTimestamp(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2025-01-01T24:00:00Z", "2025-01-01T00:00:60Z", "2025-02-30T00:00Z", "2025-13-01T00:00Z", "", "2025-01-01T00:00:00+", "2025-01-01T00:00:00Zjunk", "20250101T000000Z"} {
		if _, err := parseTimestamp(in); err == nil || errors.Is(err, errNaive) {
			t.Errorf("parseTimestamp(%q) = %v, want a format error", in, err)
		}
	}
	for _, in := range []string{"2025-01-01", "2025-01-01T00:00:00", "2025-01-01T00:00:00.5"} {
		if _, err := parseTimestamp(in); !errors.Is(err, errNaive) {
			t.Errorf("parseTimestamp(%q) = %v, want errNaive", in, err)
		}
	}
}
