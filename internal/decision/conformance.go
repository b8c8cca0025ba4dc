package decision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wardenhq/warden/internal/warden"
)

// StoreConformance runs the behaviour every Store must have — atomic
// optimistic appends, cached state equal to replay, partial loads, lists
// with filters and pages, templates — and then the decision scenarios
// (approvals, replay, execution, templates, lifecycle, inspection and
// concurrency) through a Service over stores made by newStore. Every
// Store implementation runs it.
func StoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	su := &suite{newStore: newStore}
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Store/AppendLoadReplay", su.testAppendLoadReplay},
		{"Store/AppendErrors", su.testAppendErrors},
		{"Store/ConcurrentAppendOneWins", su.testConcurrentAppend},
		{"Store/PartialLoad", su.testPartialLoad},
		{"Store/Events", su.testEvents},
		{"Store/ListFiltersAndPages", su.testList},
		{"Store/Templates", su.testStoreTemplates},
		{"Store/Replace", su.testReplace},
	}
	groups = append(groups, su.scenarios()...)
	for _, g := range groups {
		t.Run(g.name, g.run)
	}
}

// suite runs against one store implementation.
type suite struct {
	newStore func(t *testing.T) Store
}

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// t0 is when every test starts.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fixture is a Service over a fresh store, with a settable clock and a
// scripted executor, that checks on cleanup that every decision's cached
// state equals its replay.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store Store
	clock *Clock
	exec  *ScriptedExecutor
	svc   *Service

	mu  sync.Mutex
	ids []string
}

func (su *suite) fixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: su.newStore(t), clock: NewClock(t0), exec: &ScriptedExecutor{}}
	f.svc = f.service()
	t.Cleanup(func() {
		f.mu.Lock()
		ids := f.ids
		f.mu.Unlock()
		for _, id := range ids {
			CheckReplay(t, f.store, id)
		}
	})
	return f
}

// service returns a new Service over the fixture's store, clock and
// executor: another process sharing the store.
func (f *fixture) service() *Service {
	return New(Config{Store: f.store, Executor: f.exec, Now: f.clock.Now})
}

func (f *fixture) track(id string) {
	f.mu.Lock()
	f.ids = append(f.ids, id)
	f.mu.Unlock()
}

// CheckReplay fails t unless decision id's cached state in st equals the
// replay of its events, which must verify.
func CheckReplay(t testing.TB, st Store, id string) {
	t.Helper()
	ctx := context.Background()
	events, err := st.Events(ctx, id, 0, 0)
	if err != nil {
		t.Errorf("Events(%s): %v", id, err)
		return
	}
	replayed, err := Replay(id, events)
	if err != nil {
		t.Errorf("Replay(%s): %v", id, err)
		return
	}
	cached, err := st.Load(ctx, id, nil)
	if err != nil {
		t.Errorf("Load(%s): %v", id, err)
		return
	}
	if diff := cmp.Diff(replayed, cached, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("decision %s: cached state differs from replay (-replay +cached):\n%s", id, diff)
	}
	if err := SameState(cached, replayed); err != nil {
		t.Errorf("SameState(%s): %v", id, err)
	}
}

// ScriptedExecutor is an Executor for tests: it reports Caps (unknown
// when nil), records each request, optionally waits on Hold, and returns
// RunID with Steps successful steps, or Err, or panics with Panic.
type ScriptedExecutor struct {
	mu    sync.Mutex
	Caps  []string
	RunID string
	Steps int
	Err   error
	Panic string
	// Hold, when not nil, is received from before Execute returns; Entered
	// is sent to (if not nil) when Execute starts.
	Hold    chan struct{}
	Entered chan string
	calls   []*ExecRequest
}

// Capabilities implements Executor.
func (x *ScriptedExecutor) Capabilities(context.Context, string) ([]string, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.Caps, x.Caps != nil, nil
}

