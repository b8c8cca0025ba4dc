package mcpproxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/wardenhq/warden/internal/policy"
)

// Transport names, for backends and for the agent-facing side.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
	TransportSSE   = "sse"
)

// DefaultPort is the port of the agent-facing HTTP and SSE transports when
// a configuration names none.
const DefaultPort = 3101

// Config is the proxy's configuration file: det-acp's proxy configuration
// (policy, ledger_dir, backends, transport, host, port, session_metadata)
// plus Warden's own keys. LoadConfig resolves every path in it to an
// absolute one.
type Config struct {
	// Policy is the policy file, relative to the configuration file.
	Policy string `yaml:"policy"`
	// DB is the database file; <Dir>/.warden/warden.db when empty, or
	// <LedgerDir>/warden.db when only ledger_dir is given.
	DB string `yaml:"db"`
	// LedgerDir is det-acp's ledger directory. Warden keeps the ledger in
	// its database, so the directory only says where the database goes
	// when DB is not set.
	LedgerDir string `yaml:"ledger_dir"`
	// Dir is the project root the session's paths are relative to; the
	// configuration file's directory when empty.
	Dir      string          `yaml:"dir"`
	Backends []BackendConfig `yaml:"backends"`
	// Transport is the agent-facing transport: stdio (default), http or sse.
	Transport string `yaml:"transport"`
	// Host and Port are where the http and sse transports listen.
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// SessionMetadata is added to the session's metadata.
	SessionMetadata map[string]any `yaml:"session_metadata"`
	// GateWait is how long a gated call is held when its gate names no
	// timeout, e.g. "2m".
	GateWait string `yaml:"gate_wait"`
	// PublicURL is the address of `warden serve`, for approval links in
	// messages: <PublicURL>/ui/approvals/<id>.
	PublicURL string `yaml:"public_url"`

	// File is the configuration file's absolute path.
	File string `yaml:"-"`
	// Wait is GateWait parsed.
	Wait time.Duration `yaml:"-"`
}

// BackendConfig is one MCP server the proxy connects to.
type BackendConfig struct {
	// Name names the backend in messages and in namespaced tool names.
	Name string `yaml:"name"`
	// Transport is stdio (default), http (Streamable HTTP) or sse.
	Transport string `yaml:"transport"`
	// Command and Args start a stdio backend.
	Command string   `yaml:"command"`
	Args    []string `yaml:"args"`
	// Env is added to a stdio backend's minimal environment. ${VAR} in a
	// value is replaced by the proxy's environment variable VAR.
	Env map[string]string `yaml:"env"`
	// Cwd is the directory a stdio backend runs in, relative to the
	// configuration file; the project root when empty.
	Cwd string `yaml:"cwd"`
	// URL is the endpoint of an http or sse backend.
	URL string `yaml:"url"`
	// Headers are sent with every request to an http or sse backend.
	Headers map[string]string `yaml:"headers"`
}

