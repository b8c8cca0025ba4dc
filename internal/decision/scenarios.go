package decision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// The scenarios follow the test suites of nexus-control, the approval
// control plane Warden replaces (reference/nexus-control.md §10.1, §10.2,
// §10.4, §10.6 and §10.7), with Warden's intended outcomes. Comments
// marked "Warden differs" say where Warden deliberately does otherwise.

func (su *suite) scenarios() []struct {
	name string
	run  func(*testing.T)
} {
	return []struct {
		name string
		run  func(*testing.T)
	}{
		{"Approvals", su.testApprovals},
		{"ApprovalRules", su.testApprovalRules},
		{"Replay", su.testReplay},
		{"ReplayRefusesForgery", su.testReplayRefusesForgery},
		{"Execute", su.testExecute},
		{"ExecuteAtMostOnce", su.testExecuteAtMostOnce},
		{"Templates", su.testTemplates},
		{"TemplateOverrides", su.testTemplateOverrides},
		{"Lifecycle", su.testLifecycle},
		{"Timeline", su.testTimeline},
		{"Inspect", su.testInspect},
		{"RejectAndExpire", su.testRejectAndExpire},
		{"ConcurrentApprovals", su.testConcurrentApprovals},
		{"ConcurrentExecutes", su.testConcurrentExecutes},
		{"Recover", su.testRecover},
		{"Import", su.testImport},
	}
}

// req creates a decision by "creator" needing n approvals, mode apply
// with both modes allowed, as nexus-control's suites do.
func (f *fixture) req(n int, mod ...func(*Request)) *Decision {
	f.t.Helper()
	r := &Request{Goal: "test goal", Actor: human("creator"), Mode: Apply, MinApprovals: intp(n), AllowedModes: []Mode{DryRun, Apply}}
	for _, m := range mod {
		m(r)
	}
	d, err := f.svc.Create(f.ctx, r)
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	f.track(d.ID)
	return d
}

func (f *fixture) approve(id, who string) *ApprovalStatus {
	f.t.Helper()
	st, err := f.svc.Approve(f.ctx, id, human(who), ApproveOptions{})
	if err != nil {
		f.t.Fatalf("Approve(%s): %v", who, err)
	}
	return st
}

func (f *fixture) execute(id string) (*Run, error) {
	return f.svc.Execute(f.ctx, id, ExecuteOptions{Actor: human("operator"), AdapterID: "test-adapter"})
}

func (f *fixture) get(id string) *Decision {
	f.t.Helper()
	d, err := f.svc.Get(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// §10.1: the approval threshold.
func (su *suite) testApprovals(t *testing.T) {
	t.Run("SingleApprovalInsufficientForTwo", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		got := f.approve(d.ID, "alice")
		want := &ApprovalStatus{DecisionID: d.ID, State: StatePending, Current: 1, Required: 2, Approved: false}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("TwoApprovalsMeetThreshold", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		f.approve(d.ID, "alice")
		got := f.approve(d.ID, "bob")
		if got.Current != 2 || !got.Approved || got.State != StateApproved {
			t.Errorf("after two approvals: %+v", got)
		}
	})
	t.Run("SameActorCannotApproveTwice", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		f.approve(d.ID, "alice")
		_, err := f.svc.Approve(f.ctx, d.ID, human("alice"), ApproveOptions{})
		wantCode(t, err, warden.CodeAlreadyApproved)
		// Identity is the id alone: a system actor with the same id is
		// the same approver.
		_, err = f.svc.Approve(f.ctx, d.ID, Actor{Type: System, ID: "alice"}, ApproveOptions{})
		wantCode(t, err, warden.CodeAlreadyApproved)
	})
	t.Run("RevokedApprovalCanBeReapproved", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(1)
		f.approve(d.ID, "alice")
		st := must(f.svc.Revoke(f.ctx, d.ID, human("alice"), "need to review more"))
		if st.Current != 0 || st.Approved {
			t.Errorf("after revoke: %+v", st)
		}
		if got := f.get(d.ID); got.ActiveApprovals(f.clock.Now()) != 0 {
			t.Errorf("active approvals %d after revoke", got.ActiveApprovals(f.clock.Now()))
		}
		// nexus-control's test stops here; Warden also checks the
		// re-approval it is named after.
		if st := f.approve(d.ID, "alice"); st.Current != 1 || !st.Approved {
			t.Errorf("after re-approval: %+v", st)
		}
	})
	t.Run("ThreeOfFive", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(3, func(r *Request) { r.Approvers = []string{"alice", "bob", "charlie", "dana", "eve"} })
		f.approve(d.ID, "alice")
		f.approve(d.ID, "bob")
		if got := f.get(d.ID); got.ActiveApprovals(f.clock.Now()) != 2 || got.IsApproved(f.clock.Now()) {
			t.Errorf("after 2 of 3: %d active, approved %v", got.ActiveApprovals(f.clock.Now()), got.IsApproved(f.clock.Now()))
		}
		if st := f.approve(d.ID, "charlie"); !st.Approved {
			t.Errorf("after 3 of 3: %+v", st)
		}
	})
	t.Run("ApprovalWithComment", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		must(f.svc.Approve(f.ctx, d.ID, human("alice"), ApproveOptions{Comment: "Reviewed the plan, looks good"}))
		events := must(f.svc.Events(f.ctx, d.ID))
		var granted []GrantedPayload
		for _, e := range events {
			if e.Type == ApprovalGranted {
				var p GrantedPayload
				if err := json.Unmarshal(e.Payload, &p); err != nil {
					t.Fatal(err)
				}
				granted = append(granted, p)
			}
		}
		if len(granted) != 1 || granted[0].Comment != "Reviewed the plan, looks good" {
			t.Errorf("APPROVAL_GRANTED payloads %+v", granted)
		}
		if a := f.get(d.ID).Approvals["alice"]; a.Comment != "Reviewed the plan, looks good" {
			t.Errorf("approval %+v", a)
		}
	})
	t.Run("MixedHumanAndSystemApprovers", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		f.approve(d.ID, "alice")
		st := must(f.svc.Approve(f.ctx, d.ID, Actor{Type: System, ID: "security-scanner"}, ApproveOptions{Comment: "no findings"}))
		if !st.Approved {
			t.Errorf("%+v", st)
		}
	})
	t.Run("CannotApproveAfterExecution", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(1)
		f.approve(d.ID, "alice")
		// nexus-control appends the execution events by hand; Warden
		// holds a real execution open.
		hold, entered := make(chan struct{}), make(chan string, 1)
		f.exec.set(func(x *ScriptedExecutor) { x.Hold, x.Entered = hold, entered })
		done := make(chan error)
		go func() { _, err := f.execute(d.ID); done <- err }()
		<-entered
		_, err := f.svc.Approve(f.ctx, d.ID, human("bob"), ApproveOptions{})
		wantCode(t, err, warden.CodeInvalidState)
		close(hold)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Approve(f.ctx, d.ID, human("bob"), ApproveOptions{})
		wantCode(t, err, warden.CodeInvalidState)
	})
	t.Run("ApprovalStateInStatus", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		f.approve(d.ID, "alice")
		got := f.get(d.ID)
		if got.ActiveApprovals(f.clock.Now()) != 1 || len(got.Approvals) != 1 || got.Policy.MinApprovals != 2 || got.StateAt(f.clock.Now()) != StatePending {
			t.Errorf("status: %+v", got)
		}
		st := must(f.svc.Status(f.ctx, d.ID))
		if diff := cmp.Diff(&ApprovalStatus{DecisionID: d.ID, State: StatePending, Current: 1, Required: 2}, st); diff != "" {
			t.Errorf("Status (-want +got):\n%s", diff)
		}
	})
}

