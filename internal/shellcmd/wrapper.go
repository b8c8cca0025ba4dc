package shellcmd

import (
	"fmt"
	"strings"
)

// declBuiltins are the declaration builtins, listed as Kind Assignment.
var declBuiltins = map[string]bool{
	"export": true, "declare": true, "typeset": true, "local": true, "readonly": true,
}

// cmdBase is the lower-cased base name used to recognise a command, or "" for
// a name only known at run time. Lower case because macOS finds /usr/bin/env
// as ENV.
func cmdBase(w Word) string {
	if w.Dynamic || w.Glob {
		return ""
	}
	b := baseName(w.Value)
	for i := 0; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(b)
		}
	}
	return b
}

// simple lists a simple command made of words and walks what it runs.
func (w *walker) simple(words []Word, assigns []Assign, redirs []Redirect, c ctx) int {
	cmd := Command{Kind: Program, Name: words[0], Args: words[1:], Assigns: assigns, Redirects: redirs}
	switch base := cmdBase(words[0]); {
	case declBuiltins[base]:
		cmd.Kind = Assignment
		var args []Word
		for _, a := range cmd.Args {
			if as, ok := splitAssign(a); ok {
				cmd.Assigns = append(cmd.Assigns, as)
			} else {
				args = append(args, a)
			}
		}
		cmd.Args = args
	case base == "command" || base == "builtin" || base == "exec":
		cmd.Kind = Wrapper
	}
	return w.command(cmd, c)
}

// command lists cmd, applies the fail-closed checks that need only cmd, and
// walks the commands it runs.
func (w *walker) command(cmd Command, c ctx) int {
	if w.err != nil {
		return len(w.line.Commands)
	}
	if cmd.Name.Dynamic || cmd.Name.Glob {
		cmd.Opaque = true
	}
	for _, a := range cmd.Args {
		if !a.Dynamic && codeInLiteral(a.Value) {
			cmd.Opaque = true
		}
	}
	for _, a := range cmd.Assigns {
		if !a.Value.Dynamic && codeInLiteral(a.Value.Value) {
			cmd.Opaque = true
		}
	}
	base := cmdBase(cmd.Name)
	if cmd.Kind == Assignment && cmd.Name.Value == "" {
		base = ""
	}
	if !namesExact(base, &cmd) {
		cmd.Opaque = true
	}
	idx := w.emit(cmd, c)
	for _, a := range cmd.Assigns {
		w.assignRuns(idx, a, c)
	}
	if h := runners[base]; h != nil {
		h(w, idx, c)
	}
	return idx
}

// commandVars hold a command line that programs run through a shell (git
// runs GIT_EDITOR, man runs PAGER): their values are parsed as code.
var commandVars = map[string]bool{
	"GIT_SSH_COMMAND": true, "GIT_EDITOR": true, "GIT_SEQUENCE_EDITOR": true, "GIT_PAGER": true,
	"GIT_EXTERNAL_DIFF": true, "GIT_ASKPASS": true, "GIT_PROXY_COMMAND": true, "GIT_SSH": true,
	"SSH_ASKPASS": true, "SUDO_ASKPASS": true, "SUDO_EDITOR": true, "EDITOR": true, "VISUAL": true,
	"PAGER": true, "MANPAGER": true, "SYSTEMD_PAGER": true, "BROWSER": true,
}

// codeVars make a shell or a tool run code no analysis can follow: a
// startup file (BASH_ENV, ENV), prompt or trace strings that are expanded
// (PS4, PROMPT_COMMAND), exported functions, git configuration.
var codeVars = map[string]bool{
	"BASH_ENV": true, "ENV": true, "PS0": true, "PS1": true, "PS2": true, "PS4": true,
	"PROMPT_COMMAND": true, "GIT_CONFIG_PARAMETERS": true, "GIT_CONFIG_COUNT": true,
	"LESSOPEN": true, "LESSCLOSE": true,
}