// Execute implements Executor.
func (x *ScriptedExecutor) Execute(ctx context.Context, req *ExecRequest) (*RunResult, error) {
	x.mu.Lock()
	x.calls = append(x.calls, req)
	hold, entered, runID, steps, err, p := x.Hold, x.Entered, x.RunID, x.Steps, x.Err, x.Panic
	x.mu.Unlock()
	if entered != nil {
		entered <- req.DecisionID
	}
	if hold != nil {
		<-hold
	}
	if p != "" {
		panic(p)
	}
	if err != nil {
		return nil, err
	}
	res := &RunResult{RunID: runID, Steps: []Step{}}
	for i := range steps {
		res.Steps = append(res.Steps, Step{Index: i, Tool: "noop", OK: true})
	}
	return res, nil
}

// Calls returns the requests Execute received.
func (x *ScriptedExecutor) Calls() []*ExecRequest {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]*ExecRequest(nil), x.calls...)
}

func (x *ScriptedExecutor) set(fn func(x *ScriptedExecutor)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	fn(x)
}

// human returns a human actor.
func human(id string) Actor { return Actor{Type: Human, ID: id} }

func intp(n int) *int { return &n }

func boolp(b bool) *bool { return &b }

// wantCode fails t unless err carries code.
func wantCode(t testing.TB, err error, code warden.Code) {
	t.Helper()
	if got := warden.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// must returns v, or panics if err is not nil: in a test, the panic
// fails it with the error and the stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

// build returns the events that drafts make after d, at time at, and
// applies them to d; for tests that write histories directly.
func build(t testing.TB, d *Decision, at time.Time, drafts ...draft) []Event {
	t.Helper()
	events, err := extend(d, drafts, at)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// newDraft returns an empty decision with id.
func newDraft(id string) *Decision { return &Decision{ID: id, State: StateDraft} }

// created and policy are the first two drafts of a plain decision.
func createdDraft(goal string, mode Mode, labels ...string) draft {
	if labels == nil {
		labels = []string{}
	}
	return draft{DecisionCreated, human("creator"), CreatedPayload{Goal: goal, RequestedMode: mode, Labels: labels}}
}

func policyDraft(p Policy) draft {
	if p.RequireCapabilities == nil {
		p.RequireCapabilities = []string{}
	}
	return draft{PolicyAttached, human("creator"), PolicyPayload{Policy: p}}
}

func (su *suite) testAppendLoadReplay(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	d := newDraft("d-1")
	events := build(t, d, t0,
		createdDraft("rotate keys", Apply, "prod"),
		policyDraft(Policy{MinApprovals: 2, AllowedModes: []Mode{DryRun, Apply}, MaxSteps: 10}))
	if err := st.Append(ctx, d, events); err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(time.Hour)
	more := build(t, d, t0.Add(time.Second),
		draft{ApprovalGranted, human("alice"), GrantedPayload{Comment: "ok"}},
		draft{ApprovalGranted, human("bob"), GrantedPayload{ExpiresAt: &exp}},
		draft{ApprovalRevoked, human("alice"), ReasonPayload{Reason: "second thoughts"}})
	if err := st.Append(ctx, d, more); err != nil {
		t.Fatal(err)
	}
	got := must(st.Load(ctx, "d-1", nil))
	if diff := cmp.Diff(d, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Load (-appended +loaded):\n%s", diff)
	}
	all := must(st.Events(ctx, "d-1", 0, 0))
	if diff := cmp.Diff(append(events, more...), all, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Events (-appended +stored):\n%s", diff)
	}
	if got.Tally.Granted != 1 || got.ActiveApprovals(t0.Add(2*time.Hour)) != 0 || got.ActiveApprovals(t0.Add(time.Minute)) != 1 {
		t.Errorf("tally = %+v", got.Tally)
	}
	CheckReplay(t, st, "d-1")
}

func (su *suite) testAppendErrors(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	d := newDraft("d-1")
	first := build(t, d, t0, createdDraft("g", DryRun), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}}))
	if err := st.Append(ctx, d, first); err != nil {
		t.Fatal(err)
	}
	// The same first events again: the decision exists.
	again := newDraft("d-1")
	if err := st.Append(ctx, again, build(t, again, t0, createdDraft("g", DryRun))); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	// Events after a seq another writer already used: conflict.
	stale := newDraft("d-1")
	build(t, stale, t0, createdDraft("g", DryRun)) // stale has 1 event, the store 2
	ev := build(t, stale, t0, policyDraft(Policy{MinApprovals: 3, AllowedModes: []Mode{DryRun}}))
	if err := st.Append(ctx, stale, ev); !errors.Is(err, ErrConflict) {
		t.Errorf("stale append: %v, want ErrConflict", err)
	}
	// A decision that does not exist.
	ghost := newDraft("ghost")
	build(t, ghost, t0, createdDraft("g", DryRun))
	if err := st.Append(ctx, ghost, build(t, ghost, t0, policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}}))); !errors.Is(err, ErrNotFound) {
		t.Errorf("append to a missing decision: %v, want ErrNotFound", err)
	}
	if _, err := st.Load(ctx, "ghost", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(ghost): %v, want ErrNotFound", err)
	}
	if _, err := st.Events(ctx, "ghost", 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Events(ghost): %v, want ErrNotFound", err)
	}
	// A malformed append (state not after the events) is refused.
	bad := *d
	bad.EventCount = 7
	if err := st.Append(ctx, &bad, build(t, newDraft("d-1"), t0, createdDraft("g", DryRun))); err == nil {
		t.Error("malformed append succeeded")
	}
	// Nothing of the refused appends was stored.
	if n := len(must(st.Events(ctx, "d-1", 0, 0))); n != 2 {
		t.Errorf("d-1 has %d events, want 2", n)
	}
	if got := must(st.Load(ctx, "d-1", nil)); got.Policy.MinApprovals != 1 {
		t.Errorf("min_approvals = %d, want 1", got.Policy.MinApprovals)
	}
	CheckReplay(t, st, "d-1")
}

