package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/shellcmd"
	"github.com/wardenhq/warden/internal/warden"
)

func commandAdapters() []Adapter {
	return []Adapter{&commandRun{capture: MaxCapture}, envRead{}}
}

// Limits of command:run.
const (
	defaultCommandTimeout = 30 * time.Second
	maxCommandTimeoutMS   = 3_600_000
	// cmdLogHead bounds what a log artifact keeps of stdout or stderr, and
	// cmdErrHead what the error of a failed command quotes of stderr.
	cmdLogHead = 4 << 10
	cmdErrHead = 1 << 10
)

// commandRun is command:run. Input:
//
//	command  string, required: a bash command line, or with args the program
//	args     argv list: the program's arguments; command is then run
//	         directly, never parsed
//	cwd      directory to run in, relative to the project root or absolute
//	         inside it; default the root
//	env      object of strings added to the environment
//	timeout  milliseconds, 1 to 3600000, default 30000
//	stdin    string given on standard input
//
// A command line is parsed with the same bash parser the policy engine
// checks it with and run by Warden's own runner (shellRunner), never by
// /bin/sh. Without scope.shell in the policy only simple commands joined by
// ;, &&, || and pipes, with literal words, may run. Every program the line
// starts is checked again against the policy as it is really started (argv,
// directory), and every file a redirection opens is opened under the project
// root and checked as a file:read or file:write action.
//
// Output: {exitCode, stdout, stderr, stdoutBytes, stderrBytes, durationMs,
// truncated, timedOut}; stdout and stderr are each kept up to MaxCapture
// bytes, as text (invalid UTF-8 reads as U+FFFD once encoded as JSON), and
// the byte counts are what the command wrote. filesChanged lists the
// root-relative files redirections opened for writing. A non-zero exit
// returns the Outcome and an error. The command's process group is killed on
// timeout, on cancellation, and when the command ends, so that nothing it
// started outlives it. A command cannot be rolled back.
type commandRun struct {
	// capture bounds each of stdout and stderr.
	capture int
}

// commandSpec is a parsed command:run input.
type commandSpec struct {
	command  string
	args     []string
	argv     bool // command is a program and args its arguments
	cwd      string
	env      map[string]string
	timeout  time.Duration
	stdin    string
	hasStdin bool
	file     *syntax.File // the parsed command line, without argv
}

// commandOutput is command:run's output.
type commandOutput struct {
	ExitCode    int    `json:"exitCode"`
	Stdout      string `json:"stdout"`
	Stderr      string `json:"stderr"`
	StdoutBytes int64  `json:"stdoutBytes"`
	StderrBytes int64  `json:"stderrBytes"`
	DurationMS  int64  `json:"durationMs"`
	Truncated   bool   `json:"truncated,omitempty"`
	TimedOut    bool   `json:"timedOut,omitempty"`
}

func (*commandRun) Kind() string { return "command:run" }

func (*commandRun) Validate(in Input) error {
	_, err := parseCommand(in)
	return err
}

// newBashParser returns the parser the policy engine reads command lines
// with (internal/shellcmd), so that what runs is what was checked.
func newBashParser() *syntax.Parser { return syntax.NewParser(syntax.Variant(syntax.LangBash)) }

func parseCommand(in Input) (*commandSpec, error) {
	if err := Known(in, "command", "args", "cwd", "env", "timeout", "stdin"); err != nil {
		return nil, err
	}
	s := &commandSpec{}
	var err error
	if s.command, err = String(in, "command", true); err != nil {
		if in["command"] == nil && in["args"] != nil {
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.command: required: it names the program, and input.args are its arguments")
		}
		return nil, err
	}
	if s.args, err = Strings(in, "args"); err != nil {
		return nil, err
	}
	s.argv = in["args"] != nil
	if s.cwd, err = String(in, "cwd", false); err != nil {
		return nil, err
	}
	if s.env, err = StringMap(in, "env"); err != nil {
		return nil, err
	}
	for k, v := range s.env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.env: %q is not a variable name", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, warden.Errorf(warden.CodeInvalidInput, "input.env.%s: must not contain a NUL byte", k)
		}
	}
	ms, err := Int(in, "timeout", defaultCommandTimeout.Milliseconds(), 1, maxCommandTimeoutMS)
	if err != nil {
		return nil, err
	}
	s.timeout = time.Duration(ms) * time.Millisecond
	if s.stdin, err = String(in, "stdin", false); err != nil {
		return nil, err
	}
	s.hasStdin = in["stdin"] != nil
	if s.argv {
		return s, nil
	}
	// The engine refuses what its parser refuses; so does the executor.
	if _, err := shellcmd.Parse(s.command); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.command: %v", err)
	}
	if s.file, err = newBashParser().Parse(strings.NewReader(s.command), ""); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.command: %v", err)
	}
	return s, nil
}

