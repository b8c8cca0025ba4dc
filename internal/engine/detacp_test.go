package engine

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// The policy of det-acp's evaluator suite (tests/policy/evaluator.test.ts).
const evaluatorPolicy = `
version: "1.0"
name: evaluator-suite
capabilities:
  - tool: file:read
    scope: {paths: ["/data/in/**"]}
  - tool: file:write
    scope: {paths: ["/data/out/**"]}
  - tool: command:run
    scope: {binaries: [ffmpeg, ffprobe]}
  - tool: http:request
    scope: {domains: [api.example.com], methods: [GET]}
limits:
  max_runtime_ms: 60000
  max_files_changed: 10
  max_retries: 3
gates:
  - action: file:delete
    approval: human
    risk_level: high
forbidden:
  - pattern: "**/.env"
  - pattern: "rm -rf"
`

func compile(t testing.TB, src string, root string) *Engine {
	t.Helper()
	p, err := policy.Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	if root == "" {
		root = t.TempDir()
	}
	e, err := New(p, Options{Root: root, Home: "/home/agent"})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	return e
}

func act(tool string, kv ...any) warden.Action {
	in := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		in[kv[i].(string)] = kv[i+1]
	}
	return warden.Action{Tool: tool, Input: in}
}

type evalCase struct {
	name    string
	action  warden.Action
	session *State
	want    warden.Decision
	reason  string // a substring of some reason
	rule    string // a prefix of the deciding rule
	warning string // a substring of some warning
	differs string // why Warden deliberately differs from det-acp, if it does
}

func runCases(t *testing.T, e *Engine, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Evaluate(Request{Action: tc.action, Session: tc.session, Trace: true})
			if v.Decision != tc.want {
				t.Fatalf("decision = %s, want %s; reasons %q, rule %s", v.Decision, tc.want, v.Reasons, v.Rule)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(v.Reasons, "\n"), tc.reason) {
				t.Errorf("reasons %q do not contain %q", v.Reasons, tc.reason)
			}
			if tc.rule != "" && !strings.HasPrefix(v.Rule, tc.rule) {
				t.Errorf("rule = %q, want prefix %q", v.Rule, tc.rule)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(v.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q do not contain %q", v.Warnings, tc.warning)
			}
			if len(v.Trace) == 0 {
				t.Error("no trace")
			}
		})
	}
}

