package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/policy"
)

type validateParams struct {
	file string
	json bool
}

func newValidateCmd(s Streams) *cobra.Command {
	p := &validateParams{}
	cmd := &cobra.Command{
		Use:   "validate POLICY",
		Short: "Check a policy file and report every problem",
		Long: `Validate reads a policy file and reports every problem as file:line:col
with a fix. It exits 0 when the policy is valid (warnings may be printed)
and 1 when it is not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.file = args[0]
			return runValidate(p, s)
		},
	}
	cmd.Flags().BoolVar(&p.json, "json", false, "print the result as JSON")
	return cmd
}

// validateResult is validate's JSON output.
type validateResult struct {
	File     string        `json:"file"`
	Valid    bool          `json:"valid"`
	Name     string        `json:"name,omitempty"`
	Errors   policy.Errors `json:"errors"`
	Warnings policy.Errors `json:"warnings"`
	Summary  *summary      `json:"summary,omitempty"`
}

type summary struct {
	Capabilities int `json:"capabilities"`
	Gates        int `json:"gates"`
	Forbidden    int `json:"forbidden"`
	Tools        int `json:"tools"`
}

func runValidate(p *validateParams, s Streams) error {
	pol, err := policy.LoadFile(p.file)
	res := validateResult{File: p.file, Errors: policy.Errors{}, Warnings: policy.Errors{}}
	if err != nil {
		pe, ok := err.(policy.Errors)
		if !ok {
			return err
		}
		res.Errors = pe
	} else {
		res.Valid = true
		res.Name = pol.Name
		res.Warnings = append(res.Warnings, pol.Warnings...)
		res.Summary = &summary{Capabilities: len(pol.Capabilities), Gates: len(pol.Gates), Forbidden: len(pol.Forbidden), Tools: len(pol.Tools)}
	}
	if p.json {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
		if !res.Valid {
			return &exitError{code: ExitFailure}
		}
		return nil
	}
	if !res.Valid {
		return res.Errors
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(s.Err, "warning: %s\n", w)
	}
	fmt.Fprintf(s.Out, "%s: valid policy %q (%d capabilities, %d gates, %d forbidden rules)\n",
		p.file, res.Name, res.Summary.Capabilities, res.Summary.Gates, res.Summary.Forbidden)
	return nil
}
