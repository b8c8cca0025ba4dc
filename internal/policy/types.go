package policy

import "time"

// Policy is one parsed policy document.
type Policy struct {
	Version      Version                `yaml:"version" json:"version" jsonschema:"policy format version; \"1.0\" (a number 1.0 is accepted)"`
	Name         string                 `yaml:"name" json:"name" policy:"required" jsonschema:"name of the policy, recorded with every session"`
	Description  string                 `yaml:"description" json:"description,omitempty"`
	Capabilities []Capability           `yaml:"capabilities" json:"capabilities" policy:"required" jsonschema:"what the agent may do; an action with no capability is denied"`
	Limits       Limits                 `yaml:"limits" json:"limits"`
	Gates        []Gate                 `yaml:"gates" json:"gates,omitempty" jsonschema:"actions that need approval before they run"`
	Evidence     Evidence               `yaml:"evidence" json:"evidence"`
	Forbidden    []Forbidden            `yaml:"forbidden" json:"forbidden,omitempty" jsonschema:"rules that deny an action whatever the capabilities say"`
	Session      *Session               `yaml:"session" json:"session,omitempty"`
	Remediation  *Remediation           `yaml:"remediation" json:"remediation,omitempty"`
	Tools        map[string]ToolMapping `yaml:"tools" json:"tools,omitempty" jsonschema:"maps raw MCP tool names to action kinds and argument roles"`
	// Shadow evaluates and records but never blocks.
	Shadow bool `yaml:"shadow" json:"shadow,omitempty" jsonschema:"evaluate and record, but never block"`
	// AllowSelfApproval lets a requester approve its own gate.
	AllowSelfApproval bool `yaml:"allow_self_approval" json:"allow_self_approval,omitempty"`

	// File is where the policy was read from, for messages.
	File string `yaml:"-" json:"-"`
	// Warnings are problems that do not stop the policy from loading.
	Warnings Errors `yaml:"-" json:"-"`

	pos positions
}

// Version is the policy format version. YAML may write it as a string or a
// number; the number's literal text is kept, so 1.0 stays "1.0".
type Version string

// Capability grants a tool, restricted by its scope.
type Capability struct {
	Tool  string `yaml:"tool" json:"tool" policy:"required" jsonschema:"an action kind such as file:read, or a raw MCP tool name"`
	Scope Scope  `yaml:"scope" json:"scope" policy:"required" jsonschema:"restrictions; {} means none"`
	When  string `yaml:"when" json:"when,omitempty" jsonschema:"CEL expression over tool, input and session; the capability applies only when it is true"`
}

// Scope restricts a capability. Every list that is set must be satisfied.
type Scope struct {
	Paths    []string `yaml:"paths" json:"paths,omitempty" jsonschema:"globs for every path-bearing argument; relative globs are relative to the project root"`
	Binaries []string `yaml:"binaries" json:"binaries,omitempty" jsonschema:"commands that may run, by base name or by absolute path"`
	Domains  []string `yaml:"domains" json:"domains,omitempty" jsonschema:"hosts a URL may name: [scheme://]host[:port], *.example.com, an IP or a CIDR"`
	Methods  []string `yaml:"methods" json:"methods,omitempty" jsonschema:"HTTP methods; a request without a method is GET"`
	Repos    []string `yaml:"repos" json:"repos,omitempty" jsonschema:"globs for repository paths"`
	Env      []string `yaml:"env" json:"env,omitempty" jsonschema:"environment variable names: those env:read may read, or the sensitive ones command:run may set; * is a wildcard"`
	Hosts    []string `yaml:"hosts" json:"hosts,omitempty" jsonschema:"hosts network:dns may resolve"`
	Cwd      []string `yaml:"cwd" json:"cwd,omitempty" jsonschema:"globs for where commands may run; default: inside the project root"`
	// Shell allows shell syntax: run-time expansions in arguments, and
	// execution through sh -c.
	Shell bool `yaml:"shell" json:"shell,omitempty" jsonschema:"allow shell syntax: run-time expansions in arguments and execution through sh -c"`
}

// Limits are per-session budgets. An absent limit is no limit; 0 allows none.
type Limits struct {
	MaxRuntimeMS    *float64 `yaml:"max_runtime_ms" json:"max_runtime_ms,omitempty"`
	MaxFilesChanged *int     `yaml:"max_files_changed" json:"max_files_changed,omitempty"`
	MaxOutputBytes  *int64   `yaml:"max_output_bytes" json:"max_output_bytes,omitempty"`
	MaxRetries      *int     `yaml:"max_retries" json:"max_retries,omitempty"`
	MaxCostUSD      *float64 `yaml:"max_cost_usd" json:"max_cost_usd,omitempty"`
}