// Warden's approval rules beyond nexus-control's (which has none of
// them): no self-approval, the approver allow-list, approval expiry.
func (su *suite) testApprovalRules(t *testing.T) {
	t.Run("NoSelfApproval", func(t *testing.T) {
		// Warden differs: nexus-control lets the requester approve.
		f := su.fixture(t)
		d := f.req(1)
		_, err := f.svc.Approve(f.ctx, d.ID, human("creator"), ApproveOptions{})
		wantCode(t, err, warden.CodeSelfApproval)
		d2 := f.req(1, func(r *Request) { r.AllowSelfApproval = boolp(true) })
		if st := f.approve(d2.ID, "creator"); !st.Approved {
			t.Errorf("self-approval allowed by the policy: %+v", st)
		}
	})
	t.Run("AllowList", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2, func(r *Request) { r.Approvers = []string{"alice", "bob", "creator"} })
		_, err := f.svc.Approve(f.ctx, d.ID, human("mallory"), ApproveOptions{})
		wantCode(t, err, warden.CodeNotAnApprover)
		_, err = f.svc.Approve(f.ctx, d.ID, human("creator"), ApproveOptions{})
		wantCode(t, err, warden.CodeSelfApproval)
		f.approve(d.ID, "alice")
		if st := f.approve(d.ID, "bob"); !st.Approved {
			t.Errorf("%+v", st)
		}
		// An unreachable threshold is refused when the decision is made.
		_, err = f.svc.Create(f.ctx, &Request{Goal: "g", Actor: human("alice"), MinApprovals: intp(2), Approvers: []string{"alice", "bob"}})
		wantCode(t, err, warden.CodeInvalidInput)
		contains(t, "error", err.Error(), "min_approvals")
	})
	t.Run("Expiry", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		in := f.clock.Now().Add(time.Hour)
		must(f.svc.Approve(f.ctx, d.ID, human("alice"), ApproveOptions{ExpiresAt: &in}))
		f.approve(d.ID, "bob")
		if st := must(f.svc.Status(f.ctx, d.ID)); !st.Approved {
			t.Errorf("before expiry: %+v", st)
		}
		f.clock.Advance(2 * time.Hour)
		if st := must(f.svc.Status(f.ctx, d.ID)); st.Approved || st.Current != 1 || st.State != StatePending {
			t.Errorf("after expiry: %+v", st)
		}
		// Warden differs: nexus-control accepts an expiry in the past and
		// makes an identity whose approval expired revoke it before
		// approving again.
		past := f.clock.Now().Add(-time.Minute)
		_, err := f.svc.Approve(f.ctx, d.ID, human("carol"), ApproveOptions{ExpiresAt: &past})
		wantCode(t, err, warden.CodeInvalidInput)
		if st := f.approve(d.ID, "alice"); !st.Approved || st.Current != 2 {
			t.Errorf("after alice approved again: %+v", st)
		}
		if got := f.get(d.ID); got.Tally.Granted != 2 || len(got.Tally.Expiries) != 0 {
			t.Errorf("tally %+v", got.Tally)
		}
	})
	t.Run("RevokeRules", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		_, err := f.svc.Revoke(f.ctx, d.ID, human("alice"), "")
		wantCode(t, err, CodeNotApproved)
		f.approve(d.ID, "alice")
		must(f.svc.Revoke(f.ctx, d.ID, human("alice"), ""))
		_, err = f.svc.Revoke(f.ctx, d.ID, human("alice"), "")
		wantCode(t, err, CodeNotApproved)
	})
	t.Run("UnknownDecisionAndBadInput", func(t *testing.T) {
		f := su.fixture(t)
		_, err := f.svc.Approve(f.ctx, "no-such-decision", human("alice"), ApproveOptions{})
		wantCode(t, err, CodeDecisionNotFound)
		_, err = f.svc.Get(f.ctx, "no-such-decision")
		wantCode(t, err, CodeDecisionNotFound)
		d := f.req(1)
		_, err = f.svc.Approve(f.ctx, d.ID, Actor{Type: "robot", ID: ""}, ApproveOptions{})
		wantCode(t, err, warden.CodeInvalidInput)
		contains(t, "error", err.Error(), "actor.type", "actor.id")
		_, err = f.svc.Approve(f.ctx, d.ID, human("alice"), ApproveOptions{Comment: strings.Repeat("x", MaxTextLen+1)})
		wantCode(t, err, warden.CodeInvalidInput)
		_, err = f.svc.Create(f.ctx, &Request{ID: d.ID, Goal: "again", Actor: human("creator")})
		wantCode(t, err, CodeDecisionExists)
	})
}

// §10.2: replay of events written directly.
func (su *suite) testReplay(t *testing.T) {
	ctx := context.Background()
	t.Run("EmptyDecisionIsDraft", func(t *testing.T) {
		d := must(Replay("test-1", nil))
		if d.State != StateDraft || d.Goal != "" || d.Policy != nil {
			t.Errorf("%+v", d)
		}
	})
	st := su.newStore(t)
	appendTo := func(t *testing.T, d *Decision, at time.Time, drafts ...draft) {
		t.Helper()
		if err := st.Append(ctx, d, build(t, d, at, drafts...)); err != nil {
			t.Fatal(err)
		}
		CheckReplay(t, st, d.ID)
	}
	t.Run("CreatedSetsGoal", func(t *testing.T) {
		d := newDraft("r-created")
		appendTo(t, d, t0, createdDraft("rotate keys", Apply, "prod"))
		got := must(Replay(d.ID, must(st.Events(ctx, d.ID, 0, 0))))
		if got.Goal != "rotate keys" || got.Mode != Apply || !slices.Equal(got.Labels, []string{"prod"}) || got.State != StateDraft {
			t.Errorf("%+v", got)
		}
	})
	t.Run("PolicyAttachedMakesPending", func(t *testing.T) {
		d := newDraft("r-policy")
		appendTo(t, d, t0, createdDraft("rotate keys", Apply), policyDraft(Policy{MinApprovals: 2, AllowedModes: []Mode{DryRun, Apply}, MaxSteps: 10}))
		got := must(Replay(d.ID, must(st.Events(ctx, d.ID, 0, 0))))
		if got.State != StatePending || got.Policy.MinApprovals != 2 || got.Policy.MaxSteps != 10 {
			t.Errorf("%+v", got)
		}
	})
	t.Run("ApprovalsCountDistinctActors", func(t *testing.T) {
		d := newDraft("r-distinct")
		appendTo(t, d, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 2, AllowedModes: []Mode{Apply}}))
		appendTo(t, d, t0, draft{ApprovalGranted, human("alice"), GrantedPayload{}})
		if d.ActiveApprovals(t0) != 1 || d.StateAt(t0) != StatePending {
			t.Errorf("after alice: %d, %s", d.ActiveApprovals(t0), d.StateAt(t0))
		}
		appendTo(t, d, t0, draft{ApprovalGranted, human("bob"), GrantedPayload{}})
		if d.ActiveApprovals(t0) != 2 || d.StateAt(t0) != StateApproved {
			t.Errorf("after bob: %d, %s", d.ActiveApprovals(t0), d.StateAt(t0))
		}
	})
	t.Run("ExpiredApprovalNotCounted", func(t *testing.T) {
		// Warden differs: an approval cannot be granted already expired,
		// so it expires after the grant and is checked later.
		d := newDraft("r-expired")
		exp := t0.Add(24 * time.Hour)
		appendTo(t, d, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}),
			draft{ApprovalGranted, human("alice"), GrantedPayload{ExpiresAt: &exp}})
		later := t0.Add(25 * time.Hour)
		if d.ActiveApprovals(later) != 0 || d.IsApproved(later) || !d.IsApproved(t0) {
			t.Errorf("active %d at expiry+1h", d.ActiveApprovals(later))
		}
		past := t0.Add(-time.Hour)
		bad := newDraft("r-expired-bad")
		build(t, bad, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}))
		_, err := extend(bad, []draft{{ApprovalGranted, human("alice"), GrantedPayload{ExpiresAt: &past}}}, t0)
		wantCode(t, errors.Unwrap(err), CodeReplayInvalid)
	})
	t.Run("RevokedApprovalNotCounted", func(t *testing.T) {
		d := newDraft("r-revoked")
		appendTo(t, d, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}),
			draft{ApprovalGranted, human("alice"), GrantedPayload{}},
			draft{ApprovalRevoked, human("alice"), ReasonPayload{Reason: "changed my mind"}})
		if d.ActiveApprovals(t0) != 0 {
			t.Errorf("active %d", d.ActiveApprovals(t0))
		}
	})
	t.Run("ExecutionCompletedSetsRunID", func(t *testing.T) {
		d := newDraft("r-run")
		appendTo(t, d, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}),
			draft{ApprovalGranted, human("alice"), GrantedPayload{}},
			draft{ExecutionRequested, human("op"), RequestedPayload{AdapterID: "test", Mode: Apply}},
			draft{ExecutionStarted, SystemActor, StartedPayload{RequestDigest: canon.Digest([]byte("request"))}},
			draft{ExecutionCompleted, SystemActor, CompletedPayload{RunID: "run-xyz", ResponseDigest: canon.Digest([]byte("response")), StepsExecuted: 5}})
		got := must(Replay(d.ID, must(st.Events(ctx, d.ID, 0, 0))))
		if got.State != StateCompleted || got.Execution.RunID != "run-xyz" || got.Execution.StepsExecuted != 5 {
			t.Errorf("%+v", got.Execution)
		}
	})
	t.Run("ReplayIsDeterministic", func(t *testing.T) {
		events := must(st.Events(ctx, "r-run", 0, 0))
		a, b := must(Replay("r-run", events)), must(Replay("r-run", events))
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("two replays differ:\n%s", diff)
		}
	})
}

