package mcpproxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wardenhq/warden/internal/policy"
)

// testVars is the environment ${VAR} is expanded from in these tests.
var testVars = map[string]string{
	"GITHUB_TOKEN": "ghp_secret",
	"API_HOST":     "api.example.com",
	"EMPTY":        "",
	"DOLLAR":       "$HOME",
}

func lookupTestVars(name string) (string, bool) {
	v, ok := testVars[name]
	return v, ok
}

// cfgFile is where the configurations of these tests are read from.
const cfgFile = "/work/project/config/warden-proxy.yaml"

func TestParseConfigAccepts(t *testing.T) {
	base := filepath.Dir(cfgFile)
	tests := []struct {
		name string
		src  string
		want *Config
	}{{
		name: "det-acp format",
		src: `# the proxy's configuration, as det-acp writes it
policy: ./policies/coding-agent.yaml
ledger_dir: ./ledgers
backends:
  - name: filesystem
    transport: stdio
    command: npx
    args: ["-y", "@modelcontextprotocol/server-filesystem", "."]
  - name: github
    transport: stdio
    command: npx
    args: ["-y", "@modelcontextprotocol/server-github"]
    env:
      GITHUB_TOKEN: "${GITHUB_TOKEN}"
  - name: remote
    transport: sse
    url: http://127.0.0.1:9000/sse
transport: stdio
host: localhost
port: 3200
session_metadata:
  agent: claude-code
  team: platform
  tags: [a, b]
`,
		want: &Config{
			Policy:    base + "/policies/coding-agent.yaml",
			LedgerDir: base + "/ledgers",
			DB:        base + "/ledgers/warden.db",
			Dir:       base,
			Backends: []BackendConfig{
				{Name: "filesystem", Transport: TransportStdio, Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-filesystem", "."}, Cwd: base},
				{Name: "github", Transport: TransportStdio, Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-github"}, Env: map[string]string{"GITHUB_TOKEN": "ghp_secret"}, Cwd: base},
				{Name: "remote", Transport: TransportSSE, URL: "http://127.0.0.1:9000/sse"},
			},
			Transport:       TransportStdio,
			Host:            "localhost",
			Port:            3200,
			SessionMetadata: map[string]any{"agent": "claude-code", "team": "platform", "tags": []any{"a", "b"}},
			File:            cfgFile,
		},
	}, {
		name: "minimal: defaults",
		src:  "policy: policy.yaml\nbackends:\n  - name: fs\n    command: ./server\n",
		want: &Config{
			Policy: base + "/policy.yaml", DB: base + "/.warden/warden.db", Dir: base,
			Backends:  []BackendConfig{{Name: "fs", Transport: TransportStdio, Command: "./server", Cwd: base}},
			Transport: TransportStdio, File: cfgFile,
		},
	}, {
		name: "db and dir keys; db wins over ledger_dir",
		src: `policy: ../policy.yaml
db: state/w.db
ledger_dir: ledgers
dir: ..
backends:
  - {name: fs, command: srv, cwd: tools}
`,
		want: &Config{
			Policy: "/work/project/policy.yaml", DB: base + "/state/w.db", LedgerDir: base + "/ledgers", Dir: "/work/project",
			Backends:  []BackendConfig{{Name: "fs", Transport: TransportStdio, Command: "srv", Cwd: base + "/tools"}},
			Transport: TransportStdio, File: cfgFile,
		},
	}, {
		name: "dir is the backends' default cwd and the database's home",
		src:  "policy: /etc/warden/p.yaml\ndir: /srv/app\nbackends:\n  - {name: fs, command: srv}\n",
		want: &Config{
			Policy: "/etc/warden/p.yaml", DB: "/srv/app/.warden/warden.db", Dir: "/srv/app",
			Backends:  []BackendConfig{{Name: "fs", Transport: TransportStdio, Command: "srv", Cwd: "/srv/app"}},
			Transport: TransportStdio, File: cfgFile,
		},
	}, {
		name: "expansion in env, args, url and headers; $$ is a literal $",
		src: `policy: p.yaml
backends:
  - name: local
    command: srv
    args: ["--host=${API_HOST}", "--price=$$5", "$${NOT_EXPANDED}", "${EMPTY}", "$PLAIN", "${DOLLAR}"]
    env:
      TOKEN: "${GITHUB_TOKEN}"
      MIXED: "a-${API_HOST}-${GITHUB_TOKEN}-b"
      LITERAL: "cost: $$10"
  - name: web
    transport: http
    url: https://${API_HOST}/mcp
    headers:
      Authorization: "Bearer ${GITHUB_TOKEN}"
      X-Price: "$$1"
`,
		want: &Config{
			Policy: base + "/p.yaml", DB: base + "/.warden/warden.db", Dir: base,
			Backends: []BackendConfig{
				{Name: "local", Transport: TransportStdio, Command: "srv", Cwd: base,
					Args: []string{"--host=api.example.com", "--price=$5", "${NOT_EXPANDED}", "", "$PLAIN", "$HOME"},
					Env:  map[string]string{"TOKEN": "ghp_secret", "MIXED": "a-api.example.com-ghp_secret-b", "LITERAL": "cost: $10"}},
				{Name: "web", Transport: TransportHTTP, URL: "https://api.example.com/mcp",
					Headers: map[string]string{"Authorization": "Bearer ghp_secret", "X-Price": "$1"}},
			},
			Transport: TransportStdio, File: cfgFile,
		},
	}, {
		name: "Warden's own keys",
		src: `policy: p.yaml
transport: http
host: "::1"
gate_wait: 90s
public_url: https://warden.example.com/
backends:
  - {name: a.b-c_1, transport: http, url: "http://127.0.0.1:8080/mcp"}
`,
		want: &Config{
			Policy: base + "/p.yaml", DB: base + "/.warden/warden.db", Dir: base,
			Backends:  []BackendConfig{{Name: "a.b-c_1", Transport: TransportHTTP, URL: "http://127.0.0.1:8080/mcp"}},
			Transport: TransportHTTP, Host: "::1", GateWait: "90s", Wait: 90 * time.Second,
			PublicURL: "https://warden.example.com", File: cfgFile,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.src), cfgFile, lookupTestVars)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfigResolvesAgainstTheFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "proxy.yaml")
	src := "policy: ./policy.yaml\nledger_dir: .det-acp/ledgers\nbackends:\n  - {name: fs, command: npx, env: {T: \"${WARDEN_CONFIG_TEST_VAR}\"}}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARDEN_CONFIG_TEST_VAR", "from-env")
	// From another working directory, with a relative path to the file.
	t.Chdir(dir)
	c, err := LoadConfig("conf/proxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Policy: filepath.Join(sub, "policy.yaml"), LedgerDir: filepath.Join(sub, ".det-acp/ledgers"),
		DB: filepath.Join(sub, ".det-acp/ledgers/warden.db"), Dir: sub, Transport: TransportStdio, File: path,
		Backends: []BackendConfig{{Name: "fs", Transport: TransportStdio, Command: "npx", Env: map[string]string{"T": "from-env"}, Cwd: sub}},
	}
	if diff := cmp.Diff(want, c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	var errs policy.Errors
	if _, err := LoadConfig("conf/missing.yaml"); !errors.As(err, &errs) || err.Error() != "conf/missing.yaml: configuration file not found" {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := LoadConfig("conf"); !errors.As(err, &errs) || !strings.HasPrefix(err.Error(), "conf: ") {
		t.Errorf("a directory: %v", err)
	}
}

// located is an expected error: where it is and what it says.
type located struct {
	Line, Col int
	Path      string
	// Msg holds substrings of the message.
	Msg []string
}

func TestParseConfigErrors(t *testing.T) {
	const ok = "policy: p.yaml\n"
	tests := []struct {
		name string
		src  string
		want []located
	}{{
		name: "unknown top-level key with a suggestion",
		src:  "policy: p.yaml\nbakends: []\n",
		want: []located{{2, 1, "", []string{`unknown field "bakends"`, `did you mean "backends"?`}}},
	}, {
		name: "unknown backend key with a suggestion",
		src:  ok + "backends:\n  - name: fs\n    comand: npx\n",
		want: []located{{4, 5, "", []string{`unknown field "comand"`, `did you mean "command"?`}}},
	}, {
		name: "unknown key with no near match",
		src:  ok + "frobnicate: 1\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 1, "", []string{`unknown field "frobnicate"; remove it (the keys are policy, db,`}}},
	}, {
		name: "port that overflows",
		src:  ok + "port: 99999999999999999999\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 7, "port", []string{"99999999999999999999 is out of range: expected a port number"}}},
	}, {
		name: "missing policy and backends",
		src:  "transport: stdio\n",
		want: []located{
			{0, 0, "backends", []string{"at least one backend is required", "backends: [{name:"}},
			{0, 0, "policy", []string{"a policy file is required", "policy: ./policy.yaml"}},
		},
	}, {
		name: "empty file",
		src:  "",
		want: []located{{0, 0, "backends", []string{"at least one backend"}}, {0, 0, "policy", []string{"policy file is required"}}},
	}, {
		name: "bad agent-facing transport",
		src:  ok + "transport: websocket\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 12, "transport", []string{`transport "websocket" is not one of stdio, http, sse`}}},
	}, {
		name: "bad backend transport",
		src:  ok + "backends:\n  - name: a\n    transport: ws\n    url: ws://x\n",
		want: []located{{4, 16, "backends[0].transport", []string{`transport "ws" is not one of stdio, http, sse`}}},
	}, {
		name: "stdio backend without a command",
		src:  ok + "backends:\n  - name: a\n    args: [x]\n",
		want: []located{{3, 5, "backends[0].command", []string{"a stdio backend needs a command", "command: npx", "transport: http"}}},
	}, {
		name: "http backend without a url",
		src:  ok + "backends:\n  - name: a\n    transport: http\n",
		want: []located{{3, 5, "backends[0].url", []string{"an http backend needs an http or https url", "url: http://"}}},
	}, {
		name: "sse backend with a url that is not http",
		src:  ok + "backends:\n  - name: a\n    transport: sse\n    url: ftp://host/sse\n",
		want: []located{{5, 10, "backends[0].url", []string{"an sse backend needs an http or https url"}}},
	}, {
		name: "stdio-only fields on an http backend",
		src:  ok + "backends:\n  - name: a\n    transport: http\n    url: http://h/mcp\n    command: npx\n    args: [x]\n    env: {A: b}\n    cwd: sub\n",
		want: []located{
			{6, 14, "backends[0].command", []string{"command is for stdio backends; this one is http", "remove command, or set transport: stdio"}},
			{7, 11, "backends[0].args", []string{"args is for stdio backends", "remove args"}},
			{8, 11, "backends[0].env", []string{"env is for stdio backends", "remove env"}},
			{9, 10, "backends[0].cwd", []string{"cwd is for stdio backends", "remove cwd"}},
		},
	}, {
		name: "http-only fields on a stdio backend",
		src:  ok + "backends:\n  - name: a\n    command: x\n    url: http://h/mcp\n    headers: {A: b}\n",
		want: []located{
			{5, 10, "backends[0].url", []string{"url is for http and sse backends", "set transport: http or sse"}},
			{6, 15, "backends[0].headers", []string{"headers are for http and sse backends", "remove headers"}},
		},
	}, {
		name: "duplicate and invalid names",
		src:  ok + "backends:\n  - {name: a, command: x}\n  - {name: a, command: y}\n  - {name: a__b, command: y}\n  - {name: 'has space', command: y}\n  - {name: " + strings.Repeat("n", 41) + ", command: y}\n  - {command: y}\n",
		want: []located{
			{4, 12, "backends[1].name", []string{`backend name "a" is used twice`, "give each backend its own name"}},
			{5, 12, "backends[2].name", []string{`backend name "a__b" may hold only`, `no "__"`}},
			{6, 12, "backends[3].name", []string{`backend name "has space" may hold only letters`}},
			{7, 12, "backends[4].name", []string{"at most 40"}},
			{8, 6, "backends[5].name", []string{"a backend needs a name", "name: fs"}},
		},
	}, {
		name: "bad port",
		src:  ok + "port: 70000\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 7, "port", []string{"port 70000 is not a TCP port (1-65535)"}}},
	}, {
		name: "negative port",
		src:  ok + "port: -1\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 7, "port", []string{"port -1 is not a TCP port"}}},
	}, {
		name: "port that is not a number",
		src:  ok + "port: http\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 7, "port", []string{"expected a port number", "port: 3101", "got a string"}}},
	}, {
		name: "bad gate_wait",
		src:  ok + "gate_wait: soon\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 12, "gate_wait", []string{`gate_wait "soon" is not a positive duration`, "5m"}}},
	}, {
		name: "negative gate_wait",
		src:  ok + "gate_wait: -5m\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 12, "gate_wait", []string{`gate_wait "-5m" is not a positive duration`}}},
	}, {
		name: "bad public_url",
		src:  ok + "public_url: warden.example.com\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 13, "public_url", []string{`public_url "warden.example.com" is not an http or https URL`, "public_url: http://"}}},
	}, {
		name: "missing variables, each located",
		src:  ok + "backends:\n  - name: a\n    command: x\n    args: [\"--t=${NOPE_ARG}\"]\n    env:\n      A: ${NOPE_ENV}\n      B: \"${}\"\n      C: \"${UNCLOSED\"\n",
		want: []located{
			{5, 12, "backends[0].args[0]", []string{"environment variable NOPE_ARG is not set", "${NOPE_ARG}", "$$"}},
			{7, 10, "backends[0].env.A", []string{"environment variable NOPE_ENV is not set"}},
			{8, 10, "backends[0].env.B", []string{"${} names no variable"}},
			{9, 10, "backends[0].env.C", []string{"${ has no closing }", "$${"}},
		},
	}, {
		name: "missing variable in a url is reported once",
		src:  ok + "backends:\n  - name: a\n    transport: http\n    url: ${NOPE_URL}/mcp\n    headers:\n      Authorization: Bearer ${NOPE_TOKEN}\n",
		want: []located{
			{5, 10, "backends[0].url", []string{"environment variable NOPE_URL is not set"}},
			{7, 22, "backends[0].headers.Authorization", []string{"environment variable NOPE_TOKEN is not set"}},
		},
	}, {
		name: "bad header name",
		src:  ok + "backends:\n  - name: a\n    transport: http\n    url: http://h/mcp\n    headers:\n      'Bad Name': x\n",
		want: []located{{7, 7, "backends[0].headers", []string{`header name "Bad Name" is invalid`, "Authorization"}}},
	}, {
		name: "header value with a line break",
		src:  ok + "backends:\n  - name: a\n    transport: http\n    url: http://h/mcp\n    headers:\n      X-A: \"a\\r\\nX-Evil: 1\"\n",
		want: []located{{7, 12, "backends[0].headers.X-A", []string{"holds a line break"}}},
	}, {
		name: "wrong shape: backends as a mapping",
		src:  ok + "backends: {name: a}\n",
		want: []located{{2, 11, "backends", []string{"expected a list of backends", "got a mapping"}}},
	}, {
		name: "wrong shape: args as a string",
		src:  ok + "backends:\n  - name: a\n    command: x\n    args: -y server\n",
		want: []located{{5, 11, "backends[0].args", []string{"expected a list of strings", `args: ["-y"`, "got a string"}}},
	}, {
		name: "wrong shape: policy as a list",
		src:  "policy: [a, b]\nbackends: [{name: a, command: x}]\n",
		want: []located{{1, 9, "policy", []string{"expected a file path", "got a list"}}},
	}, {
		name: "wrong shape: the document is a list",
		src:  "- policy: p.yaml\n",
		want: []located{{1, 1, "", []string{"expected a mapping of keys such as policy: and backends:", "got a list"}}},
	}, {
		name: "invalid YAML",
		src:  "policy: [unclosed\n",
		want: []located{{1, 9, "", []string{"invalid YAML: ", "']'"}}},
	}, {
		name: "duplicate key",
		src:  "policy: a\npolicy: b\nbackends: [{name: a, command: x}]\n",
		want: []located{{2, 1, "", []string{"invalid YAML: ", `"policy" already defined`}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.src), cfgFile, lookupTestVars)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			var errs policy.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T %v, want policy.Errors", err, err)
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := errs[i]
				if e.File != cfgFile {
					t.Errorf("error %d names file %q", i, e.File)
				}
				got := located{e.Line, e.Col, e.Path, nil}
				if diff := cmp.Diff(located{w.Line, w.Col, w.Path, nil}, got); diff != "" {
					t.Errorf("error %d %q: place (-want +got):\n%s", i, e.Msg, diff)
				}
				for _, s := range w.Msg {
					if !strings.Contains(e.Msg, s) {
						t.Errorf("error %d %q lacks %q", i, e.Msg, s)
					}
				}
			}
			// The whole message names the file, and the place when known.
			if first := errs[0]; first.Line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d:%d: ", cfgFile, first.Line, first.Col)) {
				t.Errorf("message %q does not start with file:line:col", err.Error())
			}
		})
	}
}

