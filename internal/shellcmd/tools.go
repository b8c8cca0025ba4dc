package shellcmd

import "strings"

// Tools whose own options run commands. Each is listed as a Program; the
// options that run a shell string are parsed, the others make it Opaque.

// mayBeOption reports a word not known until run time that could be, or
// expand to, an option.
func mayBeOption(a Word) bool {
	if a.exact() || a.Tilde && !a.Dynamic && !a.Glob {
		return false
	}
	p := a.literalPrefix()
	return a.splits() || p == "" || p[0] == '-'
}

// gitGlobalArg lists git's global options that take the next word.
var gitGlobalArg = map[string]bool{
	"-C": true, "-c": true, "--git-dir": true, "--work-tree": true, "--namespace": true,
	"--super-prefix": true, "--config-env": true,
}

// gitGlobalFlag lists git's global options that take no word.
var gitGlobalFlag = map[string]bool{
	"-p": true, "--paginate": true, "-P": true, "--no-pager": true, "--bare": true,
	"--no-replace-objects": true, "--literal-pathspecs": true, "--glob-pathspecs": true,
	"--noglob-pathspecs": true, "--icase-pathspecs": true, "--no-optional-locks": true,
	"--no-advice": true, "--exec-path": true, "--html-path": true, "--man-path": true,
	"--info-path": true, "--version": true, "--help": true, "-v": true, "-h": true,
	"--no-lazy-fetch": true,
}

// gitSubcommand returns the index of git's subcommand in args, skipping
// global options (len(args) if there is none). ok is false if a global
// option is unknown or a word there is not exact.
func gitSubcommand(args []Word) (int, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !a.exact() {
			return i, false
		}
		v := a.Value
		if v == "" || v[0] != '-' {
			return i, true
		}
		name, _, hasVal := strings.Cut(v, "=")
		switch {
		case gitGlobalArg[v]:
			i++
			if i < len(args) && !args[i].exact() {
				return i, false
			}
		case gitGlobalFlag[v], hasVal && (gitGlobalArg[name] || name == "--list-cmds" || name == "--exec-path"):
		default:
			return i, false
		}
	}
	return len(args), true
}

// gitSafeKeys are configuration keys that never name a program to run; any
// other key set with git -c or git config may (alias.*, core.pager,
// core.sshCommand, core.hooksPath, credential.helper, filter.*, …).
var gitSafeKeys = map[string]bool{
	"user.name": true, "user.email": true, "user.signingkey": true, "init.defaultbranch": true,
	"core.quotepath": true, "core.autocrlf": true, "core.safecrlf": true, "core.filemode": true,
	"core.ignorecase": true, "core.longpaths": true, "core.abbrev": true, "core.eol": true,
	"column.ui": true, "commit.gpgsign": true, "tag.gpgsign": true, "gc.auto": true,
	"pull.rebase": true, "pull.ff": true, "push.default": true, "push.autosetupremote": true,
	"fetch.prune": true, "merge.conflictstyle": true, "rerere.enabled": true, "diff.renames": true,
	"diff.algorithm": true, "diff.noprefix": true, "log.showsignature": true, "log.decorate": true,
	"safe.directory": true, "protocol.version": true, "i18n.commitencoding": true,
	"i18n.logoutputencoding": true, "status.short": true, "rebase.autostash": true,
	"rebase.autosquash": true, "maintenance.auto": true, "branch.autosetuprebase": true,
}

func gitSafeKey(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	k = strings.ToLower(k)
	return gitSafeKeys[k] || strings.HasPrefix(k, "color.") || strings.HasPrefix(k, "advice.")
}

// gitExecSubs are subcommands with options that run programs; in them a word
// known only at run time may be such an option.
var gitExecSubs = map[string]bool{
	"clone": true, "fetch": true, "pull": true, "push": true, "ls-remote": true, "archive": true,
	"rebase": true, "difftool": true, "mergetool": true, "grep": true, "submodule": true,
	"bisect": true, "filter-branch": true, "config": true, "send-email": true, "instaweb": true,
}

