package executor

import (
	"context"
	"strings"

	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/warden"
)

// PolicyCheck returns an Env.Check that evaluates derived actions with e,
// without session state. approved says whether the original action went
// through a gate that a human approved: then a derived action that needs
// the same kind of approval passes, and otherwise only an allow does.
func PolicyCheck(e *engine.Engine, approved bool) func(context.Context, string, Input) error {
	return func(_ context.Context, tool string, in Input) error {
		v := e.Evaluate(engine.Request{Action: warden.Action{Tool: tool, Input: in}})
		decision := v.Decision
		if v.Shadowed != "" {
			decision = warden.Allow
		}
		switch {
		case decision == warden.Allow, decision == warden.Gate && approved:
			return nil
		case decision == warden.Gate:
			return warden.Errorf(warden.CodeDenied, "refused at execution: it would need approval: %s", strings.Join(v.Reasons, "; "))
		}
		return warden.Errorf(warden.CodeDenied, "refused at execution: %s", strings.Join(v.Reasons, "; "))
	}
}