// display is the command as a reader would type it.
func (s *commandSpec) display() string {
	if !s.argv {
		return s.command
	}
	words := make([]string, 0, 1+len(s.args))
	for _, w := range append([]string{s.command}, s.args...) {
		q, err := syntax.Quote(w, syntax.LangBash)
		if err != nil {
			q = strconv.Quote(w)
		}
		words = append(words, q)
	}
	return strings.Join(words, " ")
}

func (a *commandRun) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	s, err := parseCommand(in)
	if err != nil {
		return nil, err
	}
	rel := "."
	if s.cwd != "" {
		if rel, err = env.Rel(s.cwd); err != nil {
			return nil, err
		}
	}
	p := &Plan{WouldDo: fmt.Sprintf("Run command: %s (cwd %s, timeout %dms)", s.display(), rel, s.timeout.Milliseconds())}
	p.Warnings = append(p.Warnings, "a command cannot be rolled back: what it does is outside Warden's reach")
	if s.cwd == "" {
		p.Warnings = append(p.Warnings, "no cwd given: the command runs in the project root")
	} else if fi, err := env.Root.Stat(rel); err != nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("cwd %s: %s", rel, warden.ErrorMessage(fileError(rel, err))))
	} else if !fi.IsDir() {
		p.Warnings = append(p.Warnings, fmt.Sprintf("cwd %s is not a directory", rel))
	}
	if err := checkLoaderEnv(env.Policy, s.env); err != nil {
		p.Warnings = append(p.Warnings, "would be refused: "+warden.ErrorMessage(err))
	}
	if !s.argv && !shellAllowed(env.Policy) {
		if err := plainProgram(s.file); err != nil {
			p.Warnings = append(p.Warnings, "would be refused: "+warden.ErrorMessage(err))
		}
	} else if !s.argv {
		if err := shSupported(s.file); err != nil {
			p.Warnings = append(p.Warnings, "would be refused: "+warden.ErrorMessage(err))
		}
	}
	if len(s.env) > 0 {
		p.Warnings = append(p.Warnings, "sets environment variables "+strings.Join(cmdSortedKeys(s.env), ", "))
	}
	return p, nil
}

