package warden

import "time"

// A Verdict is what the engine says about one action: the decision, why, and
// the rule that decided it.
type Verdict struct {
	Decision Decision `json:"decision"`
	// Reasons explain the decision in words meant for the agent and the auditor.
	Reasons []string `json:"reasons"`
	// Rule names the policy element that decided, e.g. "forbidden[2]" or
	// "capabilities[0].scope.paths"; "default" when every check passed.
	Rule string `json:"rule"`
	// Tool is the action kind the tool was evaluated as (after the tools: mapping).
	Tool string `json:"tool"`
	// Gate is set when the decision is Gate (or Shadowed is "would_gate").
	Gate *GateRequirement `json:"gate,omitempty"`
	// Warnings are non-blocking notes, such as an approaching action limit.
	Warnings []string `json:"warnings,omitempty"`
	// Shadowed is "would_deny" or "would_gate" when the policy is in shadow mode
	// and the real verdict would have blocked; Decision is then Allow.
	Shadowed string `json:"shadowed,omitempty"`
	// Trace lists every evaluation step, filled only when asked for.
	Trace []Step `json:"trace,omitempty"`
}

// Blocks reports whether the verdict stops the action (deny or gate).
func (v *Verdict) Blocks() bool { return v.Decision != Allow }

// A GateRequirement says what approval a gated action needs.
type GateRequirement struct {
	// Index is the gate's position in the policy; -1 for an escalation check-in.
	Index        int           `json:"index"`
	Action       string        `json:"action"`
	Approval     string        `json:"approval"`
	RiskLevel    string        `json:"risk_level,omitempty"`
	Condition    string        `json:"condition,omitempty"`
	MinApprovals int           `json:"min_approvals"`
	Approvers    []string      `json:"approvers,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
	ApprovalTTL  time.Duration `json:"approval_ttl,omitempty"`
	// Webhook is where the gate announces its approval requests, if anywhere.
	Webhook *WebhookTarget `json:"webhook,omitempty"`
}

// A WebhookTarget receives a gate's approval requests, signed with the
// secret held in the environment variable SecretEnv.
type WebhookTarget struct {
	URL       string `json:"url"`
	SecretEnv string `json:"secret_env"`
	Format    string `json:"format,omitempty"`
}

// A Step is one line of an evaluation trace.
type Step struct {
	Stage  string `json:"stage"`
	Rule   string `json:"rule,omitempty"`
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
}
