package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardenhq/warden/internal/warden"
)

// The command runner. Warden runs a command line itself, from the syntax
// tree the policy engine's parser gives (mvdan.cc/sh/v3/syntax, bash
// variant), expanding words with mvdan.cc/sh/v3/expand: no shell process
// ever reads the agent's text. Programs are started directly with their
// argument vectors, each re-checked against the policy as it is really
// started, and every file a redirection opens goes through the project
// root and is checked as the file action it is.
//
// It runs simple commands with prefix assignments and redirections (<, >,
// >>, >|, <>, &>, &>>, N>&M, <<, <<-, <<<), joined by ;, &&, || and |, and
// the builtins cd, exit and :. With scope.shell it also runs ( ) and { }
// groups, if, while, until, for NAME in …, export NAME[=VALUE] and (( )),
// and expands parameters, $(…) and `…`, $((…)), brace expansion and globs.
// Anything else (functions, case, [[ ]], arrays, background jobs, process
// substitution, other builtins) is refused before anything runs; a policy
// that allows bash can run such a script with bash -c, which the engine
// follows and checks. Other familiar commands (echo, printf, test, true,
// false, pwd) run as the programs of those names.

// shMaxSubstDepth bounds command substitutions nested in one another.
const shMaxSubstDepth = 8

// shStdio is a command's standard streams. in may be nil (no input).
type shStdio struct {
	in       io.Reader
	out, err io.Writer
}

// shFailure is a non-fatal failure of the runner itself (a missing
// redirection file, a bad expansion): said on stderr, it sets the status
// as a shell would.
type shFailure struct {
	msg    string
	status int
	// stop ends the whole command line, as a shell ends a script on an
	// expansion error.
	stop bool
}

func (e *shFailure) Error() string { return e.msg }

// shChangedFiles collects the files redirections opened for writing, across
// the goroutines of a pipeline.
type shChangedFiles struct {
	mu    sync.Mutex
	files []string
}

func (c *shChangedFiles) add(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.files, rel) {
		c.files = append(c.files, rel)
	}
}

func (c *shChangedFiles) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.files)
}

// shellRunner holds one shell's state; a subshell, a pipeline stage and a
// command substitution each get a copy.
type shellRunner struct {
	env   *Env
	start string // the action's directory
	// base is the exported environment the line started with.
	base   map[string]string
	static map[string]bool
	envIn  map[string]string
	shell  bool // scope.shell: expansions and compound commands
	files  *shChangedFiles

	vars   map[string]expand.Variable
	dir    string
	status int
	exited bool
	depth  int
}

func newShellRunner(env *Env, dir string, environ []string, s *commandSpec) *shellRunner {
	r := &shellRunner{env: env, start: dir, static: shStaticArgvs(s.file), envIn: s.env,
		shell: shellAllowed(env.Policy), files: &shChangedFiles{}, vars: map[string]expand.Variable{}, dir: dir}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			r.vars[k] = expand.Variable{Set: true, Exported: true, Kind: expand.String, Str: v}
		}
	}
	r.setVar("PWD", dir, true)
	r.base = r.exported()
	return r
}

// exported is the runner's exported string variables.
func (r *shellRunner) exported() map[string]string {
	vals := map[string]string{}
	for k, v := range r.vars {
		if v.IsSet() && v.Exported && v.Kind == expand.String {
			vals[k] = v.Str
		}
	}
	return vals
}

// run runs a line that shSupported accepted and returns its exit status.
// The error is fatal: a refusal, the context's end.
func (r *shellRunner) run(ctx context.Context, f *syntax.File, sio shStdio) (int, error) {
	err := r.stmts(ctx, f.Stmts, sio)
	return r.status, err
}

func (r *shellRunner) subshell() *shellRunner {
	c := *r
	c.vars = make(map[string]expand.Variable, len(r.vars))
	for k, v := range r.vars {
		c.vars[k] = v
	}
	c.exited = false
	return &c
}