func TestEvaluatorSuite(t *testing.T) {
	e := compile(t, evaluatorPolicy, "")
	now := time.Now()
	fresh := &State{StartedAt: now}
	runCases(t, e, []evalCase{
		{name: "01 read in scope", action: act("file:read", "path", "/data/in/video.mp4"), want: warden.Allow},
		{name: "02 gate without capability", action: act("file:delete", "path", "/data/in/video.mp4"), want: warden.Deny, reason: "No capability defined", rule: "capabilities"},
		{name: "03 read out of scope", action: act("file:read", "path", "/etc/passwd"), want: warden.Deny, reason: "outside allowed scope", rule: "capabilities[0].scope.paths"},
		{name: "04 forbidden command", action: act("command:run", "command", "rm -rf /", "binary", "rm -rf /"), want: warden.Deny, reason: "forbidden", rule: "forbidden[1]"},
		{name: "05 allowed binary", action: act("command:run", "command", "ffmpeg -i test.mp4", "binary", "ffmpeg -i test.mp4"), want: warden.Allow},
		{name: "06 forbidden .env", action: act("file:read", "path", "/data/in/.env"), want: warden.Deny, reason: "forbidden", rule: "forbidden[0]"},
		{name: "07 rm -rf /tmp", action: act("command:run", "command", "rm -rf /tmp"), want: warden.Deny, rule: "forbidden[1]"},
		{name: "08 GET allowed domain", action: act("http:request", "url", "https://api.example.com/data", "method", "GET"), want: warden.Allow},
		{name: "09 other domain", action: act("http:request", "url", "https://evil.com/data", "method", "GET"), want: warden.Deny, reason: "evil.com", rule: "capabilities[3].scope.domains"},
		{name: "10 DELETE method", action: act("http:request", "url", "https://api.example.com/data", "method", "DELETE"), want: warden.Deny, reason: `Method "DELETE" is not in allowed list`},
		{name: "11 file budget spent", action: act("file:write", "path", "/data/out/file.txt"), session: &State{StartedAt: now, FilesChanged: 10}, want: warden.Deny, reason: "File change budget exceeded: 10 >= 10", rule: "limits.max_files_changed"},
		{name: "12 runtime spent", action: act("file:read", "path", "/data/in/a"), session: &State{StartedAt: now.Add(-120 * time.Second)}, want: warden.Deny, reason: "Runtime budget exceeded", rule: "limits.max_runtime_ms"},
		{name: "13 fresh budget", action: act("file:read", "path", "/data/in/a"), session: fresh, want: warden.Allow},
		{name: "17 terminated session", action: act("file:read", "path", "/data/in/a"), session: &State{Terminated: true}, want: warden.Deny, reason: "not accepting new actions", rule: "session.state"},
		// Warden: a read does not spend the file-change budget.
		{name: "11b read with file budget spent", action: act("file:read", "path", "/data/in/a"), session: &State{StartedAt: now, FilesChanged: 10}, want: warden.Allow,
			differs: "det-acp refused every action once the file budget was spent, reads included"},
		// Warden: max_retries counts retries only.
		{name: "max_retries counts retries", action: act("file:read", "path", "/data/in/a"), session: &State{StartedAt: now, Retries: 3}, want: warden.Allow,
			differs: "det-acp never counted retries and refused everything at max_retries: 0"},
	})
	for _, tc := range []struct{ tool, want string }{
		{"file:delete", "high"}, // 16: the gate's risk_level; 14: the default for deletes is also high
		{"file:read", "low"},    // 15
		{"command:run", "high"},
		{"http:request", "medium"},
	} {
		if got := e.Risk(tc.tool); got != tc.want {
			t.Errorf("Risk(%s) = %s, want %s", tc.tool, got, tc.want)
		}
	}
}

func TestEvaluatorSessionSuite(t *testing.T) {
	base := `
name: s
capabilities:
  - tool: file:read
    scope: {paths: ["/data/**"]}
`
	now := time.Now()
	read := act("file:read", "path", "/data/x")
	cases := []struct {
		session string
		c       evalCase
	}{
		{"session: {max_actions: 5}", evalCase{name: "18 action limit", session: &State{StartedAt: now, ActionsEvaluated: 5}, want: warden.Deny, reason: "action limit reached", rule: "session.max_actions"}},
		{"session: {max_denials: 3}", evalCase{name: "19 denial limit", session: &State{StartedAt: now, ActionsDenied: 3}, want: warden.Deny, reason: "denial limit reached", rule: "session.max_denials"}},
		{"session: {max_actions: 10}", evalCase{name: "20 approaching limit", session: &State{StartedAt: now, ActionsEvaluated: 7}, want: warden.Allow, warning: "Approaching action limit: 3 actions remaining"}},
		{"session: {max_actions: 100, max_denials: 10}", evalCase{name: "21 fresh", session: &State{StartedAt: now}, want: warden.Allow}},
		{"session: {escalation: [{after_actions: 5, require: human_checkin}]}", evalCase{name: "22 escalation", session: &State{StartedAt: now, ActionsEvaluated: 5}, want: warden.Gate, reason: "Escalation", rule: "session.escalation[0]"}},
		{"session: {escalation: [{after_actions: 5, require: human_checkin}]}", evalCase{name: "escalation cleared by check-in", session: &State{StartedAt: now, ActionsEvaluated: 9, CheckedIn: []bool{true}}, want: warden.Allow}},
		{"session: {escalation: [{after_minutes: 15, require: human_checkin}]}", evalCase{name: "escalation after minutes", session: &State{StartedAt: now.Add(-16 * time.Minute)}, want: warden.Gate, reason: "16 minutes elapsed"}},
		{"session: {rate_limit: {max_per_minute: 2}}", evalCase{name: "rate limit", session: &State{StartedAt: now, ActionsLastMinute: 2}, want: warden.Deny, reason: "Rate limit exceeded: 2 actions in the last minute (limit: 2)"}},
	}
	for _, tc := range cases {
		e := compile(t, base+tc.session+"\n", "")
		tc.c.action = read
		runCases(t, e, []evalCase{tc.c})
	}
	// Escalation never turns a deny into a gate (det-acp let an approved
	// check-in through the whole policy).
	e := compile(t, base+"session: {escalation: [{after_actions: 1, require: human_checkin}]}\nforbidden: [{pattern: \"**/.env\"}]\n", "")
	runCases(t, e, []evalCase{
		{name: "escalation keeps forbidden", action: act("file:read", "path", "/data/.env"), session: &State{StartedAt: now, ActionsEvaluated: 3}, want: warden.Deny, rule: "forbidden[0]", differs: "det-acp checked escalation before forbidden rules"},
		{name: "escalation keeps unknown tools denied", action: act("file:shred", "path", "/data/x"), session: &State{StartedAt: now, ActionsEvaluated: 3}, want: warden.Deny, rule: "capabilities"},
	})
}