// assignRuns handles an assignment, carried by the command at idx, whose
// value some program will run.
func (w *walker) assignRuns(idx int, a Assign, c ctx) {
	switch {
	case (a.Name == "GIT_SSH_COMMAND" || a.Name == "GIT_SSH") && a.Value.exact() && plainRemoteShell(a.Value.Value):
		// Plain ssh with options that run nothing else; git adds the host.
	case commandVars[a.Name]:
		w.runCode(idx, a.Name, a.Value, c)
	case codeVars[a.Name] || strings.HasPrefix(a.Name, "BASH_FUNC_") || strings.HasPrefix(a.Name, "GIT_CONFIG_KEY_") ||
		strings.HasPrefix(a.Name, "GIT_CONFIG_VALUE_"):
		w.opaque(idx)
	}
}

// runner finds and lists the commands the command at idx runs.
type runner func(w *walker, idx int, c ctx)

var runners map[string]runner

func init() {
	runners = map[string]runner{
		"eval": (*walker).eval, "trap": (*walker).trap, "alias": (*walker).alias,
		"source": (*walker).source, ".": (*walker).source,
		"su": (*walker).su, "runuser": (*walker).su,
		"sudo": (*walker).sudo, "doas": (*walker).doas, "pkexec": (*walker).pkexec,
		"env": (*walker).env, "xargs": (*walker).xargs, "find": (*walker).find,
		"parallel": (*walker).parallel, "watch": (*walker).watch, "flock": (*walker).flock,
		"script": (*walker).script, "chroot": (*walker).chroot, "timeout": (*walker).timeout,
		"nice": (*walker).nice, "ionice": (*walker).ionice, "taskset": (*walker).taskset,
		"command": (*walker).commandBuiltin, "busybox": (*walker).busybox, "toybox": (*walker).busybox,
		"mapfile": (*walker).mapfile, "readarray": (*walker).mapfile,
		"ssh": (*walker).ssh, "git": (*walker).git, "tar": (*walker).tar, "rsync": (*walker).rsync,
		"sed": (*walker).sed, "gsed": (*walker).sed,
		"awk": (*walker).awk, "gawk": (*walker).awk, "mawk": (*walker).awk, "nawk": (*walker).awk,
		"enable": (*walker).loadsCode, "hash": (*walker).loadsCode,
	}
	for name := range execOptions {
		runners[name] = (*walker).execOption
	}
	for name, o := range simpleWrappers {
		runners[name] = o.run(name)
	}
	for name := range shells {
		runners[name] = (*walker).shell
	}
}

// simpleWrappers run their first operand as a command with the rest as its
// arguments.
var simpleWrappers = map[string]*optSpec{
	"nohup":     {long: []string{"help", "version"}},
	"setsid":    {flags: "cfw", long: []string{"ctty", "fork", "wait", "help", "version"}},
	"stdbuf":    {withArg: "ioe", long: []string{"input=", "output=", "error=", "help", "version"}},
	"builtin":   {},
	"exec":      {flags: "cl", withArg: "a"},
	"time":      {flags: "apqvV", withArg: "fo", long: []string{"append", "portability", "quiet", "verbose", "version", "help", "format=", "output="}},
	"unbuffer":  {flags: "p"},
	"catchsegv": {},
	"noglob":    {},
	"nocorrect": {},
	"strace": {flags: "cCdDfFhikNnqrtTvVwxyYzZ", withArg: "abeEIoOpPsSuUX",
		long: []string{"output=", "trace=", "expr=", "follow-forks", "summary-only", "summary", "string-limit=",
			"attach=", "user=", "env=", "decode-fds=?", "quiet=?", "signal=", "status=", "timestamps=?",
			"absolute-timestamps=?", "relative-timestamps=?", "syscall-times=?", "no-abbrev", "verbose", "help", "version"}},
	"ltrace": {flags: "bcCfhiLrStTV", withArg: "aAeDFlnopsuwx",
		long: []string{"output=", "library=", "indent=", "align=", "demangle", "help", "version"}},
}

