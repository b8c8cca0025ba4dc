package shellcmd

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// walker builds a Line from parsed statements.
type walker struct {
	line      *Line
	cv        wordConv
	pipes     int  // last pipeline id handed out
	nest      int  // current nesting of compound commands
	slowOnly  bool // never take the fast path (differential tests)
	stmtCount int  // statements parsed, to tell an empty line from one running nothing
	err       error

	sites     []*site         // arithmetic evaluations, checked by finish
	tainted   map[string]bool // variables that may hold data from outside the line
	taintAll  bool            // something may have set any variable
	arithOnly map[[2]int]bool // Assigns (command, index) whose value is $((…)) only
}

// ctx is what a command inherits from where it appears.
type ctx struct {
	parent int
	via    string
	depth  int
	chain  int // wrappers between this command and the shell that runs it
	pipe   *pipeState
	redirs []Redirect // redirections of enclosing compound commands
}

// pipeState numbers the stages of a pipeline; pipelines nested in a stage
// continue the numbering of the enclosing one.
type pipeState struct {
	id  int
	cur int
}

func (w *walker) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

// pos formats the position of n in the source being walked.
func (w *walker) pos(n syntax.Node) string {
	p := n.Pos()
	return fmt.Sprintf("%d:%d", p.Line(), p.Col())
}

// deeper returns c one nesting level down, failing past MaxDepth.
func (w *walker) deeper(c ctx, n syntax.Node) (ctx, bool) {
	if c.depth+1 > MaxDepth {
		w.fail("%s: nesting deeper than %d levels", w.pos(n), MaxDepth)
		return c, false
	}
	c.depth++
	return c, true
}

// emit appends cmd with what it inherits from c and returns its index.
func (w *walker) emit(cmd Command, c ctx) int {
	cmd.Parent, cmd.Via, cmd.Depth = c.parent, c.via, c.depth
	if c.pipe != nil {
		cmd.Pipeline, cmd.Stage = c.pipe.id, c.pipe.cur
	}
	if len(c.redirs) > 0 {
		cmd.Redirects = append(cmd.Redirects[:len(cmd.Redirects):len(cmd.Redirects)], c.redirs...)
	}
	if len(cmd.Args) == 0 {
		cmd.Args = nil
	}
	if len(cmd.Assigns) == 0 {
		cmd.Assigns = nil
	}
	if len(cmd.Redirects) == 0 {
		cmd.Redirects = nil
	}
	w.line.Commands = append(w.line.Commands, cmd)
	return len(w.line.Commands) - 1
}

func (w *walker) stmts(list []*syntax.Stmt, c ctx) {
	for _, s := range list {
		if w.err != nil {
			return
		}
		w.stmt(s, c)
	}
}

func (w *walker) stmt(s *syntax.Stmt, c ctx) {
	w.nest++
	defer func() { w.nest-- }()
	if w.nest > maxNest {
		w.fail("%s: commands nested more than %d deep", w.pos(s), maxNest)
		return
	}
	if s.Coprocess {
		w.fail("%s: coprocesses are not supported", w.pos(s))
		return
	}
	redirs := w.redirects(s.Redirs)
	switch x := s.Cmd.(type) {
	case nil:
		if len(redirs) > 0 {
			w.emit(Command{Kind: Assignment, Redirects: redirs}, c)
		}
	case *syntax.CallExpr:
		w.call(x, redirs, c)
	case *syntax.DeclClause:
		w.decl(x, redirs, c)
	case *syntax.LetClause:
		w.let(x, redirs, c)
	case *syntax.TimeClause:
		cmd := Command{Kind: Wrapper, Name: Word{Value: "time"}, Redirects: redirs}
		if x.PosixFormat {
			cmd.Args = []Word{{Value: "-p"}}
		}
		idx := w.emit(cmd, c)
		if x.Stmt != nil {
			c2 := w.inner(idx, "time", c)
			c2.redirs = c.redirs // the keyword runs it in this shell
			w.stmt(x.Stmt, c2)
		}
	case *syntax.CoprocClause:
		w.fail("%s: coprocesses are not supported", w.pos(s))
		return
	default:
		c2 := c
		if len(redirs) > 0 {
			c2.redirs = append(c.redirs[:len(c.redirs):len(c.redirs)], redirs...)
		}
		n := len(w.line.Commands)
		w.compound(x, c2)
		if len(redirs) > 0 && len(w.line.Commands) == n && w.err == nil {
			// Nothing inside carries the redirections; list them anyway.
			w.emit(Command{Kind: Assignment, Redirects: redirs}, c)
		}
	}
	w.redirSubst(s.Redirs, c)
}