// testConcurrentAppend has many writers append at the same seq: exactly
// one wins. This is what makes an execution claim atomic.
func (su *suite) testConcurrentAppend(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	d := newDraft("d-1")
	if err := st.Append(ctx, d, build(t, d, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}))); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		c := must(st.Load(ctx, "d-1", nil))
		ev := build(t, c, t0.Add(time.Second), draft{ApprovalGranted, human(fmt.Sprintf("approver-%d", i)), GrantedPayload{}})
		wg.Go(func() {
			<-start
			errs[i] = st.Append(ctx, c, ev)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers won, want exactly 1", won)
	}
	if got := must(st.Load(ctx, "d-1", nil)); got.EventCount != 3 || len(got.Approvals) != 1 {
		t.Errorf("after the race: %d events, %d approvals; want 3 and 1", got.EventCount, len(got.Approvals))
	}
	CheckReplay(t, st, "d-1")
}

func (su *suite) testPartialLoad(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	d := newDraft("d-1")
	if err := st.Append(ctx, d, build(t, d, t0, createdDraft("g", DryRun), policyDraft(Policy{MinApprovals: 3, AllowedModes: []Mode{DryRun}}))); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		if err := st.Append(ctx, d, build(t, d, t0, draft{ApprovalGranted, human(who), GrantedPayload{Comment: who}})); err != nil {
			t.Fatal(err)
		}
	}
	// An approval in state that no event of the append touches is not
	// written.
	d.Approvals["mallory"] = &Approval{Actor: human("mallory"), GrantedAt: t0}
	if err := st.Append(ctx, d, build(t, d, t0, draft{ApprovalRevoked, human("bob"), ReasonPayload{}})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		approvers []string
		want      []string
	}{
		{nil, []string{"alice", "bob", "carol"}},
		{[]string{}, nil},
		{[]string{"bob"}, []string{"bob"}},
		{[]string{"alice", "carol", "nobody"}, []string{"alice", "carol"}},
		{[]string{"mallory"}, nil},
	} {
		got := must(st.Load(ctx, "d-1", c.approvers))
		var ids []string
		for _, a := range got.ApprovalList() {
			ids = append(ids, a.Actor.ID)
		}
		if diff := cmp.Diff(c.want, ids); diff != "" {
			t.Errorf("Load(%q) approvals (-want +got):\n%s", c.approvers, diff)
		}
		if got.Tally.Granted != 2 || got.EventCount != 6 {
			t.Errorf("Load(%q): granted %d, %d events", c.approvers, got.Tally.Granted, got.EventCount)
		}
	}
	if got := must(st.Load(ctx, "d-1", []string{"bob"})); !got.Approvals["bob"].Revoked() {
		t.Error("bob's approval is not revoked")
	}
	CheckReplay(t, st, "d-1")
}

