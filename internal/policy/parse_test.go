package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src), "p.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// parseErrors returns the error lines of a policy that must not load.
func parseErrors(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse([]byte(src), "p.yaml")
	if err == nil {
		t.Fatalf("Parse succeeded, want errors for:\n%s", src)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors", err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

// det-acp loader suite (tests/policy/loader.test.ts), with Warden's outcome.
func TestLoaderSuite(t *testing.T) {
	t.Run("full valid policy parses", func(t *testing.T) {
		p := mustParse(t, `
version: "1.0"
name: test-policy
capabilities:
  - tool: "file:read"
    scope:
      paths: ["/data/**"]
limits:
  max_runtime_ms: 60000
  max_files_changed: 10
gates:
  - action: "file:delete"
    approval: human
forbidden:
  - pattern: "**/.env"
`)
		if p.Name != "test-policy" || p.Version != "1.0" || len(p.Capabilities) != 1 ||
			p.Capabilities[0].Tool != "file:read" || !cmp.Equal(p.Capabilities[0].Scope.Paths, []string{"/data/**"}) ||
			*p.Limits.MaxRuntimeMS != 60000 || *p.Limits.MaxFilesChanged != 10 ||
			len(p.Gates) != 1 || p.Gates[0].Action != "file:delete" || p.Gates[0].Approval != "human" ||
			len(p.Forbidden) != 1 {
			t.Errorf("unexpected policy: %+v", p)
		}
	})
	t.Run("minimal policy gets defaults", func(t *testing.T) {
		p := mustParse(t, "name: min\ncapabilities:\n  - tool: file:read\n    scope: {}\n")
		if p.Version != "1.0" || len(p.Gates) != 0 || len(p.Forbidden) != 0 || p.Evidence.Format != "jsonl" {
			t.Errorf("defaults: %+v", p)
		}
	})
	t.Run("empty capabilities rejected", func(t *testing.T) {
		errs := parseErrors(t, "name: x\ncapabilities: []\n")
		wantContains(t, errs, "p.yaml:2:15: capabilities: at least one capability must be defined")
	})
	t.Run("missing name rejected", func(t *testing.T) {
		errs := parseErrors(t, "capabilities:\n  - tool: a\n    scope: {}\n")
		wantContains(t, errs, `p.yaml:1:1: name: missing required key "name"`)
	})
	t.Run("invalid YAML rejected", func(t *testing.T) {
		errs := parseErrors(t, "{{{")
		wantContains(t, errs, "p.yaml:1:")
		wantContains(t, errs, "invalid YAML")
	})
	t.Run("a string is not a policy", func(t *testing.T) {
		errs := parseErrors(t, `"just a string"`)
		wantContains(t, errs, "a policy must be a mapping")
	})
	t.Run("remediation round-trips", func(t *testing.T) {
		p := mustParse(t, `
name: r
capabilities: [{tool: a, scope: {}}]
remediation:
  rules:
    - match: CUDA out of memory
      action: fallback:vulkan
  fallback_chain: [cuda, vulkan, cpu]
`)
		want := &Remediation{Rules: []RemediationRule{{Match: "CUDA out of memory", Action: "fallback:vulkan"}}, FallbackChain: []string{"cuda", "vulkan", "cpu"}}
		if diff := cmp.Diff(want, p.Remediation); diff != "" {
			t.Error(diff)
		}
	})
}

func wantContains(t *testing.T, lines []string, want string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, want) {
			return
		}
	}
	t.Errorf("no error contains %q; got:\n%s", want, strings.Join(lines, "\n"))
}