// Gate holds matching actions for approval.
type Gate struct {
	Action       string   `yaml:"action" json:"action" policy:"required" jsonschema:"the action kind or tool name this gate holds"`
	Approval     string   `yaml:"approval" json:"approval" policy:"required" jsonschema:"auto, human or webhook"`
	RiskLevel    string   `yaml:"risk_level" json:"risk_level,omitempty" jsonschema:"low, medium, high or critical"`
	Condition    string   `yaml:"condition" json:"condition,omitempty" jsonschema:"outside_scope, or HTTP methods such as POST|PUT"`
	MinApprovals int      `yaml:"min_approvals" json:"min_approvals,omitempty" jsonschema:"N of M: distinct approvers needed (default 1)"`
	Approvers    []string `yaml:"approvers" json:"approvers,omitempty" jsonschema:"identities or group:<name> allowed to approve"`
	Timeout      Duration `yaml:"timeout" json:"timeout,omitempty" jsonschema:"how long a pending gate waits, e.g. 10m"`
	ApprovalTTL  Duration `yaml:"approval_ttl" json:"approval_ttl,omitempty" jsonschema:"how long an approval stays usable, e.g. 1h"`
	When         string   `yaml:"when" json:"when,omitempty" jsonschema:"CEL expression over tool, input and session; the gate applies only when it is true"`
	Webhook      *Webhook `yaml:"webhook" json:"webhook,omitempty" jsonschema:"notify this URL of each approval the gate requests; for webhook gates, its signed callbacks vote"`
	AgentPrompt  bool     `yaml:"agent_prompt" json:"agent_prompt,omitempty" jsonschema:"mark the gated tool, in the MCP proxy's tools/list, as needing the user's confirmation in the agent's own interface on every call"`
}

// Webhook is where a gate announces its approval requests. Requests are
// signed with HMAC-SHA256 using the secret in the named environment
// variable, and so must be the callbacks that answer them.
type Webhook struct {
	URL       string `yaml:"url" json:"url" policy:"required" jsonschema:"http or https URL that receives each approval request"`
	SecretEnv string `yaml:"secret_env" json:"secret_env" policy:"required" jsonschema:"environment variable holding the HMAC secret"`
	Format    string `yaml:"format" json:"format,omitempty" jsonschema:"json (default) or slack"`
}

// Duration is a time span written like "90s", "10m", "2h" or "1d".
type Duration time.Duration

// Evidence says which artifacts a session must produce.
type Evidence struct {
	Require []string `yaml:"require" json:"require,omitempty" jsonschema:"checksums, diffs, logs, exit_codes or snapshots"`
	Format  string   `yaml:"format" json:"format,omitempty" jsonschema:"jsonl"`
}

// Forbidden is one deny rule. Exactly one of Pattern, Path, Command, URL and
// Regex is set. An untyped Pattern is checked against paths, commands and URLs.
type Forbidden struct {
	Pattern string `yaml:"pattern" json:"pattern,omitempty" jsonschema:"checked against every path, command and URL argument"`
	Path    string `yaml:"path" json:"path,omitempty" jsonschema:"a glob for path-bearing arguments"`
	Command string `yaml:"command" json:"command,omitempty" jsonschema:"a command pattern matched on parsed words"`
	URL     string `yaml:"url" json:"url,omitempty" jsonschema:"a glob over normalised URLs"`
	Regex   string `yaml:"regex" json:"regex,omitempty" jsonschema:"an RE2 regular expression over string input values"`
	Field   string `yaml:"field" json:"field,omitempty" jsonschema:"with regex: the input field to test; every string value when absent"`
	Reason  string `yaml:"reason" json:"reason,omitempty" jsonschema:"why, shown with the denial"`
}

// Session holds constraints over a whole session.
type Session struct {
	MaxActions *int         `yaml:"max_actions" json:"max_actions,omitempty"`
	MaxDenials *int         `yaml:"max_denials" json:"max_denials,omitempty"`
	RateLimit  *RateLimit   `yaml:"rate_limit" json:"rate_limit,omitempty"`
	Escalation []Escalation `yaml:"escalation" json:"escalation,omitempty"`
}

// RateLimit bounds actions per minute.
type RateLimit struct {
	MaxPerMinute int `yaml:"max_per_minute" json:"max_per_minute" policy:"required"`
}

// Escalation requires a human check-in after a number of actions or minutes.
type Escalation struct {
	AfterActions *int     `yaml:"after_actions" json:"after_actions,omitempty"`
	AfterMinutes *float64 `yaml:"after_minutes" json:"after_minutes,omitempty"`
	Require      string   `yaml:"require" json:"require" policy:"required" jsonschema:"human_checkin"`
}

// Remediation maps error results to advice.
type Remediation struct {
	Rules         []RemediationRule `yaml:"rules" json:"rules,omitempty"`
	FallbackChain []string          `yaml:"fallback_chain" json:"fallback_chain,omitempty"`
}

// RemediationRule advises an action when an error message matches.
type RemediationRule struct {
	Match  string `yaml:"match" json:"match" policy:"required" jsonschema:"text the error contains, or /regex/"`
	Action string `yaml:"action" json:"action" policy:"required" jsonschema:"retry, skip, abort, fallback or fallback:<name>"`
}

// ToolMapping maps a raw MCP tool name to an action kind and names which of
// its arguments carry paths, commands, URLs and hosts. An explicitly empty
// list says the tool has no argument of that role.
type ToolMapping struct {
	Action   string   `yaml:"action" json:"action" policy:"required" jsonschema:"the action kind, e.g. file:read"`
	Paths    []string `yaml:"paths" json:"paths,omitempty" jsonschema:"arguments that hold a path or a list of paths"`
	Commands []string `yaml:"commands" json:"commands,omitempty" jsonschema:"arguments that hold a command line"`
	URLs     []string `yaml:"urls" json:"urls,omitempty" jsonschema:"arguments that hold a URL"`
	Hosts    []string `yaml:"hosts" json:"hosts,omitempty" jsonschema:"arguments that hold a host name"`
}

// Source returns the rule's pattern, whichever kind it is.
func (f *Forbidden) Source() string {
	for _, s := range []string{f.Pattern, f.Path, f.Command, f.URL, f.Regex} {
		if s != "" {
			return s
		}
	}
	return ""
}
