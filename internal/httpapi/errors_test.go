package httpapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/httpapi"
)

// fixture is an env with one session of agent-1 holding an allowed, a
// denied and a gated action.
type fixture struct {
	*env
	sid, read, denied, gated, apr string
}

func newFixture(t *testing.T, tweak ...func(*httpapi.Config)) *fixture {
	t.Helper()
	f := &fixture{env: newEnv(t, tweak...)}
	s := f.must(201, request{method: "POST", path: "/v1/sessions", token: f.agent(), body: map[string]any{"policy": suitePolicy}})
	f.sid = str(s, "data", "id")
	ev := func(tool, path string) any {
		return f.must(200, request{method: "POST", path: "/v1/sessions/" + f.sid + "/evaluate", token: f.agent(),
			body: map[string]any{"tool": tool, "input": map[string]any{"path": path}}})
	}
	f.read = str(ev("file:read", "/data/a.txt"), "data", "actionId")
	f.denied = str(ev("file:read", "/etc/passwd"), "data", "actionId")
	g := ev("file:write", "/data/out/x.txt")
	f.gated, f.apr = str(g, "data", "actionId"), str(g, "data", "approvalId")
	return f
}

// expand replaces {sid}, {read}, {denied}, {gated} and {apr}.
func (f *fixture) expand(s string) string {
	return strings.NewReplacer("{sid}", f.sid, "{read}", f.read, "{denied}", f.denied, "{gated}", f.gated, "{apr}", f.apr).Replace(s)
}

// isDetACP reports whether a path is one of det-acp's, whose errors are
// {"error", "code"} rather than the envelope.
func isDetACP(path string) bool {
	return path == "/health" || path == "/validate" || path == "/sessions" || strings.HasPrefix(path, "/sessions/")
}

// codeOf returns the error code of a response in either format.
func codeOf(res response) string {
	if c := str(res.json, "error", "code"); c != "" {
		return c
	}
	return str(res.json, "code")
}

// messageOf returns the error message of a response in either format.
func messageOf(res response) string {
	if m := str(res.json, "error", "message"); m != "" {
		return m
	}
	return str(res.json, "error")
}

// errCase is one request that must fail with status and code, and whose
// message, when msg is set, must contain it.
type errCase struct {
	name                string
	method, path, token string
	body                any
	ctype               string
	status              int
	code                string
	msg                 string
}

func (f *fixture) check(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if s, ok := body.(string); ok {
				body = f.expand(s)
			}
			res := f.send(request{method: c.method, path: f.expand(c.path), token: c.token, body: body, ctype: c.ctype})
			if res.status != c.status || codeOf(res) != c.code {
				t.Fatalf("%s %s: got %d %s, want %d %s\n%s", c.method, c.path, res.status, codeOf(res), c.status, c.code, res.raw)
			}
			if isDetACP(c.path) {
				if str(res.json, "error") == "" {
					t.Errorf("a det-acp error without \"error\": %s", res.raw)
				}
			} else if get(res.json, "ok") != false {
				t.Errorf("an error without the envelope: %s", res.raw)
			}
			if c.msg != "" && !strings.Contains(messageOf(res), c.msg) {
				t.Errorf("message %q does not contain %q", messageOf(res), c.msg)
			}
		})
	}
}

// bodyRoute is an endpoint that takes a body, with a token allowed to call
// it, a valid body and one with a field of the wrong type.
type bodyRoute struct {
	method, path string
	token        func(*fixture) string
	valid        string
	wrongType    string
	field        string // the field wrongType gets wrong
	v1           bool
}

var bodyRoutes = []bodyRoute{
	{"POST", "/validate", (*fixture).agent, `{"yaml": "name: p"}`, `{"yaml": 1}`, "yaml", false},
	{"POST", "/sessions", (*fixture).agent, `{"policy": ` + policyJSON + `}`, `{"policy": 1}`, "policy", false},
	{"POST", "/sessions/{sid}/evaluate", (*fixture).agent, `{"action": {"tool": "file:read", "input": {"path": "/data/a"}}}`, `{"action": "file:read"}`, "action", false},
	{"POST", "/sessions/{sid}/record", (*fixture).agent, `{"actionId": "{read}", "result": {"success": true}}`, `{"actionId": 7, "result": {"success": true}}`, "actionId", false},
	{"POST", "/sessions/{sid}/approve", (*fixture).alice, `{"actionId": "{gated}"}`, `{"actionId": ["{gated}"]}`, "actionId", false},
	{"POST", "/sessions/{sid}/reject", (*fixture).alice, `{"actionId": "{gated}", "reason": "no"}`, `{"actionId": "{gated}", "reason": false}`, "reason", false},
	{"POST", "/sessions/{sid}/terminate", (*fixture).agent, `{"reason": "done"}`, `{"reason": 1}`, "reason", false},
	{"POST", "/v1/sessions", (*fixture).agent, `{"policy": ` + policyJSON + `}`, `{"policy": {"name": "p"}}`, "policy", true},
	{"POST", "/v1/sessions/{sid}/evaluate", (*fixture).agent, `{"tool": "file:read", "input": {"path": "/data/a"}}`, `{"tool": 1}`, "tool", true},
	{"POST", "/v1/sessions/{sid}/record", (*fixture).agent, `{"action_id": "{read}", "result": {"success": true}}`, `{"action_id": "{read}", "result": {"success": "yes"}}`, "result.success", true},
	{"POST", "/v1/sessions/{sid}/terminate", (*fixture).agent, `{"reason": "done"}`, `{"reason": 1}`, "reason", true},
	{"POST", "/v1/sessions/{sid}/execute", (*fixture).agent, `{"tool": "file:read", "input": {"path": "/data/a"}}`, `{"tool": "file:read", "dry_run": "yes"}`, "dry_run", true},
	{"POST", "/v1/sessions/{sid}/rollback", (*fixture).agent, `{"action_id": "{read}"}`, `{"action_id": 3}`, "action_id", true},
	{"POST", "/v1/approvals/{apr}/approve", (*fixture).alice, `{"comment": "ok"}`, `{"for_session": "yes"}`, "for_session", true},
	{"POST", "/v1/approvals/{apr}/reject", (*fixture).alice, `{"reason": "no"}`, `{"reason": ["no"]}`, "reason", true},
	{"POST", "/v1/policies/validate", (*fixture).agent, `{"policy": "name: p"}`, `{"policy": {}}`, "policy", true},
	{"POST", "/v1/explain", (*fixture).agent, `{"policy": ` + policyJSON + `, "tool": "file:read"}`, `{"policy": ` + policyJSON + `, "tool": "file:read", "input": "x"}`, "input", true},
	{"POST", "/v1/tokens", (*fixture).admin, `{"name": "ci", "role": "agent"}`, `{"name": ["ci"], "role": "agent"}`, "name", true},
}

