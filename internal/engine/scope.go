package engine

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/pathscope"
	"github.com/wardenhq/warden/internal/shellcmd"
)

// sensitiveEnv are variables that change which code a command runs or how
// it runs. A command may set them only when scope.env lists them.
var sensitiveEnv = []string{
	"PATH", "LD_*", "DYLD_*", "NODE_OPTIONS", "NODE_PATH", "PYTHONPATH", "PYTHONHOME",
	"PYTHONSTARTUP", "PYTHONINSPECT", "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYOPT", "RUBYLIB",
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "HOME",
	"GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_CONFIG*", "GIT_ASKPASS", "GIT_PAGER",
	"GIT_EDITOR", "GIT_DIR", "GIT_WORK_TREE", "SSH_ASKPASS", "SUDO_ASKPASS", "JAVA_TOOL_OPTIONS",
	"_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "PAGER", "MANPAGER", "EDITOR", "VISUAL",
	"BROWSER", "LESSOPEN", "LESSCLOSE", "XDG_CONFIG_HOME", "npm_config_*", "NPM_CONFIG_*",
	"GOFLAGS", "CC", "CXX", "MAKEFLAGS", "DOTNET_STARTUP_HOOKS", "ZDOTDIR",
}

// devices are redirection targets that are not files.
var devices = []string{"/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"}

// scope lists every way the action falls outside c's scope.
func (ev *evaluation) scope(c *capability) []violation {
	var vs []violation
	add := func(field, format string, args ...any) {
		vs = append(vs, violation{rule: fmt.Sprintf("capabilities[%d].scope.%s", c.index, field), reason: fmt.Sprintf(format, args...)})
	}
	// missing reports an argument the scope needs but the action lacks.
	missing := func(field, format string, args ...any) {
		add(field, format, args...)
		vs[len(vs)-1].missing = true
	}
	a, s := ev.args, c.scope

	if c.paths != nil {
		if len(a.paths) == 0 && !ev.spec.noPaths {
			missing("paths", "No path argument to check against the allowed scope %v: %s needs one of %s", s.Paths, ev.tool, strings.Join(keysFor(pathKeys, ev.spec.paths), ", "))
		}
		for _, p := range a.paths {
			if !anyMatch(c.paths, p.path.Physical) {
				add("paths", "Path %q%s is outside allowed scope %v", p.raw, resolvedNote(p), s.Paths)
			}
		}
	}
	if c.repos != nil {
		if len(a.repos) == 0 {
			missing("repos", "No repo argument to check against the allowed scope %v", s.Repos)
		}
		for _, p := range a.repos {
			if !anyMatch(c.repos, p.path.Physical) {
				add("repos", "Repository %q%s is outside allowed scope %v", p.raw, resolvedNote(p), s.Repos)
			}
		}
	}
	if s.Binaries != nil && len(a.commands) == 0 {
		missing("binaries", "No command argument to check against the allowed binaries %v", s.Binaries)
	}
	for _, cmd := range a.commands {
		ev.checkCommand(c, cmd, add)
	}
	for _, name := range a.envSet {
		if isSensitive(name) && !envAllowed(s.Env, name) {
			add("env", "Setting %s can change what the command runs; list it in scope.env to allow it", name)
		}
	}
	if len(a.commands) > 0 || a.cwd != nil {
		ev.checkCwd(c, add)
	}
	if c.domains != nil {
		useHosts := ev.spec.kind == "network:dns" || (len(a.urls) == 0 && len(a.hosts) > 0)
		switch {
		case useHosts && c.hosts == nil:
			if len(a.hosts) == 0 {
				missing("domains", "No hostname argument to check against the allowed domains %v", s.Domains)
			}
			for _, h := range a.hosts {
				if ok, why := c.domains.AllowHost(h.host, h.ip); !ok {
					add("domains", "Host %q: %s", h.raw, why)
				}
			}
		case !useHosts:
			if len(a.urls) == 0 {
				missing("domains", "No url argument to check against the allowed domains %v", s.Domains)
			}
			for _, u := range a.urls {
				if ok, why := c.domains.AllowURL(u.url); !ok {
					add("domains", "URL %q: %s", u.raw, why)
				}
			}
		}
	}
	if c.hosts != nil {
		if len(a.hosts) == 0 {
			missing("hosts", "No hostname argument to check against the allowed hosts %v", s.Hosts)
		}
		for _, h := range a.hosts {
			if ok, why := c.hosts.AllowHost(h.host, h.ip); !ok {
				add("hosts", "Host %q: %s", h.raw, why)
			}
		}
	}
	if s.Methods != nil && !slices.Contains(s.Methods, a.method) {
		add("methods", "Method %q is not in allowed list %v", a.method, s.Methods)
	}
	if s.Env != nil && ev.spec.kind == "env:read" {
		if len(a.envNames) == 0 {
			missing("env", "No name argument to check against the allowed variables %v", s.Env)
		}
		for _, n := range a.envNames {
			if !envAllowed(s.Env, n) {
				add("env", "Environment variable %q is outside allowed scope %v", n, s.Env)
			}
		}
	}
	return vs
}

