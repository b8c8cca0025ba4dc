package shellcmd

import (
	"cmp"
	"path"
	"strings"
)

// Commands that run a command once per input: xargs, find -exec, parallel.

var xargsOpts = optSpec{
	flags: "0prtxo", withArg: "aEdILnPs", optArg: "eil",
	long: []string{"null", "arg-file=", "delimiter=", "eof=?", "replace=?", "max-lines=?", "max-args=",
		"max-procs=", "max-chars=", "interactive", "verbose", "exit", "no-run-if-empty", "open-tty",
		"process-slot-var=", "show-limits", "help", "version"},
}

// xargs runs its command with items read from stdin: appended as arguments
// (a Dynamic "{}" word), or replacing the -I string.
func (w *walker) xargs(idx int, c ctx) {
	replace, info := "", false
	ops, ok := xargsOpts.scan(w.args(idx), func(name, val string) {
		switch name {
		case "-I":
			replace = val
		case "-i", "--replace":
			replace = cmp.Or(val, "{}")
		case "--help", "--version", "--show-limits":
			info = true
		}
	})
	if !ok {
		w.opaque(idx)
		return
	}
	if info || len(ops) == 0 {
		return // runs echo
	}
	words := append([]Word(nil), ops...)
	if replace != "" {
		markPlaceholder(words, replace)
	} else {
		words = append(words, Word{Value: "{}", Dynamic: true})
	}
	w.runArgv(idx, "xargs", words, c)
}

// markPlaceholder marks words containing a replacement string as Dynamic.
func markPlaceholder(words []Word, ph string) {
	for i := range words {
		if strings.Contains(words[i].Value, ph) {
			words[i].Dynamic = true
		}
	}
}

// findValued are find primaries that take one value.
var findValued = map[string]bool{
	"-name": true, "-iname": true, "-path": true, "-ipath": true, "-wholename": true, "-iwholename": true,
	"-lname": true, "-ilname": true, "-regex": true, "-iregex": true, "-regextype": true, "-type": true,
	"-xtype": true, "-user": true, "-group": true, "-uid": true, "-gid": true, "-perm": true, "-size": true,
	"-mtime": true, "-mmin": true, "-atime": true, "-amin": true, "-ctime": true, "-cmin": true,
	"-newer": true, "-anewer": true, "-cnewer": true, "-used": true, "-samefile": true, "-inum": true,
	"-links": true, "-maxdepth": true, "-mindepth": true, "-fstype": true, "-context": true,
	"-fprint": true, "-fprint0": true, "-fls": true, "-printf": true, "-files0-from": true,
}

// find runs the command of each -exec, -execdir, -ok and -okdir, with {}
// standing for found paths.
func (w *walker) find(idx int, c ctx) {
	args := w.args(idx)
	i := 0
	for i < len(args) && args[i].exact() {
		v := args[i].Value
		if v == "-H" || v == "-L" || v == "-P" || strings.HasPrefix(v, "-O") {
			i++
		} else if v == "-D" {
			i += 2
		} else {
			break
		}
	}
	for ; i < len(args); i++ {
		a := args[i]
		if !a.exact() {
			if p := a.literalPrefix(); p == "" || p[0] == '-' || a.Glob && globMatchesAction(a.Value) {
				w.opaque(idx) // may expand to -exec …
				return
			}
			continue
		}
		v := a.Value
		switch {
		case v == "-exec" || v == "-execdir" || v == "-ok" || v == "-okdir":
			j := i + 1
			for j < len(args) && !(args[j].exact() && (args[j].Value == ";" || args[j].Value == "+" && args[j-1].Value == "{}")) {
				j++
			}
			words := append([]Word(nil), args[i+1:j]...)
			markPlaceholder(words, "{}")
			w.runArgv(idx, "find -exec", words, c)
			i = j
		case v == "-fprintf":
			i += 2
		case findValued[v] || strings.HasPrefix(v, "-newer") && len(v) == 8:
			i++
			if i < len(args) && args[i].splits() {
				w.opaque(idx) // a value that may split into more primaries
				return
			}
		}
	}
}

// globMatchesAction reports a glob that could expand to a find action.
func globMatchesAction(g string) bool {
	for _, act := range []string{"-exec", "-execdir", "-ok", "-okdir", "-delete"} {
		if ok, err := path.Match(g, act); ok || err != nil {
			return true
		}
	}
	return false
}

var parallelOpts = optSpec{
	flags: "0kqrtuvXmg", withArg: "ajnNIdECsSlL",
	long: []string{"null", "keep-order", "quote", "no-run-if-empty", "verbose", "ungroup", "tag", "bar",
		"progress", "eta", "dry-run", "line-buffer", "group", "shuf", "halt=", "results=", "joblog=",
		"timeout=", "delay=", "retries=", "colsep=", "jobs=", "max-args=", "max-replace-args=", "arg-file=",
		"delimiter=", "eof=?", "replace=?", "sshlogin=", "workdir=", "tmpdir=", "env=", "pipe", "block=",
		"help", "version"},
}

// parallel joins its command words and runs them through a shell, with
// replacement strings ({}, {.}, {1}, …) standing for inputs.
func (w *walker) parallel(idx int, c ctx) {
	ops, ok := parallelOpts.scan(w.args(idx), nil)
	if !ok {
		w.opaque(idx)
		return
	}
	end := len(ops)
	for i, a := range ops {
		if a.exact() && strings.HasPrefix(a.Value, ":::") {
			end = i
			break
		}
	}
	code, ok := joinExact(ops[:end])
	if !ok || end == 0 || strings.Contains(code, "{=") {
		w.opaque(idx) // the command comes from the input, or runs Perl
		return
	}
	if !strings.Contains(code, "{") {
		code += " {}"
	}
	n := len(w.line.Commands)
	w.nested(idx, "parallel", code, c)
	for i := n; i < len(w.line.Commands); i++ {
		cmd := &w.line.Commands[i]
		markBraces(&cmd.Name)
		for j := range cmd.Args {
			markBraces(&cmd.Args[j])
		}
		if cmd.Name.Dynamic {
			cmd.Opaque = true
		}
	}
}

// markBraces marks a word holding a parallel replacement string as Dynamic.
func markBraces(wd *Word) {
	if i := strings.IndexByte(wd.Value, '{'); i >= 0 && strings.IndexByte(wd.Value[i:], '}') > 0 {
		wd.Dynamic = true
	}
}