func (a *commandRun) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	s, err := parseCommand(in)
	if err != nil {
		return nil, err
	}
	rel := "."
	if s.cwd != "" {
		if rel, err = env.Rel(s.cwd); err != nil {
			return nil, err
		}
	}
	// Opening the directory re-checks the whole action with the directory
	// it really is.
	dir, err := openCwd(ctx, env, in, rel)
	if err != nil {
		return nil, err
	}
	if err := checkLoaderEnv(env.Policy, s.env); err != nil {
		return nil, err
	}
	if !s.argv && !shellAllowed(env.Policy) {
		if err := plainProgram(s.file); err != nil {
			return nil, err
		}
	}
	if !s.argv {
		if err := shSupported(s.file); err != nil {
			return nil, err
		}
	}
	environ := env.Environ
	if environ == nil {
		environ = os.Environ()
	}
	environ = slices.Clone(environ)
	for _, k := range cmdSortedKeys(s.env) {
		environ = append(environ, k+"="+s.env[k])
	}

	runCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	limit := a.capture
	if limit <= 0 {
		limit = MaxCapture
	}
	stdout, stderr := &cmdCapture{limit: limit}, &cmdCapture{limit: limit}
	var stdin io.Reader
	if s.hasStdin {
		stdin = strings.NewReader(s.stdin)
	}
	start := time.Now()
	var code int
	var runErr error
	var changed []string
	if s.argv {
		code, runErr = runArgv(runCtx, s, environ, dir, stdin, stdout, stderr)
	} else {
		sh := newShellRunner(env, dir, environ, s)
		code, runErr = sh.run(runCtx, s.file, shStdio{in: stdin, out: stdout, err: stderr})
		changed = sh.files.list()
	}
	elapsed := time.Since(start)

	out := commandOutput{
		ExitCode: code,
		Stdout:   stdout.String(), Stderr: stderr.String(),
		StdoutBytes: stdout.total, StderrBytes: stderr.total,
		DurationMS: elapsed.Milliseconds(),
		Truncated:  stdout.cut() || stderr.cut(),
	}
	oc := &Outcome{Output: &out, FilesChanged: changed, Irreversible: true,
		OutputBytes: int64(len(out.Stdout) + len(out.Stderr))}
	var fail error
	var werr *warden.Error
	switch {
	case errors.As(runErr, &werr):
		out.ExitCode = -1
		fail = werr
	case runErr != nil && runCtx.Err() != nil && ctx.Err() == nil:
		out.ExitCode, out.TimedOut = -1, true
		fail = &warden.Error{Code: warden.CodeInvalidState, Message: fmt.Sprintf("command timed out after %dms and was killed", s.timeout.Milliseconds()), Err: runErr}
	case runErr != nil && ctx.Err() != nil:
		out.ExitCode = -1
		fail = &warden.Error{Code: warden.CodeInvalidState, Message: "command cancelled: " + ctx.Err().Error(), Err: runErr}
	case runErr != nil:
		out.ExitCode = -1
		fail = &warden.Error{Code: warden.CodeInternal, Message: "command: " + runErr.Error(), Err: runErr}
	case code != 0:
		fail = &warden.Error{Code: warden.CodeInvalidState,
			Message: fmt.Sprintf("command exited with code %d: %s", code, cmdHead(out.Stderr, cmdErrHead)),
			Details: map[string]any{"exitCode": code}}
	}
	oc.Artifacts = []warden.Artifact{
		{Type: "exit_code", Value: strconv.Itoa(out.ExitCode)},
		{Type: "log", Value: cmdHead(out.Stdout, cmdLogHead), Description: "stdout"},
	}
	if out.Stderr != "" {
		oc.Artifacts = append(oc.Artifacts, warden.Artifact{Type: "log", Value: cmdHead(out.Stderr, cmdLogHead), Description: "stderr"})
	}
	return oc, fail
}

func (*commandRun) Rollback(context.Context, *Env, json.RawMessage) error {
	return warden.Errorf(warden.CodeNotReversible, "a command that ran cannot be undone")
}

// cmdHead returns at most n bytes of s, saying when it cut.
func cmdHead(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d of %d bytes)", n, len(s))
}

func cmdSortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// openCwd opens the working directory under the root, re-checks the action
// with the directory it really is, and returns that directory's path.
func openCwd(ctx context.Context, env *Env, in Input, rel string) (string, error) {
	f, _, err := env.OpenChecked(ctx, "command:run", in, "cwd", rel, os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fileError(rel, err)
	}
	if !fi.IsDir() {
		return "", warden.Errorf(warden.CodeInvalidInput, "input.cwd: %s is not a directory", rel)
	}
	if runtime.GOOS == "linux" {
		if p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil && filepath.IsAbs(p) {
			return p, nil
		}
	}
	return filepath.Join(env.Physical, filepath.FromSlash(rel)), nil
}

// policyCaps returns the capabilities that grant kind: by name, or through
// a raw tool name the policy's tools: section (or Warden's default mapping)
// maps to kind.
func policyCaps(p *policy.Policy, kind string) []policy.Capability {
	if p == nil {
		return nil
	}
	var out []policy.Capability
	for _, c := range p.Capabilities {
		m, mapped := p.Tools[c.Tool]
		if !mapped {
			m, mapped = engine.DefaultTools[c.Tool]
		}
		if c.Tool == kind || mapped && m.Action == kind {
			out = append(out, c)
		}
	}
	return out
}

// shellAllowed reports whether a command:run capability sets scope.shell.
// Without one, the engine refuses run-time expansions; the executor refuses
// all shell syntax beyond simple commands as well.
func shellAllowed(p *policy.Policy) bool {
	return slices.ContainsFunc(policyCaps(p, "command:run"), func(c policy.Capability) bool { return c.Scope.Shell })
}

