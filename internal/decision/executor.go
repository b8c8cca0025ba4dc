package decision

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wardenhq/warden/internal/warden"
)

// An Executor runs an approved decision's plan: nexus-control calls it the
// router. Warden's built-in executor runs a plan of actions through the
// policy engine and the adapters; an MCP executor calls a tool on a
// backend; Go users plug in their own. The Service claims the execution
// and records EXECUTION_STARTED before it calls Execute, and records the
// outcome afterwards, so an Executor needs no bookkeeping of its own.
type Executor interface {
	// Capabilities returns the capabilities of the adapter that Execute
	// will use for adapterID. known is false when they cannot be told; a
	// decision whose policy requires capabilities is then refused.
	Capabilities(ctx context.Context, adapterID string) (caps []string, known bool, err error)
	// Execute runs the request. It must stop after req.MaxSteps steps
	// when that is not 0; a result with more steps is recorded as a
	// failure. An error is recorded as EXECUTION_FAILED with error code
	// ROUTER_ERROR and the error's text.
	Execute(ctx context.Context, req *ExecRequest) (*RunResult, error)
}

// ExecRequest is what an Executor runs. Its digest (SHA-256 of its RFC
// 8785 form) is recorded as the run's request digest before it runs.
type ExecRequest struct {
	DecisionID string `json:"decision_id"`
	Goal       string `json:"goal"`
	// Plan is the decision's plan: null, a string or a list of actions.
	Plan      json.RawMessage `json:"plan,omitempty"`
	Mode      Mode            `json:"mode"`
	AdapterID string          `json:"adapter_id,omitempty"`
	// MaxSteps bounds the run; 0 means no bound.
	MaxSteps            int      `json:"max_steps,omitempty"`
	RequireCapabilities []string `json:"require_capabilities,omitempty"`
	// ActionDigest is the digest of the exact call a gate's decision
	// approved, if any.
	ActionDigest string `json:"action_digest,omitempty"`
}

// RunResult is what an Executor returns. Its digest (SHA-256 of its RFC
// 8785 form) is recorded as the run's response digest.
type RunResult struct {
	// RunID names the run; the Service generates one when it is empty.
	RunID string `json:"run_id"`
	Steps []Step `json:"steps"`
	// Output is the executor's full response; only its digest, through
	// the response digest, is recorded with the decision.
	Output json.RawMessage `json:"output,omitempty"`
}

// A Step is one step of a run.
type Step struct {
	Error string `json:"error,omitempty"`
	Index int    `json:"index"`
	OK    bool   `json:"ok"`
	// OutputDigest is the digest of the step's output, if it had one.
	OutputDigest string `json:"output_digest,omitempty"`
	Tool         string `json:"tool,omitempty"`
}

// A Run is the record of a decision's execution: what was claimed, what
// was run (the request digest), and what came back (run id, steps,
// response digest) or what went wrong.
type Run struct {
	DecisionID     string     `json:"decision_id"`
	RunID          string     `json:"run_id,omitempty"`
	AdapterID      string     `json:"adapter_id,omitempty"`
	Mode           Mode       `json:"mode"`
	RequestedBy    Actor      `json:"requested_by"`
	RequestedAt    time.Time  `json:"requested_at"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	RequestDigest  string     `json:"request_digest,omitempty"`
	ResponseDigest string     `json:"response_digest,omitempty"`
	StepsExecuted  int        `json:"steps_executed"`
	Steps          []Step     `json:"steps,omitempty"`
	ErrorCode      string     `json:"error_code,omitempty"`
	Error          string     `json:"error_message,omitempty"`
}

// Run outcomes.
const (
	OutcomeInProgress = "in_progress"
	OutcomeOK         = "ok"
	OutcomeFailed     = "failed"
)

// Outcome returns OutcomeInProgress, OutcomeOK or OutcomeFailed.
func (r *Run) Outcome() string {
	switch {
	case r.CompletedAt == nil:
		return OutcomeInProgress
	case r.ErrorCode != "":
		return OutcomeFailed
	}
	return OutcomeOK
}

// NopExecutor is an Executor that runs nothing: each action of a list plan
// becomes a successful step (a string or null plan is one step), and the
// run id is "nop-" followed by the decision id. It is for tests and for
// measuring Warden's own cost.
type NopExecutor struct {
	// Caps are the capabilities it reports for every adapter; nil means
	// unknown.
	Caps []string
}

// Capabilities implements Executor.
func (x NopExecutor) Capabilities(context.Context, string) ([]string, bool, error) {
	return x.Caps, x.Caps != nil, nil
}

// Execute implements Executor.
func (x NopExecutor) Execute(ctx context.Context, req *ExecRequest) (*RunResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &RunResult{RunID: "nop-" + req.DecisionID, Steps: []Step{}}
	var actions []warden.Action
	if json.Unmarshal(req.Plan, &actions) != nil {
		actions = []warden.Action{{}} // a string or empty plan is one step
	}
	for i, a := range actions {
		if req.MaxSteps > 0 && i == req.MaxSteps {
			break
		}
		res.Steps = append(res.Steps, Step{Index: i, Tool: a.Tool, OK: true})
	}
	return res, nil
}