// Addr returns the address the http and sse transports listen on.
func (c *Config) Addr() string {
	host, port := c.Host, c.Port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = DefaultPort
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// LoadConfig reads and validates a configuration file, expanding ${VAR}
// from the process environment.
func LoadConfig(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(src, abs, os.LookupEnv)
}

// knownKeys are the configuration's keys, for "did you mean".
var knownKeys = []string{
	"policy", "db", "ledger_dir", "dir", "backends", "transport", "host", "port", "session_metadata", "gate_wait", "public_url",
	"name", "command", "args", "env", "cwd", "url", "headers",
}

// backendName is what a backend may be called: a namespaced tool name is
// <name>__<tool>, so names are tool-name characters without "__".
var backendName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

// ParseConfig parses and validates the configuration in src, read from
// file (an absolute path that relative paths are resolved against). lookup
// finds the environment variables ${VAR} names. Problems are returned as
// policy.Errors, each with its line and column.
func ParseConfig(src []byte, file string, lookup func(string) (string, bool)) (*Config, error) {
	c := &Config{File: file}
	doc, perr := parser.ParseBytes(src, 0)
	if perr == nil {
		perr = yaml.UnmarshalWithOptions(src, c, yaml.Strict())
	}
	if perr != nil {
		return nil, policy.Errors{yamlError(perr, file)}
	}
	v := &validator{file: file, doc: doc}
	v.check(c, lookup)
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return c, nil
}

// yamlError turns a decoding error into a located policy.Error.
func yamlError(err error, file string) *policy.Error {
	e := &policy.Error{File: file, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	var ue *yaml.UnknownFieldError
	if errors.As(err, &ue) {
		name := strings.Trim(strings.TrimPrefix(ue.Message, "unknown field "), `"`)
		e.Msg = fmt.Sprintf("unknown field %q", name)
		if s := closest(name, knownKeys); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return e
}

type validator struct {
	file string
	doc  *ast.File
	errs policy.Errors
}

// errorf records a problem with the element at path (a YAML path such as
// "$.backends[0].url"), located at the element or, when it is absent, at
// the nearest element that is there.
func (v *validator) errorf(path, format string, args ...any) {
	e := &policy.Error{File: v.file, Path: strings.TrimPrefix(strings.TrimPrefix(path, "$"), "."), Msg: fmt.Sprintf(format, args...)}
	for p := path; p != ""; p = parentPath(p) {
		if line, col, ok := v.pos(p); ok {
			e.Line, e.Col = line, col
			break
		}
	}
	v.errs = append(v.errs, e)
}

func (v *validator) pos(path string) (int, int, bool) {
	if v.doc == nil {
		return 0, 0, false
	}
	p, err := yaml.PathString(path)
	if err != nil {
		return 0, 0, false
	}
	n, err := p.FilterFile(v.doc)
	if err != nil || n == nil {
		return 0, 0, false
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0, false
	}
	return tk.Position.Line, tk.Position.Column, true
}

// parentPath returns "$.a" for "$.a.b" and "$.a[0]", and "" for "$".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func (v *validator) check(c *Config, lookup func(string) (string, bool)) {
	base := filepath.Dir(v.file)
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	if c.Policy == "" {
		v.errorf("$.policy", "a policy file is required: policy: ./policy.yaml (relative to this file)")
	}
	c.Policy = resolve(c.Policy)
	if c.Dir == "" {
		c.Dir = base
	}
	c.Dir = resolve(c.Dir)
	c.LedgerDir = resolve(c.LedgerDir)
	switch {
	case c.DB != "":
		c.DB = resolve(c.DB)
	case c.LedgerDir != "":
		c.DB = filepath.Join(c.LedgerDir, "warden.db")
	default:
		c.DB = filepath.Join(c.Dir, ".warden", "warden.db")
	}
	switch c.Transport {
	case "":
		c.Transport = TransportStdio
	case TransportStdio, TransportHTTP, TransportSSE:
	default:
		v.errorf("$.transport", "transport %q is not one of stdio, http, sse", c.Transport)
	}
	if c.Port < 0 || c.Port > 65535 {
		v.errorf("$.port", "port %d is not a TCP port (1-65535)", c.Port)
	}
	if c.GateWait != "" {
		d, err := time.ParseDuration(c.GateWait)
		if err != nil || d <= 0 {
			v.errorf("$.gate_wait", "gate_wait %q is not a positive duration such as 90s, 5m or 1h", c.GateWait)
		}
		c.Wait = d
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("$.public_url", "public_url %q is not an http or https URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if len(c.Backends) == 0 {
		v.errorf("$.backends", "at least one backend is required: backends: [{name: fs, command: npx, args: [...]}]")
	}
	seen := map[string]bool{}
	for i := range c.Backends {
		b := &c.Backends[i]
		at := fmt.Sprintf("$.backends[%d]", i)
		switch {
		case b.Name == "":
			v.errorf(at+".name", "a backend needs a name")
		case !backendName.MatchString(b.Name) || strings.Contains(b.Name, "__"):
			v.errorf(at+".name", "backend name %q may hold only letters, digits, '_', '-' and '.' (no \"__\"), at most 40", b.Name)
		case seen[b.Name]:
			v.errorf(at+".name", "backend name %q is used twice", b.Name)
		}
		seen[b.Name] = true
		expand := func(field, s string) string {
			out, missing := expandVars(s, lookup)
			for _, m := range missing {
				v.errorf(at+"."+field, "environment variable %s is not set (referenced as ${%s})", m, m)
			}
			return out
		}
		for k, val := range b.Env {
			b.Env[k] = expand("env."+k, val)
		}
		for k, val := range b.Headers {
			b.Headers[k] = expand("headers."+k, val)
		}
		for j, a := range b.Args {
			b.Args[j] = expand(fmt.Sprintf("args[%d]", j), a)
		}
		b.URL = expand("url", b.URL)
		switch b.Transport {
		case "":
			b.Transport = TransportStdio
		case TransportStdio, TransportHTTP, TransportSSE:
		default:
			v.errorf(at+".transport", "transport %q is not one of stdio, http, sse", b.Transport)
			continue
		}
		if b.Transport == TransportStdio {
			if b.Command == "" {
				v.errorf(at+".command", "a stdio backend needs a command")
			}
			if b.URL != "" {
				v.errorf(at+".url", "url is for http and sse backends; this one is stdio (set transport: http or sse)")
			}
			if len(b.Headers) > 0 {
				v.errorf(at+".headers", "headers are for http and sse backends; this one is stdio")
			}
			for k := range b.Env {
				if k == "" || strings.ContainsAny(k, "=\x00") {
					v.errorf(at+".env", "environment variable name %q is invalid", k)
				}
			}
			if b.Cwd == "" {
				b.Cwd = c.Dir
			}
			b.Cwd = resolve(b.Cwd)
			continue
		}
		if b.Command != "" || len(b.Args) > 0 || len(b.Env) > 0 || b.Cwd != "" {
			v.errorf(at, "command, args, env and cwd are for stdio backends; this one is %s", b.Transport)
		}
		if u, err := url.Parse(b.URL); b.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf(at+".url", "an %s backend needs an http or https url, e.g. url: http://127.0.0.1:8080/mcp", b.Transport)
		}
		for k := range b.Headers {
			if k == "" || http.CanonicalHeaderKey(k) == "" || strings.ContainsAny(k, " :\r\n") {
				v.errorf(at+".headers", "header name %q is invalid", k)
			}
		}
	}
	slices.SortStableFunc(v.errs, func(a, b *policy.Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

// expandVars replaces ${NAME} in s by lookup(NAME) and returns the names
// that lookup did not find. "$$" stands for a literal "$"; a "$" not
// followed by "{" or "$" is kept as it is.
func expandVars(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), missing
			}
			name := s[i+2 : i+2+end]
			if val, ok := lookup(name); ok && name != "" {
				b.WriteString(val)
			} else {
				missing = append(missing, name)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), missing
}

// closest returns the candidate within edit distance 2 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