func (r *shellRunner) setVar(name, val string, export bool) {
	old := r.vars[name]
	r.vars[name] = expand.Variable{Set: true, Exported: export || old.Exported, Kind: expand.String, Str: val}
}

// shEnviron is the runner's variables as expansion sees them, with the
// special parameters.
type shEnviron struct{ r *shellRunner }

func (e shEnviron) Get(name string) expand.Variable {
	str := func(s string) expand.Variable { return expand.Variable{Set: true, Kind: expand.String, Str: s} }
	switch name {
	case "?":
		return str(strconv.Itoa(e.r.status))
	case "$":
		return str(strconv.Itoa(os.Getpid()))
	case "#":
		return str("0")
	case "0":
		return str("sh")
	case "PWD":
		return str(e.r.dir)
	}
	return e.r.vars[name]
}

func (e shEnviron) Each(fn func(string, expand.Variable) bool) {
	for k, v := range e.r.vars {
		if !fn(k, v) {
			return
		}
	}
}

func (e shEnviron) Set(name string, vr expand.Variable) error {
	old := e.r.vars[name]
	switch {
	case !vr.IsSet() && vr.Kind != expand.KeepValue:
		delete(e.r.vars, name)
	case vr.Kind == expand.KeepValue:
		old.Exported = old.Exported || vr.Exported
		e.r.vars[name] = old
	default:
		vr.Exported = vr.Exported || old.Exported
		e.r.vars[name] = vr
	}
	return nil
}

// config is the expansion configuration for one command.
func (r *shellRunner) config(ctx context.Context, sio shStdio) *expand.Config {
	cfg := &expand.Config{Env: shEnviron{r}, ReadDir2: r.readDir}
	if r.shell {
		cfg.CmdSubst = func(w io.Writer, cs *syntax.CmdSubst) error {
			if r.depth >= shMaxSubstDepth {
				return warden.Errorf(warden.CodeInvalidInput, "input.command: command substitutions nested deeper than %d", shMaxSubstDepth)
			}
			sub := r.subshell()
			sub.depth++
			// What a substitution prints becomes a word: keep a bounded
			// amount of it.
			out := &cmdCapture{limit: MaxCapture}
			err := sub.stmts(ctx, cs.Stmts, shStdio{in: sio.in, out: out, err: sio.err})
			r.status = sub.status
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, out.String())
			return err
		}
	}
	return cfg
}

// readDir lists a directory for globbing, relative to the runner's
// directory.
func (r *shellRunner) readDir(p string) ([]fs.DirEntry, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.dir, p)
	}
	return os.ReadDir(p)
}

// fail says a non-fatal error on stderr and sets the status; an
// expansion error ends the line.
func (r *shellRunner) fail(sio shStdio, err error) error {
	var se *shFailure
	if !errors.As(err, &se) {
		return err
	}
	fmt.Fprintf(sio.err, "warden: %s\n", se.msg)
	r.status = se.status
	if se.stop {
		r.exited = true
	}
	return nil
}

func (r *shellRunner) stmts(ctx context.Context, list []*syntax.Stmt, sio shStdio) error {
	for _, st := range list {
		if err := r.stmt(ctx, st, sio); err != nil {
			return err
		}
		if r.exited {
			return nil
		}
	}
	return nil
}

func (r *shellRunner) stmt(ctx context.Context, st *syntax.Stmt, sio shStdio) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rio, closeAll, err := r.redirect(ctx, st.Redirs, sio)
	defer closeAll()
	if err != nil {
		return r.fail(sio, err)
	}
	if err := r.command(ctx, st.Cmd, rio); err != nil {
		return r.fail(rio, err)
	}
	if st.Negated {
		r.status = shStatus(r.status != 0)
	}
	return nil
}

func shStatus(ok bool) int {
	if ok {
		return 0
	}
	return 1
}