// loaderEnv are the variables that decide which program and which code a
// command loads. The engine refuses a longer list; these are refused here
// again unless a command:run capability lists them in scope.env.
var loaderEnv = []string{"PATH", "LD_*", "DYLD_*"}

func checkLoaderEnv(p *policy.Policy, env map[string]string) error {
	caps := policyCaps(p, "command:run")
	for _, name := range cmdSortedKeys(env) {
		if !envMatch(loaderEnv, name) {
			continue
		}
		if !slices.ContainsFunc(caps, func(c policy.Capability) bool { return envMatch(c.Scope.Env, name) }) {
			return warden.Errorf(warden.CodeDenied, "refused at execution: setting %s changes which code the command runs; list it in scope.env to allow it", name)
		}
	}
	return nil
}

// envMatch reports whether name matches one of the patterns, where * is a
// wildcard, as scope.env is read.
func envMatch(patterns []string, name string) bool {
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

// plainProgram refuses, as a defence behind the engine, any command line
// that is more than simple commands of literal words joined by ;, &&, ||
// and pipes: no expansions, substitutions, compound commands, functions
// or background jobs. Globs and ~ stay, as the engine checks them.
func plainProgram(f *syntax.File) error {
	for _, st := range f.Stmts {
		if err := plainStmt(st); err != nil {
			return err
		}
	}
	return nil
}

func notPlain(n syntax.Node, what string) error {
	return warden.Errorf(warden.CodeDenied, "refused at execution: %s at %s is shell syntax, which the policy does not allow for command:run (scope.shell is off); write the command with literal words, or pass the program and its arguments in command and args", what, n.Pos())
}

func plainStmt(st *syntax.Stmt) error {
	switch {
	case st.Background:
		return notPlain(st, "a background job (&)")
	case st.Coprocess, st.Disown:
		return notPlain(st, "a coprocess")
	}
	for _, r := range st.Redirs {
		if r.N != nil && !shDigits(r.N.Value) {
			return notPlain(r, "a redirection to a variable file descriptor")
		}
		if r.Word != nil {
			if err := plainWord(r.Word); err != nil {
				return err
			}
		}
		if r.Hdoc != nil {
			if err := plainWord(r.Hdoc); err != nil {
				return err
			}
		}
	}
	switch c := st.Cmd.(type) {
	case nil:
		return nil
	case *syntax.CallExpr:
		for _, as := range c.Assigns {
			if as.Name == nil || as.Naked || as.Index != nil || as.Array != nil {
				return notPlain(as, "an array or indexed assignment")
			}
			if as.Value != nil {
				if err := plainWord(as.Value); err != nil {
					return err
				}
			}
		}
		for _, w := range c.Args {
			if err := plainWord(w); err != nil {
				return err
			}
		}
		return nil
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.AndStmt, syntax.OrStmt, syntax.Pipe, syntax.PipeAll:
		default:
			return notPlain(c, "the operator "+c.Op.String())
		}
		if err := plainStmt(c.X); err != nil {
			return err
		}
		return plainStmt(c.Y)
	default:
		return notPlain(c, shCompoundName(c))
	}
}

func shCompoundName(c syntax.Command) string {
	switch c.(type) {
	case *syntax.IfClause:
		return "an if statement"
	case *syntax.WhileClause:
		return "a while or until loop"
	case *syntax.ForClause:
		return "a for loop"
	case *syntax.CaseClause:
		return "a case statement"
	case *syntax.Block:
		return "a { } block"
	case *syntax.Subshell:
		return "a ( ) subshell"
	case *syntax.FuncDecl:
		return "a function definition"
	case *syntax.ArithmCmd:
		return "an arithmetic command (( ))"
	case *syntax.TestClause:
		return "a [[ ]] test"
	case *syntax.DeclClause:
		return "a declaration (export, declare, local, readonly)"
	case *syntax.LetClause:
		return "let"
	case *syntax.TimeClause:
		return "time"
	}
	return "a compound command"
}

