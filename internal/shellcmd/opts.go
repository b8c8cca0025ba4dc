package shellcmd

import "strings"

// optSpec describes the options of a command that runs other commands, so
// that the command it runs can be found. Anything not described is treated
// as unknown: the caller then marks the command Opaque rather than guess
// where the inner command starts.
type optSpec struct {
	flags   string // short options without an argument
	withArg string // short options with an argument (attached or next word)
	optArg  string // short options with an optional attached argument (-i{})
	// long lists long options: "name", "name=" (takes an argument, attached
	// or next word) or "name=?" (optional argument, attached only). GNU
	// unambiguous prefixes are accepted.
	long []string
	// permute keeps reading options after operands, as GNU getopt does for
	// su; the default stops at the first operand, as wrappers do.
	permute bool
}

// scan reads options from args, calling fn with each option's canonical
// name ("-x" or "--name") and its value. It returns the operands. ok is false
// when an option is unknown or lacks its argument, or when a word that could
// be an option is not exact (a Dynamic or Glob word may expand to options).
func (o *optSpec) scan(args []Word, fn func(name, val string)) (operands []Word, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !a.exact() {
			if p := a.literalPrefix(); p == "" || p[0] == '-' || o.permute && a.splits() {
				return nil, false
			}
			if !o.permute {
				return args[i:], true
			}
			operands = append(operands, a)
			continue
		}
		v := a.Value
		if v == "--" {
			return append(operands, args[i+1:]...), true
		}
		if len(v) < 2 || v[0] != '-' {
			if !o.permute {
				return args[i:], true
			}
			operands = append(operands, a)
			continue
		}
		if v[1] == '-' {
			name, val, hasVal := strings.Cut(v[2:], "=")
			full, kind := o.longOpt(name)
			switch {
			case kind == "":
				return nil, false
			case kind == "=?" || kind == "flag":
				if hasVal && kind == "flag" {
					return nil, false
				}
			case kind == "=" && !hasVal:
				if i+1 >= len(args) || !args[i+1].exact() {
					return nil, false
				}
				i++
				val = args[i].Value
			}
			if fn != nil {
				fn("--"+full, val)
			}
			continue
		}
		for j := 1; j < len(v); j++ {
			ch := v[j]
			switch {
			case strings.IndexByte(o.flags, ch) >= 0:
				if fn != nil {
					fn("-"+string(ch), "")
				}
				continue
			case strings.IndexByte(o.optArg, ch) >= 0:
				if fn != nil {
					fn("-"+string(ch), v[j+1:])
				}
			case strings.IndexByte(o.withArg, ch) >= 0:
				val := v[j+1:]
				if val == "" {
					if i+1 >= len(args) || !args[i+1].exact() {
						return nil, false
					}
					i++
					val = args[i].Value
				}
				if fn != nil {
					fn("-"+string(ch), val)
				}
			default:
				return nil, false
			}
			break
		}
	}
	return operands, true
}

// longOpt resolves a long option name, exactly or by unambiguous prefix. kind
// is "flag", "=", "=?" or "" when unknown or ambiguous.
func (o *optSpec) longOpt(name string) (full, kind string) {
	if name == "" {
		return "", ""
	}
	found := 0
	for _, l := range o.long {
		n, k := l, "flag"
		if i := strings.IndexByte(l, '='); i >= 0 {
			n, k = l[:i], l[i:]
		}
		if n == name {
			return n, k
		}
		if strings.HasPrefix(n, name) {
			full, kind = n, k
			found++
		}
	}
	if found != 1 {
		return "", ""
	}
	return full, kind
}