// Every endpoint that takes a body refuses every kind of bad body with the
// right status and code, and names the problem.
func TestBadBodies(t *testing.T) {
	f := newFixture(t)
	huge := `{"yaml": "` + strings.Repeat("a", 2<<20) + `"}`
	var cases []errCase
	for _, r := range bodyRoutes {
		tok := r.token(f)
		name := r.method + " " + r.path
		add := func(what string, body any, ctype string, status int, code, msg string) {
			cases = append(cases, errCase{name: name + "/" + what, method: r.method, path: r.path, token: tok, body: body, ctype: ctype, status: status, code: code, msg: msg})
		}
		add("malformed", `{"a": `, "", 400, "INVALID_INPUT", "malformed JSON")
		add("syntax", `{"a" 1}`, "", 400, "INVALID_INPUT", "line 1, column")
		add("not an object", `[1, 2]`, "", 400, "INVALID_INPUT", "must be a JSON object")
		add("string", `"hello"`, "", 400, "INVALID_INPUT", "must be a JSON object")
		add("trailing data", r.valid+` {}`, "", 400, "INVALID_INPUT", "after the JSON object")
		add("wrong type", r.wrongType, "", 400, "INVALID_INPUT", `"`+r.field+`"`)
		add("2 MiB", huge, "", 413, "TOO_LARGE", "1 MiB")
		add("text/plain", r.valid, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json")
		add("form", r.valid, "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json")
		add("no content type", r.valid, "-", 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type")
		add("invalid UTF-8", []byte("{\"reason\": \"\xff\xfe\"}"), "", 400, "INVALID_INPUT", "UTF-8")
		if r.v1 {
			add("unknown field", strings.Replace(r.valid, "{", `{"bogus": 1, `, 1), "", 400, "INVALID_INPUT", `unknown field "bogus"`)
		}
		if optional := strings.HasSuffix(r.path, "/terminate") || strings.HasSuffix(r.path, "/rollback") || r.path == "/v1/approvals/{apr}/approve"; !optional {
			add("empty", ``, "", 400, "INVALID_INPUT", "empty")
		}
	}
	f.check(t, cases)
}

// Missing required fields are named, with an example of the fix.
func TestMissingFields(t *testing.T) {
	f := newFixture(t)
	a, al := f.agent(), f.alice()
	f.check(t, []errCase{
		{"det validate", "POST", "/validate", a, `{}`, "", 400, "INVALID_INPUT", `"yaml" is required`},
		{"det create", "POST", "/sessions", a, `{"metadata": {}}`, "", 400, "INVALID_INPUT", `"policy" is required`},
		{"det create policyPath", "POST", "/sessions", a, `{"policyPath": "p.yaml"}`, "", 400, "INVALID_INPUT", `"policy" is required`},
		{"det evaluate action", "POST", "/sessions/{sid}/evaluate", a, `{}`, "", 400, "INVALID_INPUT", `"action" is required`},
		{"det evaluate tool", "POST", "/sessions/{sid}/evaluate", a, `{"action": {"input": {}}}`, "", 400, "INVALID_INPUT", `"action.tool" is required`},
		{"det evaluate input not object", "POST", "/sessions/{sid}/evaluate", a, `{"action": {"tool": "file:read", "input": [1]}}`, "", 400, "INVALID_INPUT", `"action.input" must be a JSON object`},
		{"det record actionId", "POST", "/sessions/{sid}/record", a, `{"result": {"success": true}}`, "", 400, "INVALID_INPUT", `"actionId" is required`},
		{"det record success", "POST", "/sessions/{sid}/record", a, `{"actionId": "{read}", "result": {}}`, "", 400, "INVALID_INPUT", `"result.success" is required`},
		{"det record negative", "POST", "/sessions/{sid}/record", a, `{"actionId": "{read}", "result": {"success": true, "durationMs": -1}}`, "", 400, "INVALID_INPUT", "negative"},
		{"det record artifact type", "POST", "/sessions/{sid}/record", a, `{"actionId": "{read}", "result": {"success": true, "artifacts": [{"value": "x"}]}}`, "", 400, "INVALID_INPUT", `"type" is required`},
		{"det approve actionId", "POST", "/sessions/{sid}/approve", al, `{"respondedBy": "x"}`, "", 400, "INVALID_INPUT", `"actionId" is required`},
		{"det reject reason", "POST", "/sessions/{sid}/reject", al, `{"actionId": "{gated}"}`, "", 400, "INVALID_INPUT", `"reason" is required`},
		{"det reject blank reason", "POST", "/sessions/{sid}/reject", al, `{"actionId": "{gated}", "reason": "  "}`, "", 400, "INVALID_INPUT", `"reason" is required`},
		{"v1 create neither", "POST", "/v1/sessions", a, `{"metadata": {}}`, "", 400, "INVALID_INPUT", "exactly one of"},
		{"v1 create both", "POST", "/v1/sessions", a, `{"policy": "x", "policy_path": "y"}`, "", 400, "INVALID_INPUT", "exactly one of"},
		{"v1 create bad root", "POST", "/v1/sessions", a, `{"policy": ` + policyJSON + `, "root": "/no/such/dir"}`, "", 400, "INVALID_INPUT", `"root"`},
		{"v1 evaluate tool", "POST", "/v1/sessions/{sid}/evaluate", a, `{"input": {}}`, "", 400, "INVALID_INPUT", `"tool" is required`},
		{"v1 evaluate blank tool", "POST", "/v1/sessions/{sid}/evaluate", a, `{"tool": " "}`, "", 400, "INVALID_INPUT", `"tool" is required`},
		{"v1 evaluate input string", "POST", "/v1/sessions/{sid}/evaluate", a, `{"tool": "file:read", "input": "x"}`, "", 400, "INVALID_INPUT", `"input" must be a JSON object`},
		{"v1 evaluate input list", "POST", "/v1/sessions/{sid}/evaluate", a, `{"tool": "file:read", "input": [1]}`, "", 400, "INVALID_INPUT", `"input" must be a JSON object`},
		{"v1 evaluate input number", "POST", "/v1/sessions/{sid}/evaluate", a, `{"tool": "file:read", "input": 3}`, "", 400, "INVALID_INPUT", `"input" must be a JSON object`},
		{"v1 evaluate huge integer", "POST", "/v1/sessions/{sid}/evaluate", a, `{"tool": "file:read", "input": {"n": 1e400}}`, "", 400, "INVALID_INPUT", ""},
		{"v1 record action_id", "POST", "/v1/sessions/{sid}/record", a, `{"result": {"success": true}}`, "", 400, "INVALID_INPUT", `"action_id" is required`},
		{"v1 record result", "POST", "/v1/sessions/{sid}/record", a, `{"action_id": "{read}"}`, "", 400, "INVALID_INPUT", `"result.success" is required`},
		{"v1 record negative cost", "POST", "/v1/sessions/{sid}/record", a, `{"action_id": "{read}", "result": {"success": true, "cost_usd": -2}}`, "", 400, "INVALID_INPUT", "negative"},
		{"v1 reject reason", "POST", "/v1/approvals/{apr}/reject", al, `{}`, "", 400, "INVALID_INPUT", `"reason" is required`},
		{"v1 validate policy", "POST", "/v1/policies/validate", a, `{}`, "", 400, "INVALID_INPUT", `"policy" is required`},
		{"v1 explain policy", "POST", "/v1/explain", a, `{"tool": "file:read"}`, "", 400, "INVALID_INPUT", `"policy" is required`},
		{"v1 explain tool", "POST", "/v1/explain", a, `{"policy": ` + policyJSON + `}`, "", 400, "INVALID_INPUT", `"tool" is required`},
		{"v1 explain dir", "POST", "/v1/explain", a, `{"policy": ` + policyJSON + `, "tool": "file:read", "dir": "/no/such/dir"}`, "", 400, "INVALID_INPUT", `"dir"`},
		{"v1 explain bad policy", "POST", "/v1/explain", a, `{"policy": "name: p\n", "tool": "file:read"}`, "", 400, "INVALID_POLICY", "capabilities"},
		{"v1 create bad policy", "POST", "/v1/sessions", a, `{"policy": "name: p\nbogus: 1\n"}`, "", 400, "INVALID_POLICY", "bogus"},
		{"det create bad policy", "POST", "/sessions", a, `{"policy": "name: p\nbogus: 1\n"}`, "", 400, "INVALID_POLICY", "bogus"},
		{"det validate bad yaml", "POST", "/validate", a, `{"yaml": "name: [\n"}`, "", 400, "INVALID_POLICY", ""},
		{"v1 report actions", "GET", "/v1/sessions/{sid}/report?actions=maybe", a, nil, "", 400, "INVALID_INPUT", "true or false"},
		{"v1 list state", "GET", "/v1/sessions?state=paused", a, nil, "", 400, "INVALID_INPUT", "active or terminated"},
	})
}

// An invalid policy's problems come back with their line and column in
// either format.
func TestPolicyErrorsCarryPositions(t *testing.T) {
	f := newFixture(t)
	const positioned = "name: p\ncapabilities:\n  - tool: file:read\n    scope: {}\nbogus: 1\n"
	for _, rq := range []request{
		{method: "POST", path: "/validate", token: f.agent(), body: map[string]any{"yaml": positioned}},
		{method: "POST", path: "/v1/sessions", token: f.agent(), body: map[string]any{"policy": positioned}},
	} {
		res := f.send(rq)
		errs := get(res.json, "errors")
		if rq.path == "/v1/sessions" {
			errs = get(res.json, "error", "details", "errors")
		}
		if res.status != 400 || get(errs, 0, "line") != 5.0 || get(errs, 0, "col") != 1.0 || !strings.Contains(str(errs, 0, "message"), "bogus") {
			t.Errorf("%s: %d %s", rq.path, res.status, res.raw)
		}
	}
}

// Every authenticated endpoint refuses a missing, malformed, unknown or
// revoked token with 401, and public ones need none.
func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	revoked := f.issue("revoked", auth.RoleAdmin)
	if err := f.tokens.Revoke(context.Background(), f.ids["revoked/admin"]); err != nil {
		t.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"POST", "/validate"}, {"POST", "/sessions"}, {"GET", "/sessions"}, {"GET", "/sessions/{sid}"},
		{"POST", "/sessions/{sid}/evaluate"}, {"POST", "/sessions/{sid}/record"}, {"POST", "/sessions/{sid}/approve"},
		{"POST", "/sessions/{sid}/reject"}, {"POST", "/sessions/{sid}/terminate"}, {"GET", "/sessions/{sid}/report"},
		{"POST", "/v1/sessions"}, {"GET", "/v1/sessions"}, {"GET", "/v1/sessions/{sid}"}, {"POST", "/v1/sessions/{sid}/evaluate"},
		{"POST", "/v1/sessions/{sid}/record"}, {"POST", "/v1/sessions/{sid}/terminate"}, {"GET", "/v1/sessions/{sid}/report"},
		{"POST", "/v1/sessions/{sid}/execute"}, {"POST", "/v1/sessions/{sid}/rollback"},
		{"GET", "/v1/approvals"}, {"GET", "/v1/approvals/{apr}"}, {"POST", "/v1/approvals/{apr}/approve"},
		{"POST", "/v1/approvals/{apr}/reject"}, {"POST", "/v1/policies/validate"}, {"POST", "/v1/explain"}, {"GET", "/metrics"},
		{"GET", "/v1/sessions/{sid}/ledger/export"}, {"GET", "/v1/tokens"}, {"POST", "/v1/tokens"}, {"POST", "/v1/tokens/tok_x/revoke"},
	}
	var cases []errCase
	for _, r := range routes {
		var body any
		if r.method == "POST" {
			body = `{}`
		}
		for _, tc := range []struct{ name, token, msg string }{
			{"no token", "", "missing bearer token"},
			{"garbage", "not-a-token", "invalid token"},
			{"unknown", "wdn_" + strings.Repeat("A", 32), "invalid token"},
			{"revoked", revoked, "revoked"},
		} {
			cases = append(cases, errCase{name: r.method + " " + r.path + "/" + tc.name, method: r.method, path: r.path, token: tc.token, body: body, status: 401, code: "UNAUTHORIZED", msg: tc.msg})
		}
	}
	f.check(t, cases)

	res := f.send(request{method: "GET", path: "/v1/sessions", header: map[string]string{"Authorization": "Basic " + f.admin()}})
	if res.status != 401 || codeOf(res) != "UNAUTHORIZED" || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("Basic scheme: %d %v %s", res.status, res.header, res.raw)
	}
	res = f.send(request{method: "GET", path: "/v1/sessions", header: map[string]string{"Authorization": "bearer " + f.admin()}})
	if res.status != 200 {
		t.Errorf("lower-case bearer scheme: %d %s", res.status, res.raw)
	}
	for _, p := range []string{"/health", "/healthz", "/openapi.json"} {
		f.must(200, request{method: "GET", path: p})
	}
}

