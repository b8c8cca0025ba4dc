package policy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/wardenhq/warden/internal/cond"
	"github.com/wardenhq/warden/internal/shellcmd"
	"github.com/wardenhq/warden/internal/urlscope"
)

// The closed vocabularies of the language.
var (
	Approvals      = []string{"auto", "human", "webhook"}
	RiskLevels     = []string{"low", "medium", "high", "critical"}
	EvidenceKinds  = []string{"checksums", "diffs", "logs", "exit_codes", "snapshots"}
	RemedyActions  = []string{"retry", "skip", "abort", "fallback"}
	EscalationKind = "human_checkin"
	// OutsideScope is the gate condition that turns a scope denial into a gate.
	OutsideScope = "outside_scope"
	httpMethods  = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}
	envNameRE    = regexp.MustCompile(`^[A-Za-z_*][A-Za-z0-9_*]*$`)
	groupRE      = regexp.MustCompile(`^group:[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

func validate(p *Policy, r *report) {
	if v := string(p.Version); v != "1" && v != "1.0" && v != "1.0.0" {
		r.errorf("version", "unsupported version %q; this Warden reads version \"1.0\"", v)
	}
	if strings.TrimSpace(p.Name) == "" {
		r.errorf("name", "name must not be empty")
	}
	if len(p.Capabilities) == 0 {
		r.errorf("capabilities", "at least one capability must be defined; without one every action is denied")
	}
	capTools := map[string]bool{}
	for i, c := range p.Capabilities {
		at := fmt.Sprintf("capabilities[%d]", i)
		if strings.TrimSpace(c.Tool) == "" {
			r.errorf(at+".tool", "tool must not be empty")
		}
		capTools[c.Tool] = true
		validateScope(&c.Scope, at+".scope", r)
		validateCEL(c.When, at+".when", r)
	}
	for name, m := range p.Tools {
		capTools[name] = capTools[name] || capTools[m.Action]
	}
	validateLimits(&p.Limits, r)
	for i, g := range p.Gates {
		validateGate(&g, fmt.Sprintf("gates[%d]", i), capTools, r)
	}
	for _, kind := range p.Evidence.Require {
		if !slices.Contains(EvidenceKinds, kind) {
			r.errorf("evidence.require", "unknown evidence %q; use %s%s", kind, strings.Join(EvidenceKinds, ", "), didYouMean(kind, EvidenceKinds))
		}
	}
	if p.Evidence.Format != "jsonl" {
		r.errorf("evidence.format", "unknown format %q; the only format is \"jsonl\"", p.Evidence.Format)
	}
	for i, f := range p.Forbidden {
		validateForbidden(&f, fmt.Sprintf("forbidden[%d]", i), r)
	}
	if s := p.Session; s != nil {
		positiveInt(s.MaxActions, "session.max_actions", r)
		positiveInt(s.MaxDenials, "session.max_denials", r)
		if s.RateLimit != nil && s.RateLimit.MaxPerMinute <= 0 {
			r.errorf("session.rate_limit.max_per_minute", "must be a positive whole number")
		}
		for i, e := range s.Escalation {
			at := fmt.Sprintf("session.escalation[%d]", i)
			if e.Require != EscalationKind {
				r.errorf(at+".require", "unknown requirement %q; the only one is %q", e.Require, EscalationKind)
			}
			positiveInt(e.AfterActions, at+".after_actions", r)
			if e.AfterMinutes != nil && *e.AfterMinutes <= 0 {
				r.errorf(at+".after_minutes", "must be a positive number of minutes")
			}
			if e.AfterActions == nil && e.AfterMinutes == nil {
				r.warnf(at, "neither after_actions nor after_minutes is set, so this escalation never fires")
			}
		}
	}
	if rem := p.Remediation; rem != nil {
		for i, rule := range rem.Rules {
			at := fmt.Sprintf("remediation.rules[%d]", i)
			if rule.Match == "" {
				r.errorf(at+".match", "match must not be empty")
			} else if re, ok := strings.CutPrefix(rule.Match, "/"); ok && strings.HasSuffix(re, "/") && len(re) > 1 {
				if _, err := regexp.Compile(re[:len(re)-1]); err != nil {
					r.errorf(at+".match", "invalid regular expression: %v", err)
				}
			}
			action, target, hasTarget := strings.Cut(rule.Action, ":")
			switch {
			case !slices.Contains(RemedyActions, action):
				r.errorf(at+".action", "unknown action %q; use retry, skip, abort, fallback or fallback:<name>%s", rule.Action, didYouMean(action, RemedyActions))
			case hasTarget && (action != "fallback" || target == ""):
				r.errorf(at+".action", "only fallback takes a target, as fallback:<name>")
			case hasTarget && len(rem.FallbackChain) > 0 && !slices.Contains(rem.FallbackChain, target):
				r.warnf(at+".action", "fallback target %q is not in fallback_chain %v", target, rem.FallbackChain)
			}
		}
	}
	for name, m := range p.Tools {
		at := "tools." + name
		if strings.TrimSpace(name) == "" {
			r.errorf("tools", "a tool name must not be empty")
		}
		if strings.TrimSpace(m.Action) == "" {
			r.errorf(at+".action", "action must not be empty")
		}
		for _, list := range [][]string{m.Paths, m.Commands, m.URLs, m.Hosts} {
			for _, arg := range list {
				if strings.TrimSpace(arg) == "" {
					r.errorf(at, "argument names must not be empty")
				}
			}
		}
	}
}

func validateScope(s *Scope, at string, r *report) {
	for i, g := range s.Paths {
		validGlob(g, fmt.Sprintf("%s.paths[%d]", at, i), r)
	}
	for i, g := range s.Repos {
		validGlob(g, fmt.Sprintf("%s.repos[%d]", at, i), r)
	}
	for i, g := range s.Cwd {
		validGlob(g, fmt.Sprintf("%s.cwd[%d]", at, i), r)
	}
	for i, b := range s.Binaries {
		if strings.TrimSpace(b) == "" || strings.ContainsAny(b, " \t\n") {
			r.errorf(fmt.Sprintf("%s.binaries[%d]", at, i), "binary %q must be one program name or an absolute path, without spaces or arguments", b)
		} else if strings.Contains(b, "/") && !strings.HasPrefix(b, "/") {
			r.errorf(fmt.Sprintf("%s.binaries[%d]", at, i), "binary %q must be a base name or an absolute path", b)
		}
	}
	for i, m := range s.Methods {
		up := strings.ToUpper(m)
		if !slices.Contains(httpMethods, up) {
			r.errorf(fmt.Sprintf("%s.methods[%d]", at, i), "unknown HTTP method %q; use %s", m, strings.Join(httpMethods, ", "))
		}
		s.Methods[i] = up
	}
	validAllowlist(s.Domains, at+".domains", r)
	validAllowlist(s.Hosts, at+".hosts", r)
	for i, name := range s.Env {
		if !envNameRE.MatchString(name) {
			r.errorf(fmt.Sprintf("%s.env[%d]", at, i), "%q is not an environment variable name (letters, digits, _ and * as a wildcard)", name)
		}
	}
}

// validAllowlist reports each bad domain or host entry at its own position.
func validAllowlist(entries []string, at string, r *report) {
	if len(entries) == 0 {
		return
	}
	_, err := urlscope.NewAllowlist(entries)
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var ee *urlscope.EntryError
		if errors.As(e, &ee) {
			r.errorf(fmt.Sprintf("%s[%d]", at, ee.Index), "%q: %s", ee.Entry, ee.Reason)
		} else {
			r.errorf(at, "%v", e)
		}
	}
}

func validGlob(g, at string, r *report) {
	switch {
	case strings.TrimSpace(g) == "":
		r.errorf(at, "empty glob")
	case strings.IndexByte(g, 0) >= 0:
		r.errorf(at, "glob contains a NUL byte")
	case !doublestar.ValidatePattern(g):
		r.errorf(at, "invalid glob %q: check for an unclosed [ or {", g)
	case strings.HasPrefix(g, "~") && g != "~" && !strings.HasPrefix(g, "~/"):
		r.errorf(at, "glob %q names another user's home directory; write the absolute path", g)
	}
}

func validateCEL(expr, at string, r *report) {
	if expr == "" {
		return
	}
	if _, err := cond.Compile(expr); err != nil {
		r.errorf(at, "%v", err)
	}
}

func validateLimits(l *Limits, r *report) {
	if l.MaxRuntimeMS != nil && *l.MaxRuntimeMS <= 0 {
		r.errorf("limits.max_runtime_ms", "must be a positive number of milliseconds")
	}
	nonNegative := func(v float64, set bool, key string) {
		switch {
		case !set:
		case v < 0:
			r.errorf("limits."+key, "must not be negative")
		case v == 0:
			r.warnf("limits."+key, "a limit of 0 allows none")
		}
	}
	if l.MaxFilesChanged != nil {
		nonNegative(float64(*l.MaxFilesChanged), true, "max_files_changed")
	}
	if l.MaxOutputBytes != nil {
		nonNegative(float64(*l.MaxOutputBytes), true, "max_output_bytes")
	}
	if l.MaxRetries != nil {
		nonNegative(float64(*l.MaxRetries), true, "max_retries")
	}
	if l.MaxCostUSD != nil {
		nonNegative(*l.MaxCostUSD, true, "max_cost_usd")
	}
}

func validateGate(g *Gate, at string, capTools map[string]bool, r *report) {
	if strings.TrimSpace(g.Action) == "" {
		r.errorf(at+".action", "action must not be empty")
	} else if !capTools[g.Action] {
		r.warnf(at+".action", "no capability grants %q, so this gate never applies (an action without a capability is denied)", g.Action)
	}
	if !slices.Contains(Approvals, g.Approval) {
		r.errorf(at+".approval", "unknown approval %q; use auto, human or webhook%s", g.Approval, didYouMean(g.Approval, Approvals))
	}
	if g.RiskLevel != "" && !slices.Contains(RiskLevels, g.RiskLevel) {
		r.errorf(at+".risk_level", "unknown risk level %q; use low, medium, high or critical%s", g.RiskLevel, didYouMean(g.RiskLevel, RiskLevels))
	}
	if g.Condition != "" && g.Condition != OutsideScope {
		if _, ok := ConditionMethods(g.Condition); !ok {
			r.errorf(at+".condition", "unknown condition %q; use outside_scope, HTTP methods such as POST|PUT, or a CEL expression in when:%s", g.Condition, didYouMean(g.Condition, []string{OutsideScope}))
		}
	}
	if g.MinApprovals < 1 {
		r.errorf(at+".min_approvals", "must be at least 1")
	}
	if len(g.Approvers) > 0 {
		distinct := map[string]bool{}
		for i, a := range g.Approvers {
			switch {
			case strings.TrimSpace(a) == "":
				r.errorf(fmt.Sprintf("%s.approvers[%d]", at, i), "an approver must not be empty")
			case strings.HasPrefix(a, "group:") && !groupRE.MatchString(a):
				r.errorf(fmt.Sprintf("%s.approvers[%d]", at, i), "invalid group %q; write group:<name>", a)
			}
			distinct[a] = true
		}
		groups := slices.ContainsFunc(g.Approvers, func(a string) bool { return strings.HasPrefix(a, "group:") })
		if !groups && g.MinApprovals > len(distinct) {
			r.errorf(at+".min_approvals", "needs %d approvals but only %d approvers are listed, so it can never be approved", g.MinApprovals, len(distinct))
		}
	}
	if g.Approval == "auto" && (g.MinApprovals > 1 || len(g.Approvers) > 0) {
		r.warnf(at+".approval", "an auto gate approves itself; min_approvals and approvers have no effect")
	}
	validateCEL(g.When, at+".when", r)
	switch w := g.Webhook; {
	case w == nil && g.Approval == "webhook":
		r.errorf(at+".approval", "a webhook gate needs webhook: {url: https://…, secret_env: NAME} to send its requests to")
	case w != nil:
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			r.errorf(at+".webhook.url", "invalid webhook URL %q; write http:// or https:// and a host", w.URL)
		}
		if !envNameRE.MatchString(w.SecretEnv) || strings.Contains(w.SecretEnv, "*") {
			r.errorf(at+".webhook.secret_env", "%q is not an environment variable name", w.SecretEnv)
		}
		if w.Format != "" && w.Format != "json" && w.Format != "slack" {
			r.errorf(at+".webhook.format", "unknown format %q; use json or slack", w.Format)
		}
	}
}

// ConditionMethods parses a gate condition written as HTTP methods
// ("POST|PUT"), the form det-acp policies use to gate writes.
func ConditionMethods(c string) ([]string, bool) {
	parts := strings.Split(c, "|")
	for i, m := range parts {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !slices.Contains(httpMethods, m) {
			return nil, false
		}
		parts[i] = m
	}
	return parts, true
}

func validateForbidden(f *Forbidden, at string, r *report) {
	kinds := 0
	for _, v := range []string{f.Pattern, f.Path, f.Command, f.URL, f.Regex} {
		if v != "" {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		r.errorf(at, "a forbidden rule needs one of pattern, path, command, url or regex")
		return
	case kinds > 1:
		r.errorf(at, "a forbidden rule has exactly one of pattern, path, command, url or regex; split it into several rules")
		return
	}
	if f.Field != "" && f.Regex == "" {
		r.errorf(at+".field", "field goes with regex only")
	}
	switch {
	case f.Path != "":
		validGlob(f.Path, at+".path", r)
	case f.Command != "":
		if _, err := shellcmd.CompilePattern(f.Command); err != nil {
			r.errorf(at+".command", "invalid command pattern: %v", err)
		}
	case f.URL != "":
		if _, err := urlscope.CompileGlob(f.URL); err != nil {
			r.errorf(at+".url", "invalid URL pattern: %v", err)
		}
	case f.Regex != "":
		if _, err := regexp.Compile(f.Regex); err != nil {
			r.errorf(at+".regex", "invalid regular expression: %v", err)
		}
	case f.Pattern != "":
		if strings.TrimSpace(f.Pattern) == "" {
			r.errorf(at+".pattern", "pattern must not be blank")
		} else if _, err := shellcmd.CompilePattern(f.Pattern); err != nil && !doublestar.ValidatePattern(f.Pattern) {
			r.errorf(at+".pattern", "pattern is neither a valid glob nor a valid command pattern: %v", err)
		}
	}
}

func positiveInt(v *int, at string, r *report) {
	if v != nil && *v <= 0 {
		r.errorf(at, "must be a positive whole number")
	}
}

func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" && c != s {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}
