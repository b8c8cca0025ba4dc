package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/pathscope"
	"github.com/wardenhq/warden/internal/shellcmd"
	"github.com/wardenhq/warden/internal/urlscope"
)

// pathArg is one path-bearing argument value.
type pathArg struct {
	key  string // input key, with [i] for list elements
	raw  string
	path pathscope.Path
}

type commandArg struct {
	key  string
	raw  string
	line *shellcmd.Line
}

type urlArg struct {
	key string
	raw string
	url urlscope.URL
}

type hostArg struct {
	key  string
	raw  string
	host string
	ip   netip.Addr
}

// args is an action's input sorted by role.
type args struct {
	paths    []pathArg
	repos    []pathArg
	cwd      *pathArg
	commands []commandArg
	urls     []urlArg
	hosts    []hostArg
	envNames []string
	envSet   []string // names a command's env map sets
	method   string
	// problem is set when the input is malformed: the action is denied.
	problem, problemKey string
}

func (a *args) fail(key, format string, v ...any) {
	if a.problem == "" {
		a.problem, a.problemKey = fmt.Sprintf(format, v...), key
	}
}

// values returns the string values of key: one string, or every element
// of a list of strings. Any other type is a problem (fail closed).
func (a *args) values(input map[string]any, key string) ([]string, bool) {
	v, ok := input[key]
	if !ok || v == nil {
		return nil, false
	}
	switch t := v.(type) {
	case string:
		if t == "" {
			a.fail(key, "input.%s is empty", key)
			return nil, true
		}
		return []string{t}, true
	case []any:
		out := make([]string, 0, len(t))
		for i, x := range t {
			s, ok := x.(string)
			if !ok || s == "" {
				a.fail(key, "input.%s[%d] must be a non-empty string, got %s", key, i, canon.KindOfValue(x))
				return nil, true
			}
			out = append(out, s)
		}
		return out, true
	case []string:
		return t, true
	}
	a.fail(key, "input.%s must be a string or a list of strings, got %s", key, canon.KindOfValue(v))
	return nil, true
}

// role is what an input argument carries.
type role uint8

const (
	roleNone role = iota
	roleCwd
	roleRepo
	rolePath
	roleCommand
	roleURL
	roleHost
	roleCount
)

// genericRoles maps the usual argument names to their roles.
var genericRoles = func() map[string]role {
	m := map[string]role{}
	for r, keys := range map[role][]string{rolePath: pathKeys, roleCwd: cwdKeys, roleRepo: repoKeys, roleCommand: commandKeys, roleURL: urlKeys, roleHost: hostKeys} {
		for _, k := range keys {
			m[k] = r
		}
	}
	return m
}()

// roleOf returns the role of an input key for a tool.
func (s *toolSpec) roleOf(key string) role {
	if r, ok := genericRoles[key]; ok {
		return r
	}
	for r, keys := range [...][]string{rolePath: s.paths, roleCommand: s.commands, roleURL: s.urls, roleHost: s.hosts} {
		if slices.Contains(keys, key) {
			return role(r)
		}
	}
	return roleNone
}

