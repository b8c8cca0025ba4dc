package executor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// cmdPolicy allows a fixed set of programs, no shell syntax, and writes to
// out.txt and out/.
const cmdPolicy = `
name: t
capabilities:
  - {tool: "command:run", scope: {binaries: [echo, printf, cat, sort, tr, head, sleep, find, printenv, pwd, "true", "false"]}}
  - {tool: "file:write", scope: {paths: ["out.txt", "out/**"]}}
  - {tool: "file:read", scope: {paths: ["**"]}}
`

// cmdShellPolicy allows shell syntax and any program.
const cmdShellPolicy = `
name: t
capabilities:
  - {tool: "command:run", scope: {shell: true}}
  - {tool: "file:write", scope: {paths: ["out.txt", "pid.txt"]}}
  - {tool: "file:read", scope: {paths: ["**"]}}
`

// cmdAnyPolicy allows any program without shell syntax.
const cmdAnyPolicy = `
name: t
capabilities:
  - {tool: "command:run", scope: {}}
`

func cmdSkipWithoutUnix(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs a Unix userland")
	}
}

// runCmd executes command:run and returns its output (nil when there is
// none) and error.
func runCmd(t *testing.T, env *Env, in Input) (*commandOutput, *Outcome, error) {
	t.Helper()
	return runCmdWith(t, &commandRun{capture: MaxCapture}, env, in)
}

func runCmdWith(t *testing.T, a *commandRun, env *Env, in Input) (*commandOutput, *Outcome, error) {
	t.Helper()
	if err := a.Validate(in); err != nil {
		return nil, nil, err
	}
	oc, err := a.Execute(bg, env, in)
	if oc == nil {
		return nil, nil, err
	}
	out, ok := oc.Output.(*commandOutput)
	if !ok {
		t.Fatalf("output is %T", oc.Output)
	}
	return out, oc, err
}

