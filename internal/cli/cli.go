// Package cli is the warden command line: one file per command, each a
// params struct and a run function writing to injected streams, assembled
// into a cobra tree by Main. It is the composition root and the one place
// errors become exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// Exit codes. They are part of the command-line contract.
const (
	ExitOK      = 0 // success, or the action is allowed
	ExitFailure = 1 // failure, deny, or invalid input
	ExitUsage   = 2 // the command line itself is wrong
	ExitGate    = 3 // the action needs approval
)

// Streams are the command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// exitError carries an exit code chosen by a command (deny, gate) along
// with the error to print, if any.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake in the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// Main runs the warden command line and returns the process exit code.
func Main(ctx context.Context, args []string, s Streams) int {
	root := newRoot(s)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code
	}
	switch {
	case code == ExitUsage:
		fmt.Fprintf(s.Err, "warden: %v\nRun 'warden --help' for usage.\n", err)
	default:
		var pe policy.Errors
		if errors.As(err, &pe) {
			fmt.Fprintln(s.Err, pe.Error())
		} else {
			fmt.Fprintf(s.Err, "warden: %v\n", err)
		}
	}
	return code
}

// exitCode maps an error to its exit code, once, for every command.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var pe policy.Errors
	if errors.As(err, &pe) {
		return ExitFailure
	}
	// A domain error, whatever its code (INVALID_INPUT, NOT_FOUND,
	// DECISION_NOT_FOUND, POLICY_VIOLATION, …), is a failure, never a
	// usage error, even when its message quotes words cobra uses.
	var we *warden.Error
	if errors.As(err, &we) {
		return ExitFailure
	}
	if isCobraUsage(err) {
		return ExitUsage
	}
	return ExitFailure
}

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "warden",
		Short: "Warden governs what AI agents may do",
		Long: `Warden sits between an AI agent and its tools: every action is checked
against a declared policy and is allowed, denied, or held for approval.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(
		newValidateCmd(s),
		newExplainCmd(s),
		newVerifyCmd(s),
		newReportCmd(s),
		newServeCmd(s),
		newPendingCmd(s),
		newApproveCmd(s),
		newRejectCmd(s),
		newTokenCmd(s),
		newLedgerCmd(s),
		newExecCmd(s),
		newProxyCmd(s),
		newMCPCmd(s),
		newRollbackCmd(s),
		newDecisionCmd(s),
		newTemplateCmd(s),
		newBundleCmd(s),
		newAuditCmd(s),
		newVersionCmd(s),
	)
	return root
}
