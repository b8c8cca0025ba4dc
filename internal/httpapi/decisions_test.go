package httpapi_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/planexec"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// decFixture is a fixture whose server also serves decisions, with one
// decision {did} requested by agent-1 that needs two approvals.
type decFixture struct {
	*fixture
	svc *decision.Service
	did string
}

func newDecFixture(t *testing.T, cfg decision.Config) *decFixture {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = decision.NewMemStore()
	}
	svc := decision.New(cfg)
	f := &decFixture{fixture: newFixture(t, func(c *httpapi.Config) { c.Decisions = svc }), svc: svc}
	d := f.must(201, request{method: "POST", path: "/v1/decisions", token: f.agent(),
		body: map[string]any{"goal": "rotate the staging keys", "min_approvals": 2, "labels": []string{"env=staging"}}})
	f.did = str(d, "data", "decision_id")
	return f
}

// request asks for a decision as token and returns its id.
func (f *decFixture) request(token string, body map[string]any) string {
	f.t.Helper()
	return str(f.must(201, request{method: "POST", path: "/v1/decisions", token: token, body: body}), "data", "decision_id")
}

// dcheck runs error cases with {did} expanded.
func (f *decFixture) dcheck(t *testing.T, cases []errCase) {
	t.Helper()
	for i := range cases {
		cases[i].path = strings.ReplaceAll(cases[i].path, "{did}", f.did)
		if s, ok := cases[i].body.(string); ok {
			cases[i].body = strings.ReplaceAll(s, "{did}", f.did)
		}
	}
	f.check(t, cases)
}

// The whole flow: request, two approvals by distinct identities, execute,
// and every read route, on the SQLite store.
func TestDecisionFlow(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.MemoryPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := newDecFixture(t, decision.Config{Store: sqlite.NewDecisionStore(db), Executor: decision.NopExecutor{}})
	d := f.must(200, request{method: "GET", path: "/v1/decisions/" + f.did, token: f.agent()})
	for k, want := range map[string]any{"state": "pending_approval", "goal": "rotate the staging keys", "requested_mode": "dry_run",
		"active_approvals": 0.0, "required_approvals": 2.0, "is_approved": false} {
		if got := get(d, "data", k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if get(d, "data", "requester", "id") != "agent-1" || get(d, "data", "requester", "type") != "system" {
		t.Errorf("requester %v, want the agent token's identity", get(d, "data", "requester"))
	}
	if str(d, "data", "blocking_reasons", 0, "code") != "MISSING_APPROVALS" || str(d, "data", "progress", "approvals") != "0/2" {
		t.Errorf("blocking reasons and progress: %v %v", get(d, "data", "blocking_reasons"), get(d, "data", "progress"))
	}

	a := f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/approve", token: f.alice(), body: map[string]any{"comment": "keys listed", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)}})
	if get(a, "data", "current_approvals") != 1.0 || get(a, "data", "is_approved") != false {
		t.Errorf("after one approval: %v", a)
	}
	// Revoke and approve again: still one approval.
	f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/revoke", token: f.alice(), body: map[string]any{"reason": "re-checking"}})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/approve", token: f.alice()})
	a = f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/approve", token: f.admin(), body: map[string]any{}})
	if get(a, "data", "state") != "approved" || get(a, "data", "is_approved") != true || get(a, "data", "current_approvals") != 2.0 {
		t.Errorf("after two approvals: %v", a)
	}
	run := f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/execute", token: f.agent(), body: map[string]any{"adapter_id": "nop"}})
	if str(run, "data", "run_id") != "nop-"+f.did || get(run, "data", "steps_executed") != 1.0 || str(run, "data", "requested_by", "id") != "agent-1" {
		t.Errorf("run: %v", run)
	}
	d = f.must(200, request{method: "GET", path: "/v1/decisions/" + f.did, token: f.bob()})
	if str(d, "data", "state") != "completed" || len(get(d, "data", "approvals").([]any)) != 2 || str(d, "data", "execution", "run_id") == "" {
		t.Errorf("status after execution: %v", d)
	}

	ev := f.must(200, request{method: "GET", path: "/v1/decisions/" + f.did + "/events", token: f.agent()})
	var types []string
	for _, e := range get(ev, "data", "events").([]any) {
		types = append(types, str(e, "type"))
	}
	want := "DECISION_CREATED POLICY_ATTACHED APPROVAL_GRANTED APPROVAL_REVOKED APPROVAL_GRANTED APPROVAL_GRANTED EXECUTION_REQUESTED EXECUTION_STARTED EXECUTION_COMPLETED"
	if strings.Join(types, " ") != want {
		t.Errorf("events: %v", types)
	}

	in := f.must(200, request{method: "GET", path: "/v1/decisions/" + f.did + "/inspect?events=true&timeline_limit=-1", token: f.alice()})
	if get(in, "data", "integrity", "verified") != true || get(in, "data", "verdict", "ok") != true || len(get(in, "data", "events").([]any)) != 9 {
		t.Errorf("inspect: %v", in)
	}
	res := f.send(request{method: "GET", path: "/v1/decisions/" + f.did + "/inspect?format=markdown", token: f.alice()})
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/markdown") || !strings.Contains(string(res.raw), f.did) {
		t.Errorf("inspect as Markdown: %d %s\n%s", res.status, res.header.Get("Content-Type"), res.raw)
	}
	f.must(200, request{method: "GET", path: "/v1/decisions/" + f.did + "/inspect?format=json", token: f.admin()})
}