// compound walks a command other than a simple command or declaration.
func (w *walker) compound(cmd syntax.Command, c ctx) {
	switch x := cmd.(type) {
	case *syntax.Subshell:
		if c2, ok := w.deeper(c, x); ok {
			w.stmts(x.Stmts, c2)
		}
	case *syntax.Block:
		w.stmts(x.Stmts, c)
	case *syntax.IfClause:
		for ; x != nil; x = x.Else {
			w.stmts(x.Cond, c)
			w.stmts(x.Then, c)
		}
	case *syntax.WhileClause:
		w.stmts(x.Cond, c)
		w.stmts(x.Do, c)
	case *syntax.ForClause:
		switch l := x.Loop.(type) {
		case *syntax.WordIter:
			if x.Select {
				w.taint(l.Name.Value) // select reads the choice from stdin
			}
			if !l.InPos.IsValid() {
				w.taint(l.Name.Value) // iterates over the positional parameters
			}
			for _, item := range l.Items {
				if iw := w.cv.convert(item); !iw.exact() || codeInLiteral(iw.Value) || strings.IndexByte(iw.Value, '[') >= 0 {
					w.taint(l.Name.Value)
				}
				w.wordSubst(item, c)
			}
		case *syntax.CStyleLoop:
			s := w.newSite(l, c)
			for _, e := range []syntax.ArithmExpr{l.Init, l.Cond, l.Post} {
				if e != nil {
					w.arith(e, c, s)
				}
			}
		}
		w.stmts(x.Do, c)
	case *syntax.CaseClause:
		w.wordSubst(x.Word, c)
		for _, item := range x.Items {
			for _, p := range item.Patterns {
				w.wordSubst(p, c)
			}
			w.stmts(item.Stmts, c)
		}
	case *syntax.FuncDecl:
		if x.Body != nil {
			w.stmt(x.Body, c)
		}
	case *syntax.ArithmCmd:
		w.arith(x.X, c, w.newSite(x, c))
	case *syntax.TestClause:
		w.test(x.X, c)
	case *syntax.BinaryCmd:
		if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
			w.pipeline(x, c)
			return
		}
		// a && b || c … nests to the left; walk it as a flat list so a
		// long chain does not count as deep nesting.
		var chain []*syntax.Stmt
		for {
			chain = append(chain, x.Y)
			l := x.X
			if b, ok := l.Cmd.(*syntax.BinaryCmd); ok && b.Op != syntax.Pipe && b.Op != syntax.PipeAll && len(l.Redirs) == 0 {
				x = b
				continue
			}
			chain = append(chain, l)
			break
		}
		for i := len(chain) - 1; i >= 0; i-- {
			w.stmt(chain[i], c)
		}
	}
}

// pipeline walks the stages of a pipeline in order.
func (w *walker) pipeline(x *syntax.BinaryCmd, c ctx) {
	var stages []*syntax.Stmt
	var flatten func(s *syntax.Stmt)
	flatten = func(s *syntax.Stmt) {
		if b, ok := s.Cmd.(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) &&
			len(s.Redirs) == 0 && !s.Negated {
			flatten(b.X)
			flatten(b.Y)
			return
		}
		stages = append(stages, s)
	}
	flatten(x.X)
	flatten(x.Y)
	ps := c.pipe
	if ps == nil {
		w.pipes++
		ps = &pipeState{id: w.pipes}
	}
	c.pipe = ps
	for i, s := range stages {
		if i > 0 {
			ps.cur++
		}
		w.stmt(s, c)
	}
}

