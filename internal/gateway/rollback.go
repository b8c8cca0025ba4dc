package gateway

import (
	"context"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// Rollback step outcomes.
const (
	RolledBack    = "rolled_back"
	NotReversible = "not_reversible"
	RollbackError = "failed"
)

// RollbackStep is what rolling back one action did.
type RollbackStep struct {
	ActionID string   `json:"actionId"`
	Index    int      `json:"index"`
	Tool     string   `json:"tool"`
	Status   string   `json:"status"`
	Files    []string `json:"files,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// RollbackReport lists the steps of a rollback, newest action first.
type RollbackReport struct {
	SessionID  string         `json:"sessionId"`
	Steps      []RollbackStep `json:"steps"`
	RolledBack int            `json:"rolledBack"`
	Failed     int            `json:"failed"`
	// NotReversible counts effects outside Warden's reach (commands run,
	// requests sent), reported rather than undone.
	NotReversible int `json:"notReversible"`
}

// Rollback undoes what Warden's executors did in a session, newest action
// first: one action when actionID is set, otherwise every executed action
// not yet rolled back. Each step is a ledger entry "action:rollback" that
// names the action it undoes. Rolling back one action whose files a later,
// still standing action changed again is a conflict: that one goes first.
// A terminated session can be rolled back.
func (g *Gateway) Rollback(ctx context.Context, sessionID, actionID, actor string) (*RollbackReport, error) {
	var s *Session
	var actions []*Action
	err := g.store.View(ctx, func(tx Tx) error {
		var err error
		if s, err = loadSession(tx, sessionID); err != nil {
			return err
		}
		actions, err = tx.Actions(sessionID)
		return err
	})
	if err != nil {
		return nil, err
	}
	steps, err := rollbackPlan(actions, actionID)
	if err != nil {
		return nil, err
	}
	e, err := g.sessionEngine(s)
	if err != nil {
		return nil, err
	}
	// Restoring puts back what Warden itself saved, under the same root, so
	// no policy re-check applies; the root still confines every path.
	env, err := executor.NewEnv(s.Root, e.Policy(), g.objects, nil)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	rep := &RollbackReport{SessionID: sessionID, Steps: []RollbackStep{}}
	for _, a := range steps {
		step := RollbackStep{ActionID: a.ID, Index: a.Index, Tool: a.Verdict.Tool, Files: a.Result.FilesChanged}
		switch ad, ok := g.executors.Lookup(a.Verdict.Tool); {
		case a.Undo.Irreversible:
			step.Status, step.Error = NotReversible, a.Verdict.Tool+" has effects outside the project that cannot be undone"
		case !ok:
			step.Status, step.Error = RollbackError, "no executor for "+a.Verdict.Tool
		default:
			if err := ad.Rollback(ctx, env, a.Undo.Data); err != nil {
				step.Status, step.Error = RollbackError, err.Error()
			} else {
				step.Status = RolledBack
			}
		}
		if err := g.recordRollback(ctx, sessionID, a.ID, actor, step); err != nil {
			return rep, err
		}
		switch step.Status {
		case RolledBack:
			rep.RolledBack++
		case NotReversible:
			rep.NotReversible++
		default:
			rep.Failed++
		}
		rep.Steps = append(rep.Steps, step)
	}
	return rep, nil
}

// rollbackPlan picks the actions to roll back, newest first.
func rollbackPlan(actions []*Action, actionID string) ([]*Action, error) {
	standing := func(a *Action) bool {
		return a.Undo != nil && a.Undo.RolledBackAt == nil && a.Result != nil
	}
	var out []*Action
	for _, a := range slices.Backward(actions) {
		if standing(a) && (actionID == "" || a.ID == actionID) {
			out = append(out, a)
		}
	}
	if actionID == "" {
		return out, nil
	}
	if len(out) == 0 {
		i := slices.IndexFunc(actions, func(a *Action) bool { return a.ID == actionID })
		switch {
		case i < 0:
			return nil, warden.Errorf(warden.CodeNotFound, "action %q not found", actionID)
		case actions[i].Undo != nil && actions[i].Undo.RolledBackAt != nil:
			return nil, warden.Errorf(warden.CodeConflict, "action %q is already rolled back", actionID)
		}
		return nil, warden.Errorf(warden.CodeInvalidState, "action %q was not executed by Warden, so there is nothing to roll back", actionID)
	}
	target := out[0]
	var later []string
	for _, a := range actions[slices.Index(actions, target)+1:] {
		if standing(a) && overlaps(a.Result.FilesChanged, target.Result.FilesChanged) {
			later = append(later, a.ID)
		}
	}
	if len(later) > 0 {
		return nil, warden.Errorf(warden.CodeConflict, "later actions %s changed the same files; roll them back first, or the whole session", strings.Join(later, ", "))
	}
	return out, nil
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// recordRollback marks a rolled-back action and writes the ledger entry.
func (g *Gateway) recordRollback(ctx context.Context, sessionID, actionID, actor string, step RollbackStep) error {
	return g.store.Update(ctx, func(tx Tx) error {
		act, err := tx.Action(sessionID, actionID)
		if err != nil {
			return err
		}
		// A step that cannot be undone is settled too: reported once, not
		// again by every later rollback.
		if step.Status != RollbackError {
			now := g.now().UTC()
			act.Undo.RolledBackAt = &now
			if err := tx.PutAction(act); err != nil {
				return err
			}
		}
		entry := map[string]any{"actionId": actionID, "tool": step.Tool, "status": step.Status, "success": step.Status == RolledBack}
		if actor != "" {
			entry["actor"] = actor
		}
		if len(step.Files) > 0 {
			entry["files"] = step.Files
		}
		if step.Error != "" {
			entry["error"] = step.Error
		}
		return tx.Append(sessionID, "action:rollback", entry)
	})
}