func (w *walker) git(idx int, c ctx) {
	args := w.args(idx)
	i, ok := gitSubcommand(args)
	if !ok {
		w.opaque(idx)
		return
	}
	for j := 0; j < i; j++ {
		if v := args[j].Value; (v == "-c" || v == "--config-env") && j+1 < i {
			if v == "--config-env" || !gitSafeKey(args[j+1].Value) {
				w.opaque(idx)
				return
			}
		} else if strings.HasPrefix(v, "--config-env=") || strings.HasPrefix(v, "--exec-path=") {
			w.opaque(idx)
			return
		}
	}
	if i >= len(args) {
		return
	}
	sub, rest := args[i].Value, args[i+1:]
	if gitExecSubs[sub] {
		for _, a := range rest {
			if mayBeOption(a) {
				w.opaque(idx)
				return
			}
		}
	}
	switch sub {
	case "submodule":
		w.gitSubmodule(idx, rest, c)
	case "rebase", "difftool", "mergetool":
		w.gitExecOpts(idx, rest, c)
	case "bisect":
		if len(rest) > 0 && rest[0].Value == "run" {
			w.runArgv(idx, "git", rest[1:], c)
		}
	case "config":
		w.gitConfig(idx, rest)
	case "clone", "fetch", "pull", "push", "ls-remote", "archive", "grep", "send-email", "instaweb", "filter-branch":
		for _, a := range rest {
			if gitRunsProgram(sub, a.Value) {
				w.opaque(idx)
				return
			}
		}
	}
}

// gitRunsProgram reports an option of sub that names a program to run or
// configuration that may.
func gitRunsProgram(sub, v string) bool {
	name, _, _ := strings.Cut(v, "=")
	switch sub {
	case "clone":
		return name == "-u" || strings.HasPrefix(v, "-u") && !strings.HasPrefix(v, "--") ||
			name == "--upload-pack" || name == "--template" || name == "-c" || name == "--config"
	case "fetch", "pull", "ls-remote":
		return name == "--upload-pack"
	case "push":
		return name == "--receive-pack" || name == "--exec"
	case "archive":
		return name == "--exec" || name == "--remote"
	case "grep":
		return name == "-O" || strings.HasPrefix(v, "-O") || name == "--open-files-in-pager"
	case "send-email":
		return strings.HasSuffix(name, "-cmd") || name == "--smtp-server"
	case "instaweb":
		return name == "--httpd" || name == "-d" || name == "--browser" || name == "-b"
	case "filter-branch":
		return strings.HasSuffix(name, "-filter") || name == "--setup"
	}
	return false
}

// gitSubmodule runs the shell command of git submodule foreach.
func (w *walker) gitSubmodule(idx int, rest []Word, c ctx) {
	for i, a := range rest {
		if a.Value != "foreach" {
			continue
		}
		ops := rest[i+1:]
		for len(ops) > 0 && (ops[0].Value == "--recursive" || ops[0].Value == "-q" || ops[0].Value == "--quiet") {
			ops = ops[1:]
		}
		if len(ops) == 0 {
			return
		}
		code, ok := joinExact(ops)
		if !ok {
			w.opaque(idx)
			return
		}
		w.nested(idx, "git", code, c)
		return
	}
}

// gitExecOpts runs the shell commands of rebase --exec and difftool --extcmd.
func (w *walker) gitExecOpts(idx int, rest []Word, c ctx) {
	for i := 0; i < len(rest); i++ {
		v := rest[i].Value
		var code *Word
		switch {
		case v == "--exec" || v == "--extcmd" || v == "-x":
			if i+1 < len(rest) {
				i++
				code = &rest[i]
			}
		case strings.HasPrefix(v, "--exec=") || strings.HasPrefix(v, "--extcmd="):
			_, val, _ := strings.Cut(v, "=")
			code = &Word{Value: val}
		case len(v) > 1 && v[0] == '-' && v[1] != '-' && strings.IndexByte(v, 'x') > 0:
			// A cluster such as -ix CMD or -xCMD.
			if j := strings.IndexByte(v, 'x'); j+1 < len(v) {
				code = &Word{Value: v[j+1:]}
			} else if i+1 < len(rest) {
				i++
				code = &rest[i]
			}
		}
		if code != nil {
			w.runCode(idx, "git", *code, c)
		}
	}
}