// run returns the runner of a simple wrapper.
func (o *optSpec) run(via string) runner {
	return func(w *walker, idx int, c ctx) {
		ops, ok := o.scan(w.args(idx), nil)
		if !ok {
			w.opaque(idx)
			return
		}
		w.runArgv(idx, via, ops, c)
	}
}

func (w *walker) args(idx int) []Word { return w.line.Commands[idx].Args }

func (w *walker) opaque(idx int) { w.line.Commands[idx].Opaque = true }

// runArgv lists words as a command run by the command at idx.
func (w *walker) runArgv(idx int, via string, words []Word, c ctx) {
	if len(words) == 0 || w.err != nil {
		return
	}
	w.simple(append([]Word(nil), words...), nil, nil, w.inner(idx, via, c))
}

// runCode parses code as a shell would, as run by the command at idx. A
// code word known only at run time makes the command Opaque.
func (w *walker) runCode(idx int, via string, code Word, c ctx) {
	if !code.exact() {
		w.opaque(idx)
		return
	}
	w.nested(idx, via, code.Value, c)
}

// nested parses src one level deeper, as run by the command at idx.
func (w *walker) nested(idx int, via, src string, c ctx) {
	if w.err != nil {
		return
	}
	c2 := w.inner(idx, via, c)
	if c2.depth+1 > MaxDepth {
		w.fail("%s: nesting deeper than %d levels", via, MaxDepth)
		return
	}
	c2.depth++
	if err := checkSource(src); err != nil {
		w.err = fmt.Errorf("%s: %w", via, err)
		return
	}
	if err := w.code(src, c2); err != nil {
		w.err = fmt.Errorf("%s: %w", via, err)
	}
}

var sudoOpts = optSpec{
	flags: "ABbEeHhiKklNnPSsVv", withArg: "aCcDgpRrTtUu",
	long: []string{"askpass", "background", "bell", "close-from=", "chdir=", "preserve-env=?", "edit",
		"group=", "set-home", "help", "host=", "login", "remove-timestamp", "reset-timestamp", "list",
		"non-interactive", "preserve-groups", "prompt=", "chroot=", "role=", "stdin", "shell", "type=",
		"command-timeout=", "other-user=", "user=", "version", "validate", "auth-type=", "login-class="},
}

func (w *walker) sudo(idx int, c ctx) {
	var shell, noRun bool
	ops, ok := sudoOpts.scan(w.args(idx), func(name, _ string) {
		switch name {
		case "-s", "--shell", "-i", "--login":
			shell = true
		case "-e", "--edit", "-l", "--list", "-V", "--version", "-h", "--help", "-K", "--remove-timestamp", "-v", "--validate":
			noRun = true
		}
	})
	if !ok {
		w.opaque(idx)
		return
	}
	if noRun {
		return
	}
	ops = w.takeAssigns(idx, ops, c)
	if len(ops) == 0 {
		if shell {
			w.opaque(idx) // an interactive root shell
		}
		return
	}
	w.runArgv(idx, "sudo", ops, c)
}

func (w *walker) doas(idx int, c ctx) {
	var shell, noRun bool
	ops, ok := (&optSpec{flags: "Lns", withArg: "aCu"}).scan(w.args(idx), func(name, _ string) {
		switch name {
		case "-s":
			shell = true
		case "-C", "-L":
			noRun = true
		}
	})
	switch {
	case !ok || shell:
		w.opaque(idx)
	case noRun:
	default:
		w.runArgv(idx, "doas", ops, c)
	}
}

func (w *walker) pkexec(idx int, c ctx) {
	ops, ok := (&optSpec{long: []string{"user=", "disable-internal-agent", "keep-cwd", "help", "version"}}).scan(w.args(idx), nil)
	if !ok || len(ops) == 0 {
		w.opaque(idx) // pkexec alone runs a root shell
		return
	}
	w.runArgv(idx, "pkexec", ops, c)
}