// inner returns the context of a command run by the command at idx.
func (w *walker) inner(idx int, via string, c ctx) ctx {
	if c.chain+1 > maxChain {
		w.fail("commands wrapped more than %d deep", maxChain)
	}
	return ctx{parent: idx, via: via, depth: c.depth, chain: c.chain + 1, pipe: c.pipe}
}

// call walks a simple command. The command is listed before the commands
// substituted in its words, prefix assignments included.
func (w *walker) call(x *syntax.CallExpr, redirs []Redirect, c ctx) {
	var assigns []Assign
	var arith []bool
	for _, a := range x.Assigns {
		if a.Name != nil {
			assigns = append(assigns, w.convAssign(a))
			arith = append(arith, onlyArith(a.Value))
		}
	}
	var idx int
	if len(x.Args) == 0 {
		idx = w.command(Command{Kind: Assignment, Assigns: assigns, Redirects: redirs}, c)
	} else {
		words := make([]Word, len(x.Args))
		for i, a := range x.Args {
			words[i] = w.cv.convert(a)
		}
		idx = w.simple(words, assigns, redirs, c)
	}
	w.markArith(idx, arith)
	for _, a := range x.Assigns {
		w.walkAssign(a, c)
	}
	for _, a := range x.Args {
		w.wordSubst(a, c)
	}
}

// convAssign converts a parser assignment.
func (w *walker) convAssign(a *syntax.Assign) Assign {
	as := Assign{Name: a.Name.Value, Append: a.Append}
	switch {
	case a.Array != nil:
		as.Value = Word{Value: w.cv.text(a.Array), Dynamic: true}
	case a.Value != nil:
		as.Value = w.cv.convert(a.Value)
	}
	return as
}

// walkAssign walks the commands and arithmetic inside an assignment.
func (w *walker) walkAssign(a *syntax.Assign, c ctx) {
	if a.Index != nil {
		w.arith(a.Index, c, w.newSite(a, c))
	}
	if a.Array != nil {
		for _, e := range a.Array.Elems {
			if e.Index != nil {
				w.arith(e.Index, c, w.newSite(e, c))
			}
			w.wordSubst(e.Value, c)
		}
	}
	w.wordSubst(a.Value, c)
}

// onlyArith reports a word that is a single $((…)): its value is a number.
func onlyArith(wd *syntax.Word) bool {
	if wd == nil || len(wd.Parts) != 1 {
		return false
	}
	_, ok := wd.Parts[0].(*syntax.ArithmExp)
	return ok
}

func (w *walker) markArith(idx int, arith []bool) {
	for j, ok := range arith {
		if ok {
			if w.arithOnly == nil {
				w.arithOnly = map[[2]int]bool{}
			}
			w.arithOnly[[2]int{idx, j}] = true
		}
	}
}

// decl walks a declaration builtin (export, declare, local, readonly, typeset).
func (w *walker) decl(x *syntax.DeclClause, redirs []Redirect, c ctx) {
	cmd := Command{Kind: Assignment, Name: Word{Value: x.Variant.Value}, Redirects: redirs}
	var arith []bool
	for _, a := range x.Args {
		switch {
		case a.Naked && a.Name != nil:
			cmd.Args = append(cmd.Args, Word{Value: a.Name.Value})
		case a.Naked && a.Value != nil:
			wd := w.cv.convert(a.Value)
			if as, ok := splitAssign(wd); ok {
				cmd.Assigns = append(cmd.Assigns, as)
				arith = append(arith, false)
			} else {
				cmd.Args = append(cmd.Args, wd)
			}
		case a.Name != nil:
			cmd.Assigns = append(cmd.Assigns, w.convAssign(a))
			arith = append(arith, onlyArith(a.Value))
		}
	}
	idx := w.command(cmd, c)
	w.markArith(idx, arith)
	for _, a := range x.Args {
		w.walkAssign(a, c)
	}
}