// gitConfig makes git config Opaque when it sets a key that may name a
// program. Reading any key is fine.
func (w *walker) gitConfig(idx int, rest []Word) {
	var ops []Word
	write := false
	for i := 0; i < len(rest); i++ {
		v := rest[i].Value
		switch {
		case v == "-f" || v == "--file" || v == "--blob" || v == "--type" || v == "--default" || v == "--comment":
			i++
		case v == "--add" || v == "--replace-all" || v == "--unset" || v == "--unset-all" ||
			v == "--rename-section" || v == "--remove-section" || v == "-e" || v == "--edit":
			write = true
		case strings.HasPrefix(v, "-"):
		default:
			ops = append(ops, rest[i])
		}
	}
	if len(ops) > 0 {
		switch ops[0].Value {
		case "set", "unset", "edit", "rename-section", "remove-section":
			write = true
			ops = ops[1:]
		case "get", "list":
			ops = ops[1:]
		}
	}
	if len(ops) >= 2 {
		write = true
	}
	if write && (len(ops) == 0 || !gitSafeKey(ops[0].Value)) {
		w.opaque(idx)
	}
}

var sshOpts = optSpec{flags: "46AaCfGgKkMNnqsTtVvXxYy", withArg: "BbcDEeFIiJLlmOopQRSWw"}

// ssh runs its remote command through the remote user's shell. Options that
// run local programs (ProxyCommand, LocalCommand, a config file) make it
// Opaque, as does an interactive session.
func (w *walker) ssh(idx int, c ctx) {
	noCmd, local := false, false
	ops, ok := sshOpts.scan(w.args(idx), func(name, val string) {
		switch name {
		case "-N", "-W", "-O", "-V", "-G", "-Q", "-s":
			noCmd = true
		case "-F":
			local = true
		case "-o":
			k, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(val)), "=")
			k, _, _ = strings.Cut(k, " ")
			switch k {
			case "proxycommand", "localcommand", "permitlocalcommand", "knownhostscommand", "remotecommand", "include":
				local = true
			}
		}
	})
	switch {
	case !ok || local:
		w.opaque(idx)
	case noCmd:
	case len(ops) <= 1:
		w.opaque(idx) // an interactive remote shell
	default:
		code, exact := joinExact(ops[1:])
		if !exact {
			w.opaque(idx)
			return
		}
		w.nested(idx, "ssh", code, c)
	}
}

// tarExecLong are tar's long options that run programs.
var tarExecLong = []string{"to-command", "checkpoint-action", "use-compress-program", "rsh-command",
	"info-script", "new-volume-script"}

// tar is Opaque with an option that runs a program, or with a word not
// known until run time that could be one.
func (w *walker) tar(idx int, _ ctx) {
	for i, a := range w.args(idx) {
		if mayBeOption(a) {
			w.opaque(idx)
			return
		}
		v := a.Value
		switch {
		case strings.HasPrefix(v, "--"):
			name, _, _ := strings.Cut(v[2:], "=")
			for _, l := range tarExecLong {
				if name != "" && strings.HasPrefix(l, name) {
					w.opaque(idx)
					return
				}
			}
		case strings.HasPrefix(v, "-") || i == 0 && a.exact():
			// A short cluster, or the traditional first word (tar xzf …).
			for j := 0; j < len(v); j++ {
				switch v[j] {
				case 'I', 'F':
					w.opaque(idx)
					return
				case 'b', 'C', 'f', 'g', 'H', 'K', 'L', 'N', 'T', 'V', 'X':
					if strings.HasPrefix(v, "-") {
						j = len(v) // the rest is this option's value
					}
				}
			}
		}
	}
}

// rsync is Opaque when its remote shell (-e, --rsh) is anything but plain
// ssh or rsh options, or a word could be such an option.
func (w *walker) rsync(idx int, _ ctx) {
	args := w.args(idx)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if mayBeOption(a) {
			w.opaque(idx)
			return
		}
		v := a.Value
		var shell *string
		switch {
		case v == "--rsh" || v == "-e":
			if i+1 < len(args) {
				i++
				shell = &args[i].Value
			}
		case strings.HasPrefix(v, "--rsh="):
			s := v[len("--rsh="):]
			shell = &s
		case len(v) > 1 && v[0] == '-' && v[1] != '-':
			for j := 1; j < len(v); j++ {
				if strings.IndexByte("BfMT", v[j]) >= 0 {
					break
				}
				if v[j] == 'e' {
					s := v[j+1:]
					if s == "" && i+1 < len(args) {
						i++
						s = args[i].Value
					}
					shell = &s
					break
				}
			}
		}
		if shell != nil && !plainRemoteShell(*shell) {
			w.opaque(idx)
			return
		}
	}
}