// Each role reaches only what it may.
func TestRoles(t *testing.T) {
	f := newFixture(t)
	a, al, bob := f.agent(), f.alice(), f.bob()
	f.check(t, []errCase{
		{"approver creates det session", "POST", "/sessions", al, `{"policy": ` + policyJSON + `}`, "", 403, "FORBIDDEN", "agent or admin"},
		{"approver creates v1 session", "POST", "/v1/sessions", al, `{"policy": ` + policyJSON + `}`, "", 403, "FORBIDDEN", "agent or admin"},
		{"approver evaluates det", "POST", "/sessions/{sid}/evaluate", al, `{"action": {"tool": "file:read"}}`, "", 403, "FORBIDDEN", ""},
		{"approver evaluates v1", "POST", "/v1/sessions/{sid}/evaluate", bob, `{"tool": "file:read"}`, "", 403, "FORBIDDEN", ""},
		{"approver records det", "POST", "/sessions/{sid}/record", al, `{"actionId": "{read}", "result": {"success": true}}`, "", 403, "FORBIDDEN", ""},
		{"approver records v1", "POST", "/v1/sessions/{sid}/record", al, `{"action_id": "{read}", "result": {"success": true}}`, "", 403, "FORBIDDEN", ""},
		{"approver terminates det", "POST", "/sessions/{sid}/terminate", al, nil, "", 403, "FORBIDDEN", ""},
		{"approver terminates v1", "POST", "/v1/sessions/{sid}/terminate", al, nil, "", 403, "FORBIDDEN", ""},
		{"agent approves det", "POST", "/sessions/{sid}/approve", a, `{"actionId": "{gated}"}`, "", 403, "FORBIDDEN", "approver or admin"},
		{"agent rejects det", "POST", "/sessions/{sid}/reject", a, `{"actionId": "{gated}", "reason": "x"}`, "", 403, "FORBIDDEN", ""},
		{"agent approves v1", "POST", "/v1/approvals/{apr}/approve", a, `{}`, "", 403, "FORBIDDEN", "approver or admin"},
		{"agent rejects v1", "POST", "/v1/approvals/{apr}/reject", a, `{"reason": "x"}`, "", 403, "FORBIDDEN", ""},
		{"agent lists approvals", "GET", "/v1/approvals", a, nil, "", 403, "FORBIDDEN", ""},
		{"agent reads metrics", "GET", "/metrics", a, nil, "", 403, "FORBIDDEN", "admin"},
		{"approver reads metrics", "GET", "/metrics", al, nil, "", 403, "FORBIDDEN", "admin"},
	})
	// What approvers and admins may do.
	f.must(200, request{method: "GET", path: f.expand("/sessions/{sid}"), token: al})
	f.must(200, request{method: "GET", path: f.expand("/v1/sessions/{sid}/report"), token: bob})
	f.must(200, request{method: "GET", path: "/v1/approvals", token: al})
	f.must(200, request{method: "GET", path: "/metrics", token: f.admin()})
	f.must(200, request{method: "POST", path: f.expand("/v1/sessions/{sid}/evaluate"), token: f.admin(), body: map[string]any{"tool": "file:read", "input": map[string]any{"path": "/data/b"}}})
	if got := get(f.must(200, request{method: "GET", path: "/v1/sessions", token: al}), "data", "sessions"); len(got.([]any)) != 1 {
		t.Errorf("an approver should see every session: %v", got)
	}
}