// takeAssigns moves leading NAME=VALUE words of ops onto the command at idx
// (env and sudo pass them to the command they run) and returns the rest.
func (w *walker) takeAssigns(idx int, ops []Word, c ctx) []Word {
	for len(ops) > 0 {
		a := ops[0]
		p := a.literalPrefix()
		eq := strings.IndexByte(p, '=')
		if eq <= 0 {
			break
		}
		v := Word{Value: a.Value[eq+1:], Dynamic: a.Dynamic, Glob: a.Glob}
		v.Tilde = strings.HasPrefix(v.Value, "~")
		as := Assign{Name: a.Value[:eq], Value: v}
		cmd := &w.line.Commands[idx]
		cmd.Assigns = append(cmd.Assigns, as)
		if !v.Dynamic && codeInLiteral(v.Value) {
			cmd.Opaque = true
		}
		w.assignRuns(idx, as, c)
		ops = ops[1:]
	}
	return ops
}

var envOpts = optSpec{
	flags: "0iv", withArg: "uCS",
	long: []string{"ignore-environment", "null", "unset=", "chdir=", "split-string=", "debug",
		"block-signal=?", "default-signal=?", "ignore-signal=?", "list-signal-handling", "help", "version"},
}

func (w *walker) env(idx int, c ctx) {
	var split, info bool
	args := w.args(idx)
	if len(args) > 0 && args[0].exact() && args[0].Value == "-" {
		args = args[1:] // "env -" is env -i
	}
	ops, ok := envOpts.scan(args, func(name, _ string) {
		switch name {
		case "-S", "--split-string":
			split = true
		case "--help", "--version":
			info = true
		}
	})
	if !ok || split {
		w.opaque(idx)
		return
	}
	if info {
		return
	}
	w.runArgv(idx, "env", w.takeAssigns(idx, ops, c), c)
}

func (w *walker) watch(idx int, c ctx) {
	execMode := false
	ops, ok := (&optSpec{flags: "bcCdegprtwxhv", withArg: "nqs",
		long: []string{"beep", "color", "no-color", "differences=?", "errexit", "chgexit", "interval=",
			"precise", "equexit=", "no-rerun", "shotsdir=", "no-title", "no-wrap", "exec", "help", "version"}}).
		scan(w.args(idx), func(name, _ string) {
			if name == "-x" || name == "--exec" {
				execMode = true
			}
		})
	switch {
	case !ok:
		w.opaque(idx)
	case len(ops) == 0:
	case execMode:
		w.runArgv(idx, "watch", ops, c)
	default:
		code, exact := joinExact(ops)
		if !exact {
			w.opaque(idx)
			return
		}
		w.nested(idx, "watch", code, c) // watch runs sh -c "args…"
	}
}

func (w *walker) flock(idx int, c ctx) {
	var code *Word
	ops, ok := (&optSpec{flags: "sxeunoFhV", withArg: "wEc",
		long: []string{"shared", "exclusive", "unlock", "nonblock", "nb", "close", "no-fork", "verbose",
			"timeout=", "wait=", "conflict-exit-code=", "command=", "help", "version"}}).
		scan(w.args(idx), func(name, val string) {
			if name == "-c" || name == "--command" {
				code = &Word{Value: val}
			}
		})
	if !ok {
		w.opaque(idx)
		return
	}
	if code != nil {
		w.runCode(idx, "sh -c", *code, c)
		return
	}
	if len(ops) < 2 {
		return // locks a descriptor, or has nothing to run
	}
	rest := ops[1:]
	if rest[0].exact() && (rest[0].Value == "-c" || rest[0].Value == "--command") {
		if len(rest) < 2 {
			w.opaque(idx)
			return
		}
		w.runCode(idx, "sh -c", rest[1], c)
		return
	}
	w.runArgv(idx, "flock", rest, c)
}

func (w *walker) script(idx int, c ctx) {
	var code *Word
	_, ok := (&optSpec{flags: "aefqhVt", withArg: "cEmoBIOT",
		long: []string{"append", "command=", "echo=", "return", "flush", "force", "quiet", "log-io=", "log-in=",
			"log-out=", "log-timing=", "logging-format=", "output-limit=", "timing=?", "help", "version"}}).
		scan(w.args(idx), func(name, val string) {
			if name == "-c" || name == "--command" {
				code = &Word{Value: val}
			}
		})
	switch {
	case !ok || code == nil:
		w.opaque(idx) // script without -c runs an interactive shell
	default:
		w.runCode(idx, "script -c", *code, c)
	}
}

