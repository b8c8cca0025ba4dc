package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/auth"
	"github.com/wardenhq/warden/internal/warden"
)

// issuedToken is a created token with its secret, as token create --json
// prints it and POST /v1/tokens answers it.
type issuedToken struct {
	Secret string     `json:"secret"`
	Token  auth.Token `json:"token"`
}

func newTokenCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `Token manages the API's bearer tokens in the local database, or with
--server URL on that server, with an admin token (--token or $WARDEN_TOKEN).`,
	}
	f := &localFlags{}
	cf := &remoteFlags{}
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
			var out issuedToken
			if c, err := cf.client(); err != nil {
				return err
			} else if c != nil {
				if groups == nil {
					groups = []string{}
				}
				if err := c.do(cmd.Context(), "POST", "/v1/tokens", map[string]any{"name": name, "role": role, "groups": groups}, &out); err != nil {
					return err
				}
			} else {
				in, err := openInstance(cmd.Context(), f.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if out.Secret, out.Token, err = auth.Issue(cmd.Context(), in.Tokens, name, r, groups); err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, out)
			}
			fmt.Fprintf(s.Out, "Token %s for %s (%s). Its secret, shown only now:\n%s\n", out.Token.ID, out.Token.Name, out.Token.Role, out.Secret)
			return nil
		},
	}
	f.register(create, false)
	cf.register(create)
	create.Flags().StringVar(&name, "name", "", "the identity the token acts as")
	create.Flags().StringVar(&role, "role", "", "agent, approver or admin")
	create.Flags().StringSliceVar(&groups, "group", nil, "groups the identity belongs to")

	lf := &localFlags{}
	lrf := &remoteFlags{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tokens []auth.Token
			if c, err := lrf.client(); err != nil {
				return err
			} else if c != nil {
				var page struct {
					Tokens []auth.Token `json:"tokens"`
				}
				if err := c.do(cmd.Context(), "GET", "/v1/tokens", nil, &page); err != nil {
					return err
				}
				tokens = page.Tokens
			} else {
				in, err := openInstance(cmd.Context(), lf.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if tokens, err = in.Tokens.List(cmd.Context()); err != nil {
					return err
				}
			}
			if tokens == nil {
				tokens = []auth.Token{}
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
	lrf.register(list)

	rf := &localFlags{}
	rrf := &remoteFlags{}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t auth.Token
			if c, err := rrf.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "POST", "/v1/tokens/"+url.PathEscape(args[0])+"/revoke", nil, &t); err != nil {
					return err
				}
			} else {
				in, err := openInstance(cmd.Context(), rf.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if t, err = revokeToken(cmd.Context(), in.Tokens, args[0]); err != nil {
					return err
				}
			}
			if rf.json {
				return writeJSON(s, t)
			}
			fmt.Fprintf(s.Out, "Revoked %s.\n", t.ID)
			return nil
		},
	}
	rf.register(revoke, false)
	rrf.register(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// revokeToken revokes the token with this ID in a local store and returns
// it, revoked.
func revokeToken(ctx context.Context, store auth.Store, id string) (auth.Token, error) {
	notFound := warden.Errorf(warden.CodeNotFound, "token %s not found; see warden token list", id)
	if err := store.Revoke(ctx, id); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return auth.Token{}, notFound
		}
		return auth.Token{}, err
	}
	list, err := store.List(ctx)
	if err != nil {
		return auth.Token{}, err
	}
	for _, t := range list {
		if t.ID == id {
			return t, nil
		}
	}
	return auth.Token{}, notFound
}
