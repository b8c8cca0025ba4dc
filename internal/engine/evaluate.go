package engine

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// State is a snapshot of a session's counters, filled by the session layer.
type State struct {
	Terminated        bool
	StartedAt         time.Time
	ActionsEvaluated  int
	ActionsDenied     int
	FilesChanged      int
	OutputBytes       int64
	Retries           int
	CostUSD           float64
	ActionsLastMinute int
	// CheckedIn[i] reports whether escalation rule i has had its human
	// check-in.
	CheckedIn []bool
}

// Request is one evaluation.
type Request struct {
	Action warden.Action
	// Session is the session's state; nil evaluates without one, skipping
	// limits, session constraints and escalation.
	Session *State
	// Retry marks an action that remediation is retrying; it counts
	// against limits.max_retries.
	Retry bool
	// Trace asks for every step in Verdict.Trace.
	Trace bool
	// Now is the evaluation time; time.Now() when zero.
	Now time.Time
}

// violation is one scope failure. A missing argument is not an action
// outside the scope but one that cannot be read, so no outside_scope gate
// may turn it into a request for approval.
type violation struct {
	rule, reason string
	missing      bool
}

type evaluation struct {
	e        *Engine
	req      *Request
	tool     string
	spec     toolSpec
	args     *args
	now      time.Time
	trace    []warden.Step
	warnings []string
	session  map[string]any // CEL view of the session, built on first use
	broad    string         // set when a glob word was too broad to check
}

// Evaluate decides one action.
func (e *Engine) Evaluate(req Request) warden.Verdict {
	ev := &evaluation{e: e, req: &req, tool: req.Action.Tool, now: req.Now}
	if ev.now.IsZero() && (req.Session != nil || e.hasWhen) {
		ev.now = time.Now()
	}
	ev.spec = e.spec(ev.tool)
	v := ev.run()
	v.Tool = ev.spec.kind
	v.Warnings = ev.warnings
	if e.policy.Shadow && v.Decision != warden.Allow {
		v.Shadowed = "would_" + string(v.Decision)
		v.Decision = warden.Allow
		ev.step("shadow", "shadow", "allow", "shadow mode: recorded as "+v.Shadowed+", not blocked")
	}
	v.Trace = ev.trace
	return v
}

func (ev *evaluation) step(stage, rule, result, detail string) {
	if ev.req.Trace {
		ev.trace = append(ev.trace, warden.Step{Stage: stage, Rule: rule, Result: result, Detail: detail})
	}
}

// stepf is step with a formatted detail, formatted only when tracing.
func (ev *evaluation) stepf(stage, rule, result, format string, args ...any) {
	if ev.req.Trace {
		ev.step(stage, rule, result, fmt.Sprintf(format, args...))
	}
}

func (ev *evaluation) deny(stage, rule string, reasons ...string) warden.Verdict {
	ev.step(stage, rule, "deny", strings.Join(reasons, "; "))
	return warden.Verdict{Decision: warden.Deny, Reasons: reasons, Rule: rule}
}