// splitAssign turns a literal NAME=VALUE word into an assignment, as a
// declaration builtin does with a quoted argument ("PATH=/x").
func splitAssign(wd Word) (Assign, bool) {
	if wd.Dynamic {
		return Assign{}, false
	}
	i := strings.IndexByte(wd.Value, '=')
	if i <= 0 {
		return Assign{}, false
	}
	name, appendOp := wd.Value[:i], false
	if name[len(name)-1] == '+' {
		name, appendOp = name[:len(name)-1], true
	}
	if j := strings.IndexByte(name, '['); j > 0 {
		name = name[:j]
	}
	if !validName(name) {
		return Assign{}, false
	}
	v := wd.Value[i+1:]
	return Assign{Name: name, Append: appendOp, Value: Word{Value: v, Glob: wd.Glob, Tilde: len(v) > 0 && v[0] == '~'}}, true
}

// let walks the let builtin, whose arguments are arithmetic.
func (w *walker) let(x *syntax.LetClause, redirs []Redirect, c ctx) {
	cmd := Command{Kind: Program, Name: Word{Value: "let"}, Redirects: redirs}
	for _, e := range x.Exprs {
		t := w.cv.text(e)
		cmd.Args = append(cmd.Args, Word{Value: t, Dynamic: strings.ContainsAny(t, "$`")})
	}
	w.command(cmd, c)
	for _, e := range x.Exprs {
		w.arith(e, c, w.newSite(e, c))
	}
}

// redirects converts the redirections of a statement.
func (w *walker) redirects(list []*syntax.Redirect) []Redirect {
	if len(list) == 0 {
		return nil
	}
	out := make([]Redirect, 0, len(list))
	for _, r := range list {
		rd := Redirect{Op: r.Op.String(), Target: w.cv.convert(r.Word)}
		if r.N != nil {
			rd.FD = r.N.Value
		}
		switch r.Op {
		case syntax.RdrIn:
			rd.Reads = true
		case syntax.RdrInOut:
			rd.Reads, rd.Writes = true, true
		case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.AppClob,
			syntax.RdrAll, syntax.AppAll, syntax.RdrAllClob, syntax.AppAllClob:
			rd.Writes = true
		case syntax.DplIn, syntax.DplOut:
			rd.Writes = !fdTarget(rd.Target)
		}
		out = append(out, rd)
	}
	return out
}

