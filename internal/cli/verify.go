package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/warden"
)

// LocalSigningKey is where an instance keeps its ledger signing key,
// relative to the project directory.
const LocalSigningKey = ".warden/signing.key"

type verifyParams struct {
	file    string
	session string
	db      string
	keys    []string
	json    bool
	remote  remoteFlags
}

func newVerifyCmd(s Streams) *cobra.Command {
	p := &verifyParams{}
	cmd := &cobra.Command{
		Use:   "verify (FILE | --session ID)",
		Short: "Verify a ledger export, a det-acp ledger file, a decision bundle or an audit package",
		Long: `Verify checks a ledger file and reports every check at once: each entry's
hash, the hash chain, for Warden exports the entry count against the
signed trailer (a removed tail), the checkpoint's signature by a trusted
key, and each entry's inclusion proof. det-acp ledger files are checked as
det-acp hashed them, with what that format cannot prove listed as warnings.
With --session, the session's export is made and checked at once, from the
local database or, with --server URL, from that server.

Decision bundles and audit packages (Warden's and nexus-control's) are
checked the same way: every digest, the event chain and its replay, the
binding, and for Warden's packages the signature and the ledger proofs,
each check named in the report.

Trusted keys come from --key (a verifier key, or a file holding one); with
none, the key of the local instance (` + LocalSigningKey + `) is trusted, or
with --server the server's key.
Exit status: 0 valid, 1 invalid.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				p.file = args[0]
			}
			return runVerify(cmd.Context(), p, s)
		},
	}
	cmd.Flags().StringArrayVar(&p.keys, "key", nil, "a trusted verifier key (name+hash+base64) or a file holding one; repeatable")
	cmd.Flags().BoolVar(&p.json, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&p.session, "session", "", "verify this session's ledger instead of a file")
	cmd.Flags().StringVar(&p.db, "db", "", "database file for --session, or whose signing key to trust for a bundle or audit package (default "+DefaultDB+")")
	p.remote.register(cmd)
	return cmd
}

func runVerify(ctx context.Context, p *verifyParams, s Streams) error {
	if (p.file != "") == (p.session != "") {
		return usagef("give either a ledger file or --session ID")
	}
	c, err := p.remote.client()
	if err != nil {
		return err
	}
	// What to verify, what to call it, and the key that signs it when no
	// --key is given (with none, that of the local instance's directory).
	var (
		src    io.Reader
		label  = p.file
		ownKey string
	)
	switch {
	case p.file != "":
		data, err := os.ReadFile(p.file)
		if err != nil {
			return warden.Errorf(warden.CodeNotFound, "%s: %v", p.file, err)
		}
		if isExchangeDoc(data) {
			return verifyExchange(p, s, data)
		}
		src = bytes.NewReader(data)
	case c != nil:
		var buf bytes.Buffer
		if err := c.download(ctx, "/v1/sessions/"+url.PathEscape(p.session)+"/ledger/export", &buf); err != nil {
			return err
		}
		src, label = &buf, "session "+p.session
	default:
		in, err := openInstance(ctx, p.db)
		if err != nil {
			return err
		}
		defer in.Close()
		var buf bytes.Buffer
		if err := in.Ledger.Export(ctx, &buf, p.session); err != nil {
			return warden.Errorf(warden.CodeNotFound, "export session %s: %v", p.session, err)
		}
		src, label, ownKey = &buf, "session "+p.session, in.Ledger.Signer().VerifierKey()
	}
	keys, err := parseKeys(p.keys)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		switch {
		case c != nil:
			var cp checkpointInfo
			if err := c.do(ctx, "GET", "/v1/ledger/checkpoint", nil, &cp); err != nil {
				return fmt.Errorf("the server's verifier key: %w", err)
			}
			keys = []string{cp.VerifierKey}
		case ownKey != "":
			keys = []string{ownKey}
		default:
			if keys, err = localKeys(); err != nil {
				return err
			}
		}
	}
	rep := ledger.Verify(src, ledger.VerifyOptions{Keys: keys})
	if p.json {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		status := "VALID"
		if !rep.Valid {
			status = "INVALID"
		}
		fmt.Fprintf(s.Out, "%s: %s %s, session %s, %d entries (seq %d-%d)\n", label, status, rep.Kind, rep.SessionID, rep.Entries, rep.FirstSeq, rep.LastSeq)
		for _, c := range rep.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			line := ""
			if c.Line > 0 {
				line = fmt.Sprintf(" (line %d)", c.Line)
			}
			fmt.Fprintf(s.Out, "  %s %s%s: %s\n", mark, c.Name, line, c.Message)
		}
		for _, w := range rep.Warnings {
			fmt.Fprintf(s.Out, "  note %s\n", w)
		}
	}
	if !rep.Valid {
		return &exitError{code: ExitFailure}
	}
	return nil
}

// parseKeys reads --key values: verifier keys or files holding one.
func parseKeys(args []string) ([]string, error) {
	var keys []string
	for _, a := range args {
		key := a
		if _, err := os.Stat(a); err == nil {
			b, err := os.ReadFile(a)
			if err != nil {
				return nil, warden.Errorf(warden.CodeInvalidInput, "--key %s: %v", a, err)
			}
			key = strings.TrimSpace(string(b))
		}
		if _, err := note.NewVerifier(key); err != nil {
			return nil, warden.Errorf(warden.CodeInvalidInput, "--key %s: not a verifier key (name+hash+base64) nor a file holding one: %v", a, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// localKeys returns the verifier key of the instance in the working
// directory, if it has one.
func localKeys() ([]string, error) {
	if _, err := os.Stat(LocalSigningKey); err != nil {
		return nil, nil
	}
	signer, err := ledger.LoadOrCreateKey(LocalSigningKey, "warden")
	if err != nil {
		return nil, fmt.Errorf("local signing key %s: %w", filepath.Clean(LocalSigningKey), err)
	}
	return []string{signer.VerifierKey()}, nil
}

type reportParams struct {
	file    string
	session string
	db      string
	json    bool
	remote  remoteFlags
}

func newReportCmd(s Streams) *cobra.Command {
	p := &reportParams{}
	cmd := &cobra.Command{
		Use:   "report (LEDGER.jsonl | --session ID)",
		Short: "Summarise a session from its ledger",
		Long: `Report counts what a session did, from a Warden export or det-acp ledger
file, or with --session from the local ledger or, with --server URL, from
that server's.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (p.session != "") {
				return usagef("give either a ledger file or --session ID")
			}
			if p.session == "" {
				if p.remote.server != "" {
					return usagef("--server reports on a session of the server: give --session ID, not a file")
				}
				p.file = args[0]
				return runReport(p, s)
			}
			var entries []ledger.Entry
			if c, err := p.remote.client(); err != nil {
				return err
			} else if c != nil {
				var page struct {
					Entries []ledger.Entry `json:"entries"`
				}
				if err := c.do(cmd.Context(), "GET", "/v1/sessions/"+url.PathEscape(p.session)+"/ledger", nil, &page); err != nil {
					return err
				}
				if entries = page.Entries; len(entries) == 0 {
					return noEntries(p.session)
				}
			} else {
				in, err := openInstance(cmd.Context(), p.db)
				if err != nil {
					return err
				}
				defer in.Close()
				if entries, err = ledgerEntries(in, cmd, p.session); err != nil {
					return err
				}
			}
			return printSummary(ledger.Summarize(entries), p.json, s)
		},
	}
	cmd.Flags().BoolVar(&p.json, "json", false, "print the summary as JSON")
	cmd.Flags().StringVar(&p.session, "session", "", "a session in the local ledger, or with --server the server's")
	cmd.Flags().StringVar(&p.db, "db", "", "database file (default "+DefaultDB+")")
	p.remote.register(cmd)
	return cmd
}