// Lists filter by state, label, requester and template, and page with a
// cursor; an agent sees only its own decisions.
func TestDecisionList(t *testing.T) {
	f := newDecFixture(t, decision.Config{Executor: decision.NopExecutor{}})
	f.must(201, request{method: "POST", path: "/v1/templates", token: f.admin(), body: map[string]any{"name": "prod", "min_approvals": 2, "labels": []string{"env=prod"}}})
	other := f.request(f.agent2(), map[string]any{"goal": "other agent's", "labels": []string{"env=staging"}})
	prod := f.request(f.agent(), map[string]any{"goal": "deploy", "template_name": "prod"})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + other + "/reject", token: f.bob(), body: map[string]any{"reason": "no"}})

	ids := func(token, q string) []string {
		t.Helper()
		res := f.must(200, request{method: "GET", path: "/v1/decisions" + q, token: token})
		var out []string
		for _, d := range get(res, "data", "decisions").([]any) {
			out = append(out, str(d, "decision_id"))
			if get(d, "approvals") != nil {
				t.Errorf("a list carries approvals: %v", d)
			}
		}
		return out
	}
	for _, tc := range []struct {
		token, q string
		want     []string
	}{
		{f.admin(), "", []string{prod, other, f.did}},
		{f.agent(), "", []string{prod, f.did}},
		{f.agent2(), "", []string{other}},
		{f.agent(), "?requester=agent-2", nil},
		{f.alice(), "?requester=agent-2", []string{other}},
		{f.alice(), "?state=rejected", []string{other}},
		{f.alice(), "?state=pending_approval", []string{prod, f.did}},
		{f.alice(), "?state=rejected&state=pending_approval", []string{prod, other, f.did}},
		{f.alice(), "?label=env%3Dstaging", []string{other, f.did}},
		{f.alice(), "?label=env%3Dprod", []string{prod}},
		{f.alice(), "?label=env%3DPROD", nil},
		{f.alice(), "?label=env%3Dstaging&requester=agent-1", []string{f.did}},
		{f.alice(), "?template=prod", []string{prod}},
	} {
		if got := ids(tc.token, tc.q); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("GET /v1/decisions%s: %v, want %v", tc.q, got, tc.want)
		}
	}
	// Paging, one at a time.
	var paged []string
	q := "?limit=1"
	for range 5 {
		res := f.must(200, request{method: "GET", path: "/v1/decisions" + q, token: f.admin()})
		for _, d := range get(res, "data", "decisions").([]any) {
			paged = append(paged, str(d, "decision_id"))
		}
		next := str(res, "data", "next")
		if next == "" {
			break
		}
		q = "?limit=1&cursor=" + url.QueryEscape(next)
	}
	if strings.Join(paged, ",") != strings.Join([]string{prod, other, f.did}, ",") {
		t.Errorf("paged: %v", paged)
	}
}

