package cli

import (
	"github.com/wardenhq/warden/internal/instance"

	"bufio"
	"encoding/base64"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/warden"
)

func newLedgerCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Export, verify, checkpoint and prove the local ledger",
	}

	ef := &localFlags{}
	var session, output string
	export := &cobra.Command{
		Use:   "export --session ID [-o FILE]",
		Short: "Export a session's ledger as JSONL with a signed checkpoint and proofs",
		Long: `Export writes every ledger entry of a session, one JSON object per line in
det-acp's line format, followed by a trailer holding the entry count, the
last hash, a signed checkpoint of the whole ledger and each entry's
inclusion proof, so that an edited, reordered or truncated export is
detected by warden verify.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if session == "" {
				return usagef("--session is required")
			}
			in, err := openInstance(cmd.Context(), ef.db)
			if err != nil {
				return err
			}
			defer in.Close()
			w := s.Out
			var f *os.File
			if output != "" && output != "-" {
				if f, err = os.Create(output); err != nil {
					return warden.Errorf(warden.CodeInvalidInput, "-o %s: %v", output, err)
				}
				w = f
			}
			bw := bufio.NewWriter(w)
			if err := in.Ledger.Export(cmd.Context(), bw, session); err != nil {
				if f != nil {
					f.Close()
					os.Remove(output)
				}
				return warden.Errorf(warden.CodeNotFound, "export session %s: %v", session, err)
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				if err := f.Sync(); err != nil {
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(s.Err, "Wrote %s; check it with: warden verify %s\n", output, output)
			}
			return nil
		},
	}
	ef.register(export, false)
	export.Flags().StringVar(&session, "session", "", "the session to export")
	export.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")

	cf := &localFlags{}
	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign and print a checkpoint of the whole ledger",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := openInstance(cmd.Context(), cf.db)
			if err != nil {
				return err
			}
			defer in.Close()
			c, err := in.Ledger.Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			if cf.json {
				return writeJSON(s, map[string]any{"origin": c.Origin, "size": c.Size, "root": base64.StdEncoding.EncodeToString(c.Root[:]), "note": string(c.Note), "verifierKey": in.Ledger.Signer().VerifierKey()})
			}
			fmt.Fprint(s.Out, string(c.Note))
			return nil
		},
	}
	cf.register(checkpoint, false)

	pf := &localFlags{}
	var index, size int64
	prove := &cobra.Command{
		Use:   "prove --index N [--size M]",
		Short: "Print the inclusion proof of the entry at a tree index",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := openInstance(cmd.Context(), pf.db)
			if err != nil {
				return err
			}
			defer in.Close()
			ctx := cmd.Context()
			if size == 0 {
				if size, err = in.Ledger.Store().TreeSize(ctx); err != nil {
					return err
				}
			}
			if index < 0 || index >= size {
				return warden.Errorf(warden.CodeInvalidInput, "--index %d is outside the tree of %d entries", index, size)
			}
			proof, err := in.Ledger.ProveInclusion(ctx, index, size)
			if err != nil {
				return err
			}
			root, err := in.Ledger.TreeHash(ctx, size)
			if err != nil {
				return err
			}
			hashes := make([]string, len(proof))
			for i, h := range proof {
				hashes[i] = base64.StdEncoding.EncodeToString(h[:])
			}
			out := map[string]any{"index": index, "size": size, "root": base64.StdEncoding.EncodeToString(root[:]), "proof": hashes}
			return writeJSON(s, out)
		},
	}
	pf.register(prove, false)
	prove.Flags().Int64Var(&index, "index", -1, "the entry's index in the tree")
	prove.Flags().Int64Var(&size, "size", 0, "the tree size to prove against (default: the current size)")

	vf := &verifyParams{}
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a ledger export (same as warden verify)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			vf.file = args[0]
			return runVerify(vf, s)
		},
	}
	verify.Flags().StringArrayVar(&vf.keys, "key", nil, "a trusted verifier key or a file holding one; repeatable")
	verify.Flags().BoolVar(&vf.json, "json", false, "print the report as JSON")

	cmd.AddCommand(export, verify, checkpoint, prove)
	return cmd
}

// ledgerEntries reads a session's entries from the local ledger.
func ledgerEntries(in *instance.Instance, cmd *cobra.Command, session string) ([]ledger.Entry, error) {
	entries, err := in.Ledger.Store().Entries(cmd.Context(), session, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, warden.Errorf(warden.CodeNotFound, "no ledger entries for session %s", session)
	}
	return entries, nil
}