// det-acp loader and runtime behaviours that matter to evaluation, and
// where Warden deliberately differs.
func TestHardenedDifferences(t *testing.T) {
	e := compile(t, `
name: h
capabilities:
  - tool: command:run
    scope: {binaries: [ls]}
  - tool: file:read
    scope: {paths: ["./src/**"]}
  - tool: network:dns
    scope: {domains: [api.example.com]}
  - tool: move_file
    scope: {paths: ["./src/**"]}
gates:
  - action: command:run
    approval: human
    condition: outside_scope
forbidden:
  - pattern: "**/.env"
`, "")
	runCases(t, e, []evalCase{
		{name: "outside_scope gate fires", action: act("command:run", "command", "make deploy"), want: warden.Gate, rule: "gates[0]", reason: "Gate required: human approval",
			differs: "det-acp's outside_scope gates could never fire"},
		{name: "command with no command argument", action: act("command:run"), want: warden.Deny, reason: "No command argument",
			differs: "det-acp allowed command:run with {}"},
		{name: "unknown path key", action: act("file:read", "filepath", "/etc/passwd"), want: warden.Deny,
			differs: "det-acp allowed {filepath: /etc/passwd}"},
		{name: "dns hostname checked", action: act("network:dns", "hostname", "evil.com"), want: warden.Deny, reason: "evil.com",
			differs: "det-acp never checked hostnames against domains"},
		{name: "raw move_file destination checked", action: act("move_file", "source", "src/a", "destination", "/tmp/a"), want: warden.Deny,
			differs: "det-acp checked neither source nor destination"},
		{name: "list argument does not crash", action: act("file:read", "path", []any{"src/a", "src/b"}), want: warden.Allow,
			differs: "det-acp crashed on a list where a string was expected"},
		{name: "wrong type denies", action: act("file:read", "path", 42.0), want: warden.Deny, reason: "input.path must be a string", rule: "input.path"},
		{name: "dot path to forbidden", action: act("file:read", "path", "./src/../.env"), want: warden.Deny, rule: "forbidden[0]",
			differs: "det-acp let ./.env and src/../.env past **/.env"},
	})
}