// Templates: create, get, list with exact labels; immutable names.
func TestTemplateRoutes(t *testing.T) {
	f := newDecFixture(t, decision.Config{Executor: decision.NopExecutor{}})
	tp := f.must(201, request{method: "POST", path: "/v1/templates", token: f.admin(), body: map[string]any{
		"name": "prod-deploy", "description": "production", "min_approvals": 2, "allowed_modes": []string{"apply", "dry_run"},
		"labels": []string{"prod"}, "approvers": []string{"alice", "bob"}}})
	if str(tp, "data", "digest") == "" || str(tp, "data", "created_by", "id") != "root" || get(tp, "data", "min_approvals") != 2.0 {
		t.Errorf("created: %v", tp)
	}
	f.must(201, request{method: "POST", path: "/v1/templates", token: f.admin(), body: map[string]any{"name": "staging", "labels": []string{"staging"}}})
	got := f.must(200, request{method: "GET", path: "/v1/templates/prod-deploy", token: f.agent()})
	if str(got, "data", "digest") != str(tp, "data", "digest") {
		t.Errorf("get: %v", got)
	}
	names := func(q string) string {
		res := f.must(200, request{method: "GET", path: "/v1/templates" + q, token: f.bob()})
		var out []string
		for _, x := range get(res, "data", "templates").([]any) {
			out = append(out, str(x, "name"))
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{"": "prod-deploy,staging", "?label=prod": "prod-deploy", "?label=PROD": "", "?label=production": "",
		"?label=prod&label=staging": "", "?limit=1": "prod-deploy", "?cursor=prod-deploy": "staging"} {
		if got := names(q); got != want {
			t.Errorf("GET /v1/templates%s: %q, want %q", q, got, want)
		}
	}
	// A request made from the template may tighten it, not loosen it.
	f.dcheck(t, []errCase{{"loosen", "POST", "/v1/decisions", f.agent(), `{"goal": "ship", "template_name": "prod-deploy", "min_approvals": 1}`, "", 400, "INVALID_INPUT", "only allows tightening"}})
	d := f.must(201, request{method: "POST", path: "/v1/decisions", token: f.agent(), body: map[string]any{"goal": "ship", "template_name": "prod-deploy", "mode": "apply", "min_approvals": 2, "approvers": []string{"alice", "bob"}, "max_steps": 3}})
	if str(d, "data", "template", "name") != "prod-deploy" || get(d, "data", "template", "overrides_applied", "max_steps") != 3.0 || get(d, "data", "policy", "min_approvals") != 2.0 {
		t.Errorf("a decision from a template: %v", d)
	}
}

// fakeClock is a settable clock for the decision service.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// failing is an executor whose runs fail.
type failing struct{ decision.NopExecutor }

func (failing) Execute(context.Context, *decision.ExecRequest) (*decision.RunResult, error) {
	return nil, errors.New("the backend is down")
}

// Every error of the decision routes has its stable code and status, and
// none is a 500.
func TestDecisionRouteErrors(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	f := newDecFixture(t, decision.Config{Executor: decision.NopExecutor{Caps: []string{"fs"}}, Now: clock.now})
	a, al, bob, adm := f.agent(), f.alice(), f.bob(), f.admin()
	carolAgent := f.issue("carol", auth.RoleAgent)
	carolApprover := f.issue("carol", auth.RoleApprover)
	reserved := f.issue("warden", auth.RoleAgent)
	carols := f.request(carolAgent, map[string]any{"goal": "carol's"})
	grp := f.request(a, map[string]any{"goal": "for alice only", "approvers": []string{"alice"}})
	caps := f.request(a, map[string]any{"goal": "needs git", "require_adapter_capabilities": []string{"git"}})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + caps + "/approve", token: al})
	soon := f.request(a, map[string]any{"goal": "expires", "expires_at": clock.now().Add(time.Minute).Format(time.RFC3339Nano)})
	rejected := f.request(a, map[string]any{"goal": "to reject"})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + rejected + "/reject", token: bob, body: map[string]any{"reason": "no"}})
	done := f.request(a, map[string]any{"goal": "done"})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + done + "/approve", token: al})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + done + "/execute", token: a})
	theirs := f.request(f.agent2(), map[string]any{"goal": "agent-2's"})
	dry := f.request(a, map[string]any{"goal": "dry run only"})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + dry + "/approve", token: al})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/approve", token: al})
	f.must(201, request{method: "POST", path: "/v1/templates", token: adm, body: map[string]any{"name": "strict", "min_approvals": 2}})
	clock.add(2 * time.Minute)
	past := clock.now().Add(-time.Hour).Format(time.RFC3339)

	f.dcheck(t, []errCase{
		// Unknown ids and names.
		{"status unknown", "GET", "/v1/decisions/nope", a, nil, "", 404, "DECISION_NOT_FOUND", `decision "nope" not found`},
		{"inspect unknown", "GET", "/v1/decisions/nope/inspect", al, nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"events unknown", "GET", "/v1/decisions/nope/events", al, nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"approve unknown", "POST", "/v1/decisions/nope/approve", al, nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"revoke unknown", "POST", "/v1/decisions/nope/revoke", al, nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"reject unknown", "POST", "/v1/decisions/nope/reject", al, `{"reason": "x"}`, "", 404, "DECISION_NOT_FOUND", ""},
		{"execute unknown", "POST", "/v1/decisions/nope/execute", a, nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"template unknown", "GET", "/v1/templates/nope", a, nil, "", 404, "TEMPLATE_NOT_FOUND", `template "nope" not found`},
		{"request from unknown template", "POST", "/v1/decisions", a, `{"goal": "g", "template_name": "nope"}`, "", 404, "TEMPLATE_NOT_FOUND", ""},
		{"bad id", "GET", "/v1/decisions/%20x", a, nil, "", 400, "INVALID_INPUT", "decision_id"},
		{"bad template name", "GET", "/v1/templates/-x", a, nil, "", 400, "INVALID_INPUT", "template_name"},
		{"unknown sub-route", "GET", "/v1/decisions/{did}/frobnicate", a, nil, "", 404, "NOT_FOUND", "no endpoint"},

		// Another agent's decision is not found, exactly as an unknown one.
		{"another's status", "GET", "/v1/decisions/{did}", f.agent2(), nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"another's inspect", "GET", "/v1/decisions/{did}/inspect", f.agent2(), nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"another's events", "GET", "/v1/decisions/{did}/events", f.agent2(), nil, "", 404, "DECISION_NOT_FOUND", ""},
		{"another's execute", "POST", "/v1/decisions/{did}/execute", f.agent2(), nil, "", 404, "DECISION_NOT_FOUND", ""},

		// Roles.
		{"approver requests", "POST", "/v1/decisions", al, `{"goal": "g"}`, "", 403, "FORBIDDEN", "agent or admin"},
		{"agent approves", "POST", "/v1/decisions/{did}/approve", a, nil, "", 403, "FORBIDDEN", "approver or admin"},
		{"agent revokes", "POST", "/v1/decisions/{did}/revoke", a, nil, "", 403, "FORBIDDEN", ""},
		{"agent rejects", "POST", "/v1/decisions/{did}/reject", a, `{"reason": "x"}`, "", 403, "FORBIDDEN", ""},
		{"approver executes", "POST", "/v1/decisions/{did}/execute", al, nil, "", 403, "FORBIDDEN", "agent or admin"},
		{"agent creates a template", "POST", "/v1/templates", a, `{"name": "t"}`, "", 403, "FORBIDDEN", "admin"},
		{"approver creates a template", "POST", "/v1/templates", al, `{"name": "t"}`, "", 403, "FORBIDDEN", "admin"},
		{"agent allows self-approval", "POST", "/v1/decisions", a, `{"goal": "g", "allow_self_approval": true}`, "", 403, "FORBIDDEN", "only an admin"},
		{"reserved identity", "POST", "/v1/decisions", reserved, `{"goal": "g"}`, "", 403, "FORBIDDEN", "reserved"},

		// Votes.
		{"self-approval", "POST", "/v1/decisions/" + carols + "/approve", carolApprover, nil, "", 403, "SELF_APPROVAL", "carol"},
		{"not an approver", "POST", "/v1/decisions/" + grp + "/approve", bob, nil, "", 403, "NOT_AN_APPROVER", "bob"},
		{"already approved", "POST", "/v1/decisions/{did}/approve", al, nil, "", 409, "ALREADY_APPROVED", ""},
		{"revoke without approval", "POST", "/v1/decisions/{did}/revoke", bob, nil, "", 409, "NOT_APPROVED", "has not approved"},
		{"approve a rejected decision", "POST", "/v1/decisions/" + rejected + "/approve", al, nil, "", 409, "INVALID_STATE", "rejected"},
		{"reject twice", "POST", "/v1/decisions/" + rejected + "/reject", al, `{"reason": "again"}`, "", 409, "INVALID_STATE", ""},
		{"approve an executed decision", "POST", "/v1/decisions/" + done + "/approve", bob, nil, "", 409, "INVALID_STATE", "completed"},
		{"approve an expired decision", "POST", "/v1/decisions/" + soon + "/approve", al, nil, "", 410, "EXPIRED", "expired"},
		{"approval expiry in the past", "POST", "/v1/decisions/{did}/approve", bob, `{"expires_at": "` + past + `"}`, "", 400, "INVALID_INPUT", "not in the future"},
		{"approval expiry not a time", "POST", "/v1/decisions/{did}/approve", bob, `{"expires_at": "tomorrow"}`, "", 400, "INVALID_INPUT", `"expires_at" must be an RFC 3339 time`},

		// Execution.
		{"execute without approvals", "POST", "/v1/decisions/{did}/execute", a, nil, "", 403, "POLICY_VIOLATION", "1 of the 2 required approvals"},
		{"execute in a mode not allowed", "POST", "/v1/decisions/" + dry + "/execute", adm, `{"mode": "apply"}`, "", 403, "POLICY_VIOLATION", "not allowed by the policy"},
		{"execute twice", "POST", "/v1/decisions/" + done + "/execute", a, nil, "", 409, "INVALID_STATE", "already executed"},
		{"execute without capabilities", "POST", "/v1/decisions/" + caps + "/execute", a, nil, "", 403, "POLICY_VIOLATION", "lacks git"},
		{"execute an expired decision", "POST", "/v1/decisions/" + soon + "/execute", a, nil, "", 410, "EXPIRED", ""},
		{"execute a bad mode", "POST", "/v1/decisions/{did}/execute", a, `{"mode": "yolo"}`, "", 400, "INVALID_INPUT", "mode"},
		{"run in a session the server does not execute in", "POST", "/v1/decisions/{did}/execute", a, `{"adapter_id": "session:{sid}"}`, "", 403, "FORBIDDEN", "does not execute actions"},
		{"run in another agent's session", "POST", "/v1/decisions/" + theirs + "/execute", f.agent2(), `{"adapter_id": "session:{sid}"}`, "", 404, "NOT_FOUND", "session"},
		{"run in an unknown session", "POST", "/v1/decisions/{did}/execute", adm, `{"adapter_id": "session:nope"}`, "", 404, "NOT_FOUND", "session"},

		// Invalid requests.
		{"missing goal", "POST", "/v1/decisions", a, `{"mode": "dry_run"}`, "", 400, "INVALID_INPUT", `"goal" is required`},
		{"blank goal", "POST", "/v1/decisions", a, `{"goal": "  "}`, "", 400, "INVALID_INPUT", "goal: is required"},
		{"bad mode", "POST", "/v1/decisions", a, `{"goal": "g", "mode": "yolo"}`, "", 400, "INVALID_INPUT", "mode"},
		{"zero approvals", "POST", "/v1/decisions", a, `{"goal": "g", "min_approvals": 0}`, "", 400, "INVALID_INPUT", "min_approvals"},
		{"apply not allowed", "POST", "/v1/decisions", a, `{"goal": "g", "mode": "apply", "allowed_modes": ["dry_run"]}`, "", 400, "INVALID_INPUT", "not among the allowed modes"},
		{"plan a number", "POST", "/v1/decisions", a, `{"goal": "g", "plan": 5}`, "", 400, "INVALID_INPUT", "plan"},
		{"plan step without tool", "POST", "/v1/decisions", a, `{"goal": "g", "plan": [{"input": {}}]}`, "", 400, "INVALID_INPUT", "plan[0].tool"},
		{"expiry in the past", "POST", "/v1/decisions", a, `{"goal": "g", "expires_at": "` + past + `"}`, "", 400, "INVALID_INPUT", "not in the future"},
		{"expiry a number", "POST", "/v1/decisions", a, `{"goal": "g", "expires_at": 5}`, "", 400, "INVALID_INPUT", `"expires_at" must be a string`},
		{"loosen a template", "POST", "/v1/decisions", a, `{"goal": "g", "template_name": "strict", "min_approvals": 1}`, "", 400, "INVALID_INPUT", "only allows tightening"},
		{"too few approvers", "POST", "/v1/decisions", a, `{"goal": "g", "min_approvals": 2, "approvers": ["alice"]}`, "", 400, "INVALID_INPUT", "only 1 of the approvers"},
		{"the requester in the body", "POST", "/v1/decisions", a, `{"goal": "g", "actor": {"type": "human", "id": "alice"}}`, "", 400, "INVALID_INPUT", `unknown field "actor"`},
		{"reject without reason", "POST", "/v1/decisions/{did}/reject", al, `{}`, "", 400, "INVALID_INPUT", `"reason" is required`},
		{"template exists", "POST", "/v1/templates", adm, `{"name": "strict"}`, "", 409, "TEMPLATE_ALREADY_EXISTS", "immutable"},
		{"template without name", "POST", "/v1/templates", adm, `{"min_approvals": 1}`, "", 400, "INVALID_INPUT", "name: is required"},
		{"template bad name", "POST", "/v1/templates", adm, `{"name": "a b"}`, "", 400, "INVALID_INPUT", "name"},
		{"template zero approvals", "POST", "/v1/templates", adm, `{"name": "z", "min_approvals": 0}`, "", 400, "INVALID_INPUT", "min_approvals"},
		{"template modes a string", "POST", "/v1/templates", adm, `{"name": "z", "allowed_modes": "apply"}`, "", 400, "INVALID_INPUT", `"allowed_modes" must be a list`},

		// Query strings.
		{"unknown state", "GET", "/v1/decisions?state=bogus", al, nil, "", 400, "INVALID_INPUT", "not a recorded state"},
		{"approved is not recorded", "GET", "/v1/decisions?state=approved", al, nil, "", 400, "INVALID_INPUT", "not a recorded state"},
		{"limit zero", "GET", "/v1/decisions?limit=0", al, nil, "", 400, "INVALID_INPUT", "limit"},
		{"limit too big", "GET", "/v1/decisions?limit=1001", al, nil, "", 400, "INVALID_INPUT", "limit"},
		{"limit not a number", "GET", "/v1/templates?limit=ten", al, nil, "", 400, "INVALID_INPUT", "limit"},
		{"bad cursor", "GET", "/v1/decisions?cursor=garbage", al, nil, "", 400, "INVALID_INPUT", "cursor"},
		{"unknown parameter", "GET", "/v1/decisions?states=pending_approval", al, nil, "", 400, "INVALID_INPUT", `unknown query parameter "states"`},
		{"repeated parameter", "GET", "/v1/decisions?requester=a&requester=b", al, nil, "", 400, "INVALID_INPUT", "give it once"},
		{"malformed query", "GET", "/v1/decisions?label=%zz", al, nil, "", 400, "INVALID_INPUT", "malformed query"},
		{"inspect format", "GET", "/v1/decisions/{did}/inspect?format=xml", al, nil, "", 400, "INVALID_INPUT", "json or markdown"},
		{"inspect events", "GET", "/v1/decisions/{did}/inspect?events=maybe", al, nil, "", 400, "INVALID_INPUT", "true or false"},
		{"inspect timeline", "GET", "/v1/decisions/{did}/inspect?timeline_limit=x", al, nil, "", 400, "INVALID_INPUT", "timeline_limit"},
		{"status with a parameter", "GET", "/v1/decisions/{did}?include_events=true", al, nil, "", 400, "INVALID_INPUT", "unknown query parameter"},

		// Methods.
		{"delete a decision", "DELETE", "/v1/decisions/{did}", adm, nil, "", 405, "METHOD_NOT_ALLOWED", "GET"},
		{"get approve", "GET", "/v1/decisions/{did}/approve", adm, nil, "", 405, "METHOD_NOT_ALLOWED", "POST"},
		{"put a template", "PUT", "/v1/templates/strict", adm, `{}`, "", 405, "METHOD_NOT_ALLOWED", ""},
	})

	// The expiry test above needed the clock ahead of real time; statuses
	// still answer.
	f.must(200, request{method: "GET", path: "/v1/decisions/" + soon, token: al})
}