// plainRemoteShell accepts "ssh" or "rsh" with options that run nothing else.
func plainRemoteShell(s string) bool {
	f := strings.Fields(s)
	if len(f) == 0 || (baseName(f[0]) != "ssh" && baseName(f[0]) != "rsh") {
		return false
	}
	for _, x := range f[1:] {
		if strings.ContainsAny(x, "$`;|&<>()'\"\\") || strings.HasPrefix(x, "-o") || strings.HasPrefix(x, "-F") {
			return false
		}
	}
	return true
}

// sed runs shell commands with GNU sed's e command and the e flag of s;
// a script that is not literal, or read from a file, may contain them.
func (w *walker) sed(idx int, _ ctx) {
	var scripts []string
	fromFile, sandbox := false, false
	ops, ok := (&optSpec{flags: "nrEsuzb", withArg: "elf", optArg: "i", permute: true,
		long: []string{"expression=", "file=", "in-place=?", "line-length=", "null-data", "zero-terminated",
			"quiet", "silent", "regexp-extended", "separate", "unbuffered", "sandbox", "posix", "debug",
			"follow-symlinks", "binary", "help", "version"}}).
		scan(w.args(idx), func(name, val string) {
			switch name {
			case "-e", "--expression":
				scripts = append(scripts, val)
			case "-f", "--file":
				fromFile = true
			case "--sandbox":
				sandbox = true
			}
		})
	if sandbox && ok {
		return // --sandbox refuses e, r and w
	}
	if len(scripts) == 0 && !fromFile && len(ops) > 0 {
		if !ops[0].exact() {
			w.opaque(idx)
			return
		}
		scripts = append(scripts, ops[0].Value)
	}
	if !ok || fromFile {
		w.opaque(idx)
		return
	}
	for _, s := range scripts {
		if sedRuns(s) {
			w.opaque(idx)
			return
		}
	}
}

// sedRuns reports whether a sed script may run a command. It reads the
// script as GNU sed does; anything it does not understand counts as running.
func sedRuns(s string) bool {
	i := 0
	toEOL := func() {
		for i < len(s) && s[i] != '\n' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
	}
	// delimited skips text up to an unescaped delim, from s[i].
	delimited := func(delim byte) bool {
		for i < len(s) && s[i] != delim {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(s) {
			return false
		}
		i++
		return true
	}
	address := func() bool {
		switch {
		case i < len(s) && s[i] == '/':
			i++
			if !delimited('/') {
				return false
			}
		case i < len(s) && s[i] == '\\':
			if i+1 >= len(s) {
				return false
			}
			d := s[i+1]
			i += 2
			if !delimited(d) {
				return false
			}
		}
		for i < len(s) && strings.IndexByte("0123456789$~+IM", s[i]) >= 0 {
			i++
		}
		return true
	}
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == ';' {
			i++
			continue
		}
		if c == '#' {
			toEOL()
			continue
		}
		if !address() {
			return true
		}
		if i < len(s) && s[i] == ',' {
			i++
			if !address() {
				return true
			}
		}
		for i < len(s) && (s[i] == ' ' || s[i] == '!') {
			i++
		}
		if i >= len(s) {
			return false
		}
		cmd := s[i]
		i++
		switch cmd {
		case '{', '}', '=', 'd', 'D', 'g', 'G', 'h', 'H', 'n', 'N', 'p', 'P', 'x', 'z', 'F':
		case 'e':
			return true
		case 's', 'y':
			if i >= len(s) || s[i] == '\n' || s[i] == '\\' {
				return true
			}
			d := s[i]
			i++
			if !delimited(d) || !delimited(d) {
				return true
			}
			for cmd == 's' && i < len(s) && strings.IndexByte("gpiImMe0123456789w", s[i]) >= 0 {
				switch s[i] {
				case 'e':
					return true
				case 'w':
					toEOL()
					continue
				}
				i++
			}
		case 'a', 'i', 'c', ':', 'b', 't', 'T', 'r', 'R', 'w', 'W', 'q', 'Q', 'l', 'L', 'v':
			// Text, a label, a file name or a number, to the end of the line
			// (labels and numbers also end at ;).
			for i < len(s) && s[i] != '\n' && !(s[i] == ';' && strings.IndexByte(":btTqQlLv", cmd) >= 0) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		default:
			return true
		}
	}
	return false
}