func TestShadowMode(t *testing.T) {
	e := compile(t, "name: s\nshadow: true\ncapabilities: [{tool: file:read, scope: {paths: [\"./src/**\"]}}]\ngates: [{action: file:read, approval: human, when: 'input.path.endsWith(\".md\")'}]\n", "")
	for _, tc := range []struct {
		action warden.Action
		shadow string
	}{
		{act("file:read", "path", "/etc/passwd"), "would_deny"},
		{act("file:read", "path", "src/a.md"), "would_gate"},
		{act("file:read", "path", "src/a.ts"), ""},
	} {
		v := e.Evaluate(Request{Action: tc.action})
		if v.Decision != warden.Allow || v.Shadowed != tc.shadow {
			t.Errorf("%v: decision %s shadowed %q, want allow / %q", tc.action.Input, v.Decision, v.Shadowed, tc.shadow)
		}
	}
}

func TestToolsMapping(t *testing.T) {
	e := compile(t, `
name: m
capabilities:
  - tool: file:read
    scope: {paths: ["./src/**"]}
  - tool: directory:list
    scope: {paths: ["./**"]}
  - tool: read_text_file
    scope: {paths: ["./docs/**"]}
tools:
  fetch_many: {action: file:read, paths: [files_to_fetch]}
forbidden:
  - path: "**/secret*"
`, "")
	runCases(t, e, []evalCase{
		{name: "mapped read in scope", action: act("read_file", "path", "src/a.ts"), want: warden.Allow},
		{name: "mapped read out of scope", action: act("read_file", "path", "docs/a.md"), want: warden.Deny},
		{name: "raw-name capability wins first", action: act("read_text_file", "path", "docs/a.md"), want: warden.Allow},
		{name: "raw-name capability falls back to kind", action: act("read_text_file", "path", "src/a.ts"), want: warden.Allow},
		{name: "policy mapping adds a role", action: act("fetch_many", "files_to_fetch", []any{"src/a", "src/secret.txt"}), want: warden.Deny, rule: "forbidden[0]"},
		{name: "no-argument tool", action: act("list_allowed_directories"), want: warden.Allow},
		{name: "multiple files one forbidden", action: act("read_multiple_files", "paths", []any{"src/a", "src/secrets/x"}), want: warden.Deny, rule: "forbidden[0]"},
	})
	v := e.Evaluate(Request{Action: act("read_file", "path", "src/a.ts")})
	if diff := cmp.Diff("file:read", v.Tool); diff != "" {
		t.Error(diff)
	}
}

func TestWhenConditions(t *testing.T) {
	e := compile(t, `
name: w
capabilities:
  - tool: file:write
    when: 'input.path.endsWith(".md")'
    scope: {paths: ["./**"]}
  - tool: file:write
    scope: {paths: ["./src/**"]}
gates:
  - action: file:write
    approval: human
    min_approvals: 2
    approvers: [alice, bob]
    timeout: 5m
    when: 'input.content.size() > 10'
`, "")
	runCases(t, e, []evalCase{
		{name: "when true widens", action: act("file:write", "path", "README.md", "content", "x"), want: warden.Allow},
		{name: "when false falls back", action: act("file:write", "path", "Makefile", "content", "x"), want: warden.Deny},
		{name: "second capability", action: act("file:write", "path", "src/a.go", "content", "x"), want: warden.Allow},
		{name: "gate when true", action: act("file:write", "path", "src/a.go", "content", "0123456789abc"), want: warden.Gate},
		{name: "gate when errors holds", action: act("file:write", "path", "src/a.go"), want: warden.Gate, differs: "a condition that cannot be decided fails closed"},
	})
	v := e.Evaluate(Request{Action: act("file:write", "path", "src/a.go", "content", "0123456789abc")})
	want := &warden.GateRequirement{Index: 0, Action: "file:write", Approval: "human", MinApprovals: 2, Approvers: []string{"alice", "bob"}, Timeout: 5 * time.Minute}
	if diff := cmp.Diff(want, v.Gate); diff != "" {
		t.Errorf("gate (-want +got):\n%s", diff)
	}
}

