package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one call of a scripted conversation with the API. Paths and
// bodies may name values saved by earlier steps as {name}.
type step struct {
	name   string
	method string
	path   string
	token  string // agent, agent2, alice, bob, admin, or none
	body   string
	status int
	want   string // the response with volatile values as "<x>"
	save   map[string][]any
	// omit names parts of the response left out of the comparison; each
	// must be present.
	omit [][]any
}

// run plays steps in order against e, comparing each whole response.
func (e *env) run(t *testing.T, steps []step) map[string]string {
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	tokens := map[string]string{"agent": e.agent(), "agent2": e.agent2(), "alice": e.alice(), "bob": e.bob(), "admin": e.admin()}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			rq := request{method: st.method, path: subst(st.path), token: tokens[st.token]}
			if st.body != "" {
				rq.body = subst(st.body)
			}
			res := e.send(rq)
			if res.status != st.status {
				t.Fatalf("status %d, want %d\n%s", res.status, st.status, res.raw)
			}
			for name, path := range st.save {
				vars[name] = str(res.json, path...)
				if vars[name] == "" {
					t.Fatalf("no %v in %s", path, res.raw)
				}
			}
			if st.want == "" {
				return
			}
			got := scrub(res.json)
			for _, path := range st.omit {
				parent, ok := get(got, path[:len(path)-1]...).(map[string]any)
				key := path[len(path)-1].(string)
				if !ok || parent[key] == nil {
					t.Fatalf("no %v in %s", path, res.raw)
				}
				delete(parent, key)
			}
			want := mustJSON(t, subst(st.want))
			if d := cmp.Diff(want, got); d != "" {
				pretty, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("response (-want +got):\n%s\ngot:\n%s", d, pretty)
			}
		})
		if !ok {
			t.FailNow()
		}
	}
	return vars
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var policyJSON = jsonString(suitePolicy)

const parsedPolicy = `{
  "version": "1.0", "name": "http-suite",
  "capabilities": [
    {"tool": "file:read", "scope": {"paths": ["/data/**"]}},
    {"tool": "file:write", "scope": {"paths": ["/data/out/**"]}},
    {"tool": "command:run", "scope": {"binaries": ["echo"]}}
  ],
  "limits": {},
  "gates": [{"action": "file:write", "approval": "human", "min_approvals": 2}],
  "evidence": {"format": "jsonl"},
  "forbidden": [{"pattern": "**/.env"}]
}`

const allKinds = `["file:read","file:write","file:delete","file:move","file:copy","directory:list","directory:create",
  "command:run","http:request","git:diff","git:apply","git:status","git:commit","env:read","network:dns","archive:extract"]`

const (
	gateReason  = `Gate required: human approval for \"file:write\" (risk: unspecified)`
	gateJSON    = `{"index": 0, "action": "file:write", "approval": "human", "min_approvals": 2}`
	allowReason = "Action permitted by policy"
)