// testReplace replaces a decision's whole history: the new events and
// state take the place of the old, approvals the new history does not
// give are gone, a missing decision is created, and a refused Replace
// changes nothing.
func (su *suite) testReplace(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	old := newDraft("d-1")
	if err := st.Append(ctx, old, build(t, old, t0,
		createdDraft("old goal", DryRun, "old"),
		policyDraft(Policy{MinApprovals: 3, AllowedModes: []Mode{DryRun}}),
		draft{ApprovalGranted, human("alice"), GrantedPayload{}},
		draft{ApprovalGranted, human("bob"), GrantedPayload{}})); err != nil {
		t.Fatal(err)
	}
	nw := newDraft("d-1")
	events := build(t, nw, t0.Add(time.Minute),
		createdDraft("new goal", Apply, "new"),
		policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{Apply}}),
		draft{ApprovalGranted, human("carol"), GrantedPayload{Comment: "fine"}})
	// Refused: the state is not the one after the events, or it holds an
	// approval no event gives, or the history does not start at 0.
	bad := *nw
	bad.EventCount = 7
	if err := st.Replace(ctx, &bad, events); err == nil {
		t.Error("Replace with a state that does not follow the events succeeded")
	}
	extra := *nw
	extra.Approvals = map[string]*Approval{"carol": nw.Approvals["carol"], "mallory": {Actor: human("mallory"), GrantedAt: t0}}
	if err := st.Replace(ctx, &extra, events); err == nil {
		t.Error("Replace with an approval no event gives succeeded")
	}
	if err := st.Replace(ctx, nw, events[1:]); err == nil {
		t.Error("Replace with a history not starting at seq 0 succeeded")
	}
	if got := must(st.Load(ctx, "d-1", nil)); got.Goal != "old goal" || len(got.Approvals) != 2 || got.EventCount != 4 {
		t.Fatalf("after refused replaces: goal %q, %d approvals, %d events; want the old decision", got.Goal, len(got.Approvals), got.EventCount)
	}
	CheckReplay(t, st, "d-1")

	if err := st.Replace(ctx, nw, events); err != nil {
		t.Fatal(err)
	}
	got := must(st.Load(ctx, "d-1", nil))
	if diff := cmp.Diff(nw, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Load after Replace (-replaced +loaded):\n%s", diff)
	}
	if diff := cmp.Diff(events, must(st.Events(ctx, "d-1", 0, 0)), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Events after Replace (-replaced +stored):\n%s", diff)
	}
	for _, who := range []string{"alice", "bob"} {
		if a := must(st.Load(ctx, "d-1", []string{who})).Approvals[who]; a != nil {
			t.Errorf("the old approval of %s survived the replace", who)
		}
	}
	if p := must(st.List(ctx, Filter{Labels: []string{"old"}})); len(p.Decisions) != 0 {
		t.Error("the old labels still select the decision")
	}
	if p := must(st.List(ctx, Filter{Labels: []string{"new"}})); len(p.Decisions) != 1 {
		t.Error("the new labels do not select the decision")
	}
	// Appends continue the new history.
	if err := st.Append(ctx, nw, build(t, nw, t0.Add(2*time.Minute), draft{ApprovalRevoked, human("carol"), ReasonPayload{}})); err != nil {
		t.Fatal(err)
	}
	CheckReplay(t, st, "d-1")

	// A decision that does not exist is created.
	fresh := newDraft("d-2")
	if err := st.Replace(ctx, fresh, build(t, fresh, t0, createdDraft("g", DryRun), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}}))); err != nil {
		t.Fatal(err)
	}
	CheckReplay(t, st, "d-2")
}