// plainWord accepts literal text, quoted or not, and refuses every
// expansion: parameters, substitutions, arithmetic, brace expansion and
// extended globs.
func plainWord(w *syntax.Word) error {
	cp := *w // SplitBraces rewrites the parts it splits
	cp.Parts = slices.Clone(w.Parts)
	if syntax.SplitBraces(&cp) {
		return notPlain(w, "brace expansion {…}")
	}
	for _, part := range w.Parts {
		if err := plainPart(part); err != nil {
			return err
		}
	}
	return nil
}

func plainPart(part syntax.WordPart) error {
	switch x := part.(type) {
	case *syntax.Lit, *syntax.SglQuoted:
		return nil
	case *syntax.DblQuoted:
		for _, q := range x.Parts {
			if err := plainPart(q); err != nil {
				return err
			}
		}
		return nil
	case *syntax.ParamExp:
		return notPlain(x, "the variable expansion $"+shParamName(x))
	case *syntax.CmdSubst:
		return notPlain(x, "a command substitution $(…) or `…`")
	case *syntax.ArithmExp:
		return notPlain(x, "an arithmetic expansion $((…))")
	case *syntax.ProcSubst:
		return notPlain(x, "a process substitution <(…) or >(…)")
	case *syntax.ExtGlob:
		return notPlain(x, "an extended glob")
	case *syntax.BraceExp:
		return notPlain(x, "brace expansion {…}")
	}
	return notPlain(part, "an expansion")
}

func shParamName(p *syntax.ParamExp) string {
	if p.Param != nil {
		return p.Param.Value
	}
	return "…"
}

func shDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// shStaticArgvs lists the argument vectors of the simple commands whose every
// word is literal: the engine checked exactly these, so starting one of
// them in the action's own directory needs no second evaluation.
func shStaticArgvs(f *syntax.File) map[string]bool {
	out := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		c, ok := n.(*syntax.CallExpr)
		if !ok || len(c.Args) == 0 {
			return true
		}
		argv := make([]string, 0, len(c.Args))
		for _, w := range c.Args {
			s, ok := shLiteralWord(w)
			if !ok {
				return true
			}
			argv = append(argv, s)
		}
		out[shArgvKey(argv)] = true
		return true
	})
	return out
}

// shLiteralWord returns the value of a word that needs no expansion: no
// parameter, substitution, glob, tilde or brace.
func shLiteralWord(w *syntax.Word) (string, bool) {
	if plainWord(w) != nil {
		return "", false
	}
	for i, part := range w.Parts {
		switch x := part.(type) {
		case *syntax.Lit:
			if strings.ContainsAny(x.Value, "*?[") || i == 0 && strings.HasPrefix(x.Value, "~") {
				return "", false
			}
		case *syntax.SglQuoted:
			if x.Dollar {
				return "", false
			}
		case *syntax.DblQuoted:
			if x.Dollar {
				return "", false
			}
		}
	}
	s, err := expand.Literal(nil, w)
	return s, err == nil
}

func shArgvKey(argv []string) string { return strings.Join(argv, "\x00") }

// runArgv runs a program with its argument vector, without a shell, and
// returns its exit status.
func runArgv(ctx context.Context, s *commandSpec, environ []string, dir string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	pathVar := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v // the last one wins, as in exec
		}
	}
	prog, ok := cmdLookPath(dir, pathVar, s.command)
	if !ok {
		return 0, warden.Errorf(warden.CodeNotFound, "command not found: %s", s.command)
	}
	return cmdRunProcess(ctx, prog, append([]string{s.command}, s.args...), environ, dir, stdin, stdout, stderr)
}

// cmdLookPath finds a program as a shell does: a name with a slash relative
// to dir, any other in the directories of pathVar.
func cmdLookPath(dir, pathVar, name string) (string, bool) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p, cmdIsExecutable(p)
	}
	for _, d := range filepath.SplitList(pathVar) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		if p := filepath.Join(d, name); cmdIsExecutable(p) {
			return p, true
		}
	}
	return "", false
}

func cmdIsExecutable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode()&0o111 != 0
}