func TestDetACPEndpoints(t *testing.T) {
	e := newEnv(t)
	e.run(t, []step{
		{name: "health", method: "GET", path: "/health", status: 200,
			want: `{"status": "ok", "timestamp": "<x>", "tools": ` + allKinds + `, "activeSessions": 0, "version": "test"}`},
		{name: "validate", method: "POST", path: "/validate", token: "agent", body: `{"yaml": ` + policyJSON + `}`, status: 200,
			want: `{"valid": true, "policy": ` + parsedPolicy + `, "warnings": []}`},
		{name: "create", method: "POST", path: "/sessions", token: "agent", status: 201,
			body: `{"policy": ` + policyJSON + `, "metadata": {"agent": "test"}}`,
			save: map[string][]any{"sid": {"sessionId"}, "pdigest": {"session", "policyDigest"}},
			want: `{"sessionId": "<x>", "state": "active", "session": {
				"id": "<x>", "policy": ` + parsedPolicy + `, "policyName": "http-suite", "policyDigest": "{pdigest}",
				"state": "active", "actions": [], "metadata": {"agent": "test"}, "owner": "agent-1", "root": "",
				"budget": {"startedAt": "<x>", "filesChanged": 0, "totalOutputBytes": 0, "retries": 0, "costUsd": 0, "actionsEvaluated": 0, "actionsDenied": 0},
				"createdAt": "<x>", "updatedAt": "<x>"}}`},
		{name: "list", method: "GET", path: "/sessions", token: "agent", status: 200,
			want: `{"sessions": [{"id": "<x>", "state": "active", "actionsCount": 0, "createdAt": "<x>", "updatedAt": "<x>"}]}`},
		{name: "evaluate allow", method: "POST", path: "/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"action": {"tool": "file:read", "input": {"path": "/data/a.txt"}, "idempotencyKey": "k1"}}`,
			save: map[string][]any{"read": {"actionId"}, "rdigest": {"digest"}},
			want: `{"actionId": "<x>", "decision": "allow", "reasons": ["` + allowReason + `"], "rule": "capabilities[0]", "digest": "{rdigest}",
				"budgetRemaining": {"runtimeMs": "<x>", "filesChanged": 0, "totalOutputBytes": 0, "actionsEvaluated": 1, "actionsDenied": 0, "costUsd": 0}}`},
		{name: "evaluate deny", method: "POST", path: "/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"action": {"tool": "file:read", "input": {"path": "/data/.env"}}}`,
			save: map[string][]any{"ddigest": {"digest"}},
			want: `{"actionId": "<x>", "decision": "deny", "reasons": ["Path \"/data/.env\" matches forbidden pattern \"**/.env\""], "rule": "forbidden[0]", "digest": "{ddigest}",
				"budgetRemaining": {"runtimeMs": "<x>", "filesChanged": 0, "totalOutputBytes": 0, "actionsEvaluated": 2, "actionsDenied": 1, "costUsd": 0}}`},
		{name: "evaluate gate", method: "POST", path: "/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"action": {"tool": "file:write", "input": {"path": "/data/out/x.txt"}}}`,
			save: map[string][]any{"gated": {"actionId"}, "gdigest": {"digest"}},
			want: `{"actionId": "<x>", "decision": "gate", "reasons": ["` + gateReason + `"], "rule": "gates[0]", "gate": ` + gateJSON + `,
				"approvalId": "<x>", "digest": "{gdigest}",
				"budgetRemaining": {"runtimeMs": "<x>", "filesChanged": 0, "totalOutputBytes": 0, "actionsEvaluated": 3, "actionsDenied": 1, "costUsd": 0}}`},
		{name: "record", method: "POST", path: "/sessions/{sid}/record", token: "agent", status: 200,
			body: `{"actionId": "{read}", "result": {"success": true, "output": "hello", "durationMs": 12.5}}`,
			want: `{"success": true}`},
		{name: "approve ignores respondedBy", method: "POST", path: "/sessions/{sid}/approve", token: "alice", status: 200,
			body: `{"actionId": "{gated}", "respondedBy": "mallory", "reason": "looks fine"}`,
			want: `{"approved": true, "respondedBy": "alice", "approvalId": "<x>", "actionId": "<x>", "state": "pending", "approvals": 1, "required": 2}`},
		{name: "second gate", method: "POST", path: "/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"action": {"tool": "file:write", "input": {"path": "/data/out/y.txt"}}}`,
			save: map[string][]any{"gated2": {"actionId"}, "g2digest": {"digest"}}},
		{name: "reject", method: "POST", path: "/sessions/{sid}/reject", token: "bob", status: 200,
			body: `{"actionId": "{gated2}", "respondedBy": "mallory", "reason": "not now"}`,
			want: `{"rejected": true, "respondedBy": "bob", "approvalId": "<x>", "actionId": "<x>", "state": "rejected"}`},
		{name: "get session", method: "GET", path: "/sessions/{sid}", token: "alice", status: 200,
			want: `{"session": {
				"id": "<x>", "policy": ` + parsedPolicy + `, "policyName": "http-suite", "policyDigest": "{pdigest}",
				"state": "active", "metadata": {"agent": "test"}, "owner": "agent-1", "root": "",
				"budget": {"startedAt": "<x>", "filesChanged": 0, "totalOutputBytes": 5, "retries": 0, "costUsd": 0, "actionsEvaluated": 4, "actionsDenied": 2},
				"createdAt": "<x>", "updatedAt": "<x>",
				"actions": [
					{"id": "<x>", "index": 0, "request": {"tool": "file:read", "input": {"path": "/data/a.txt"}},
					 "validation": {"verdict": "allow", "tool": "file:read", "reasons": ["` + allowReason + `"], "rule": "capabilities[0]"},
					 "decision": "allow", "digest": "{rdigest}", "result": {"success": true, "output": "hello", "durationMs": "<x>"}, "timestamp": "<x>"},
					{"id": "<x>", "index": 1, "request": {"tool": "file:read", "input": {"path": "/data/.env"}},
					 "validation": {"verdict": "deny", "tool": "file:read", "reasons": ["Path \"/data/.env\" matches forbidden pattern \"**/.env\""], "rule": "forbidden[0]"},
					 "decision": "deny", "digest": "{ddigest}", "timestamp": "<x>"},
					{"id": "<x>", "index": 2, "request": {"tool": "file:write", "input": {"path": "/data/out/x.txt"}},
					 "validation": {"verdict": "gate", "tool": "file:write", "reasons": ["` + gateReason + `"], "rule": "gates[0]", "gate": ` + gateJSON + `},
					 "decision": "gate", "approvalId": "<x>", "digest": "{gdigest}", "timestamp": "<x>"},
					{"id": "<x>", "index": 3, "request": {"tool": "file:write", "input": {"path": "/data/out/y.txt"}},
					 "validation": {"verdict": "gate", "tool": "file:write", "reasons": ["` + gateReason + `"], "rule": "gates[0]", "gate": ` + gateJSON + `},
					 "decision": "gate", "approvalId": "<x>", "digest": "{g2digest}", "timestamp": "<x>"}
				]}}`},
		{name: "report", method: "GET", path: "/sessions/{sid}/report", token: "agent", status: 200,
			want: `{"report": {"sessionId": "<x>", "policyName": "http-suite", "state": "active", "totalActions": 4,
				"allowed": 1, "denied": 1, "gated": 2, "approved": 0, "rejected": 1, "durationMs": "<x>",
				"budgetUsed": {"startedAt": "<x>", "filesChanged": 0, "totalOutputBytes": 5, "retries": 0, "costUsd": 0, "actionsEvaluated": 4, "actionsDenied": 2}}}`,
			omit: [][]any{{"report", "actions"}}},
		{name: "terminate", method: "POST", path: "/sessions/{sid}/terminate", token: "agent", status: 200,
			body: `{"reason": "done"}`,
			want: `{"report": {"sessionId": "<x>", "policyName": "http-suite", "state": "terminated", "totalActions": 4,
				"allowed": 1, "denied": 1, "gated": 2, "approved": 0, "rejected": 1, "durationMs": "<x>", "terminationReason": "done",
				"budgetUsed": {"startedAt": "<x>", "filesChanged": 0, "totalOutputBytes": 5, "retries": 0, "costUsd": 0, "actionsEvaluated": 4, "actionsDenied": 2}}}`,
			omit: [][]any{{"report", "actions"}}},
		{name: "health after", method: "GET", path: "/health", status: 200,
			want: `{"status": "ok", "timestamp": "<x>", "tools": ` + allKinds + `, "activeSessions": 0, "version": "test"}`},
	})
}

