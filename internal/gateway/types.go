package gateway

import (
	"encoding/json"
	"time"

	"github.com/wardenhq/warden/internal/warden"
)

// Session states.
const (
	Active     = "active"
	Terminated = "terminated"
)

// Session is one agent's run under one policy.
type Session struct {
	ID           string         `json:"id"`
	PolicyName   string         `json:"policyName"`
	Policy       string         `json:"policy"`
	PolicyDigest string         `json:"policyDigest"`
	Root         string         `json:"root"`
	Metadata     map[string]any `json:"metadata,omitempty"`
	// Owner is the identity that created the session.
	Owner string `json:"owner,omitempty"`
	// OwnPolicy marks a session whose agent supplied its own policy: a
	// server does not execute actions for it.
	OwnPolicy         bool       `json:"ownPolicy,omitempty"`
	State             string     `json:"state"`
	CreatedAt         time.Time  `json:"createdAt"`
	UpdatedAt         time.Time  `json:"updatedAt"`
	TerminatedAt      *time.Time `json:"terminatedAt,omitempty"`
	TerminationReason string     `json:"terminationReason,omitempty"`
	Counters          Counters   `json:"counters"`
	// Version increases with every write, so that a cached copy can tell
	// it is stale.
	Version int64 `json:"version"`
}

// Counters are a session's running totals.
type Counters struct {
	ActionsEvaluated int `json:"actionsEvaluated"`
	// Allowed, Denied, Gated, Approved and Rejected count final outcomes
	// apart: an action allowed because its gate was approved is Approved.
	Allowed      int     `json:"allowed"`
	Denied       int     `json:"denied"`
	Gated        int     `json:"gated"`
	Approved     int     `json:"approved"`
	Rejected     int     `json:"rejected"`
	Results      int     `json:"results"`
	FilesChanged int     `json:"filesChanged"`
	OutputBytes  int64   `json:"outputBytes"`
	Retries      int     `json:"retries"`
	CostUSD      float64 `json:"costUsd"`
	// CheckedIn[i] records the human check-in of escalation rule i.
	CheckedIn []bool `json:"checkedIn,omitempty"`
}

// Action is one evaluated action of a session.
type Action struct {
	ID        string         `json:"id"`
	SessionID string         `json:"sessionId"`
	Index     int            `json:"index"`
	Tool      string         `json:"tool"`
	Input     map[string]any `json:"input"`
	Digest    string         `json:"digest"`
	Actor     string         `json:"actor,omitempty"`
	Verdict   warden.Verdict `json:"verdict"`
	// Decision is what the caller was told: the verdict, or allow once an
	// approval let a gated action through.
	Decision   warden.Decision `json:"decision"`
	ApprovalID string          `json:"approvalId,omitempty"`
	Result     *Result         `json:"result,omitempty"`
	// Undo is how to undo the action; only Warden's own executors set it.
	Undo      *Undo     `json:"undo,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Undo is what a rollback of an executed action needs.
type Undo struct {
	// Data is the executor's own undo record; nil when nothing changed.
	Data json.RawMessage `json:"data,omitempty"`
	// Irreversible marks an effect no rollback can reach.
	Irreversible bool `json:"irreversible,omitempty"`
	// RolledBackAt is when the action was rolled back.
	RolledBackAt *time.Time `json:"rolledBackAt,omitempty"`
}

// Result is what running an allowed action produced.
type Result struct {
	Success    bool       `json:"success"`
	Output     any        `json:"output,omitempty"`
	Error      string     `json:"error,omitempty"`
	DurationMS int64      `json:"durationMs,omitempty"`
	CostUSD    float64    `json:"costUsd,omitempty"`
	Artifacts  []Artifact `json:"artifacts,omitempty"`
	// FilesChanged lists the files the action wrote, for the file budget.
	FilesChanged []string `json:"filesChanged,omitempty"`
	// Remediation is the policy's advice for a failed result.
	Remediation *Advice `json:"remediation,omitempty"`
}

// Advice is what the policy's remediation rules say to do about a failed
// result: "retry", "skip", "abort" or "fallback" (with Next, the step of the
// fallback chain to try).
type Advice struct {
	Action string `json:"action"`
	Next   string `json:"next,omitempty"`
	// Rule is the remediation rule that matched, such as "remediation.rules[0]".
	Rule string `json:"rule"`
}

// Artifact is evidence a result carries: a checksum, a diff, a log.
type Artifact = warden.Artifact

// Approval states.
const (
	Pending  = "pending"
	Approved = "approved"
	Rejected = "rejected"
	Expired  = "expired"
	Consumed = "consumed"
)

// Approval is a gate waiting for, or given, human approval. It is bound to
// the session and to the digest of the exact action.
type Approval struct {
	ID          string                 `json:"id"`
	SessionID   string                 `json:"sessionId"`
	ActionID    string                 `json:"actionId"`
	Digest      string                 `json:"digest"`
	Tool        string                 `json:"tool"`
	Input       map[string]any         `json:"input"`
	Rule        string                 `json:"rule"`
	Requirement warden.GateRequirement `json:"requirement"`
	Reasons     []string               `json:"reasons"`
	Requester   string                 `json:"requester,omitempty"`
	// SelfApproval is the policy's allow_self_approval when the request was made.
	SelfApproval bool       `json:"selfApproval,omitempty"`
	State        string     `json:"state"`
	Votes        []Vote     `json:"votes,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	ForSession   bool       `json:"forSession,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	DecidedAt    *time.Time `json:"decidedAt,omitempty"`
	ValidUntil   *time.Time `json:"validUntil,omitempty"`
}

// Vote is one approver's approval.
type Vote struct {
	Approver string    `json:"approver"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// Report summarises a session.
type Report struct {
	SessionID         string    `json:"sessionId"`
	PolicyName        string    `json:"policyName"`
	State             string    `json:"state"`
	TotalActions      int       `json:"totalActions"`
	Allowed           int       `json:"allowed"`
	Denied            int       `json:"denied"`
	Gated             int       `json:"gated"`
	Approved          int       `json:"approved"`
	Rejected          int       `json:"rejected"`
	DurationMS        int64     `json:"durationMs"`
	BudgetUsed        Counters  `json:"budgetUsed"`
	TerminationReason string    `json:"terminationReason,omitempty"`
	MissingEvidence   []string  `json:"missingEvidence,omitempty"`
	Actions           []*Action `json:"actions,omitempty"`
}
