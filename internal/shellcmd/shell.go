package shellcmd

import (
	"path"
	"strings"
)

// Commands that parse a string as shell code: shells, eval, trap, alias,
// su -c, and source, which runs a file.

// shellKind describes how a shell reads its arguments.
type shellKind struct {
	flags  string // single-letter options besides c, s, i, o and O
	long   bool   // takes bash's --long options
	strict bool   // reads words unlike bash; see shell
}

var (
	bashLike = shellKind{flags: "abefhkmnptuvxBCEHPTlrD", long: true}
	zshLike  = shellKind{flags: "abefhkmnptuvxBCEHPTlrD", long: true, strict: true}
	fishLike = shellKind{flags: "lnNPv", strict: true}
	cshLike  = shellKind{flags: "befmntvVxX", strict: true}
)

// shells run -c STRING, a script file, or their stdin. zsh, fish and csh
// read words differently from bash ((cmd) and glob qualifiers run code), so
// their strings are trusted only without parentheses.
var shells = map[string]shellKind{
	"sh": bashLike, "bash": bashLike, "rbash": bashLike, "dash": bashLike, "ash": bashLike,
	"ksh": bashLike, "ksh93": bashLike, "mksh": bashLike, "pdksh": bashLike, "oksh": bashLike,
	"yash": bashLike, "posh": bashLike, "zsh": zshLike,
	"fish": fishLike, "csh": cshLike, "tcsh": cshLike,
}

func (w *walker) shell(idx int, c ctx) {
	args := w.args(idx)
	kind := shells[cmdBase(w.line.Commands[idx].Name)]
	hasC, stdin := false, false
	i := 0
scan:
	for ; i < len(args); i++ {
		a := args[i]
		if !a.exact() {
			if p := a.literalPrefix(); p == "" || p[0] == '-' || p[0] == '+' {
				w.opaque(idx)
				return
			}
			break
		}
		v := a.Value
		switch {
		case v == "-" || v == "--":
			i++
			break scan
		case strings.HasPrefix(v, "--") && kind.long:
			switch v {
			case "--norc", "--noprofile", "--login", "--posix", "--restricted", "--verbose",
				"--noediting", "--version", "--help", "--debugger", "--dump-strings", "--dump-po-strings", "--pretty-print":
			case "--rcfile", "--init-file":
				i++
			default:
				w.opaque(idx)
				return
			}
			continue
		case len(v) < 2 || v[0] != '-' && v[0] != '+':
			break scan
		}
		for j := 1; j < len(v); j++ {
			switch ch := v[j]; {
			case ch == 'c':
				hasC = true
			case ch == 's':
				stdin = true
			case ch == 'i':
				stdin = true // interactive: reads commands from stdin
			case (ch == 'o' || ch == 'O') && kind.long:
				i++
			case strings.IndexByte(kind.flags, ch) >= 0:
			default:
				w.opaque(idx)
				return
			}
		}
	}
	var ops []Word
	if i < len(args) {
		ops = args[i:]
	}
	switch {
	case hasC:
		if len(ops) == 0 {
			w.opaque(idx) // the string comes from elsewhere (xargs)
			return
		}
		if kind.strict && ops[0].exact() && strings.ContainsAny(ops[0].Value, "()") {
			w.opaque(idx)
			return
		}
		w.runCode(idx, "sh -c", ops[0], c)
	case stdin || len(ops) == 0:
		w.opaque(idx)
	case ops[0].Dynamic || ops[0].Glob || stdinPath(ops[0].Value):
		w.opaque(idx) // the script is not known before it runs
	}
}

// stdinPath reports a path that reads a descriptor rather than a file:
// /dev/stdin, /dev/fd/N, /proc/self/fd/N, …, however reached.
func stdinPath(p string) bool {
	p = path.Clean(p)
	for _, d := range []string{"dev/stdin", "dev/fd/", "/fd/", "dev/tty", "dev/tcp/", "dev/udp/"} {
		if strings.HasSuffix(p, strings.TrimSuffix(d, "/")) || strings.Contains(p, d) {
			return true
		}
	}
	return false
}

func (w *walker) eval(idx int, c ctx) {
	args := w.args(idx)
	if len(args) > 0 && args[0].exact() && args[0].Value == "--" {
		args = args[1:]
	}
	if code, ok := joinExact(args); ok {
		w.nested(idx, "eval", code, c)
	} else {
		w.opaque(idx)
	}
}

// joinExact joins words with spaces, as eval and ssh do; ok is false if a
// word is not exact.
func joinExact(words []Word) (string, bool) {
	if len(words) == 1 {
		return words[0].Value, words[0].exact()
	}
	var b strings.Builder
	for i, a := range words {
		if !a.exact() {
			return "", false
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Value)
	}
	return b.String(), true
}

func (w *walker) trap(idx int, c ctx) {
	args := w.args(idx)
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if !a.exact() {
			break
		}
		switch a.Value {
		case "--":
			i++
		case "-l", "-p", "-P":
			return // prints
		}
		break
	}
	ops := args[i:]
	if len(ops) == 0 {
		return
	}
	if ops[0].exact() && (ops[0].Value == "-" || len(ops) == 1 && signalSpec(ops[0].Value)) {
		return // resets the handlers
	}
	w.runCode(idx, "trap", ops[0], c)
}

// signalSpec reports a word that reads as a signal: 2, INT, SIGINT, EXIT.
func signalSpec(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// alias parses each alias value: with expand_aliases a later line runs it.
func (w *walker) alias(idx int, c ctx) {
	for _, a := range w.args(idx) {
		if !a.exact() {
			w.opaque(idx)
			return
		}
		if _, val, ok := strings.Cut(a.Value, "="); ok {
			w.nested(idx, "alias", val, c)
		}
	}
}

// source runs a script file; one not known until run time is Opaque.
func (w *walker) source(idx int, c ctx) {
	if args := w.args(idx); len(args) > 0 && (args[0].Dynamic || args[0].Glob || stdinPath(args[0].Value)) {
		w.opaque(idx)
	}
}

var suOpts = optSpec{
	flags: "lmpfP", withArg: "cgGswu", permute: true,
	long: []string{"login", "preserve-environment", "fast", "pty", "command=", "session-command=",
		"group=", "supp-group=", "shell=", "whitelist-environment=", "user=", "help", "version"},
}

// su runs -c CMD through the user's shell; runuser -u USER runs argv.
func (w *walker) su(idx int, c ctx) {
	var args []Word
	for _, a := range w.args(idx) {
		if !(a.exact() && a.Value == "-") {
			args = append(args, a)
		}
	}
	var code *Word
	var user, shell, info bool
	// runuser -u stops option parsing at the command, like a wrapper.
	o := suOpts
	for _, a := range args {
		if a.exact() && (a.Value == "-u" || strings.HasPrefix(a.Value, "--user")) {
			o.permute = false
		}
	}
	ops, ok := o.scan(args, func(name, val string) {
		switch name {
		case "-c", "--command", "--session-command":
			code = &Word{Value: val}
		case "-u", "--user":
			user = true
		case "-s", "--shell":
			if _, known := shells[baseName(val)]; !known {
				shell = true
			}
		case "--help", "--version":
			info = true
		}
	})
	switch {
	case !ok || shell:
		w.opaque(idx)
	case code != nil:
		w.runCode(idx, "su -c", *code, c)
	case info:
	case user:
		if len(ops) == 0 {
			w.opaque(idx) // an interactive shell
			return
		}
		w.runArgv(idx, "runuser", ops, c)
	default:
		w.opaque(idx) // an interactive shell, or a script given to it
	}
}
