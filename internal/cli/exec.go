package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/instance"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// defaultGateWait is how long exec waits for an approval whose gate names
// no timeout.
const defaultGateWait = 10 * time.Minute

// approvalPoll is how often a held command looks for a decision: an
// approval given from another process reaches it within this time.
const approvalPoll = 200 * time.Millisecond

type execParams struct {
	policyFile, dir, db string
	wait                time.Duration
	argv                []string
}

func newExecCmd(s Streams) *cobra.Command {
	p := &execParams{}
	cmd := &cobra.Command{
		Use:   "exec POLICY [--dir D] -- CMD [ARGS...]",
		Short: "Run one command if the policy allows it",
		Long: `Run one command under a policy. The command's words stay as they are:
nothing is joined into a shell line. Denied: DENIED and the reasons on
stderr, exit 1, and the command never starts. Gated: the command waits
for approval (warden approve ID) up to the gate's timeout. Allowed: the
command runs with its output streamed, signals forwarded, and its exit
code returned. Every step is recorded in a session of the local database.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(args) < 2 {
				return usagef("exec needs a policy, then -- and the command: warden exec POLICY -- CMD [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p.policyFile, p.argv = args[0], args[1:]
			return runExec(cmd.Context(), s, p)
		},
	}
	cmd.Flags().StringVar(&p.dir, "dir", "", "the project root the command runs in (default: the current directory)")
	cmd.Flags().StringVar(&p.db, "db", "", "database file (default "+DefaultDB+")")
	cmd.Flags().DurationVar(&p.wait, "wait", 0, "how long to wait for an approval (default: the gate's timeout, or 10m)")
	return cmd
}

func runExec(ctx context.Context, s Streams, p *execParams) error {
	if _, err := policy.LoadFile(p.policyFile); err != nil {
		return err
	}
	src, err := os.ReadFile(p.policyFile)
	if err != nil {
		return err
	}
	dir := p.dir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	in, err := instance.Open(ctx, p.db, instance.Options{})
	if err != nil {
		return err
	}
	defer in.Close()
	g := in.Gateway
	sess, err := g.CreateSession(ctx, gateway.CreateRequest{Policy: src, PolicyName: p.policyFile, Root: dir,
		Metadata: map[string]any{"agent": "warden exec", "argv": p.argv}, Owner: localIdentity("")})
	if err != nil {
		return err
	}
	// The session ends with the command, whatever happens.
	ended := "command not run"
	defer func() { _, _ = g.Terminate(context.WithoutCancel(ctx), sess.ID, ended) }()

	args := make([]any, len(p.argv)-1)
	for i, a := range p.argv[1:] {
		args[i] = a
	}
	action := warden.Action{Tool: "command:run", Input: map[string]any{"command": p.argv[0], "args": args, "cwd": dir}}
	actor := localIdentity("")
	resp, err := g.Evaluate(ctx, sess.ID, action, gateway.EvaluateOptions{Actor: actor})
	if err != nil {
		return err
	}
	if resp.Decision == warden.Gate {
		if resp, err = awaitApproval(ctx, s, g, sess.ID, resp, action, actor, p.wait); err != nil {
			return err
		}
	}
	if resp.Decision != warden.Allow {
		fmt.Fprintln(s.Err, "DENIED")
		for _, r := range resp.Reasons {
			fmt.Fprintf(s.Err, "  %s\n", r)
		}
		ended = "command denied"
		return &exitError{code: ExitFailure}
	}
	code, res := runChild(ctx, s, dir, p.argv)
	if _, err := g.RecordResult(context.WithoutCancel(ctx), sess.ID, resp.ActionID, res); err != nil {
		fmt.Fprintf(s.Err, "warden: recording the result: %v\n", err)
	}
	ended = "command completed"
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// awaitApproval holds a gated command until its approval is decided or the
// wait runs out, then evaluates it again: approved, the same call is now
// allowed once.
func awaitApproval(ctx context.Context, s Streams, g *gateway.Gateway, sessionID string, resp *gateway.Response, action warden.Action, actor string, wait time.Duration) (*gateway.Response, error) {
	if wait <= 0 {
		wait = defaultGateWait
		if resp.Gate != nil && resp.Gate.Timeout > 0 {
			wait = resp.Gate.Timeout
		}
	}
	fmt.Fprintf(s.Err, "Waiting for approval %s (up to %s): %s\n", resp.ApprovalID, wait, strings.Join(resp.Reasons, "; "))
	fmt.Fprintf(s.Err, "Approve with: warden approve %s\n", resp.ApprovalID)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(approvalPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, &exitError{code: 130, err: errors.New("stopped while waiting for approval " + resp.ApprovalID)}
		case <-deadline.C:
			return &gateway.Response{Decision: warden.Deny, Reasons: []string{fmt.Sprintf("No decision on approval %s within %s; once approved, run the same command again", resp.ApprovalID, wait)}}, nil
		case <-tick.C:
		}
		a, err := g.Approval(ctx, resp.ApprovalID)
		if err != nil {
			return nil, err
		}
		if a.State != gateway.Pending {
			return g.Evaluate(ctx, sessionID, action, gateway.EvaluateOptions{Actor: actor})
		}
	}
}

// runChild runs argv with the command's streams, forwarding signals, and
// returns its exit code and the result to record.
func runChild(ctx context.Context, s Streams, dir string, argv []string) (int, gateway.Result) {
	start := time.Now()
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir, c.Stdin, c.Stdout, c.Stderr = dir, s.In, s.Out, s.Err
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		fmt.Fprintf(s.Err, "warden: %v\n", err)
		return 127, gateway.Result{Error: err.Error(), Artifacts: []gateway.Artifact{{Type: "exit_code", Value: "127"}}}
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	var err error
wait:
	for {
		select {
		case sig := <-sigs:
			_ = c.Process.Signal(sig)
		case <-ctx.Done():
			_ = c.Process.Signal(syscall.SIGTERM)
		case err = <-done:
			break wait
		}
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		code = 1
	}
	res := gateway.Result{Success: code == 0, DurationMS: time.Since(start).Milliseconds(),
		Artifacts: []gateway.Artifact{{Type: "exit_code", Value: fmt.Sprint(code)}}}
	if code != 0 {
		res.Error = fmt.Sprintf("exit code %d", code)
	}
	return code, res
}