// testReplayRefusesForgery checks that a history Warden would not have
// written does not replay. nexus-control replays any sequence of events.
func (su *suite) testReplayRefusesForgery(t *testing.T) {
	f := su.fixture(t)
	d := f.req(1)
	f.approve(d.ID, "alice")
	must(f.execute(d.ID))
	events := must(f.svc.Events(f.ctx, d.ID))
	if _, err := Replay(d.ID, events); err != nil {
		t.Fatal(err)
	}
	// Tampering with any event breaks the chain at that event.
	for i := range events {
		forged := slices.Clone(events)
		e := forged[i]
		e.Payload = json.RawMessage(strings.Replace(string(e.Payload), "}", `,"x":1}`, 1))
		forged[i] = e
		_, err := Replay(d.ID, forged)
		wantCode(t, err, CodeIntegrityMismatch)
		contains(t, "error", err.Error(), fmt.Sprintf("event %d", i))
	}
	_, err := Replay(d.ID, append(slices.Clone(events[:2]), events[3:]...))
	wantCode(t, err, CodeIntegrityMismatch)

	// Re-chained forgeries verify but do not replay.
	forge := func(drafts ...draft) error {
		x := newDraft("forged")
		if _, err := extend(x, []draft{createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}})}, t0); err != nil {
			return err
		}
		_, err := extend(x, drafts, t0)
		return errors.Unwrap(err)
	}
	for name, drafts := range map[string][]draft{
		"self-approval":           {{ApprovalGranted, human("creator"), GrantedPayload{}}},
		"execute unapproved":      {{ExecutionRequested, human("op"), RequestedPayload{Mode: Apply}}},
		"execute in a bad mode":   {{ApprovalGranted, human("a"), GrantedPayload{}}, {ExecutionRequested, human("op"), RequestedPayload{Mode: DryRun, DryRun: true}}},
		"complete without start":  {{ApprovalGranted, human("a"), GrantedPayload{}}, {ExecutionRequested, human("op"), RequestedPayload{Mode: Apply}}, {ExecutionCompleted, SystemActor, CompletedPayload{RunID: "r", ResponseDigest: canon.Digest(nil)}}},
		"revoke without approval": {{ApprovalRevoked, human("a"), ReasonPayload{}}},
		"second policy":           {policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}})},
		"reject without reason":   {{DecisionRejected, human("creator"), ReasonPayload{}}},
		"expire without expiry":   {{DecisionExpired, SystemActor, ExpiredPayload{ExpiresAt: t0}}},
		"unknown payload key":     {{ApprovalGranted, human("a"), map[string]any{"expires_at": nil, "votes": 2}}},
		"unknown type":            {{"APPROVAL_BRIBED", human("a"), map[string]any{}}},
	} {
		err := forge(drafts...)
		if warden.ErrorCode(err) != CodeReplayInvalid {
			t.Errorf("%s: %v, want REPLAY_INVALID", name, err)
		}
	}
}

// §10.4: execution and the run record.
func (su *suite) testExecute(t *testing.T) {
	approved := func(f *fixture, mod ...func(*Request)) *Decision {
		d := f.req(1, mod...)
		f.approve(d.ID, "alice")
		return d
	}
	t.Run("CallsExecutor", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.RunID = "run-abc" })
		d := approved(f, func(r *Request) { r.Goal, r.MaxSteps = "rotate API keys", intp(10) })
		run := must(f.execute(d.ID))
		if run.RunID != "run-abc" {
			t.Errorf("run id %q", run.RunID)
		}
		calls := f.exec.Calls()
		want := []*ExecRequest{{DecisionID: d.ID, Goal: "rotate API keys", Mode: Apply, AdapterID: "test-adapter", MaxSteps: 10, RequireCapabilities: []string{}}}
		if diff := cmp.Diff(want, calls, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("executor calls (-want +got):\n%s", diff)
		}
		if digest := must(canon.DigestJSON(calls[0])); run.RequestDigest != digest {
			t.Errorf("request digest %s, want the request's %s", run.RequestDigest, digest)
		}
	})
	t.Run("RecordsRunID", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.RunID = "run-xyz-789" })
		d := approved(f)
		must(f.execute(d.ID))
		got := f.get(d.ID)
		if got.Execution.RunID != "run-xyz-789" || got.State != StateCompleted {
			t.Errorf("%s %+v", got.State, got.Execution)
		}
	})
	t.Run("RecordsDigests", func(t *testing.T) {
		f := su.fixture(t)
		d := approved(f)
		run := must(f.execute(d.ID))
		if !canon.IsDigest(run.RequestDigest) || !canon.IsDigest(run.ResponseDigest) {
			t.Errorf("digests %q %q", run.RequestDigest, run.ResponseDigest)
		}
		if !strings.HasPrefix(run.RunID, "run-") {
			t.Errorf("generated run id %q", run.RunID)
		}
	})
	t.Run("FailsWithoutApproval", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		f.approve(d.ID, "alice")
		_, err := f.execute(d.ID)
		wantCode(t, err, CodePolicyViolation)
		contains(t, "error", err.Error(), "approvals: 1 of the 2")
		if got := f.get(d.ID); got.EventCount != 3 || got.Execution != nil {
			t.Errorf("a refused execution wrote events: %d", got.EventCount)
		}
	})
	t.Run("FailsForDisallowedMode", func(t *testing.T) {
		f := su.fixture(t)
		d := approved(f, func(r *Request) { r.Mode, r.AllowedModes = DryRun, []Mode{DryRun} })
		_, err := f.svc.Execute(f.ctx, d.ID, ExecuteOptions{Actor: human("op"), Mode: Apply})
		wantCode(t, err, CodePolicyViolation)
		contains(t, "error", err.Error(), "mode", "not allowed")
	})
	t.Run("DryRunOverride", func(t *testing.T) {
		f := su.fixture(t)
		d := approved(f)
		run := must(f.svc.Execute(f.ctx, d.ID, ExecuteOptions{Actor: human("op"), Mode: DryRun}))
		if run.Mode != DryRun || f.exec.Calls()[0].Mode != DryRun {
			t.Errorf("mode %s, executor got %s", run.Mode, f.exec.Calls()[0].Mode)
		}
	})
	t.Run("ExecutorFailure", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.Err = errors.New("Connection timeout") })
		d := approved(f)
		run, err := f.execute(d.ID)
		wantCode(t, err, CodeRouterError)
		contains(t, "error", err.Error(), "Connection timeout")
		got := f.get(d.ID)
		if got.State != StateFailed || got.Execution.ErrorCode != string(CodeRouterError) || run == nil || run.Outcome() != OutcomeFailed {
			t.Errorf("%s %+v", got.State, got.Execution)
		}
	})
	t.Run("ExecutorPanicAndOverrun", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.Panic = "boom" })
		d := approved(f)
		_, err := f.execute(d.ID)
		wantCode(t, err, CodeRouterError)
		contains(t, "error", err.Error(), "panicked", "boom")
		f.exec.set(func(x *ScriptedExecutor) { x.Panic, x.Steps = "", 4 })
		d = approved(f, func(r *Request) { r.MaxSteps = intp(3) })
		_, err = f.execute(d.ID)
		wantCode(t, err, CodeRouterError)
		contains(t, "error", err.Error(), "4 steps, more than max_steps 3")
	})
	t.Run("ValidatesCapabilities", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.Caps = []string{"timeout"} })
		d := approved(f, func(r *Request) { r.RequireCapabilities = []string{"timeout", "external"} })
		_, err := f.execute(d.ID)
		wantCode(t, err, CodePolicyViolation)
		contains(t, "error", err.Error(), "lacks external")
		f.exec.set(func(x *ScriptedExecutor) { x.Caps = []string{"external", "timeout", "dry_run"} })
		must(f.execute(d.ID))
	})
	t.Run("UnknownCapabilities", func(t *testing.T) {
		// Warden differs: nexus-control skips the check when the router
		// cannot report capabilities; Warden refuses a policy that
		// requires some, and only then.
		f := su.fixture(t)
		d := approved(f, func(r *Request) { r.RequireCapabilities = []string{"timeout"} })
		_, err := f.execute(d.ID)
		wantCode(t, err, CodePolicyViolation)
		contains(t, "error", err.Error(), "cannot report its capabilities")
		must(f.execute(approved(f).ID))
	})
	t.Run("FullFlow", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.RunID, x.Steps = "deploy-run-001", 3 })
		plan := json.RawMessage(`[{"tool":"command:run","input":{"command":"make build"}},{"tool":"command:run","input":{"command":"make test"}},{"tool":"command:run","input":{"command":"make deploy"}}]`)
		d := f.req(2, func(r *Request) { r.Goal, r.Plan, r.Labels = "deploy v2", plan, []string{"prod", "deploy"} })
		must(f.svc.Approve(f.ctx, d.ID, human("alice"), ApproveOptions{Comment: "plan reviewed"}))
		must(f.svc.Approve(f.ctx, d.ID, human("bob"), ApproveOptions{Comment: "ship it"}))
		run := must(f.execute(d.ID))
		if run.RunID != "deploy-run-001" || run.StepsExecuted != 3 || len(run.Steps) != 3 {
			t.Errorf("run %+v", run)
		}
		got := f.get(d.ID)
		if got.State != StateCompleted || got.Goal != "deploy v2" || got.EventCount != 7 {
			t.Errorf("%s %q %d events", got.State, got.Goal, got.EventCount)
		}
		if string(f.exec.Calls()[0].Plan) != string(must(canon.JCS(plan))) {
			t.Errorf("executor got plan %s", f.exec.Calls()[0].Plan)
		}
	})
	t.Run("ApprovalsRecheckedAtExecution", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		in := f.clock.Now().Add(time.Hour)
		must(f.svc.Approve(f.ctx, d.ID, human("alice"), ApproveOptions{ExpiresAt: &in}))
		f.approve(d.ID, "bob")
		f.clock.Advance(2 * time.Hour)
		_, err := f.execute(d.ID)
		wantCode(t, err, CodePolicyViolation)
		contains(t, "error", err.Error(), "1 of the 2", "(1 expired)")
		f.approve(d.ID, "carol")
		must(f.svc.Revoke(f.ctx, d.ID, human("bob"), "not yet"))
		_, err = f.execute(d.ID)
		wantCode(t, err, CodePolicyViolation)
		f.approve(d.ID, "bob")
		must(f.execute(d.ID))
	})
	t.Run("NoExecutor", func(t *testing.T) {
		f := su.fixture(t)
		d := approved(f)
		_, err := New(Config{Store: f.store, Now: f.clock.Now}).Execute(f.ctx, d.ID, ExecuteOptions{Actor: human("op")})
		wantCode(t, err, warden.CodeNoExecutor)
	})
	t.Run("CancelledContextStillRecordsOutcome", func(t *testing.T) {
		f := su.fixture(t)
		d := approved(f)
		ctx, cancel := context.WithCancel(f.ctx)
		hold, entered := make(chan struct{}), make(chan string, 1)
		f.exec.set(func(x *ScriptedExecutor) { x.Hold, x.Entered = hold, entered })
		done := make(chan error)
		go func() { _, err := f.svc.Execute(ctx, d.ID, ExecuteOptions{Actor: human("op")}); done <- err }()
		<-entered
		cancel()
		close(hold)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.get(d.ID); got.State != StateCompleted {
			t.Errorf("state %s", got.State)
		}
	})
}

