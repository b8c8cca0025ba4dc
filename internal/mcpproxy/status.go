package mcpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/policy"
)

// Status is what the warden_status tool reports, as its structured
// content.
type Status struct {
	SessionID  string `json:"sessionId"`
	PolicyName string `json:"policyName"`
	State      string `json:"state"`
	// Counters are the session's running totals: its budget used.
	Counters gateway.Counters `json:"counters"`
	// Limits are the policy's budgets; SessionLimits its session
	// constraints.
	Limits        policy.Limits   `json:"limits"`
	SessionLimits *policy.Session `json:"sessionLimits,omitempty"`
	// Pending are the session's calls waiting for approval.
	Pending  []PendingApproval `json:"pending"`
	Backends []string          `json:"backends"`
}

// PendingApproval is one call waiting for approval, and how a human
// approves it. The agent cannot.
type PendingApproval struct {
	ID        string         `json:"id"`
	Tool      string         `json:"tool"`
	Input     map[string]any `json:"input"`
	Reasons   []string       `json:"reasons,omitempty"`
	Votes     int            `json:"votes"`
	Needed    int            `json:"needed"`
	ExpiresAt *time.Time     `json:"expiresAt,omitempty"`
	Approve   string         `json:"approve"`
	URL       string         `json:"url,omitempty"`
}

// status answers the warden_status tool. It is not an action: reading
// the session's own state needs no permission and changes nothing.
func (p *Proxy) status(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	st, err := p.Status(ctx)
	if err != nil {
		return errorResult("Warden could not read the session: " + err.Error()), nil
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: st.Text()}}, StructuredContent: st}, nil
}

// Status returns the session's state, budget, limits and pending
// approvals.
func (p *Proxy) Status(ctx context.Context) (*Status, error) {
	p.Flush()
	rep, err := p.g.Report(ctx, p.sid, false)
	if err != nil {
		return nil, err
	}
	pending, err := p.g.Pending(ctx, p.sid)
	if err != nil {
		return nil, err
	}
	st := &Status{SessionID: p.sid, PolicyName: rep.PolicyName, State: rep.State, Counters: rep.BudgetUsed,
		Limits: p.pol.Limits, SessionLimits: p.pol.Session, Pending: []PendingApproval{}}
	for _, b := range p.backends {
		st.Backends = append(st.Backends, b.name)
	}
	for _, a := range pending {
		pa := PendingApproval{ID: a.ID, Tool: a.Tool, Input: a.Input, Reasons: a.Reasons, Votes: len(a.Votes),
			Needed: a.Requirement.MinApprovals, ExpiresAt: a.ExpiresAt, Approve: "warden approve " + a.ID}
		if p.publicURL != "" {
			pa.URL = p.publicURL + "/ui/approvals/" + url.PathEscape(a.ID)
		}
		st.Pending = append(st.Pending, pa)
	}
	return st, nil
}

// Text renders the status for a reader.
func (st *Status) Text() string {
	var b strings.Builder
	c := st.Counters
	fmt.Fprintf(&b, "Warden session %s (policy %q): %s\n", st.SessionID, st.PolicyName, st.State)
	fmt.Fprintf(&b, "Actions: %d evaluated — %d allowed, %d denied, %d waiting or gated, %d approved, %d rejected\n",
		c.ActionsEvaluated, c.Allowed, c.Denied, c.Gated, c.Approved, c.Rejected)
	fmt.Fprintf(&b, "Budget used: %d files changed, %d output bytes, %d retries, $%.4f\n", c.FilesChanged, c.OutputBytes, c.Retries, c.CostUSD)
	var limits []string
	l := st.Limits
	if l.MaxRuntimeMS != nil {
		limits = append(limits, fmt.Sprintf("runtime %s", time.Duration(*l.MaxRuntimeMS*float64(time.Millisecond))))
	}
	if l.MaxFilesChanged != nil {
		limits = append(limits, fmt.Sprintf("%d files changed", *l.MaxFilesChanged))
	}
	if l.MaxOutputBytes != nil {
		limits = append(limits, fmt.Sprintf("%d output bytes", *l.MaxOutputBytes))
	}
	if l.MaxRetries != nil {
		limits = append(limits, fmt.Sprintf("%d retries", *l.MaxRetries))
	}
	if l.MaxCostUSD != nil {
		limits = append(limits, fmt.Sprintf("$%.2f", *l.MaxCostUSD))
	}
	if s := st.SessionLimits; s != nil {
		if s.MaxActions != nil {
			limits = append(limits, fmt.Sprintf("%d actions", *s.MaxActions))
		}
		if s.MaxDenials != nil {
			limits = append(limits, fmt.Sprintf("%d denials", *s.MaxDenials))
		}
		if s.RateLimit != nil {
			limits = append(limits, fmt.Sprintf("%d actions per minute", s.RateLimit.MaxPerMinute))
		}
	}
	if len(limits) == 0 {
		b.WriteString("Limits: none\n")
	} else {
		fmt.Fprintf(&b, "Limits: %s\n", strings.Join(limits, ", "))
	}
	if len(st.Pending) == 0 {
		b.WriteString("Pending approvals: none\n")
	} else {
		fmt.Fprintf(&b, "Pending approvals (%d) — only a human can approve them:\n", len(st.Pending))
		for _, a := range st.Pending {
			in, _ := json.Marshal(a.Input)
			fmt.Fprintf(&b, "  %s: %s %s (%d of %d approvals) — approve with: %s", a.ID, a.Tool, truncate(string(in), 120), a.Votes, a.Needed, a.Approve)
			if a.URL != "" {
				fmt.Fprintf(&b, " or at %s", a.URL)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
