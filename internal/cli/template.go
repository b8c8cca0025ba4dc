package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/warden"
)

func newTemplateCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Create, get and list decision templates",
		Long: `Template manages decision templates: named, immutable policies (approvals,
modes, approvers, capabilities, steps, labels) that decisions are made
from. A template's digest covers its content only; a name is never
reused. Each command works on the local database (--db, default
` + DefaultDB + `) or with --server URL on that server (creating one needs an
admin token).`,
	}
	cmd.AddCommand(newTemplateCreateCmd(s), newTemplateGetCmd(s), newTemplateListCmd(s))
	return cmd
}

// readTemplateSpec reads a template definition, JSON or (for .yaml and
// .yml files) YAML, refusing unknown fields; "-" reads standard input.
func readTemplateSpec(path string, stdin io.Reader) (*decision.TemplateSpec, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--file %s: %v", path, err)
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		if data, err = yaml.YAMLToJSON(data); err != nil {
			return nil, warden.Errorf(warden.CodeInvalidInput, "--file %s: not valid YAML: %v", path, err)
		}
	}
	var spec decision.TemplateSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--file %s: %v; a template is an object with name, description, min_approvals, allowed_modes, require_adapter_capabilities, max_steps, labels, approvers, allow_self_approval and allow_loosening", path, err)
	}
	if dec.More() {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--file %s: data after the template object", path)
	}
	return &spec, nil
}

func newTemplateCreateCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var name, file string
	cmd := &cobra.Command{
		Use:   "create --name N [--file F]",
		Short: "Create a template",
		Long: `Create defines a template from a JSON or YAML file holding its fields:
description, min_approvals, allowed_modes, require_adapter_capabilities,
max_steps, labels, approvers, allow_self_approval and allow_loosening.
Without --file the template takes the defaults: one approval, dry runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := &decision.TemplateSpec{}
			if file != "" {
				var err error
				if spec, err = readTemplateSpec(file, s.In); err != nil {
					return err
				}
			}
			switch {
			case name == "" && spec.Name == "":
				return usagef("--name is required: the template's name")
			case name != "" && spec.Name != "" && name != spec.Name:
				return usagef("--name %q differs from the name %q in %s; give one", name, spec.Name, file)
			case name != "":
				spec.Name = name
			}
			var t *decision.Template
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "POST", "/v1/templates", spec, &t); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					var err error
					t, err = svc.CreateTemplate(cmd.Context(), spec, localActor(f.as))
					return err
				})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, t)
			}
			fmt.Fprintf(s.Out, "Created template %s (%s).\n", t.Name, t.Digest)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&name, "name", "", "the template's name: letters, digits, _ and -")
	cmd.Flags().StringVar(&file, "file", "", "a JSON or YAML file defining the template; - for standard input")
	return cmd
}

func newTemplateGetCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a template",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *decision.Template
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				if err := c.do(cmd.Context(), "GET", "/v1/templates/"+url.PathEscape(args[0]), nil, &t); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					var err error
					t, err = svc.Template(cmd.Context(), args[0])
					return err
				})
				if err != nil {
					return err
				}
			}
			if f.json {
				return writeJSON(s, t)
			}
			printTemplate(s.Out, t)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func printTemplate(w io.Writer, t *decision.Template) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("Template", "%s", t.Name)
	if t.Description != "" {
		row("Description", "%s", singleLine(t.Description))
	}
	row("Digest", "%s", t.Digest)
	row("Approvals", "%d", t.MinApprovals)
	row("Modes", "%s", joinModes(t.AllowedModes))
	approvers := "anyone but the requester"
	if len(t.Approvers) > 0 {
		approvers = strings.Join(t.Approvers, ", ")
	}
	if t.AllowSelfApproval {
		approvers += " (self-approval allowed)"
	}
	row("Approvers", "%s", approvers)
	if len(t.RequireCapabilities) > 0 {
		row("Capabilities", "%s", strings.Join(t.RequireCapabilities, ", "))
	}
	if t.MaxSteps > 0 {
		row("Max steps", "%d", t.MaxSteps)
	}
	if len(t.Labels) > 0 {
		row("Labels", "%s", strings.Join(t.Labels, ", "))
	}
	overrides := "tighten only"
	if t.AllowLoosening {
		overrides = "may loosen"
	}
	row("Overrides", "%s", overrides)
	row("Created", "%s by %s", t.CreatedAt.Local().Format("2006-01-02 15:04"), t.CreatedBy)
	tw.Flush()
}

func joinModes(modes []decision.Mode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func newTemplateListCmd(s Streams) *cobra.Command {
	f := &decisionFlags{}
	var labels []string
	var cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--label k=v]...",
		Short: "List templates by name",
		Long:  `List shows the templates, by name; --label keeps those carrying every label given, compared exactly.`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("limit") && (limit < 1 || limit > decision.MaxLimit) {
				return usagef("--limit %d: give 1 to %d", limit, decision.MaxLimit)
			}
			var page httpapi.TemplateList
			if c, err := f.client(); err != nil {
				return err
			} else if c != nil {
				q := url.Values{"label": labels}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				if limit > 0 {
					q.Set("limit", strconv.Itoa(limit))
				}
				path := "/v1/templates"
				if e := q.Encode(); e != "" {
					path += "?" + e
				}
				if err := c.do(cmd.Context(), "GET", path, nil, &page); err != nil {
					return err
				}
			} else {
				err := withDecisions(cmd.Context(), f.db, func(svc *decision.Service) error {
					p, err := svc.Templates(cmd.Context(), decision.TemplateFilter{Labels: labels, Limit: limit, Cursor: cursor})
					if err == nil {
						page = httpapi.TemplateList{Templates: p.Templates, Next: p.Next}
					}
					return err
				})
				if err != nil {
					return err
				}
			}
			if page.Templates == nil {
				page.Templates = []*decision.Template{}
			}
			if f.json {
				return writeJSON(s, page)
			}
			if len(page.Templates) == 0 {
				fmt.Fprintln(s.Out, "No templates.")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAPPROVALS\tMODES\tLABELS\tDIGEST")
			for _, t := range page.Templates {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", t.Name, t.MinApprovals, joinModes(t.AllowedModes), strings.Join(t.Labels, ","), truncate(t.Digest, 19))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Next != "" {
				fmt.Fprintf(s.Out, "More: --cursor %q\n", page.Next)
			}
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringArrayVar(&labels, "label", nil, "only templates with this exact label (repeatable)")
	cmd.Flags().IntVar(&limit, "limit", 0, "page size (default 100)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "continue a previous listing")
	return cmd
}