func (ev *evaluation) run() warden.Verdict {
	e, s := ev.e, ev.req.Session
	if ev.tool == "" {
		return ev.deny("input", "input.tool", "The action names no tool")
	}
	if s != nil && s.Terminated {
		return ev.deny("session", "session.state", "Session is terminated, not accepting new actions")
	}
	if ev.req.Trace {
		ev.step("session", "session.state", "pass", sessionDetail(s))
	}

	input := ev.req.Action.Input
	ev.args = e.extract(ev.spec, input)
	if ev.args.problem != "" {
		return ev.deny("input", "input."+ev.args.problemKey, ev.args.problem)
	}
	if ev.spec.kind != ev.tool {
		ev.stepf("input", "tools."+ev.tool, "pass", "%s is evaluated as %s", ev.tool, ev.spec.kind)
	}

	if rule, reason := ev.forbidden(); rule >= 0 {
		if _, ok := e.protectedDir(rule); ok {
			return ev.deny("forbidden", "protected", reason)
		}
		if why := e.policy.Forbidden[rule].Reason; why != "" {
			reason += " (" + why + ")"
		}
		return ev.deny("forbidden", fmt.Sprintf("forbidden[%d]", rule), reason)
	}
	if ev.broad != "" {
		return ev.deny("input", "input.command", ev.broad)
	}
	ev.stepf("forbidden", "forbidden", "pass", "%d rules, none matched", len(e.policy.Forbidden))

	caps := e.capsFor(ev.tool, ev.spec.kind)
	if len(caps) == 0 {
		return ev.deny("capability", "capabilities", fmt.Sprintf("No capability defined for tool %q", ev.tool))
	}
	applicable := caps[:0:0]
	for _, c := range caps {
		if c.when == nil {
			applicable = append(applicable, c)
			continue
		}
		ok, err := c.when.Eval(ev.tool, input, ev.sessionView())
		switch {
		case err != nil:
			ev.stepf("capability", c.rule+".when", "skip", "condition failed to evaluate: %v", err)
		case !ok:
			ev.stepf("capability", c.rule+".when", "skip", "condition is false")
		default:
			applicable = append(applicable, c)
		}
	}
	if len(applicable) == 0 {
		return ev.deny("capability", fmt.Sprintf("capabilities[%d].when", caps[0].index),
			fmt.Sprintf("No capability for tool %q applies: every when condition is false", ev.tool))
	}

	var chosen *capability
	var violations []violation
	for i, c := range applicable {
		vs := ev.scope(c)
		if len(vs) == 0 {
			chosen = c
			ev.stepf("scope", c.rule+".scope", "pass", "every argument is in scope")
			break
		}
		if i == 0 {
			violations = vs
		}
		if len(applicable) > 1 {
			ev.step("scope", vs[0].rule, "fail", joinReasons(vs))
		}
	}
	var outside *gate
	if chosen == nil {
		if !slices.ContainsFunc(violations, func(v violation) bool { return v.missing }) {
			outside = ev.findGate(true)
		}
		if outside == nil {
			return ev.deny("scope", violations[0].rule, reasonsOf(violations)...)
		}
		ev.stepf("scope", outside.rule, "gate", "outside_scope gate turns the scope denial into a gate")
	}

	if s != nil {
		if rule, reasons := ev.limits(); len(reasons) > 0 {
			return ev.deny("limits", rule, reasons...)
		}
		ev.step("limits", "limits", "pass", "")
		if rule, reason := ev.sessionConstraints(); reason != "" {
			return ev.deny("session", rule, reason)
		}
	}

	g := outside
	if g == nil {
		g = ev.findGate(false)
	}
	if g != nil {
		reasons := []string{gateReason(g.def)}
		if outside != nil {
			reasons = append(reasonsOf(violations), reasons...)
		}
		ev.stepf("gate", g.rule, "gate", "%s", reasons[len(reasons)-1])
		return warden.Verdict{Decision: warden.Gate, Reasons: reasons, Rule: g.rule, Gate: requirement(g)}
	}
	ev.step("gate", "gates", "pass", "no gate applies")

	if v, ok := ev.escalation(); ok {
		return v
	}
	ev.step("decision", "default", "allow", "")
	return warden.Verdict{Decision: warden.Allow, Reasons: []string{"Action permitted by policy"}, Rule: chosen.rule}
}

func sessionDetail(s *State) string {
	if s == nil {
		return "no session: limits, session constraints and escalation are not checked"
	}
	return fmt.Sprintf("active; %d actions evaluated, %d denied", s.ActionsEvaluated, s.ActionsDenied)
}

func reasonsOf(vs []violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.reason
	}
	return out
}

func joinReasons(vs []violation) string { return strings.Join(reasonsOf(vs), "; ") }

