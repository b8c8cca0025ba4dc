package mcpproxy

import (
	"errors"
	"fmt"
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
	"golang.org/x/net/http/httpguts"

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
		if errors.Is(err, os.ErrNotExist) {
			return nil, policy.Errors{{File: path, Msg: "configuration file not found"}}
		}
		return nil, policy.Errors{{File: path, Msg: err.Error()}}
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
	if perr != nil {
		e := yamlError(perr, file, nil)
		e.Msg = "invalid YAML: " + e.Msg
		return nil, policy.Errors{e}
	}
	if perr = yaml.UnmarshalWithOptions(src, c, yaml.Strict()); perr != nil {
		return nil, policy.Errors{yamlError(perr, file, doc)}
	}
	v := &validator{file: file, doc: doc}
	v.check(c, lookup)
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return c, nil
}

// yamlError turns a decoding error into a located policy.Error that
// names the field and what it should hold.
func yamlError(err error, file string, doc *ast.File) *policy.Error {
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
		if s := policy.Suggest(name, knownKeys); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			e.Msg += "; remove it (the keys are " + strings.Join(knownKeys, ", ") + ")"
		}
		return e
	}
	var te *yaml.TypeError
	var ne *yaml.UnexpectedNodeTypeError
	var oe *yaml.OverflowError
	if (errors.As(err, &te) || errors.As(err, &ne) || errors.As(err, &oe)) && e.Line > 0 {
		if path, n, ok := nodeAt(doc, e.Line, e.Col); ok {
			e.Path = path
			e.Msg = fmt.Sprintf("expected %s, got %s", expectedShape(path), describeNode(n))
			if oe != nil {
				e.Msg = fmt.Sprintf("%s is out of range: expected %s", oe.SrcNum, expectedShape(path))
			}
		}
	}
	return e
}

// nodeAt finds the outermost value in doc that starts at line:col and
// returns its path ("" for the document itself, "backends[0].args").
func nodeAt(doc *ast.File, line, col int) (string, ast.Node, bool) {
	if doc == nil {
		return "", nil, false
	}
	var walk func(n ast.Node, path string) (string, ast.Node, bool)
	walk = func(n ast.Node, path string) (string, ast.Node, bool) {
		if n == nil {
			return "", nil, false
		}
		if d, ok := n.(*ast.DocumentNode); ok {
			return walk(d.Body, path)
		}
		if tk := n.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line == line && tk.Position.Column == col {
			return path, n, true
		}
		switch n := n.(type) {
		case *ast.AnchorNode:
			return walk(n.Value, path)
		case *ast.TagNode:
			return walk(n.Value, path)
		case *ast.MappingNode:
			for _, mv := range n.Values {
				if p, f, ok := walk(mv, path); ok {
					return p, f, ok
				}
			}
		case *ast.MappingValueNode:
			key := ""
			if n.Key != nil {
				if k, ok := n.Key.(ast.ScalarNode); ok {
					key = fmt.Sprint(k.GetValue())
				} else {
					key = n.Key.String()
				}
			}
			child := key
			if path != "" {
				child = path + "." + key
			}
			return walk(n.Value, child)
		case *ast.SequenceNode:
			for i, v := range n.Values {
				if p, f, ok := walk(v, fmt.Sprintf("%s[%d]", path, i)); ok {
					return p, f, ok
				}
			}
		}
		return "", nil, false
	}
	for _, d := range doc.Docs {
		if p, n, ok := walk(d, ""); ok {
			return p, n, ok
		}
	}
	return "", nil, false
}

// fieldShapes says, for each key, what its value must be.
var fieldShapes = map[string]string{
	"":                 "a mapping of keys such as policy: and backends:",
	"policy":           "a file path, e.g. policy: ./policy.yaml",
	"db":               "a file path, e.g. db: .warden/warden.db",
	"ledger_dir":       "a directory path, e.g. ledger_dir: .warden",
	"dir":              "a directory path, e.g. dir: .",
	"backends":         "a list of backends, e.g. backends: [{name: fs, command: npx, args: [...]}]",
	"backends[]":       "a backend, e.g. {name: fs, command: npx, args: [...]}",
	"transport":        "one of stdio, http, sse",
	"host":             "a host name or address, e.g. host: 127.0.0.1",
	"port":             "a port number, e.g. port: 3101",
	"session_metadata": "a mapping, e.g. session_metadata: {team: web}",
	"gate_wait":        "a duration, e.g. gate_wait: 5m",
	"public_url":       "a URL, e.g. public_url: http://127.0.0.1:3100",
	"name":             "a name, e.g. name: fs",
	"command":          "a program, e.g. command: npx",
	"args":             `a list of strings, e.g. args: ["-y", "server"]`,
	"args[]":           "a string (quote it)",
	"env":              `a mapping of variable names to strings, e.g. env: {TOKEN: "${TOKEN}"}`,
	"env.":             "a string (quote it)",
	"cwd":              "a directory path, e.g. cwd: ./server",
	"url":              "a URL, e.g. url: http://127.0.0.1:8080/mcp",
	"headers":          `a mapping of header names to strings, e.g. headers: {Authorization: "Bearer ${TOKEN}"}`,
	"headers.":         "a string (quote it)",
}