func (r *shellRunner) command(ctx context.Context, cmd syntax.Command, sio shStdio) error {
	switch c := cmd.(type) {
	case nil:
		r.status = 0
		return nil
	case *syntax.CallExpr:
		return r.call(ctx, c, sio)
	case *syntax.BinaryCmd:
		if c.Op == syntax.Pipe || c.Op == syntax.PipeAll {
			return r.pipe(ctx, c, sio)
		}
		if err := r.stmt(ctx, c.X, sio); err != nil || r.exited {
			return err
		}
		if (r.status == 0) == (c.Op == syntax.AndStmt) {
			return r.stmt(ctx, c.Y, sio)
		}
		return nil
	case *syntax.Subshell:
		sub := r.subshell()
		err := sub.stmts(ctx, c.Stmts, sio)
		r.status = sub.status
		return err
	case *syntax.Block:
		return r.stmts(ctx, c.Stmts, sio)
	case *syntax.IfClause:
		for clause := c; clause != nil; clause = clause.Else {
			if len(clause.Cond) == 0 { // else
				return r.stmts(ctx, clause.Then, sio)
			}
			if err := r.stmts(ctx, clause.Cond, sio); err != nil || r.exited {
				return err
			}
			if r.status == 0 {
				return r.stmts(ctx, clause.Then, sio)
			}
		}
		r.status = 0
		return nil
	case *syntax.WhileClause:
		status := 0
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.stmts(ctx, c.Cond, sio); err != nil || r.exited {
				return err
			}
			if (r.status == 0) == c.Until {
				break
			}
			if err := r.stmts(ctx, c.Do, sio); err != nil || r.exited {
				return err
			}
			status = r.status
		}
		r.status = status
		return nil
	case *syntax.ForClause:
		it := c.Loop.(*syntax.WordIter)
		items, err := expand.Fields(r.config(ctx, sio), it.Items...)
		if err != nil {
			return shExpansionError(err)
		}
		r.status = 0
		for _, item := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			r.setVar(it.Name.Value, item, false)
			if err := r.stmts(ctx, c.Do, sio); err != nil || r.exited {
				return err
			}
		}
		return nil
	case *syntax.DeclClause:
		cfg := r.config(ctx, sio)
		for _, as := range c.Args {
			if as.Value == nil && as.Naked {
				old := r.vars[as.Name.Value]
				old.Exported = true
				r.vars[as.Name.Value] = old
				continue
			}
			v, err := expand.Literal(cfg, as.Value)
			if err != nil {
				return shExpansionError(err)
			}
			r.setVar(as.Name.Value, v, true)
		}
		r.status = 0
		return nil
	case *syntax.ArithmCmd:
		n, err := expand.Arithm(r.config(ctx, sio), c.X)
		if err != nil {
			return shExpansionError(err)
		}
		r.status = shStatus(n != 0)
		return nil
	}
	return warden.Errorf(warden.CodeInvalidInput, "input.command: %s at %s is not supported", shCompoundName(cmd), cmd.Pos())
}

// shExpansionError keeps fatal errors (a refused substitution) and turns the
// others into the shell's "bad expansion" exit.
func shExpansionError(err error) error {
	var we *warden.Error
	if errors.As(err, &we) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &shFailure{msg: err.Error(), status: 1, stop: true}
}

// call runs a simple command: assignments, then a builtin or a program.
func (r *shellRunner) call(ctx context.Context, c *syntax.CallExpr, sio shStdio) error {
	cfg := r.config(ctx, sio)
	type assign struct{ name, val string }
	var assigns []assign
	for _, as := range c.Assigns {
		v, err := expand.Literal(cfg, as.Value)
		if err != nil {
			return shExpansionError(err)
		}
		if as.Append {
			v = shEnviron{r}.Get(as.Name.Value).String() + v
		}
		assigns = append(assigns, assign{as.Name.Value, v})
	}
	argv, err := expand.Fields(cfg, c.Args...)
	if err != nil {
		return shExpansionError(err)
	}
	if len(argv) == 0 {
		for _, a := range assigns {
			r.setVar(a.name, a.val, false)
		}
		if len(c.Args) == 0 {
			r.status = 0
		}
		return nil
	}
	switch argv[0] {
	case ":":
		r.status = 0
		return nil
	case "cd":
		return r.cd(argv, sio)
	case "exit":
		r.exited = true
		if len(argv) > 1 {
			n, err := strconv.Atoi(argv[1])
			if err != nil {
				return &shFailure{msg: "exit: " + argv[1] + ": numeric argument required", status: 2, stop: true}
			}
			r.status = n & 0xff
		}
		return nil
	}
	extra := map[string]string{}
	for _, a := range assigns {
		extra[a.name] = a.val
	}
	return r.exec(ctx, argv, extra, sio)
}

