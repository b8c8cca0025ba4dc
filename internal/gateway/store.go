package gateway

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Tx for an unknown id.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is returned by Tx.AddVote when the approver already voted.
var ErrDuplicate = errors.New("duplicate")

// Store keeps sessions, actions and approvals, and the ledger beside them.
type Store interface {
	// Update runs fn in one write transaction: all of fn's writes and
	// ledger entries commit durably together, or none do if fn fails.
	// Implementations may commit several concurrent Updates at once.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction's view of the store.
type Tx interface {
	Session(id string) (*Session, error)
	PutSession(s *Session) error
	Sessions(f SessionFilter) ([]*Session, error)

	Action(sessionID, actionID string) (*Action, error)
	PutAction(a *Action) error
	Actions(sessionID string) ([]*Action, error)
	// CountActionsSince counts a session's actions created at or after t,
	// stopping at limit: a rate limit only needs to know whether it is hit.
	CountActionsSince(sessionID string, t time.Time, limit int) (int, error)
	// AddChangedFile records a file the session changed and reports
	// whether it was new to the session.
	AddChangedFile(sessionID, path string) (bool, error)

	Approval(id string) (*Approval, error)
	// ApprovalFor returns the newest approval of a session for an action
	// digest, or ErrNotFound.
	ApprovalFor(sessionID, digest string) (*Approval, error)
	PutApproval(a *Approval) error
	Approvals(f ApprovalFilter) ([]*Approval, error)
	// AddVote adds a vote; ErrDuplicate if the approver already voted.
	AddVote(approvalID string, v Vote) error

	// Append adds a ledger entry for the session, in this transaction.
	Append(sessionID, typ string, data any) error
}

// SessionFilter selects sessions; empty fields match all.
type SessionFilter struct {
	Owner string
	State string
}

// ApprovalFilter selects approvals; empty fields match all.
type ApprovalFilter struct {
	SessionID string
	State     string
}
