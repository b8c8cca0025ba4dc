package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/warden"
)

// Pending lists approvals waiting for votes, expiring those past their
// timeout as it goes.
func (g *Gateway) Pending(ctx context.Context, sessionID string) ([]*Approval, error) {
	var out []*Approval
	err := g.store.View(ctx, func(tx Tx) error {
		list, err := tx.Approvals(ApprovalFilter{SessionID: sessionID, State: Pending})
		if err != nil {
			return err
		}
		now := g.now()
		for _, a := range list {
			if !expire(a, now) {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

// Approval returns one approval.
func (g *Gateway) Approval(ctx context.Context, id string) (*Approval, error) {
	var a *Approval
	err := g.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = loadApproval(tx, id)
		if err == nil {
			expire(a, g.now())
		}
		return err
	})
	return a, err
}

func loadApproval(tx Tx, id string) (*Approval, error) {
	a, err := tx.Approval(id)
	if errors.Is(err, ErrNotFound) {
		return nil, warden.Errorf(warden.CodeNotFound, "approval %q not found", id)
	}
	return a, err
}

// Approver is who votes: an identity and the groups it belongs to.
type Approver struct {
	ID     string
	Groups []string
}

// ApproveOptions qualify a vote.
type ApproveOptions struct {
	Comment string
	// ForSession grants the approval for every identical call in the
	// session instead of once.
	ForSession bool
}

// Approve records an approver's vote. Votes count distinct identities;
// once the gate's N are in, the approval is granted and the identical call,
// retried, runs.
func (g *Gateway) Approve(ctx context.Context, id string, who Approver, opts ApproveOptions) (*Approval, error) {
	var out *Approval
	err := g.store.Update(ctx, func(tx Tx) error {
		a, s, err := g.votable(tx, id, who)
		if err != nil {
			return err
		}
		now := g.now().UTC()
		if err := tx.AddVote(a.ID, Vote{Approver: who.ID, Comment: opts.Comment, At: now}); errors.Is(err, ErrDuplicate) {
			return warden.Errorf(warden.CodeAlreadyApproved, "%s has already approved %s", who.ID, a.ID)
		} else if err != nil {
			return err
		}
		a.Votes = append(a.Votes, Vote{Approver: who.ID, Comment: opts.Comment, At: now})
		if err := tx.Append(a.SessionID, "gate:vote", map[string]any{"approvalId": a.ID, "actionId": a.ActionID, "approver": who.ID, "comment": opts.Comment, "votes": len(a.Votes), "needed": a.Requirement.MinApprovals}); err != nil {
			return err
		}
		if len(a.Votes) >= a.Requirement.MinApprovals {
			a.State, a.DecidedAt, a.ForSession = Approved, &now, opts.ForSession
			if ttl := a.Requirement.ApprovalTTL; ttl > 0 {
				until := now.Add(ttl)
				a.ValidUntil = &until
			}
			if i, ok := escalationIndex(a.Rule); ok && s != nil {
				for len(s.Counters.CheckedIn) <= i {
					s.Counters.CheckedIn = append(s.Counters.CheckedIn, false)
				}
				s.Counters.CheckedIn[i] = true
				s.Version++
				if err := tx.PutSession(s); err != nil {
					return err
				}
			}
			if err := tx.Append(a.SessionID, "gate:approved", map[string]any{"approvalId": a.ID, "actionId": a.ActionID, "respondedBy": voters(a), "reason": opts.Comment, "forSession": opts.ForSession}); err != nil {
				return err
			}
		}
		out = a
		return tx.PutApproval(a)
	})
	return out, err
}

// Reject refuses an approval with a reason; the identical call, retried,
// is denied.
func (g *Gateway) Reject(ctx context.Context, id string, who Approver, reason string) (*Approval, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, warden.Errorf(warden.CodeInvalidInput, "a rejection needs a reason")
	}
	var out *Approval
	err := g.store.Update(ctx, func(tx Tx) error {
		a, s, err := g.votable(tx, id, who)
		if err != nil {
			return err
		}
		now := g.now().UTC()
		a.State, a.DecidedAt, a.Reason = Rejected, &now, reason
		if s != nil {
			s.Counters.Rejected++
			s.Version++
			if err := tx.PutSession(s); err != nil {
				return err
			}
		}
		if err := tx.Append(a.SessionID, "gate:rejected", map[string]any{"approvalId": a.ID, "actionId": a.ActionID, "respondedBy": who.ID, "reason": reason}); err != nil {
			return err
		}
		out = a
		return tx.PutApproval(a)
	})
	return out, err
}

// votable loads a pending approval and checks that who may vote on it.
func (g *Gateway) votable(tx Tx, id string, who Approver) (*Approval, *Session, error) {
	if strings.TrimSpace(who.ID) == "" {
		return nil, nil, warden.Errorf(warden.CodeInvalidInput, "an approver identity is required")
	}
	a, err := loadApproval(tx, id)
	if err != nil {
		return nil, nil, err
	}
	if expire(a, g.now()) {
		if err := tx.PutApproval(a); err != nil {
			return nil, nil, err
		}
		return nil, nil, warden.Errorf(warden.CodeExpired, "approval %s expired at %s", a.ID, a.ExpiresAt.Format(time.RFC3339))
	}
	if a.State != Pending {
		if a.State == Approved && slices.ContainsFunc(a.Votes, func(v Vote) bool { return v.Approver == who.ID }) {
			return nil, nil, warden.Errorf(warden.CodeAlreadyApproved, "%s has already approved %s", who.ID, a.ID)
		}
		return nil, nil, warden.Errorf(warden.CodeInvalidState, "approval %s is %s, not pending", a.ID, a.State)
	}
	if who.ID == a.Requester && !a.SelfApproval {
		return nil, nil, warden.Errorf(warden.CodeSelfApproval, "%s requested this action and cannot approve it", who.ID)
	}
	if list := a.Requirement.Approvers; len(list) > 0 && !mayApprove(list, who) {
		return nil, nil, warden.Errorf(warden.CodeNotAnApprover, "%s is not among the approvers of this gate: %s", who.ID, strings.Join(list, ", "))
	}
	s, err := tx.Session(a.SessionID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	if s != nil && s.State != Active {
		return nil, nil, warden.Errorf(warden.CodeInvalidState, "session %s is terminated", s.ID)
	}
	return a, s, nil
}

func mayApprove(list []string, who Approver) bool {
	for _, entry := range list {
		if entry == who.ID {
			return true
		}
		if group, ok := strings.CutPrefix(entry, "group:"); ok && slices.Contains(who.Groups, group) {
			return true
		}
	}
	return false
}

// ApprovalForAction returns the approval a session's action asked for or
// was let through by; det-acp's API names gates by action.
func (g *Gateway) ApprovalForAction(ctx context.Context, sessionID, actionID string) (*Approval, error) {
	var out *Approval
	err := g.store.View(ctx, func(tx Tx) error {
		act, err := tx.Action(sessionID, actionID)
		if errors.Is(err, ErrNotFound) {
			return warden.Errorf(warden.CodeNotFound, "action %q not found in session %q", actionID, sessionID)
		} else if err != nil {
			return err
		}
		if act.ApprovalID == "" {
			return warden.Errorf(warden.CodeNotFound, "action %q of session %q has no approval: it was %s", actionID, sessionID, act.Decision)
		}
		out, err = loadApproval(tx, act.ApprovalID)
		if err == nil {
			expire(out, g.now())
		}
		return err
	})
	return out, err
}