func (r *shellRunner) cd(argv []string, sio shStdio) error {
	target := ""
	switch {
	case len(argv) > 2:
		return &shFailure{msg: "cd: too many arguments", status: 1}
	case len(argv) == 1:
		target = r.vars["HOME"].String()
	case argv[1] == "-":
		target = r.vars["OLDPWD"].String()
	default:
		target = argv[1]
	}
	if target == "" {
		return &shFailure{msg: "cd: no directory", status: 1}
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(r.dir, target)
	}
	fi, err := os.Stat(target)
	if err != nil || !fi.IsDir() {
		return &shFailure{msg: "cd: " + argv[len(argv)-1] + ": not a directory", status: 1}
	}
	r.setVar("OLDPWD", r.dir, false)
	r.dir = filepath.Clean(target)
	r.setVar("PWD", r.dir, false)
	r.status = 0
	if len(argv) == 2 && argv[1] == "-" {
		fmt.Fprintln(sio.out, r.dir)
	}
	return nil
}

// exec starts a program. Unless the engine already checked exactly this
// argv, in the action's directory and environment, it is evaluated as the
// command:run action it really is: with the variables the line changed
// and the command's own assignments as its env.
func (r *shellRunner) exec(ctx context.Context, argv []string, extra map[string]string, sio shStdio) error {
	changed := map[string]string{}
	for k, v := range r.exported() {
		if old, ok := r.base[k]; !ok || old != v {
			changed[k] = v
		}
	}
	if r.dir != r.start || len(extra) > 0 || len(changed) > 0 || !r.static[shArgvKey(argv)] {
		derived := Input{"command": argv[0], "args": cmdAnySlice(argv[1:]), "cwd": r.dir}
		if envIn := cmdEnvInput(r.envIn, changed, extra); envIn != nil {
			derived["env"] = envIn
		}
		if err := r.env.Check(ctx, "command:run", derived); err != nil {
			return err
		}
	}
	prog, ok := cmdLookPath(r.dir, r.vars["PATH"].String(), argv[0])
	if !ok {
		fmt.Fprintf(sio.err, "warden: %s: command not found\n", argv[0])
		r.status = 127
		return nil
	}
	code, err := cmdRunProcess(ctx, prog, argv, r.environ(extra), r.dir, sio.in, sio.out, sio.err)
	if err != nil {
		return err
	}
	r.status = code
	return nil
}

// cmdEnvInput merges string maps into one JSON-shaped object; nil when empty.
func cmdEnvInput(ms ...map[string]string) map[string]any {
	var out map[string]any
	for _, m := range ms {
		for k, v := range m {
			if out == nil {
				out = map[string]any{}
			}
			out[k] = v
		}
	}
	return out
}

// environ is the environment of a program: the exported variables, and
// the command's own assignments.
func (r *shellRunner) environ(extra map[string]string) []string {
	vals := r.exported()
	for k, v := range extra {
		vals[k] = v
	}
	out := make([]string, 0, len(vals))
	for _, k := range cmdSortedKeys(vals) {
		out = append(out, k+"="+vals[k])
	}
	return out
}