// fdTarget reports a dup target that names a descriptor (2, 3-) or closes (-).
func fdTarget(t Word) bool {
	if !t.exact() || t.Value == "" {
		return false
	}
	v := t.Value
	if v == "-" {
		return true
	}
	if v[len(v)-1] == '-' {
		v = v[:len(v)-1]
	}
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// redirSubst walks what runs inside redirection words and heredoc bodies.
func (w *walker) redirSubst(list []*syntax.Redirect, c ctx) {
	for _, r := range list {
		w.wordSubst(r.Word, c)
		w.wordSubst(r.Hdoc, c)
	}
}

// wordSubst walks the commands and arithmetic inside a word.
func (w *walker) wordSubst(wd *syntax.Word, c ctx) {
	if wd == nil {
		return
	}
	for _, p := range wd.Parts {
		w.partSubst(p, c)
	}
}

func (w *walker) partSubst(p syntax.WordPart, c ctx) {
	if w.err != nil {
		return
	}
	switch x := p.(type) {
	case *syntax.DblQuoted:
		for _, q := range x.Parts {
			w.partSubst(q, c)
		}
	case *syntax.CmdSubst:
		if c2, ok := w.deeper(c, x); ok {
			w.stmts(x.Stmts, c2)
		}
	case *syntax.ProcSubst:
		if c2, ok := w.deeper(c, x); ok {
			w.stmts(x.Stmts, c2)
		}
	case *syntax.ArithmExp:
		w.arith(x.X, c, w.newSite(x, c))
	case *syntax.ParamExp:
		w.param(x, c, nil)
	}
}

// param walks a parameter expansion. In arithmetic (s != nil) the expanded
// value is evaluated too, so the parameter counts as read by s.
func (w *walker) param(x *syntax.ParamExp, c ctx, s *site) {
	if s != nil && x.Param != nil {
		s.names = append(s.names, x.Param.Value)
	}
	if x.Index != nil && !starIndex(x.Index) {
		is := s
		if is == nil {
			is = w.newSite(x, c)
		}
		w.arith(x.Index, c, is)
	}
	if x.Slice != nil {
		ss := s
		if ss == nil {
			ss = w.newSite(x, c)
		}
		if x.Slice.Offset != nil {
			w.arith(x.Slice.Offset, c, ss)
		}
		if x.Slice.Length != nil {
			w.arith(x.Slice.Length, c, ss)
		}
	}
	if x.Excl && x.Names == 0 && x.Param != nil {
		// ${!x} expands the variable named by x's value, subscript and all.
		is := s
		if is == nil {
			is = w.newSite(x, c)
		}
		is.names = append(is.names, x.Param.Value)
	}
	if x.Exp != nil {
		if x.Exp.Op == syntax.OtherParamOps && x.Exp.Word != nil && strings.IndexByte(x.Exp.Word.Lit(), 'P') >= 0 {
			// ${x@P} expands x's value as a prompt, running any $(…) in it.
			w.newSite(x, c).forced = true
		}
		w.subWord(x.Exp.Word, c, s)
	}
	if x.Repl != nil {
		w.subWord(x.Repl.Orig, c, s)
		w.subWord(x.Repl.With, c, s)
	}
}

// subWord walks a word nested in a parameter expansion.
func (w *walker) subWord(wd *syntax.Word, c ctx, s *site) {
	if wd == nil {
		return
	}
	if s == nil {
		w.wordSubst(wd, c)
		return
	}
	w.arith(wd, c, s)
}

// starIndex reports the subscript of ${a[@]} or ${a[*]}.
func starIndex(e syntax.ArithmExpr) bool {
	wd, ok := e.(*syntax.Word)
	if !ok {
		return false
	}
	l := wd.Lit()
	return l == "@" || l == "*"
}

// test walks a [[ … ]] expression.
func (w *walker) test(e syntax.TestExpr, c ctx) {
	switch x := e.(type) {
	case *syntax.BinaryTest:
		switch x.Op {
		case syntax.TsEql, syntax.TsNeq, syntax.TsLeq, syntax.TsGeq, syntax.TsLss, syntax.TsGtr:
			// Both operands are evaluated as arithmetic.
			s := w.newSite(x, c)
			w.testArith(x.X, c, s)
			w.testArith(x.Y, c, s)
		default:
			w.test(x.X, c)
			w.test(x.Y, c)
		}
	case *syntax.UnaryTest:
		if x.Op == syntax.TsVarSet || x.Op == syntax.TsRefVar {
			// -v and -R evaluate a subscript in the operand's value.
			if wd, ok := x.X.(*syntax.Word); ok {
				v := w.cv.convert(wd)
				if !v.exact() || codeInLiteral(v.Value) {
					w.newSite(x, c).forced = true
				}
			}
		}
		w.test(x.X, c)
	case *syntax.ParenTest:
		w.test(x.X, c)
	case *syntax.Word:
		w.wordSubst(x, c)
	}
}

func (w *walker) testArith(e syntax.TestExpr, c ctx, s *site) {
	if wd, ok := e.(*syntax.Word); ok {
		w.arith(wd, c, s)
		return
	}
	w.test(e, c)
}