// findGate returns the first gate that applies. With outside, only
// outside_scope gates are considered: they alone may rescue an action that
// failed its scope.
func (ev *evaluation) findGate(outside bool) *gate {
	for _, g := range ev.e.gatesFor(ev.tool, ev.spec.kind) {
		isOutside := g.def.Condition == policy.OutsideScope
		if isOutside != outside {
			continue
		}
		if g.methods != nil && !slices.Contains(g.methods, ev.args.method) {
			ev.stepf("gate", g.rule+".condition", "skip", "method %s is not %s", ev.args.method, g.def.Condition)
			continue
		}
		if g.when != nil {
			ok, err := g.when.Eval(ev.tool, ev.req.Action.Input, ev.sessionView())
			if err != nil {
				// Fail closed: a gate whose condition cannot be decided holds.
				ev.stepf("gate", g.rule+".when", "gate", "condition failed to evaluate, so the gate holds: %v", err)
				return g
			}
			if !ok {
				ev.stepf("gate", g.rule+".when", "skip", "condition is false")
				continue
			}
		}
		return g
	}
	return nil
}

func gateReason(g *policy.Gate) string {
	risk := g.RiskLevel
	if risk == "" {
		risk = "unspecified"
	}
	return fmt.Sprintf("Gate required: %s approval for %q (risk: %s)", g.Approval, g.Action, risk)
}

func requirement(g *gate) *warden.GateRequirement {
	d := g.def
	r := &warden.GateRequirement{
		Index: g.index, Action: d.Action, Approval: d.Approval, RiskLevel: d.RiskLevel,
		Condition: d.Condition, MinApprovals: d.MinApprovals, Approvers: d.Approvers,
		Timeout: time.Duration(d.Timeout), ApprovalTTL: time.Duration(d.ApprovalTTL),
	}
	if w := d.Webhook; w != nil {
		r.Webhook = &warden.WebhookTarget{URL: w.URL, SecretEnv: w.SecretEnv, Format: w.Format}
	}
	return r
}

// limits checks the session's budgets and reports every one exceeded.
func (ev *evaluation) limits() (string, []string) {
	l, s := &ev.e.policy.Limits, ev.req.Session
	var rule string
	var reasons []string
	hit := func(key, reason string) {
		if rule == "" {
			rule = "limits." + key
		}
		reasons = append(reasons, reason)
	}
	if l.MaxRuntimeMS != nil && !s.StartedAt.IsZero() {
		if elapsed := float64(ev.now.Sub(s.StartedAt).Milliseconds()); elapsed > *l.MaxRuntimeMS {
			hit("max_runtime_ms", fmt.Sprintf("Runtime budget exceeded: %.0fms > %gms", elapsed, *l.MaxRuntimeMS))
		}
	}
	if l.MaxFilesChanged != nil && !isReadOnlyKind(ev.spec.kind) && s.FilesChanged >= *l.MaxFilesChanged {
		hit("max_files_changed", fmt.Sprintf("File change budget exceeded: %d >= %d", s.FilesChanged, *l.MaxFilesChanged))
	}
	// A budget of 0 for output or cost is spent by the first byte or cent:
	// an action that has not yet produced any is not refused for it.
	if m := l.MaxOutputBytes; m != nil && s.OutputBytes >= *m && (*m > 0 || s.OutputBytes > 0) {
		hit("max_output_bytes", fmt.Sprintf("Output size budget exceeded: %d >= %d", s.OutputBytes, *m))
	}
	if l.MaxRetries != nil && ev.req.Retry && s.Retries >= *l.MaxRetries {
		hit("max_retries", fmt.Sprintf("Retry budget exceeded: %d >= %d", s.Retries, *l.MaxRetries))
	}
	if m := l.MaxCostUSD; m != nil && s.CostUSD >= *m && (*m > 0 || s.CostUSD > 0) {
		hit("max_cost_usd", fmt.Sprintf("Cost budget exceeded: $%g >= $%g", s.CostUSD, *m))
	}
	return rule, reasons
}

