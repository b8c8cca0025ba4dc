package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/canon"
	"github.com/wardenhq/warden/internal/engine"
	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/policy"
	"github.com/wardenhq/warden/internal/warden"
)

// Config configures a Gateway.
type Config struct {
	Store Store
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Home is the directory "~" stands for in policies; the user's home
	// when empty.
	Home string
	// OnApproval is called, after it is durably stored, with each approval
	// a gate requests whose gate names a webhook.
	OnApproval func(*Approval)
	// Executors run allowed actions; executor.Default() when nil.
	Executors *executor.Registry
	// Objects keeps the backups rollbacks restore from; in memory when nil.
	Objects executor.Objects
	// Protected are files and directories no session's action may touch, whatever
	// its policy allows: Warden's own state (engine.Options.Protected).
	Protected []string
}

// Gateway evaluates actions for sessions kept in a Store. It is safe for
// concurrent use, also by several processes sharing one store.
type Gateway struct {
	store      Store
	now        func() time.Time
	home       string
	onApproval func(*Approval)
	executors  *executor.Registry
	objects    executor.Objects
	protected  []string

	mu      sync.Mutex
	engines map[string]*engine.Engine // by policy digest and root
}

// New returns a Gateway over cfg.Store.
func New(cfg Config) *Gateway {
	g := &Gateway{store: cfg.Store, now: cfg.Now, home: cfg.Home, onApproval: cfg.OnApproval, engines: map[string]*engine.Engine{}}
	if g.now == nil {
		g.now = time.Now
	}
	g.executors, g.objects, g.protected = cfg.Executors, cfg.Objects, cfg.Protected
	if g.executors == nil {
		g.executors = executor.Default()
	}
	if g.objects == nil {
		g.objects = executor.NewMemObjects()
	}
	return g
}

// CreateRequest describes a new session.
type CreateRequest struct {
	// Policy is the policy's YAML source; PolicyName names it in messages.
	Policy     []byte
	PolicyName string
	// Root is the project root the session's paths are relative to.
	Root     string
	Metadata map[string]any
	Owner    string
	// OwnPolicy says the agent that owns the session wrote its policy.
	OwnPolicy bool
}