// Another agent's sessions and approvals answer exactly as unknown ones
// do, so their ids are not confirmed.
func TestOtherAgentsSessions(t *testing.T) {
	f := newFixture(t)
	b := f.agent2()
	bodies := map[string]string{
		"/sessions/{sid}/evaluate":    `{"action": {"tool": "file:read", "input": {"path": "/data/a"}}}`,
		"/sessions/{sid}/record":      `{"actionId": "{read}", "result": {"success": true}}`,
		"/v1/sessions/{sid}/evaluate": `{"tool": "file:read", "input": {"path": "/data/a"}}`,
		"/v1/sessions/{sid}/record":   `{"action_id": "{read}", "result": {"success": true}}`,
	}
	routes := []struct{ method, path string }{
		{"GET", "/sessions/{sid}"}, {"POST", "/sessions/{sid}/evaluate"}, {"POST", "/sessions/{sid}/record"},
		{"POST", "/sessions/{sid}/terminate"}, {"GET", "/sessions/{sid}/report"},
		{"GET", "/v1/sessions/{sid}"}, {"POST", "/v1/sessions/{sid}/evaluate"}, {"POST", "/v1/sessions/{sid}/record"},
		{"POST", "/v1/sessions/{sid}/terminate"}, {"GET", "/v1/sessions/{sid}/report"},
	}
	for _, r := range routes {
		var body any
		if s, ok := bodies[r.path]; ok {
			body = f.expand(s)
		}
		theirs := f.send(request{method: r.method, path: f.expand(r.path), token: b, body: body})
		unknown := f.send(request{method: r.method, path: strings.ReplaceAll(r.path, "{sid}", "XXXXXXXXXXXXXXXX"), token: b, body: body})
		if theirs.status != 404 || codeOf(theirs) != "NOT_FOUND" {
			t.Errorf("%s %s as another agent: %d %s", r.method, r.path, theirs.status, theirs.raw)
		}
		if want := strings.ReplaceAll(messageOf(unknown), "XXXXXXXXXXXXXXXX", f.sid); messageOf(theirs) != want {
			t.Errorf("%s %s: another's session says %q, an unknown one %q", r.method, r.path, messageOf(theirs), want)
		}
	}
	f.check(t, []errCase{
		{"another's approval", "GET", "/v1/approvals/{apr}", b, nil, "", 404, "NOT_FOUND", "not found"},
	})
	list := f.must(200, request{method: "GET", path: "/sessions", token: b})
	if n := len(get(list, "sessions").([]any)); n != 0 {
		t.Errorf("agent-2 lists %d sessions of agent-1", n)
	}
	// The session is untouched.
	rep := f.must(200, request{method: "GET", path: f.expand("/v1/sessions/{sid}"), token: f.agent()})
	if str(rep, "data", "state") != "active" || get(rep, "data", "counters", "actionsEvaluated") != 3.0 {
		t.Errorf("session after another agent's attempts: %v", rep)
	}
}

