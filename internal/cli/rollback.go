package cli

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/gateway"
)

func newRollbackCmd(s Streams) *cobra.Command {
	f := &localFlags{}
	rf := &remoteFlags{}
	var session, action string
	cmd := &cobra.Command{
		Use:   "rollback --session ID [--action ID]",
		Short: "Undo what Warden executed in a session",
		Long: `Rollback restores every file Warden's executors changed in a session,
newest action first, from the backups taken before each change: one
action with --action, otherwise all of them. Each step is a ledger
entry naming the action it undoes. Effects outside the project (a
command run, a request sent) are reported, not undone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if session == "" {
				return usagef("--session is required: the session to roll back")
			}
			var rep *gateway.RollbackReport
			if c, err := rf.client(); err != nil {
				return err
			} else if c != nil {
				body := map[string]any{}
				if action != "" {
					body["action_id"] = action
				}
				if err := c.do(cmd.Context(), "POST", "/v1/sessions/"+url.PathEscape(session)+"/rollback", body, &rep); err != nil {
					return err
				}
			} else {
				in, err := openInstance(cmd.Context(), f.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if rep, err = in.Gateway.Rollback(cmd.Context(), session, action, localIdentity(f.as)); err != nil {
					return err
				}
			}
			if f.json {
				if err := writeJSON(s, rep); err != nil {
					return err
				}
			} else {
				printRollback(s, rep)
			}
			if rep.Failed > 0 {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	f.register(cmd, true)
	rf.register(cmd)
	cmd.Flags().StringVar(&session, "session", "", "the session to roll back")
	cmd.Flags().StringVar(&action, "action", "", "roll back only this action")
	return cmd
}

func printRollback(s Streams, rep *gateway.RollbackReport) {
	if len(rep.Steps) == 0 {
		fmt.Fprintf(s.Out, "Nothing to roll back in session %s.\n", rep.SessionID)
		return
	}
	for _, st := range rep.Steps {
		line := fmt.Sprintf("%-14s #%d %s %s", st.Status, st.Index, st.Tool, st.ActionID)
		if len(st.Files) > 0 {
			line += fmt.Sprintf(" %v", st.Files)
		}
		if st.Error != "" {
			line += ": " + st.Error
		}
		fmt.Fprintln(s.Out, line)
	}
	fmt.Fprintf(s.Out, "Rolled back %d, failed %d, not reversible %d.\n", rep.RolledBack, rep.Failed, rep.NotReversible)
}