// TestParseConfigErrorOrderIsStable: errors found walking maps come out
// in the same order every time.
func TestParseConfigErrorOrderIsStable(t *testing.T) {
	src := "policy: p.yaml\nbackends:\n  - name: a\n    command: x\n    env: {A: \"${N1}\", B: \"${N2}\", C: \"${N3}\", D: \"${N4}\", 'E=': x}\n"
	first := ""
	for range 20 {
		_, err := ParseConfig([]byte(src), cfgFile, lookupTestVars)
		if err == nil {
			t.Fatal("accepted")
		}
		if first == "" {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("order changed:\n%s\nthen\n%s", first, err)
		}
	}
}

func TestConfigAddr(t *testing.T) {
	tests := []struct {
		host string
		port int
		want string
	}{
		{"", 0, "127.0.0.1:3101"},
		{"", 8080, "127.0.0.1:8080"},
		{"localhost", 0, "localhost:3101"},
		{"0.0.0.0", 9000, "0.0.0.0:9000"},
		{"::1", 0, "[::1]:3101"},
		{"::", 7000, "[::]:7000"},
		{"[::1]", 7001, "[::1]:7001"},
		{"fe80::1%eth0", 1, "[fe80::1%eth0]:1"},
	}
	for _, tt := range tests {
		c := &Config{Host: tt.host, Port: tt.port}
		if got := c.Addr(); got != tt.want {
			t.Errorf("Addr(host %q, port %d) = %q, want %q", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		missing []string
		bad     bool
	}{
		{"", "", nil, false},
		{"plain", "plain", nil, false},
		{"${GITHUB_TOKEN}", "ghp_secret", nil, false},
		{"x${API_HOST}y${GITHUB_TOKEN}z", "xapi.example.comyghp_secretz", nil, false},
		{"${EMPTY}", "", nil, false},
		{"$$", "$", nil, false},
		{"$$$$", "$$", nil, false},
		{"$${GITHUB_TOKEN}", "${GITHUB_TOKEN}", nil, false},
		{"$$${GITHUB_TOKEN}", "$ghp_secret", nil, false},
		{"$HOME", "$HOME", nil, false},
		{"a$", "a$", nil, false},
		{"$", "$", nil, false},
		{"${DOLLAR}", "$HOME", nil, false}, // a value is not expanded again
		{"${NOPE}", "", []string{"NOPE"}, false},
		{"a${NOPE}b${NOPE2}c", "abc", []string{"NOPE", "NOPE2"}, false},
		{"${}", "", []string{""}, false},
		{"${UNCLOSED", "${UNCLOSED", nil, true},
		{"${GITHUB_TOKEN}${", "ghp_secret${", nil, true},
	}
	for _, tt := range tests {
		got, missing, err := expandVars(tt.in, lookupTestVars)
		if got != tt.want || !slices.Equal(missing, tt.missing) || (err != nil) != tt.bad {
			t.Errorf("expandVars(%q) = %q, %q, %v; want %q, %q, error %v", tt.in, got, missing, err, tt.want, tt.missing, tt.bad)
		}
	}
}

func TestBackendEnvIsMinimal(t *testing.T) {
	proxyEnv := map[string]string{
		"PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
		"AWS_SECRET_ACCESS_KEY": "leak-me-not", "WARDEN_TOKEN": "wdn_x", "GITHUB_TOKEN": "also-secret",
	}
	lookup := func(k string) (string, bool) { v, ok := proxyEnv[k]; return v, ok }
	tests := []struct {
		name  string
		extra map[string]string
		want  []string
	}{
		{"no env: the base variables the proxy has", nil,
			[]string{"HOME=/home/me", "LANG=C.UTF-8", "PATH=/usr/bin", "TMPDIR=/tmp"}},
		{"configured variables are added and may override", map[string]string{"GITHUB_TOKEN": "configured", "PATH": "/opt/bin", "EMPTY": ""},
			[]string{"EMPTY=", "GITHUB_TOKEN=configured", "HOME=/home/me", "LANG=C.UTF-8", "PATH=/opt/bin", "TMPDIR=/tmp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := backendEnv(lookup, tt.extra)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			for _, kv := range got {
				if strings.Contains(kv, "leak-me-not") || strings.HasPrefix(kv, "WARDEN_TOKEN=") {
					t.Errorf("a secret of the proxy reached the backend: %s", kv)
				}
			}
		})
	}
}

// TestStdioBackendFromConfig starts a real stdio backend from a
// configuration, as warden proxy does, and checks what reaches it: the
// configured, expanded variables, never the rest of the proxy's
// environment.
func TestStdioBackendFromConfig(t *testing.T) {
	t.Setenv("WARDEN_TEST_PROXY_SECRET", "do-not-pass")
	t.Setenv("WARDEN_TEST_FOR_BACKEND", "passed-on-purpose")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "policy: p.yaml\nbackends:\n  - name: fs\n    command: " + exe + "\n    cwd: .\n    env:\n      MCPPROXY_TEST_BACKEND: fs\n      GIVEN: \"${WARDEN_TEST_FOR_BACKEND}\"\n      LITERAL: \"$${WARDEN_TEST_PROXY_SECRET}\"\n"
	c, err := ParseConfig([]byte(src), filepath.Join(dir, "proxy.yaml"), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	b := c.Backends[0]
	e := newEnv(t, envOpts{}, Backend{Name: b.Name, Transport: b.ClientTransport(&stderr)})
	res := e.call("env", nil)
	if res.IsError {
		t.Fatal(text(res))
	}
	vars := strings.Split(text(res), "\n")
	for _, want := range []string{"GIVEN=passed-on-purpose", "LITERAL=${WARDEN_TEST_PROXY_SECRET}", "MCPPROXY_TEST_BACKEND=fs"} {
		if !slices.Contains(vars, want) {
			t.Errorf("the backend's environment lacks %s: %v", want, vars)
		}
	}
	for _, kv := range vars {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(baseEnv, name) && name != "GIVEN" && name != "LITERAL" && name != "MCPPROXY_TEST_BACKEND" {
			t.Errorf("the backend got %s, which was not configured", kv)
		}
	}
	// The backend's stderr is copied, line by line, with its name.
	waitFor(t, 5*time.Second, "the backend's stderr", func() bool { return strings.Contains(stderr.String(), "[fs] backend starting\n") })
	e.agent.Close()
	if err := e.proxy.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out syncBuffer
	w := &prefixWriter{w: &out, prefix: []byte("[fs] ")}
	for _, chunk := range []string{"one\ntw", "o\n", "three\nfour\n"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if got, want := out.String(), "[fs] one\n[fs] two\n[fs] three\n[fs] four\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A line whose end never comes (a backend's last words) is not lost.
	w.Write([]byte("fatal: no newline"))
	waitFor(t, 5*time.Second, "the partial line", func() bool { return strings.HasSuffix(out.String(), "[fs] fatal: no newline\n") })
	// A line that never ends is cut rather than held without bound.
	long := strings.Repeat("x", 70<<10)
	w.Write([]byte(long))
	if !strings.HasSuffix(out.String(), "[fs] "+long+"\n") {
		t.Error("a 70 KiB line was held")
	}
}
