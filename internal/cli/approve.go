package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/gateway"
)

// localFlags are the flags of commands that work on the local database.
type localFlags struct {
	db   string
	as   string
	json bool
}

func (f *localFlags) register(cmd *cobra.Command, identity bool) {
	cmd.Flags().StringVar(&f.db, "db", "", "database file (default "+DefaultDB+")")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
	if identity {
		cmd.Flags().StringVar(&f.as, "as", "", "the identity to act as (default: your user name)")
	}
}

func newPendingCmd(s Streams) *cobra.Command {
	f := &localFlags{}
	rf := &remoteFlags{}
	var session string
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "List approvals waiting for a decision",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []*gateway.Approval
			if c, err := rf.client(); err != nil {
				return err
			} else if c != nil {
				var page struct {
					Approvals []*gateway.Approval `json:"approvals"`
				}
				if err := c.do(cmd.Context(), "GET", "/v1/approvals?session="+url.QueryEscape(session), nil, &page); err != nil {
					return err
				}
				list = page.Approvals
			} else {
				in, err := openInstance(cmd.Context(), f.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if list, err = in.Gateway.Pending(cmd.Context(), session); err != nil {
					return err
				}
			}
			if f.json {
				if list == nil {
					list = []*gateway.Approval{}
				}
				return writeJSON(s, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(s.Out, "No approvals are pending.")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSESSION\tTOOL\tINPUT\tVOTES\tREQUESTED BY\tEXPIRES")
			for _, a := range list {
				input, _ := json.Marshal(a.Input)
				expires := "never"
				if a.ExpiresAt != nil {
					expires = a.ExpiresAt.Local().Format("15:04:05")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d of %d\t%s\t%s\n", a.ID, a.SessionID, a.Tool, truncate(string(input), 60), len(a.Votes), a.Requirement.MinApprovals, a.Requester, expires)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, false)
	rf.register(cmd)
	cmd.Flags().StringVar(&session, "session", "", "only this session's approvals")
	return cmd
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func writeJSON(s Streams, v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newApproveCmd(s Streams) *cobra.Command {
	f := &localFlags{}
	rf := &remoteFlags{}
	var comment string
	var forSession bool
	var groups []string
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a pending gate",
		Long: `Approve records your vote on a pending approval. When the gate's
required number of distinct approvers is reached, the identical call,
retried by the agent, runs (once, unless --for-session).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a *gateway.Approval
			if c, err := rf.client(); err != nil {
				return err
			} else if c != nil {
				// The server knows who the token is; --as does not apply.
				if err := c.do(cmd.Context(), "POST", "/v1/approvals/"+url.PathEscape(args[0])+"/approve", map[string]any{"comment": comment, "for_session": forSession}, &a); err != nil {
					return err
				}
			} else {
				in, err := openInstance(cmd.Context(), f.db)
				if err != nil {
					return err
				}
				defer in.Close()
				who := gateway.Approver{ID: localIdentity(f.as), Groups: groups}
				if a, err = in.Gateway.Approve(cmd.Context(), args[0], who, gateway.ApproveOptions{Comment: comment, ForSession: forSession}); err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, a)
			}
			if a.State == gateway.Approved {
				fmt.Fprintf(s.Out, "Approved %s (%s): the agent's identical call will now run.\n", a.ID, voters(a))
			} else {
				fmt.Fprintf(s.Out, "Recorded your approval of %s: %d of %d approvals.\n", a.ID, len(a.Votes), a.Requirement.MinApprovals)
			}
			return nil
		},
	}
	f.register(cmd, true)
	rf.register(cmd)
	cmd.Flags().StringVar(&comment, "comment", "", "a comment recorded with the approval")
	cmd.Flags().BoolVar(&forSession, "for-session", false, "allow the identical call for the rest of the session, not once")
	cmd.Flags().StringSliceVar(&groups, "group", nil, "groups you approve for (for group:<name> approvers)")
	return cmd
}

func voters(a *gateway.Approval) string {
	names := make([]string, len(a.Votes))
	for i, v := range a.Votes {
		names[i] = v.Approver
	}
	return strings.Join(names, ", ")
}

func newRejectCmd(s Streams) *cobra.Command {
	f := &localFlags{}
	rf := &remoteFlags{}
	var reason string
	var groups []string
	cmd := &cobra.Command{
		Use:   "reject ID --reason R",
		Short: "Reject a pending gate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason is required: say why, so the agent and the ledger know")
			}
			var a *gateway.Approval
			if c, err := rf.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "POST", "/v1/approvals/"+url.PathEscape(args[0])+"/reject", map[string]any{"reason": reason}, &a); err != nil {
					return err
				}
			} else {
				in, err := openInstance(cmd.Context(), f.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if a, err = in.Gateway.Reject(cmd.Context(), args[0], gateway.Approver{ID: localIdentity(f.as), Groups: groups}, reason); err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, a)
			}
			fmt.Fprintf(s.Out, "Rejected %s: %s\n", a.ID, reason)
			return nil
		},
	}
	f.register(cmd, true)
	rf.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.Flags().StringSliceVar(&groups, "group", nil, "groups you decide for (for group:<name> approvers)")
	return cmd
}