func (w *walker) chroot(idx int, c ctx) {
	ops, ok := (&optSpec{long: []string{"userspec=", "groups=", "skip-chdir", "help", "version"}}).scan(w.args(idx), nil)
	switch {
	case !ok:
		w.opaque(idx)
	case len(ops) == 1:
		w.opaque(idx) // runs an interactive shell
	case len(ops) > 1:
		w.runArgv(idx, "chroot", ops[1:], c)
	}
}

func (w *walker) timeout(idx int, c ctx) {
	ops, ok := (&optSpec{flags: "fpv", withArg: "ks",
		long: []string{"foreground", "preserve-status", "verbose", "kill-after=", "signal=", "help", "version"}}).
		scan(w.args(idx), nil)
	switch {
	case !ok:
		w.opaque(idx)
	case len(ops) > 1:
		if !ops[0].exact() {
			w.opaque(idx)
			return
		}
		w.runArgv(idx, "timeout", ops[1:], c)
	}
}

func (w *walker) nice(idx int, c ctx) {
	args := w.args(idx)
	if len(args) > 0 && args[0].exact() && len(args[0].Value) > 1 && args[0].Value[0] == '-' &&
		strings.Trim(args[0].Value[1:], "-+0123456789") == "" {
		args = args[1:] // the old "nice -10" form
	}
	ops, ok := (&optSpec{withArg: "n", long: []string{"adjustment=", "help", "version"}}).scan(args, nil)
	if !ok {
		w.opaque(idx)
		return
	}
	w.runArgv(idx, "nice", ops, c)
}

func (w *walker) ionice(idx int, c ctx) {
	noRun := false
	ops, ok := (&optSpec{flags: "tPpuhV", withArg: "cn",
		long: []string{"class=", "classdata=", "pid", "pgid", "uid", "ignore", "help", "version"}}).
		scan(w.args(idx), func(name, _ string) {
			switch name {
			case "-p", "-P", "-u", "--pid", "--pgid", "--uid":
				noRun = true
			}
		})
	switch {
	case !ok:
		w.opaque(idx)
	case !noRun:
		w.runArgv(idx, "ionice", ops, c)
	}
}

func (w *walker) taskset(idx int, c ctx) {
	noRun := false
	ops, ok := (&optSpec{flags: "acphV", long: []string{"all-tasks", "cpu-list", "pid", "help", "version"}}).
		scan(w.args(idx), func(name, _ string) {
			if name == "-p" || name == "--pid" {
				noRun = true
			}
		})
	switch {
	case !ok:
		w.opaque(idx)
	case !noRun && len(ops) > 1:
		if !ops[0].exact() {
			w.opaque(idx)
			return
		}
		w.runArgv(idx, "taskset", ops[1:], c)
	}
}

// commandBuiltin runs its operand unless -v or -V only describe it.
func (w *walker) commandBuiltin(idx int, c ctx) {
	describe := false
	ops, ok := (&optSpec{flags: "pvV"}).scan(w.args(idx), func(name, _ string) {
		if name != "-p" {
			describe = true
		}
	})
	switch {
	case !ok:
		w.opaque(idx)
	case !describe:
		w.runArgv(idx, "command", ops, c)
	}
}

// busybox runs the applet named by its first argument.
func (w *walker) busybox(idx int, c ctx) {
	args := w.args(idx)
	if len(args) == 0 {
		return
	}
	if a := args[0]; a.exact() && strings.HasPrefix(a.Value, "-") {
		switch a.Value {
		case "--list", "--list-full", "--help", "--install", "--version":
		default:
			w.opaque(idx)
		}
		return
	}
	w.runArgv(idx, cmdBase(w.line.Commands[idx].Name), args, c)
}