func resolvedNote(p pathArg) string {
	if p.raw == p.path.Physical {
		return ""
	}
	return fmt.Sprintf(" (resolves to %s)", p.path.Physical)
}

func anyMatch(globs []*pathscope.Glob, p string) bool {
	for _, g := range globs {
		if g.Match(p) {
			return true
		}
	}
	return false
}

// checkCommand checks every command a command line would run: its name
// against the allowed binaries, its words for run-time expansion, its
// environment assignments and its redirections.
func (ev *evaluation) checkCommand(c *capability, cmd commandArg, add func(string, string, ...any)) {
	s := c.scope
	bases := ev.commandBases(cmd.line)
	dynamic := func(w shellcmd.Word, what string) {
		if !s.Shell && (w.Dynamic || (w.Glob && strings.Contains(w.Value, "**"))) {
			add("shell", "%s %q expands only at run time, so Warden cannot check it; write it literally, or set scope.shell: true to allow shell expansion", what, w.Value)
		}
	}
	for _, cm := range cmd.line.Commands {
		name := cm.Name.Value
		if cm.Opaque {
			add("binaries", "Command %q runs another command that cannot be determined before it runs", name)
		}
		if cm.Kind == shellcmd.Program {
			switch {
			case cm.Name.Dynamic || cm.Name.Glob:
				add("binaries", "Command name %q is only known at run time", name)
			case s.Binaries != nil && !ev.binaryAllowed(c, name, bases[0]):
				add("binaries", "Binary %q is not in allowed list %v", name, s.Binaries)
			}
		}
		for _, w := range cm.Args {
			dynamic(w, "Argument")
		}
		for _, as := range cm.Assigns {
			dynamic(as.Value, "Value of "+as.Name)
			if isSensitive(as.Name) && !envAllowed(s.Env, as.Name) {
				add("env", "Setting %s can change what the command runs; list it in scope.env to allow it", as.Name)
			}
		}
		for _, r := range cm.Redirects {
			if !r.Reads && !r.Writes {
				continue
			}
			dynamic(r.Target, "Redirection target")
			if r.Target.Dynamic {
				continue
			}
			kind := "file:read"
			if r.Writes {
				kind = "file:write"
			}
			for _, base := range bases {
				if why := ev.redirectScope(kind, r.Target.Value, base); why != "" {
					add("paths", "Redirection %s%s: %s", r.Op, r.Target.Value, why)
					break
				}
			}
		}
	}
}

// binaryAllowed reports whether a command name is an allowed binary: by
// base name, or, for binaries listed by absolute path, by the physical path
// the name resolves to.
func (ev *evaluation) binaryAllowed(c *capability, name, base string) bool {
	if slices.Contains(c.binNames, path.Base(name)) {
		return true
	}
	if len(c.binPaths) == 0 {
		return false
	}
	target := name
	if !strings.Contains(name, "/") {
		found, err := ev.e.lookPath(name)
		if err != nil {
			return false
		}
		target = found
	}
	p, err := ev.e.res.Resolve(target, base)
	return err == nil && slices.Contains(c.binPaths, p.Physical)
}

// redirectScope evaluates a redirection as the file action it is, against
// the capabilities for that kind; it returns why it is refused, or "".
func (ev *evaluation) redirectScope(kind, target, base string) string {
	if slices.Contains(devices, target) || strings.HasPrefix(target, "/dev/fd/") {
		return ""
	}
	p, err := ev.e.res.Resolve(target, base)
	if err != nil {
		return err.Error()
	}
	caps := ev.e.caps[kind]
	if len(caps) == 0 {
		return fmt.Sprintf("a redirection is a %s action, and no capability grants %s", kind, kind)
	}
	input := map[string]any{"path": target}
	for _, c := range caps {
		if c.when != nil {
			if ok, err := c.when.Eval(kind, input, ev.sessionView()); err != nil || !ok {
				continue
			}
		}
		if c.paths == nil || anyMatch(c.paths, p.Physical) {
			return ""
		}
	}
	return fmt.Sprintf("%s is outside the %s scope", p.Physical, kind)
}

// checkCwd confines where commands run: scope.cwd when set, otherwise the
// project root and below.
func (ev *evaluation) checkCwd(c *capability, add func(string, string, ...any)) {
	dir := ev.e.res.Root
	raw := "(project root)"
	if ev.args.cwd != nil {
		dir, raw = ev.args.cwd.path.Physical, ev.args.cwd.raw
	}
	if c.cwd != nil {
		if !anyMatch(c.cwd, dir) {
			add("cwd", "Working directory %q is outside allowed scope %v", raw, c.scope.Cwd)
		}
		return
	}
	if !pathscope.Within(dir, ev.e.res.Root) {
		add("cwd", "Working directory %q is outside the project root %s; list it in scope.cwd to allow it", raw, ev.e.res.Root)
	}
}

func isSensitive(name string) bool { return envAllowed(sensitiveEnv, name) }

// envAllowed reports whether name matches one of the patterns, where * is
// a wildcard.
func envAllowed(patterns []string, name string) bool {
	for _, p := range patterns {
		if p == name {
			return true
		}
		if strings.Contains(p, "*") {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
	}
	return false
}