// cmdRunProcess runs one program in its own process group and returns its
// exit status (128+N for a signal N). The group is killed when ctx ends and
// again when the program exits, so that no process it started outlives it
// or holds its output open.
func cmdRunProcess(ctx context.Context, prog string, argv, environ []string, dir string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, prog)
	cmd.Args, cmd.Env, cmd.Dir = argv, environ, dir
	cmd.Stdin = stdin
	// A copy of stdin from a reader ends once the program has gone.
	cmd.WaitDelay = time.Second
	cmdSetProcessGroup(cmd)
	cmd.Cancel = func() error {
		cmdKillProcessGroup(cmd.Process)
		return nil
	}
	outF, outDone, err := cmdOutputFile(stdout)
	if err != nil {
		return 0, err
	}
	errF, errDone, err := cmdOutputFile(stderr)
	if err != nil {
		outDone(true)
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	if err := cmd.Start(); err != nil {
		outDone(true)
		errDone(true)
		fmt.Fprintf(stderr, "%s: %v\n", argv[0], err)
		if errors.Is(err, fs.ErrNotExist) {
			return 127, nil
		}
		return 126, nil
	}
	outDone(false)
	errDone(false)
	werr := cmd.Wait()
	cmdKillProcessGroup(cmd.Process)
	outDone(true)
	errDone(true)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var ee *exec.ExitError
	switch {
	case werr == nil, errors.Is(werr, exec.ErrWaitDelay):
		return 0, nil
	case errors.As(werr, &ee):
		if code := ee.ExitCode(); code >= 0 {
			return code, nil
		}
		return cmdSignalStatus(ee), nil
	}
	return 0, werr
}

// cmdOutputFile returns a file a child can write w through: w itself when it
// is a file, else a pipe copied into w. done(false) closes the parent's
// copy of the write end once the child has it; done(true) waits for the
// copy to finish.
func cmdOutputFile(w io.Writer) (*os.File, func(wait bool), error) {
	if f, ok := w.(*os.File); ok && f != nil {
		return f, func(bool) {}, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// A failing writer closes the pipe: the child gets EPIPE, as a
		// shell's child does when its reader goes away.
		_, _ = io.Copy(w, pr)
		pr.Close()
	}()
	var once sync.Once
	return pw, func(wait bool) {
		once.Do(func() { pw.Close() })
		if wait {
			<-copied
		}
	}, nil
}

// cmdCapture keeps the first limit bytes written to it and counts the rest.
type cmdCapture struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
	total int64
}

func (c *cmdCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(p))
	if room := c.limit - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *cmdCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *cmdCapture) cut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total > int64(c.buf.Len())
}

// envRead is env:read. Input:
//
//	name    string: one variable
//	names   list of strings: several variables
//	redact  bool: true redacts every value
//
// The variable is read from Env.Environ, or Warden's own environment when
// that is nil. Only names a env:read capability's scope.env covers may be
// read (no scope.env: any). The value of a secret-looking variable (its name
// contains key, secret, token, password, credential, auth, private, or is
// one the ledger redacts, or its value holds a known secret shape) is
// returned as "[REDACTED]" with its sha256 checksum. The policy format has
// no field that lets an agent see such a value, so redact: false does not
// reveal it. An unset variable is a NOT_FOUND error.
//
// Output for name: {name, value, exists, redacted, checksum}; for names:
// {variables: [those objects]}. A checksum artifact of each value is
// always produced. Read-only.
type envRead struct{}

// envValue is one variable as env:read reports it.
type envValue struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Exists   bool   `json:"exists"`
	Redacted bool   `json:"redacted,omitempty"`
	// Checksum lets a caller compare a redacted value with one it knows.
	Checksum string `json:"checksum,omitempty"`
}

func (envRead) Kind() string { return "env:read" }

func (envRead) Validate(in Input) error {
	_, _, _, err := parseEnvRead(in)
	return err
}

func parseEnvRead(in Input) (names []string, list bool, redact bool, err error) {
	if err := Known(in, "name", "names", "redact"); err != nil {
		return nil, false, false, err
	}
	name, err := String(in, "name", false)
	if err != nil {
		return nil, false, false, err
	}
	many, err := Strings(in, "names")
	if err != nil {
		return nil, false, false, err
	}
	if redact, err = Bool(in, "redact", false); err != nil {
		return nil, false, false, err
	}
	if name != "" {
		names = append(names, name)
	}
	for _, n := range many {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		if _, given := in["name"]; given {
			return nil, false, false, warden.Errorf(warden.CodeInvalidInput, "input.name: must not be empty")
		}
		return nil, false, false, warden.Errorf(warden.CodeInvalidInput, "input.name: required (or input.names, a list)")
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "=\x00") {
			return nil, false, false, warden.Errorf(warden.CodeInvalidInput, "input.names: %q is not a variable name", n)
		}
	}
	return names, in["names"] != nil, redact, nil
}