// Unknown ids are 404 on every endpoint that takes one.
func TestUnknownIDs(t *testing.T) {
	f := newFixture(t)
	a, al := f.agent(), f.alice()
	f.check(t, []errCase{
		{"det get", "GET", "/sessions/nope", a, nil, "", 404, "NOT_FOUND", `session "nope" not found`},
		{"det evaluate", "POST", "/sessions/nope/evaluate", a, `{"action": {"tool": "file:read"}}`, "", 404, "NOT_FOUND", ""},
		{"det record session", "POST", "/sessions/nope/record", a, `{"actionId": "x", "result": {"success": true}}`, "", 404, "NOT_FOUND", ""},
		{"det record action", "POST", "/sessions/{sid}/record", a, `{"actionId": "nope", "result": {"success": true}}`, "", 404, "NOT_FOUND", `action "nope" not found`},
		{"det approve session", "POST", "/sessions/nope/approve", al, `{"actionId": "{gated}"}`, "", 404, "NOT_FOUND", ""},
		{"det approve action", "POST", "/sessions/{sid}/approve", al, `{"actionId": "nope"}`, "", 404, "NOT_FOUND", ""},
		{"det approve ungated action", "POST", "/sessions/{sid}/approve", al, `{"actionId": "{read}"}`, "", 404, "NOT_FOUND", "has no approval"},
		{"det reject action", "POST", "/sessions/{sid}/reject", al, `{"actionId": "nope", "reason": "x"}`, "", 404, "NOT_FOUND", ""},
		{"det terminate", "POST", "/sessions/nope/terminate", a, nil, "", 404, "NOT_FOUND", ""},
		{"det report", "GET", "/sessions/nope/report", a, nil, "", 404, "NOT_FOUND", ""},
		{"v1 get", "GET", "/v1/sessions/nope", a, nil, "", 404, "NOT_FOUND", `session "nope" not found`},
		{"v1 evaluate", "POST", "/v1/sessions/nope/evaluate", a, `{"tool": "file:read"}`, "", 404, "NOT_FOUND", ""},
		{"v1 record session", "POST", "/v1/sessions/nope/record", a, `{"action_id": "x", "result": {"success": true}}`, "", 404, "NOT_FOUND", ""},
		{"v1 record action", "POST", "/v1/sessions/{sid}/record", a, `{"action_id": "nope", "result": {"success": true}}`, "", 404, "NOT_FOUND", ""},
		{"v1 terminate", "POST", "/v1/sessions/nope/terminate", a, nil, "", 404, "NOT_FOUND", ""},
		{"v1 report", "GET", "/v1/sessions/nope/report", a, nil, "", 404, "NOT_FOUND", ""},
		{"v1 approval", "GET", "/v1/approvals/nope", al, nil, "", 404, "NOT_FOUND", `approval "nope" not found`},
		{"v1 approve", "POST", "/v1/approvals/nope/approve", al, nil, "", 404, "NOT_FOUND", ""},
		{"v1 reject", "POST", "/v1/approvals/nope/reject", al, `{"reason": "x"}`, "", 404, "NOT_FOUND", ""},
		{"unknown v1 path", "GET", "/v1/nope", a, nil, "", 404, "NOT_FOUND", "no endpoint"},
		{"unknown det path", "GET", "/sessions/{sid}/frobnicate", a, nil, "", 404, "NOT_FOUND", "no endpoint"},
		{"root", "GET", "/", "", nil, "", 404, "NOT_FOUND", "/openapi.json"},
	})
	res := f.send(request{method: "GET", path: "/v1/approvals?session=nope", token: al})
	if res.status != 200 || len(get(res.json, "data", "approvals").([]any)) != 0 {
		t.Errorf("pending approvals of an unknown session: %d %s", res.status, res.raw)
	}
}