const countersZero = `"allowed": 0, "denied": 0, "gated": 0, "approved": 0, "rejected": 0, "results": 0, "filesChanged": 0, "outputBytes": 0, "retries": 0, "costUsd": 0`

func TestV1Endpoints(t *testing.T) {
	e := newEnv(t)
	e.run(t, []step{
		{name: "healthz", method: "GET", path: "/healthz", status: 200,
			want: `{"ok": true, "data": {"status": "ok", "version": "test"}}`},
		{name: "validate valid", method: "POST", path: "/v1/policies/validate", token: "agent", status: 200,
			body: `{"policy": ` + policyJSON + `}`,
			want: `{"ok": true, "data": {"valid": true, "name": "http-suite", "errors": [], "warnings": []}}`},
		{name: "validate invalid", method: "POST", path: "/v1/policies/validate", token: "alice", status: 200,
			body: `{"policy": "name: p\ncapabilities:\n  - tool: file:read\n    scope: {pathz: []}\n"}`,
			want: `{"ok": true, "data": {"valid": false, "warnings": [], "errors": [
				{"file": "policy", "line": 4, "col": 13, "path": "capabilities[0].scope.pathz", "message": "unknown key \"pathz\"; did you mean \"paths\"?"}]}}`},
		{name: "explain", method: "POST", path: "/v1/explain", token: "bob", status: 200,
			body: `{"policy": ` + policyJSON + `, "tool": "file:read", "input": {"path": "/etc/passwd"}}`,
			want: `{"ok": true, "data": {"decision": "deny", "rule": "capabilities[0].scope.paths", "tool": "file:read",
				"reasons": ["Path \"/etc/passwd\" is outside allowed scope [/data/**]"]}}`,
			omit: [][]any{{"data", "trace"}}},
		{name: "create", method: "POST", path: "/v1/sessions", token: "agent", status: 201,
			body: `{"policy": ` + policyJSON + `, "metadata": {"ticket": "T-1"}}`,
			save: map[string][]any{"sid": {"data", "id"}, "pdigest": {"data", "policyDigest"}},
			want: `{"ok": true, "data": {"id": "<x>", "policyName": "http-suite", "policy": ` + policyJSON + `, "policyDigest": "{pdigest}",
				"root": "", "metadata": {"ticket": "T-1"}, "owner": "agent-1", "ownPolicy": true, "state": "active", "createdAt": "<x>", "updatedAt": "<x>",
				"counters": {"actionsEvaluated": 0, ` + countersZero + `}, "version": 1}}`},
		{name: "other agent's list is empty", method: "GET", path: "/v1/sessions", token: "agent2", status: 200,
			want: `{"ok": true, "data": {"sessions": []}}`},
		{name: "evaluate allow", method: "POST", path: "/v1/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"tool": "file:read", "input": {"path": "/data/a.txt"}}`,
			save: map[string][]any{"read": {"data", "actionId"}, "rdigest": {"data", "digest"}},
			want: `{"ok": true, "data": {"actionId": "<x>", "decision": "allow", "reasons": ["` + allowReason + `"], "rule": "capabilities[0]",
				"tool": "file:read", "digest": "{rdigest}",
				"budgetUsed": {"actionsEvaluated": 1, "allowed": 1, "denied": 0, "gated": 0, "approved": 0, "rejected": 0, "results": 0, "filesChanged": 0, "outputBytes": 0, "retries": 0, "costUsd": 0}}}`},
		{name: "evaluate gate", method: "POST", path: "/v1/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"tool": "file:write", "input": {"path": "/data/out/x.txt"}}`,
			save: map[string][]any{"apr": {"data", "approvalId"}, "gdigest": {"data", "digest"}},
			want: `{"ok": true, "data": {"actionId": "<x>", "decision": "gate", "reasons": ["` + gateReason + `"], "rule": "gates[0]",
				"tool": "file:write", "gate": ` + gateJSON + `, "approvalId": "<x>", "digest": "{gdigest}",
				"budgetUsed": {"actionsEvaluated": 2, "allowed": 1, "denied": 0, "gated": 1, "approved": 0, "rejected": 0, "results": 0, "filesChanged": 0, "outputBytes": 0, "retries": 0, "costUsd": 0}}}`},
		{name: "record", method: "POST", path: "/v1/sessions/{sid}/record", token: "agent", status: 200,
			body: `{"action_id": "{read}", "result": {"success": true, "output": "hi", "duration_ms": 3, "cost_usd": 0.25,
				"artifacts": [{"type": "checksum", "value": "sha256:00", "path": "/data/a.txt"}]}}`,
			want: `{"ok": true, "data": {"recorded": true, "actionId": "<x>"}}`},
		{name: "get session", method: "GET", path: "/v1/sessions/{sid}", token: "bob", status: 200,
			want: `{"ok": true, "data": {"id": "<x>", "policyName": "http-suite", "policy": ` + policyJSON + `, "policyDigest": "{pdigest}",
				"root": "", "metadata": {"ticket": "T-1"}, "owner": "agent-1", "ownPolicy": true, "state": "active", "createdAt": "<x>", "updatedAt": "<x>",
				"counters": {"actionsEvaluated": 2, "allowed": 1, "denied": 0, "gated": 1, "approved": 0, "rejected": 0, "results": 1,
					"filesChanged": 1, "outputBytes": 2, "retries": 0, "costUsd": 0.25}, "version": 4}}`},
		{name: "list sessions", method: "GET", path: "/v1/sessions?state=active", token: "agent", status: 200,
			save: map[string][]any{"listed": {"data", "sessions", 0, "id"}}},
		{name: "pending approvals", method: "GET", path: "/v1/approvals?session={sid}", token: "alice", status: 200,
			want: `{"ok": true, "data": {"approvals": [{"id": "<x>", "sessionId": "<x>", "actionId": "<x>", "digest": "{gdigest}",
				"tool": "file:write", "input": {"path": "/data/out/x.txt"}, "rule": "gates[0]", "requirement": ` + gateJSON + `,
				"reasons": ["` + gateReason + `"], "requester": "agent-1", "state": "pending", "createdAt": "<x>"}]}}`},
		{name: "agent follows its approval", method: "GET", path: "/v1/approvals/{apr}", token: "agent", status: 200,
			want: `{"ok": true, "data": {"id": "<x>", "sessionId": "<x>", "actionId": "<x>", "digest": "{gdigest}",
				"tool": "file:write", "input": {"path": "/data/out/x.txt"}, "rule": "gates[0]", "requirement": ` + gateJSON + `,
				"reasons": ["` + gateReason + `"], "requester": "agent-1", "state": "pending", "createdAt": "<x>"}}`},
		{name: "approve", method: "POST", path: "/v1/approvals/{apr}/approve", token: "alice", status: 200,
			body: `{"comment": "ok"}`,
			want: `{"ok": true, "data": {"id": "<x>", "sessionId": "<x>", "actionId": "<x>", "digest": "{gdigest}",
				"tool": "file:write", "input": {"path": "/data/out/x.txt"}, "rule": "gates[0]", "requirement": ` + gateJSON + `,
				"reasons": ["` + gateReason + `"], "requester": "agent-1", "state": "pending", "createdAt": "<x>",
				"votes": [{"approver": "alice", "comment": "ok", "at": "<x>"}]}}`},
		{name: "approve for session", method: "POST", path: "/v1/approvals/{apr}/approve", token: "admin", status: 200,
			body: `{"for_session": true}`,
			want: `{"ok": true, "data": {"id": "<x>", "sessionId": "<x>", "actionId": "<x>", "digest": "{gdigest}",
				"tool": "file:write", "input": {"path": "/data/out/x.txt"}, "rule": "gates[0]", "requirement": ` + gateJSON + `,
				"reasons": ["` + gateReason + `"], "requester": "agent-1", "state": "approved", "createdAt": "<x>", "decidedAt": "<x>",
				"forSession": true, "votes": [{"approver": "alice", "comment": "ok", "at": "<x>"}, {"approver": "root", "at": "<x>"}]}}`},
		{name: "gate to reject", method: "POST", path: "/v1/sessions/{sid}/evaluate", token: "agent", status: 200,
			body: `{"tool": "file:write", "input": {"path": "/data/out/y.txt"}}`,
			save: map[string][]any{"apr2": {"data", "approvalId"}, "g2digest": {"data", "digest"}}},
		{name: "reject", method: "POST", path: "/v1/approvals/{apr2}/reject", token: "bob", status: 200,
			body: `{"reason": "not during the freeze"}`,
			want: `{"ok": true, "data": {"id": "<x>", "sessionId": "<x>", "actionId": "<x>", "digest": "{g2digest}",
				"tool": "file:write", "input": {"path": "/data/out/y.txt"}, "rule": "gates[0]", "requirement": ` + gateJSON + `,
				"reasons": ["` + gateReason + `"], "requester": "agent-1", "state": "rejected", "reason": "not during the freeze",
				"createdAt": "<x>", "decidedAt": "<x>"}}`},
		{name: "get approval", method: "GET", path: "/v1/approvals/{apr2}", token: "alice", status: 200,
			save: map[string][]any{"state": {"data", "state"}}},
		{name: "report", method: "GET", path: "/v1/sessions/{sid}/report", token: "agent", status: 200,
			want: `{"ok": true, "data": {"sessionId": "<x>", "policyName": "http-suite", "state": "active", "totalActions": 3,
				"allowed": 1, "denied": 0, "gated": 2, "approved": 0, "rejected": 1, "durationMs": "<x>",
				"budgetUsed": {"actionsEvaluated": 3, "allowed": 1, "denied": 0, "gated": 2, "approved": 0, "rejected": 1, "results": 1,
					"filesChanged": 1, "outputBytes": 2, "retries": 0, "costUsd": 0.25}}}`},
		{name: "report with actions", method: "GET", path: "/v1/sessions/{sid}/report?actions=true", token: "agent", status: 200,
			save: map[string][]any{"third": {"data", "actions", 2, "id"}}},
		{name: "terminate", method: "POST", path: "/v1/sessions/{sid}/terminate", token: "agent", status: 200,
			want: `{"ok": true, "data": {"sessionId": "<x>", "policyName": "http-suite", "state": "terminated", "totalActions": 3,
				"allowed": 1, "denied": 0, "gated": 2, "approved": 0, "rejected": 1, "durationMs": "<x>",
				"budgetUsed": {"actionsEvaluated": 3, "allowed": 1, "denied": 0, "gated": 2, "approved": 0, "rejected": 1, "results": 1,
					"filesChanged": 1, "outputBytes": 2, "retries": 0, "costUsd": 0.25}}}`},
		{name: "openapi", method: "GET", path: "/openapi.json", status: 200, save: map[string][]any{"openapi": {"openapi"}}},
	})
}