// secretName matches variable names whose values are presumed secret.
var secretName = regexp.MustCompile(`(?i)key|secret|token|password|credential|auth|private|api_key|apikey|access_key`)

// secretLike reports a variable whose value must not be shown: by its name,
// or by the ledger's own secret detection over the name and the value.
func secretLike(name, value string) bool {
	if secretName.MatchString(name) {
		return true
	}
	red, ok := ledger.Redact(map[string]any{name: value}, ledger.RedactOptions{}).(map[string]any)
	return !ok || red[name] != value
}

// envLookup reads a variable from the environment commands start from.
func envLookup(env *Env, name string) (string, bool) {
	if env.Environ == nil {
		return os.LookupEnv(name)
	}
	val, found := "", false
	for _, kv := range env.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			val, found = v, true // the last one wins, as in exec
		}
	}
	return val, found
}

// checkEnvScope refuses names outside every env:read capability's
// scope.env, behind the engine's own check.
func checkEnvScope(p *policy.Policy, names []string) error {
	caps := policyCaps(p, "env:read")
	if len(caps) == 0 {
		return warden.Errorf(warden.CodeDenied, "refused at execution: no capability grants env:read")
	}
	for _, n := range names {
		if !slices.ContainsFunc(caps, func(c policy.Capability) bool { return c.Scope.Env == nil || envMatch(c.Scope.Env, n) }) {
			return warden.Errorf(warden.CodeDenied, "refused at execution: environment variable %q is outside the env:read scope", n)
		}
	}
	return nil
}

func (envRead) DryRun(ctx context.Context, env *Env, in Input) (*Plan, error) {
	names, _, redact, err := parseEnvRead(in)
	if err != nil {
		return nil, err
	}
	p := &Plan{WouldDo: "Read environment variable " + strings.Join(names, ", ")}
	if err := checkEnvScope(env.Policy, names); err != nil {
		p.Warnings = append(p.Warnings, "would be refused: "+warden.ErrorMessage(err))
	}
	for _, n := range names {
		v, ok := envLookup(env, n)
		switch {
		case !ok:
			p.Warnings = append(p.Warnings, n+" is not set")
		case secretLike(n, v):
			p.Warnings = append(p.Warnings, n+" looks sensitive: its value will be redacted")
		case redact:
			p.Warnings = append(p.Warnings, n+": its value will be redacted, as asked")
		}
	}
	return p, nil
}

func (envRead) Execute(ctx context.Context, env *Env, in Input) (*Outcome, error) {
	names, list, redact, err := parseEnvRead(in)
	if err != nil {
		return nil, err
	}
	if err := checkEnvScope(env.Policy, names); err != nil {
		return nil, err
	}
	if err := env.Check(ctx, "env:read", in); err != nil {
		return nil, err
	}
	vals := make([]envValue, 0, len(names))
	var missing []string
	oc := &Outcome{}
	for _, n := range names {
		v, ok := envLookup(env, n)
		if !ok {
			missing = append(missing, n)
			continue
		}
		sum := Checksum([]byte(v))
		ev := envValue{Name: n, Value: v, Exists: true}
		if redact || secretLike(n, v) {
			ev.Value, ev.Redacted, ev.Checksum = ledger.Redacted, true, sum
		}
		oc.OutputBytes += int64(len(ev.Value))
		oc.Artifacts = append(oc.Artifacts, warden.Artifact{Type: "checksum", Value: sum, Description: "value of " + n})
		vals = append(vals, ev)
	}
	switch {
	case list:
		oc.Output = map[string]any{"variables": vals}
	case len(vals) == 1:
		oc.Output = vals[0]
	}
	if len(missing) > 0 {
		return oc, warden.Errorf(warden.CodeNotFound, "Environment variable not set: %s", strings.Join(missing, ", "))
	}
	return oc, nil
}

func (envRead) Rollback(context.Context, *Env, json.RawMessage) error { return nil }
