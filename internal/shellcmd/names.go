package shellcmd

import "strings"

// Builtins that take variable names, in which bash evaluates subscripts.

// mapfile -C evaluates a callback as shell code.
func (w *walker) mapfile(idx int, c ctx) {
	var code *Word
	_, ok := (&optSpec{flags: "t", withArg: "dnOsuCc"}).scan(w.args(idx), func(name, val string) {
		if name == "-C" {
			code = &Word{Value: val}
		}
	})
	switch {
	case !ok:
		w.opaque(idx)
	case code != nil:
		w.runCode(idx, "mapfile -C", *code, c)
	}
}

// namesExact reports whether the variable names a builtin is given are
// literal: bash evaluates subscripts in them (read 'a[$(cmd)]'), so a name
// known only at run time may hide code.
func namesExact(base string, cmd *Command) bool {
	names := func(spec *optSpec) bool {
		// Option values reach here only if exact; scan fails otherwise.
		ops, ok := spec.scan(cmd.Args, nil)
		if !ok {
			return false
		}
		for _, o := range ops {
			if !o.exact() {
				return false
			}
		}
		return true
	}
	switch base {
	case "read":
		return names(&optSpec{flags: "ers", withArg: "adinNptu"})
	case "unset":
		return names(&optSpec{flags: "fvn"})
	case "mapfile", "readarray":
		return names(&optSpec{flags: "t", withArg: "dnOsuCc"})
	case "getopts", "printf", "wait", "test", "[":
		for i := 1; i < len(cmd.Args); i++ {
			prev := cmd.Args[i-1]
			if prev.exact() && (prev.Value == "-v" || prev.Value == "-p" && base == "wait" || prev.Value == "-R") && !cmd.Args[i].exact() {
				return false
			}
		}
		if base == "getopts" && len(cmd.Args) > 1 && !cmd.Args[1].exact() {
			return false
		}
	case "declare", "typeset", "local", "export", "readonly":
		for _, a := range cmd.Args {
			if !a.exact() {
				return false
			}
		}
		if declFlag(cmd.Args, 'n') {
			for _, a := range cmd.Assigns {
				if !a.Value.exact() {
					return false // a reference to a variable named at run time
				}
			}
		}
	}
	return true
}

// declFlag reports an option cluster with letter f among declaration args.
func declFlag(args []Word, f byte) bool {
	for _, a := range args {
		if len(a.Value) > 1 && a.Value[0] == '-' && strings.IndexByte(a.Value[1:], f) >= 0 {
			return true
		}
	}
	return false
}