// awk runs commands with system(), pipes (print | "cmd", "cmd" | getline)
// and gawk's @load; a program not literal, or read from a file, may use them.
func (w *walker) awk(idx int, _ ctx) {
	var progs []string
	fromFile, sandbox := false, false
	ops, ok := (&optSpec{flags: "S", withArg: "Fvfe",
		long: []string{"field-separator=", "assign=", "file=", "source=", "sandbox", "posix", "traditional",
			"re-interval", "characters-as-bytes", "help", "version"}}).
		scan(w.args(idx), func(name, val string) {
			switch name {
			case "-e", "--source":
				progs = append(progs, val)
			case "-f", "--file":
				fromFile = true
			case "-S", "--sandbox":
				sandbox = true
			}
		})
	if !ok || fromFile {
		w.opaque(idx)
		return
	}
	if sandbox {
		return // --sandbox refuses system(), pipes and redirections
	}
	if len(progs) == 0 && len(ops) > 0 {
		if !ops[0].exact() {
			w.opaque(idx)
			return
		}
		progs = append(progs, ops[0].Value)
	}
	for _, p := range progs {
		if awkRuns(p) {
			w.opaque(idx)
			return
		}
	}
}

// awkRuns reports whether an awk program may run a command: a call of
// system, a | that is not ||, or an @ directive. Strings, regular
// expressions and comments are skipped; a / after an operand is division.
func awkRuns(p string) bool {
	operand := false // the previous token ends an operand
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\n':
			operand = false
		case c == ' ' || c == '\t' || c == '\r':
		case c == '\\':
			i++
		case c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
			operand = false
		case c == '"' || c == '/' && !operand:
			in := false // inside [...] of a regex
			for i++; i < len(p); i++ {
				if p[i] == '\\' {
					i++
					continue
				}
				if c == '/' && p[i] == '[' {
					in = true
				}
				if c == '/' && p[i] == ']' {
					in = false
				}
				if p[i] == c && !in {
					break
				}
			}
			operand = true
		case c == '|':
			if i+1 < len(p) && p[i+1] == '|' {
				i++
				operand = false
				continue
			}
			return true
		case c == '@':
			return true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(p) && (p[j] == '_' || p[j] >= 'a' && p[j] <= 'z' || p[j] >= 'A' && p[j] <= 'Z' || p[j] >= '0' && p[j] <= '9') {
				j++
			}
			switch p[i:j] {
			case "system":
				return true
			case "print", "printf", "return", "in", "if", "while", "for", "do", "else", "case", "getline":
				operand = false
			default:
				operand = true
			}
			i = j - 1
		case c >= '0' && c <= '9' || c == '.':
			operand = true
		case c == ')' || c == ']' || c == '$':
			operand = c != '$'
		default:
			operand = false
		}
	}
	return false
}

// execOptions are options of common tools that run a program.
var execOptions = map[string][]string{
	"sort":  {"--compress-program"},
	"split": {"--filter"},
	"zip":   {"-TT", "--unzip-command"},
}

// execOption makes a tool Opaque when it has an option that runs a program,
// given whole or as a GNU prefix (--compress-p), or a word that may be one.
func (w *walker) execOption(idx int, _ ctx) {
	opts := execOptions[cmdBase(w.line.Commands[idx].Name)]
	for _, a := range w.args(idx) {
		if mayBeOption(a) {
			w.opaque(idx)
			return
		}
		name, _, _ := strings.Cut(a.Value, "=")
		for _, o := range opts {
			if name == o || len(name) > 2 && strings.HasPrefix(name, "--") && strings.HasPrefix(o, name) {
				w.opaque(idx)
				return
			}
		}
	}
}

// loadsCode makes Opaque the builtins that change what later names run:
// enable -f loads a builtin from a shared object, hash -p binds a name to
// any file.
func (w *walker) loadsCode(idx int, _ ctx) {
	letter := byte('f')
	if cmdBase(w.line.Commands[idx].Name) == "hash" {
		letter = 'p'
	}
	for _, a := range w.args(idx) {
		if !a.exact() || len(a.Value) > 1 && a.Value[0] == '-' && strings.IndexByte(a.Value, letter) > 0 {
			w.opaque(idx)
			return
		}
	}
}