// extract finds every argument of every role in input. The input's own
// keys are classified, so the cost follows the input, not the name lists.
func (e *Engine) extract(spec toolSpec, input map[string]any) *args {
	a := &args{method: "GET"}
	var found [roleCount][]string
	for k := range input {
		if r := spec.roleOf(k); r != roleNone {
			found[r] = append(found[r], k)
		}
	}
	for _, keys := range found {
		if len(keys) > 1 {
			sort.Strings(keys) // a stable order for reasons
		}
	}
	// cwd first: it is the base of relative paths in commands.
	base := ""
	for _, k := range found[roleCwd] {
		vals, _ := a.values(input, k)
		if len(vals) == 0 {
			continue
		}
		if len(vals) != 1 {
			a.fail(k, "input.%s must be one directory", k)
			break
		}
		p, err := e.res.Resolve(vals[0], "")
		if err != nil {
			a.fail(k, "input.%s: %v", k, err)
			break
		}
		a.cwd = &pathArg{key: k, raw: vals[0], path: p}
		base = p.Lexical
		break
	}
	a.repos = e.resolveAll(a, input, found[roleRepo], base)
	// Paths of git actions are relative to the repository.
	pathBase := base
	if strings.HasPrefix(spec.kind, "git:") && len(a.repos) == 1 {
		pathBase = a.repos[0].path.Lexical
	}
	a.paths = e.resolveAll(a, input, found[rolePath], pathBase)
	for _, k := range found[roleCommand] {
		vals, _ := a.values(input, k)
		for i, v := range vals {
			line, err := e.commandLine(k, v, input)
			if err != nil {
				a.fail(k, "input.%s: %v", k, err)
				continue
			}
			a.commands = append(a.commands, commandArg{key: indexed(k, i, len(vals)), raw: v, line: line})
		}
	}
	for _, k := range found[roleURL] {
		vals, _ := a.values(input, k)
		for i, v := range vals {
			u, err := urlscope.Parse(v)
			if err != nil {
				a.fail(k, "input.%s: %v", k, err)
				continue
			}
			a.urls = append(a.urls, urlArg{key: indexed(k, i, len(vals)), raw: v, url: u})
		}
	}
	for _, k := range found[roleHost] {
		vals, _ := a.values(input, k)
		for i, v := range vals {
			h, ip, err := urlscope.ParseHost(v)
			if err != nil {
				a.fail(k, "input.%s: %v", k, err)
				continue
			}
			a.hosts = append(a.hosts, hostArg{key: indexed(k, i, len(vals)), raw: v, host: h, ip: ip})
		}
	}
	if env, ok := input["env"]; ok && env != nil {
		m, isMap := env.(map[string]any)
		if !isMap {
			a.fail("env", "input.env must be an object of NAME: value, got %s", canon.KindOfValue(env))
		}
		for name, v := range m {
			if _, ok := v.(string); !ok {
				a.fail("env", "input.env.%s must be a string, got %s", name, canon.KindOfValue(v))
			}
			a.envSet = append(a.envSet, name)
		}
		sort.Strings(a.envSet)
	}
	if spec.kind == "env:read" {
		for _, k := range []string{"name", "names"} {
			vals, _ := a.values(input, k)
			a.envNames = append(a.envNames, vals...)
		}
	}
	if m, ok := input["method"]; ok && m != nil {
		s, isStr := m.(string)
		if !isStr || s == "" {
			a.fail("method", "input.method must be an HTTP method such as \"GET\", got %s", canon.KindOfValue(m))
		}
		a.method = strings.ToUpper(s)
	}
	return a
}

// resolveAll resolves every path value of keys against base.
func (e *Engine) resolveAll(a *args, input map[string]any, keys []string, base string) []pathArg {
	var out []pathArg
	for _, k := range keys {
		vals, _ := a.values(input, k)
		for i, v := range vals {
			if p, err := e.res.Resolve(v, base); err != nil {
				a.fail(k, "input.%s: %v", k, err)
			} else {
				out = append(out, pathArg{key: indexed(k, i, len(vals)), raw: v, path: p})
			}
		}
	}
	return out
}

// commandLine parses a command argument. With an args list beside it, the
// command is one program and args its argv, as an executor would run it;
// the argv is quoted into one shell line so that the same checks apply.
func (e *Engine) commandLine(key, v string, input map[string]any) (*shellcmd.Line, error) {
	if key == "command" {
		if raw, ok := input["args"]; ok && raw != nil {
			list, isList := raw.([]any)
			if strs, ok := raw.([]string); ok {
				list, isList = make([]any, len(strs)), true
				for i, x := range strs {
					list[i] = x
				}
			}
			if !isList {
				return nil, fmt.Errorf("input.args must be a list of strings, got %s", canon.KindOfValue(raw))
			}
			words := []string{shellQuote(v)}
			for i, x := range list {
				s, isStr := x.(string)
				if !isStr {
					return nil, fmt.Errorf("input.args[%d] must be a string, got %s", i, canon.KindOfValue(x))
				}
				words = append(words, shellQuote(s))
			}
			return shellcmd.Parse(strings.Join(words, " "))
		}
	}
	return shellcmd.Parse(v)
}

// shellQuote quotes s as one literal shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// keysFor lists the argument names of a role, for messages.
func keysFor(generic, extra []string) []string {
	if len(extra) == 0 {
		return generic
	}
	out := slices.Clone(generic)
	for _, k := range extra {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func indexed(k string, i, n int) string {
	if n <= 1 {
		return k
	}
	return fmt.Sprintf("%s[%d]", k, i)
}
