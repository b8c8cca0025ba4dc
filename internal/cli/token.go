package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/warden"
)

func newTokenCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
	}
	f := &localFlags{}
	var name, role string
	var groups []string
	create := &cobra.Command{
		Use:   "create --name NAME --role agent|approver|admin",
		Short: "Create a token; its secret is shown once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := auth.Role(role)
			if !r.Valid() {
				return usagef("--role %q: use agent, approver or admin", role)
			}
			if name == "" {
				return usagef("--name is required: the identity the token acts as")
			}
			in, err := openInstance(cmd.Context(), f.db)
			if err != nil {
				return err
			}
			defer in.Close()
			secret, t, err := auth.Issue(cmd.Context(), in.Tokens, name, r, groups)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(s, map[string]any{"token": t, "secret": secret})
			}
			fmt.Fprintf(s.Out, "Token %s for %s (%s). Its secret, shown only now:\n%s\n", t.ID, t.Name, t.Role, secret)
			return nil
		},
	}
	f.register(create, false)
	create.Flags().StringVar(&name, "name", "", "the identity the token acts as")
	create.Flags().StringVar(&role, "role", "", "agent, approver or admin")
	create.Flags().StringSliceVar(&groups, "group", nil, "groups the identity belongs to")

	lf := &localFlags{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := openInstance(cmd.Context(), lf.db)
			if err != nil {
				return err
			}
			defer in.Close()
			tokens, err := in.Tokens.List(cmd.Context())
			if err != nil {
				return err
			}
			if lf.json {
				return writeJSON(s, tokens)
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tGROUPS\tCREATED\tREVOKED")
			for _, t := range tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%v\n", t.ID, t.Name, t.Role, t.Groups, t.Created.Local().Format("2006-01-02 15:04"), t.Revoked)
			}
			return tw.Flush()
		},
	}
	lf.register(list, false)

	rf := &localFlags{}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInstance(cmd.Context(), rf.db)
			if err != nil {
				return err
			}
			defer in.Close()
			if err := in.Tokens.Revoke(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, auth.ErrNotFound) {
					return warden.Errorf(warden.CodeNotFound, "token %s not found; see warden token list", args[0])
				}
				return err
			}
			fmt.Fprintf(s.Out, "Revoked %s.\n", args[0])
			return nil
		},
	}
	rf.register(revoke, false)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