// pipe runs both sides of a pipe at once, each in a subshell, the left
// one's output feeding the right one's input. The status is the right
// side's.
func (r *shellRunner) pipe(ctx context.Context, c *syntax.BinaryCmd, sio shStdio) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	left, right := r.subshell(), r.subshell()
	lio := shStdio{in: sio.in, out: pw, err: sio.err}
	if c.Op == syntax.PipeAll {
		lio.err = pw
	}
	var lerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		lerr = left.stmt(ctx, c.X, lio)
		pw.Close()
	}()
	rerr := right.stmt(ctx, c.Y, shStdio{in: pr, out: sio.out, err: sio.err})
	pr.Close()
	<-done
	r.status = right.status
	if rerr != nil {
		return rerr
	}
	return lerr
}

// redirect applies a statement's redirections to its streams. closeAll
// closes the files it opened.
func (r *shellRunner) redirect(ctx context.Context, rs []*syntax.Redirect, sio shStdio) (shStdio, func(), error) {
	var opened []io.Closer
	closeAll := func() {
		for _, c := range opened {
			c.Close()
		}
	}
	if len(rs) == 0 {
		return sio, closeAll, nil
	}
	cfg := r.config(ctx, sio)
	for _, rd := range rs {
		fd := 1
		switch rd.Op {
		case syntax.RdrIn, syntax.RdrInOut, syntax.DplIn, syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
			fd = 0
		}
		if rd.N != nil {
			fd, _ = strconv.Atoi(rd.N.Value) // shSupported() allows only 0, 1 and 2
		}
		switch rd.Op {
		case syntax.Hdoc, syntax.DashHdoc:
			body, err := expand.Document(cfg, rd.Hdoc)
			if err != nil {
				return sio, closeAll, shExpansionError(err)
			}
			sio.in = strings.NewReader(body)
			continue
		}
		word, err := expand.Literal(cfg, rd.Word)
		if err != nil {
			return sio, closeAll, shExpansionError(err)
		}
		switch rd.Op {
		case syntax.WordHdoc:
			sio.in = strings.NewReader(word + "\n")
			continue
		case syntax.DplOut, syntax.DplIn:
			if err := shDup(&sio, fd, word); err != nil {
				return sio, closeAll, err
			}
			continue
		}
		var flag int
		switch rd.Op {
		case syntax.RdrOut, syntax.ClbOut, syntax.RdrAll:
			flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		case syntax.AppOut, syntax.AppAll:
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		case syntax.RdrIn:
			flag = os.O_RDONLY
		case syntax.RdrInOut:
			flag = os.O_RDWR | os.O_CREATE
		}
		f, err := r.open(ctx, word, flag, sio)
		if err != nil {
			return sio, closeAll, err
		}
		opened = append(opened, f)
		switch {
		case rd.Op == syntax.RdrAll || rd.Op == syntax.AppAll:
			sio.out, sio.err = f, f
		case fd == 0:
			sio.in = f
		case fd == 1:
			sio.out = f
		case fd == 2:
			sio.err = f
		}
	}
	return sio, closeAll, nil
}

// shDup makes descriptor fd a copy of the one word names, or closes it
// for "-".
func shDup(sio *shStdio, fd int, word string) error {
	if word == "-" {
		switch fd {
		case 0:
			sio.in = nil
		case 1:
			sio.out = io.Discard
		case 2:
			sio.err = io.Discard
		}
		return nil
	}
	var w io.Writer
	switch word {
	case "0":
		if fd == 0 {
			return nil
		}
		return &shFailure{msg: fmt.Sprintf("%d>&0: standard input cannot be written", fd), status: 1}
	case "1":
		w = sio.out
	case "2":
		w = sio.err
	default:
		return &shFailure{msg: fmt.Sprintf("%d>&%s: only descriptors 0, 1 and 2 exist", fd, word), status: 1}
	}
	switch fd {
	case 1:
		sio.out = w
	case 2:
		sio.err = w
	default:
		return &shFailure{msg: fmt.Sprintf("%d>&%s: standard input cannot be an output", fd, word), status: 1}
	}
	return nil
}