// A wrong method is 405 in the route family's format, with Allow.
func TestWrongMethod(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/v1/sessions/{sid}", "GET, HEAD"},
		{"GET", "/v1/explain", "POST"},
		{"PUT", "/v1/approvals/{apr}/approve", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"PATCH", "/sessions", "GET, HEAD, POST"},
		{"GET", "/sessions/{sid}/evaluate", "POST"},
		{"POST", "/health", "GET, HEAD"},
	} {
		res := f.send(request{method: tc.method, path: f.expand(tc.path), token: f.admin()})
		if res.status != 405 || codeOf(res) != "METHOD_NOT_ALLOWED" || res.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %s Allow=%q", tc.method, tc.path, res.status, res.raw, res.header.Get("Allow"))
		}
		if isDetACP(tc.path) == (get(res.json, "ok") == false) {
			t.Errorf("%s %s: wrong error format %s", tc.method, tc.path, res.raw)
		}
	}
}

// Decisions over HTTP: self-approval, approvers, double votes, states.
func TestDecisionErrors(t *testing.T) {
	f := newFixture(t)
	// An identity that is both an agent and an approver cannot approve
	// what it requested.
	selfAgent := f.issue("carol", auth.RoleAgent)
	selfApprover := f.issue("carol", auth.RoleApprover)
	s := f.must(201, request{method: "POST", path: "/v1/sessions", token: selfAgent, body: map[string]any{"policy": suitePolicy}})
	sid := str(s, "data", "id")
	g := f.must(200, request{method: "POST", path: "/v1/sessions/" + sid + "/evaluate", token: selfAgent, body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/c"}}})
	apr, gated := str(g, "data", "approvalId"), str(g, "data", "actionId")
	// An admin that requested a gate cannot approve it either.
	g2 := f.must(200, request{method: "POST", path: f.expand("/v1/sessions/{sid}/evaluate"), token: f.admin(), body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/admin"}}})
	adminApr := str(g2, "data", "approvalId")

	// A gate restricted to a group.
	grp := strings.Replace(suitePolicy, "    min_approvals: 2\n", "    min_approvals: 1\n    approvers: [\"group:security\"]\n", 1)
	s3 := f.must(201, request{method: "POST", path: "/v1/sessions", token: f.agent(), body: map[string]any{"policy": grp}})
	sid3 := str(s3, "data", "id")
	g3 := f.must(200, request{method: "POST", path: "/v1/sessions/" + sid3 + "/evaluate", token: f.agent(), body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/g"}}})
	grpApr := str(g3, "data", "approvalId")

	f.must(200, request{method: "POST", path: f.expand("/v1/approvals/{apr}/approve"), token: f.alice()})
	f.check(t, []errCase{
		{"self-approval v1", "POST", "/v1/approvals/" + apr + "/approve", selfApprover, nil, "", 403, "SELF_APPROVAL", "cannot approve"},
		{"self-approval det", "POST", "/sessions/" + sid + "/approve", selfApprover, `{"actionId": "` + gated + `", "respondedBy": "someone-else"}`, "", 403, "SELF_APPROVAL", ""},
		{"self-approval admin", "POST", "/v1/approvals/" + adminApr + "/approve", f.admin(), nil, "", 403, "SELF_APPROVAL", ""},
		{"not an approver", "POST", "/v1/approvals/" + grpApr + "/approve", f.bob(), nil, "", 403, "NOT_AN_APPROVER", "group:security"},
		{"already approved v1", "POST", "/v1/approvals/{apr}/approve", f.alice(), nil, "", 409, "ALREADY_APPROVED", ""},
		{"already approved det", "POST", "/sessions/{sid}/approve", f.alice(), `{"actionId": "{gated}"}`, "", 409, "ALREADY_APPROVED", ""},
		{"record a denied action", "POST", "/sessions/{sid}/record", f.agent(), `{"actionId": "{denied}", "result": {"success": true}}`, "", 409, "INVALID_STATE", "only allowed or approved"},
		{"record a gated action", "POST", "/v1/sessions/{sid}/record", f.agent(), `{"action_id": "{gated}", "result": {"success": true}}`, "", 409, "INVALID_STATE", ""},
	})
	f.must(200, request{method: "POST", path: "/v1/approvals/" + grpApr + "/approve", token: f.alice()})
	f.must(200, request{method: "POST", path: f.expand("/v1/sessions/{sid}/record"), token: f.agent(), body: map[string]any{"action_id": f.read, "result": map[string]any{"success": true}}})
	f.must(200, request{method: "POST", path: "/v1/approvals/" + apr + "/reject", token: f.bob(), body: map[string]any{"reason": "no"}})
	f.check(t, []errCase{
		{"approve a granted approval", "POST", "/v1/approvals/" + grpApr + "/approve", f.bob(), nil, "", 409, "INVALID_STATE", "not pending"},
		{"reject a rejected approval", "POST", "/v1/approvals/" + apr + "/reject", f.bob(), `{"reason": "again"}`, "", 409, "INVALID_STATE", ""},
		{"record twice", "POST", "/v1/sessions/{sid}/record", f.agent(), `{"action_id": "{read}", "result": {"success": true}}`, "", 409, "CONFLICT", "already recorded"},
	})
	f.must(200, request{method: "POST", path: f.expand("/sessions/{sid}/terminate"), token: f.agent()})
	f.check(t, []errCase{
		{"terminate twice det", "POST", "/sessions/{sid}/terminate", f.agent(), nil, "", 409, "INVALID_STATE", "terminated"},
		{"terminate twice v1", "POST", "/v1/sessions/{sid}/terminate", f.agent(), `{"reason": "again"}`, "", 409, "INVALID_STATE", ""},
		{"evaluate after terminate det", "POST", "/sessions/{sid}/evaluate", f.agent(), `{"action": {"tool": "file:read"}}`, "", 409, "INVALID_STATE", "start a new session"},
		{"evaluate after terminate v1", "POST", "/v1/sessions/{sid}/evaluate", f.agent(), `{"tool": "file:read"}`, "", 409, "INVALID_STATE", ""},
		{"approve in a terminated session", "POST", "/v1/approvals/{apr}/approve", f.bob(), nil, "", 409, "INVALID_STATE", ""},
	})
}

// An approval past its gate's timeout is EXPIRED.
func TestExpiredApproval(t *testing.T) {
	f := newFixture(t)
	pol := strings.Replace(suitePolicy, "    min_approvals: 2\n", "    min_approvals: 1\n    timeout: 1s\n", 1)
	s := f.must(201, request{method: "POST", path: "/v1/sessions", token: f.agent(), body: map[string]any{"policy": pol}})
	g := f.must(200, request{method: "POST", path: "/v1/sessions/" + str(s, "data", "id") + "/evaluate", token: f.agent(),
		body: map[string]any{"tool": "file:write", "input": map[string]any{"path": "/data/out/x"}}})
	time.Sleep(1100 * time.Millisecond)
	f.check(t, []errCase{
		{"expired", "POST", "/v1/approvals/" + str(g, "data", "approvalId") + "/approve", f.alice(), nil, "", 410, "EXPIRED", "expired"},
	})
}

// Server-side policy paths are read only from the policy directory.
func TestPolicyPaths(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "coding.yaml"), []byte(suitePolicy), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "team", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "team", "p.yaml"), []byte(suitePolicy), 0o644))
	must(os.WriteFile(filepath.Join(outside, "evil.yaml"), []byte(suitePolicy), 0o644))
	must(os.Symlink(filepath.Join(outside, "evil.yaml"), filepath.Join(dir, "link.yaml")))
	must(os.Symlink(outside, filepath.Join(dir, "linkdir")))
	must(os.Symlink("coding.yaml", filepath.Join(dir, "alias.yaml")))

	without := newFixture(t)
	a := without.agent()
	without.check(t, []errCase{
		{"det absolute path", "POST", "/sessions", a, `{"policy": "/etc/passwd"}`, "", 400, "INVALID_INPUT", "inline"},
		{"det relative path", "POST", "/sessions", a, `{"policy": "coding.yaml"}`, "", 400, "INVALID_INPUT", "reads no policy files"},
		{"v1 policy_path", "POST", "/v1/sessions", a, `{"policy_path": "coding.yaml"}`, "", 400, "INVALID_INPUT", "reads no policy files"},
	})

	with := newFixture(t, func(c *httpapi.Config) { c.PolicyDir = dir })
	a = with.agent()
	with.check(t, []errCase{
		{"dot-dot", "POST", "/sessions", a, `{"policy": "../` + filepath.Base(outside) + `/evil.yaml"}`, "", 400, "INVALID_INPUT", `".."`},
		{"inner dot-dot", "POST", "/v1/sessions", a, `{"policy_path": "team/../coding.yaml"}`, "", 400, "INVALID_INPUT", `".."`},
		{"backslash dot-dot", "POST", "/v1/sessions", a, `{"policy_path": "team\\..\\..\\x.yaml"}`, "", 400, "INVALID_INPUT", `".."`},
		{"absolute outside", "POST", "/sessions", a, `{"policy": "/etc/passwd"}`, "", 400, "INVALID_INPUT", "outside"},
		{"absolute outside v1", "POST", "/v1/sessions", a, `{"policy_path": ` + jsonString(filepath.Join(outside, "evil.yaml")) + `}`, "", 400, "INVALID_INPUT", "outside"},
		{"symlink escape", "POST", "/sessions", a, `{"policy": "link.yaml"}`, "", 400, "INVALID_INPUT", "outside"},
		{"symlinked directory escape", "POST", "/v1/sessions", a, `{"policy_path": "linkdir/evil.yaml"}`, "", 400, "INVALID_INPUT", "outside"},
		{"missing", "POST", "/v1/sessions", a, `{"policy_path": "nope.yaml"}`, "", 400, "INVALID_INPUT", "not found"},
		{"directory", "POST", "/v1/sessions", a, `{"policy_path": "team"}`, "", 400, "INVALID_INPUT", "not a regular file"},
		{"NUL", "POST", "/v1/sessions", a, `{"policy_path": "a\u0000b"}`, "", 400, "INVALID_INPUT", "NUL"},
	})
	for _, rq := range []request{
		{method: "POST", path: "/sessions", token: a, body: map[string]any{"policy": "coding.yaml"}},
		{method: "POST", path: "/sessions", token: a, body: map[string]any{"policy": "./team/p.yaml"}},
		{method: "POST", path: "/v1/sessions", token: a, body: map[string]any{"policy_path": filepath.Join(dir, "coding.yaml")}},
		{method: "POST", path: "/v1/sessions", token: a, body: map[string]any{"policy_path": "alias.yaml"}},
	} {
		res := with.send(rq)
		if res.status != 201 {
			t.Errorf("%v: %d %s", rq.body, res.status, res.raw)
		}
	}
	// Inline YAML is still inline with a policy directory.
	with.must(201, request{method: "POST", path: "/sessions", token: a, body: map[string]any{"policy": suitePolicy}})
	with.must(201, request{method: "POST", path: "/sessions", token: a, body: map[string]any{"policy": `{name: flow, capabilities: [{tool: "file:read", scope: {}}]}`}})

	if _, err := httpapi.New(httpapi.Config{Gateway: with.gw, Tokens: with.tokens, PolicyDir: filepath.Join(dir, "nope")}); err == nil {
		t.Error("New accepted a policy directory that does not exist")
	}
}

// New refuses an incomplete configuration.
func TestNewConfig(t *testing.T) {
	f := newFixture(t)
	for _, cfg := range []httpapi.Config{
		{Tokens: f.tokens},
		{Gateway: f.gw},
	} {
		if _, err := httpapi.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := httpapi.New(httpapi.Config{Gateway: f.gw, NoAuth: true, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := httpapi.New(httpapi.Config{Gateway: f.gw, NoAuth: true, Registry: reg}); err == nil {
		t.Error("two APIs registered their metrics in one registry")
	}
}

// Without authentication every request is the admin "local".
func TestNoAuth(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.NoAuth = true; c.Tokens = nil })
	s := e.must(201, request{method: "POST", path: "/v1/sessions", body: map[string]any{"policy": suitePolicy}})
	if str(s, "data", "owner") != "local" {
		t.Errorf("owner %q, want local", str(s, "data", "owner"))
	}
	e.must(200, request{method: "GET", path: "/metrics"})
	e.must(200, request{method: "GET", path: "/v1/approvals"})
}

// Hostile shapes inside otherwise valid bodies are refused cleanly or
// evaluated, never a 5xx.
func TestHostileInputs(t *testing.T) {
	f := newFixture(t)
	path := f.expand("/v1/sessions/{sid}/evaluate")
	deep := func(n int) string {
		return `{"tool": "file:read", "input": {"a": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`
	}
	wide := `{"tool": "file:read", "input": {"paths": [` + strings.TrimSuffix(strings.Repeat(`"/data/x",`, 20000), ",") + `]}}`
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"nesting beyond the JSON decoder", deep(20000), 400},
		{"nesting beyond canonical JSON", deep(2000), 400},
		{"integer beyond 2^53", `{"tool": "file:read", "input": {"n": 18014398509481984}}`, 400},
		{"lone surrogate", `{"tool": "file:read", "input": {"path": "/data/\ud800"}}`, 200},
		{"NUL in a path", `{"tool": "file:read", "input": {"path": "/data/a\u0000/../../etc/passwd"}}`, 200},
		{"path of the wrong type", `{"tool": "file:read", "input": {"path": {"nested": true}}}`, 200},
		{"wide list", wide, 200},
		{"huge tool name", `{"tool": "` + strings.Repeat("x", 500000) + `"}`, 200},
		{"duplicate keys", `{"tool": "file:read", "tool": "command:run", "input": {"command": "rm -rf /"}}`, 200},
	} {
		res := f.send(request{method: "POST", path: path, token: f.agent(), body: tc.body})
		if res.status != tc.status {
			t.Errorf("%s: %d %.300s", tc.name, res.status, res.raw)
		}
		if res.status == 200 && str(res.json, "data", "decision") == "allow" && tc.name != "wide list" && tc.name != "lone surrogate" {
			t.Errorf("%s: allowed: %.300s", tc.name, res.raw)
		}
	}
}