// sessionConstraints checks max_actions, max_denials and the rate limit,
// adding a warning as the action limit nears.
func (ev *evaluation) sessionConstraints() (string, string) {
	c, s := ev.e.policy.Session, ev.req.Session
	if c == nil {
		return "", ""
	}
	if m := c.MaxActions; m != nil {
		if s.ActionsEvaluated >= *m {
			return "session.max_actions", fmt.Sprintf("Session action limit reached: %d >= %d", s.ActionsEvaluated, *m)
		}
		if left := *m - s.ActionsEvaluated; left <= 5 {
			ev.warnings = append(ev.warnings, fmt.Sprintf("Approaching action limit: %d actions remaining", left))
		}
	}
	if m := c.MaxDenials; m != nil && s.ActionsDenied >= *m {
		return "session.max_denials", fmt.Sprintf("Session denial limit reached: %d >= %d. Session should be terminated.", s.ActionsDenied, *m)
	}
	if rl := c.RateLimit; rl != nil && s.ActionsLastMinute >= rl.MaxPerMinute {
		return "session.rate_limit", fmt.Sprintf("Rate limit exceeded: %d actions in the last minute (limit: %d)", s.ActionsLastMinute, rl.MaxPerMinute)
	}
	ev.step("session", "session", "pass", "")
	return "", ""
}

// escalation turns an allow into a gate when a check-in is due. It never
// overrides a deny: it runs only once every other check has passed.
func (ev *evaluation) escalation() (warden.Verdict, bool) {
	c, s := ev.e.policy.Session, ev.req.Session
	if c == nil || s == nil {
		return warden.Verdict{}, false
	}
	for i, rule := range c.Escalation {
		if i < len(s.CheckedIn) && s.CheckedIn[i] {
			continue
		}
		var cond, reason string
		switch {
		case rule.AfterActions != nil && s.ActionsEvaluated >= *rule.AfterActions:
			cond = fmt.Sprintf("after_actions:%d", *rule.AfterActions)
			reason = fmt.Sprintf("Escalation: %d actions evaluated, human check-in required after %d", s.ActionsEvaluated, *rule.AfterActions)
		case rule.AfterMinutes != nil && !s.StartedAt.IsZero() && ev.now.Sub(s.StartedAt).Minutes() >= *rule.AfterMinutes:
			cond = fmt.Sprintf("after_minutes:%g", *rule.AfterMinutes)
			reason = fmt.Sprintf("Escalation: %d minutes elapsed, human check-in required after %g minutes", int(math.Floor(ev.now.Sub(s.StartedAt).Minutes())), *rule.AfterMinutes)
		default:
			continue
		}
		r := fmt.Sprintf("session.escalation[%d]", i)
		ev.step("escalation", r, "gate", reason)
		return warden.Verdict{
			Decision: warden.Gate, Reasons: []string{reason}, Rule: r,
			Gate: &warden.GateRequirement{Index: -1, Action: ev.tool, Approval: "human", RiskLevel: "medium", Condition: cond, MinApprovals: 1},
		}, true
	}
	return warden.Verdict{}, false
}

// sessionView is the session as CEL sees it.
func (ev *evaluation) sessionView() map[string]any {
	if ev.session != nil {
		return ev.session
	}
	ev.session = map[string]any{}
	if s := ev.req.Session; s != nil {
		ev.session = map[string]any{
			"actions_evaluated": s.ActionsEvaluated, "actions_denied": s.ActionsDenied,
			"files_changed": s.FilesChanged, "output_bytes": s.OutputBytes,
			"retries": s.Retries, "cost_usd": s.CostUSD,
			"runtime_ms": ev.now.Sub(s.StartedAt).Milliseconds(),
		}
	}
	return ev.session
}
