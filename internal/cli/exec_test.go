package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
)

const execPolicy = `name: exec-test
capabilities:
  - tool: command:run
    scope: {binaries: [printf, sh, touch, sleep, "true"]}
forbidden:
  - {command: "rm -rf"}
  - {command: "touch forbidden-marker"}
gates:
  - {action: command:run, approval: human, timeout: 30s, when: 'input.command == "sleep"'}
  - {action: command:run, approval: human, timeout: 1s, when: 'input.command == "true"'}
`

// execIn runs warden exec in dir with the test policy and returns the exit
// code, stdout and stderr.
func execIn(t *testing.T, dir string, argv ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"exec", filepath.Join(dir, "policy.yaml"), "--dir", dir, "--db", filepath.Join(dir, ".warden", "warden.db"), "--"}, argv...)
	code := Main(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func execDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(execPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExecKeepsArgvAndExitCode(t *testing.T) {
	dir := execDir(t)
	// Words that a shell would expand or split stay single arguments.
	code, out, _ := execIn(t, dir, "printf", "%s|", "a b", "$(touch pwned)", "`touch pwned`", ";touch pwned", "'q'")
	if code != 0 || out != "a b|$(touch pwned)|`touch pwned`|;touch pwned|'q'|" {
		t.Fatalf("code %d, out %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("an argument was run by a shell")
	}
	code, _, _ = execIn(t, dir, "sh", "-c", "printf 'x'; exit 7")
	if code != 1 {
		// exit is a builtin the policy does not list, so the script is denied.
		t.Fatalf("sh -c with an unlisted builtin: code %d", code)
	}
}

func TestExecDenied(t *testing.T) {
	dir := execDir(t)
	for _, argv := range [][]string{
		{"touch", "forbidden-marker"},
		{"rm", "-fr", "x"},
		{"curl", "http://example.com"},
		{"sh", "-c", "touch forbidden-marker"},
	} {
		code, out, errs := execIn(t, dir, argv...)
		if code != ExitFailure || out != "" || !strings.HasPrefix(errs, "DENIED\n") {
			t.Errorf("%v: code %d, out %q, err %q", argv, code, out, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "forbidden-marker")); err == nil {
		t.Fatal("a denied command ran")
	}
}

func TestExecWaitsForApproval(t *testing.T) {
	dir := execDir(t)
	done := make(chan [3]any, 1)
	go func() {
		code, out, errs := execIn(t, dir, "sleep", "0")
		done <- [3]any{code, out, errs}
	}()
	// Approve from another process's view of the same database.
	in, err := instance.Open(context.Background(), filepath.Join(dir, ".warden", "warden.db"), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var pending []*gateway.Approval
	for deadline := time.Now().Add(20 * time.Second); len(pending) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no pending approval appeared")
		}
		if pending, err = in.Gateway.Pending(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Gateway.Approve(context.Background(), pending[0].ID, gateway.Approver{ID: "alice"}, gateway.ApproveOptions{}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r[0] != 0 || !strings.Contains(r[2].(string), "warden approve "+pending[0].ID) {
		t.Fatalf("approved: %v", r)
	}
	sessions, _ := in.Gateway.Sessions(context.Background(), gateway.SessionFilter{})
	rep, err := in.Gateway.Report(context.Background(), sessions[0].ID, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{"state": rep.State, "approved": rep.Approved, "gated": rep.Gated}
	if diff := cmp.Diff(map[string]any{"state": "terminated", "approved": 1, "gated": 1}, got); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}
}

func TestExecGateTimesOut(t *testing.T) {
	dir := execDir(t)
	code, out, errs := execIn(t, dir, "true")
	if code != ExitFailure || out != "" || !strings.Contains(errs, "No decision on approval") {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
}

// TestExecForwardsSignals runs warden exec as a process, sends it SIGTERM
// and checks that the child got it: the child traps it and exits 42.
func TestExecForwardsSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := execDir(t)
	policy := strings.Replace(execPolicy, "[printf, sh,", "[printf, sh, trap, exit, echo, \":\",", 1)
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy), 0o644)
	cmd := exec.Command(serverBin(t, dir), "exec", "policy.yaml", "--", "sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done")
	cmd.Dir = dir
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "ready"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the child never started: %s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
		t.Fatalf("exit: %v, output %s", err, out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