func (su *suite) testEvents(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	d := newDraft("d-1")
	if err := st.Append(ctx, d, build(t, d, t0, createdDraft("g", DryRun), policyDraft(Policy{MinApprovals: 1, AllowedModes: []Mode{DryRun}}))); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		who := fmt.Sprintf("a%d", i)
		if err := st.Append(ctx, d, build(t, d, t0, draft{ApprovalGranted, human(who), GrantedPayload{}})); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		from         int64
		limit        int
		first, count int64
	}{
		{0, 0, 0, 10}, {3, 0, 3, 7}, {3, 4, 3, 4}, {9, 5, 9, 1}, {10, 0, 0, 0}, {42, 3, 0, 0},
	} {
		got := must(st.Events(ctx, "d-1", c.from, c.limit))
		if int64(len(got)) != c.count || len(got) > 0 && got[0].Seq != c.first {
			t.Errorf("Events(from %d, limit %d): %d events from %v, want %d from %d", c.from, c.limit, len(got), seqs(got), c.count, c.first)
		}
	}
	if err := VerifyChain("d-1", must(st.Events(ctx, "d-1", 0, 0))); err != nil {
		t.Error(err)
	}
}

func seqs(events []Event) []int64 {
	var out []int64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

func (su *suite) testList(t *testing.T) {
	ctx := context.Background()
	f := su.fixture(t)
	tpl := must(f.svc.CreateTemplate(ctx, &TemplateSpec{Name: "ops"}, human("admin")))
	type spec struct {
		id, requester string
		labels        []string
		template      string
		session       string
		expires       time.Duration
	}
	specs := []spec{
		{"a", "alice", []string{"prod"}, "", "", 0},
		{"b", "bob", []string{"prod", "db"}, tpl.Name, "s1", time.Hour},
		{"c", "alice", []string{"dev"}, "", "s1", 2 * time.Hour},
		{"d", "carol", nil, tpl.Name, "", 0},
		{"e", "alice", []string{"production"}, "", "", 0},
	}
	for _, s := range specs {
		r := &Request{ID: s.id, Goal: "goal " + s.id, Actor: human(s.requester), Labels: s.labels, Template: s.template, SessionID: s.session}
		if s.expires > 0 {
			e := f.clock.Now().Add(s.expires)
			r.ExpiresAt = &e
		}
		must(f.svc.Create(ctx, r))
		f.track(s.id)
		f.clock.Advance(time.Second)
	}
	// c is rejected, d executed.
	must(f.svc.Reject(ctx, "c", human("alice"), "withdrawn"))
	must(f.svc.Approve(ctx, "d", human("dave"), ApproveOptions{}))
	must(f.svc.Execute(ctx, "d", ExecuteOptions{Actor: human("carol")}))

	ids := func(p *Page) []string {
		var out []string
		for _, d := range p.Decisions {
			out = append(out, d.ID)
			if d.Approvals != nil {
				t.Errorf("List returned the approvals of %s", d.ID)
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    Filter
		want []string
	}{
		{"all, newest first", Filter{}, []string{"e", "d", "c", "b", "a"}},
		{"pending", Filter{States: []State{StatePending}}, []string{"e", "b", "a"}},
		{"two states", Filter{States: []State{StateRejected, StateCompleted}}, []string{"d", "c"}},
		{"label exact", Filter{Labels: []string{"prod"}}, []string{"b", "a"}},
		{"labels all", Filter{Labels: []string{"prod", "db"}}, []string{"b"}},
		{"label case", Filter{Labels: []string{"PROD"}}, nil},
		{"label wildcard", Filter{Labels: []string{"%"}}, nil},
		{"requester", Filter{Requester: "alice"}, []string{"e", "c", "a"}},
		{"template", Filter{Template: "ops"}, []string{"d", "b"}},
		{"session", Filter{SessionID: "s1"}, []string{"c", "b"}},
		{"expires before", Filter{ExpiresBefore: t0.Add(90 * time.Minute)}, []string{"b"}},
		{"expires before, later", Filter{ExpiresBefore: t0.Add(3 * time.Hour)}, []string{"c", "b"}},
	} {
		got := must(f.store.List(ctx, c.f))
		if diff := cmp.Diff(c.want, ids(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
		if got.Next != "" {
			t.Errorf("%s: Next = %q on the only page", c.name, got.Next)
		}
	}
	// Pages of two.
	var all []string
	flt := Filter{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		p := must(f.store.List(ctx, flt))
		if len(p.Decisions) > 2 {
			t.Fatalf("page of %d", len(p.Decisions))
		}
		all = append(all, ids(p)...)
		if p.Next == "" {
			break
		}
		flt.Cursor = p.Next
	}
	if diff := cmp.Diff([]string{"e", "d", "c", "b", "a"}, all); diff != "" {
		t.Errorf("paged (-want +got):\n%s", diff)
	}
	p := must(f.store.List(ctx, Filter{Limit: 2, States: []State{StatePending}}))
	p = must(f.store.List(ctx, Filter{Limit: 2, States: []State{StatePending}, Cursor: p.Next}))
	if diff := cmp.Diff([]string{"a"}, ids(p)); diff != "" || p.Next != "" {
		t.Errorf("second filtered page %v next %q", ids(p), p.Next)
	}
	// The Service checks its filters.
	_, err := f.svc.List(ctx, Filter{States: []State{"bogus"}})
	wantCode(t, err, warden.CodeInvalidInput)
	_, err = f.svc.List(ctx, Filter{Limit: MaxLimit + 1})
	wantCode(t, err, warden.CodeInvalidInput)
}

func (su *suite) testStoreTemplates(t *testing.T) {
	ctx := context.Background()
	st := su.newStore(t)
	mk := func(name string, labels ...string) *Template {
		tp, err := NewTemplate(&TemplateSpec{Name: name, Labels: labels}, human("alice"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateTemplate(ctx, tp); err != nil {
			t.Fatal(err)
		}
		return tp
	}
	prod := mk("prod-template", "prod", "été")
	mk("dev-template", "dev")
	mk("a-template", "prod", "db")
	mk("z_template")
	if err := st.CreateTemplate(ctx, prod); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v, want ErrExists", err)
	}
	got := must(st.Template(ctx, "prod-template"))
	if diff := cmp.Diff(prod, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Template (-created +stored):\n%s", diff)
	}
	if _, err := st.Template(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Template(nope): %v, want ErrNotFound", err)
	}
	names := func(p *TemplatePage) []string {
		var out []string
		for _, tp := range p.Templates {
			out = append(out, tp.Name)
		}
		return out
	}
	for _, c := range []struct {
		labels []string
		want   []string
	}{
		{nil, []string{"a-template", "dev-template", "prod-template", "z_template"}},
		{[]string{"prod"}, []string{"a-template", "prod-template"}},
		{[]string{"prod", "db"}, []string{"a-template"}},
		{[]string{"été"}, []string{"prod-template"}},
		{[]string{"rod"}, nil},
		{[]string{"PROD"}, nil},
		{[]string{"%"}, nil},
		{[]string{"_"}, nil},
		{[]string{`"prod"`}, nil},
	} {
		p := must(st.Templates(ctx, TemplateFilter{Labels: c.labels}))
		if diff := cmp.Diff(c.want, names(p)); diff != "" {
			t.Errorf("labels %q (-want +got):\n%s", c.labels, diff)
		}
	}
	p := must(st.Templates(ctx, TemplateFilter{Limit: 3}))
	if diff := cmp.Diff([]string{"a-template", "dev-template", "prod-template"}, names(p)); diff != "" || p.Next == "" {
		t.Errorf("first page %v next %q", names(p), p.Next)
	}
	p = must(st.Templates(ctx, TemplateFilter{Limit: 3, Cursor: p.Next}))
	if diff := cmp.Diff([]string{"z_template"}, names(p)); diff != "" || p.Next != "" {
		t.Errorf("second page %v next %q", names(p), p.Next)
	}
}

// contains fails t unless s contains every one of subs.
func contains(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}