// cmdPermissiveEnv is an Env whose Check allows everything: what it refuses,
// the adapter refuses on its own.
func cmdPermissiveEnv(t *testing.T, policyYAML string) *Env {
	t.Helper()
	p, err := policy.Parse([]byte(policyYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnv(t.TempDir(), p, NewMemObjects(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

func cmdWantCode(t *testing.T, err error, want warden.Code) {
	t.Helper()
	if got := warden.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func TestCommandInjectionRefused(t *testing.T) {
	cmdSkipWithoutUnix(t)
	cases := []struct {
		name string
		in   Input
	}{
		{"substitution", Input{"command": "echo $(touch pwned)"}},
		{"backticks", Input{"command": "echo `touch pwned`"}},
		{"double-quoted substitution", Input{"command": `echo "$(touch pwned)"`}},
		{"semicolon", Input{"command": "echo hi; touch pwned"}},
		{"and", Input{"command": "echo hi && touch pwned"}},
		{"or", Input{"command": "false || touch pwned"}},
		{"pipe", Input{"command": "echo hi | touch pwned"}},
		{"newline", Input{"command": "echo hi\ntouch pwned"}},
		{"parameter default", Input{"command": "echo ${X:-$(touch pwned)}"}},
		{"process substitution", Input{"command": "cat <(touch pwned)"}},
		{"subshell", Input{"command": "(touch pwned)"}},
		{"find -exec option", Input{"command": `find . -maxdepth 0 -exec touch pwned \;`}},
		{"find -exec option in argv", Input{"command": "find", "args": []any{".", "-maxdepth", "0", "-exec", "touch", "pwned", ";"}}},
		{"eval", Input{"command": "eval 'touch pwned'"}},
		{"sh -c", Input{"command": "sh -c 'touch pwned'"}},
		{"env wrapper", Input{"command": "env touch pwned"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, cmdPolicy)
			_, _, err := runCmd(t, env, tc.in)
			cmdWantCode(t, err, warden.CodeDenied)
			if got := readFile(t, env, "pwned"); got != "<missing>" {
				t.Fatalf("the marker file was created")
			}
		})
	}
}

// TestCommandPlainSyntaxRefused bypasses the engine (a Check that allows
// everything): the adapter itself refuses shell syntax when the policy has
// no scope.shell, before anything runs.
func TestCommandPlainSyntaxRefused(t *testing.T) {
	cmdSkipWithoutUnix(t)
	for _, cmd := range []string{
		"echo $(touch pwned)",
		"echo `touch pwned`",
		`echo "$(touch pwned)"`,
		"echo ${X:-$(touch pwned)}",
		"echo $HOME; touch pwned",
		"echo $((1+2)) && touch pwned",
		"echo {a,b}; touch pwned",
		"(touch pwned)",
		"{ touch pwned; }",
		"if true; then touch pwned; fi",
		"for f in a; do touch pwned; done",
		"f() { touch pwned; }; f",
		"touch pwned &",
		"cat <(touch pwned)",
		"X=$(touch pwned) echo hi",
	} {
		t.Run(cmd, func(t *testing.T) {
			env := cmdPermissiveEnv(t, cmdAnyPolicy)
			_, _, err := runCmd(t, env, Input{"command": cmd})
			cmdWantCode(t, err, warden.CodeDenied)
			if !strings.Contains(err.Error(), "scope.shell") {
				t.Errorf("error %q does not say what to change", err)
			}
			if got := readFile(t, env, "pwned"); got != "<missing>" {
				t.Fatalf("the marker file was created")
			}
		})
	}
}

func TestCommandLiteralWordsRun(t *testing.T) {
	cmdSkipWithoutUnix(t)
	cases := []struct {
		cmd, want string
	}{
		{`echo '$(touch pwned)'`, "$(touch pwned)\n"},
		{`echo "a;b" 'c|d' e\&f`, "a;b c|d e&f\n"},
		{`echo "--help; touch pwned"`, "--help; touch pwned\n"},
		{"echo one; echo two && echo three", "one\ntwo\nthree\n"},
		{"false || echo fallback", "fallback\n"},
		{"printf 'b\\na\\n' | sort", "a\nb\n"},
		{"printf 'x\\n' | tr x y | tr y z", "z\n"},
		{"! false && echo negated", "negated\n"},
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			env := newTestEnv(t, cmdPolicy)
			out, oc, err := runCmd(t, env, Input{"command": tc.cmd})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.Stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !oc.Irreversible || oc.Undo != nil {
				t.Errorf("Irreversible = %v, Undo = %s; want irreversible, no undo", oc.Irreversible, oc.Undo)
			}
			if readFile(t, env, "pwned") != "<missing>" {
				t.Fatal("the marker file was created")
			}
		})
	}
}

func TestCommandShellSyntaxWhenAllowed(t *testing.T) {
	cmdSkipWithoutUnix(t)
	cases := []struct {
		cmd, want string
	}{
		{"printf 'b\\na\\n' | sort | tr a-z A-Z", "A\nB\n"},
		{`X=world; echo "hello $X"`, "hello world\n"},
		{"echo $((2 + 3))", "5\n"},
		{"echo $(echo inner) `echo back`", "inner back\n"},
		{"for f in a b; do echo $f; done", "a\nb\n"},
		{"if false; then echo no; elif true; then echo yes; fi", "yes\n"},
		{"n=0; while [ $n -lt 3 ]; do n=$((n+1)); done; echo $n", "3\n"},
		{"echo {x,y}z", "xz yz\n"},
		{"(X=inner; echo $X); echo ${X:-outer}", "inner\nouter\n"},
		{"export GREETING=hey; printenv GREETING", "hey\n"},
		{"GREETING=prefix printenv GREETING; echo ${GREETING:-unset}", "prefix\nunset\n"},
		{"echo err >&2; echo out", "out\n"},
		{"cat <<EOF\nhi $((1+1))\nEOF", "hi 2\n"},
		{"cat <<< here", "here\n"},
		{"false; echo $?", "1\n"},
		{"echo a |& cat", "a\n"},
		{"exit 0; echo not reached", ""},
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			env := newTestEnv(t, cmdShellPolicy)
			out, _, err := runCmd(t, env, Input{"command": tc.cmd})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.Stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCommandShellProgramsRechecked shows that with shell syntax allowed,
// each program is evaluated as it really starts: the line passes (a Check
// that lets whole lines through), the expanded program does not.
func TestCommandShellProgramsRechecked(t *testing.T) {
	cmdSkipWithoutUnix(t)
	const pol = `
name: t
capabilities:
  - {tool: "command:run", scope: {shell: true, binaries: [echo, "true"]}}
`
	env := newTestEnv(t, pol)
	real := env.Check
	var derived []Input
	env.Check = func(ctx context.Context, tool string, in Input) error {
		if tool == "command:run" && in["args"] == nil {
			return nil // the whole line, as the gateway already evaluated it
		}
		derived = append(derived, in)
		return real(ctx, tool, in)
	}
	_, _, err := runCmd(t, env, Input{"command": "P=touch; true; $P pwned"})
	cmdWantCode(t, err, warden.CodeDenied)
	if readFile(t, env, "pwned") != "<missing>" {
		t.Fatal("the marker file was created")
	}
	if len(derived) != 1 || derived[0]["command"] != "touch" {
		t.Fatalf("derived checks = %v, want one for touch (true is literal, already checked)", derived)
	}
	// A literal program is checked again once the line changed what it
	// would inherit.
	for _, cmd := range []string{"PATH=/tmp; true", "export LD_PRELOAD=/tmp/x.so; true", "cd /; true"} {
		derived = nil
		_, _, err = runCmd(t, env, Input{"command": cmd})
		cmdWantCode(t, err, warden.CodeDenied)
		if len(derived) != 1 {
			t.Errorf("%s: derived checks = %v", cmd, derived)
		}
	}
}

func TestCommandUnsupportedRefusedBeforeRunning(t *testing.T) {
	cmdSkipWithoutUnix(t)
	for _, cmd := range []string{
		"echo $(touch pwned); case x in x) echo;; esac",
		"touch pwned; f() { echo; }",
		"touch pwned; [[ -f x ]]",
		"touch pwned; a=(1 2)",
		"touch pwned; sleep 1 &",
		"touch pwned; cat <(echo)",
		"touch pwned; echo 3>out.txt",
	} {
		t.Run(cmd, func(t *testing.T) {
			env := newTestEnv(t, cmdShellPolicy)
			_, _, err := runCmd(t, env, Input{"command": cmd})
			cmdWantCode(t, err, warden.CodeInvalidInput)
			if readFile(t, env, "pwned") != "<missing>" {
				t.Fatal("part of the line ran")
			}
		})
	}
}

func TestCommandArgvKeepsArguments(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdPolicy)
	args := []any{"%s|", "a b", "'q'", `"d"`, "$(touch pwned)", "`touch pwned`", "; touch pwned", "--version", "*"}
	out, _, err := runCmd(t, env, Input{"command": "printf", "args": args})
	if err != nil {
		t.Fatal(err)
	}
	want := "a b|'q'|\"d\"|$(touch pwned)|`touch pwned`|; touch pwned|--version|*|"
	if diff := cmp.Diff(want, out.Stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if readFile(t, env, "pwned") != "<missing>" {
		t.Fatal("the marker file was created")
	}
	// A program that is not allowed is refused even as a bare argv.
	_, _, err = runCmd(t, env, Input{"command": "touch", "args": []any{"pwned"}})
	cmdWantCode(t, err, warden.CodeDenied)
}

func TestCommandCwd(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdPolicy)
	writeFile(t, env, "sub/f.txt", "x")
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(env.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cwd  string
		code warden.Code
		want string
	}{
		{"", "", env.Physical + "\n"},
		{"sub", "", filepath.Join(env.Physical, "sub") + "\n"},
		{filepath.Join(env.Dir, "sub"), "", filepath.Join(env.Physical, "sub") + "\n"},
		{"..", warden.CodeDenied, ""},
		{"sub/../..", warden.CodeDenied, ""},
		{outside, warden.CodeDenied, ""},
		{"link", warden.CodeDenied, ""},
		{"missing", warden.CodeNotFound, ""},
		{"sub/f.txt", warden.CodeInvalidInput, ""},
	}
	for _, tc := range cases {
		t.Run(tc.cwd, func(t *testing.T) {
			in := Input{"command": "pwd"}
			if tc.cwd != "" {
				in["cwd"] = tc.cwd
			}
			out, _, err := runCmd(t, env, in)
			cmdWantCode(t, err, tc.code)
			if tc.code == "" && out.Stdout != tc.want {
				t.Errorf("pwd printed %q, want %q", out.Stdout, tc.want)
			}
		})
	}
	// Without the engine, the root still confines the directory.
	penv := cmdPermissiveEnv(t, cmdAnyPolicy)
	_, _, err := runCmd(t, penv, Input{"command": "pwd", "cwd": ".."})
	cmdWantCode(t, err, warden.CodeDenied)
}

func TestCommandEnv(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdPolicy)
	env.Environ = []string{"PATH=" + os.Getenv("PATH"), "INHERITED=base"}
	out, _, err := runCmd(t, env, Input{"command": "printenv GREETING INHERITED", "env": map[string]any{"GREETING": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Stdout != "hi\nbase\n" {
		t.Errorf("stdout = %q", out.Stdout)
	}
	for _, name := range []string{"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "BASH_ENV"} {
		t.Run(name, func(t *testing.T) {
			in := Input{"command": "printenv PATH", "env": map[string]any{name: "/tmp/evil"}}
			_, _, err := runCmd(t, env, in)
			cmdWantCode(t, err, warden.CodeDenied)
		})
	}
	// The adapter refuses loader variables on its own, too.
	for _, name := range []string{"PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES"} {
		penv := cmdPermissiveEnv(t, cmdAnyPolicy)
		_, _, err := runCmd(t, penv, Input{"command": "pwd", "env": map[string]any{name: "/tmp/evil"}})
		cmdWantCode(t, err, warden.CodeDenied)
	}
	// A policy that lists PATH in scope.env lets it be set.
	const pol = `
name: t
capabilities:
  - {tool: "command:run", scope: {binaries: [printenv], env: [PATH]}}
`
	allowed := newTestEnv(t, pol)
	out, _, err = runCmd(t, allowed, Input{"command": "printenv PATH", "env": map[string]any{"PATH": "/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Stdout != "/usr/bin:/bin\n" {
		t.Errorf("stdout = %q", out.Stdout)
	}
}

func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	cmdSkipWithoutUnix(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	env := newTestEnv(t, cmdShellPolicy)
	start := time.Now()
	// sh leaves a grandchild holding stdout open; the timeout must kill both.
	out, oc, err := runCmd(t, env, Input{"command": "sh -c 'sleep 30 & echo $! > pid.txt; wait'", "timeout": 500})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
	if oc == nil || !out.TimedOut || out.ExitCode != -1 {
		t.Fatalf("output = %+v, want timedOut", out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, env, "pid.txt")))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cmdAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// An argv command times out the same way.
	start = time.Now()
	out, _, err = runCmd(t, newTestEnv(t, cmdPolicy), Input{"command": "sleep", "args": []any{"30"}, "timeout": 200})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if !out.TimedOut || time.Since(start) > 10*time.Second {
		t.Fatalf("output = %+v after %v", out, time.Since(start))
	}
}

// TestCommandLeftoverProcessesKilled: a command that exits leaving a
// process behind returns at once, and the process is gone.
func TestCommandLeftoverProcessesKilled(t *testing.T) {
	cmdSkipWithoutUnix(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	env := newTestEnv(t, cmdShellPolicy)
	start := time.Now()
	_, _, err := runCmd(t, env, Input{"command": "sh -c 'sleep 30 & echo $! > pid.txt'"})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v: waited for the leftover process", d)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, env, "pid.txt")))
	deadline := time.Now().Add(5 * time.Second)
	for cmdAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("leftover %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdAlive reports a process that exists and is not a zombie.
func cmdAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestCommandOutputCaps(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdPolicy)
	a := &commandRun{capture: 1000}
	out, oc, err := runCmdWith(t, a, env, Input{"command": "head", "args": []any{"-c", "5000", "/dev/zero"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Stdout) != 1000 || out.StdoutBytes != 5000 || !out.Truncated {
		t.Errorf("stdout %d bytes of %d, truncated %v; want 1000 of 5000, truncated", len(out.Stdout), out.StdoutBytes, out.Truncated)
	}
	if oc.OutputBytes != 1000 {
		t.Errorf("OutputBytes = %d", oc.OutputBytes)
	}
	out, _, err = runCmdWith(t, a, env, Input{"command": "head -c 5000 /dev/zero | head -c 10"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Stdout) != 10 || out.Truncated {
		t.Errorf("piped: %d bytes, truncated %v", len(out.Stdout), out.Truncated)
	}
	// The real bound.
	out, _, err = runCmd(t, env, Input{"command": "head", "args": []any{"-c", strconv.Itoa(MaxCapture + 100), "/dev/zero"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Stdout) != MaxCapture || !out.Truncated {
		t.Errorf("stdout %d bytes, truncated %v; want %d, truncated", len(out.Stdout), out.Truncated, MaxCapture)
	}
}

func TestCommandExitCodeAndEvidence(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdAnyPolicy)
	out, oc, err := runCmd(t, env, Input{"command": "sh", "args": []any{"-c", "echo out; echo oops >&2; exit 3"}})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if want := "command exited with code 3: oops"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if out.ExitCode != 3 || out.Stdout != "out\n" || out.Stderr != "oops\n" {
		t.Errorf("output = %+v", out)
	}
	want := []warden.Artifact{
		{Type: "exit_code", Value: "3"},
		{Type: "log", Value: "out", Description: "stdout"},
		{Type: "log", Value: "oops", Description: "stderr"},
	}
	if diff := cmp.Diff(want, oc.Artifacts); diff != "" {
		t.Errorf("artifacts (-want +got):\n%s", diff)
	}
	out, oc, err = runCmd(t, env, Input{"command": "true"})
	if err != nil || out.ExitCode != 0 || oc.Artifacts[0].Value != "0" {
		t.Errorf("true: %v, %+v", err, out)
	}
	_, _, err = runCmd(t, env, Input{"command": "no-such-program-xyz"})
	cmdWantCode(t, err, warden.CodeInvalidState)
	_, _, err = runCmd(t, env, Input{"command": "no-such-program-xyz", "args": []any{}})
	cmdWantCode(t, err, warden.CodeNotFound)
}

func TestCommandStdin(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdPolicy)
	for _, in := range []Input{
		{"command": "cat", "args": []any{}, "stdin": "hello"},
		{"command": "cat | tr a-z A-Z | tr A-Z a-z", "stdin": "hello"},
	} {
		out, _, err := runCmd(t, env, in)
		if err != nil {
			t.Fatal(err)
		}
		if out.Stdout != "hello" {
			t.Errorf("%v: stdout = %q", in["command"], out.Stdout)
		}
	}
	// No stdin reads as empty, never as Warden's own.
	out, _, err := runCmd(t, env, Input{"command": "cat"})
	if err != nil || out.Stdout != "" {
		t.Errorf("cat without stdin: %v, %q", err, out.Stdout)
	}
}

func TestCommandRedirections(t *testing.T) {
	cmdSkipWithoutUnix(t)
	env := newTestEnv(t, cmdPolicy)
	writeFile(t, env, "in.txt", "from file\n")
	out, oc, err := runCmd(t, env, Input{"command": "echo hi > out.txt; cat < in.txt; echo more >> out.txt; echo gone > /dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, env, "out.txt"); got != "hi\nmore\n" {
		t.Errorf("out.txt = %q", got)
	}
	if out.Stdout != "from file\n" {
		t.Errorf("stdout = %q", out.Stdout)
	}
	if diff := cmp.Diff([]string{"out.txt"}, oc.FilesChanged); diff != "" {
		t.Errorf("FilesChanged (-want +got):\n%s", diff)
	}
	// A missing input file is the shell's error, not a refusal.
	out, _, err = runCmd(t, env, Input{"command": "cat < missing.txt"})
	cmdWantCode(t, err, warden.CodeInvalidState)
	if out.ExitCode != 1 || !strings.Contains(out.Stderr, "missing.txt") {
		t.Errorf("output = %+v", out)
	}
	for _, cmd := range []string{"echo x > secret.txt", "echo x > ../escape.txt", "echo x > " + filepath.Join(t.TempDir(), "abs.txt")} {
		_, _, err := runCmd(t, env, Input{"command": cmd})
		cmdWantCode(t, err, warden.CodeDenied)
	}
	if readFile(t, env, "secret.txt") != "<missing>" {
		t.Error("secret.txt was created")
	}
	// Without the engine, the root and the file policy still apply.
	penv := cmdPermissiveEnv(t, cmdAnyPolicy)
	_, _, err = runCmd(t, penv, Input{"command": "echo x > ../escape.txt"})
	cmdWantCode(t, err, warden.CodeDenied)
	if _, err := os.Stat(filepath.Join(filepath.Dir(penv.Dir), "escape.txt")); err == nil {
		t.Error("escape.txt was created outside the root")
	}
}

func TestCommandValidate(t *testing.T) {
	a := &commandRun{}
	cases := []struct {
		in   Input
		code warden.Code
	}{
		{Input{"command": "echo hi"}, ""},
		{Input{"command": "echo", "args": []any{"hi"}, "cwd": "sub", "env": map[string]any{"A": "b"}, "timeout": 5, "stdin": "x"}, ""},
		{Input{}, warden.CodeInvalidInput},
		{Input{"args": []any{"echo", "hi"}}, warden.CodeInvalidInput},
		{Input{"command": "echo 'unterminated"}, warden.CodeInvalidInput},
		{Input{"command": "echo", "timeout": 0}, warden.CodeInvalidInput},
		{Input{"command": "echo", "timeout": 3600001}, warden.CodeInvalidInput},
		{Input{"command": "echo", "env": map[string]any{"A": 1}}, warden.CodeInvalidInput},
		{Input{"command": "echo", "env": map[string]any{"A=B": "c"}}, warden.CodeInvalidInput},
		{Input{"command": "echo", "args": []any{1}}, warden.CodeInvalidInput},
		{Input{"command": "echo", "shell": true}, warden.CodeInvalidInput},
	}
	for _, tc := range cases {
		if got := warden.ErrorCode(a.Validate(tc.in)); got != tc.code {
			t.Errorf("Validate(%v) = %q, want %q", tc.in, got, tc.code)
		}
	}
}

func TestCommandDryRunAndRollback(t *testing.T) {
	env := newTestEnv(t, cmdPolicy)
	a := &commandRun{}
	p, err := a.DryRun(bg, env, Input{"command": "echo hi"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Run command: echo hi (cwd ., timeout 30000ms)"; p.WouldDo != want {
		t.Errorf("WouldDo = %q, want %q", p.WouldDo, want)
	}
	p, err = a.DryRun(bg, env, Input{"command": "echo", "args": []any{"a b"}, "cwd": "missing", "timeout": 10})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Run command: echo 'a b' (cwd missing, timeout 10ms)"; p.WouldDo != want {
		t.Errorf("WouldDo = %q, want %q", p.WouldDo, want)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), "does not exist") {
		t.Errorf("warnings %q do not mention the missing cwd", p.Warnings)
	}
	p, err = a.DryRun(bg, env, Input{"command": "echo $(id)"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), "would be refused") {
		t.Errorf("warnings %q do not say the line would be refused", p.Warnings)
	}
	cmdWantCode(t, a.Rollback(bg, env, nil), warden.CodeNotReversible)
	cmdWantCode(t, a.Rollback(bg, env, json.RawMessage(`{}`)), warden.CodeNotReversible)
}

// TestCommandGatewayShape checks the adapter against the engine the way the
// gateway calls it: evaluation of the same input allows it first.
func TestCommandGatewayShape(t *testing.T) {
	cmdSkipWithoutUnix(t)
	p, err := policy.Parse([]byte(cmdPolicy), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, cmdPolicy)
	e, err := engine.New(p, engine.Options{Root: env.Dir})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{"command": "echo", "args": []any{"hi"}}
	if v := e.Evaluate(engine.Request{Action: warden.Action{Tool: "command:run", Input: in}}); v.Decision != warden.Allow {
		t.Fatalf("engine: %v %v", v.Decision, v.Reasons)
	}
	out, _, err := runCmd(t, env, in)
	if err != nil || out.Stdout != "hi\n" {
		t.Fatalf("%v, %+v", err, out)
	}
}

// envPolicy is det-acp's env-read test policy.
const envPolicy = `
name: t
capabilities:
  - {tool: "env:read", scope: {}}
`

func envTestEnv(t *testing.T, policyYAML string) *Env {
	t.Helper()
	env := newTestEnv(t, policyYAML)
	env.Environ = []string{
		"DET_ACP_TEST_ENV_VAR=test-value",
		"DET_ACP_TEST_SECRET_KEY=super-secret-value",
		"WARDEN_PLAIN=plain",
		"DB_PASSWORD=hunter2",
		"GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
	}
	return env
}

func readEnv(t *testing.T, env *Env, in Input) (*Outcome, error) {
	t.Helper()
	if err := (envRead{}).Validate(in); err != nil {
		return nil, err
	}
	return envRead{}.Execute(bg, env, in)
}

func TestEnvReadDetACP(t *testing.T) {
	env := envTestEnv(t, envPolicy)

	// 1. A set variable.
	oc, err := readEnv(t, env, Input{"name": "DET_ACP_TEST_ENV_VAR"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(envValue{Name: "DET_ACP_TEST_ENV_VAR", Value: "test-value", Exists: true}, oc.Output); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	// 5. The checksum artifact is always there.
	if diff := cmp.Diff([]warden.Artifact{{Type: "checksum", Value: Checksum([]byte("test-value")), Description: "value of DET_ACP_TEST_ENV_VAR"}}, oc.Artifacts); diff != "" {
		t.Errorf("artifacts (-want +got):\n%s", diff)
	}

	// 2. An unset variable.
	_, err = readEnv(t, env, Input{"name": "DET_ACP_NOT_SET"})
	cmdWantCode(t, err, warden.CodeNotFound)
	if want := "Environment variable not set: DET_ACP_NOT_SET"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}

	// 3. A secret-looking name: redacted in the output too, not only in evidence.
	oc, err = readEnv(t, env, Input{"name": "DET_ACP_TEST_SECRET_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	want := envValue{Name: "DET_ACP_TEST_SECRET_KEY", Value: "[REDACTED]", Exists: true, Redacted: true, Checksum: Checksum([]byte("super-secret-value"))}
	if diff := cmp.Diff(want, oc.Output); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if b, _ := json.Marshal(oc); strings.Contains(string(b), "super-secret-value") {
		t.Errorf("the secret leaks: %s", b)
	}

	// 4. redact: true on a plain variable.
	oc, err = readEnv(t, env, Input{"name": "DET_ACP_TEST_ENV_VAR", "redact": true})
	if err != nil {
		t.Fatal(err)
	}
	if v := oc.Output.(envValue); v.Value != "[REDACTED]" || !v.Redacted {
		t.Errorf("output = %+v", v)
	}

	// 6. Rollback has nothing to do.
	if err := (envRead{}).Rollback(bg, env, nil); err != nil {
		t.Errorf("Rollback: %v", err)
	}

	// 7–9. Dry runs.
	plan := func(name string) *Plan {
		t.Helper()
		p, err := envRead{}.DryRun(bg, env, Input{"name": name})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := plan("DET_ACP_TEST_ENV_VAR"); !strings.Contains(p.WouldDo, "Read environment variable") || len(p.Warnings) != 0 {
		t.Errorf("plan = %+v", p)
	}
	if p := plan("DET_ACP_NOT_SET"); len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "not set") {
		t.Errorf("plan = %+v", p)
	}
	if p := plan("DET_ACP_TEST_SECRET_KEY"); len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "sensitive") {
		t.Errorf("plan = %+v", p)
	}

	// 10–11. Validation.
	if err := (envRead{}).Validate(Input{"name": "X"}); err != nil {
		t.Errorf("Validate: %v", err)
	}
	cmdWantCode(t, envRead{}.Validate(Input{"name": ""}), warden.CodeInvalidInput)
}

func TestEnvReadSecretsStayRedacted(t *testing.T) {
	env := envTestEnv(t, envPolicy)
	for _, tc := range []struct{ name, secret string }{
		{"DB_PASSWORD", "hunter2"},                         // the ledger's key rules
		{"DET_ACP_TEST_SECRET_KEY", "super-secret-value"},  // det-acp's name rules
		{"GH", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}, // the value's shape
	} {
		// redact: false cannot reveal: no policy field allows it.
		oc, err := readEnv(t, env, Input{"name": tc.name, "redact": false})
		if err != nil {
			t.Fatal(err)
		}
		v := oc.Output.(envValue)
		if v.Value != "[REDACTED]" || v.Checksum != Checksum([]byte(tc.secret)) {
			t.Errorf("%s: output = %+v", tc.name, v)
		}
	}
}

func TestEnvReadNamesAndScope(t *testing.T) {
	const pol = `
name: t
capabilities:
  - {tool: "env:read", scope: {env: ["WARDEN_*", "DET_ACP_TEST_ENV_VAR"]}}
`
	env := envTestEnv(t, pol)
	oc, err := readEnv(t, env, Input{"names": []any{"WARDEN_PLAIN", "DET_ACP_TEST_ENV_VAR"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"variables": []envValue{
		{Name: "WARDEN_PLAIN", Value: "plain", Exists: true},
		{Name: "DET_ACP_TEST_ENV_VAR", Value: "test-value", Exists: true},
	}}
	if diff := cmp.Diff(want, oc.Output); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	for _, in := range []Input{
		{"name": "DB_PASSWORD"},
		{"names": []any{"WARDEN_PLAIN", "HOME"}},
	} {
		_, err := readEnv(t, env, in)
		cmdWantCode(t, err, warden.CodeDenied)
	}
	// Without the engine, the adapter checks scope.env itself.
	penv := cmdPermissiveEnv(t, pol)
	penv.Environ = env.Environ
	_, err = readEnv(t, penv, Input{"name": "DB_PASSWORD"})
	cmdWantCode(t, err, warden.CodeDenied)
	_, err = readEnv(t, cmdPermissiveEnv(t, cmdAnyPolicy), Input{"name": "WARDEN_PLAIN"})
	cmdWantCode(t, err, warden.CodeDenied)
	// Some set, some not: what was found, and a NOT_FOUND naming the others.
	oc, err = readEnv(t, env, Input{"names": []any{"WARDEN_PLAIN", "WARDEN_UNSET"}})
	cmdWantCode(t, err, warden.CodeNotFound)
	if vs := oc.Output.(map[string]any)["variables"].([]envValue); len(vs) != 1 || vs[0].Name != "WARDEN_PLAIN" {
		t.Errorf("output = %+v", oc.Output)
	}
}

func TestEnvReadProcessEnvironment(t *testing.T) {
	t.Setenv("WARDEN_TEST_FROM_PROCESS", "proc")
	env := newTestEnv(t, envPolicy) // Environ nil: the process's own
	oc, err := readEnv(t, env, Input{"name": "WARDEN_TEST_FROM_PROCESS"})
	if err != nil {
		t.Fatal(err)
	}
	if v := oc.Output.(envValue); v.Value != "proc" {
		t.Errorf("output = %+v", v)
	}
}