func TestGateMethodCondition(t *testing.T) {
	e := compile(t, "name: g\ncapabilities: [{tool: http:request, scope: {domains: [api.example.com], methods: [GET, POST, PUT]}}]\ngates: [{action: http:request, approval: human, condition: \"POST|PUT\"}]\n", "")
	runCases(t, e, []evalCase{
		{name: "GET passes", action: act("http:request", "url", "https://api.example.com/"), want: warden.Allow},
		{name: "POST gated", action: act("http:request", "url", "https://api.example.com/", "method", "post"), want: warden.Gate},
		{name: "PUT gated", action: act("http:request", "url", "https://api.example.com/", "method", "PUT"), want: warden.Gate},
	})
}

// TestProtectedState: Warden's own files are out of reach whatever the
// policy allows, in every spelling, through paths, commands and cwd.
func TestProtectedState(t *testing.T) {
	root := t.TempDir()
	p, err := policy.Parse([]byte(`
name: broad
capabilities:
  - tool: file:read
    scope: {paths: ["./**"]}
  - tool: file:write
    scope: {paths: ["./**"]}
  - tool: command:run
    scope: {binaries: [cat, cp, echo]}
forbidden:
  - path: "**/.env"
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, ".warden")
	e, err := New(p, Options{Root: root, Protected: []string{filepath.Join(state, "warden.db"), filepath.Join(state, "signing.key"), filepath.Join(state, "objects")}})
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, e, []evalCase{
		{name: "signing key", action: act("file:read", "path", ".warden/signing.key"), want: warden.Deny, rule: "protected"},
		{name: "dotted spelling", action: act("file:read", "path", "src/../.warden/./signing.key"), want: warden.Deny, rule: "protected"},
		{name: "absolute", action: act("file:write", "path", filepath.Join(state, "warden.db")), want: warden.Deny, rule: "protected"},
		{name: "case folded", action: act("file:read", "path", ".WARDEN/Signing.Key"), want: warden.Deny, rule: "protected"},
		{name: "inside backups", action: act("file:write", "path", ".warden/objects/ab/cdef"), want: warden.Deny, rule: "protected"},
		{name: "command argument", action: act("command:run", "command", "cat .warden/signing.key"), want: warden.Deny, rule: "protected"},
		{name: "command redirect", action: act("command:run", "command", "echo x > .warden/warden.db"), want: warden.Deny, rule: "protected"},
		{name: "policy rule still first", action: act("file:read", "path", ".env"), want: warden.Deny, rule: "forbidden[0]"},
		{name: "other state file not listed", action: act("file:read", "path", ".warden/notes.txt"), want: warden.Allow},
		{name: "project file", action: act("file:read", "path", "src/a.go"), want: warden.Allow},
	})
	v := e.Evaluate(Request{Action: act("file:read", "path", ".warden/signing.key")})
	if len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "Warden's own state") {
		t.Errorf("reasons %q", v.Reasons)
	}
}

func TestChangedPaths(t *testing.T) {
	root := t.TempDir()
	e := compile(t, "name: c\ncapabilities:\n  - tool: file:read\n    scope: {paths: [\"./**\"]}\n", root)
	for _, tc := range []struct {
		name   string
		action warden.Action
		want   []string
	}{
		{"write", act("write_file", "path", "./src/../a.txt", "content", "x"), []string{"a.txt"}},
		{"move", act("file:move", "source", "a", "destination", "b/c"), []string{"a", "b/c"}},
		{"copy changes only its destination", act("file:copy", "source", "a", "destination", "b"), []string{"b"}},
		{"outside the root", act("file:delete", "path", "/tmp/x"), []string{"/tmp/x"}},
		{"edit_file as a write", act("edit_file", "path", "a.go", "edits", []any{}), []string{"a.go"}},
		{"a read changes nothing", act("file:read", "path", "a"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, e.ChangedPaths(tc.action)); diff != "" {
				t.Error(diff)
			}
		})
	}
}