// testExecuteAtMostOnce: Warden differs from nexus-control, which runs a
// completed or failed decision again while its approvals are valid.
func (su *suite) testExecuteAtMostOnce(t *testing.T) {
	f := su.fixture(t)
	d := f.req(1)
	f.approve(d.ID, "alice")
	must(f.execute(d.ID))
	_, err := f.execute(d.ID)
	wantCode(t, err, warden.CodeInvalidState)
	contains(t, "error", err.Error(), "at most once")

	f.exec.set(func(x *ScriptedExecutor) { x.Err = errors.New("down") })
	d = f.req(1)
	f.approve(d.ID, "alice")
	_, err = f.execute(d.ID)
	wantCode(t, err, CodeRouterError)
	f.exec.set(func(x *ScriptedExecutor) { x.Err = nil })
	_, err = f.execute(d.ID)
	wantCode(t, err, warden.CodeInvalidState)
	if n := len(f.exec.Calls()); n != 2 {
		t.Errorf("executor ran %d times, want 2", n)
	}
}

// §10.6: templates.
func (su *suite) testTemplates(t *testing.T) {
	ctx := context.Background()
	t.Run("Definition", func(t *testing.T) {
		f := su.fixture(t)
		tp := must(f.svc.CreateTemplate(ctx, &TemplateSpec{
			Name: "full", Description: "every field", MinApprovals: intp(2), AllowedModes: []Mode{Apply, DryRun},
			RequireCapabilities: []string{"timeout", "external"}, MaxSteps: intp(10), Labels: []string{"prod", "finance"},
			Approvers: []string{"carol", "alice", "bob"},
		}, human("alice")))
		want := TemplateContent{
			Policy: Policy{MinApprovals: 2, AllowedModes: []Mode{DryRun, Apply}, RequireCapabilities: []string{"external", "timeout"},
				MaxSteps: 10, Approvers: []string{"alice", "bob", "carol"}},
			Labels: []string{"finance", "prod"},
		}
		if diff := cmp.Diff(want, tp.TemplateContent); diff != "" {
			t.Errorf("content (-want +got):\n%s", diff)
		}
		if !tp.CreatedAt.Equal(t0) || tp.CreatedBy != human("alice") || tp.Description != "every field" || !canon.IsDigest(tp.Digest) {
			t.Errorf("%+v", tp)
		}
		def := must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "defaults"}, human("alice")))
		wantDef := TemplateContent{Policy: Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}, RequireCapabilities: []string{}}, Labels: []string{}}
		if diff := cmp.Diff(wantDef, def.TemplateContent); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
		// The digest covers the content only: another name, description,
		// author, date and order of the lists give the same digest.
		f.clock.Advance(time.Hour)
		twin := must(f.svc.CreateTemplate(ctx, &TemplateSpec{
			Name: "twin", MinApprovals: intp(2), AllowedModes: []Mode{DryRun, Apply},
			RequireCapabilities: []string{"external", "timeout"}, MaxSteps: intp(10), Labels: []string{"finance", "prod"},
			Approvers: []string{"bob", "carol", "alice"},
		}, human("bob")))
		if twin.Digest != tp.Digest {
			t.Errorf("same content, digests %s and %s", twin.Digest, tp.Digest)
		}
		if def.Digest == tp.Digest {
			t.Error("different content, same digest")
		}
		again := tp.TemplateContent
		if d := must(again.Digest()); d != tp.Digest {
			t.Errorf("digest not stable: %s then %s", tp.Digest, d)
		}
		snap := tp.Snapshot()
		if snap.Name != "full" || snap.MinApprovals != 2 || !slices.Equal(snap.Labels, []string{"finance", "prod"}) {
			t.Errorf("snapshot %+v", snap)
		}
	})
	t.Run("Validation", func(t *testing.T) {
		f := su.fixture(t)
		for _, c := range []struct {
			spec  TemplateSpec
			field string
		}{
			{TemplateSpec{}, "name: is required"},
			{TemplateSpec{Name: "bad name!"}, "name:"},
			{TemplateSpec{Name: "-x"}, "name:"},
			{TemplateSpec{Name: "t", MinApprovals: intp(0)}, "min_approvals: must be at least 1"},
			{TemplateSpec{Name: "t", AllowedModes: []Mode{}}, "allowed_modes: must list at least one"},
			{TemplateSpec{Name: "t", AllowedModes: []Mode{"yolo"}}, `allowed_modes[0]: must be "dry_run" or "apply"`},
			{TemplateSpec{Name: "t", MaxSteps: intp(0)}, "max_steps: must be at least 1"},
			{TemplateSpec{Name: "t", Labels: []string{"a", "a"}}, `labels[1]: repeats "a"`},
			{TemplateSpec{Name: "t", MinApprovals: intp(3), Approvers: []string{"a", "b"}}, "min_approvals: is 3 but only 2 approvers"},
		} {
			_, err := f.svc.CreateTemplate(ctx, &c.spec, human("alice"))
			wantCode(t, err, warden.CodeInvalidInput)
			contains(t, "error", err.Error(), c.field)
		}
	})
	t.Run("CreateGetList", func(t *testing.T) {
		f := su.fixture(t)
		must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "prod-template", MinApprovals: intp(2), Labels: []string{"prod"}}, human("alice")))
		must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "dev-template", Labels: []string{"dev"}}, human("alice")))
		_, err := f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "prod-template"}, human("bob"))
		wantCode(t, err, CodeTemplateExists)
		got := must(f.svc.Template(ctx, "prod-template"))
		if got.MinApprovals != 2 || got.CreatedBy.ID != "alice" {
			t.Errorf("%+v", got)
		}
		_, err = f.svc.Template(ctx, "nonexistent")
		wantCode(t, err, CodeTemplateNotFound)
		if p := must(f.svc.Templates(ctx, TemplateFilter{})); len(p.Templates) != 2 {
			t.Errorf("%d templates", len(p.Templates))
		}
		p := must(f.svc.Templates(ctx, TemplateFilter{Labels: []string{"prod"}}))
		if len(p.Templates) != 1 || p.Templates[0].Name != "prod-template" {
			t.Errorf("label filter: %+v", p.Templates)
		}
	})
	t.Run("RequestWithTemplate", func(t *testing.T) {
		f := su.fixture(t)
		tp := must(f.svc.CreateTemplate(ctx, &TemplateSpec{
			Name: "prod-deploy", MinApprovals: intp(2), AllowedModes: []Mode{DryRun, Apply},
			RequireCapabilities: []string{"timeout"}, MaxSteps: intp(50), Labels: []string{"prod"},
		}, human("admin")))
		d := must(f.svc.Create(ctx, &Request{Goal: "deploy", Actor: human("creator"), Mode: Apply, Template: "prod-deploy"}))
		f.track(d.ID)
		if d.Policy.MinApprovals != 2 || d.Template.Name != "prod-deploy" || d.Template.Digest != tp.Digest || d.Template.Overrides != nil {
			t.Errorf("%+v %+v", d.Policy, d.Template)
		}
		if !slices.Equal(d.Labels, []string{"prod"}) || d.Policy.MaxSteps != 50 {
			t.Errorf("labels %v max_steps %d", d.Labels, d.Policy.MaxSteps)
		}
		d = must(f.svc.Create(ctx, &Request{Goal: "deploy", Actor: human("creator"), Mode: Apply, Template: "prod-deploy", MinApprovals: intp(3)}))
		f.track(d.ID)
		if d.Policy.MinApprovals != 3 || !cmp.Equal(d.Template.Overrides, map[string]any{"min_approvals": float64(3)}) {
			t.Errorf("override: %d %v", d.Policy.MinApprovals, d.Template.Overrides)
		}
		_, err := f.svc.Create(ctx, &Request{Goal: "deploy", Actor: human("creator"), Template: "nonexistent"})
		wantCode(t, err, CodeTemplateNotFound)
		must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "dry-run-only"}, human("admin")))
		_, err = f.svc.Create(ctx, &Request{Goal: "deploy", Actor: human("creator"), Mode: Apply, Template: "dry-run-only"})
		wantCode(t, err, warden.CodeInvalidInput)
		contains(t, "error", err.Error(), `mode: "apply" is not among the allowed modes [dry_run]`)
		d = must(f.svc.Create(ctx, &Request{Goal: "deploy", Actor: human("creator"), Mode: Apply, Template: "prod-deploy", MinApprovals: intp(5), Labels: []string{"override-label"}}))
		f.track(d.ID)
		if _, ok := d.Template.Overrides["labels"]; !ok || d.Template.Overrides["min_approvals"] != float64(5) || !slices.Equal(d.Labels, []string{"override-label"}) {
			t.Errorf("overrides %v labels %v", d.Template.Overrides, d.Labels)
		}
	})
	t.Run("EndToEnd", func(t *testing.T) {
		f := su.fixture(t)
		must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "security-rotation", MinApprovals: intp(2), AllowedModes: []Mode{DryRun, Apply}, MaxSteps: intp(20), Labels: []string{"v1"}}, human("admin")))
		d := must(f.svc.Create(ctx, &Request{Goal: "rotate", Actor: human("creator"), Mode: Apply, Template: "security-rotation"}))
		f.track(d.ID)
		if st := f.approve(d.ID, "alice"); st.Approved {
			t.Error("approved after one")
		}
		if st := f.approve(d.ID, "bob"); !st.Approved {
			t.Error("not approved after two")
		}
		in := must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		if in.Decision.State != StateApproved || in.Template.Name != "security-rotation" || in.Policy.MaxSteps != 20 || !in.Verdict.OK {
			t.Errorf("%+v", in)
		}
		snap := f.get(d.ID).Template.Snapshot
		if snap.Name != "security-rotation" || snap.MinApprovals != 2 || !slices.Equal(snap.Labels, []string{"v1"}) {
			t.Errorf("snapshot %+v", snap)
		}
		d = must(f.svc.Create(ctx, &Request{Goal: "rotate", Actor: human("creator"), Mode: Apply, Template: "security-rotation",
			MinApprovals: intp(3), AllowedModes: []Mode{Apply}, MaxSteps: intp(10), Labels: []string{"x"}, Approvers: []string{"a", "b", "c"}}))
		f.track(d.ID)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range d.Template.Overrides {
				if !yield(k) {
					return
				}
			}
		})
		if diff := cmp.Diff([]string{"allowed_modes", "approvers", "labels", "max_steps", "min_approvals"}, keys); diff != "" {
			t.Errorf("overrides (-want +got):\n%s", diff)
		}
	})
}