// Every decision route refuses bad bodies and bad tokens with stable codes.
func TestDecisionBadBodiesAndTokens(t *testing.T) {
	f := newDecFixture(t, decision.Config{Executor: decision.NopExecutor{}})
	huge := `{"goal": "` + strings.Repeat("a", 2<<20) + `"}`
	routes := []struct {
		path      string
		token     string
		valid     string
		wrongType string
		field     string
		optional  bool
	}{
		{"/v1/decisions", f.agent(), `{"goal": "g"}`, `{"goal": 1}`, "goal", false},
		{"/v1/decisions/{did}/approve", f.alice(), `{"comment": "ok"}`, `{"comment": ["ok"]}`, "comment", true},
		{"/v1/decisions/{did}/revoke", f.alice(), `{"reason": "x"}`, `{"reason": false}`, "reason", true},
		{"/v1/decisions/{did}/reject", f.alice(), `{"reason": "x"}`, `{"reason": {}}`, "reason", false},
		{"/v1/decisions/{did}/execute", f.agent(), `{"mode": "dry_run"}`, `{"adapter_id": 7}`, "adapter_id", true},
		{"/v1/templates", f.admin(), `{"name": "t"}`, `{"name": "t", "min_approvals": "2"}`, "min_approvals", false},
	}
	var cases []errCase
	for _, r := range routes {
		add := func(what string, body any, ctype string, status int, code, msg string) {
			cases = append(cases, errCase{name: r.path + "/" + what, method: "POST", path: r.path, token: r.token, body: body, ctype: ctype, status: status, code: code, msg: msg})
		}
		add("malformed", `{"a": `, "", 400, "INVALID_INPUT", "malformed JSON")
		add("syntax", `{"a" 1}`, "", 400, "INVALID_INPUT", "line 1, column")
		add("not an object", `[1, 2]`, "", 400, "INVALID_INPUT", "must be a JSON object")
		add("null", `null`, "", 400, "INVALID_INPUT", "must be a JSON object")
		add("trailing data", r.valid+` {}`, "", 400, "INVALID_INPUT", "after the JSON object")
		add("wrong type", r.wrongType, "", 400, "INVALID_INPUT", `"`+r.field+`"`)
		add("unknown field", strings.Replace(r.valid, "{", `{"bogus": 1, `, 1), "", 400, "INVALID_INPUT", `unknown field "bogus"`)
		add("2 MiB", huge, "", 413, "TOO_LARGE", "1 MiB")
		add("text/plain", r.valid, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json")
		add("no content type", r.valid, "-", 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type")
		add("invalid UTF-8", []byte("{\"goal\": \"\xff\xfe\"}"), "", 400, "INVALID_INPUT", "UTF-8")
		if !r.optional {
			add("empty", ``, "", 400, "INVALID_INPUT", "empty")
		}
		for _, tc := range []struct{ name, token, msg string }{
			{"no token", "", "missing bearer token"},
			{"garbage token", "not-a-token", "invalid token"},
			{"unknown token", "wdn_" + strings.Repeat("A", 32), "invalid token"},
		} {
			cases = append(cases, errCase{name: r.path + "/" + tc.name, method: "POST", path: r.path, token: tc.token, body: r.valid, status: 401, code: "UNAUTHORIZED", msg: tc.msg})
		}
	}
	for _, p := range []string{"/v1/decisions", "/v1/decisions/{did}", "/v1/decisions/{did}/inspect", "/v1/decisions/{did}/events", "/v1/templates", "/v1/templates/x"} {
		cases = append(cases, errCase{name: "GET " + p + "/no token", method: "GET", path: p, status: 401, code: "UNAUTHORIZED", msg: "missing bearer token"})
	}
	f.dcheck(t, cases)
}

// Execution failures and missing pieces are reported, never a 500.
func TestDecisionExecutionFailures(t *testing.T) {
	f := newDecFixture(t, decision.Config{Executor: failing{}})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/approve", token: f.alice()})
	f.must(200, request{method: "POST", path: "/v1/decisions/" + f.did + "/approve", token: f.bob()})
	res := f.send(request{method: "POST", path: "/v1/decisions/" + f.did + "/execute", token: f.agent()})
	if res.status != 502 || codeOf(res) != "ROUTER_ERROR" || !strings.Contains(messageOf(res), "the backend is down") || get(res.json, "error", "details", "error_code") != "ROUTER_ERROR" {
		t.Errorf("a failing executor: %d %s", res.status, res.raw)
	}
	d := f.must(200, request{method: "GET", path: "/v1/decisions/" + f.did, token: f.agent()})
	if str(d, "data", "state") != "failed" || str(d, "data", "blocking_reasons", 0, "code") != "EXECUTION_FAILED" {
		t.Errorf("after a failed execution: %v", d)
	}

	none := newDecFixture(t, decision.Config{})
	none.must(200, request{method: "POST", path: "/v1/decisions/" + none.did + "/approve", token: none.alice()})
	none.must(200, request{method: "POST", path: "/v1/decisions/" + none.did + "/approve", token: none.bob()})
	none.dcheck(t, []errCase{{"no executor", "POST", "/v1/decisions/{did}/execute", none.agent(), nil, "", 501, "NO_EXECUTOR", "no executor"}})

	without := newFixture(t)
	for _, rq := range []request{
		{method: "GET", path: "/v1/decisions", token: without.admin()},
		{method: "POST", path: "/v1/decisions", token: without.agent(), body: map[string]any{"goal": "g"}},
		{method: "GET", path: "/v1/decisions/x", token: without.admin()},
		{method: "POST", path: "/v1/decisions/x/approve", token: without.alice()},
		{method: "GET", path: "/v1/templates", token: without.admin()},
	} {
		res := without.send(rq)
		if res.status != 404 || codeOf(res) != "NOT_FOUND" || !strings.Contains(messageOf(res), "serves no decisions") {
			t.Errorf("%s %s without decisions: %d %s", rq.method, rq.path, res.status, res.raw)
		}
	}
}

// Parallel approvals by distinct identities all count; of two parallel
// executes one wins and the other gets INVALID_STATE.
func TestDecisionConcurrency(t *testing.T) {
	f := newDecFixture(t, decision.Config{Executor: decision.NopExecutor{}})
	const n = 8
	id := f.request(f.agent(), map[string]any{"goal": "many approvers", "min_approvals": n})
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.issue("approver-"+string(rune('a'+i)), auth.RoleApprover)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, tok := range tokens {
		wg.Go(func() {
			res, err := f.try(request{method: "POST", path: "/v1/decisions/" + id + "/approve", token: tok})
			if err == nil && res.status != 200 {
				err = errors.New(string(res.raw))
			}
			errs <- err
		})
	}
	wg.Wait()
	d := f.must(200, request{method: "GET", path: "/v1/decisions/" + id, token: f.admin()})
	if get(d, "data", "active_approvals") != float64(n) || str(d, "data", "state") != "approved" {
		t.Fatalf("after %d parallel approvals: %v", n, d)
	}
	statuses := make(chan response, 2)
	for range 2 {
		wg.Go(func() {
			res, err := f.try(request{method: "POST", path: "/v1/decisions/" + id + "/execute", token: f.agent()})
			errs <- err
			statuses <- res
		})
	}
	wg.Wait()
	close(errs)
	close(statuses)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	won, lost := 0, 0
	for res := range statuses {
		switch {
		case res.status == 200:
			won++
		case res.status == 409 && codeOf(res) == "INVALID_STATE":
			lost++
		default:
			t.Errorf("execute: %d %s", res.status, res.raw)
		}
	}
	if won != 1 || lost != 1 {
		t.Errorf("two executes: %d won, %d lost", won, lost)
	}
}

// A plan runs through the built-in executor in a session the server
// executes in, named by the adapter id.
func TestDecisionPlanRuns(t *testing.T) {
	root := t.TempDir()
	f := newFixture(t, func(c *httpapi.Config) {
		x := planexec.New(planexec.Config{Gateway: c.Gateway})
		c.Decisions = decision.New(decision.Config{Store: decision.NewMemStore(), Executor: x})
		c.ExecRoot = root
	})
	pol := "name: plans\ncapabilities:\n  - {tool: file:write, scope: {paths: [\"./out/**\"]}}\n"
	sess := f.must(201, request{method: "POST", path: "/v1/sessions", token: f.admin(), body: map[string]any{"policy": pol, "root": root}})
	sid := str(sess, "data", "id")
	d := f.must(201, request{method: "POST", path: "/v1/decisions", token: f.admin(), body: map[string]any{"goal": "write", "mode": "apply",
		"plan": []any{map[string]any{"tool": "file:write", "input": map[string]any{"path": "out/x.txt", "content": "x", "createDirs": true}}}}})
	id := str(d, "data", "decision_id")
	f.must(200, request{method: "POST", path: "/v1/decisions/" + id + "/approve", token: f.alice()})
	run := f.must(200, request{method: "POST", path: "/v1/decisions/" + id + "/execute", token: f.admin(), body: map[string]any{"adapter_id": "session:" + sid}})
	if get(run, "data", "steps_executed") != 1.0 || get(run, "data", "steps", 0, "ok") != true {
		t.Fatalf("run: %v", run)
	}
	if b, err := os.ReadFile(filepath.Join(root, "out", "x.txt")); err != nil || string(b) != "x" {
		t.Errorf("the plan did not write: %q %v", b, err)
	}
}
