package decision

import (
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/warden"
)

// TemplateSpec defines a template. Fields left nil take their defaults:
// min_approvals 1 and allowed_modes [dry_run].
type TemplateSpec struct {
	Name                string   `json:"name"`
	Description         string   `json:"description,omitempty"`
	MinApprovals        *int     `json:"min_approvals,omitempty"`
	AllowedModes        []Mode   `json:"allowed_modes,omitempty"`
	RequireCapabilities []string `json:"require_adapter_capabilities,omitempty"`
	MaxSteps            *int     `json:"max_steps,omitempty"`
	Labels              []string `json:"labels,omitempty"`
	Approvers           []string `json:"approvers,omitempty"`
	AllowSelfApproval   bool     `json:"allow_self_approval,omitempty"`
	// AllowLoosening lets a request override the template with a weaker
	// policy (fewer approvals, more modes, …). Without it, overrides may
	// only tighten.
	AllowLoosening bool `json:"allow_loosening,omitempty"`
}

// MaxDescriptionLen bounds a template's description, in bytes.
const MaxDescriptionLen = 4096

// TemplateContent is what a template prescribes, and all that its digest
// covers: two templates with the same content have the same digest
// whatever their names, descriptions, authors and dates. Its lists are
// kept sorted (modes as dry_run, apply), so their order in the definition
// does not matter either.
type TemplateContent struct {
	Policy
	// Labels are the labels of decisions made from the template unless the
	// request gives its own; templates are also listed by them.
	Labels         []string `json:"labels"`
	AllowLoosening bool     `json:"allow_loosening,omitempty"`
}

// Digest returns the content's digest, "sha256:" + hex(SHA-256(JCS)).
func (c *TemplateContent) Digest() (string, error) { return canon.DigestJSON(c) }

// A Template is a named, immutable, content-addressed policy that
// decisions are made from.
type Template struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	TemplateContent
	// Digest is TemplateContent's digest.
	Digest    string    `json:"digest"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy Actor     `json:"created_by"`
}

// Snapshot returns what a decision made from the template embeds, so that
// it never depends on the stored template.
func (t *Template) Snapshot() *TemplateSnapshot {
	return &TemplateSnapshot{Name: t.Name, Description: t.Description, TemplateContent: t.TemplateContent.clone()}
}

// TemplateSnapshot is a template as a decision embeds it.
type TemplateSnapshot struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	TemplateContent
}

// TemplateRef is how a decision refers to the template it was made from:
// the name, the content digest, the snapshot and the overrides the request
// applied (each overridden key with the request's value).
type TemplateRef struct {
	Name      string            `json:"name"`
	Digest    string            `json:"digest"`
	Snapshot  *TemplateSnapshot `json:"snapshot,omitempty"`
	Overrides map[string]any    `json:"overrides_applied,omitempty"`
}

func (c TemplateContent) clone() TemplateContent {
	c.Policy = *c.Policy.clone()
	c.Labels = slices.Clone(c.Labels)
	return c
}

// NewTemplate validates spec and returns the template it defines, created
// by actor at time at.
func NewTemplate(spec *TemplateSpec, actor Actor, at time.Time) (*Template, error) {
	var fe fieldErrors
	checkTemplateName(&fe, "name", spec.Name)
	if len(spec.Description) > MaxDescriptionLen {
		fe.add("description", "is %d bytes, more than %d", len(spec.Description), MaxDescriptionLen)
	}
	actor.check(&fe, "actor")
	c := TemplateContent{
		Policy: Policy{
			MinApprovals:        1,
			AllowedModes:        []Mode{DryRun},
			RequireCapabilities: sorted(spec.RequireCapabilities),
			Approvers:           sorted(spec.Approvers),
			AllowSelfApproval:   spec.AllowSelfApproval,
		},
		Labels:         sorted(spec.Labels),
		AllowLoosening: spec.AllowLoosening,
	}
	if spec.MinApprovals != nil {
		c.MinApprovals = *spec.MinApprovals
	}
	if spec.AllowedModes != nil {
		c.AllowedModes = sortModes(spec.AllowedModes)
	}
	if spec.MinApprovals != nil && *spec.MinApprovals < 1 {
		fe.add("min_approvals", "must be at least 1, got %d", *spec.MinApprovals)
		c.MinApprovals = 1
	}
	if spec.AllowedModes != nil && len(spec.AllowedModes) == 0 {
		fe.add("allowed_modes", "must list at least one mode (%q or %q)", DryRun, Apply)
		c.AllowedModes = []Mode{DryRun}
	}
	if spec.MaxSteps != nil {
		if *spec.MaxSteps < 1 {
			fe.add("max_steps", "must be at least 1, got %d", *spec.MaxSteps)
		} else {
			c.MaxSteps = *spec.MaxSteps
		}
	}
	if len(c.Approvers) == 0 {
		c.Approvers = nil
	}
	c.Policy.check(&fe, "")
	checkList(&fe, "labels", c.Labels)
	if len(c.Approvers) > 0 && !c.AllowSelfApproval && c.MinApprovals > len(c.Approvers) {
		fe.add("min_approvals", "is %d but only %d approvers are allowed", c.MinApprovals, len(c.Approvers))
	}
	if err := fe.err(warden.CodeInvalidInput); err != nil {
		return nil, err
	}
	d, err := c.Digest()
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "template: %v", err)
	}
	return &Template{
		Name: spec.Name, Description: spec.Description, TemplateContent: c,
		Digest: d, CreatedAt: Stamp(at), CreatedBy: actor,
	}, nil
}

// checkTemplateName checks a template name: a letter or digit, then
// letters, digits, '_' and '-', at most MaxIDLen bytes.
func checkTemplateName(fe *fieldErrors, field, s string) {
	if s == "" {
		fe.add(field, "is required")
		return
	}
	if len(s) > MaxIDLen {
		fe.add(field, "is %d bytes, more than %d", len(s), MaxIDLen)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-') {
			fe.add(field, "%q must start with a letter or digit and hold only letters, digits, '_' and '-'", s)
			return
		}
	}
}

// sorted returns a sorted copy of list, never nil, so that JSON shows [].
func sorted(list []string) []string {
	out := slices.Clone(list)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

// sortModes returns modes in the canonical order, dry_run before apply;
// invalid modes follow in their order so that validation reports them.
func sortModes(modes []Mode) []Mode {
	out := make([]Mode, 0, len(modes))
	for _, m := range modes {
		if m == DryRun {
			out = append(out, m)
		}
	}
	for _, m := range modes {
		if m != DryRun {
			out = append(out, m)
		}
	}
	return out
}
