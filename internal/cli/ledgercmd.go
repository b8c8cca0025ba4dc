package cli

import (
	"github.com/wardenhq/warden/internal/instance"

	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/warden"
)

func newLedgerCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Export, verify, checkpoint and prove the local ledger",
		Long: `Ledger works on the local database's ledger, or with --server URL on
that server's, with a token (--token or $WARDEN_TOKEN).`,
	}

	ef := &localFlags{}
	erf := &remoteFlags{}
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
			write, done, err := exporter(cmd.Context(), erf, ef.db, session)
			if err != nil {
				return err
			}
			defer done()
			w := s.Out
			var f *os.File
			if output != "" && output != "-" {
				if f, err = os.Create(output); err != nil {
					return warden.Errorf(warden.CodeInvalidInput, "-o %s: %v", output, err)
				}
				w = f
			}
			bw := bufio.NewWriter(w)
			if err := write(bw); err != nil {
				if f != nil {
					f.Close()
					os.Remove(output)
				}
				return err
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
	erf.register(export)
	export.Flags().StringVar(&session, "session", "", "the session to export")
	export.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")

	cf := &localFlags{}
	crf := &remoteFlags{}
	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign and print a checkpoint of the whole ledger",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out checkpointInfo
			if c, err := crf.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "GET", "/v1/ledger/checkpoint", nil, &out); err != nil {
					return err
				}
			} else {
				in, err := openInstance(cmd.Context(), cf.db)
				if err != nil {
					return err
				}
				defer in.Close()
				c, err := in.Ledger.Checkpoint(cmd.Context())
				if err != nil {
					return err
				}
				out = checkpointInfo{Note: string(c.Note), Origin: c.Origin, Root: base64.StdEncoding.EncodeToString(c.Root[:]), Size: c.Size, VerifierKey: in.Ledger.Signer().VerifierKey()}
			}
			if cf.json {
				return writeJSON(s, out)
			}
			fmt.Fprint(s.Out, out.Note)
			return nil
		},
	}
	cf.register(checkpoint, false)
	crf.register(checkpoint)

	pf := &localFlags{}
	prf := &remoteFlags{}
	var index, size int64
	prove := &cobra.Command{
		Use:   "prove --index N [--size M]",
		Short: "Print the inclusion proof of the entry at a tree index",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out proofInfo
			if c, err := prf.client(); err != nil {
				return err
			} else if c != nil {
				q := url.Values{"index": {strconv.FormatInt(index, 10)}}
				if size != 0 {
					q.Set("size", strconv.FormatInt(size, 10))
				}
				if err := c.do(cmd.Context(), "GET", "/v1/ledger/proof?"+q.Encode(), nil, &out); err != nil {
					return err
				}
				return writeJSON(s, out)
			}
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
			return writeJSON(s, proofInfo{Index: index, Proof: hashes, Root: base64.StdEncoding.EncodeToString(root[:]), Size: size})
		},
	}
	pf.register(prove, false)
	prf.register(prove)
	prove.Flags().Int64Var(&index, "index", -1, "the entry's index in the tree")
	prove.Flags().Int64Var(&size, "size", 0, "the tree size to prove against (default: the current size)")

	verify := newVerifyCmd(s)
	verify.Short = "Verify a ledger export, or a session's ledger (same as warden verify)"

	cmd.AddCommand(export, verify, checkpoint, prove)
	return cmd
}

// checkpointInfo is a signed checkpoint as ledger checkpoint --json prints
// it and GET /v1/ledger/checkpoint answers it. The fields are in the order
// of their names.
type checkpointInfo struct {
	Note        string `json:"note"`
	Origin      string `json:"origin"`
	Root        string `json:"root"`
	Size        int64  `json:"size"`
	VerifierKey string `json:"verifierKey"`
}

// proofInfo is an inclusion proof as ledger prove prints it and
// GET /v1/ledger/proof answers it. The fields are in the order of their
// names.
type proofInfo struct {
	Index int64    `json:"index"`
	Proof []string `json:"proof"`
	Root  string   `json:"root"`
	Size  int64    `json:"size"`
}

// exporter returns a function writing the export of a session, from the
// server when --server is set or else from the local database, and a
// function to call when done with it. Both write the same bytes.
func exporter(ctx context.Context, rf *remoteFlags, db, session string) (func(io.Writer) error, func(), error) {
	c, err := rf.client()
	if err != nil {
		return nil, nil, err
	}
	if c != nil {
		return func(w io.Writer) error {
			return c.download(ctx, "/v1/sessions/"+url.PathEscape(session)+"/ledger/export", w)
		}, func() {}, nil
	}
	in, err := openInstance(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	return func(w io.Writer) error {
		if err := in.Ledger.Export(ctx, w, session); err != nil {
			return warden.Errorf(warden.CodeNotFound, "export session %s: %v", session, err)
		}
		return nil
	}, func() { in.Close() }, nil
}

// ledgerEntries reads a session's entries from the local ledger.
func ledgerEntries(in *instance.Instance, cmd *cobra.Command, session string) ([]ledger.Entry, error) {
	entries, err := in.Ledger.Store().Entries(cmd.Context(), session, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, noEntries(session)
	}
	return entries, nil
}

func noEntries(session string) error {
	return warden.Errorf(warden.CodeNotFound, "no ledger entries for session %s", session)
}