// testTemplateOverrides: Warden differs from nexus-control, whose
// overrides replace the template's values whatever they are.
func (su *suite) testTemplateOverrides(t *testing.T) {
	ctx := context.Background()
	f := su.fixture(t)
	spec := TemplateSpec{Name: "strict", MinApprovals: intp(2), AllowedModes: []Mode{DryRun}, RequireCapabilities: []string{"timeout"},
		MaxSteps: intp(50), Approvers: []string{"alice", "bob", "carol"}}
	must(f.svc.CreateTemplate(ctx, &spec, human("admin")))
	loose := spec
	loose.Name, loose.AllowLoosening = "loose", true
	must(f.svc.CreateTemplate(ctx, &loose, human("admin")))
	for _, c := range []struct {
		name  string
		mod   func(r *Request)
		field string // "" when the override tightens
	}{
		{"more approvals", func(r *Request) { r.MinApprovals = intp(3) }, ""},
		{"same approvals", func(r *Request) { r.MinApprovals = intp(2) }, ""},
		{"fewer approvals", func(r *Request) { r.MinApprovals = intp(1) }, "min_approvals: 1 is fewer than the template's 2"},
		{"more modes", func(r *Request) { r.AllowedModes = []Mode{DryRun, Apply} }, `allowed_modes: "apply" is not among the template's modes`},
		{"more capabilities", func(r *Request) { r.RequireCapabilities = []string{"timeout", "external"} }, ""},
		{"fewer capabilities", func(r *Request) { r.RequireCapabilities = []string{} }, `require_adapter_capabilities: drops "timeout"`},
		{"fewer steps", func(r *Request) { r.MaxSteps = intp(5) }, ""},
		{"more steps", func(r *Request) { r.MaxSteps = intp(500) }, "max_steps: 500 is more than the template's 50"},
		{"fewer approvers", func(r *Request) { r.Approvers = []string{"alice", "bob"} }, ""},
		{"other approvers", func(r *Request) { r.Approvers = []string{"alice", "mallory"} }, `approvers: "mallory" is not among`},
		{"anyone approves", func(r *Request) { r.Approvers = []string{} }, "approvers: an empty list lets anyone approve"},
		{"self-approval", func(r *Request) { r.AllowSelfApproval = boolp(true) }, "allow_self_approval"},
		{"labels", func(r *Request) { r.Labels = []string{"anything"} }, ""},
	} {
		for _, tpl := range []string{"strict", "loose"} {
			r := &Request{Goal: "g", Actor: human("creator"), Template: tpl}
			c.mod(r)
			d, err := f.svc.Create(ctx, r)
			if c.field == "" || tpl == "loose" {
				if err != nil {
					t.Errorf("%s with %s: %v", c.name, tpl, err)
				} else {
					f.track(d.ID)
				}
				continue
			}
			if warden.ErrorCode(err) != warden.CodeInvalidInput || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "only allows tightening") {
				t.Errorf("%s with %s: %v, want INVALID_INPUT about %q", c.name, tpl, err, c.field)
			}
		}
	}
	// Overrides are validated like any policy.
	_, err := f.svc.Create(ctx, &Request{Goal: "g", Actor: human("creator"), Template: "loose", MinApprovals: intp(0)})
	wantCode(t, err, warden.CodeInvalidInput)
}

