package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/decision"
)

func newAuditCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Export audit packages of executed decisions",
		Long: `Audit exports audit packages (package_version 0.6): one JSON document
binding a decision's bundle to its run by one binding digest, with
Warden's additions (the approvers' identities, the action digest, the
ledger checkpoint and inclusion proofs, and an Ed25519 signature by the
instance's signing key). warden verify checks a package and names any
check that fails.`,
	}
	cmd.AddCommand(newAuditExportCmd(s))
	return cmd
}

func newAuditExportCmd(s Streams) *cobra.Command {
	var db, out string
	var embed bool
	cmd := &cobra.Command{
		Use:   "export ID [-o FILE] [--embed]",
		Short: "Export the audit package of an executed decision",
		Long: `Export writes the audit package of decision ID, which must have executed
successfully, to standard output or -o FILE: in reference mode (the run by
its id and response digest), or with --embed carrying Warden's record of
the run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInstance(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer in.Close()
			opts := decision.AuditOptions{Embed: embed, Signer: in.SigningKey, Ledger: in.Ledger}
			if sg := in.Ledger.Signer(); sg != nil {
				opts.KeyName = sg.Name()
			}
			p, err := in.Decisions.ExportAuditPackage(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			data, err := json.Marshal(p)
			if err != nil {
				return err
			}
			return writeOutput(s, out, data, "audit package "+p.Integrity.BindingDigest)
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "database file (default "+DefaultDB+")")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&embed, "embed", false, "embed Warden's record of the run (embedded mode)")
	return cmd
}