// expectedShape describes what the value at path must be.
func expectedShape(path string) string {
	rest := strings.TrimPrefix(path, "backends[")
	if rest != path {
		// backends[N] or backends[N].field...
		_, rest, _ = strings.Cut(rest, "]")
		rest = strings.TrimPrefix(rest, ".")
		if rest == "" {
			return fieldShapes["backends[]"]
		}
	}
	if strings.HasSuffix(rest, "]") {
		if i := strings.LastIndexByte(rest, '['); i > 0 {
			if s, ok := fieldShapes[rest[:i]+"[]"]; ok {
				return s
			}
		}
	}
	if s, ok := fieldShapes[rest]; ok {
		return s
	}
	if head, _, ok := strings.Cut(rest, "."); ok {
		if s, ok := fieldShapes[head+"."]; ok {
			return s
		}
	}
	return "a different kind of value"
}

// describeNode names the kind of a YAML value for messages.
func describeNode(n ast.Node) string {
	switch n.Type() {
	case ast.MappingType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.NullType:
		return "nothing (null)"
	case ast.BoolType:
		return "a boolean"
	case ast.IntegerType, ast.FloatType, ast.InfinityType, ast.NanType:
		return "a number"
	case ast.StringType, ast.LiteralType:
		return "a string"
	}
	return n.Type().YAMLName()
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
	// The document itself is no place: an error about a missing top-level
	// key names the key and no line.
	for p := path; p != "" && p != "$"; p = parentPath(p) {
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
	// A block mapping's token is its first ":"; its place is its first key.
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && m.Values[0].Key != nil {
		tk = m.Values[0].Key.GetToken()
	}
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
			v.errorf("$.public_url", "public_url %q is not an http or https URL; give warden serve's address, e.g. public_url: http://127.0.0.1:3100", c.PublicURL)
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
			v.errorf(at+".name", "a backend needs a name, e.g. name: fs")
		case !backendName.MatchString(b.Name) || strings.Contains(b.Name, "__"):
			v.errorf(at+".name", "backend name %q may hold only letters, digits, '_', '-' and '.' (no \"__\"), at most 40", b.Name)
		case seen[b.Name]:
			v.errorf(at+".name", "backend name %q is used twice; give each backend its own name", b.Name)
		}
		seen[b.Name] = true
		unset := false // a variable the url needs is missing: its own error says so
		expand := func(field, s string) string {
			out, missing, err := expandVars(s, lookup)
			if err != nil {
				v.errorf(at+"."+field, "%v", err)
			}
			for _, m := range missing {
				if m == "" {
					v.errorf(at+"."+field, "${} names no variable: write ${NAME}, or $$ for a literal $")
				} else {
					v.errorf(at+"."+field, "environment variable %s is not set (referenced as ${%s}): set it before starting the proxy, or write $$ for a literal $", m, m)
				}
			}
			if (len(missing) > 0 || err != nil) && field == "url" {
				unset = true
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
				v.errorf(at+".command", "a stdio backend needs a command, e.g. command: npx (or set transport: http or sse with a url)")
			}
			if b.URL != "" {
				v.errorf(at+".url", "url is for http and sse backends; this one is stdio (set transport: http or sse)")
			}
			if len(b.Headers) > 0 {
				v.errorf(at+".headers", "headers are for http and sse backends; this one is stdio: remove headers, or set transport: http or sse")
			}
			for k := range b.Env {
				if k == "" || strings.ContainsAny(k, "=\x00") {
					v.errorf(at+".env", "environment variable name %q is invalid; a name is not empty and holds no '=' or NUL", k)
				}
			}
			if b.Cwd == "" {
				b.Cwd = c.Dir
			}
			b.Cwd = resolve(b.Cwd)
			continue
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"command", b.Command != ""}, {"args", b.Args != nil}, {"env", b.Env != nil}, {"cwd", b.Cwd != ""}} {
			if f.set {
				v.errorf(at+"."+f.name, "%s is for stdio backends; this one is %s: remove %s, or set transport: stdio", f.name, b.Transport, f.name)
			}
		}
		if u, err := url.Parse(b.URL); !unset && (b.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			v.errorf(at+".url", "an %s backend needs an http or https url, e.g. url: http://127.0.0.1:8080/mcp", b.Transport)
		}
		for k, val := range b.Headers {
			if !httpguts.ValidHeaderFieldName(k) {
				v.errorf(at+".headers", "header name %q is invalid; a header name is letters, digits and -, e.g. Authorization", k)
			} else if !httpguts.ValidHeaderFieldValue(val) {
				v.errorf(at+".headers."+k, "the value of header %s holds a line break or control character; remove it (check the variables it uses)", k)
			}
		}
	}
	slices.SortStableFunc(v.errs, func(a, b *policy.Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Col != b.Col {
			return a.Col - b.Col
		}
		// Errors found in map order, at one place, in a stable order.
		return strings.Compare(a.Path+"\x00"+a.Msg, b.Path+"\x00"+b.Msg)
	})
}

// expandVars replaces ${NAME} in s by lookup(NAME) and returns the names
// that lookup did not find ("" for "${}"). "$$" stands for a literal "$";
// a "$" not followed by "{" or "$" is kept as it is. A "${" without its
// "}" is an error, not a literal: write "$${" for that.
func expandVars(s string, lookup func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
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
				return b.String(), missing, errors.New("${ has no closing }: write ${NAME}, or $${ for a literal ${")
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
	return b.String(), missing, nil
}
