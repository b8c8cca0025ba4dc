package shellcmd

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Bash evaluates the value of a variable used in arithmetic ($((x)),
// ((x)), let, [[ x -eq 1 ]], ${a[x]}, ${s:x}) as an expression, and an
// array subscript in that value runs command substitutions:
//
//	read x < file; echo $((x))   # file holds  a[$(rm -rf ~)]
//
// So an arithmetic evaluation that reads a variable whose value may come
// from outside the line (read, mapfile, a substitution, a glob, a positional
// parameter, …) is listed as an extra Opaque command. Variables set in the
// line only to literals or to $((…)), and variables the line never sets (the
// environment Warden provides), are trusted.

// site is one arithmetic evaluation.
type site struct {
	at     int // insert before this index of Line.Commands
	text   string
	ctx    Command // Parent, Via, Depth, Pipeline, Stage to give the entry
	names  []string
	forced bool // reads data no analysis can vouch for, e.g. $(( $(cat f) ))
}

// newSite records an arithmetic evaluation at n.
func (w *walker) newSite(n syntax.Node, c ctx) *site {
	s := &site{at: len(w.line.Commands), text: w.cv.text(n)}
	s.ctx.Parent, s.ctx.Via, s.ctx.Depth = c.parent, c.via, c.depth
	if c.pipe != nil {
		s.ctx.Pipeline, s.ctx.Stage = c.pipe.id, c.pipe.cur
	}
	w.sites = append(w.sites, s)
	return s
}

// arith walks an arithmetic expression, noting the variables it reads and
// listing the commands substituted in it.
func (w *walker) arith(e syntax.ArithmExpr, c ctx, s *site) {
	switch x := e.(type) {
	case *syntax.Word:
		for _, p := range x.Parts {
			w.arithPart(p, c, s)
		}
	case *syntax.BinaryArithm:
		w.arith(x.X, c, s)
		w.arith(x.Y, c, s)
	case *syntax.UnaryArithm:
		w.arith(x.X, c, s)
	case *syntax.ParenArithm:
		w.arith(x.X, c, s)
	case *syntax.FlagsArithm:
		if x.X != nil {
			w.arith(x.X, c, s)
		}
	}
}

func (w *walker) arithPart(p syntax.WordPart, c ctx, s *site) {
	switch x := p.(type) {
	case *syntax.Lit:
		s.names = appendIdents(s.names, x.Value)
	case *syntax.SglQuoted:
		s.names = appendIdents(s.names, x.Value)
	case *syntax.DblQuoted:
		for _, q := range x.Parts {
			w.arithPart(q, c, s)
		}
	case *syntax.ParamExp:
		w.param(x, c, s)
	case *syntax.ArithmExp:
		w.arith(x.X, c, s)
	case *syntax.CmdSubst, *syntax.ProcSubst:
		s.forced = true
		w.partSubst(p, c)
	}
}

// appendIdents appends the identifiers in an arithmetic literal (x, a in
// x+a, not 0x1f).
func appendIdents(names []string, s string) []string {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			names = append(names, s[i:j])
			i = j
		case c >= '0' && c <= '9':
			for i < len(s) && (s[i] == '_' || s[i] == '#' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
				i++
			}
		default:
			i++
		}
	}
	return names
}

// taint records a variable whose value may come from outside the line.
func (w *walker) taint(name string) {
	if w.tainted == nil {
		w.tainted = map[string]bool{}
	}
	w.tainted[name] = true
}

// implicitVars are set by the shell from data: the last argument, paths,
// input lines, regex matches, option arguments.
var implicitVars = map[string]bool{
	"_": true, "PWD": true, "OLDPWD": true, "REPLY": true, "OPTARG": true, "BASH_REMATCH": true,
	"MAPFILE": true, "BASH_COMMAND": true, "BASH_EXECUTION_STRING": true, "BASH_ARGV": true,
	"BASH_SOURCE": true, "FUNCNAME": true, "COPROC": true, "READLINE_LINE": true,
	"COMP_LINE": true, "COMP_WORDS": true, "HISTFILE": true, "0": true, "@": true, "*": true,
}

// unsafe reports a variable whose value may hide code.
func (w *walker) unsafe(name string) bool {
	if w.taintAll || w.tainted[name] || implicitVars[name] {
		return true
	}
	return name != "" && name[0] >= '1' && name[0] <= '9' // positional parameters
}