func runReport(p *reportParams, s Streams) error {
	f, err := os.Open(p.file)
	if err != nil {
		return warden.Errorf(warden.CodeNotFound, "%s: %v", p.file, err)
	}
	defer f.Close()
	entries, err := ledger.ReadEntries(f)
	if err != nil {
		return warden.Errorf(warden.CodeInvalidInput, "%s: %v", p.file, err)
	}
	return printSummary(ledger.Summarize(entries), p.json, s)
}

func printSummary(sum ledger.Summary, asJSON bool, s Streams) error {
	if asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(s.Out, "Session %s: %d entries\n", sum.SessionID, sum.TotalEntries)
	fmt.Fprintf(s.Out, "  actions evaluated %d: allowed %d, denied %d, gated %d\n", sum.ActionsEvaluated, sum.ActionsAllowed, sum.ActionsDenied, sum.ActionsGated)
	fmt.Fprintf(s.Out, "  gates requested %d: approved %d, rejected %d\n", sum.GatesRequested, sum.GatesApproved, sum.GatesRejected)
	fmt.Fprintf(s.Out, "  results recorded %d, rolled back %d, escalations %d\n", sum.ResultsRecorded, sum.ActionsRolledBack, sum.EscalationsTriggered)
	for _, e := range sum.Errors {
		fmt.Fprintf(s.Out, "  failed result: %s\n", e)
	}
	if sum.Terminated {
		fmt.Fprintf(s.Out, "  terminated: %s\n", sum.TerminationReason)
	} else {
		fmt.Fprintln(s.Out, "  still active when the file was written")
	}
	return nil
}
