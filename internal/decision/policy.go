package decision

import (
	"slices"
	"strconv"
)

// Mode is how a decision's plan is executed.
type Mode string

// The two modes.
const (
	DryRun Mode = "dry_run"
	Apply  Mode = "apply"
)

// Valid reports whether m is DryRun or Apply.
func (m Mode) Valid() bool { return m == DryRun || m == Apply }

// Limits on the size of a policy. They keep a decision's cached state and
// every payload small enough to store and hash in one go.
const (
	// MaxMinApprovals is the largest min_approvals.
	MaxMinApprovals = 10000
	// MaxSteps is the largest max_steps, and the most actions a plan
	// may list.
	MaxSteps = 10000
	// MaxListLen is the most entries of labels, capabilities and
	// approvers.
	MaxListLen = 1000
)

// Policy is what a decision requires before it may execute and what it
// may do then. A Policy is validated when the decision is created (or the
// template defined), never first when it is replayed.
type Policy struct {
	// MinApprovals is N of N of M: the number of distinct identities whose
	// valid approval the execution needs. At least 1.
	MinApprovals int `json:"min_approvals"`
	// AllowedModes are the modes the execution may use; not empty.
	AllowedModes []Mode `json:"allowed_modes"`
	// RequireCapabilities are the capabilities the executor's adapter must
	// report. An executor that cannot report its capabilities is refused
	// when this is not empty.
	RequireCapabilities []string `json:"require_adapter_capabilities"`
	// MaxSteps bounds the steps of the execution; 0 means no bound.
	MaxSteps int `json:"max_steps,omitempty"`
	// Approvers, when not empty, is the allow-list of identities that may
	// approve: M of N of M.
	Approvers []string `json:"approvers,omitempty"`
	// AllowSelfApproval lets the requester approve its own decision.
	AllowSelfApproval bool `json:"allow_self_approval,omitempty"`
}

// Allows reports whether the policy allows mode m.
func (p *Policy) Allows(m Mode) bool { return slices.Contains(p.AllowedModes, m) }

// MayApprove reports whether identity id is allowed to approve a decision
// that requester asked for under this policy.
func (p *Policy) MayApprove(id, requester string) bool {
	if id == requester && !p.AllowSelfApproval {
		return false
	}
	return len(p.Approvers) == 0 || slices.Contains(p.Approvers, id)
}

// check adds the policy's invalid fields to fe; prefix is prepended to
// field names ("" for a request, "policy." for a template).
func (p *Policy) check(fe *fieldErrors, prefix string) {
	if p.MinApprovals < 1 || p.MinApprovals > MaxMinApprovals {
		fe.add(prefix+"min_approvals", "must be from 1 to %d, got %d", MaxMinApprovals, p.MinApprovals)
	}
	if len(p.AllowedModes) == 0 {
		fe.add(prefix+"allowed_modes", "must list at least one mode (%q or %q)", DryRun, Apply)
	}
	seen := map[Mode]bool{}
	for i, m := range p.AllowedModes {
		f := prefix + "allowed_modes[" + strconv.Itoa(i) + "]"
		switch {
		case !m.Valid():
			fe.add(f, "must be %q or %q, got %q", DryRun, Apply, m)
		case seen[m]:
			fe.add(f, "repeats %q", m)
		}
		seen[m] = true
	}
	checkList(fe, prefix+"require_adapter_capabilities", p.RequireCapabilities)
	if p.MaxSteps < 0 || p.MaxSteps > MaxSteps {
		fe.add(prefix+"max_steps", "must be from 1 to %d, or absent for no bound, got %d", MaxSteps, p.MaxSteps)
	}
	checkList(fe, prefix+"approvers", p.Approvers)
}

// checkList checks a list of names: each valid, none repeated, at most
// MaxListLen.
func checkList(fe *fieldErrors, field string, list []string) {
	if len(list) > MaxListLen {
		fe.add(field, "has %d entries, more than %d", len(list), MaxListLen)
		return
	}
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		f := field + "[" + strconv.Itoa(i) + "]"
		n := len(*fe)
		checkName(fe, f, s)
		if len(*fe) == n && seen[s] {
			fe.add(f, "repeats %q", s)
		}
		seen[s] = true
	}
}

// clone returns a deep copy of p.
func (p *Policy) clone() *Policy {
	if p == nil {
		return nil
	}
	c := *p
	c.AllowedModes = slices.Clone(p.AllowedModes)
	c.RequireCapabilities = slices.Clone(p.RequireCapabilities)
	c.Approvers = slices.Clone(p.Approvers)
	return &c
}