// open opens a redirection's file under the project root, checked as the
// file:read or file:write action it is. A missing file is the shell's
// ordinary error; anything refused stops the command line.
func (r *shellRunner) open(ctx context.Context, name string, flag int, sio shStdio) (io.ReadWriteCloser, error) {
	switch name {
	case "/dev/null", "/dev/zero":
		return os.OpenFile(name, flag, 0)
	case "/dev/stdout":
		return shStream{Writer: sio.out}, nil
	case "/dev/stderr":
		return shStream{Writer: sio.err}, nil
	case "/dev/stdin":
		return shStream{Reader: sio.in}, nil
	}
	if name == "" {
		return nil, &shFailure{msg: "ambiguous redirect", status: 1}
	}
	abs := name
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(r.dir, name)
	}
	rel, err := r.env.Rel(abs)
	if err != nil {
		return nil, err
	}
	kind := "file:read"
	writes := flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0
	if writes {
		kind = "file:write"
	}
	f, _, err := r.env.OpenChecked(ctx, kind, Input{"path": abs}, "path", rel, flag, 0o644)
	if err != nil {
		if code := warden.ErrorCode(err); code == warden.CodeNotFound || code == warden.CodeForbidden {
			return nil, &shFailure{msg: name + ": " + warden.ErrorMessage(err), status: 1}
		}
		return nil, err
	}
	if writes {
		r.files.add(rel)
	}
	return f, nil
}

// shSupported refuses, before anything runs, what the runner does not run.
func shSupported(f *syntax.File) error {
	var bad error
	refuse := func(n syntax.Node, what string) {
		if bad == nil {
			bad = warden.Errorf(warden.CodeInvalidInput, "input.command: %s at %s is not supported by Warden's command runner; if the policy allows bash, run it with bash -c", what, n.Pos())
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.Stmt:
			if x.Background || x.Coprocess || x.Disown {
				refuse(x, "a background job (&)")
			}
		case *syntax.CaseClause, *syntax.FuncDecl, *syntax.TestClause, *syntax.LetClause,
			*syntax.TimeClause, *syntax.CoprocClause, *syntax.TestDecl:
			refuse(x, shCompoundName(x.(syntax.Command)))
		case *syntax.ForClause:
			if _, ok := x.Loop.(*syntax.WordIter); !ok || x.Select {
				refuse(x, "a C-style for or select loop")
			}
		case *syntax.DeclClause:
			if x.Variant.Value != "export" {
				refuse(x, x.Variant.Value)
			}
		case *syntax.Assign:
			if x.Name == nil || x.Index != nil || x.Array != nil {
				refuse(x, "an array, indexed or computed assignment")
			}
		case *syntax.ProcSubst:
			refuse(x, "a process substitution")
		case *syntax.CmdSubst:
			if x.TempFile || x.ReplyVar {
				refuse(x, "a mksh substitution")
			}
		case *syntax.Redirect:
			if x.N != nil && x.N.Value != "0" && x.N.Value != "1" && x.N.Value != "2" {
				refuse(x, "a redirection of descriptor "+x.N.Value)
			}
			if x.Op == syntax.RdrAllClob || x.Op == syntax.AppAllClob {
				refuse(x, "the redirection "+x.Op.String())
			}
		}
		return bad == nil
	})
	return bad
}

// shStream lends the command's own standard streams to a redirection
// naming /dev/stdout, /dev/stderr or /dev/stdin, which would otherwise be
// Warden's.
type shStream struct {
	io.Reader
	io.Writer
}

func (n shStream) Read(p []byte) (int, error) {
	if n.Reader == nil {
		return 0, io.EOF
	}
	return n.Reader.Read(p)
}

func (n shStream) Write(p []byte) (int, error) {
	if n.Writer == nil {
		return 0, fs.ErrPermission
	}
	return n.Writer.Write(p)
}

func (shStream) Close() error { return nil }

func cmdAnySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