// Warden deliberately differs from det-acp here: det-acp rejected a
// numeric version and silently dropped unknown keys.
func TestStrictness(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"typo at top level", "name: x\ncapabilities: [{tool: a, scope: {}}]\nforbiden:\n  - pattern: x\n",
			[]string{`p.yaml:3:1: forbiden: unknown key "forbiden"; did you mean "forbidden"?`}},
		{"typo in scope", "name: x\ncapabilities:\n  - tool: a\n    scope:\n      path: [\"./src/**\"]\n",
			[]string{`p.yaml:5:7: capabilities[0].scope.path: unknown key "path"; did you mean "paths"?`}},
		{"unknown key far from any", "name: x\ncapabilities: [{tool: a, scope: {}}]\nzzzzzz: 1\n",
			[]string{`unknown key "zzzzzz"; allowed keys: version, name`}},
		{"wrong type", "name: x\ncapabilities: [{tool: a, scope: {paths: ./src}}]\n",
			[]string{`p.yaml:2:41: capabilities[0].scope.paths: expected a list, got a string`}},
		{"number for string", "name: 12\ncapabilities: [{tool: a, scope: {}}]\n",
			[]string{`p.yaml:1:7: name: expected a string, got a number; write it in quotes: "12"`}},
		{"bool for int", "name: x\ncapabilities: [{tool: a, scope: {}}]\nlimits: {max_files_changed: yes}\n",
			[]string{`limits.max_files_changed: expected a whole number, got a string`}},
		{"float for int", "name: x\ncapabilities: [{tool: a, scope: {}}]\nlimits: {max_files_changed: 1.5}\n",
			[]string{`expected a whole number, got a number`}},
		{"duplicate key", "name: x\nname: y\ncapabilities: [{tool: a, scope: {}}]\n",
			[]string{`p.yaml:2:1: invalid YAML: mapping key "name" already defined at [1:1]`}},
		{"invalid glob", "name: x\ncapabilities: [{tool: a, scope: {paths: [\"src/[a\"]}}]\n",
			[]string{`capabilities[0].scope.paths[0]: invalid glob "src/[a"`}},
		{"invalid CEL", "name: x\ncapabilities: [{tool: a, when: 'input.path +', scope: {}}]\n",
			[]string{`p.yaml:2:32: capabilities[0].when: invalid CEL`}},
		{"CEL not bool", "name: x\ncapabilities: [{tool: a, when: 'tool', scope: {}}]\n",
			[]string{`must yield a bool`}},
		{"unknown gate condition", "name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: human, condition: outside_scop}]\n",
			[]string{`unknown condition "outside_scop"`, `did you mean "outside_scope"?`}},
		{"unknown approval", "name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: humna}]\n",
			[]string{`unknown approval "humna"; use auto, human or webhook (did you mean "human"?)`}},
		{"impossible N of M", "name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: human, min_approvals: 3, approvers: [a, b]}]\n",
			[]string{`needs 3 approvals but only 2 approvers are listed`}},
		{"bad duration", "name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: human, timeout: soon}]\n",
			[]string{`invalid duration "soon"`}},
		{"two kinds in a forbidden rule", "name: x\ncapabilities: [{tool: a, scope: {}}]\nforbidden: [{path: a, command: b}]\n",
			[]string{`exactly one of pattern, path, command, url or regex`}},
		{"bare string forbidden", "name: x\ncapabilities: [{tool: a, scope: {}}]\nforbidden: [\"**/.env\"]\n",
			[]string{`forbidden[0]: expected a mapping of keys, got a string`}},
		{"invalid regex", "name: x\ncapabilities: [{tool: a, scope: {}}]\nforbidden: [{regex: \"a(\"}]\n",
			[]string{`forbidden[0].regex: invalid regular expression`}},
		{"field without regex", "name: x\ncapabilities: [{tool: a, scope: {}}]\nforbidden: [{path: a, field: b}]\n",
			[]string{`field goes with regex only`}},
		{"bad domain", "name: x\ncapabilities: [{tool: http:request, scope: {domains: [\"http://a.com/path\"]}}]\n",
			[]string{`capabilities[0].scope.domains`}},
		{"bad method", "name: x\ncapabilities: [{tool: http:request, scope: {methods: [GRAB]}}]\n",
			[]string{`unknown HTTP method "GRAB"`}},
		{"binary with arguments", "name: x\ncapabilities: [{tool: command:run, scope: {binaries: [\"npm test\"]}}]\n",
			[]string{`must be one program name`}},
		{"negative limit", "name: x\ncapabilities: [{tool: a, scope: {}}]\nlimits: {max_cost_usd: -1}\n",
			[]string{`limits.max_cost_usd: must not be negative`}},
		{"unknown evidence", "name: x\ncapabilities: [{tool: a, scope: {}}]\nevidence: {require: [checksum]}\n",
			[]string{`unknown evidence "checksum"`, `did you mean "checksums"?`}},
		{"unknown remediation action", "name: x\ncapabilities: [{tool: a, scope: {}}]\nremediation: {rules: [{match: x, action: retyr}]}\n",
			[]string{`unknown action "retyr"`}},
		{"unsupported version", "version: \"2.0\"\nname: x\ncapabilities: [{tool: a, scope: {}}]\n",
			[]string{`unsupported version "2.0"`}},
		{"missing scope", "name: x\ncapabilities:\n  - tool: a\n",
			[]string{`missing required key "scope"`}},
		{"several documents", "name: x\n---\nname: y\n",
			[]string{`several YAML documents`}},
		{"empty file", "",
			[]string{`the policy is empty`}},
		{"merge key", "base: &b {tool: a, scope: {}}\nname: x\ncapabilities: [{<<: *b}]\n",
			[]string{`unknown key "base"`, `merge keys (<<) are not supported`}},
		{"list at top", "- a\n- b\n",
			[]string{`a policy must be a mapping`, `got a list`}},
		{"webhook gate without webhook", "name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: webhook}]\n",
			[]string{`a webhook gate needs webhook:`}},
		{"bad webhook", "name: x\ncapabilities: [{tool: a, scope: {}}]\ngates: [{action: a, approval: webhook, webhook: {url: 'ftp://x', secret_env: 'A*', format: xml}}]\n",
			[]string{`invalid webhook URL "ftp://x"`, `"A*" is not an environment variable name`, `unknown format "xml"`}},
		{"escalation kind", "name: x\ncapabilities: [{tool: a, scope: {}}]\nsession: {escalation: [{after_actions: 5, require: coffee}]}\n",
			[]string{`unknown requirement "coffee"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.src)
			for _, w := range tc.want {
				wantContains(t, errs, w)
			}
		})
	}
}

func TestEveryErrorReported(t *testing.T) {
	errs := parseErrors(t, "name: x\ncapabilities:\n  - tool: a\n    scope: {pahts: []}\ngates:\n  - action: a\n    approval: nope\nforbiden: []\n")
	if len(errs) != 3 {
		t.Errorf("got %d errors, want 3 (all of them at once):\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

func TestNumericVersionAccepted(t *testing.T) {
	for _, v := range []string{"1.0", "1", `"1.0"`} {
		p := mustParse(t, "version: "+v+"\nname: x\ncapabilities: [{tool: a, scope: {}}]\n")
		if p.Version != "1.0" && p.Version != "1" {
			t.Errorf("version %s → %q", v, p.Version)
		}
	}
}

func TestExtensions(t *testing.T) {
	p := mustParse(t, `
name: ext
shadow: true
allow_self_approval: true
capabilities:
  - tool: command:run
    when: 'session.actions_evaluated < 10'
    scope: {binaries: [go], env: [GOFLAGS], cwd: ["./**"], shell: true}
gates:
  - action: command:run
    approval: human
    min_approvals: 2
    approvers: [alice, bob, group:ops]
    timeout: 10m
    approval_ttl: 1d
    when: 'input.command.startsWith("go test")'
    condition: POST|put
forbidden:
  - {url: "http://169.254.169.254/**", reason: metadata}
tools:
  my_read: {action: file:read, paths: [file_list]}
  noargs: {action: directory:list, paths: []}
`)
	g := p.Gates[0]
	if !p.Shadow || !p.AllowSelfApproval || g.MinApprovals != 2 || time.Duration(g.Timeout) != 10*time.Minute ||
		time.Duration(g.ApprovalTTL) != 24*time.Hour || !p.Capabilities[0].Scope.Shell {
		t.Errorf("extensions not loaded: %+v", p)
	}
	if m := p.Tools["noargs"]; m.Paths == nil || len(m.Paths) != 0 {
		t.Errorf("explicit empty paths must stay distinct from absent: %#v", m.Paths)
	}
	if methods, ok := ConditionMethods(g.Condition); !ok || !cmp.Equal(methods, []string{"POST", "PUT"}) {
		t.Errorf("ConditionMethods(%q) = %v, %v", g.Condition, methods, ok)
	}
}

func TestWarnings(t *testing.T) {
	p := mustParse(t, "name: x\ncapabilities: [{tool: a, scope: {}}]\nlimits: {max_retries: 0}\ngates: [{action: b, approval: human}]\n")
	var got []string
	for _, w := range p.Warnings {
		got = append(got, w.Error())
	}
	wantContains(t, got, "limits.max_retries: a limit of 0 allows none")
	wantContains(t, got, `gates[0].action: no capability grants "b"`)
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := make([]byte, 50<<20)
	for i := range big {
		big[i] = '#'
	}
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"50 MB", write("big.yaml", big), "larger than 4 MiB"},
		{"invalid UTF-8", write("bad.yaml", []byte("name: \xff\xfe\n")), "bad.yaml:1:7: invalid UTF-8"},
		{"NUL", write("nul.yaml", []byte("name: a\x00\n")), "NUL byte"},
		{"missing", filepath.Join(dir, "none.yaml"), "policy file not found"},
		{"directory", dir, "is a directory"},
		{"alias bomb", write("bomb.yaml", []byte(aliasBomb())), "more than 200000 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFile(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFile = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// aliasBomb is a policy whose aliases expand, within the types the
// loader accepts, to a million path entries.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("name: x\ncapabilities:\n  - &c {tool: a, scope: {paths: &p [&s x")
	for range 999 {
		b.WriteString(", *s")
	}
	b.WriteString("]}}\n")
	for range 999 {
		b.WriteString("  - *c\n")
	}
	return b.String()
}

// Every example policy loads without errors or warnings.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("examples: %v, %d files", err, len(files))
	}
	for _, f := range files {
		p, err := LoadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, w := range p.Warnings {
			t.Errorf("%s: warning: %v", f, w)
		}
	}
}
