package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// maxInput bounds an action's JSON input.
const maxInput = 1 << 20

type explainParams struct {
	file  string
	tool  string
	input string
	dir   string
	json  bool
}

func newExplainCmd(s Streams) *cobra.Command {
	p := &explainParams{}
	cmd := &cobra.Command{
		Use:   "explain POLICY --tool TOOL --input JSON",
		Short: "Show how a policy decides one action, step by step",
		Long: `Explain evaluates one action against a policy, with no session, and prints
the decision, the reasons, the rule that decided and a trace of every step.

--input is a JSON object, @FILE to read it from a file, or - for stdin.
Exit status: 0 allow, 1 deny, 3 gate (needs approval), 2 usage error.`,
		Example: `  warden explain examples/coding-agent.yaml --tool file:read --input '{"path": "./.env"}'
  warden explain policy.yaml --tool command:run --input '{"command": "npm test"}' --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.file = args[0]
			return runExplain(p, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.tool, "tool", "", "the action kind or MCP tool name, e.g. file:read (required)")
	f.StringVar(&p.input, "input", "{}", "the action's input as a JSON object, @FILE, or - for stdin")
	f.StringVar(&p.dir, "dir", "", "the project root (default: the current directory)")
	f.BoolVar(&p.json, "json", false, "print the verdict as JSON")
	return cmd
}

func runExplain(p *explainParams, s Streams) error {
	if strings.TrimSpace(p.tool) == "" {
		return usagef("--tool is required, e.g. --tool file:read")
	}
	input, err := readInput(p.input, s.In)
	if err != nil {
		return err
	}
	pol, err := policy.LoadFile(p.file)
	if err != nil {
		return err
	}
	for _, w := range pol.Warnings {
		fmt.Fprintf(s.Err, "warning: %s\n", w)
	}
	if p.dir != "" {
		if fi, err := os.Stat(p.dir); err != nil || !fi.IsDir() {
			return warden.Errorf(warden.CodeInvalidInput, "--dir %s: not a directory; give the project root", p.dir)
		}
	}
	eng, err := engine.New(pol, engine.Options{Root: p.dir})
	if err != nil {
		return err
	}
	v := eng.Evaluate(engine.Request{Action: warden.Action{Tool: p.tool, Input: input}, Trace: true})
	if p.json {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		printVerdict(s.Out, &v)
	}
	switch v.Decision {
	case warden.Deny:
		return &exitError{code: ExitFailure}
	case warden.Gate:
		return &exitError{code: ExitGate}
	}
	return nil
}

// readInput decodes --input: a JSON object, @FILE or - for stdin.
func readInput(arg string, stdin io.Reader) (map[string]any, error) {
	var data []byte
	switch {
	case arg == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
		if err != nil {
			return nil, warden.Errorf(warden.CodeInvalidInput, "--input: reading stdin: %v", err)
		}
		data = b
	case strings.HasPrefix(arg, "@"):
		f, err := os.Open(arg[1:])
		if err != nil {
			return nil, warden.Errorf(warden.CodeInvalidInput, "--input: %v", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxInput+1))
		if err != nil {
			return nil, warden.Errorf(warden.CodeInvalidInput, "--input: %v", err)
		}
		data = b
	default:
		data = []byte(arg)
	}
	if len(data) > maxInput {
		return nil, warden.Errorf(warden.CodeTooLarge, "--input is larger than %d KiB", maxInput>>10)
	}
	return DecodeInput(data)
}

// DecodeInput decodes an action's input: a JSON object, nothing else.
func DecodeInput(data []byte) (map[string]any, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		kind := "nothing"
		if len(data) > 0 {
			kind = canon.KindOf(data[0])
		}
		return nil, warden.Errorf(warden.CodeInvalidInput, "--input must be a JSON object such as {\"path\": \"src/a.ts\"}, got %s", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--input is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--input has data after the JSON object")
	}
	return m, nil
}

func printVerdict(w io.Writer, v *warden.Verdict) {
	decision := string(v.Decision)
	if v.Shadowed != "" {
		decision += " (shadow mode: " + v.Shadowed + ")"
	}
	if g := v.Gate; g != nil {
		needed := fmt.Sprintf("%d approval", g.MinApprovals)
		if g.MinApprovals != 1 {
			needed += "s"
		}
		if len(g.Approvers) > 0 {
			needed += " from " + strings.Join(g.Approvers, ", ")
		} else {
			needed += " needed"
		}
		decision += fmt.Sprintf(" (%s approval, %s)", g.Approval, needed)
	}
	fmt.Fprintf(w, "decision: %s\nrule:     %s\ntool:     %s\nreasons:\n", decision, v.Rule, v.Tool)
	for _, r := range v.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	for _, r := range v.Warnings {
		fmt.Fprintf(w, "warning:  %s\n", r)
	}
	if len(v.Trace) == 0 {
		return
	}
	fmt.Fprintln(w, "trace:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, st := range v.Trace {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", st.Stage, st.Rule, st.Result, st.Detail)
	}
	tw.Flush()
}