// CreateSession validates the policy and starts a session.
func (g *Gateway) CreateSession(ctx context.Context, req CreateRequest) (*Session, error) {
	name := req.PolicyName
	if name == "" {
		name = "policy"
	}
	p, err := policy.Parse(req.Policy, name)
	if err != nil {
		var pe policy.Errors
		if errors.As(err, &pe) {
			return nil, &warden.Error{Code: warden.CodeInvalidPolicy, Message: "the policy does not validate:\n" + pe.Error(), Details: map[string]any{"errors": pe}}
		}
		return nil, err
	}
	digest := canon.Digest(req.Policy)
	if _, err := g.engine(p, digest, req.Root); err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "project root %q: %v", req.Root, err)
	}
	now := g.now().UTC()
	s := &Session{
		ID: newID(16), PolicyName: p.Name, Policy: string(req.Policy), PolicyDigest: digest,
		Root: req.Root, Metadata: req.Metadata, Owner: req.Owner, OwnPolicy: req.OwnPolicy, State: Active,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	err = g.store.Update(ctx, func(tx Tx) error {
		if err := tx.PutSession(s); err != nil {
			return err
		}
		return tx.Append(s.ID, "session:start", map[string]any{
			"policy": p.Name, "version": string(p.Version), "policyDigest": digest, "root": req.Root,
			"metadata": req.Metadata, "owner": req.Owner,
		})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// engine returns the compiled policy for a digest and root, compiling it
// once per process.
func (g *Gateway) engine(p *policy.Policy, digest, root string) (*engine.Engine, error) {
	key := digest + "\x00" + root
	g.mu.Lock()
	e, ok := g.engines[key]
	g.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := engine.New(p, engine.Options{Root: root, Home: g.home, Protected: g.protected})
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.engines[key] = e
	g.mu.Unlock()
	return e, nil
}

// sessionEngine returns the engine of a stored session.
func (g *Gateway) sessionEngine(s *Session) (*engine.Engine, error) {
	key := s.PolicyDigest + "\x00" + s.Root
	g.mu.Lock()
	e, ok := g.engines[key]
	g.mu.Unlock()
	if ok {
		return e, nil
	}
	p, err := policy.Parse([]byte(s.Policy), s.PolicyName)
	if err != nil {
		return nil, &warden.Error{Code: warden.CodeInternal, Message: "stored policy no longer validates", Err: err}
	}
	return g.engine(p, s.PolicyDigest, s.Root)
}

// Session returns a session.
func (g *Gateway) Session(ctx context.Context, id string) (*Session, error) {
	var s *Session
	err := g.store.View(ctx, func(tx Tx) error {
		var err error
		s, err = loadSession(tx, id)
		return err
	})
	return s, err
}

// Sessions lists sessions.
func (g *Gateway) Sessions(ctx context.Context, f SessionFilter) ([]*Session, error) {
	var out []*Session
	err := g.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Sessions(f)
		return err
	})
	return out, err
}

func loadSession(tx Tx, id string) (*Session, error) {
	s, err := tx.Session(id)
	if errors.Is(err, ErrNotFound) {
		return nil, warden.Errorf(warden.CodeNotFound, "session %q not found", id)
	}
	return s, err
}

func activeSession(tx Tx, id string) (*Session, error) {
	s, err := loadSession(tx, id)
	if err != nil {
		return nil, err
	}
	if s.State != Active {
		msg := "session %q is terminated"
		if s.TerminationReason != "" {
			msg += " (" + s.TerminationReason + ")"
		}
		return nil, warden.Errorf(warden.CodeInvalidState, msg+"; start a new session", id)
	}
	return s, nil
}

// Terminate ends a session and returns its report.
func (g *Gateway) Terminate(ctx context.Context, id, reason string) (*Report, error) {
	var rep *Report
	err := g.store.Update(ctx, func(tx Tx) error {
		s, err := activeSession(tx, id)
		if err != nil {
			return err
		}
		if err := g.terminate(tx, s, reason); err != nil {
			return err
		}
		rep, err = g.report(tx, s, false)
		return err
	})
	return rep, err
}

func (g *Gateway) terminate(tx Tx, s *Session, reason string) error {
	now := g.now().UTC()
	s.State, s.TerminatedAt, s.TerminationReason = Terminated, &now, reason
	s.UpdatedAt = now
	s.Version++
	if err := tx.PutSession(s); err != nil {
		return err
	}
	// A call waiting for approval dies with its session: its approval
	// leaves the pending list rather than invite a vote that cannot count.
	pending, err := tx.Approvals(ApprovalFilter{SessionID: s.ID, State: Pending})
	if err != nil {
		return err
	}
	for _, a := range pending {
		a.State, a.Reason, a.DecidedAt = Expired, "session ended: "+reason, &now
		if err := tx.PutApproval(a); err != nil {
			return err
		}
		if err := tx.Append(s.ID, "gate:expired", map[string]any{"approvalId": a.ID, "actionId": a.ActionID, "reason": a.Reason}); err != nil {
			return err
		}
	}
	c := s.Counters
	return tx.Append(s.ID, "session:terminate", map[string]any{
		"reason": reason, "totalActions": c.ActionsEvaluated, "allowed": c.Allowed, "denied": c.Denied,
		"gated": c.Gated, "approved": c.Approved, "rejected": c.Rejected, "durationMs": now.Sub(s.CreatedAt).Milliseconds(),
	})
}

// Report summarises a session; with actions, it lists them.
func (g *Gateway) Report(ctx context.Context, id string, actions bool) (*Report, error) {
	var rep *Report
	err := g.store.View(ctx, func(tx Tx) error {
		s, err := loadSession(tx, id)
		if err != nil {
			return err
		}
		rep, err = g.report(tx, s, actions)
		return err
	})
	return rep, err
}

func (g *Gateway) report(tx Tx, s *Session, withActions bool) (*Report, error) {
	end := g.now()
	if s.TerminatedAt != nil {
		end = *s.TerminatedAt
	}
	c := s.Counters
	rep := &Report{
		SessionID: s.ID, PolicyName: s.PolicyName, State: s.State, TotalActions: c.ActionsEvaluated,
		Allowed: c.Allowed, Denied: c.Denied, Gated: c.Gated, Approved: c.Approved, Rejected: c.Rejected,
		DurationMS: end.Sub(s.CreatedAt).Milliseconds(), BudgetUsed: c, TerminationReason: s.TerminationReason,
	}
	actions, err := tx.Actions(s.ID)
	if err != nil {
		return nil, err
	}
	if e, err := g.sessionEngine(s); err == nil {
		rep.MissingEvidence = missingEvidence(e.Policy(), actions)
	}
	if withActions {
		rep.Actions = actions
	}
	return rep, nil
}

// missingEvidence lists, for a policy that requires checksums or diffs,
// the successful file-changing actions whose results carry none.
func missingEvidence(p *policy.Policy, actions []*Action) []string {
	var out []string
	for _, kind := range p.Evidence.Require {
		want := evidenceType[kind]
		for _, a := range actions {
			if a.Result == nil || !a.Result.Success || !changesFiles(a.Verdict.Tool) {
				continue
			}
			found := false
			for _, art := range a.Result.Artifacts {
				found = found || art.Type == want
			}
			if !found {
				out = append(out, a.ID+": no "+want+" artifact")
			}
		}
	}
	return out
}

func changesFiles(kind string) bool {
	switch kind {
	case "file:write", "file:delete", "file:move", "file:copy", "directory:create", "git:apply", "git:commit", "archive:extract":
		return true
	}
	return false
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

// newID returns n random URL-safe characters. The first is a letter or a
// digit, so that an id is never read as a command-line flag.
func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[b[i]&63]
	}
	if n > 0 {
		b[0] = idAlphabet[int(b[0])%62]
	}
	return string(b)
}