// §10.7: blocking reasons, progress and the lifecycle.
func (su *suite) testLifecycle(t *testing.T) {
	ctx := context.Background()
	lc := func(f *fixture, id string, limit int) *Lifecycle {
		f.t.Helper()
		return must(f.svc.Lifecycle(ctx, id, limit))
	}
	codes := func(l *Lifecycle) []string {
		var out []string
		for _, r := range l.BlockingReasons {
			out = append(out, r.Code)
		}
		return out
	}
	t.Run("NoPolicy", func(t *testing.T) {
		f := su.fixture(t)
		d := newDraft("draft-only")
		if err := f.store.Append(ctx, d, build(t, d, t0, createdDraft("g", Apply))); err != nil {
			t.Fatal(err)
		}
		f.track(d.ID)
		l := lc(f, d.ID, 0)
		if diff := cmp.Diff([]string{BlockNoPolicy}, codes(l)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		contains(t, "message", l.BlockingReasons[0].Message, "no policy")
		if l.Progress.Required != 1 || l.State != StateDraft {
			t.Errorf("%+v", l)
		}
	})
	t.Run("MissingApprovals", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		want := []BlockingReason{{Code: BlockMissingApprovals, Message: "2 more approvals needed (0 of 2)", Details: map[string]any{"required": 2, "current": 0, "missing": 2}}}
		if diff := cmp.Diff(want, lc(f, d.ID, 0).BlockingReasons); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		d = f.req(3)
		f.approve(d.ID, "alice")
		f.approve(d.ID, "bob")
		if r := lc(f, d.ID, 0).BlockingReasons; len(r) != 1 || r[0].Details["current"] != 2 || r[0].Details["missing"] != 1 {
			t.Errorf("%+v", r)
		}
		d = f.req(2)
		f.approve(d.ID, "alice")
		f.approve(d.ID, "bob")
		if l := lc(f, d.ID, 0); l.Blocked || len(l.BlockingReasons) != 0 {
			t.Errorf("%+v", l.BlockingReasons)
		}
	})
	t.Run("ApprovalExpired", func(t *testing.T) {
		// Warden differs: the approval expires after it was given, as
		// approvals given already expired are refused.
		f := su.fixture(t)
		d := f.req(1)
		in := f.clock.Now().Add(time.Hour)
		must(f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{ExpiresAt: &in}))
		f.clock.Advance(2 * time.Hour)
		r := lc(f, d.ID, 0).BlockingReasons
		if len(r) != 1 || r[0].Code != BlockApprovalExpired || r[0].Details["expired_count"] != 1 {
			t.Errorf("%+v", r)
		}
		// With fewer approvals given than required, it is missing ones.
		d = f.req(2)
		in = f.clock.Now().Add(time.Hour)
		must(f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{ExpiresAt: &in}))
		f.clock.Advance(2 * time.Hour)
		if got := codes(lc(f, d.ID, 0)); !slices.Equal(got, []string{BlockMissingApprovals}) {
			t.Errorf("%v", got)
		}
	})
	t.Run("AlreadyExecutedAndFailed", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.RunID = "r123" })
		d := f.req(1)
		f.approve(d.ID, "alice")
		must(f.execute(d.ID))
		l := lc(f, d.ID, 0)
		if r := l.BlockingReasons; len(r) != 1 || r[0].Code != BlockAlreadyExecuted || r[0].Details["run_id"] != "r123" {
			t.Errorf("%+v", r)
		}
		if p := l.Progress; !p.HasExecuted || p.Outcome != ProgressSuccess || p.Ready {
			t.Errorf("%+v", p)
		}
		f.exec.set(func(x *ScriptedExecutor) { x.Err = errors.New("Router crashed") })
		d = f.req(1)
		f.approve(d.ID, "alice")
		_, err := f.execute(d.ID)
		wantCode(t, err, CodeRouterError)
		l = lc(f, d.ID, 0)
		if r := l.BlockingReasons; len(r) != 1 || r[0].Code != BlockExecutionFailed || !strings.Contains(r[0].Message, "Router crashed") {
			t.Errorf("%+v", r)
		}
		if p := l.Progress; !p.HasExecuted || p.Outcome != ProgressFailed {
			t.Errorf("%+v", p)
		}
	})
	t.Run("Progress", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(3)
		want := Progress{Approvals: "0/3", Current: 0, Required: 3}
		if diff := cmp.Diff(want, lc(f, d.ID, 0).Progress); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		f.approve(d.ID, "alice")
		f.approve(d.ID, "bob")
		if p := lc(f, d.ID, 0).Progress; p.Current != 2 || p.Required != 3 || p.Ready {
			t.Errorf("%+v", p)
		}
		f.approve(d.ID, "carol")
		if p := lc(f, d.ID, 0).Progress; !p.Ready || p.Approvals != "3/3" {
			t.Errorf("%+v", p)
		}
	})
	t.Run("Executing", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(1)
		f.approve(d.ID, "alice")
		hold, entered := make(chan struct{}), make(chan string, 1)
		f.exec.set(func(x *ScriptedExecutor) { x.Hold, x.Entered = hold, entered })
		done := make(chan error)
		go func() { _, err := f.execute(d.ID); done <- err }()
		<-entered
		l := lc(f, d.ID, 0)
		// Warden differs: nexus-control reports an executing decision
		// ready to execute; Warden does not, as it executes at most once.
		if l.Blocked || l.Progress.Ready || l.Progress.Outcome != ProgressPending || l.State != StateExecuting {
			t.Errorf("%+v", l)
		}
		close(hold)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Whole", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		l := lc(f, d.ID, 0)
		if l.State != StatePending || !l.Blocked || l.BlockingReasons[0].Code != BlockMissingApprovals || l.Progress.Current != 0 || len(l.Timeline) < 2 {
			t.Errorf("%+v", l)
		}
		var m map[string]any
		if err := json.Unmarshal(must(json.Marshal(l)), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"state", "is_blocked", "blocking_reasons", "progress", "timeline", "timeline_total", "timeline_truncated"} {
			if _, ok := m[k]; !ok {
				t.Errorf("lifecycle JSON lacks %q", k)
			}
		}
		if _, ok := m["progress"].(map[string]any)["approvals"]; !ok {
			t.Error("progress JSON lacks approvals")
		}
		d = f.req(1)
		f.approve(d.ID, "alice")
		if l := lc(f, d.ID, 0); l.State != StateApproved || l.Blocked || !l.Progress.Ready {
			t.Errorf("%+v", l)
		}
	})
	t.Run("TriageOrder", func(t *testing.T) {
		want := []string{"NO_POLICY", "REJECTED", "EXPIRED", "ALREADY_EXECUTED", "EXECUTION_FAILED", "APPROVAL_EXPIRED", "MISSING_APPROVALS"}
		if diff := cmp.Diff(want, BlockingCodes); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func (su *suite) testTimeline(t *testing.T) {
	ctx := context.Background()
	tl := func(f *fixture, id string, limit int) *Lifecycle { return must(f.svc.Lifecycle(ctx, id, limit)) }
	t.Run("Entries", func(t *testing.T) {
		f := su.fixture(t)
		f.exec.set(func(x *ScriptedExecutor) { x.Steps = 2 })
		d := f.req(2)
		must(f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{Comment: "LGTM"}))
		must(f.svc.Revoke(ctx, d.ID, human("alice"), "Changed my mind"))
		f.approve(d.ID, "alice")
		f.approve(d.ID, "bob")
		must(f.execute(d.ID))
		l := tl(f, d.ID, -1)
		type row struct{ Category, Label, Actor, EventType string }
		var got []row
		for _, e := range l.Timeline {
			got = append(got, row{e.Category, e.Label, e.Actor, e.EventType})
		}
		want := []row{
			{"decision", "created", "creator", "DECISION_CREATED"},
			{"policy", "policy", "creator", "POLICY_ATTACHED"},
			{"approval", "approved", "alice", "APPROVAL_GRANTED"},
			{"approval", "revoked", "alice", "APPROVAL_REVOKED"},
			{"approval", "approved", "alice", "APPROVAL_GRANTED"},
			{"approval", "approved", "bob", "APPROVAL_GRANTED"},
			{"decision", "approved", "", ThresholdMet},
			{"execution", "requested", "operator", "EXECUTION_REQUESTED"},
			{"execution", "started", "system:warden", "EXECUTION_STARTED"},
			{"execution", "completed", "system:warden", "EXECUTION_COMPLETED"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("timeline (-want +got):\n%s", diff)
		}
		contains(t, "policy summary", l.Timeline[1].Summary, "policy attached")
		contains(t, "approval summary", l.Timeline[2].Summary, "alice", "LGTM")
		contains(t, "revoke summary", l.Timeline[3].Summary, "Changed my mind")
		contains(t, "threshold summary", l.Timeline[6].Summary, "2/2")
		contains(t, "completed summary", l.Timeline[9].Summary, "2 steps")
		for i := 1; i < len(l.Timeline); i++ {
			if l.Timeline[i].Seq < l.Timeline[i-1].Seq {
				t.Errorf("seq decreases at entry %d", i)
			}
		}
		if l.TimelineTotal != 10 || l.TimelineTruncated {
			t.Errorf("total %d truncated %v", l.TimelineTotal, l.TimelineTruncated)
		}
	})
	t.Run("TemplateInPolicyEntry", func(t *testing.T) {
		f := su.fixture(t)
		must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "test-template"}, human("admin")))
		d := must(f.svc.Create(ctx, &Request{Goal: "g", Actor: human("creator"), Template: "test-template"}))
		f.track(d.ID)
		contains(t, "policy summary", tl(f, d.ID, 0).Timeline[1].Summary, "test-template")
	})
	t.Run("Truncation", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		l := tl(f, d.ID, 0)
		if l.TimelineTruncated || l.TimelineTotal != len(l.Timeline) || l.TimelineTotal >= DefaultTimelineLimit {
			t.Errorf("short: %+v", l)
		}
		for range 15 {
			f.approve(d.ID, "alice")
			must(f.svc.Revoke(ctx, d.ID, human("alice"), ""))
		}
		l = tl(f, d.ID, 5)
		if !l.TimelineTruncated || len(l.Timeline) != 5 || l.TimelineTotal != 32 || l.Timeline[4].Seq < l.Timeline[0].Seq || l.Timeline[4].Seq != 31 {
			t.Errorf("limit 5: %d entries of %d, truncated %v", len(l.Timeline), l.TimelineTotal, l.TimelineTruncated)
		}
		if l = tl(f, d.ID, 0); len(l.Timeline) != DefaultTimelineLimit || DefaultTimelineLimit != 20 {
			t.Errorf("default limit: %d entries", len(l.Timeline))
		}
		if l = tl(f, d.ID, -1); l.TimelineTruncated || len(l.Timeline) != l.TimelineTotal {
			t.Errorf("no limit: %d of %d", len(l.Timeline), l.TimelineTotal)
		}
	})
}