// finish lists an Opaque entry for each arithmetic evaluation that may run
// code, and makes Opaque the declarations that give such a variable the
// integer attribute (every later assignment to it is evaluated).
func (w *walker) finish() {
	cmds := w.line.Commands
	if len(w.sites) == 0 && !w.hasIntDecl() {
		return
	}
	w.taintFromCommands()
	for i := range cmds {
		if names, ok := intDecl(&cmds[i]); ok {
			for _, n := range names {
				if w.unsafe(n) {
					cmds[i].Opaque = true
				}
			}
		}
	}
	var bad []*site
	for _, s := range w.sites {
		ok := !s.forced
		for _, n := range s.names {
			if w.unsafe(n) {
				ok = false
			}
		}
		if !ok {
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return
	}
	out := make([]Command, 0, len(cmds)+len(bad))
	newIndex := make([]int, len(cmds))
	k := 0
	for i := 0; i <= len(cmds); i++ {
		for ; k < len(bad) && bad[k].at == i; k++ {
			s := bad[k]
			text := s.text
			if text == "" {
				text = "$((…))"
			}
			e := s.ctx
			e.Kind, e.Name, e.Opaque = Program, Word{Value: text, Dynamic: true}, true
			out = append(out, e)
		}
		if i < len(cmds) {
			newIndex[i] = len(out)
			out = append(out, cmds[i])
		}
	}
	for i := range out {
		if p := out[i].Parent; p >= 0 && p < len(newIndex) {
			out[i].Parent = newIndex[p]
		}
	}
	w.line.Commands = out
}

func (w *walker) hasIntDecl() bool {
	for i := range w.line.Commands {
		if _, ok := intDecl(&w.line.Commands[i]); ok {
			return true
		}
	}
	return false
}

// intDecl returns the names a declaration gives the integer attribute.
func intDecl(c *Command) ([]string, bool) {
	if c.Kind != Assignment {
		return nil, false
	}
	switch c.Name.Value {
	case "declare", "typeset", "local":
	default:
		return nil, false
	}
	if !declFlag(c.Args, 'i') {
		return nil, false
	}
	var names []string
	for _, a := range c.Assigns {
		names = append(names, a.Name)
	}
	for _, a := range c.Args {
		if !strings.HasPrefix(a.Value, "-") && !strings.HasPrefix(a.Value, "+") {
			names = append(names, a.Value)
		}
	}
	return names, true
}

// taintFromCommands marks the variables the listed commands may set from
// data.
func (w *walker) taintFromCommands() {
	for i := range w.line.Commands {
		cmd := &w.line.Commands[i]
		if cmd.Opaque {
			w.taintAll = true
		}
		for j, a := range cmd.Assigns {
			if a.Value.Dynamic && !w.arithOnly[[2]int{i, j}] || a.Value.Glob || strings.IndexByte(a.Value.Value, '[') >= 0 {
				w.taint(a.Name)
			}
		}
		var targets []string
		switch cmdBase(cmd.Name) {
		case "read":
			targets = operandsAndValues(cmd.Args, &optSpec{flags: "ers", withArg: "adinNptu"}, "-a")
		case "mapfile", "readarray":
			targets = operandsAndValues(cmd.Args, &optSpec{flags: "t", withArg: "dnOsuCc"}, "")
			if len(targets) == 0 {
				targets = []string{"MAPFILE"}
			}
		case "getopts":
			targets = operandsAndValues(cmd.Args, &optSpec{}, "")
		case "printf":
			for k := 0; k+1 < len(cmd.Args); k++ {
				if cmd.Args[k].Value == "-v" {
					targets = append(targets, cmd.Args[k+1].Value)
				}
			}
		case "wait":
			for k := 0; k+1 < len(cmd.Args); k++ {
				if cmd.Args[k].Value == "-p" {
					targets = append(targets, cmd.Args[k+1].Value)
				}
			}
		case "source", ".":
			w.taintAll = true // the script may set any variable
		}
		for _, t := range targets {
			if j := strings.IndexByte(t, '['); j > 0 {
				t = t[:j]
			}
			w.taint(t)
		}
	}
}

// operandsAndValues returns a builtin's operands and the values of the
// option named valued (read -a NAME), ignoring words it cannot read.
func operandsAndValues(args []Word, spec *optSpec, valued string) []string {
	var out []string
	ops, ok := spec.scan(args, func(name, val string) {
		if name == valued {
			out = append(out, val)
		}
	})
	if !ok {
		// namesExact made such a command Opaque, which taints everything.
		return out
	}
	for _, o := range ops {
		out = append(out, o.Value)
	}
	return out
}
