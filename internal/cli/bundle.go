package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

func newBundleCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Export and import decision bundles",
		Long: `Bundle moves decisions between Warden instances, and to and from
nexus-control: a bundle (bundle_version 0.5) carries a decision's header,
every event with its digest, its template and the link to its execution,
with a canonical digest. It works on the local database (--db, default
` + DefaultDB + `).`,
	}
	cmd.AddCommand(newBundleExportCmd(s), newBundleImportCmd(s))
	return cmd
}

// writeOutput writes data to file, or to standard output when file is ""
// or "-", saying where it went.
func writeOutput(s Streams, file string, data []byte, what string) error {
	if file == "" || file == "-" {
		_, err := s.Out.Write(append(data, '\n'))
		return err
	}
	if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "-o %s: %v", file, err)
	}
	fmt.Fprintf(s.Out, "Wrote %s (%s).\n", file, what)
	return nil
}

func newBundleExportCmd(s Streams) *cobra.Command {
	var db, out string
	var noTemplate, noLink bool
	cmd := &cobra.Command{
		Use:   "export ID [-o FILE]",
		Short: "Export a decision as a bundle",
		Long: `Export writes decision ID as a bundle, after verifying its history, to
standard output or -o FILE. warden bundle import and nexus-control import
it; warden verify checks it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInstance(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer in.Close()
			b, err := in.Decisions.ExportBundle(cmd.Context(), args[0], decision.ExportOptions{IncludeTemplateSnapshot: !noTemplate, IncludeRouterLink: !noLink})
			if err != nil {
				return err
			}
			data, err := json.Marshal(b)
			if err != nil {
				return err
			}
			return writeOutput(s, out, data, "bundle "+b.Integrity.CanonicalDigest)
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "database file (default "+DefaultDB+")")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&noTemplate, "no-template", false, "leave out the template section")
	cmd.Flags().BoolVar(&noLink, "no-router-link", false, "leave out the link to the execution")
	return cmd
}

func newBundleImportCmd(s Streams) *cobra.Command {
	f := &localFlags{}
	var mode string
	var noVerify, noReplay bool
	cmd := &cobra.Command{
		Use:   "import FILE [--conflict-mode reject_on_conflict|new_decision_id|overwrite]",
		Short: "Import a decision bundle",
		Long: `Import stores the decision a bundle carries, one exported by Warden or by
nexus-control; "-" reads standard input. Every check runs first (digests,
seq order, event ids, header, template, router link, provenance, Warden's
hash chain and replay) and nothing is written unless they pass. When the
decision id is taken, --conflict-mode says what happens: reject_on_conflict
(the default) refuses, new_decision_id stores it under a new id, overwrite
replaces the existing decision atomically.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			if args[0] == "-" {
				data, err = io.ReadAll(s.In)
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return warden.Errorf(warden.CodeInvalidInput, "%s: %v", args[0], err)
			}
			b, err := nexus.ParseBundle(data)
			if err != nil {
				return &warden.Error{Code: decision.CodeBundleInvalid, Message: fmt.Sprintf("%s is not a decision bundle: %v", args[0], err), Err: err}
			}
			in, err := openInstance(cmd.Context(), f.db)
			if err != nil {
				return err
			}
			defer in.Close()
			res, err := in.Decisions.ImportBundle(cmd.Context(), b, decision.ImportOptions{Mode: mode, VerifyDigest: !noVerify, ReplayAfterImport: !noReplay})
			// With --json the result, and its report of every check, is
			// printed even when the import is refused.
			if res != nil && f.json {
				if werr := writeJSON(s, res); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			if f.json {
				return nil
			}
			msg := fmt.Sprintf("Imported decision %s: %d event%s", res.DecisionID, res.EventsImported, pluralS(res.EventsImported))
			switch {
			case res.OriginalDecisionID != "":
				msg += fmt.Sprintf(" (the bundle's id %s was taken)", res.OriginalDecisionID)
			case res.Replaced:
				msg += " (replacing the decision that had its id)"
			}
			if !res.DigestVerified {
				msg += "; digests NOT enforced (--no-verify)"
			}
			fmt.Fprintln(s.Out, msg+".")
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&mode, "conflict-mode", decision.ImportRejectOnConflict, "reject_on_conflict, new_decision_id or overwrite")
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "report the bundle's digest checks without enforcing them")
	cmd.Flags().BoolVar(&noReplay, "no-replay", false, "skip nexus-control's replay and the check of the stored decision after the write")
	return cmd
}