// §10.5's inspection scenarios, in Warden's form.
func (su *suite) testInspect(t *testing.T) {
	ctx := context.Background()
	t.Run("Pending", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2, func(r *Request) {
			r.RequireCapabilities, r.MaxSteps, r.Labels = []string{"timeout"}, intp(10), []string{"prod"}
		})
		must(f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{Comment: "Looks good"}))
		in := must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		if in.Verdict.OK || in.Decision.State != StatePending || in.Approval.Valid != 1 || in.Approval.Missing != 1 || in.Approval.Approved {
			t.Errorf("%+v", in)
		}
		if len(in.Approval.Approvers) != 1 || in.Approval.Approvers[0].ID != "alice" || in.Approval.Approvers[0].Comment != "Looks good" || in.Approval.Approvers[0].Status != ApproverValid {
			t.Errorf("approvers %+v", in.Approval.Approvers)
		}
		wantPolicy := &Policy{MinApprovals: 2, AllowedModes: []Mode{DryRun, Apply}, RequireCapabilities: []string{"timeout"}, MaxSteps: 10}
		if diff := cmp.Diff(wantPolicy, in.Policy); diff != "" {
			t.Errorf("policy (-want +got):\n%s", diff)
		}
		if in.Execution.Requested || in.Execution.Run != nil || in.Template != nil || in.Events != nil {
			t.Errorf("execution %+v template %+v", in.Execution, in.Template)
		}
		if !in.Integrity.Verified || in.Integrity.EventCount != 3 || !canon.IsDigest(in.Integrity.HeadDigest) || !canon.IsDigest(in.Integrity.StateDigest) {
			t.Errorf("integrity %+v", in.Integrity)
		}
		md := in.Markdown()
		contains(t, "markdown", md, "✗ Not executable: waiting for 1 more approval\n", "## Decision", "## Lifecycle", "## Approvals",
			"## Policy", "## Execution", "## Timeline", "## Integrity", `alice — valid`, `"Looks good"`, "1/2 approvals", "MISSING_APPROVALS")
		if strings.Contains(md, "## Template") {
			t.Error("markdown has a template section without a template")
		}
		in = must(f.svc.Inspect(ctx, d.ID, InspectOptions{IncludeEvents: true}))
		if len(in.Events) != 3 {
			t.Errorf("%d events", len(in.Events))
		}
		js := string(must(in.JSON()))
		contains(t, "json", js, `"verdict"`, `"lifecycle"`, `"approved_count": 1`, `"events"`)
	})
	t.Run("ApprovedExecutedFailed", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2)
		verdicts := []string{must(f.svc.Inspect(ctx, d.ID, InspectOptions{})).Verdict.Text}
		f.approve(d.ID, "alice")
		verdicts = append(verdicts, must(f.svc.Inspect(ctx, d.ID, InspectOptions{})).Verdict.Text)
		f.approve(d.ID, "bob")
		verdicts = append(verdicts, must(f.svc.Inspect(ctx, d.ID, InspectOptions{})).Verdict.Text)
		f.exec.set(func(x *ScriptedExecutor) { x.RunID = "run-xyz-123" })
		must(f.execute(d.ID))
		in := must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		verdicts = append(verdicts, in.Verdict.Text)
		want := []string{"Not executable: waiting for 2 more approvals", "Not executable: waiting for 1 more approval",
			"Approved: ready to execute", "Executed: run run-xyz-123"}
		if diff := cmp.Diff(want, verdicts); diff != "" {
			t.Errorf("verdicts (-want +got):\n%s", diff)
		}
		if in.Decision.State != StateCompleted || !in.Execution.Requested || in.Execution.Outcome != OutcomeOK || in.Execution.AdapterID != "test-adapter" {
			t.Errorf("%+v", in.Execution)
		}
		contains(t, "markdown", in.Markdown(), "✓ Executed: run run-xyz-123", "`run-xyz-123`", "Request digest", "Response digest")

		f.exec.set(func(x *ScriptedExecutor) { x.Err = errors.New("Connection timeout") })
		d = f.req(1)
		f.approve(d.ID, "alice")
		f.execute(d.ID)
		in = must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		if in.Decision.State != StateFailed || in.Execution.Outcome != OutcomeFailed || in.Execution.Error != "Connection timeout" {
			t.Errorf("%+v", in.Execution)
		}
	})
	t.Run("Template", func(t *testing.T) {
		f := su.fixture(t)
		must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "prod-deploy", MinApprovals: intp(2)}, human("admin")))
		d := must(f.svc.Create(ctx, &Request{Goal: "g", Actor: human("creator"), Template: "prod-deploy", MinApprovals: intp(3)}))
		f.track(d.ID)
		in := must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		if in.Template.Name != "prod-deploy" || !canon.IsDigest(in.Template.Digest) || !cmp.Equal(in.Template.Overrides, map[string]any{"min_approvals": float64(3)}) {
			t.Errorf("%+v", in.Template)
		}
		contains(t, "markdown", in.Markdown(), "## Template", "prod-deploy", "sha256:", "min_approvals")
	})
	t.Run("NotFound", func(t *testing.T) {
		f := su.fixture(t)
		_, err := f.svc.Inspect(ctx, "nope", InspectOptions{})
		wantCode(t, err, CodeDecisionNotFound)
	})
	t.Run("StateDigestIsStable", func(t *testing.T) {
		// Warden differs: nexus-control's decision digest changes as
		// approvals expire, because its state depends on the clock.
		f := su.fixture(t)
		d := f.req(1)
		in := f.clock.Now().Add(time.Hour)
		must(f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{ExpiresAt: &in}))
		before := must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		f.clock.Advance(2 * time.Hour)
		after := must(f.svc.Inspect(ctx, d.ID, InspectOptions{}))
		if before.Integrity.StateDigest != after.Integrity.StateDigest || after.Approval.Approvers[0].Status != ApproverExpired {
			t.Errorf("state digest %s then %s; approver %+v", before.Integrity.StateDigest, after.Integrity.StateDigest, after.Approval.Approvers[0])
		}
	})
}

func (su *suite) testRejectAndExpire(t *testing.T) {
	ctx := context.Background()
	t.Run("Reject", func(t *testing.T) {
		f := su.fixture(t)
		d := f.req(2, func(r *Request) { r.Approvers = []string{"alice", "bob"} })
		_, err := f.svc.Reject(ctx, d.ID, human("alice"), "")
		wantCode(t, err, warden.CodeInvalidInput)
		_, err = f.svc.Reject(ctx, d.ID, human("mallory"), "no")
		wantCode(t, err, warden.CodeNotAnApprover)
		f.approve(d.ID, "alice")
		got := must(f.svc.Reject(ctx, d.ID, human("bob"), "blast radius too large"))
		if got.State != StateRejected || got.Rejection.By.ID != "bob" {
			t.Errorf("%+v", got)
		}
		_, err = f.svc.Approve(ctx, d.ID, human("bob"), ApproveOptions{})
		wantCode(t, err, warden.CodeInvalidState)
		_, err = f.execute(d.ID)
		wantCode(t, err, warden.CodeInvalidState)
		l := must(f.svc.Lifecycle(ctx, d.ID, 0))
		if len(l.BlockingReasons) != 1 || l.BlockingReasons[0].Code != BlockRejected {
			t.Errorf("%+v", l.BlockingReasons)
		}
		contains(t, "verdict", must(f.svc.Inspect(ctx, d.ID, InspectOptions{})).Verdict.Text, "Rejected by bob: blast radius too large")
		// The requester may withdraw its own decision.
		d = f.req(1)
		must(f.svc.Reject(ctx, d.ID, human("creator"), "not needed any more"))
	})
	t.Run("Expire", func(t *testing.T) {
		f := su.fixture(t)
		_, err := f.svc.Create(ctx, &Request{Goal: "g", Actor: human("creator"), ExpiresAt: &t0})
		wantCode(t, err, warden.CodeInvalidInput)
		contains(t, "error", err.Error(), "expires_at")
		soon := t0.Add(time.Hour)
		d := f.req(1, func(r *Request) { r.ExpiresAt = &soon })
		keep := f.req(1)
		_, err = f.svc.Expire(ctx, d.ID)
		wantCode(t, err, warden.CodeInvalidState)
		if ids := must(f.svc.ExpireDue(ctx)); len(ids) != 0 {
			t.Errorf("expired %v before the time", ids)
		}
		f.clock.Advance(time.Hour)
		if st := must(f.svc.Status(ctx, d.ID)); st.State != StateExpired {
			t.Errorf("state %s past the expiry", st.State)
		}
		_, err = f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{})
		wantCode(t, err, warden.CodeExpired)
		_, err = f.execute(d.ID)
		wantCode(t, err, warden.CodeExpired)
		if got := must(f.svc.Lifecycle(ctx, d.ID, 0)); got.BlockingReasons[0].Code != BlockExpired {
			t.Errorf("%+v", got.BlockingReasons)
		}
		if ids := must(f.svc.ExpireDue(ctx)); !slices.Equal(ids, []string{d.ID}) {
			t.Errorf("ExpireDue = %v", ids)
		}
		if got := f.get(d.ID); got.State != StateExpired || got.EventCount != 3 {
			t.Errorf("%s, %d events", got.State, got.EventCount)
		}
		if ids := must(f.svc.ExpireDue(ctx)); len(ids) != 0 {
			t.Errorf("second ExpireDue = %v", ids)
		}
		if got := f.get(keep.ID); got.State != StatePending {
			t.Errorf("a decision without expiry is %s", got.State)
		}
	})
}

