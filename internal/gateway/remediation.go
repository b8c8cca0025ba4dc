package gateway

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/wardenhq/warden/internal/policy"
)

// advise applies the policy's remediation rules to a failed result's error
// message: the first rule that matches gives the advice. A bare "fallback"
// names the next step of the fallback chain, counting the fallbacks already
// advised in the session; past the chain's end the advice is to abort.
func advise(p *policy.Policy, msg string, fallbacksSoFar int) *Advice {
	r := p.Remediation
	if r == nil || msg == "" {
		return nil
	}
	for i, rule := range r.Rules {
		if !remediationMatch(rule.Match, msg) {
			continue
		}
		a := &Advice{Action: rule.Action, Rule: fmt.Sprintf("remediation.rules[%d]", i)}
		if next, ok := strings.CutPrefix(rule.Action, "fallback:"); ok {
			a.Action, a.Next = "fallback", next
		} else if rule.Action == "fallback" {
			if fallbacksSoFar < len(r.FallbackChain) {
				a.Next = r.FallbackChain[fallbacksSoFar]
			} else {
				a.Action = "abort"
			}
		}
		return a
	}
	return nil
}

// remediationMatch reports whether a rule's match, text or /regex/, fits
// the error message. Text matches case-insensitively.
func remediationMatch(match, msg string) bool {
	if len(match) > 2 && strings.HasPrefix(match, "/") && strings.HasSuffix(match, "/") {
		re, err := regexp.Compile(match[1 : len(match)-1])
		return err == nil && re.MatchString(msg)
	}
	return strings.Contains(strings.ToLower(msg), strings.ToLower(match))
}

// fallbacksAdvised counts the fallback advice a session's results carry.
func fallbacksAdvised(actions []*Action) int {
	n := 0
	for _, a := range actions {
		if a.Result != nil && a.Result.Remediation != nil && a.Result.Remediation.Action == "fallback" {
			n++
		}
	}
	return n
}