// testConcurrentApprovals approves one decision from many goroutines at
// once: distinct identities all count, duplicates count once.
func (su *suite) testConcurrentApprovals(t *testing.T) {
	f := su.fixture(t)
	const distinct, dup = 24, 4
	d := f.req(distinct)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, already := map[string]int{}, 0
	start := make(chan struct{})
	// Two Services share the store, as two processes would.
	svcs := []*Service{f.svc, f.service()}
	for i := range distinct {
		for j := range dup {
			who := fmt.Sprintf("approver-%02d", i)
			svc := svcs[(i+j)%2]
			wg.Go(func() {
				<-start
				_, err := svc.Approve(f.ctx, d.ID, human(who), ApproveOptions{Comment: fmt.Sprint(j)})
				mu.Lock()
				defer mu.Unlock()
				switch warden.ErrorCode(err) {
				case "":
					ok[who]++
				case warden.CodeAlreadyApproved:
					already++
				default:
					t.Errorf("Approve(%s): %v", who, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(ok) != distinct || already != distinct*(dup-1) {
		t.Errorf("%d identities approved, %d refused as duplicates; want %d and %d", len(ok), already, distinct, distinct*(dup-1))
	}
	for who, n := range ok {
		if n != 1 {
			t.Errorf("%s approved %d times", who, n)
		}
	}
	st := must(f.svc.Status(f.ctx, d.ID))
	if st.Current != distinct || !st.Approved {
		t.Errorf("%+v", st)
	}
	if got := f.get(d.ID); got.EventCount != 2+distinct || len(got.Approvals) != distinct {
		t.Errorf("%d events, %d approvals", got.EventCount, len(got.Approvals))
	}
}

// testConcurrentExecutes runs two Executes at once, in one Service and in
// two sharing the store: exactly one runs, the other gets INVALID_STATE.
func (su *suite) testConcurrentExecutes(t *testing.T) {
	f := su.fixture(t)
	other := f.service()
	const rounds = 8
	for round := range rounds {
		d := f.req(1)
		f.approve(d.ID, "alice")
		svcs := []*Service{f.svc, f.svc}
		if round%2 == 1 {
			svcs[1] = other
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, svc := range svcs {
			wg.Go(func() {
				<-start
				_, errs[i] = svc.Execute(f.ctx, d.ID, ExecuteOptions{Actor: human(fmt.Sprint("op-", i))})
			})
		}
		close(start)
		wg.Wait()
		codes := []warden.Code{warden.ErrorCode(errs[0]), warden.ErrorCode(errs[1])}
		slices.Sort(codes)
		if !slices.Equal(codes, []warden.Code{"", warden.CodeInvalidState}) {
			t.Errorf("round %d: errors %v, want one nil and one INVALID_STATE", round, errs)
		}
	}
	if n := len(f.exec.Calls()); n != rounds {
		t.Errorf("executor ran %d times for %d decisions", n, rounds)
	}
}

// testRecover simulates a crash after an execution was claimed: a new
// Service (the restarted process) marks it failed.
func (su *suite) testRecover(t *testing.T) {
	f := su.fixture(t)
	d := f.req(1)
	f.approve(d.ID, "alice")
	// The crashed process claimed the execution and died: its events are
	// in the store, nothing else happened.
	c := f.get(d.ID)
	events := build(t, c, f.clock.Now(),
		draft{ExecutionRequested, human("op"), RequestedPayload{Mode: Apply}},
		draft{ExecutionStarted, SystemActor, StartedPayload{RequestDigest: canon.Digest([]byte("req"))}})
	if err := f.store.Append(f.ctx, c, events); err != nil {
		t.Fatal(err)
	}
	// A live execution in this Service is left alone.
	live := f.req(1)
	f.approve(live.ID, "alice")
	hold, entered := make(chan struct{}), make(chan string, 1)
	f.exec.set(func(x *ScriptedExecutor) { x.Hold, x.Entered = hold, entered })
	done := make(chan error)
	go func() { _, err := f.execute(live.ID); done <- err }()
	<-entered

	f.clock.Advance(time.Minute)
	// Only executions claimed before the given time are recovered.
	if ids := must(f.svc.Recover(f.ctx, RecoverOptions{ClaimedBefore: t0})); len(ids) != 0 {
		t.Errorf("recovered %v, claimed after the limit", ids)
	}
	ids := must(f.svc.Recover(f.ctx, RecoverOptions{}))
	if !slices.Equal(ids, []string{d.ID}) {
		t.Errorf("Recover = %v, want [%s]", ids, d.ID)
	}
	got := f.get(d.ID)
	if got.State != StateFailed || got.Execution.ErrorCode != ErrorInterrupted || !strings.Contains(got.Execution.Error, "interrupted") {
		t.Errorf("%s %+v", got.State, got.Execution)
	}
	if l := must(f.svc.Lifecycle(f.ctx, d.ID, 0)); l.BlockingReasons[0].Code != BlockExecutionFailed {
		t.Errorf("%+v", l.BlockingReasons)
	}
	_, err := f.execute(d.ID)
	wantCode(t, err, warden.CodeInvalidState)

	// Another process restarting now would take the live execution for
	// an interrupted one; when the executor then finishes, its outcome
	// cannot be recorded, and says so.
	if ids := must(f.service().Recover(f.ctx, RecoverOptions{})); !slices.Equal(ids, []string{live.ID}) {
		t.Errorf("second Recover = %v", ids)
	}
	close(hold)
	err = <-done
	wantCode(t, err, warden.CodeInvalidState)
	contains(t, "error", err.Error(), "could not be recorded")
}

// testImport moves a decision's history to another store, under its own
// id and under a new one: it verifies, replays and equals the original.
func (su *suite) testImport(t *testing.T) {
	ctx := context.Background()
	f := su.fixture(t)
	d := f.req(2)
	must(f.svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{Comment: "ok"}))
	f.approve(d.ID, "bob")
	must(f.execute(d.ID))
	events := must(f.svc.Events(ctx, d.ID))
	orig := f.get(d.ID)

	g := su.fixture(t)
	got := must(g.svc.Import(ctx, d.ID, events))
	g.track(d.ID)
	if diff := cmp.Diff(orig, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("imported state (-original +imported):\n%s", diff)
	}
	_, err := g.svc.Import(ctx, d.ID, events)
	wantCode(t, err, CodeDecisionExists)
	moved := must(g.svc.Import(ctx, "moved", events))
	g.track("moved")
	if moved.Head != orig.Head || moved.State != StateCompleted {
		t.Errorf("under a new id: head %s state %s", moved.Head, moved.State)
	}
	must(g.svc.Verify(ctx, "moved"))

	forged := slices.Clone(events)
	forged[2].Actor = human("mallory")
	_, err = g.svc.Import(ctx, "forged", forged)
	wantCode(t, err, CodeIntegrityMismatch)
	_, err = g.svc.Import(ctx, "forged", events[:0])
	wantCode(t, err, warden.CodeInvalidInput)
	x := newDraft("x")
	selfApproved := build(t, x, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}))
	e := Event{DecisionID: "x", Seq: 2, Type: ApprovalGranted, TS: t0, Actor: human("creator"), Payload: json.RawMessage(`{"expires_at":null}`), Prev: x.Head}
	e.Digest = must(e.ComputeDigest())
	_, err = g.svc.Import(ctx, "forged", append(selfApproved, e))
	wantCode(t, err, CodeReplayInvalid)
	if _, err := g.svc.Get(ctx, "forged"); warden.ErrorCode(err) != CodeDecisionNotFound {
		t.Errorf("a refused import left %v", err)
	}
}
